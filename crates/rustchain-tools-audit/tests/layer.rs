//! The audit layer through a real runtime: every outcome recorded, sensitive
//! arguments digested, calls refused when the log cannot take them.

mod common;

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use common::*;
use rustchain_tools_audit::{
    AuditConfig, AuditLayer, AuditLog, Record, RecordKind, log_files, read_records, verify,
};
use rustchain_tools_core::{
    DeadlineLayer, Runtime, Tool, ToolCall, ToolContext, ToolError, ToolInfo, ValidationLayer,
    async_trait,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, JsonSchema)]
// The secrets are there to be recorded (digested), not used.
#[allow(dead_code)]
struct LoginParams {
    user: String,
    #[schemars(extend("writeOnly" = true))]
    password: String,
    #[schemars(extend("x-sensitive" = true))]
    #[serde(default)]
    pin: Option<u32>,
    #[serde(default)]
    sleep_ms: u64,
    #[serde(default)]
    fail: bool,
}

struct Login(Arc<AtomicUsize>);

#[async_trait]
impl Tool for Login {
    type Params = LoginParams;
    type Output = String;

    fn info(&self) -> ToolInfo {
        ToolInfo::new("login", "1.0.0")
    }

    async fn run(&self, p: LoginParams, _: &ToolContext) -> Result<String, ToolError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(p.sleep_ms)).await;
        if p.fail {
            return Err(ToolError::failed("login", "no such user"));
        }
        Ok(format!("welcome {}", p.user))
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
    key: rustchain_tools_audit::AuditKey,
    log: AuditLog,
    runtime: Runtime,
    runs: Arc<AtomicUsize>,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let key = key();
    let log = AuditLog::open(AuditConfig::new(&path, key.clone())).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let runtime = Runtime::builder()
        .tool(Login(runs.clone()))
        .layer(AuditLayer::new(log.clone(), b"redaction key"))
        .layer(ValidationLayer::new())
        .layer(DeadlineLayer::new())
        .build()
        .unwrap();
    Setup {
        _dir: dir,
        path,
        key,
        log,
        runtime,
        runs,
    }
}

impl Setup {
    fn finish(self) -> Vec<Record> {
        self.log.close().unwrap();
        drop(self.runtime);
        let files = log_files(&self.path).unwrap();
        verify(&files, &self.key.verifier()).unwrap();
        read_records(&files)
            .unwrap()
            .into_iter()
            .filter(|r| !matches!(r.kind, RecordKind::FileStarted | RecordKind::Checkpoint))
            .collect()
    }
}

