//! Fixtures and scenarios shared by the criterion suites and by the
//! instruction-count gate (`cargo xtask bench-gate`).
#![deny(missing_docs)]

pub mod market;
pub mod mcp;
pub mod wasm;

use std::sync::Arc;

use rustchain_tools::{
    BehaviorHints, Runtime, StackConfig, Tool, ToolCall, ToolContext, ToolError, ToolExecutor,
    ToolInfo, TypedTool, async_trait, prelude::RuntimeBuilderExt,
};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

/// A tool that does nothing with its three arguments, so a benchmark of a
/// call measures the framework alone.
pub struct NoOp;

/// The three arguments of [`NoOp`]: a bounded string, a ranged integer and a
/// flag, the shape of a typical small tool call.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoOpParams {
    /// A search text.
    #[schemars(length(min = 1, max = 256))]
    pub query: String,
    /// How many results.
    #[schemars(range(min = 1, max = 100))]
    pub limit: u32,
    /// Whether to explain.
    #[serde(default)]
    pub verbose: bool,
}

#[async_trait]
impl Tool for NoOp {
    type Params = NoOpParams;
    type Output = ();

    fn info(&self) -> ToolInfo {
        ToolInfo::new("bench.noop", "1.0.0")
            .description("Does nothing.")
            .hints(BehaviorHints::PURE)
    }

    async fn run(&self, _: NoOpParams, _: &ToolContext) -> Result<(), ToolError> {
        Ok(())
    }
}

/// The no-op tool behind validation, limits and the deadline (the default
/// stack without its policy and audit layers, which have benchmarks of
/// their own).
pub fn runtime() -> Runtime {
    Runtime::builder()
        .tool(NoOp)
        .layers(
            StackConfig::default()
                .insecure_no_policy()
                .insecure_no_audit(),
        )
        .build()
        .expect("the no-op tool registers")
}

/// The no-op tool with no layers at all: the base the limits layer's cost is
/// measured against.
pub fn bare_runtime() -> Runtime {
    Runtime::builder()
        .tool(NoOp)
        .build()
        .expect("the no-op tool registers")
}

/// The no-op tool behind the limits layer alone, with its default
/// configuration (64 slots).
pub fn limits_runtime() -> Runtime {
    Runtime::builder()
        .tool(NoOp)
        .layer(
            rustchain_tools::sandbox::LimitsLayer::new(Default::default())
                .expect("the default limits are usable"),
        )
        .build()
        .expect("the no-op tool registers")
}

/// The no-op tool erased, to call without any pipeline.
pub fn bare_tool() -> Arc<dyn ToolExecutor> {
    Arc::new(TypedTool::new(NoOp).expect("the no-op tool registers"))
}

/// A read-only tool that reads files below `/data` (it only says so).
pub fn file_tool() -> Arc<dyn ToolExecutor> {
    Arc::new(TypedTool::new(ReadFile).expect("the file tool registers"))
}

/// A principal with the shipped `analyst` role, which reads below `/data`.
pub fn analyst() -> rustchain_tools::Principal {
    rustchain_tools::Principal {
        id: "bench".into(),
        roles: vec!["analyst".into()],
    }
}

/// The tool behind [`file_tool`].
pub struct ReadFile;

/// The parameters of [`ReadFile`].
#[derive(Deserialize, JsonSchema)]
pub struct ReadParams {
    /// A path below the root.
    pub path: String,
}

#[async_trait]
impl Tool for ReadFile {
    type Params = ReadParams;
    type Output = ();

    fn info(&self) -> ToolInfo {
        ToolInfo::new("bench.read", "1.0.0")
            .category("file")
            .permissions(rustchain_tools::Permissions {
                file_read: vec!["/data".into()],
                ..rustchain_tools::Permissions::default()
            })
            .hints(BehaviorHints::PURE)
    }

    async fn run(&self, _: ReadParams, _: &ToolContext) -> Result<(), ToolError> {
        Ok(())
    }
}

/// Three valid arguments.
pub fn valid_arguments() -> Value {
    json!({"query": "rust tool frameworks", "limit": 10, "verbose": true})
}

/// Three arguments with two violations (a range and a type).
pub fn invalid_arguments() -> Value {
    json!({"query": "rust tool frameworks", "limit": 500, "verbose": "yes"})
}

/// One call of the no-op tool.
pub fn call(arguments: Value) -> ToolCall {
    ToolCall::new("bench.noop", arguments)
}

