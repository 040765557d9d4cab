//! RustChain Tools: the layer between AI agents and the tools they call.
//!
//! This facade re-exports the parts and composes them: a [`Runtime`] holds
//! tools behind a stack of layers, [`RuntimeBuilderExt`] adds the built-in
//! tools and the stack to a [`RuntimeBuilder`], and a [`Catalog`] makes the
//! runtime's tools and a registry's definitions one searchable set.
//!
//! The default stack ([`RuntimeBuilderExt::default_layers`],
//! [`StackConfig::default`]) is the secure one: audit, validation, the
//! default policy (default deny), limits and a deadline. Leaving policy or
//! audit out takes a method named for it
//! ([`StackConfig::insecure_no_policy`], [`StackConfig::insecure_no_audit`]).
//!
//! ```
//! use rustchain_tools::prelude::*;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! // `.default_layers()` records to the data directory; this example keeps
//! // its log in a temporary directory instead.
//! let runtime = Runtime::builder()
//!     .builtins()
//!     .layers(StackConfig::default().audit_file(dir.path().join("audit.jsonl")))
//!     .build()?;
//! let result = runtime
//!     .call(ToolCall::new("text.word_count", json!({ "text": "to be or not" })))
//!     .await?;
//! assert_eq!(result.structured.unwrap()["words"], 4);
//!
//! let err = runtime
//!     .call(ToolCall::new("text.word_count", json!({ "txt": "oops" })))
//!     .await
//!     .unwrap_err();
//! assert!(matches!(err, ToolError::InvalidArguments { .. }));
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

pub use rustchain_tools_audit as audit;
pub use rustchain_tools_builtins as builtins;
pub use rustchain_tools_core::*;
#[cfg(feature = "plugins")]
pub use rustchain_tools_plugins as plugins;
pub use rustchain_tools_policy as policy;
pub use rustchain_tools_registry as registry;
pub use rustchain_tools_sandbox as sandbox;
pub use rustchain_tools_schema as schema;
pub use rustchain_tools_search as search;

mod catalog;
pub use catalog::{Catalog, CatalogHit, DefinitionChange, manifest_of};

use rustchain_tools_audit::{AuditLayer, Durability, open_keyed};
use rustchain_tools_policy::{PolicyConfig, PolicyLayer};
use rustchain_tools_sandbox::{LimitsConfig, LimitsLayer};

/// How long a call without its own deadline may run under the default stack.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// The file name of the default audit log in the [data directory](data_dir).
pub const DEFAULT_AUDIT_FILE: &str = "audit.jsonl";

/// Where RustChain Tools keeps its state (the default audit log, registry
/// and models): `$RUSTCHAIN_TOOLS_DATA_DIR`, else
/// `$XDG_DATA_HOME/rustchain-tools`, else `~/.local/share/rustchain-tools`;
/// `None` when none of these is set.
pub fn data_dir() -> Option<PathBuf> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("RUSTCHAIN_TOOLS_DATA_DIR")
        .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("rustchain-tools")))
        .or_else(|| env("HOME").map(|h| h.join(".local/share/rustchain-tools")))
}

/// Where the stack records calls.
#[derive(Debug, Clone)]
enum AuditSink {
    /// [`DEFAULT_AUDIT_FILE`] in the [data directory](data_dir).
    DataDir,
    /// A log file, its key beside it (see [`audit::open_keyed`]).
    File(PathBuf, Durability),
    /// A layer over a log the caller opened.
    Layer(AuditLayer),
    /// Nothing: only by [`StackConfig::insecure_no_audit`].
    Off,
}

/// Which layers [`RuntimeBuilderExt::layers`] stacks around the tools.
///
/// The default is the secure stack: an audit record of every call (to
/// [`DEFAULT_AUDIT_FILE`] in the [data directory](data_dir), group-committed),
/// validation, the shipped default policy (default deny), the limits and the
/// deadline. Leaving a security layer out takes a method that says so:
/// [`insecure_no_policy`](Self::insecure_no_policy),
/// [`insecure_no_audit`](Self::insecure_no_audit).
///
/// ```
/// use rustchain_tools::{StackConfig, policy::PolicyConfig};
///
/// let dir = tempfile::tempdir()?;
/// let stack = StackConfig::default()
///     .policy(PolicyConfig::new().profile("sox"))
///     .audit_file(dir.path().join("calls.jsonl"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct StackConfig {
    audit: AuditSink,
    policy: Option<PolicyConfig>,
    limits: LimitsConfig,
    timeout: Duration,
}

