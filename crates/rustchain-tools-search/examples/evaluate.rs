//! Measures ranking quality and speed on the retrieval data.
//!
//! ```text
//! cargo run --release -p rustchain-tools-search --example evaluate -- \
//!     [--corpus FILE] [--queries FILE] [--model DIR] [--set KEY=VALUE]... [--sweep KEY=V1,V2,...]
//!     [--split SPLIT,...]
//! ```
//!
//! Defaults: `../shared/retrieval/corpus.jsonl` and `dev.jsonl` beside the
//! workspace, no model. With `--model` (e.g. `models/wordllama-l2-supercat-256`
//! after `cargo xtask fetch-model`), prints lexical, semantic and hybrid
//! figures. Also prints build times and search latency. KEY is `k1`,
//! `semantic_weight`, `same_name_factor`, `segment_weight`,
//! `segment_repeat_factor`, `named_tools_first` (0 or 1) or `FIELD.weight` / `FIELD.b` with FIELD one of
//! `name`, `description`, `parameter_names`, `parameter_descriptions`, `tags`.
//! `--split family,tool` also cross-validates as `registry eval --split`
//! does, on the index already embedded (one embedding for every figure,
//! which matters for a transformer model). `--baseline FILE` (repeatable)
//! scores a ranking made elsewhere on the same queries and folds: JSON
//! Lines `{"qid", "ids"}`, one per query in order, as
//! `examples/python_fusion/fusion.py` writes. `--write-run FILE` writes the
//! hybrid ranking (lexical without `--model`) in that format, to read
//! beside a baseline's. The process's resident
//! memory is printed after the model loads and after each index is built.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rustchain_tools_search::crossval::{
    QueryScores, Split, bootstrap_interval, cross_validate, describe, folds, query_scores,
    ranking_scores, tuning_grid,
};
use rustchain_tools_search::eval::{Query, evaluate, load_corpus, load_queries};
use rustchain_tools_search::{Document, EmbeddingModel, SearchConfig, SearchIndex};

fn set(config: &mut SearchConfig, key: &str, value: f32) -> Result<(), String> {
    match key.split_once('.') {
        None if key == "k1" => config.k1 = value,
        None if key == "semantic_weight" => config.semantic_weight = value,
        None if key == "same_name_factor" => config.same_name_factor = value,
        None if key == "segment_weight" => config.segment_weight = value,
        None if key == "segment_repeat_factor" => config.segment_repeat_factor = value,
        None if key == "named_tools_first" => config.named_tools_first = value != 0.0,
        Some((f, p)) => {
            let fp = match f {
                "name" => &mut config.name,
                "description" => &mut config.description,
                "parameter_names" => &mut config.parameter_names,
                "parameter_descriptions" => &mut config.parameter_descriptions,
                "tags" => &mut config.tags,
                _ => return Err(format!("unknown field {f}")),
            };
            match p {
                "weight" => fp.weight = value,
                "b" => fp.b = value,
                _ => return Err(format!("unknown parameter {p}")),
            }
        }
        None => return Err(format!("unknown key {key}")),
    }
    Ok(())
}

fn report(label: &str, index: &SearchIndex, corpus: &[Document], queries: &[Query]) {
    let e = evaluate(index, corpus, queries);
    println!("{label:<28} names: {}", e.names);
    println!("{label:<28} exact: {}", e.exact);
}