#[tokio::test]
async fn a_successful_call_is_recorded_with_secrets_digested() {
    let s = setup();
    let args = json!({"user": "ann", "password": "hunter2", "pin": 1234});
    let result = s
        .runtime
        .call(ToolCall::new("login", args.clone()).with_id("c1"))
        .await
        .unwrap();
    s.runtime
        .call(ToolCall::new("login", args).with_id("c2"))
        .await
        .unwrap();
    let records = s.finish();
    assert_eq!(records.len(), 6);
    assert_eq!(records[1].kind, RecordKind::Started);
    assert_eq!(records[1].payload["callId"], "c1");
    let (received, finished) = (&records[0], &records[2]);
    assert_eq!(received.kind, RecordKind::Received);
    assert_eq!(received.payload["callId"], "c1");
    assert_eq!(received.payload["tool"], "login");
    assert_eq!(received.payload["principal"]["id"], "local");
    let arguments = &received.payload["arguments"];
    assert_eq!(arguments["user"], "ann");
    let digest = arguments["password"].as_str().unwrap();
    assert!(digest.starts_with("hmac-sha256:"));
    assert!(
        arguments["pin"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let everything = serde_json::to_string(&records).unwrap();
    assert!(!everything.contains("hunter2") && !everything.contains("1234"));
    // Equal values, equal digests.
    assert_eq!(records[3].payload["arguments"]["password"], digest);
    assert_eq!(finished.kind, RecordKind::Finished);
    assert_eq!(finished.payload["outcome"], "ok");
    assert_eq!(finished.payload["textBytes"], json!(result.text.len()));
    assert!(
        !everything.contains("welcome"),
        "output is not recorded by default"
    );
}

#[tokio::test]
async fn every_failure_is_recorded_with_its_kind() {
    let s = setup();
    let rt = &s.runtime;
    let bad = rt
        .call(ToolCall::new(
            "login",
            json!({"user": "ann", "password": 5}),
        ))
        .await;
    assert!(matches!(bad, Err(ToolError::InvalidArguments { .. })));
    let failed = rt
        .call(ToolCall::new(
            "login",
            json!({"user": "x", "password": "p", "fail": true}),
        ))
        .await;
    assert!(matches!(failed, Err(ToolError::Failed { .. })));
    let slow = json!({"user": "x", "password": "p", "sleep_ms": 5_000});
    let timed_out = rt
        .call(ToolCall::new("login", slow.clone()).with_timeout(Duration::from_millis(20)))
        .await;
    assert!(matches!(timed_out, Err(ToolError::TimedOut { .. })));
    let token = rustchain_tools_core::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        cancel.cancel();
    });
    let cancelled = rt
        .call(ToolCall::new("login", slow).with_cancellation(token))
        .await;
    assert!(matches!(cancelled, Err(ToolError::Cancelled { .. })));
    let records = s.finish();
    let kinds: Vec<RecordKind> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Received,
            RecordKind::Rejected,
            RecordKind::Received,
            RecordKind::Started,
            RecordKind::Failed,
            RecordKind::Received,
            RecordKind::Started,
            RecordKind::TimedOut,
            RecordKind::Received,
            RecordKind::Started,
            RecordKind::Cancelled,
        ]
    );
    let rejected = &records[1].payload["error"];
    assert_eq!(rejected["error"], "invalid_arguments");
    assert_eq!(rejected["violations"][0]["pointer"], "/password");
    // The quoted value of a sensitive argument is digested too.
    assert!(
        rejected["violations"][0]["actual"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    assert_eq!(records[4].payload["error"]["message"], "no such user");
    // Every step names its call: the records of one call follow its
    // received record.
    let mut current = None;
    for record in &records {
        if record.kind == RecordKind::Received {
            current = Some(record.payload["callId"].clone());
        }
        assert_eq!(Some(record.payload["callId"].clone()), current);
    }
}

#[tokio::test]
async fn a_call_that_cannot_be_recorded_is_refused_and_does_not_run() {
    let s = setup();
    s.log.clone().close().unwrap();
    let result = s
        .runtime
        .call(ToolCall::new(
            "login",
            json!({"user": "x", "password": "p"}),
        ))
        .await;
    match result {
        Err(ToolError::Failed { message, .. }) => {
            assert!(message.contains("cannot be audited"), "{message}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(s.runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_call_dropped_by_its_caller_is_recorded_as_cancelled() {
    let s = setup();
    let slow = ToolCall::new(
        "login",
        json!({"user": "x", "password": "p", "sleep_ms": 5_000}),
    )
    .with_id("gone");
    let runtime = s.runtime.clone();
    let call = tokio::spawn(async move { runtime.call(slow).await });
    // Once the tool runs, its received record is committed.
    while s.runs.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    call.abort();
    assert!(call.await.unwrap_err().is_cancelled());
    let records = s.finish();
    let kinds: Vec<RecordKind> = records.iter().map(|r| r.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Received,
            RecordKind::Started,
            RecordKind::Cancelled
        ]
    );
    assert_eq!(records[2].payload["callId"], "gone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_are_all_recorded() {
    let s = setup();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let rt = s.runtime.clone();
        tasks.push(tokio::spawn(async move {
            rt.call(
                ToolCall::new("login", json!({"user": format!("u{i}"), "password": "p"}))
                    .with_id(format!("c{i}")),
            )
            .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let records = s.finish();
    assert_eq!(records.len(), 600);
    for i in 0..200 {
        let id = format!("c{i}");
        let of_call: Vec<_> = records
            .iter()
            .filter(|r| r.payload["callId"] == id.as_str())
            .collect();
        let kinds: Vec<RecordKind> = of_call.iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                RecordKind::Received,
                RecordKind::Started,
                RecordKind::Finished
            ]
        );
    }
}

#[tokio::test]
async fn an_audited_call_costs_one_sync() {
    let s = setup();
    let before = s.log.sync_count();
    for i in 0..100 {
        s.runtime
            .call(
                ToolCall::new("login", json!({"user": "ann", "password": "p"}))
                    .with_id(format!("c{i}")),
            )
            .await
            .unwrap();
    }
    let syncs = s.log.sync_count() - before;
    // A checkpoint may add one now and then; two per call would be 200.
    assert!((100..=110).contains(&syncs), "100 calls took {syncs} syncs");
    assert_eq!(s.finish().len(), 300);
}
