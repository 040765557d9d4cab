//! Retrieval evaluation on the project's tool-retrieval data
//! (`shared/retrieval`: `corpus*.jsonl` tools and `dev.jsonl` queries), with
//! the metrics its README defines.
//!
//! Per query, with the needed function names `N` (`relevant_names`) and, for
//! each name, the tools that count for it (name level: the `relevant` ids of
//! that name; exact level: the `relevant_exact` id of that name), matched by id:
//!
//! - recall@k: the fraction of `N` with at least one of its tools in the top k;
//! - nDCG@10: binary gain, each name credited once (at its first tool), over
//!   the ideal `min(|N|, 10)` hits in front;
//! - MRR: 1 / rank of the first tool that counts for any name (0 when none is
//!   in the top [`RANK_DEPTH`]).
//!
//! Each is averaged over the queries.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::SearchError;
use crate::index::{Document, Parameter, SearchIndex};

/// How many results are ranked per query (bounds MRR).
pub const RANK_DEPTH: usize = 100;

/// One labelled query of `dev.jsonl`.
#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    /// The request text.
    pub query: String,
    /// Ids of every tool whose name is needed (name-level relevance).
    pub relevant: Vec<String>,
    /// Ids of the exact definitions offered with the question.
    pub relevant_exact: Vec<String>,
    /// The distinct function names the answer calls.
    pub relevant_names: Vec<String>,
    /// The BFCL category.
    #[serde(default)]
    pub category: String,
    /// The question id.
    #[serde(default)]
    pub qid: String,
}

/// Averaged metrics over a set of queries.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Metrics {
    /// The number of queries averaged.
    pub queries: usize,
    /// Mean recall@1.
    pub recall_at_1: f64,
    /// Mean recall@5.
    pub recall_at_5: f64,
    /// Mean nDCG@10.
    pub ndcg_at_10: f64,
    /// Mean reciprocal rank.
    pub mrr: f64,
}

impl std::fmt::Display for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} queries: recall@1 {:.3} recall@5 {:.3} nDCG@10 {:.3} MRR {:.3}",
            self.queries, self.recall_at_1, self.recall_at_5, self.ndcg_at_10, self.mrr
        )
    }
}

/// Metrics at both relevance levels.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Evaluation {
    /// A tool counts when its id is among `relevant` (any definition of a needed name).
    pub names: Metrics,
    /// A tool counts only when its id is among `relevant_exact`.
    pub exact: Metrics,
}

#[derive(Deserialize)]
struct RawTool {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    parameters: serde_json::Value,
}