/// Search latency for the top 10 with explanations: per query the fastest
/// of three runs (which removes the machine's scheduling noise), then
/// percentiles. A contextual model's cache is cleared before each run, so
/// every run embeds the request as if it were new.
fn latency(label: &str, index: &SearchIndex, model: Option<&EmbeddingModel>, queries: &[Query]) {
    let mut times: Vec<f64> = queries
        .iter()
        .map(|q| {
            (0..3)
                .map(|_| {
                    if let Some(m) = model {
                        m.clear_cache();
                    }
                    let start = Instant::now();
                    std::hint::black_box(index.search(&q.query, 10, &|_| true));
                    start.elapsed().as_secs_f64() * 1e6
                })
                .fold(f64::MAX, f64::min)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let at = |p: f64| {
        times
            .get(((times.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    println!(
        "{label:<28} search latency: p50 {:.0} µs, p90 {:.0} µs, p99 {:.0} µs, max {:.0} µs",
        at(0.5),
        at(0.9),
        at(0.99),
        at(1.0)
    );
}

/// The process's resident memory, from `/proc/self/status` (Linux).
fn resident() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let kb: f64 = s
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some(format!("{:.0} MiB resident", kb / 1024.0))
        })
        .unwrap_or_else(|| "resident memory unknown".to_owned())
}

/// Writes the 10 best tool ids per query as JSON Lines `{"qid", "ids"}`,
/// the format `--baseline` reads.
fn write_run(
    path: &Path,
    index: &SearchIndex,
    corpus: &[Document],
    queries: &[Query],
) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = String::new();
    for q in queries {
        let ids: Vec<&str> = index
            .search(&q.query, 10, &|_| true)
            .iter()
            .filter_map(|h| corpus.get(h.doc as usize).map(|d| d.id.as_str()))
            .collect();
        out.push_str(&serde_json::json!({ "qid": q.qid, "ids": ids }).to_string());
        out.push('\n');
    }
    std::fs::write(path, out).map_err(|e| format!("{}: {e}", path.display()))?;
    println!("ranking written to {}", path.display());
    Ok(())
}

/// A ranking made elsewhere: its label and its scores per query.
struct Baseline {
    label: String,
    scores: Vec<QueryScores>,
}

/// Reads a run file (`{"qid", "ids"}` per line, in the queries' order) and
/// scores it.
fn baseline(path: &str, corpus: &[Document], queries: &[Query]) -> Result<Baseline, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut rankings = Vec::new();
    for (i, line) in text.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let row: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{path} line {}: {e}", i + 1))?;
        let qid = row["qid"].as_str().unwrap_or_default();
        match queries.get(i) {
            Some(q) if q.qid == qid => {}
            _ => {
                return Err(format!(
                    "{path} line {}: qid {qid:?} is not query {}",
                    i + 1,
                    i + 1
                ));
            }
        }
        let ids: Vec<String> = row["ids"]
            .as_array()
            .ok_or(format!("{path} line {}: no \"ids\" array", i + 1))?
            .iter()
            .filter_map(|id| id.as_str().map(str::to_owned))
            .collect();
        rankings.push(ids);
    }
    if rankings.len() != queries.len() {
        return Err(format!(
            "{path}: {} rankings for {} queries",
            rankings.len(),
            queries.len()
        ));
    }
    Ok(Baseline {
        label: path.rsplit('/').next().unwrap_or(path).to_owned(),
        scores: ranking_scores(corpus, queries, &rankings),
    })
}

fn mean(scores: &[QueryScores], queries: &[usize], metric: usize) -> f64 {
    queries.iter().map(|&q| scores[q][metric]).sum::<f64>() / queries.len().max(1) as f64
}

