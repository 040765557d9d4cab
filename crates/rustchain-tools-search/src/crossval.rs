//! Figures that say how a ranking does on requests it was not tuned on.
//!
//! The queries are split into folds ([`Split`]): by source family (each
//! BFCL category held out in turn) or by tool (queries that need a common
//! function name always fall in the same fold, so no tool's requests are
//! both tuned on and tested). For each fold the ranking parameters are
//! chosen from a fixed grid ([`tuning_grid`]) by their nDCG@10 on the other
//! folds only, and the fold is measured with the parameters chosen
//! ([`cross_validate`]). Every query is held out exactly once; the pooled
//! held-out means come with 95% bootstrap intervals over the queries
//! ([`bootstrap_interval`]).

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use crate::eval::{Metrics, Query, RANK_DEPTH, score_ranking};
use crate::index::{Document, SearchConfig, SearchIndex};

/// How the queries are split into folds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// One fold per source family (the query's `category`).
    Family,
    /// This many folds, with every query that needs a given function name
    /// in the same one.
    Tool(usize),
}

impl FromStr for Split {
    type Err = String;

    fn from_str(text: &str) -> Result<Split, String> {
        match text.split_once(':') {
            None if text == "family" => Ok(Split::Family),
            None if text == "tool" => Ok(Split::Tool(5)),
            Some(("tool", k)) => match k.parse::<usize>() {
                Ok(k) if k >= 2 => Ok(Split::Tool(k)),
                _ => Err(format!("`{k}` folds: a tool split needs at least 2")),
            },
            _ => Err(format!(
                "`{text}` is not a split: family, tool or tool:K (K folds)"
            )),
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Split::Family => f.write_str("by source family"),
            Split::Tool(k) => write!(f, "by tool, {k} folds"),
        }
    }
}

/// One fold: its name and its queries (positions in the query list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fold {
    /// The family, or `tools N/K`.
    pub name: String,
    /// The queries held out in this fold.
    pub queries: Vec<usize>,
}

/// Splits `queries` into folds; folds without queries are left out.
pub fn folds(queries: &[Query], split: Split) -> Vec<Fold> {
    match split {
        Split::Family => {
            let mut families: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
            for (i, q) in queries.iter().enumerate() {
                let family = if q.category.is_empty() {
                    "(none)"
                } else {
                    q.category.as_str()
                };
                families.entry(family).or_default().push(i);
            }
            families
                .into_iter()
                .map(|(name, queries)| Fold {
                    name: name.to_owned(),
                    queries,
                })
                .collect()
        }
        Split::Tool(k) => tool_folds(queries, k.max(2)),
    }
}

