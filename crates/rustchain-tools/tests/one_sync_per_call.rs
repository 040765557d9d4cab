//! Through the whole secure stack, an audited call waits for one
//! group-committed sync: its received, decided and started records are
//! written ahead and brought to storage by its outcome's sync.

use rustchain_tools::{
    Runtime, RuntimeBuilderExt, StackConfig, ToolCall,
    audit::{AuditConfig, AuditKey, AuditLayer, AuditLog, Durability, log_files, verify},
};
use serde_json::json;

#[tokio::test]
async fn sequential_calls_cost_one_sync_each() {
    let dir = tempfile::tempdir().unwrap();
    let key = AuditKey::generate("test.sync").unwrap();
    let path = dir.path().join("audit.jsonl");
    let mut config = AuditConfig::new(&path, key.clone());
    config.durability = Durability::Group;
    let log = AuditLog::open(config).unwrap();
    let runtime = Runtime::builder()
        .builtins()
        .layers(StackConfig::default().audit_layer(AuditLayer::new(log.clone(), b"test")))
        .build()
        .unwrap();
    let before = log.sync_count();
    for i in 0..100 {
        let result = runtime
            .call(ToolCall::new(
                "text.sha256",
                json!({"text": format!("{i}")}),
            ))
            .await
            .unwrap();
        assert!(!result.is_error);
    }
    let syncs = log.sync_count() - before;
    // Two per call would be 200; the policy's first load adds a record.
    assert!((100..=105).contains(&syncs), "100 calls took {syncs} syncs");
    drop(runtime);
    log.close().unwrap();
    verify(&log_files(&path).unwrap(), &key.verifier()).unwrap();
}
