//! Resident memory of a registry: builds one of COUNT tools (10,000 from
//! `corpus_10k.jsonl`; more from `corpus_13k.jsonl` plus variants) in a
//! temporary directory, then opens it in a fresh process and prints VmRSS
//! after opening, after the first search and after loading 1,000 tools.
//!
//! `cargo run --release -p rustchain-tools-registry --example memory -- 10000`

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use rustchain_tools_registry::{Filters, ImportOptions, Manifest, Registry, parse};

#[path = "../benches/support/variants.rs"]
mod variants;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// This process's resident memory in KiB (Linux), from /proc/self/status.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

fn corpus(file: &str) -> PathBuf {
    rustchain_tools_registry::retrieval_dir().join(file)
}

fn tools(count: usize) -> Result<Vec<Manifest>> {
    let file = if count <= 10_000 {
        "corpus_10k.jsonl"
    } else {
        "corpus_13k.jsonl"
    };
    let text = std::fs::read_to_string(corpus(file))?;
    let parsed = parse(&text, file, &ImportOptions::default().sanitize_names(true))?;
    let real: Vec<Manifest> = parsed.manifests.into_iter().map(|(_, m)| m).collect();
    Ok(variants::with_variants(&real, count))
}

fn open(dir: &Path) -> Result {
    let before = rss_kib();
    let start = Instant::now();
    let registry = Registry::open(dir)?;
    let opened = start.elapsed();
    let after_open = rss_kib();
    registry.search("what is the weather in Boston", &Filters::none(), 10)?;
    let after_search = rss_kib();
    let snapshot = registry.snapshot();
    for tool in snapshot.iter().take(1000) {
        tool.load()?;
    }
    let after_loads = rss_kib();
    let stats = registry.stats();
    println!(
        "{} tools: VmRSS {before} KiB before open, {after_open} KiB after open ({opened:?}), \
         {after_search} KiB after the first search, {after_loads} KiB after loading 1,000 tools; \
         index estimate {:.1} MiB",
        stats.tools,
        stats.index_bytes as f64 / (1 << 20) as f64
    );
    Ok(())
}

fn main() -> Result {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, dir] = args.as_slice()
        && mode == "open"
    {
        return open(Path::new(dir));
    }
    let count: usize = args.get(1).map_or(Ok(10_000), |c| c.parse())?;
    let dir = tempfile::tempdir()?;
    {
        let registry = Registry::open(dir.path())?;
        let report = registry.register(&tools(count)?)?;
        if let Some(problem) = report.problems.first() {
            return Err(format!("{problem}").into());
        }
        registry.save()?;
    }
    let status = Command::new(std::env::current_exe()?)
        .arg("open")
        .arg(dir.path())
        .status()?;
    if !status.success() {
        return Err(format!("the opening process failed: {status}").into());
    }
    Ok(())
}
