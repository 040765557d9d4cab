//! A server in this process over the real stack, for the tests: the
//! built-in tools, a slow tool, and optionally the 10,000 tools of the
//! shared corpus (each returning its arguments), audited to a temporary log.

#![allow(dead_code)] // each test binary uses its own part

use std::{path::PathBuf, sync::Arc, time::Duration};

use rustchain_tools::{
    BehaviorHints, Catalog, Principal, Runtime, RuntimeBuilderExt, StackConfig, Tool, ToolContext,
    ToolError, ToolExecutor, ToolInfo, ToolMetadata, ToolOutput, async_trait,
    audit::{
        AuditConfig, AuditKey, AuditLayer, AuditLog, Durability, Record, log_files, read_records,
        verify,
    },
    policy::{PolicyConfig, PolicyEngine},
    registry::{Registry, sanitize_name},
};
use rustchain_tools_mcp::{Exposure, McpServer, Mode, ServerOptions};
use serde::Deserialize;
use serde_json::Value;

/// Sleeps as long as asked, awaiting, so that a deadline or a cancellation
/// stops it.
pub struct Sleep;

#[derive(Deserialize, schemars::JsonSchema)]
pub struct SleepParams {
    /// Seconds.
    pub seconds: f64,
}

#[async_trait]
impl Tool for Sleep {
    type Params = SleepParams;
    type Output = ();

    fn info(&self) -> ToolInfo {
        ToolInfo::new("test.sleep", "1.0.0")
            .description("Waits for the given number of seconds.")
            .category("test")
            .hints(BehaviorHints::PURE)
    }

    async fn run(&self, p: SleepParams, _: &ToolContext) -> Result<(), ToolError> {
        tokio::time::sleep(Duration::from_secs_f64(p.seconds.clamp(0.0, 600.0))).await;
        Ok(())
    }
}

/// A tool described by a corpus definition; it returns its arguments.
struct Echo(ToolMetadata);

#[async_trait]
impl ToolExecutor for Echo {
    fn metadata(&self) -> &ToolMetadata {
        &self.0
    }

    async fn execute(&self, arguments: Value, _: ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::structured(arguments))
    }
}

/// The corpus tools as executors, named by their sanitized ids (unique).
pub fn corpus_tools(limit: usize) -> Vec<Arc<dyn ToolExecutor>> {
    let path = rustchain_tools::registry::retrieval_dir().join("corpus_10k.jsonl");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    text.lines()
        .take(limit)
        .filter_map(|line| {
            let tool: Value = serde_json::from_str(line).ok()?;
            let name = sanitize_name(tool["id"].as_str()?);
            let info = ToolInfo::new(name, "1.0.0")
                .description(tool["description"].as_str().unwrap_or_default())
                .category("corpus")
                .hints(BehaviorHints::PURE);
            let schema = tool["parameters"].clone();
            let metadata = ToolMetadata::new(info, schema, None).ok()?;
            Some(Arc::new(Echo(metadata)) as Arc<dyn ToolExecutor>)
        })
        .collect()
}

/// A server and what the test reads afterwards.
pub struct TestServer {
    pub server: McpServer,
    pub log: AuditLog,
    pub log_path: PathBuf,
    pub key: AuditKey,
    pub dir: tempfile::TempDir,
}

impl TestServer {
    /// The audit log's records after closing it, once it verified.
    pub fn records(self) -> Vec<Record> {
        let TestServer {
            server,
            log,
            log_path,
            key,
            dir,
        } = self;
        drop(server);
        log.close().expect("the log closes");
        let files = log_files(&log_path).unwrap();
        verify(&files, &key.verifier()).expect("the audit log verifies");
        let records = read_records(&files).unwrap();
        drop(dir);
        records
    }
}

/// A server over the built-ins, [`Sleep`] and `extra` tools.
pub fn server(extra: Vec<Arc<dyn ToolExecutor>>, mode: Mode, page_size: usize) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("audit.jsonl");
    let key = AuditKey::generate("test.mcp").unwrap();
    let mut config = AuditConfig::new(&log_path, key.clone());
    config.durability = Durability::None;
    let log = AuditLog::open(config).unwrap();
    let policy = PolicyConfig::new();
    let runtime = extra
        .into_iter()
        .fold(Runtime::builder().builtins().tool(Sleep), |b, t| {
            b.executor(t)
        })
        .layers(
            StackConfig::default()
                .policy(policy.clone())
                .audit_layer(AuditLayer::new(log.clone(), b"test")),
        )
        .build()
        .unwrap();
    let registry = Arc::new(Registry::open(&dir.path().join("registry")).unwrap());
    let catalog = Catalog::open(runtime, registry).unwrap();
    let server = McpServer::new(
        catalog,
        ServerOptions {
            principal: Principal::local(),
            exposure: Exposure::all(mode),
            probe: Some(PolicyEngine::load(&policy).unwrap()),
            audit: Some(log.clone()),
            page_size,
        },
    );
    TestServer {
        server,
        log,
        log_path,
        key,
        dir,
    }
}
