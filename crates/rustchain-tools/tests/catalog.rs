//! One set of tools: the runtime's tools are registered in the registry
//! search uses, imported definitions are found but not called, and a tool
//! whose definition changed under its version is refused and the refusal
//! recorded.

use std::sync::Arc;

use rustchain_tools::{
    Catalog, Runtime, RuntimeBuilderExt, StackConfig, ToolCall, ToolError,
    audit::{AuditConfig, AuditKey, AuditLayer, AuditLog, RecordKind, log_files, read_records},
    registry::{Filters, ImportOptions, Registry},
};
use serde_json::json;

fn runtime(log: &AuditLog) -> Runtime {
    Runtime::builder()
        .builtins()
        .layers(StackConfig::default().audit_layer(AuditLayer::new(log.clone(), b"k")))
        .build()
        .unwrap()
}

#[tokio::test]
async fn search_finds_the_callable_tools_and_refuses_definitions_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(AuditConfig::new(&path, AuditKey::generate("t").unwrap())).unwrap();
    let registry = Arc::new(Registry::open(&dir.path().join("registry")).unwrap());
    registry
        .import_str(
            r#"{"name": "weather.get", "description": "Current weather for a city.", "inputSchema": {"type": "object"}}"#,
            "inline",
            &ImportOptions::default(),
        )
        .unwrap();
    registry.save().unwrap();

    let catalog = Catalog::open(runtime(&log), registry.clone()).unwrap();
    assert!(catalog.changed().is_empty());
    let hits = catalog
        .search("the sha256 hash of a text", &Filters::none(), 3)
        .unwrap();
    assert_eq!(hits[0].result.name, "text.sha256");
    assert!(hits[0].callable);
    let hits = catalog
        .search("weather in a city", &Filters::none(), 1)
        .unwrap();
    assert_eq!(hits[0].result.name, "weather.get");
    assert!(!hits[0].callable);

    let error = catalog
        .call(ToolCall::new("weather.get", json!({})).with_id("definition-only"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ToolError::NoImplementation { .. }),
        "{error}"
    );
    let ok = catalog
        .call(ToolCall::new("text.sha256", json!({"text": "a"})))
        .await
        .unwrap();
    assert!(!ok.is_error);

    // Opening again registers nothing new: the definitions are the same.
    let tools = registry.snapshot().len();
    let again = Catalog::open(catalog.runtime().clone(), registry.clone()).unwrap();
    assert!(again.changed().is_empty());
    assert_eq!(registry.snapshot().len(), tools);
    drop((catalog, again));
    log.close().unwrap();
    let refused: Vec<_> = read_records(&log_files(&path).unwrap())
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RecordKind::Refused)
        .collect();
    assert_eq!(refused.len(), 1);
    assert_eq!(refused[0].payload["error"]["error"], "no_implementation");
}

#[tokio::test]
async fn a_definition_changed_under_its_version_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(AuditConfig::new(&path, AuditKey::generate("t").unwrap())).unwrap();
    let registry = Arc::new(Registry::open(&dir.path().join("registry")).unwrap());
    // What an earlier build of the program published as text.sha256 1.0.0.
    registry
        .import_str(
            r#"{"name": "text.sha256", "version": "1.0.0", "description": "An older text.", "inputSchema": {"type": "object"}}"#,
            "inline",
            &ImportOptions::default(),
        )
        .unwrap();
    let catalog = Catalog::open(runtime(&log), registry).unwrap();
    let [change] = catalog.changed() else {
        panic!("{:?}", catalog.changed())
    };
    assert_eq!(change.name, "text.sha256");
    assert_ne!(change.pinned, change.offered);
    assert!(!catalog.is_callable("text.sha256", &change.version));
    let hits = catalog.search("sha256", &Filters::none(), 1).unwrap();
    assert!(!hits[0].callable);
    let error = catalog
        .call(ToolCall::new("text.sha256", json!({"text": "a"})))
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("its definition changed under version 1.0.0"),
        "{error}"
    );
    // The other tools are not affected.
    catalog
        .call(ToolCall::new("text.word_count", json!({"text": "a"})))
        .await
        .unwrap();
}
