//! The audit record of calls through the whole stack: every step of a call
//! (received, the policy's decision with its revision, started, the outcome)
//! in order, for allowed and for denied calls.

use rustchain_tools::{
    Principal, Runtime, RuntimeBuilderExt, StackConfig, ToolCall,
    audit::{AuditConfig, AuditKey, AuditLayer, AuditLog, RecordKind, log_files, read_records},
    policy::{PolicyConfig, PolicyEngine},
};
use serde_json::{Value, json};

fn audited_runtime(log: &AuditLog) -> Runtime {
    Runtime::builder()
        .builtins()
        .layers(
            StackConfig::default()
                .audit_layer(AuditLayer::new(log.clone(), b"redaction key"))
                .policy(PolicyConfig::new()),
        )
        .build()
        .unwrap()
}

fn steps(records: &[rustchain_tools::audit::Record], call_id: &str) -> Vec<(RecordKind, Value)> {
    records
        .iter()
        .filter(|r| r.payload.get("callId").and_then(Value::as_str) == Some(call_id))
        .map(|r| (r.kind, r.payload.clone()))
        .collect()
}

#[tokio::test]
async fn every_step_of_a_call_is_recorded_in_order_with_the_policy_revision() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(AuditConfig::new(
        &path,
        AuditKey::generate("test.audit").unwrap(),
    ))
    .unwrap();
    let rt = audited_runtime(&log);

    rt.call(ToolCall::new("text.word_count", json!({"text": "a b c"})).with_id("allowed"))
        .await
        .unwrap();
    let denied = ToolCall::new("text.word_count", json!({"text": "a"}))
        .with_id("denied")
        .with_principal(Principal {
            id: "stranger".into(),
            roles: vec![],
        });
    rt.call(denied).await.unwrap_err();
    log.close().unwrap();

    let records = read_records(&log_files(&path).unwrap()).unwrap();
    let revision = PolicyEngine::load(&PolicyConfig::new())
        .unwrap()
        .revision()
        .to_owned();

    // The policy is recorded once, when its first decision is made.
    let loaded: Vec<&Value> = records
        .iter()
        .filter(|r| r.kind == RecordKind::PolicyLoaded)
        .map(|r| &r.payload)
        .collect();
    assert_eq!(loaded.len(), 1, "{loaded:?}");
    assert_eq!(loaded[0]["revision"], revision);

    let allowed = steps(&records, "allowed");
    let kinds: Vec<RecordKind> = allowed.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Received,
            RecordKind::Decided,
            RecordKind::Started,
            RecordKind::Finished
        ]
    );
    let decided = &allowed[1].1;
    assert_eq!(decided["allowed"], true);
    assert_eq!(decided["policy"], revision);
    assert_eq!(revision.len(), 16);

    let denied = steps(&records, "denied");
    let kinds: Vec<RecordKind> = denied.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::Received,
            RecordKind::Decided,
            RecordKind::Denied
        ]
    );
    assert_eq!(denied[1].1["allowed"], false);
    assert!(
        denied[1].1["reasons"]
            .as_array()
            .is_some_and(|r| !r.is_empty()),
        "{}",
        denied[1].1
    );
}

#[test]
fn the_revision_names_the_exact_policy() {
    let plain = PolicyEngine::load(&PolicyConfig::new()).unwrap();
    let again = PolicyEngine::load(&PolicyConfig::new()).unwrap();
    let sox = PolicyEngine::load(&PolicyConfig::new().profile("sox")).unwrap();
    let extra = PolicyEngine::load(
        &PolicyConfig::new().file("extra.rego", "package rustchain.authz\nimport rego.v1\n"),
    )
    .unwrap();
    assert_eq!(plain.revision(), again.revision());
    assert_ne!(plain.revision(), sox.revision());
    assert_ne!(plain.revision(), extra.revision());
}
