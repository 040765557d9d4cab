//! Registry benchmarks: batch registration and opening of 10,000 tools,
//! exact and negative lookups, search latency percentiles over 10K and
//! 100K tools, and the cache hit rate of a Zipf workload.
//!
//! Data: `shared/retrieval/corpus_10k.jsonl` (10,000 real tools),
//! `corpus_13k.jsonl` plus generated variants for 100K, `dev.jsonl` queries.

use std::{
    hint::black_box,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use criterion::{BatchSize, Criterion, criterion_group};

#[path = "support/variants.rs"]
mod variants;
use rustchain_tools_registry::{
    Filters, ImportOptions, Manifest, Registry, RegistryOptions, parse,
};
use variants::with_variants;

fn data(file: &str) -> PathBuf {
    rustchain_tools_registry::retrieval_dir().join(file)
}

fn read(file: &str) -> String {
    std::fs::read_to_string(data(file)).unwrap_or_else(|e| panic!("reading {file}: {e}"))
}

/// The tools of a corpus file as checked manifests (names sanitized, so
/// that every one of them is kept).
fn manifests(file: &str) -> Vec<Manifest> {
    let options = ImportOptions::default().sanitize_names(true);
    let parsed = parse(&read(file), file, &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems.first());
    parsed.manifests.into_iter().map(|(_, m)| m).collect()
}

fn queries() -> Vec<String> {
    read("dev.jsonl")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["query"].as_str().map(str::to_owned))
        .collect()
}

fn build(dir: &Path, tools: &[Manifest]) -> Registry {
    let registry = Registry::open(dir).unwrap_or_else(|e| panic!("{e}"));
    let report = registry.register(tools).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.problems.is_empty());
    registry.save().unwrap_or_else(|e| panic!("{e}"));
    registry
}

fn summary(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{label}: n={} min={:?} p50={:?} p99={:?} max={:?}",
        samples.len(),
        samples[0],
        at(0.5),
        at(0.99),
        samples[samples.len() - 1]
    );
}