/// Parameters from a JSON Schema object: each top-level property's name and description.
pub fn parameters_from_schema(schema: &serde_json::Value) -> Vec<Parameter> {
    schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|props| {
            props
                .iter()
                .map(|(name, p)| Parameter {
                    name: name.clone(),
                    description: p
                        .get("description")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn read_lines(path: &Path) -> Result<String, SearchError> {
    std::fs::read_to_string(path).map_err(|source| SearchError::Io {
        path: path.to_owned(),
        source,
    })
}

fn parse_lines<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Vec<T>, SearchError> {
    let text = read_lines(path)?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| SearchError::Format {
                path: path.to_owned(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

/// Loads a corpus file (`{"id", "name", "description", "parameters", ...}` per line).
pub fn load_corpus(path: &Path) -> Result<Vec<Document>, SearchError> {
    let tools: Vec<RawTool> = parse_lines(path)?;
    Ok(tools
        .into_iter()
        .map(|t| Document {
            parameters: parameters_from_schema(&t.parameters),
            id: t.id,
            name: t.name,
            description: t.description,
            tags: Vec::new(),
        })
        .collect())
}

/// Loads a query file (`dev.jsonl`).
pub fn load_queries(path: &Path) -> Result<Vec<Query>, SearchError> {
    parse_lines(path)
}

/// The metrics of one ranking: `groups[i]` holds the ids that count for
/// needed name `i`. Returns (recall@1, recall@5, nDCG@10, reciprocal rank).
pub fn score_ranking(ranked: &[&str], groups: &[Vec<&str>]) -> (f64, f64, f64, f64) {
    if groups.is_empty() {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let group_of = |id: &str| groups.iter().position(|g| g.contains(&id));
    let found_within = |k: usize| {
        let mut seen = vec![false; groups.len()];
        for id in ranked.iter().take(k) {
            if let Some(g) = group_of(id) {
                seen[g] = true;
            }
        }
        seen.iter().filter(|&&s| s).count() as f64 / groups.len() as f64
    };
    let mut seen = vec![false; groups.len()];
    let mut dcg = 0.0;
    for (i, id) in ranked.iter().take(10).enumerate() {
        if let Some(g) = group_of(id)
            && !seen[g]
        {
            seen[g] = true;
            dcg += 1.0 / (i as f64 + 2.0).log2();
        }
    }
    let ideal: f64 = (0..groups.len().min(10))
        .map(|i| 1.0 / (i as f64 + 2.0).log2())
        .sum();
    let rr = ranked
        .iter()
        .position(|id| group_of(id).is_some())
        .map_or(0.0, |p| 1.0 / (p as f64 + 1.0));
    (found_within(1), found_within(5), dcg / ideal, rr)
}

/// For each needed name, the ids among `ids` that are tools of that name.
fn groups<'a>(
    name_of: &HashMap<&str, &str>,
    ids: &'a [String],
    names: &[String],
) -> Vec<Vec<&'a str>> {
    names
        .iter()
        .map(|n| {
            ids.iter()
                .filter(|id| name_of.get(id.as_str()) == Some(&n.as_str()))
                .map(String::as_str)
                .collect()
        })
        .collect()
}

#[derive(Default)]
struct Sum {
    n: usize,
    r1: f64,
    r5: f64,
    ndcg: f64,
    rr: f64,
}

impl Sum {
    fn add(&mut self, (r1, r5, ndcg, rr): (f64, f64, f64, f64)) {
        self.n += 1;
        self.r1 += r1;
        self.r5 += r5;
        self.ndcg += ndcg;
        self.rr += rr;
    }

    fn mean(&self) -> Metrics {
        let d = self.n.max(1) as f64;
        Metrics {
            queries: self.n,
            recall_at_1: self.r1 / d,
            recall_at_5: self.r5 / d,
            ndcg_at_10: self.ndcg / d,
            mrr: self.rr / d,
        }
    }
}

/// Searches every query in `index` (built from `corpus`, in order) and
/// scores the rankings at both relevance levels.
pub fn evaluate(index: &SearchIndex, corpus: &[Document], queries: &[Query]) -> Evaluation {
    let name_of: HashMap<&str, &str> = corpus
        .iter()
        .map(|d| (d.id.as_str(), d.name.as_str()))
        .collect();
    let (mut names, mut exact) = (Sum::default(), Sum::default());
    for q in queries {
        let hits = index.search(&q.query, RANK_DEPTH, &|_| true);
        let ranked: Vec<&str> = hits
            .iter()
            .filter_map(|h| corpus.get(h.doc as usize).map(|d| d.id.as_str()))
            .collect();
        let name_groups = groups(&name_of, &q.relevant, &q.relevant_names);
        let exact_groups = groups(&name_of, &q.relevant_exact, &q.relevant_names);
        names.add(score_ranking(&ranked, &name_groups));
        exact.add(score_ranking(&ranked, &exact_groups));
    }
    Evaluation {
        names: names.mean(),
        exact: exact.mean(),
    }
}

/// Where the project's retrieval data (`corpus.jsonl`, `dev.jsonl`, ...) is:
/// `$RUSTCHAIN_TOOLS_RETRIEVAL_DIR`, else `shared/retrieval` beside the
/// repository, else `/work/shared/retrieval` (where a clone elsewhere on a
/// project machine finds it). The first that exists; the second otherwise,
/// so that an error names the usual place.
pub fn retrieval_dir() -> std::path::PathBuf {
    let beside = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/retrieval");
    let candidates = [
        std::env::var_os("RUSTCHAIN_TOOLS_RETRIEVAL_DIR").map(std::path::PathBuf::from),
        Some(beside.clone()),
        Some(std::path::PathBuf::from("/work/shared/retrieval")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|dir| dir.is_dir())
        .unwrap_or(beside)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_one_name() {
        let groups = vec![vec!["a", "a2"]];
        assert_eq!(score_ranking(&["a2", "x"], &groups), (1.0, 1.0, 1.0, 1.0));
        let (r1, r5, ndcg, rr) = score_ranking(&["x", "y", "a"], &groups);
        assert_eq!((r1, r5, rr), (0.0, 1.0, 1.0 / 3.0));
        assert!((ndcg - 0.5).abs() < 1e-12);
        assert_eq!(score_ranking(&["x"], &groups), (0.0, 0.0, 0.0, 0.0));
    }

    #[test]
    fn credits_each_name_once() {
        let groups = vec![vec!["a", "a2"], vec!["b"]];
        // a, a2, b: the second definition of a gains nothing.
        let (r1, r5, ndcg, rr) = score_ranking(&["a", "a2", "b"], &groups);
        assert_eq!((r1, r5, rr), (0.5, 1.0, 1.0));
        let ideal = 1.0 + 1.0 / 3f64.log2();
        assert!((ndcg - (1.0 + 0.5) / ideal).abs() < 1e-12);
    }

    #[test]
    fn reads_parameters_from_schema() {
        let schema = serde_json::json!({"type": "object", "properties": {
            "city": {"type": "string", "description": "The city"}, "n": {"type": "integer"}}});
        let p = parameters_from_schema(&schema);
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].description.as_str()),
            ("city", "The city")
        );
        assert_eq!(p[1].description, "");
        assert!(parameters_from_schema(&serde_json::json!("nonsense")).is_empty());
    }

    #[test]
    fn bad_line_names_file_and_line() {
        let dir = std::env::temp_dir().join(format!("rcts-eval-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.jsonl");
        std::fs::write(&path, "{\"id\":\"a\",\"name\":\"a\"}\n{oops\n").unwrap();
        let err = load_corpus(&path).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains("bad.jsonl") && err.contains("line 2"), "{err}");
    }
}