/// Queries linked by a shared function name form one group (union-find
/// over names); groups go, largest first, to the fold with fewest queries.
fn tool_folds(queries: &[Query], k: usize) -> Vec<Fold> {
    let mut parent: Vec<usize> = (0..queries.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut first_with: HashMap<&str, usize> = HashMap::new();
    for (i, q) in queries.iter().enumerate() {
        for name in &q.relevant_names {
            match first_with.get(name.as_str()) {
                Some(&j) => {
                    let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    first_with.insert(name, i);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for i in 0..queries.len() {
        let r = root(&mut parent, i);
        groups.entry(r).or_default().push(i);
    }
    let mut groups: Vec<Vec<usize>> = groups.into_values().collect();
    // Largest first, then by first query: the same split every time.
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a[0].cmp(&b[0])));
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    for group in groups {
        if let Some(smallest) = folds.iter_mut().min_by_key(|f| f.len()) {
            smallest.extend(group);
        }
    }
    folds
        .into_iter()
        .enumerate()
        .filter(|(_, f)| !f.is_empty())
        .map(|(i, mut queries)| {
            queries.sort_unstable();
            Fold {
                name: format!("tools {}/{k}", i + 1),
                queries,
            }
        })
        .collect()
}

/// A short description of a grid candidate's parameters (the semantic
/// share only when search is `semantic`).
pub fn describe(config: &SearchConfig, semantic: bool) -> String {
    let mut text = format!(
        "name weight {:.1}, same-name {:.1}, sentences {:.1}",
        config.name.weight, config.same_name_factor, config.segment_weight
    );
    if semantic {
        text = format!("semantic {:.2}, {text}", config.semantic_weight);
    }
    text
}

/// One query's name-level scores: recall@1, recall@5, nDCG@10, reciprocal
/// rank.
pub type QueryScores = [f64; 4];

/// The name-level scores of each query (in order) ranked by `index`, which
/// was built from `corpus` in order.
pub fn query_scores(
    index: &SearchIndex,
    corpus: &[Document],
    queries: &[Query],
) -> Vec<QueryScores> {
    let rankings: Vec<Vec<&str>> = queries
        .iter()
        .map(|q| {
            index
                .search(&q.query, RANK_DEPTH, &|_| true)
                .iter()
                .filter_map(|h| corpus.get(h.doc as usize).map(|d| d.id.as_str()))
                .collect()
        })
        .collect();
    ranking_scores(corpus, queries, &rankings)
}

/// The name-level scores of each query given its ranking (tool ids of
/// `corpus`, best first; `rankings[i]` ranks `queries[i]`): how a ranking
/// made elsewhere, such as a baseline's run file, is scored on the same
/// folds.
pub fn ranking_scores<S: AsRef<str>>(
    corpus: &[Document],
    queries: &[Query],
    rankings: &[Vec<S>],
) -> Vec<QueryScores> {
    let name_of: HashMap<&str, &str> = corpus
        .iter()
        .map(|d| (d.id.as_str(), d.name.as_str()))
        .collect();
    queries
        .iter()
        .zip(rankings)
        .map(|(q, ranking)| {
            let ranked: Vec<&str> = ranking.iter().map(AsRef::as_ref).collect();
            let groups: Vec<Vec<&str>> = q
                .relevant_names
                .iter()
                .map(|n| {
                    q.relevant
                        .iter()
                        .filter(|id| name_of.get(id.as_str()) == Some(&n.as_str()))
                        .map(String::as_str)
                        .collect()
                })
                .collect();
            let (r1, r5, ndcg, rr) = score_ranking(&ranked, &groups);
            [r1, r5, ndcg, rr]
        })
        .collect()
}

/// The ranking parameters tried in each fold. The first is the default;
/// the others vary what tuning on the dev data touched: the semantic share
/// (with a model), the name field's weight, the lowering of repeated names
/// and the sentence scoring.
pub fn tuning_grid(semantic: bool) -> Vec<SearchConfig> {
    let base = SearchConfig::default();
    let semantic_weights: &[f32] = if semantic { &[0.4, 0.25, 0.55] } else { &[0.4] };
    let mut grid = Vec::new();
    for &semantic_weight in semantic_weights {
        for name_weight in [3.0, 2.0, 4.5] {
            for same_name_factor in [0.7, 1.0] {
                for segment_weight in [0.3, 0.0] {
                    let mut config = base.clone();
                    config.semantic_weight = semantic_weight;
                    config.name.weight = name_weight;
                    config.same_name_factor = same_name_factor;
                    config.segment_weight = segment_weight;
                    grid.push(config);
                }
            }
        }
    }
    grid
}

/// What a fold came to.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldOutcome {
    /// The fold's name.
    pub name: String,
    /// The candidate chosen on the other folds (its position in the grid).
    pub chosen: usize,
    /// The fold's queries ranked with it.
    pub held_out: Metrics,
}

/// The figures of a cross-validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// Per fold.
    pub folds: Vec<FoldOutcome>,
    /// Every query, each ranked with the parameters chosen without it.
    pub held_out: Metrics,
    /// 95% bootstrap interval of the pooled recall@5.
    pub recall_at_5_interval: (f64, f64),
    /// 95% bootstrap interval of the pooled nDCG@10.
    pub ndcg_at_10_interval: (f64, f64),
}

impl CrossValidation {
    /// The lowest and highest nDCG@10 of a fold: the split-to-split spread.
    pub fn ndcg_spread(&self) -> (f64, f64) {
        self.folds
            .iter()
            .map(|f| f.held_out.ndcg_at_10)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
                (lo.min(x), hi.max(x))
            })
    }
}

fn mean_of(scores: &[QueryScores], queries: impl Iterator<Item = usize>) -> Metrics {
    let mut sums = [0.0; 4];
    let mut n = 0usize;
    for q in queries {
        for (sum, x) in sums.iter_mut().zip(scores[q]) {
            *sum += x;
        }
        n += 1;
    }
    let d = n.max(1) as f64;
    Metrics {
        queries: n,
        recall_at_1: sums[0] / d,
        recall_at_5: sums[1] / d,
        ndcg_at_10: sums[2] / d,
        mrr: sums[3] / d,
    }
}

