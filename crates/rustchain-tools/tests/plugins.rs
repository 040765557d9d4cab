//! WASM plugins as tools through the whole stack: validated, decided by
//! policy, limited, audited and found by search, next to the built-ins.
#![cfg(feature = "plugins")]

use std::{path::Path, sync::Arc, time::Duration};

use rustchain_tools::{
    Catalog, Principal, Runtime, RuntimeBuilderExt, StackConfig, ToolCall, ToolError,
    WORKSPACE_ROLE,
    audit::{AuditConfig, AuditKey, AuditLayer, AuditLog, RecordKind, log_files, read_records},
    plugins::{PluginDir, PluginHost, PluginManifest},
    policy::PolicyConfig,
    registry::{Filters, Registry},
    sandbox::{
        net::NetPolicy,
        wasm::{WasmConfig, WasmEngine},
    },
    workspace_policy,
};
use serde_json::{Value, json};

const DOCS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plugins");

struct Fixture {
    dir: tempfile::TempDir,
    log: AuditLog,
    runtime: Runtime,
}

/// A runtime with the built-ins and the plugins installed from `sources`
/// (manifest files or plugin directories), behind the default stack.
fn fixture(sources: &[&Path]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let root = std::fs::canonicalize(dir.path()).unwrap();
    std::fs::create_dir(root.join("notes")).unwrap();
    let host = PluginHost::new(
        WasmEngine::new(WasmConfig::default()).unwrap(),
        &root,
        NetPolicy::default(),
    );
    let plugins = PluginDir::new(root.join("plugins"));
    for source in sources {
        plugins.add(&host, source).unwrap();
    }
    let loaded = plugins.load(&host);
    assert!(loaded.refused.is_empty(), "{:?}", loaded.refused);
    let log = AuditLog::open(AuditConfig::new(
        root.join("audit.jsonl"),
        AuditKey::generate("test.audit").unwrap(),
    ))
    .unwrap();
    let mut builder = Runtime::builder().builtins();
    for tool in loaded.tools {
        builder = builder.executor(tool.into_executor());
    }
    let runtime = builder
        .layers(
            StackConfig::default()
                .audit_layer(AuditLayer::new(log.clone(), b"redaction key"))
                .policy(workspace_policy(PolicyConfig::new(), &root)),
        )
        .build()
        .unwrap();
    Fixture { dir, log, runtime }
}

fn records(fixture: Fixture) -> Vec<(RecordKind, Value)> {
    let path = fixture.dir.path().join("audit.jsonl");
    drop(fixture.runtime);
    fixture.log.close().unwrap();
    read_records(&log_files(&path).unwrap())
        .unwrap()
        .into_iter()
        .map(|r| (r.kind, r.payload))
        .collect()
}

/// A copy of the echo example with another manifest.
fn echo_with(dir: &Path, name: &str, edit: impl FnOnce(&mut Value)) -> std::path::PathBuf {
    let target = dir.join(name);
    std::fs::create_dir_all(&target).unwrap();
    std::fs::copy(format!("{DOCS}/echo/plugin.wat"), target.join("plugin.wat")).unwrap();
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(format!("{DOCS}/echo/plugin.json")).unwrap())
            .unwrap();
    manifest["name"] = json!(name);
    edit(&mut manifest);
    std::fs::write(target.join("plugin.json"), manifest.to_string()).unwrap();
    target
}

