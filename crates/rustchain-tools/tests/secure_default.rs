//! The default stack is the secure one: with nothing configured, every call
//! is decided by the default policy and recorded in the data directory's
//! audit log; policy and audit go only when asked for by name.
//!
//! One test per file: it sets the data directory for the whole process.

use rustchain_tools::{
    DEFAULT_AUDIT_FILE, Principal, Runtime, RuntimeBuilderExt, StackConfig, ToolCall, ToolError,
    audit::{RecordKind, VerifierKey, log_files, read_records, verifier_path, verify},
    data_dir,
};
use serde_json::json;

fn stranger(tool: &str) -> ToolCall {
    ToolCall::new(tool, json!({"text": "a"})).with_principal(Principal {
        id: "stranger".into(),
        roles: vec![],
    })
}

#[tokio::test]
async fn with_nothing_configured_calls_are_decided_and_recorded() {
    let home = tempfile::tempdir().unwrap();
    // SAFETY: the only test of this binary, and nothing else runs yet.
    unsafe { std::env::set_var("RUSTCHAIN_TOOLS_DATA_DIR", home.path()) };
    assert_eq!(data_dir().as_deref(), Some(home.path()));

    let runtime = Runtime::builder()
        .builtins()
        .default_layers()
        .build()
        .unwrap();
    let allowed = runtime
        .call(ToolCall::new("text.sha256", json!({"text": "a"})).with_id("allowed"))
        .await
        .unwrap();
    assert!(!allowed.is_error);
    // A principal without a role is denied: default deny.
    let denied = runtime
        .call(stranger("text.sha256").with_id("denied"))
        .await
        .unwrap_err();
    assert!(matches!(denied, ToolError::Denied { .. }), "{denied}");
    drop(runtime);

    let log = home.path().join(DEFAULT_AUDIT_FILE);
    let verifier = std::fs::read_to_string(verifier_path(&log)).unwrap();
    let verifier = VerifierKey::parse(verifier.trim()).unwrap();
    let files = log_files(&log).unwrap();
    verify(&files, &verifier).unwrap();
    let records = read_records(&files).unwrap();
    let kinds_of = |id: &str| -> Vec<RecordKind> {
        records
            .iter()
            .filter(|r| r.payload["callId"] == id)
            .map(|r| r.kind)
            .collect()
    };
    assert_eq!(
        kinds_of("allowed"),
        [
            RecordKind::Received,
            RecordKind::Decided,
            RecordKind::Started,
            RecordKind::Finished
        ]
    );
    assert_eq!(
        kinds_of("denied"),
        [
            RecordKind::Received,
            RecordKind::Decided,
            RecordKind::Denied
        ]
    );

    // Opting out takes the names; then the stranger's call runs unrecorded.
    let insecure = Runtime::builder()
        .builtins()
        .layers(
            StackConfig::default()
                .insecure_no_policy()
                .insecure_no_audit(),
        )
        .build()
        .unwrap();
    let before = read_records(&log_files(&log).unwrap()).unwrap().len();
    insecure.call(stranger("text.sha256")).await.unwrap();
    drop(insecure);
    assert_eq!(
        read_records(&log_files(&log).unwrap()).unwrap().len(),
        before
    );
}