/// Held-out figures for each split: parameters chosen on the other folds
/// from the grid, beside the defaults, as `registry eval --split` prints;
/// then each baseline beside the defaults, fold by fold, with the 95%
/// interval of the paired difference in nDCG@10 over every query.
fn cross_validated(
    index: &SearchIndex,
    corpus: &[Document],
    queries: &[Query],
    splits: &[Split],
    baselines: &[Baseline],
) {
    if splits.is_empty() && baselines.is_empty() {
        return;
    }
    let semantic = index.has_semantic();
    let grid = tuning_grid(semantic);
    let scores: Vec<_> = grid
        .iter()
        .map(|c| query_scores(&index.with_config(c.clone()), corpus, queries))
        .collect();
    let mode = if semantic { "hybrid" } else { "lexical" };
    let all: Vec<usize> = (0..queries.len()).collect();
    for b in baselines {
        let difference: Vec<f64> = all
            .iter()
            .map(|&q| scores[0][q][2] - b.scores[q][2])
            .collect();
        let (lo, hi) = bootstrap_interval(&difference, 2_000, 0x5eed);
        println!(
            "{mode} default vs {}: {:.3} / {:.3} against {:.3} / {:.3}, nDCG@10 difference \
             [{lo:+.3}, {hi:+.3}] (95%, paired)",
            b.label,
            mean(&scores[0], &all, 1),
            mean(&scores[0], &all, 2),
            mean(&b.scores, &all, 1),
            mean(&b.scores, &all, 2),
        );
    }
    for &split in splits {
        let folds = folds(queries, split);
        let tuned = cross_validate(&scores, &folds);
        let fixed = cross_validate(&scores[..1], &folds);
        for b in baselines {
            let margins: Vec<String> = folds
                .iter()
                .map(|f| {
                    let ours = mean(&scores[0], &f.queries, 2);
                    let theirs = mean(&b.scores, &f.queries, 2);
                    format!(
                        "{} {ours:.3} vs {theirs:.3} ({:+.3})",
                        f.name,
                        ours - theirs
                    )
                })
                .collect();
            println!(
                "{mode} split {split}, default vs {} per fold (nDCG@10): {}",
                b.label,
                margins.join("; ")
            );
        }
        let chosen: Vec<String> = tuned
            .folds
            .iter()
            .map(|f| format!("{}: {}", f.name, describe(&grid[f.chosen], semantic)))
            .collect();
        println!(
            "{mode} split {split}, chosen per fold: {}",
            chosen.join("; ")
        );
        let (lo, hi) = fixed.ndcg_spread();
        println!(
            "{mode} split {split}: held out {:.3} / {:.3} [{:.3}, {:.3}], default {:.3} / {:.3} \
             [{:.3}, {:.3}], default's fold spread {lo:.3} – {hi:.3} (recall@5 / nDCG@10 [95%])",
            tuned.held_out.recall_at_5,
            tuned.held_out.ndcg_at_10,
            tuned.ndcg_at_10_interval.0,
            tuned.ndcg_at_10_interval.1,
            fixed.held_out.recall_at_5,
            fixed.held_out.ndcg_at_10,
            fixed.ndcg_at_10_interval.0,
            fixed.ndcg_at_10_interval.1,
        );
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = rustchain_tools_search::eval::retrieval_dir();
    let mut corpus_path = root.join("corpus.jsonl");
    let mut queries_path = root.join("dev.jsonl");
    let mut model_dir = None;
    let mut config = SearchConfig::default();
    let mut sweep: Option<(String, Vec<f32>)> = None;
    let mut splits: Vec<Split> = Vec::new();
    let mut baseline_files: Vec<String> = Vec::new();
    let mut run_file: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--corpus" => corpus_path = value()?.into(),
            "--queries" => queries_path = value()?.into(),
            "--model" => model_dir = Some(PathBuf::from(value()?)),
            "--baseline" => baseline_files.push(value()?),
            "--write-run" => run_file = Some(PathBuf::from(value()?)),
            "--split" => {
                splits = value()?
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<_, _>>()?;
            }
            "--set" | "--sweep" => {
                let v = value()?;
                let (k, vals) = v.split_once('=').ok_or("expected KEY=VALUE")?;
                let vals = vals
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<f32>, _>>()?;
                if a == "--set" {
                    set(&mut config, k, vals[0])?;
                } else {
                    sweep = Some((k.to_owned(), vals));
                }
            }
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let corpus = load_corpus(&corpus_path)?;
    let queries = load_queries(&queries_path)?;
    let baselines = baseline_files
        .iter()
        .map(|f| baseline(f, &corpus, &queries))
        .collect::<Result<Vec<_>, _>>()?;
    let model = match &model_dir {
        Some(dir) => {
            let start = Instant::now();
            let m = EmbeddingModel::load(dir)?;
            println!(
                "model {} ({} dims) loaded in {:.0} ms, {}",
                m.name(),
                m.dims(),
                start.elapsed().as_secs_f64() * 1e3,
                resident()
            );
            Some(Arc::new(m))
        }
        None => None,
    };
    // The fastest of five builds: the first pays for page faults, and the
    // machine may be busy.
    let mut build_ms = f64::MAX;
    let mut lexical = SearchIndex::build_with(&[], None, config.clone());
    for _ in 0..5 {
        let start = Instant::now();
        lexical = SearchIndex::build_with(&corpus, None, config.clone());
        build_ms = build_ms.min(start.elapsed().as_secs_f64() * 1e3);
    }
    println!(
        "{} tools, {} terms: lexical index built in {build_ms:.1} ms (fastest of 5), {}",
        lexical.len(),
        lexical.term_count(),
        resident()
    );
    if let Some((key, values)) = &sweep {
        // Embedded once: the documents' vectors do not depend on the ranking parameters.
        let base = SearchIndex::build_with(&corpus, model.clone(), config.clone());
        for &v in values {
            let mut c = config.clone();
            set(&mut c, key, v)?;
            let index = base.with_config(c);
            report(&format!("{key}={v}"), &index, &corpus, &queries);
        }
        return Ok(());
    }
    report("lexical", &lexical, &corpus, &queries);
    latency("lexical", &lexical, None, &queries);
    cross_validated(&lexical, &corpus, &queries, &splits, &baselines);
    if let (Some(path), None) = (&run_file, &model) {
        write_run(path, &lexical, &corpus, &queries)?;
    }
    if let Some(model) = model {
        let start = Instant::now();
        let hybrid = SearchIndex::build_with(&corpus, Some(model.clone()), config.clone());
        println!(
            "hybrid index built in {:.0} ms, {}",
            start.elapsed().as_secs_f64() * 1e3,
            resident()
        );
        let mut semantic_only = config.clone();
        semantic_only.semantic_weight = 1.0;
        let semantic = hybrid.with_config(semantic_only);
        report("semantic", &semantic, &corpus, &queries);
        report("hybrid", &hybrid, &corpus, &queries);
        latency("hybrid", &hybrid, Some(&model), &queries);
        let start = Instant::now();
        model.clear_cache();
        for q in &queries {
            std::hint::black_box(model.embed(&q.query));
        }
        println!(
            "query embedding: {:.1} µs/query",
            start.elapsed().as_secs_f64() * 1e6 / queries.len().max(1) as f64
        );
        cross_validated(&hybrid, &corpus, &queries, &splits, &baselines);
        if let Some(path) = &run_file {
            write_run(path, &hybrid, &corpus, &queries)?;
        }
    }
    Ok(())
}
