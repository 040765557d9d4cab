//! Measures ranking quality and speed on the retrieval data.
//!
//! ```text
//! cargo run --release -p rustchain-tools-search --example evaluate -- \
//!     [--corpus FILE] [--queries FILE] [--model DIR] [--set KEY=VALUE]... [--sweep KEY=V1,V2,...]
//! ```
//!
//! Defaults: `../shared/retrieval/corpus.jsonl` and `dev.jsonl` beside the
//! workspace, no model. With `--model` (e.g. `models/wordllama-l2-supercat-256`
//! after `cargo xtask fetch-model`), prints lexical, semantic and hybrid
//! figures. Also prints build times and search latency. KEY is `k1`,
//! `semantic_weight`, `same_name_factor`, `segment_weight`,
//! `segment_repeat_factor` or `FIELD.weight` / `FIELD.b` with FIELD one of
//! `name`, `description`, `parameter_names`, `parameter_descriptions`, `tags`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rustchain_tools_search::eval::{Query, evaluate, load_corpus, load_queries};
use rustchain_tools_search::{Document, EmbeddingModel, SearchConfig, SearchIndex};

fn set(config: &mut SearchConfig, key: &str, value: f32) -> Result<(), String> {
    match key.split_once('.') {
        None if key == "k1" => config.k1 = value,
        None if key == "semantic_weight" => config.semantic_weight = value,
        None if key == "same_name_factor" => config.same_name_factor = value,
        None if key == "segment_weight" => config.segment_weight = value,
        None if key == "segment_repeat_factor" => config.segment_repeat_factor = value,
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

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = rustchain_tools_search::eval::retrieval_dir();
    let mut corpus_path = root.join("corpus.jsonl");
    let mut queries_path = root.join("dev.jsonl");
    let mut model_dir = None;
    let mut config = SearchConfig::default();
    let mut sweep: Option<(String, Vec<f32>)> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--corpus" => corpus_path = value()?.into(),
            "--queries" => queries_path = value()?.into(),
            "--model" => model_dir = Some(PathBuf::from(value()?)),
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
    let model = match &model_dir {
        Some(dir) => {
            let start = Instant::now();
            let m = EmbeddingModel::load(dir)?;
            println!(
                "model {} ({} dims) loaded in {:.0} ms",
                m.name(),
                m.dims(),
                start.elapsed().as_secs_f64() * 1e3
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
        "{} tools, {} terms: lexical index built in {build_ms:.1} ms (fastest of 5)",
        lexical.len(),
        lexical.term_count(),
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
    if let Some(model) = model {
        let start = Instant::now();
        let hybrid = SearchIndex::build_with(&corpus, Some(model.clone()), config.clone());
        println!(
            "hybrid index built in {:.0} ms",
            start.elapsed().as_secs_f64() * 1e3
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
    }
    Ok(())
}
