//! The pipeline's cost per call: straight to the tool, through the default
//! stack with valid and invalid arguments, and 1,000 concurrent callers on
//! one and on two worker threads, and the limits layer's added cost.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rustchain_tools::schema::export::{ExportOptions, Format, export};
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

/// The limits layer's added cost: the same call with no layers and with the
/// limits layer alone.
fn limits(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (bare, limited) = (b::bare_runtime(), b::limits_runtime());
    let mut group = c.benchmark_group("limits");
    group.bench_function("no-layers", |bench| {
        bench.to_async(&rt).iter(|| b::pipeline_valid(&bare));
    });
    group.bench_function("limits-only", |bench| {
        bench.to_async(&rt).iter(|| b::pipeline_valid(&limited));
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

fn schema(c: &mut Criterion) {
    let validator = b::noop_validator();
    let (valid, invalid) = (b::valid_arguments(), b::invalid_arguments());
    let large = b::large_definition();
    let mut group = c.benchmark_group("schema");
    group.bench_function("validate-valid", |bench| {
        bench.iter(|| validator.validate(&valid).is_ok());
    });
    group.bench_function("validate-invalid", |bench| {
        bench.iter(|| validator.validate(&invalid).is_err());
    });
    for format in [Format::Mcp, Format::OpenaiStrict, Format::Gemini] {
        group.bench_function(format!("export-large-{format}"), |bench| {
            bench.iter(|| export(&large, ExportOptions::new(format)).expect("exports"));
        });
    }
    group.finish();
}

criterion_group!(benches, single_caller, limits, concurrent_callers, schema);
criterion_main!(benches);
