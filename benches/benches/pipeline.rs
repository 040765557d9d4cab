//! The pipeline's cost per call: straight to the tool, through the default
//! stack with valid and invalid arguments, and 1,000 concurrent callers on
//! one and on two worker threads.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustchain_tools_benches as b;

fn single_caller(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let runtime = b::runtime();
    let tool = b::bare_tool();
    let mut group = c.benchmark_group("pipeline");
    group.bench_function("direct", |bench| {
        bench.to_async(&rt).iter(|| b::direct(&tool));
    });
    group.bench_function("valid", |bench| {
        bench.to_async(&rt).iter(|| b::pipeline_valid(&runtime));
    });
    group.bench_function("invalid", |bench| {
        bench.to_async(&rt).iter(|| b::pipeline_invalid(&runtime));
    });
    group.finish();
}

fn concurrent_callers(c: &mut Criterion) {
    let runtime = b::runtime();
    let mut group = c.benchmark_group("concurrent-1000");
    group.throughput(Throughput::Elements(1000));
    group.sample_size(20);
    for workers in [1, 2] {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
            .unwrap();
        group.bench_function(format!("workers-{workers}"), |bench| {
            bench.to_async(&rt).iter(|| b::concurrent(&runtime, 1000));
        });
    }
    group.finish();
}

criterion_group!(benches, single_caller, concurrent_callers);
criterion_main!(benches);