#[tokio::test]
async fn a_plugin_is_called_through_the_stack_and_audited() {
    let fixture = fixture(&[
        Path::new(&format!("{DOCS}/echo")),
        Path::new(&format!("{DOCS}/json-upper")),
    ]);
    let result = fixture
        .runtime
        .call(ToolCall::new("example.echo", json!({"message": "hi"})).with_id("echo-1"))
        .await
        .unwrap();
    assert_eq!(result.structured, Some(json!({"message": "hi"})));
    // The sandbox measures the instance's memory: the echo's one page.
    assert_eq!(result.memory_bytes, Some(65_536));

    let result = fixture
        .runtime
        .call(ToolCall::new(
            "example.json_upper",
            json!({"document": {"a": "shout", "b": [1, "x"]}}),
        ))
        .await
        .unwrap();
    assert_eq!(
        result.structured,
        Some(json!({"document": {"a": "SHOUT", "b": [1, "X"]}}))
    );

    // Validated against the manifest's input schema before the plugin runs.
    let error = fixture
        .runtime
        .call(ToolCall::new("example.echo", json!({"message": 7})).with_id("echo-bad"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, ToolError::InvalidArguments { .. }),
        "{error}"
    );

    let records = records(fixture);
    let kinds: Vec<RecordKind> = records
        .iter()
        .filter(|(_, p)| p.get("callId").and_then(Value::as_str) == Some("echo-1"))
        .map(|(k, _)| *k)
        .collect();
    assert_eq!(kinds.first(), Some(&RecordKind::Received));
    assert!(kinds.contains(&RecordKind::Decided));
    assert_eq!(kinds.last(), Some(&RecordKind::Finished));
    let finished = records
        .iter()
        .find(|(k, p)| *k == RecordKind::Finished && p["callId"] == "echo-1")
        .map(|(_, p)| p)
        .unwrap();
    assert_eq!(finished["memoryBytes"], 65_536, "{finished}");
}

#[tokio::test]
async fn reading_a_directory_needs_the_policy_to_grant_it() {
    let staging = tempfile::tempdir().unwrap();
    let reader = echo_with(staging.path(), "example.notes", |m| {
        m["capabilities"] = json!({"readFiles": {"dir": "notes"}});
    });
    let fixture = fixture(&[&reader]);
    let call = || ToolCall::new("example.notes", json!({"message": "x"}));

    // The local principal reads nothing but harmless tools.
    let error = fixture.runtime.call(call()).await.unwrap_err();
    let ToolError::Denied { reasons, .. } = &error else {
        panic!("expected a denial, got {error}");
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("reading") && r.contains("notes")),
        "{reasons:?}"
    );

    // The workspace role grants reading below the sandbox root.
    let workspace = Principal {
        id: "local".into(),
        roles: vec![WORKSPACE_ROLE.into()],
    };
    let result = fixture
        .runtime
        .call(call().with_principal(workspace))
        .await
        .unwrap();
    assert_eq!(result.structured, Some(json!({"message": "x"})));
}

#[tokio::test]
async fn a_runaway_plugin_times_out_and_the_runtime_keeps_serving() {
    let staging = tempfile::tempdir().unwrap();
    let spin = staging.path().join("spin");
    std::fs::create_dir(&spin).unwrap();
    std::fs::write(
        spin.join("plugin.wat"),
        r#"(module (memory (export "memory") 1)
             (func (export "alloc") (param i32) (result i32) (i32.const 1024))
             (func (export "call") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0)))"#,
    )
    .unwrap();
    std::fs::write(
        spin.join("plugin.json"),
        json!({
            "name": "test.spin", "version": "1.0.0", "description": "Spins.", "module": "plugin.wat",
            "framework": ">=0.1", "inputSchema": {"type": "object"}, "limits": {"timeoutMs": 200}
        })
        .to_string(),
    )
    .unwrap();
    let fixture = fixture(&[&spin, Path::new(&format!("{DOCS}/echo"))]);
    let error = fixture
        .runtime
        .call(ToolCall::new("test.spin", json!({})))
        .await
        .unwrap_err();
    assert!(matches!(error, ToolError::TimedOut { .. }), "{error}");
    // A shorter deadline from the call wins.
    let error = fixture
        .runtime
        .call(ToolCall::new("test.spin", json!({})).with_timeout(Duration::from_millis(50)))
        .await
        .unwrap_err();
    assert!(matches!(error, ToolError::TimedOut { .. }), "{error}");
    let result = fixture
        .runtime
        .call(ToolCall::new(
            "example.echo",
            json!({"message": "still here"}),
        ))
        .await
        .unwrap();
    assert_eq!(result.structured, Some(json!({"message": "still here"})));
}

