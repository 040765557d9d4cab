//! Times building the search index, the step that dominates registering
//! many tools, and optionally writes what the build produced so that two
//! versions of the code can be compared byte for byte.
//!
//! ```text
//! cargo run --release -p rustchain-tools-search --example build_time -- \
//!     [--corpus FILE] [--model DIR] [--runs N] [--dump DIR]
//! ```
//!
//! Defaults: `corpus_10k.jsonl` of the retrieval data, no model, 11 runs.
//! Each run times [`SearchIndex::build`] and, as the registry does,
//! [`SearchIndex::with_added`] on an empty index, and prints min / median /
//! max. With `--dump DIR`, writes `DIR/index.bin` (the persisted index) and
//! `DIR/hits.txt` (the top 10 documents and score bits of every dev query).

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rustchain_tools_search::eval::{load_corpus, load_queries, retrieval_dir};
use rustchain_tools_search::{EmbeddingModel, SearchIndex};

fn summary(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    let median = ms.get(ms.len() / 2).copied().unwrap_or(0.0);
    println!(
        "{label:<24} n={} min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms.len(),
        ms.first().copied().unwrap_or(0.0),
        median,
        ms.last().copied().unwrap_or(0.0),
    );
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = retrieval_dir();
    let mut corpus_path = root.join("corpus_10k.jsonl");
    let mut model_dir: Option<PathBuf> = None;
    let mut runs = 11usize;
    let mut dump: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--corpus" => corpus_path = value()?.into(),
            "--model" => model_dir = Some(value()?.into()),
            "--runs" => runs = value()?.parse()?,
            "--dump" => dump = Some(value()?.into()),
            _ => return Err(format!("unknown argument {a}").into()),
        }
    }
    let corpus = load_corpus(&corpus_path)?;
    let model = match &model_dir {
        Some(dir) => Some(Arc::new(EmbeddingModel::load(dir)?)),
        None => None,
    };
    let label = if model.is_some() { "hybrid" } else { "lexical" };
    println!("{} documents, {label}", corpus.len());
    let mut build = Vec::with_capacity(runs);
    let mut added = Vec::with_capacity(runs);
    let empty = SearchIndex::build(&[], model.clone());
    let mut index = SearchIndex::build(&[], model.clone());
    // Dropping the previous index is left out of the times.
    for _ in 0..runs {
        let start = Instant::now();
        let built = std::hint::black_box(SearchIndex::build(&corpus, model.clone()));
        build.push(start.elapsed().as_secs_f64() * 1e3);
        index = built;
        let start = Instant::now();
        let built = std::hint::black_box(empty.with_added(&corpus));
        added.push(start.elapsed().as_secs_f64() * 1e3);
        drop(built);
    }
    summary(&format!("{label} build"), build);
    summary(&format!("{label} with_added"), added);
    if let Some(dir) = dump {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("index.bin"), postcard::to_allocvec(&index)?)?;
        let queries = load_queries(&root.join("dev.jsonl"))?;
        let mut hits = String::new();
        for q in &queries {
            for h in index.search(&q.query, 10, &|_| true) {
                write!(
                    hits,
                    "{}:{:08x}:{} ",
                    h.doc,
                    h.score.to_bits(),
                    h.why.join("|")
                )?;
            }
            hits.push('\n');
        }
        std::fs::write(dir.join("hits.txt"), hits)?;
        println!("wrote {}", dir.display());
    }
    Ok(())
}