/// `scores[c][q]`: query `q` ranked with candidate `c`. For each fold, the
/// candidate with the best mean nDCG@10 over the queries of the other folds
/// (the earlier on a tie) ranks the fold's queries.
pub fn cross_validate(scores: &[Vec<QueryScores>], folds: &[Fold]) -> CrossValidation {
    let queries = scores.first().map_or(0, Vec::len);
    let mut fold_of = vec![usize::MAX; queries];
    for (f, fold) in folds.iter().enumerate() {
        for &q in &fold.queries {
            if q < queries {
                fold_of[q] = f;
            }
        }
    }
    let mut pooled: Vec<QueryScores> = vec![[0.0; 4]; queries];
    let mut outcomes = Vec::new();
    for (f, fold) in folds.iter().enumerate() {
        let training = |q: &usize| fold_of[*q] != f;
        let mut chosen = 0;
        let mut best = f64::NEG_INFINITY;
        for (c, candidate) in scores.iter().enumerate() {
            let ndcg = mean_of(candidate, (0..queries).filter(training)).ndcg_at_10;
            if ndcg > best {
                (best, chosen) = (ndcg, c);
            }
        }
        for &q in fold.queries.iter().filter(|&&q| q < queries) {
            pooled[q] = scores[chosen][q];
        }
        outcomes.push(FoldOutcome {
            name: fold.name.clone(),
            chosen,
            held_out: mean_of(
                &scores[chosen],
                fold.queries.iter().copied().filter(|&q| q < queries),
            ),
        });
    }
    let held: Vec<usize> = (0..queries).filter(|&q| fold_of[q] != usize::MAX).collect();
    let column = |i: usize| held.iter().map(|&q| pooled[q][i]).collect::<Vec<f64>>();
    CrossValidation {
        folds: outcomes,
        held_out: mean_of(&pooled, held.iter().copied()),
        recall_at_5_interval: bootstrap_interval(&column(1), 2_000, 0x5eed),
        ndcg_at_10_interval: bootstrap_interval(&column(2), 2_000, 0x5eed),
    }
}

