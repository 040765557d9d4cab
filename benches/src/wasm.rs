//! WASM plugins: the echo example's per-call cost in the engine, and the
//! JSON transformer example against the same logic as a native tool.

use std::{path::Path, sync::Arc};

use rustchain_tools::{
    ToolContext, ToolError, ToolExecutor, ToolInfo, ToolMetadata, ToolOutput, async_trait,
    plugins::{PluginHost, PluginManifest, PluginTool},
    sandbox::{
        net::NetPolicy,
        wasm::{CallLimits, Grants, PluginReply, WasmConfig, WasmEngine, WasmModule},
    },
};
use serde_json::{Value, json};

/// The example plugins, as written in the docs.
const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/plugins");

/// The echo example, compiled, with its (empty) grants, on an engine with
/// `instances` pooled instance slots (valgrind, which the gate runs under,
/// cannot reserve the default pool's address space).
pub fn echo_module(instances: u32) -> (WasmModule, Grants) {
    let engine = WasmEngine::new(WasmConfig {
        max_instances: instances,
        ..WasmConfig::default()
    })
    .expect("engine");
    let wat = std::fs::read(format!("{EXAMPLES}/echo/plugin.wat")).expect("echo example");
    let module = engine.load("example.echo", &wat, &[]).expect("echo loads");
    (module, Grants::none("example.echo"))
}

/// One echo call in a fresh instance: instantiate, copy in, run, copy out,
/// parse the reply.
pub fn echo_call(module: &WasmModule, grants: &Grants, limits: &CallLimits) {
    let outcome = module
        .call(br#"{"message":"hello"}"#, grants, limits)
        .expect("echo runs");
    assert!(matches!(outcome.reply, PluginReply::Ok(_)));
}

/// The JSON transformer example, compiled, with `log` granted.
pub fn json_upper_module() -> (WasmModule, Grants) {
    let engine = WasmEngine::new(WasmConfig::default()).expect("engine");
    let wat = std::fs::read(format!("{EXAMPLES}/json-upper/plugin.wat")).expect("example");
    let module = engine
        .load(
            "example.json_upper",
            &wat,
            &[rustchain_tools::sandbox::wasm::HostFunction::Log],
        )
        .expect("json-upper loads");
    (module, Grants::none("example.json_upper").with_log())
}

/// The JSON transformer example loaded as a tool.
pub fn json_upper_plugin() -> PluginTool {
    let dir = Path::new(EXAMPLES).join("json-upper");
    let manifest = PluginManifest::read(&dir.join("plugin.json")).expect("manifest");
    let engine = WasmEngine::new(WasmConfig::default()).expect("engine");
    PluginHost::new(engine, std::env::temp_dir(), NetPolicy::default())
        .load(&manifest, &dir)
        .expect("json-upper loads")
}

/// The same logic as the JSON transformer plugin, as a native tool: the
/// ASCII letters of every string value upper-cased, keys kept.
pub struct NativeJsonUpper {
    metadata: ToolMetadata,
}

impl NativeJsonUpper {
    /// The tool, with the plugin's schemas.
    pub fn new() -> NativeJsonUpper {
        let manifest = PluginManifest::read(&Path::new(EXAMPLES).join("json-upper/plugin.json"))
            .expect("manifest");
        let metadata = ToolMetadata::new(
            ToolInfo::new("native.json_upper", "1.0.0"),
            manifest.input_schema,
            manifest.output_schema,
        )
        .expect("metadata");
        NativeJsonUpper { metadata }
    }
}

impl Default for NativeJsonUpper {
    fn default() -> Self {
        NativeJsonUpper::new()
    }
}

fn upper_values(value: &mut Value) {
    match value {
        Value::String(s) => s.make_ascii_uppercase(),
        Value::Array(items) => items.iter_mut().for_each(upper_values),
        Value::Object(map) => map.values_mut().for_each(upper_values),
        _ => {}
    }
}

#[async_trait]
impl ToolExecutor for NativeJsonUpper {
    fn metadata(&self) -> &ToolMetadata {
        &self.metadata
    }

    async fn execute(&self, mut arguments: Value, _: ToolContext) -> Result<ToolOutput, ToolError> {
        upper_values(&mut arguments);
        Ok(ToolOutput::structured(arguments))
    }
}

/// A document of about 2 KB: records with names, tags and numbers.
pub fn document() -> Value {
    let records: Vec<Value> = (0..20)
        .map(|i| json!({"id": i, "name": format!("record number {i}"), "tags": ["alpha", "beta"], "ok": i % 2 == 0}))
        .collect();
    json!({"document": {"title": "a small report", "records": records}})
}

/// Runs `tool` on `arguments` as the pipeline's innermost step does.
pub async fn execute(tool: &Arc<dyn ToolExecutor>, arguments: &Value) -> ToolOutput {
    tool.execute(arguments.clone(), ToolContext::new("bench"))
        .await
        .expect("runs")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn the_plugin_and_the_native_tool_agree() {
        let plugin: Arc<dyn ToolExecutor> = json_upper_plugin().into_executor();
        let native: Arc<dyn ToolExecutor> = Arc::new(NativeJsonUpper::new());
        let document = document();
        let from_plugin = execute(&plugin, &document).await;
        let from_native = execute(&native, &document).await;
        assert_eq!(from_plugin.structured, from_native.structured);
        assert_eq!(
            from_native.structured.unwrap()["document"]["records"][3]["name"],
            "RECORD NUMBER 3"
        );
    }
}