#[tokio::test]
async fn a_result_that_breaks_the_output_schema_is_a_tool_error() {
    let staging = tempfile::tempdir().unwrap();
    let strict = echo_with(staging.path(), "test.strict", |m| {
        m["inputSchema"] = json!({"type": "object"});
        m["outputSchema"] = json!({"type": "object", "required": ["answer"]});
    });
    let fixture = fixture(&[&strict]);
    let error = fixture
        .runtime
        .call(ToolCall::new("test.strict", json!({"other": 1})))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, ToolError::Failed { message, .. } if message.contains("output schema")),
        "{error}"
    );
}

#[test]
fn a_plugin_that_fails_its_checks_is_not_installed() {
    let staging = tempfile::tempdir().unwrap();
    let root = staging.path();
    let host = PluginHost::new(
        WasmEngine::new(WasmConfig::default()).unwrap(),
        root,
        NetPolicy::default(),
    );
    let plugins = PluginDir::new(root.join("plugins"));

    let too_new = echo_with(root, "test.future", |m| m["framework"] = json!(">=9"));
    let error = plugins.add(&host, &too_new).unwrap_err();
    assert!(
        error.to_string().contains("requires RustChain Tools >=9"),
        "{error}"
    );

    let sneaky = root.join("sneaky");
    std::fs::create_dir(&sneaky).unwrap();
    std::fs::write(
        sneaky.join("plugin.wat"),
        r#"(module (import "rustchain" "fetch" (func (param i32 i32) (result i64)))
             (memory (export "memory") 1)
             (func (export "alloc") (param i32) (result i32) (i32.const 1024))
             (func (export "call") (param i32 i32) (result i64) (i64.const 0)))"#,
    )
    .unwrap();
    std::fs::write(
        sneaky.join("plugin.json"),
        json!({"name": "test.sneaky", "version": "1.0.0", "description": "d", "module": "plugin.wat",
               "framework": ">=0.1", "inputSchema": {"type": "object"}})
        .to_string(),
    )
    .unwrap();
    let error = plugins.add(&host, &sneaky.join("plugin.json")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("does not request the `fetch` capability"),
        "{error}"
    );

    let missing = echo_with(root, "test.missing", |m| {
        m["capabilities"] = json!({"readFiles": {"dir": "nowhere"}})
    });
    let error = plugins.add(&host, &missing).unwrap_err();
    assert!(error.to_string().contains("readFiles"), "{error}");

    assert!(plugins.list().unwrap().is_empty());
    let error = plugins.remove("test.sneaky").unwrap_err();
    assert!(
        error.to_string().contains("no plugin named `test.sneaky`"),
        "{error}"
    );

    plugins
        .add(&host, Path::new(&format!("{DOCS}/echo")))
        .unwrap();
    let error = plugins
        .add(&host, Path::new(&format!("{DOCS}/echo")))
        .unwrap_err();
    assert!(error.to_string().contains("installed already"), "{error}");
    let manifest = PluginManifest::read(&plugins.path().join("example.echo/plugin.json")).unwrap();
    assert_eq!(manifest.name, "example.echo");
}

#[test]
fn search_finds_a_plugin_as_a_callable_tool() {
    let fixture = fixture(&[Path::new(&format!("{DOCS}/json-upper"))]);
    let registry = Arc::new(Registry::open(&fixture.dir.path().join("registry")).unwrap());
    let catalog = Catalog::open(fixture.runtime.clone(), registry).unwrap();
    let hits = catalog
        .search(
            "uppercase the string values of a JSON document",
            &Filters::none(),
            3,
        )
        .unwrap();
    assert_eq!(hits[0].result.name, "example.json_upper");
    assert!(hits[0].callable);
}

#[test]
fn a_plugin_may_not_take_a_built_in_name() {
    let staging = tempfile::tempdir().unwrap();
    let impostor = echo_with(staging.path(), "text.word_count", |m| {
        m["version"] = json!("9.0.0")
    });
    let host = PluginHost::new(
        WasmEngine::new(WasmConfig::default()).unwrap(),
        staging.path(),
        NetPolicy::default(),
    );
    let manifest = PluginManifest::read(&impostor.join("plugin.json")).unwrap();
    let tool = host.load(&manifest, &impostor).unwrap();
    let error = Runtime::builder()
        .builtins()
        .executor(tool.into_executor())
        .build()
        .unwrap_err();
    assert!(
        error.to_string().contains("a built-in tool has this name"),
        "{error}"
    );
}