impl Default for StackConfig {
    /// Audit to the data directory, the default policy,
    /// [`LimitsConfig::default`], [`DEFAULT_TIMEOUT`].
    fn default() -> Self {
        StackConfig {
            audit: AuditSink::DataDir,
            policy: Some(PolicyConfig::new()),
            limits: LimitsConfig::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl StackConfig {
    /// Decides every call with the Rego policies `config` names (the shipped
    /// default policy unless it says otherwise).
    pub fn policy(mut self, config: PolicyConfig) -> Self {
        self.policy = Some(config);
        self
    }

    /// Leaves the policy layer out: every call that passes validation and
    /// the limits runs, whatever it touches. For tests and benchmarks of the
    /// other layers; never for a program that serves agents.
    pub fn insecure_no_policy(mut self) -> Self {
        self.policy = None;
        self
    }

    /// Records to the log at `path` (group commit), its signing key at
    /// `path.key` and verifier at `path.pub`, made on first use.
    pub fn audit_file(self, path: impl Into<PathBuf>) -> Self {
        self.audit_file_with(path, Durability::Group)
    }

    /// [`audit_file`](Self::audit_file) with the given durability.
    pub fn audit_file_with(mut self, path: impl Into<PathBuf>, durability: Durability) -> Self {
        self.audit = AuditSink::File(path.into(), durability);
        self
    }

    /// Records through `layer`, over a log the caller opened and closes.
    pub fn audit_layer(mut self, layer: AuditLayer) -> Self {
        self.audit = AuditSink::Layer(layer);
        self
    }

    /// Records nothing: no call leaves a trace. For tests and benchmarks of
    /// the other layers; never for a program that serves agents.
    pub fn insecure_no_audit(mut self) -> Self {
        self.audit = AuditSink::Off;
        self
    }

    /// Sets the slots, waits, timeouts and memory cap of the limits layer.
    pub fn limits(mut self, limits: LimitsConfig) -> Self {
        self.limits = limits;
        self
    }

    /// Sets how long a call without its own deadline may run.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether calls are decided by a policy.
    pub fn has_policy(&self) -> bool {
        self.policy.is_some()
    }

    /// Whether calls are recorded.
    pub fn has_audit(&self) -> bool {
        !matches!(self.audit, AuditSink::Off)
    }

    /// Opens the audit layer this configuration names.
    fn audit_layer_open(&self) -> Result<Option<AuditLayer>, ToolError> {
        let (path, durability) = match &self.audit {
            AuditSink::Off => return Ok(None),
            AuditSink::Layer(layer) => return Ok(Some(layer.clone())),
            AuditSink::File(path, durability) => (path.clone(), *durability),
            AuditSink::DataDir => match data_dir() {
                Some(dir) => (dir.join(DEFAULT_AUDIT_FILE), Durability::Group),
                None => {
                    return Err(setup_failed(
                        "audit log",
                        "no data directory: set RUSTCHAIN_TOOLS_DATA_DIR (or HOME), or name a \
                         log with StackConfig::audit_file",
                    ));
                }
            },
        };
        open_audit_layer(&path, durability).map(Some)
    }
}

/// Opens the keyed log at `path` and an audit layer over it.
pub fn open_audit_layer(path: &Path, durability: Durability) -> Result<AuditLayer, ToolError> {
    let keyed = open_keyed(path, durability).map_err(|e| setup_failed("audit log", e))?;
    Ok(AuditLayer::new(
        keyed.log.clone(),
        keyed.redaction_secret().as_bytes(),
    ))
}

fn setup_failed(part: &str, reason: impl std::fmt::Display) -> ToolError {
    ToolError::SetupFailed {
        part: part.to_owned(),
        reason: reason.to_string(),
    }
}

/// The name of the role [`workspace_policy`] grants.
pub const WORKSPACE_ROLE: &str = "workspace";

/// `policy` with the role [`WORKSPACE_ROLE`], which grants reading and
/// writing below `root` (every category, nothing else: tools that change
/// things, programs and the network still need another role). Give it to
/// the principal that works in the sandbox root.
pub fn workspace_policy(policy: PolicyConfig, root: &Path) -> PolicyConfig {
    let root = root.display().to_string();
    let grants = serde_json::json!({"rustchain": {"grants": {"roles": {WORKSPACE_ROLE: {
        "description": "The sandbox root: reading and writing below it.",
        "categories": ["*"],
        "fileRead": [root],
        "fileWrite": [root],
    }}}}});
    policy.file("<sandbox root>/workspace.json", grants.to_string())
}

/// What the facade adds to [`RuntimeBuilder`].
pub trait RuntimeBuilderExt: Sized {
    /// Adds every built-in tool registered at compile time (the pure ones;
    /// see [`sandboxed`](Self::sandboxed) for the others).
    fn builtins(self) -> Self;

    /// Adds the built-in tools that touch the world (`fs_*`, `cmd_run`,
    /// `http_fetch`), confined as `config` says.
    #[cfg(feature = "builtins-sandbox")]
    fn sandboxed(self, config: builtins::SandboxConfig) -> Self;

    /// Adds the layers `config` names, outermost first: the audit layer (if
    /// any; it also hears of calls refused before the layers), validation,
    /// the policy decision (if any), the limits, then the deadline around the
    /// tool. A policy that fails to load denies every call with the reason;
    /// an audit log that cannot be opened, or unusable limits, make
    /// [`build`](RuntimeBuilder::build) fail.
    fn layers(self, config: StackConfig) -> Self;

    /// [`layers`](Self::layers) with [`StackConfig::default`], the secure
    /// stack: audit (to the data directory), validation, the default policy,
    /// limits (64 calls at once, a 1 s wait for a slot) and the deadline
    /// ([`DEFAULT_TIMEOUT`] for calls without one).
    fn default_layers(self) -> Self {
        self.layers(StackConfig::default())
    }

    /// [`layers`](Self::layers) with the Rego policies `config` names and
    /// the rest of the default stack.
    fn policy_layers(self, config: PolicyConfig) -> Self {
        self.layers(StackConfig::default().policy(config))
    }
}

impl RuntimeBuilderExt for RuntimeBuilder {
    fn builtins(self) -> Self {
        match rustchain_tools_builtins::all() {
            Ok(tools) => tools.into_iter().fold(self, RuntimeBuilder::executor),
            Err(error) => self.fail(error),
        }
    }

    #[cfg(feature = "builtins-sandbox")]
    fn sandboxed(self, config: builtins::SandboxConfig) -> Self {
        match rustchain_tools_builtins::sandboxed(config) {
            Ok(tools) => tools.into_iter().fold(self, RuntimeBuilder::executor),
            Err(error) => self.fail(error),
        }
    }

    fn layers(self, config: StackConfig) -> Self {
        let mut builder = self;
        match config.audit_layer_open() {
            Ok(Some(audit)) => {
                builder = builder.on_refused(Arc::new(audit.clone())).layer(audit);
            }
            Ok(None) => {}
            Err(error) => return builder.fail(error),
        }
        builder = builder.layer(ValidationLayer::new());
        if let Some(policy) = config.policy {
            builder = builder.layer(PolicyLayer::load(&policy));
        }
        builder = match LimitsLayer::new(config.limits) {
            Ok(limits) => builder.layer(limits),
            Err(error) => builder.fail(error),
        };
        builder.layer(DeadlineLayer::new().with_default_timeout(config.timeout))
    }
}

/// A runtime with every built-in tool and the default (secure) stack.
pub fn default_runtime() -> Result<Runtime, ToolError> {
    Runtime::builder().builtins().default_layers().build()
}

/// The names most programs need, to import with `use rustchain_tools::prelude::*`.
pub mod prelude {
    pub use crate::{
        Runtime, RuntimeBuilderExt, StackConfig, Tool, ToolCall, ToolContext, ToolError, ToolInfo,
        ToolResult, async_trait,
    };
}
