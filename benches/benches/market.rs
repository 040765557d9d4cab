//! Ledger throughput: transactions recorded per second in memory (the
//! rules: checks, split, postings, balances) and in the SQLite store (one
//! database transaction and commit each), with one writer and with eight.
//! The market's API: a download of a published package alone and 32 at
//! once, and a submission from upload through the security scan and two
//! approvals to publication.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustchain_tools_benches::market;
use rustchain_tools_market::{Ledger, MarketStore};

fn in_memory(c: &mut Criterion) {
    let mut group = c.benchmark_group("ledger-record");
    group.throughput(Throughput::Elements(1_000));
    let mut ledger = Ledger::new();
    let mut next = 0;
    group.bench_function("in memory, 1,000 sales", |b| {
        b.iter(|| {
            market::record_in_memory(&mut ledger, next, 1_000);
            next += 1_000;
        })
    });
    group.finish();
}

fn in_sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temp dir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let store = rt
        .block_on(MarketStore::open_sqlite(&dir.path().join("market.db")))
        .expect("the store opens");
    let mut group = c.benchmark_group("ledger-record-sqlite");
    group.sample_size(10);
    group.throughput(Throughput::Elements(200));
    let mut next = 0;
    for writers in [1, 8] {
        group.bench_function(format!("200 sales, {writers} writers"), |b| {
            b.iter(|| {
                rt.block_on(market::record_in_store(&store, next, 200, writers));
                next += 200;
            })
        });
    }
    group.finish();
}

fn api(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let market = std::sync::Arc::new(rt.block_on(market::BenchMarket::start()));
    let mut group = c.benchmark_group("market-api");
    group.bench_function("download a package", |b| {
        b.iter(|| rt.block_on(market.download()))
    });
    group.throughput(Throughput::Elements(32));
    group.bench_function("32 concurrent downloads", |b| {
        b.iter(|| {
            rt.block_on(async {
                let tasks: Vec<_> = (0..32)
                    .map(|_| {
                        let market = std::sync::Arc::clone(&market);
                        tokio::spawn(async move { market.download().await })
                    })
                    .collect();
                for task in tasks {
                    task.await.expect("a download");
                }
            })
        })
    });
    group.finish();

    let mut group = c.benchmark_group("market-submission");
    group.sample_size(10);
    let mut n = 0;
    group.bench_function("submit, scan, two approvals, published", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(market.publish(&format!("2.0.{n}")));
        })
    });
    group.finish();
}

criterion_group!(benches, in_memory, in_sqlite, api);
criterion_main!(benches);
