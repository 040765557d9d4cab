//! Plugins as tools: a host that loads them, and the tool each becomes.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use rustchain_tools_core::{
    BehaviorHints, Permissions, ToolContext, ToolError, ToolExecutor, ToolInfo, ToolMetadata,
    ToolOutput, async_trait,
};
use rustchain_tools_sandbox::{
    SandboxError,
    fs::{FsLimits, FsRoot},
    net::{FetchLimits, HttpFetcher, NetPolicy},
    wasm::{CallLimits, FetchGrant, Grants, HostFunction, PluginReply, WasmEngine, WasmModule},
};
use rustchain_tools_schema::CompiledSchema;
use serde_json::Value;

use crate::{PluginError, PluginManifest};

/// What a plugin's call may take when its manifest asks for no limit.
pub const DEFAULT_PLUGIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Loads plugins: the engine that compiles and runs them and what their
/// capabilities are granted against.
#[derive(Debug, Clone)]
pub struct PluginHost {
    engine: WasmEngine,
    root: PathBuf,
    net: NetPolicy,
    max_timeout: Duration,
}

impl PluginHost {
    /// A host on `engine` whose plugins' relative `readFiles` directories
    /// lie below `root` (the sandbox root) and whose fetches follow `net`.
    pub fn new(engine: WasmEngine, root: impl Into<PathBuf>, net: NetPolicy) -> PluginHost {
        PluginHost {
            engine,
            root: root.into(),
            net,
            max_timeout: Duration::from_secs(60),
        }
    }

    /// The engine.
    pub fn engine(&self) -> &WasmEngine {
        &self.engine
    }

    /// Loads the plugin whose manifest is `manifest`, its module in `dir`:
    /// the framework range, the module (imports, exports, size), the
    /// schemas and the capabilities are checked, and a plugin that fails
    /// any of them is refused with the reason.
    pub fn load(&self, manifest: &PluginManifest, dir: &Path) -> Result<PluginTool, PluginError> {
        manifest.check_framework()?;
        let plugin = manifest.name.clone();
        let rejected = |reason: String| PluginError::Rejected {
            plugin: plugin.clone(),
            reason,
        };
        let module_path = dir.join(&manifest.module);
        let bytes = std::fs::read(&module_path).map_err(|source| PluginError::Io {
            op: "reading the module",
            path: module_path.clone(),
            source,
        })?;

        let mut grants = Grants::none(&manifest.name);
        let mut requested = Vec::new();
        let mut permissions = Permissions::default();
        if manifest.capabilities.log {
            grants = grants.with_log();
            requested.push(HostFunction::Log);
        }
        if let Some(dir) = manifest.read_dir(&self.root) {
            let capability = |reason: String| PluginError::Capability {
                plugin: plugin.clone(),
                capability: format!("readFiles {}", dir.display()),
                reason,
            };
            let dir = std::fs::canonicalize(&dir).map_err(|e| capability(e.to_string()))?;
            let root =
                FsRoot::open(&dir, FsLimits::default()).map_err(|e| capability(e.to_string()))?;
            grants = grants.with_files(root);
            requested.push(HostFunction::ReadFile);
            permissions.file_read.push(dir.display().to_string());
        }
        let hosts = manifest.fetch_hosts();
        if !hosts.is_empty() {
            let fetcher =
                HttpFetcher::new(self.net.clone(), FetchLimits::default()).map_err(|e| {
                    PluginError::Capability {
                        plugin: plugin.clone(),
                        capability: "fetch".into(),
                        reason: e.to_string(),
                    }
                })?;
            permissions.network = hosts.clone();
            grants = grants.with_fetch(FetchGrant::new(&fetcher, hosts));
            requested.push(HostFunction::Fetch);
        }

        let module = self
            .engine
            .load(&manifest.name, &bytes, &requested)
            .map_err(|e| match e {
                SandboxError::WasmRejected { reason, .. } => rejected(reason),
                other => rejected(other.to_string()),
            })?;

        let fetches = !permissions.network.is_empty();
        let mut info = ToolInfo::new(&manifest.name, manifest.version.to_string())
            .description(&manifest.description)
            .category(&manifest.category)
            .tags(manifest.tags.iter().cloned())
            .permissions(permissions)
            // A plugin writes nothing (there is no host function for it); it
            // reaches the world only when it fetches.
            .hints(BehaviorHints {
                read_only: true,
                destructive: false,
                idempotent: !fetches,
                open_world: fetches,
            });
        if let Some(title) = &manifest.title {
            info = info.title(title);
        }
        let metadata = ToolMetadata::new(
            info,
            manifest.input_schema.clone(),
            manifest.output_schema.clone(),
        )
        .map_err(|e| rejected(e.to_string()))?;
        let output = manifest
            .output_schema
            .as_ref()
            .map(CompiledSchema::compile)
            .transpose()
            .map_err(|e| rejected(format!("its output schema: {e}")))?;
        let memory = manifest
            .limits
            .memory_mib
            .map(|mib| usize::try_from(mib.saturating_mul(1 << 20)).unwrap_or(usize::MAX));
        let timeout = manifest
            .limits
            .timeout_ms
            .map_or(DEFAULT_PLUGIN_TIMEOUT, Duration::from_millis)
            .min(self.max_timeout);
        Ok(PluginTool {
            inner: Arc::new(PluginInner {
                metadata,
                requested,
                module,
                grants,
                output,
                timeout,
                memory,
            }),
        })
    }
}

/// A loaded plugin as a tool: each call runs in a fresh instance on a
/// blocking thread, within the plugin's time and memory limits.
#[derive(Clone)]
pub struct PluginTool {
    inner: Arc<PluginInner>,
}

