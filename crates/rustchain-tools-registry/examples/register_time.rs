//! Times batch registration of the 10,000 tools of `corpus_10k.jsonl` (as
//! the `register_10k_manifests` benchmark does: a new registry in a
//! temporary directory, then [`Registry::register`]) and, single-threaded,
//! the parts that registration is made of that are public: the schema
//! checks and the JSON encoding of every manifest. Prints min / median /
//! max of each, so that two versions of the code can be compared on the
//! same machine in the same minute. With `--dump FILE`, registers once more,
//! saves, reopens and writes the top 10 results (key, score bits, why) of
//! every dev query to FILE, so that two versions' results can be compared
//! byte for byte.
//!
//! ```text
//! cargo run --release -p rustchain-tools-registry --example register_time -- [RUNS] [--dump FILE]
//! ```

use std::{fmt::Write as _, hint::black_box, path::Path, time::Instant};

use rustchain_tools_registry::{Filters, ImportOptions, Manifest, Registry, parse};

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn summary(label: &str, mut ms: Vec<f64>) {
    ms.sort_by(f64::total_cmp);
    println!(
        "{label:<28} n={} min {:.1} ms, median {:.1} ms, max {:.1} ms",
        ms.len(),
        ms.first().copied().unwrap_or(0.0),
        ms.get(ms.len() / 2).copied().unwrap_or(0.0),
        ms.last().copied().unwrap_or(0.0),
    );
}

/// Runs `f` `runs` times and returns each run's milliseconds.
fn time(runs: usize, mut f: impl FnMut() -> Result) -> Result<Vec<f64>> {
    let mut ms = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        ms.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(ms)
}

fn main() -> Result {
    let mut runs = 21usize;
    let mut dump = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--dump" => dump = Some(args.next().ok_or("--dump needs a file")?),
            n => runs = n.parse()?,
        }
    }
    let path = rustchain_tools_registry::retrieval_dir().join("corpus_10k.jsonl");
    let text = std::fs::read_to_string(&path)?;
    let options = ImportOptions::default().sanitize_names(true);
    let parsed = parse(&text, "corpus_10k", &options)?;
    let tools: Vec<Manifest> = parsed.manifests.into_iter().map(|(_, m)| m).collect();
    println!("{} manifests", tools.len());

    let mut register = Vec::with_capacity(runs);
    for _ in 0..runs {
        // The directory is made and removed outside the timed part.
        let dir = tempfile::tempdir()?;
        let start = Instant::now();
        let registry = Registry::open(dir.path())?;
        let report = black_box(registry.register(&tools)?);
        register.push(start.elapsed().as_secs_f64() * 1e3);
        if !report.problems.is_empty() {
            return Err(format!("{} tools refused", report.problems.len()).into());
        }
    }
    summary("register 10K", register);
    let checks = time(runs, || {
        for m in &tools {
            black_box(m.check())?;
        }
        Ok(())
    })?;
    summary("schema checks (1 thread)", checks);
    let encode = time(runs, || {
        for m in &tools {
            black_box(serde_json::to_vec(m)?);
        }
        Ok(())
    })?;
    summary("JSON encoding (1 thread)", encode);
    if let Some(file) = dump {
        write_results(&tools, Path::new(&file))?;
    }
    Ok(())
}

/// Registers `tools`, saves, reopens, and writes every dev query's top 10.
fn write_results(tools: &[Manifest], file: &Path) -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    registry.register(tools)?;
    registry.save()?;
    drop(registry);
    let registry = Registry::open(dir.path())?;
    let queries =
        std::fs::read_to_string(rustchain_tools_registry::retrieval_dir().join("dev.jsonl"))?;
    let mut out = String::new();
    for line in queries.lines() {
        let value: serde_json::Value = serde_json::from_str(line)?;
        let query = value["query"].as_str().unwrap_or_default();
        for hit in registry.search(query, &Filters::none(), 10)? {
            write!(
                out,
                "{}:{:08x}:{} ",
                hit.key,
                hit.score.to_bits(),
                hit.why.join("|")
            )?;
        }
        out.push('\n');
    }
    std::fs::write(file, out)?;
    println!("wrote {}", file.display());
    Ok(())
}
