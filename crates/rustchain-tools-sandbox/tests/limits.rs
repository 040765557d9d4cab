//! The limits layer through a real pipeline: slots, bounded waits, per-tool
//! limits, timeouts, memory refusal, and a load test of 10,000 calls.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use rustchain_tools_core::{
    DeadlineLayer, Runtime, Tool, ToolCall, ToolContext, ToolError, ToolInfo, ValidationLayer,
    async_trait,
};
use rustchain_tools_sandbox::{LimitsConfig, LimitsLayer, ToolLimits};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, JsonSchema)]
struct SleepParams {
    ms: u64,
}

/// Sleeps and counts how many of its calls run at once.
struct Sleep {
    name: &'static str,
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

#[async_trait]
impl Tool for Sleep {
    type Params = SleepParams;
    type Output = u64;

    fn info(&self) -> ToolInfo {
        ToolInfo::new(self.name, "1.0.0").description("Sleeps.")
    }

    async fn run(&self, p: SleepParams, _ctx: &ToolContext) -> Result<u64, ToolError> {
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(now, Ordering::SeqCst);
        // Counted down on drop too: a call stopped by its deadline is dropped mid-sleep.
        let _running = Running(self.running.clone());
        tokio::time::sleep(Duration::from_millis(p.ms)).await;
        Ok(p.ms)
    }
}

struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Counters {
    running: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

fn sleep_tool(name: &'static str) -> (Sleep, Counters) {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    (
        Sleep {
            name,
            running: running.clone(),
            most: most.clone(),
        },
        Counters { running, most },
    )
}

fn runtime(limits: &LimitsLayer, tools: Vec<Sleep>) -> Arc<Runtime> {
    let builder = tools.into_iter().fold(Runtime::builder(), |b, t| b.tool(t));
    Arc::new(
        builder
            .layer(ValidationLayer::new())
            .layer(limits.clone())
            .layer(DeadlineLayer::new())
            .build()
            .unwrap(),
    )
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_calls_against_64_slots_all_finish_or_are_refused() {
    let limits = LimitsLayer::new(LimitsConfig {
        max_concurrent: 64,
        max_wait_ms: 25,
        ..LimitsConfig::default()
    })
    .unwrap();
    let (tool, counters) = sleep_tool("sleep");
    let rt = runtime(&limits, vec![tool]);
    let calls: Vec<_> = (0..10_000)
        .map(|_| {
            let rt = rt.clone();
            tokio::spawn(async move { rt.call(ToolCall::new("sleep", json!({"ms": 10}))).await })
        })
        .collect();
    let (mut finished, mut busy) = (0u64, 0u64);
    for call in calls {
        match call.await.expect("no call panics") {
            Ok(result) => {
                assert_eq!(result.structured, Some(json!(10)));
                finished += 1;
            }
            Err(ToolError::Busy { reason, .. }) => {
                assert!(reason.contains("all 64 slots"), "{reason}");
                busy += 1;
            }
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(finished + busy, 10_000);
    assert!(finished >= 64, "at least the first 64 ran: {finished}");
    assert!(busy > 0, "a 25 ms wait cannot serve 10,000 calls of 10 ms");
    assert!(counters.most.load(Ordering::SeqCst) <= 64);
    assert_eq!(counters.running.load(Ordering::SeqCst), 0);
    let stats = limits.stats();
    assert_eq!(stats.admitted, finished);
    assert_eq!(stats.refused_busy, busy);
    assert_eq!(stats.in_flight, 0);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_waits_within_the_bound_gets_a_slot() {
    let limits = LimitsLayer::new(LimitsConfig {
        max_concurrent: 1,
        max_wait_ms: 1_000,
        ..LimitsConfig::default()
    })
    .unwrap();
    let (tool, counters) = sleep_tool("sleep");
    let rt = runtime(&limits, vec![tool]);
    let first = tokio::spawn({
        let rt = rt.clone();
        async move { rt.call(ToolCall::new("sleep", json!({"ms": 100}))).await }
    });
    tokio::task::yield_now().await;
    let second = rt.call(ToolCall::new("sleep", json!({"ms": 1}))).await;
    assert!(second.is_ok(), "{second:?}");
    assert!(first.await.unwrap().is_ok());
    assert_eq!(counters.most.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn a_per_tool_limit_leaves_other_tools_free() {
    let mut tools = HashMap::new();
    tools.insert(
        "narrow".to_string(),
        ToolLimits {
            max_concurrent: Some(1),
            timeout_ms: None,
        },
    );
    let limits = LimitsLayer::new(LimitsConfig {
        max_concurrent: 8,
        max_wait_ms: 10,
        tools,
        ..LimitsConfig::default()
    })
    .unwrap();
    let (narrow, narrow_counters) = sleep_tool("narrow");
    let (wide, wide_counters) = sleep_tool("wide");
    let rt = runtime(&limits, vec![narrow, wide]);
    let mut calls = Vec::new();
    for name in ["narrow", "narrow", "wide", "wide"] {
        let rt = rt.clone();
        calls.push(tokio::spawn(async move {
            rt.call(ToolCall::new(name, json!({"ms": 100}))).await
        }));
    }
    let results: Vec<_> = futures_results(calls).await;
    let narrow_busy = results[..2]
        .iter()
        .filter(|r| matches!(r, Err(ToolError::Busy { reason, .. }) if reason.contains("`narrow`")))
        .count();
    assert_eq!(narrow_busy, 1, "{results:?}");
    assert!(results[2..].iter().all(Result::is_ok), "{results:?}");
    assert_eq!(narrow_counters.most.load(Ordering::SeqCst), 1);
    assert_eq!(wide_counters.most.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_configured_timeout_stops_a_call_and_frees_its_slot() {
    let mut tools = HashMap::new();
    tools.insert(
        "sleep".to_string(),
        ToolLimits {
            max_concurrent: None,
            timeout_ms: Some(50),
        },
    );
    let limits = LimitsLayer::new(LimitsConfig {
        max_concurrent: 1,
        tools,
        ..LimitsConfig::default()
    })
    .unwrap();
    let (tool, counters) = sleep_tool("sleep");
    let rt = runtime(&limits, vec![tool]);
    let err = rt
        .call(ToolCall::new("sleep", json!({"ms": 10_000})))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::TimedOut { .. }), "{err}");
    assert_eq!(limits.stats().in_flight, 0);
    // The slot is free again: the next call runs at once.
    assert!(
        rt.call(ToolCall::new("sleep", json!({"ms": 1})))
            .await
            .is_ok()
    );
    assert_eq!(counters.most.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn memory_over_the_soft_cap_refuses_new_calls_before_they_run() {
    let limits = LimitsLayer::new(LimitsConfig {
        memory_soft_cap_bytes: Some(1),
        ..LimitsConfig::default()
    })
    .unwrap();
    let (tool, counters) = sleep_tool("sleep");
    let rt = runtime(&limits, vec![tool]);
    let err = rt
        .call(ToolCall::new("sleep", json!({"ms": 1})))
        .await
        .unwrap_err();
    let ToolError::Busy { reason, .. } = &err else {
        panic!("expected busy, got {err}");
    };
    assert!(reason.contains("soft cap of 1"), "{reason}");
    assert_eq!(counters.most.load(Ordering::SeqCst), 0, "nothing ran");
    assert_eq!(limits.stats().refused_memory, 1);
}

#[tokio::test]
async fn invalid_calls_never_take_a_slot() {
    let limits = LimitsLayer::new(LimitsConfig::default()).unwrap();
    let (tool, _) = sleep_tool("sleep");
    let rt = runtime(&limits, vec![tool]);
    let err = rt
        .call(ToolCall::new("sleep", json!({"ms": "soon"})))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::InvalidArguments { .. }), "{err}");
    assert_eq!(limits.stats().admitted, 0);
}

async fn futures_results(
    calls: Vec<tokio::task::JoinHandle<Result<rustchain_tools_core::ToolResult, ToolError>>>,
) -> Vec<Result<rustchain_tools_core::ToolResult, ToolError>> {
    let mut out = Vec::new();
    for call in calls {
        out.push(call.await.expect("no call panics"));
    }
    out
}
