//! Calls the runtime refuses before any layer runs (no such tool, no
//! matching version) are recorded when the stack has an audit layer, and
//! the log still verifies.

use rustchain_tools::{
    Runtime, RuntimeBuilderExt, StackConfig, ToolCall, ToolError,
    audit::{
        AuditConfig, AuditKey, AuditLayer, AuditLog, RecordKind, log_files, read_records, verify,
    },
};
use serde_json::{Value, json};

#[tokio::test]
async fn refusals_before_the_layers_are_recorded_and_the_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let key = AuditKey::generate("test.audit").unwrap();
    let log = AuditLog::open(AuditConfig::new(&path, key.clone())).unwrap();
    let runtime = Runtime::builder()
        .builtins()
        .layers(StackConfig::default().audit_layer(AuditLayer::new(log.clone(), b"redaction key")))
        .build()
        .unwrap();

    let unknown = runtime
        .call(ToolCall::new("text.word_cont", json!({"text": "a secret"})).with_id("unknown-call"))
        .await
        .unwrap_err();
    assert!(
        matches!(unknown, ToolError::UnknownTool { .. }),
        "{unknown}"
    );
    let old = runtime
        .call(
            ToolCall::new("text.word_count", json!({"text": "a"}))
                .with_id("old-call")
                .with_version("^9".parse().unwrap()),
        )
        .await
        .unwrap_err();
    assert!(matches!(old, ToolError::NoMatchingVersion { .. }), "{old}");
    // A call that resolves still goes through the layers, recorded as before.
    runtime
        .call(ToolCall::new("text.word_count", json!({"text": "a b"})).with_id("known-call"))
        .await
        .unwrap();
    drop(runtime);
    log.close().unwrap();

    let files = log_files(&path).unwrap();
    verify(&files, &key.verifier()).unwrap();
    let records = read_records(&files).unwrap();
    let of = |id: &str| -> Vec<(RecordKind, Value)> {
        records
            .iter()
            .filter(|r| r.payload["callId"] == id)
            .map(|r| (r.kind, r.payload.clone()))
            .collect()
    };

    let unknown = of("unknown-call");
    assert_eq!(unknown.len(), 1, "{unknown:?}");
    let (kind, payload) = &unknown[0];
    assert_eq!(*kind, RecordKind::Refused);
    assert_eq!(payload["tool"], "text.word_cont");
    assert_eq!(payload["version"], Value::Null);
    assert_eq!(payload["error"]["error"], "unknown_tool", "{payload}");
    assert!(
        payload["error"]["suggestions"]
            .as_array()
            .is_some_and(|s| s.contains(&json!("text.word_count"))),
        "{payload}"
    );
    // No schema says what is sensitive: the arguments are a keyed digest.
    assert!(
        payload["arguments"]
            .as_str()
            .is_some_and(|a| a.starts_with("hmac-sha256:")),
        "{payload}"
    );
    assert!(!payload.to_string().contains("a secret"));
    assert!(
        payload["message"]
            .as_str()
            .is_some_and(|m| m.contains("text.word_cont")),
        "{payload}"
    );

    let old = of("old-call");
    assert_eq!(old.len(), 1, "{old:?}");
    assert_eq!(old[0].0, RecordKind::Refused);
    assert_eq!(old[0].1["tool"], "text.word_count");
    assert_eq!(old[0].1["version"], "^9");
    assert_eq!(
        old[0].1["error"]["error"], "no_matching_version",
        "{}",
        old[0].1
    );

    let known: Vec<RecordKind> = of("known-call").into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        known,
        [
            RecordKind::Received,
            RecordKind::Decided,
            RecordKind::Started,
            RecordKind::Finished
        ]
    );
}
