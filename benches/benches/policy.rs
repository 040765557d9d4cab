//! The policy layer's cost: one decision with the shipped default policy
//! plus the `sox` profile (interpreter, and regorus's compiled VM), and a
//! call through validation + policy + deadline against validation +
//! deadline alone.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use rustchain_tools::{
    DeadlineLayer, RegisteredTool, Runtime, ToolCall, ToolRequest, ValidationLayer,
};
use rustchain_tools_benches as b;
use rustchain_tools_policy::{PolicyConfig, PolicyEngine, PolicyLayer};

/// A valid call of the no-op tool by the local principal, resolved as the
/// runtime would: what the policy layer decides about.
fn request() -> ToolRequest {
    let tool = Arc::new(RegisteredTool::new(b::bare_tool()).expect("the no-op tool registers"));
    ToolRequest::new(b::call(b::valid_arguments()), tool)
}

fn decision(c: &mut Criterion) {
    let sox = PolicyConfig::new().profile("sox");
    let interpreter = PolicyEngine::load(&sox).expect("the shipped policies load");
    let vm = PolicyEngine::load(&sox.compiled_vm(true)).expect("the shipped policies load");
    let request = request();
    assert!(interpreter.decide(&request).allowed);
    assert!(vm.decide(&request).allowed);
    let mut group = c.benchmark_group("policy-decision");
    group.bench_function("default+sox/interpreter", |bench| {
        bench.iter(|| interpreter.decide(&request));
    });
    group.bench_function("default+sox/vm", |bench| {
        bench.iter(|| vm.decide(&request));
    });
    group.finish();
}

fn runtime(policy: Option<PolicyConfig>) -> Runtime {
    let builder = Runtime::builder()
        .tool(b::NoOp)
        .layer(ValidationLayer::new());
    let builder = match policy {
        Some(config) => builder.layer(PolicyLayer::load(&config)),
        None => builder,
    };
    builder
        .layer(DeadlineLayer::new())
        .build()
        .expect("the no-op tool registers")
}

fn pipeline(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sox = PolicyConfig::new().profile("sox");
    let cases = [
        ("validation", runtime(None)),
        ("validation+policy/interpreter", runtime(Some(sox.clone()))),
        ("validation+policy/vm", runtime(Some(sox.compiled_vm(true)))),
    ];
    let mut group = c.benchmark_group("policy-pipeline");
    for (name, runtime) in &cases {
        group.bench_function(*name, |bench| {
            bench.to_async(&rt).iter(|| async {
                runtime
                    .call(ToolCall::new("bench.noop", b::valid_arguments()))
                    .await
                    .expect("allowed")
            });
        });
    }
    group.finish();
}

criterion_group!(benches, decision, pipeline);
criterion_main!(benches);