struct PluginInner {
    metadata: ToolMetadata,
    /// The host functions its capabilities grant.
    requested: Vec<HostFunction>,
    module: WasmModule,
    grants: Grants,
    output: Option<CompiledSchema>,
    timeout: Duration,
    memory: Option<usize>,
}

impl std::fmt::Debug for PluginTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginTool")
            .field("name", &self.inner.metadata.name())
            .field("module", &self.inner.module)
            .finish_non_exhaustive()
    }
}

impl PluginTool {
    /// The host functions its manifest's capabilities grant.
    pub(crate) fn requested(&self) -> &[HostFunction] {
        &self.inner.requested
    }

    /// The host functions its module imports (always among the requested).
    pub(crate) fn imports(&self) -> &[HostFunction] {
        self.inner.module.imports()
    }

    /// The plugin as an executor, to add to a runtime.
    pub fn into_executor(self) -> Arc<dyn ToolExecutor> {
        Arc::new(self)
    }
}

/// Stops the plugin when the call's future is dropped (a timeout, a
/// cancellation): the blocking thread cannot be dropped with it.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// What one call of a plugin came to, before it is a tool's result: the
/// scan counts these, [`ToolExecutor::execute`] maps them to a result.
#[derive(Debug)]
#[non_exhaustive]
pub enum PluginCall {
    /// `{"ok": RESULT}`, and the result matches the output schema.
    Ok(Value),
    /// `{"error": "MESSAGE"}`: the plugin reports a failure (with what the
    /// host refused during the call).
    Error(String),
    /// The result does not match the plugin's output schema: the reasons.
    OutputMismatch(Vec<String>),
    /// The sandbox stopped or refused the call: a trap, the memory limit,
    /// the deadline, a cancellation, no free instance, a malformed reply.
    Stopped(SandboxError),
    /// The thread the plugin ran on failed.
    HostFailure(String),
}

impl PluginTool {
    /// Runs one call in the sandbox, within the plugin's limits and the
    /// context's deadline, and says what it came to.
    pub async fn run(&self, arguments: Value, context: &ToolContext) -> PluginCall {
        self.run_measured(arguments, context).await.0
    }

    /// [`run`](Self::run), and the most memory the instance held when the
    /// sandbox got as far as a reply.
    async fn run_measured(
        &self,
        arguments: Value,
        context: &ToolContext,
    ) -> (PluginCall, Option<u64>) {
        let inner = self.inner.clone();
        let own_deadline = Instant::now() + inner.timeout;
        let deadline = context
            .deadline
            .map_or(own_deadline, |d| d.min(own_deadline));
        let cancel = Arc::new(AtomicBool::new(false));
        let _stop = StopOnDrop(cancel.clone());
        let limits = CallLimits {
            deadline: Some(deadline),
            cancel,
            max_memory_bytes: inner.memory,
        };
        let worker = inner.clone();
        let outcome = match tokio::task::spawn_blocking(move || {
            worker.module.call_json(&arguments, &worker.grants, &limits)
        })
        .await
        {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(stopped)) => return (PluginCall::Stopped(stopped), None),
            Err(e) => return (PluginCall::HostFailure(e.to_string()), None),
        };
        let memory = Some(outcome.peak_memory_bytes);
        let call = match outcome.reply {
            PluginReply::Ok(value) => {
                if let Some(schema) = &inner.output
                    && let Err(violations) = schema.validate(&value)
                {
                    PluginCall::OutputMismatch(violations.into_iter().map(|v| v.message).collect())
                } else {
                    PluginCall::Ok(value)
                }
            }
            PluginReply::Error(message) => {
                let mut text = message;
                for host_error in &outcome.host_errors {
                    text.push_str(&format!(" (host: {host_error})"));
                }
                PluginCall::Error(text)
            }
        };
        (call, memory)
    }
}

#[async_trait]
impl ToolExecutor for PluginTool {
    fn metadata(&self) -> &ToolMetadata {
        &self.inner.metadata
    }

    async fn execute(
        &self,
        arguments: Value,
        context: ToolContext,
    ) -> Result<ToolOutput, ToolError> {
        let tool = self.inner.metadata.name().to_string();
        let started = Instant::now();
        let (call, memory) = self.run_measured(arguments, &context).await;
        let measured = |output: ToolOutput| match memory {
            Some(bytes) => output.with_memory_bytes(bytes),
            None => output,
        };
        match call {
            PluginCall::Ok(value) => Ok(measured(ToolOutput::structured(value))),
            PluginCall::Error(text) => Ok(measured(ToolOutput::error(text))),
            PluginCall::OutputMismatch(reasons) => Err(ToolError::failed(
                &tool,
                format!(
                    "the plugin's result does not match its output schema: {}",
                    reasons.join("; ")
                ),
            )),
            PluginCall::HostFailure(e) => Err(ToolError::failed(
                &tool,
                format!("the plugin's thread failed: {e}"),
            )),
            PluginCall::Stopped(e) => Err(match e {
                SandboxError::WasmTimedOut { .. } => ToolError::TimedOut {
                    tool,
                    after: started.elapsed(),
                },
                SandboxError::WasmCancelled { .. } => ToolError::Cancelled { tool },
                SandboxError::WasmMemoryExceeded { .. } => ToolError::LimitExceeded {
                    tool,
                    limit: "memory".into(),
                    message: e.to_string(),
                },
                SandboxError::WasmBusy { .. } => ToolError::Busy {
                    tool,
                    reason: e.to_string(),
                },
                other => ToolError::failed(&tool, other.to_string()),
            }),
        }
    }
}