/// The 2.5th and 97.5th percentiles of the mean of `values` over
/// `resamples` resamples with replacement (a fixed `seed`: the same
/// interval every run).
pub fn bootstrap_interval(values: &[f64], resamples: usize, seed: u64) -> (f64, f64) {
    if values.is_empty() || resamples == 0 {
        return (0.0, 0.0);
    }
    // xorshift64*: enough to draw indices, and no dependency for it.
    let mut state = seed | 1;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    };
    let n = values.len();
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| {
            let sum: f64 = (0..n).map(|_| values[(next() % n as u64) as usize]).sum();
            sum / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let at = |p: f64| means[((resamples as f64 - 1.0) * p).round() as usize];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(names: &[&str], category: &str) -> Query {
        Query {
            query: String::new(),
            relevant: Vec::new(),
            relevant_exact: Vec::new(),
            relevant_names: names.iter().map(|n| (*n).to_owned()).collect(),
            category: category.to_owned(),
            qid: String::new(),
        }
    }

    #[test]
    fn splits_are_read_and_named() {
        assert_eq!("family".parse(), Ok(Split::Family));
        assert_eq!("tool".parse(), Ok(Split::Tool(5)));
        assert_eq!("tool:3".parse(), Ok(Split::Tool(3)));
        assert!(
            "tool:1"
                .parse::<Split>()
                .unwrap_err()
                .contains("at least 2")
        );
        assert!(
            "random"
                .parse::<Split>()
                .unwrap_err()
                .contains("family, tool")
        );
        assert_eq!(Split::Tool(3).to_string(), "by tool, 3 folds");
    }

    #[test]
    fn a_tool_split_never_puts_one_name_in_two_folds() {
        // a–b are linked through the query needing both; c, d, e stand alone.
        let queries = vec![
            query(&["a"], "simple"),
            query(&["b"], "simple"),
            query(&["a", "b"], "parallel"),
            query(&["c"], "simple"),
            query(&["d"], "multiple"),
            query(&["e"], "multiple"),
            query(&["c"], "multiple"),
        ];
        let folds = folds(&queries, Split::Tool(3));
        assert_eq!(folds.len(), 3);
        let mut seen = vec![0; queries.len()];
        for fold in &folds {
            for &q in &fold.queries {
                seen[q] += 1;
            }
            let names: Vec<&String> = fold
                .queries
                .iter()
                .flat_map(|&q| &queries[q].relevant_names)
                .collect();
            for other in folds.iter().filter(|o| o.name != fold.name) {
                for &q in &other.queries {
                    for n in &queries[q].relevant_names {
                        assert!(
                            !names.contains(&n),
                            "{n} in {} and {}",
                            fold.name,
                            other.name
                        );
                    }
                }
            }
        }
        assert!(seen.iter().all(|&n| n == 1), "each query once: {seen:?}");
        assert_eq!(folds[0].queries, [0, 1, 2], "the largest group first");

        let by_family = super::folds(&queries, Split::Family);
        let names: Vec<&str> = by_family.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["multiple", "parallel", "simple"]);
        assert_eq!(by_family[2].queries, [0, 1, 3]);
    }

    #[test]
    fn parameters_are_chosen_without_the_held_out_fold() {
        // Candidate 0 is best on fold A, candidate 1 on fold B; each fold
        // must be ranked by the candidate that wins on the other one.
        let s = |ndcg: f64| [ndcg, ndcg, ndcg, ndcg];
        let scores = vec![
            vec![s(1.0), s(1.0), s(0.0), s(0.0)],
            vec![s(0.5), s(0.5), s(0.6), s(0.6)],
        ];
        let folds = vec![
            Fold {
                name: "A".into(),
                queries: vec![0, 1],
            },
            Fold {
                name: "B".into(),
                queries: vec![2, 3],
            },
        ];
        let cv = cross_validate(&scores, &folds);
        assert_eq!(cv.folds[0].chosen, 1, "chosen on B");
        assert_eq!(cv.folds[1].chosen, 0, "chosen on A");
        assert_eq!(cv.folds[0].held_out.ndcg_at_10, 0.5);
        assert_eq!(cv.folds[1].held_out.ndcg_at_10, 0.0);
        assert_eq!(cv.held_out.queries, 4);
        assert_eq!(cv.held_out.ndcg_at_10, 0.25);
        assert_eq!(cv.ndcg_spread(), (0.0, 0.5));
    }

    #[test]
    fn a_ranking_made_elsewhere_scores_as_the_index_ranking_it() {
        let doc = |id: &str, name: &str, description: &str| Document {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            parameters: Vec::new(),
            tags: Vec::new(),
        };
        let corpus = vec![
            doc("w1", "get_weather", "Current weather for a city."),
            doc("w2", "get_weather", "Weather in a town today."),
            doc("f", "factorial", "Computes the factorial of a number."),
            doc("m", "send_mail", "Sends an email message."),
        ];
        let mut weather = query(&["get_weather"], "simple");
        weather.query = "weather in Paris".into();
        weather.relevant = vec!["w1".into(), "w2".into()];
        let mut both = query(&["factorial", "send_mail"], "parallel");
        both.query = "factorial of 5, then email it".into();
        both.relevant = vec!["f".into(), "m".into()];
        let queries = vec![weather, both];
        let index = SearchIndex::build(&corpus, None);
        let by_index = query_scores(&index, &corpus, &queries);
        let rankings: Vec<Vec<String>> = queries
            .iter()
            .map(|q| {
                index
                    .search(&q.query, RANK_DEPTH, &|_| true)
                    .iter()
                    .map(|h| corpus[h.doc as usize].id.clone())
                    .collect()
            })
            .collect();
        assert_eq!(ranking_scores(&corpus, &queries, &rankings), by_index);
        // The second query's tools in the reverse order: both found by 5,
        // the first at rank 1; an unknown id counts for nothing.
        let by_hand = ranking_scores(&corpus, &queries, &[vec!["nope", "w2"], vec!["m", "f"]]);
        assert_eq!(by_hand[0][0], 0.0, "not first");
        assert_eq!(by_hand[0][3], 0.5, "first relevant at rank 2");
        assert_eq!(by_hand[1][1], 1.0, "both needed names within 5");
    }

    #[test]
    fn the_bootstrap_interval_brackets_the_mean_and_repeats() {
        let values: Vec<f64> = (0..200).map(|i| f64::from(i % 2)).collect();
        let (lo, hi) = bootstrap_interval(&values, 1_000, 7);
        assert!(lo < 0.5 && 0.5 < hi, "({lo}, {hi})");
        assert!(hi - lo < 0.2, "({lo}, {hi})");
        assert_eq!(bootstrap_interval(&values, 1_000, 7), (lo, hi));
        assert_eq!(bootstrap_interval(&[1.0; 10], 100, 7), (1.0, 1.0));
        assert_eq!(bootstrap_interval(&[], 100, 7), (0.0, 0.0));
    }
}