/// Search latency of every dev query, as percentiles (criterion reports
/// means; tail latency needs the distribution).
fn search_percentiles(label: &str, registry: &Registry, queries: &[String]) {
    let snapshot = registry.snapshot();
    for q in queries.iter().take(50) {
        black_box(
            snapshot
                .search(q, &Filters::none(), 10)
                .unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let samples = queries
        .iter()
        .map(|q| {
            let start = Instant::now();
            black_box(
                snapshot
                    .search(q, &Filters::none(), 10)
                    .unwrap_or_else(|e| panic!("{e}")),
            );
            start.elapsed()
        })
        .collect();
    summary(label, samples);
}

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Loads tools drawn from a Zipf(s) distribution over `n` ranks and reports
/// the cache hit rate of the loads after a warm-up of equal length.
fn zipf_hit_rate(tools: &[Manifest], s: f64, cache_mib: u64, draws: usize) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    build(dir.path(), tools);
    let options = RegistryOptions {
        cache_bytes: cache_mib << 20,
        ..RegistryOptions::default()
    };
    let registry = Registry::open_with(dir.path(), &options).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = registry.snapshot();
    let all: Vec<_> = snapshot.iter().collect();
    let mut cumulative = Vec::with_capacity(all.len());
    let mut total = 0.0;
    for rank in 1..=all.len() {
        total += 1.0 / (rank as f64).powf(s);
        cumulative.push(total);
    }
    // Ranks map to tools in a shuffled order, so popularity is not slot order.
    let mut order: Vec<usize> = (0..all.len()).collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for i in (1..order.len()).rev() {
        order.swap(i, (rng.next() % (i as u64 + 1)) as usize);
    }
    let draw = |rng: &mut Rng| {
        let x = rng.unit() * total;
        order[cumulative.partition_point(|&c| c < x).min(all.len() - 1)]
    };
    for _ in 0..draws {
        black_box(all[draw(&mut rng)].load().unwrap_or_else(|e| panic!("{e}")));
    }
    let warm = registry.stats();
    let start = Instant::now();
    for _ in 0..draws {
        black_box(all[draw(&mut rng)].load().unwrap_or_else(|e| panic!("{e}")));
    }
    let elapsed = start.elapsed();
    let stats = registry.stats();
    let hits = stats.cache_hits - warm.cache_hits;
    let misses = stats.cache_misses - warm.cache_misses;
    println!(
        "zipf s={s} cache={cache_mib} MiB tools={}: hit rate {:.1}% ({hits} hits, {misses} misses, {} evictions), {:?} per load",
        all.len(),
        100.0 * hits as f64 / (hits + misses) as f64,
        stats.cache_evictions,
        elapsed / draws as u32
    );
}

fn registry_10k(c: &mut Criterion) {
    let tools = manifests("corpus_10k.jsonl");
    assert_eq!(tools.len(), 10_000);
    let text = read("corpus_10k.jsonl");
    let queries = queries();

    let mut group = c.benchmark_group("registry_10k");
    group.sample_size(10);
    group.bench_function("register_10k_manifests", |b| {
        b.iter_batched(
            || tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
            |dir| {
                let registry = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
                black_box(registry.register(&tools).unwrap_or_else(|e| panic!("{e}")));
                (dir, registry)
            },
            BatchSize::PerIteration,
        );
    });
    group.bench_function("import_10k_jsonl_text", |b| {
        let options = ImportOptions::default().sanitize_names(true);
        b.iter_batched(
            || tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")),
            |dir| {
                let registry = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
                black_box(
                    registry
                        .import_str(&text, "corpus_10k", &options)
                        .unwrap_or_else(|e| panic!("{e}")),
                );
                (dir, registry)
            },
            BatchSize::PerIteration,
        );
    });

    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    build(dir.path(), &tools);
    group.bench_function("open_10k", |b| {
        b.iter(|| black_box(Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"))));
    });
    group.finish();

    let registry = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let snapshot = registry.snapshot();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    let absent: Vec<String> = (0..1024).map(|i| format!("no.such.tool_{i}")).collect();
    let mut group = c.benchmark_group("lookup_10k");
    let mut i = 0;
    group.bench_function("exact", |b| {
        b.iter(|| {
            i = (i + 1) % names.len();
            black_box(snapshot.get(black_box(names[i])).is_some())
        });
    });
    let mut j = 0;
    group.bench_function("negative", |b| {
        b.iter(|| {
            j = (j + 1) % absent.len();
            black_box(snapshot.get(black_box(&absent[j])).is_none())
        });
    });
    group.bench_function("snapshot_then_exact", |b| {
        b.iter(|| {
            i = (i + 1) % names.len();
            black_box(registry.snapshot().get(black_box(names[i])).is_some())
        });
    });
    group.bench_function("search_one_query", |b| {
        b.iter(|| {
            black_box(
                snapshot
                    .search(
                        "what is the weather like in Boston today",
                        &Filters::none(),
                        10,
                    )
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        });
    });
    group.bench_function("search_filtered_category", |b| {
        let filters = Filters::none().category("openapi-directory");
        b.iter(|| {
            black_box(
                snapshot
                    .search("list all users of the account", &filters, 10)
                    .unwrap_or_else(|e| panic!("{e}")),
            )
        });
    });
    group.finish();

    search_percentiles(
        "search 10K (1,150 dev queries, top 10)",
        &registry,
        &queries,
    );
    let stats = registry.stats();
    println!(
        "stats 10K: tools={} names={} versions={} categories={} tags={} index≈{:.1} MiB",
        stats.tools,
        stats.names,
        stats.versions,
        stats.categories,
        stats.tags,
        stats.index_bytes as f64 / (1 << 20) as f64
    );
    let default_mib = rustchain_tools_registry::DEFAULT_CACHE_BYTES >> 20;
    for (s, cache_mib) in [
        (1.0, default_mib),
        (1.1, default_mib),
        (1.2, default_mib),
        (1.0, 16),
        (1.0, 32),
        (1.0, 64),
    ] {
        zipf_hit_rate(&tools, s, cache_mib, 100_000);
    }
}

/// The embedding model installed by `cargo xtask fetch-model`, if it is.
fn model() -> Option<std::sync::Arc<rustchain_tools_registry::EmbeddingModel>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(rustchain_tools_registry::DEFAULT_MODEL);
    dir.exists().then(|| {
        std::sync::Arc::new(
            rustchain_tools_registry::EmbeddingModel::load(&dir).unwrap_or_else(|e| panic!("{e}")),
        )
    })
}

/// Hybrid search (lexical and semantic, fused) at 10K and 100K tools:
/// registration with the model embeds every tool; each dev query is then
/// timed once.
fn registry_hybrid(_: &mut Criterion) {
    let Some(model) = model() else {
        println!("hybrid: no embedding model installed (cargo xtask fetch-model); skipped");
        return;
    };
    let real = manifests("corpus_13k.jsonl");
    for (label, tools) in [
        ("10K", manifests("corpus_10k.jsonl")),
        ("100K", with_variants(&real, 100_000)),
    ] {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let options = RegistryOptions {
            model: Some(model.clone()),
            ..RegistryOptions::default()
        };
        let registry = Registry::open_with(dir.path(), &options).unwrap_or_else(|e| panic!("{e}"));
        let start = Instant::now();
        registry.register(&tools).unwrap_or_else(|e| panic!("{e}"));
        println!("register {label} with embeddings: {:?}", start.elapsed());
        assert!(registry.snapshot().has_semantic());
        search_percentiles(
            &format!("hybrid search {label} (1,150 dev queries, top 10)"),
            &registry,
            &queries(),
        );
    }
}

fn registry_100k(_: &mut Criterion) {
    let real = manifests("corpus_13k.jsonl");
    let tools = with_variants(&real, 100_000);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let start = Instant::now();
    drop(build(dir.path(), &tools));
    println!(
        "build+save 100K (register incl. schema checks, search index, index write): {:?}",
        start.elapsed()
    );
    let opens = (0..5)
        .map(|_| {
            let start = Instant::now();
            black_box(Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}")));
            start.elapsed()
        })
        .collect();
    summary("open 100K", opens);
    let registry = Registry::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    search_percentiles(
        "search 100K (1,150 dev queries, top 10)",
        &registry,
        &queries(),
    );
}

criterion_group!(benches, registry_10k, registry_hybrid, registry_100k);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
