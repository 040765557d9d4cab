//! WASM plugins: the echo example's per-call overhead in the engine (new
//! store, instantiate from the pooling allocator, copy in, run, copy out),
//! the same through the tool (with its hop to a blocking thread), and the
//! JSON transformer example against the same logic as a native tool.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rustchain_tools::{ToolExecutor, sandbox::wasm::CallLimits};
use rustchain_tools_benches::wasm as w;

fn echo(c: &mut Criterion) {
    let (module, grants) =
        w::echo_module(rustchain_tools::sandbox::wasm::WasmConfig::default().max_instances);
    let limits = CallLimits::default();
    let mut group = c.benchmark_group("wasm");
    group.bench_function("echo-call", |bench| {
        bench.iter(|| w::echo_call(&module, &grants, &limits));
    });
    group.finish();
}

fn json_upper(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let plugin: Arc<dyn ToolExecutor> = w::json_upper_plugin().into_executor();
    let native: Arc<dyn ToolExecutor> = Arc::new(w::NativeJsonUpper::new());
    let document = w::document();
    let mut group = c.benchmark_group("json-upper");
    group.bench_function("native-tool", |bench| {
        bench.to_async(&rt).iter(|| w::execute(&native, &document));
    });
    group.bench_function("plugin-tool", |bench| {
        bench.to_async(&rt).iter(|| w::execute(&plugin, &document));
    });
    let (module, grants) = w::json_upper_module();
    let limits = CallLimits::default();
    group.bench_function("plugin-in-engine", |bench| {
        bench.iter(|| module.call_json(&document, &grants, &limits).expect("runs"));
    });
    group.finish();
}

criterion_group!(benches, echo, json_upper);
criterion_main!(benches);
