//! Resident memory of a registry: builds one of COUNT tools (10,000 from
//! `corpus_10k.jsonl`; more from `corpus_13k.jsonl` plus variants) in a
//! temporary directory, then opens it in a fresh process and prints VmRSS
//! after opening, after the first search, after loading 1,000 tools, and
//! after 200,000 loads drawn by a Zipf law (with the hit rate of the last
//! 100,000).
//!
//! `cargo run --release -p rustchain-tools-registry --example memory -- 10000`

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use rustchain_tools_registry::{
    Filters, ImportOptions, Manifest, Registry, RegistryOptions, parse,
};

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
    // `CACHE_MIB` overrides the default cache budget, to compare budgets.
    let options = RegistryOptions {
        cache_bytes: std::env::var("CACHE_MIB")
            .ok()
            .and_then(|m| m.parse::<u64>().ok())
            .map_or(rustchain_tools_registry::DEFAULT_CACHE_BYTES, |m| m << 20),
        ..RegistryOptions::default()
    };
    let registry = Registry::open_with(dir, &options)?;
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
    zipf(&snapshot, &registry)?;
    Ok(())
}

/// Loads 200,000 tools drawn by a Zipf law (s = 1, ranks shuffled over the
/// tools) with the default cache budget, then prints the hit rate of the
/// second half and the resident memory.
fn zipf(snapshot: &rustchain_tools_registry::Snapshot, registry: &Registry) -> Result {
    let all: Vec<_> = snapshot.iter().collect();
    let mut cumulative = Vec::with_capacity(all.len());
    let mut total = 0.0;
    for rank in 1..=all.len() {
        total += 1.0 / rank as f64;
        cumulative.push(total);
    }
    // xorshift64*: the same draws in every run.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        state.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let mut order: Vec<usize> = (0..all.len()).collect();
    for i in (1..order.len()).rev() {
        order.swap(i, (next() % (i as u64 + 1)) as usize);
    }
    let mut warm = registry.stats();
    for round in 0..2 {
        for _ in 0..100_000 {
            let x = (next() >> 11) as f64 / (1u64 << 53) as f64 * total;
            let rank = cumulative.partition_point(|&c| c < x).min(all.len() - 1);
            all[order[rank]].load()?;
        }
        if round == 0 {
            warm = registry.stats();
        }
    }
    let stats = registry.stats();
    let hits = stats.cache_hits - warm.cache_hits;
    let lookups = hits + stats.cache_misses - warm.cache_misses;
    println!(
        "zipf s=1.0 over {} tools, cache budget {} MiB: hit rate {:.1}% \
         ({} evictions); VmRSS {} KiB after",
        all.len(),
        registry.cache_bytes() >> 20,
        100.0 * hits as f64 / lookups as f64,
        stats.cache_evictions,
        rss_kib()
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