/// One call straight to the tool, no pipeline: the floor the pipeline's
/// added cost is measured against.
pub async fn direct(tool: &Arc<dyn ToolExecutor>) {
    tool.execute(valid_arguments(), ToolContext::new("bench"))
        .await
        .expect("valid arguments");
}

/// One valid call through the pipeline.
pub async fn pipeline_valid(runtime: &Runtime) {
    runtime
        .call(call(valid_arguments()))
        .await
        .expect("valid arguments");
}

/// One invalid call through the pipeline, refused by validation.
pub async fn pipeline_invalid(runtime: &Runtime) {
    runtime
        .call(call(invalid_arguments()))
        .await
        .expect_err("invalid arguments");
}

/// The compiled input schema of the no-op tool, for validating without the
/// pipeline.
pub fn noop_validator() -> rustchain_tools::schema::CompiledSchema {
    rustchain_tools::schema::CompiledSchema::compile(
        &rustchain_tools::schema::derive_input_schema::<NoOpParams>(),
    )
    .expect("the no-op schema compiles")
}

/// A large tool definition: 200 properties of every common kind, nested
/// objects, optional fields, formats and defaults, as big tools have.
pub fn large_definition() -> rustchain_tools::schema::export::ToolDefinition {
    let mut properties = serde_json::Map::new();
    for i in 0..200 {
        let schema = match i % 5 {
            0 => {
                json!({"type": "string", "format": "uri", "maxLength": 200, "description": "A link."})
            }
            1 => json!({"type": "integer", "minimum": 0, "default": 1}),
            2 => json!({"enum": ["a", "b", "c"]}),
            3 => json!({"type": "array", "items": {"type": "string"}, "uniqueItems": true}),
            _ => {
                json!({"type": "object", "properties": {"x": {"type": "number"}, "y": {"$ref": "#/$defs/point"}}})
            }
        };
        properties.insert(format!("field_{i}"), schema);
    }
    rustchain_tools::schema::export::ToolDefinition {
        name: "bench.large".to_owned(),
        title: None,
        description: "A large tool.".to_owned(),
        input_schema: json!({
            "type": "object",
            "properties": properties,
            "required": ["field_0", "field_1"],
            "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}}}}
        }),
        output_schema: None,
        annotations: None,
    }
}

/// `callers` tasks calling at once, each one valid call, on the current
/// runtime; returns when all are done.
pub async fn concurrent(runtime: &Runtime, callers: usize) {
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let runtime = runtime.clone();
            tokio::spawn(async move { pipeline_valid(&runtime).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("caller task");
    }
}

/// A registry holding the 4,053 tools of `shared/retrieval/corpus.jsonl`,
/// lexical search only (so that instruction counts do not depend on whether
/// the embedding model is installed), in a fresh temporary directory.
pub fn corpus_registry() -> (rustchain_tools::registry::Registry, std::path::PathBuf) {
    use rustchain_tools::registry::{ImportOptions, Registry};
    let corpus = rustchain_tools::search::eval::retrieval_dir().join("corpus.jsonl");
    let dir = std::env::temp_dir().join(format!("bench-registry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let registry = Registry::open(&dir).expect("a registry in a temporary directory");
    let options = ImportOptions {
        sanitize_names: true,
        ..ImportOptions::default()
    };
    let report = registry
        .import_file(&corpus, &options)
        .unwrap_or_else(|e| panic!("{} imports: {e}", corpus.display()));
    assert_eq!(report.added.len(), 4053, "the whole corpus imports");
    (registry, dir)
}

/// The 4,053 tools of `shared/retrieval/corpus.jsonl` as checked manifests
/// (names sanitized, so that every one is kept), for registering.
pub fn corpus_manifests() -> Vec<rustchain_tools::registry::Manifest> {
    use rustchain_tools::registry::{ImportOptions, parse};
    let corpus = rustchain_tools::search::eval::retrieval_dir().join("corpus.jsonl");
    let text = std::fs::read_to_string(&corpus)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", corpus.display()));
    let options = ImportOptions {
        sanitize_names: true,
        ..ImportOptions::default()
    };
    let parsed = parse(&text, "corpus", &options).unwrap_or_else(|e| panic!("{e}"));
    assert!(parsed.problems.is_empty(), "the whole corpus parses");
    parsed.manifests.into_iter().map(|(_, m)| m).collect()
}

/// Requests of the kind agents send, for the search scenarios.
pub const SEARCH_QUERIES: [&str; 4] = [
    "what is the weather in Paris tomorrow",
    "convert 100 US dollars to euros",
    "find the area of a triangle with base 10 and height 5",
    "list the files in a directory",
];
