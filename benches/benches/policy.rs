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
    let reused = PolicyEngine::load(&sox).expect("the shipped policies load");
    let interpreter =
        PolicyEngine::load(&sox.clone().reuse_decisions(false)).expect("the shipped policies load");
    let vm = PolicyEngine::load(&sox.clone().reuse_decisions(false).compiled_vm(true))
        .expect("the shipped policies load");
    assert!(reused.reuses_decisions());
    let request = request();
    assert!(interpreter.decide(&request).allowed);
    assert!(vm.decide(&request).allowed);
    assert!(reused.decide(&request).allowed);
    // Calls of a file tool with 1,000 different paths, in turn: each is a
    // miss the first time, then reused.
    let reader = Arc::new(RegisteredTool::new(b::file_tool()).expect("the file tool registers"));
    let varied: Vec<ToolRequest> = (0..1000)
        .map(|i| {
            ToolRequest::new(
                ToolCall::new(
                    "bench.read",
                    serde_json::json!({"path": format!("notes/{i}.txt")}),
                )
                .with_principal(b::analyst()),
                reader.clone(),
            )
        })
        .collect();
    assert!(
        reused.decide(&varied[0]).allowed,
        "{:?}",
        reused.decide(&varied[0])
    );
    let mut group = c.benchmark_group("policy-decision");
    group.bench_function("default+sox/interpreter", |bench| {
        bench.iter(|| interpreter.decide(&request));
    });
    group.bench_function("default+sox/vm", |bench| {
        bench.iter(|| vm.decide(&request));
    });
    group.bench_function("default+sox/reused", |bench| {
        bench.iter(|| reused.decide(&request));
    });
    let mut next = 0;
    group.bench_function("default+sox/reused, 1,000 paths in turn", |bench| {
        bench.iter(|| {
            next = (next + 1) % varied.len();
            reused.decide(&varied[next])
        });
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
        (
            "validation+policy/interpreter",
            runtime(Some(sox.clone().reuse_decisions(false))),
        ),
        (
            "validation+policy/vm",
            runtime(Some(sox.clone().reuse_decisions(false).compiled_vm(true))),
        ),
        ("validation+policy/reused", runtime(Some(sox))),
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
