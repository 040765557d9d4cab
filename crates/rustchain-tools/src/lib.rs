//! RustChain Tools: the layer between AI agents and the tools they call.
//!
//! This facade re-exports the parts and composes them: a [`Runtime`] holds
//! tools behind a stack of layers, and [`RuntimeBuilderExt`] adds the
//! built-in tools and the default stack to a [`RuntimeBuilder`].
//!
//! ```
//! use rustchain_tools::prelude::*;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), ToolError> {
//! let runtime = Runtime::builder().builtins().default_layers().build()?;
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

use std::{sync::Arc, time::Duration};

pub use rustchain_tools_audit as audit;
pub use rustchain_tools_builtins as builtins;
pub use rustchain_tools_core::*;
pub use rustchain_tools_policy as policy;
pub use rustchain_tools_registry as registry;
pub use rustchain_tools_sandbox as sandbox;
pub use rustchain_tools_schema as schema;
pub use rustchain_tools_search as search;

use rustchain_tools_audit::AuditLayer;
use rustchain_tools_policy::{PolicyConfig, PolicyLayer};
use rustchain_tools_sandbox::{LimitsConfig, LimitsLayer};

/// How long a call without its own deadline may run under the default stack.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Which layers [`RuntimeBuilderExt::layers`] stacks around the tools.
#[derive(Debug, Clone)]
pub struct StackConfig {
    /// The audit layer, outermost, which also records the calls refused
    /// before any layer runs (unknown tool or version); `None` records
    /// nothing.
    pub audit: Option<AuditLayer>,
    /// The Rego policies that decide every call; `None` leaves the policy
    /// layer out.
    pub policy: Option<PolicyConfig>,
    /// Slots, waits, timeouts and the memory cap of the limits layer.
    pub limits: LimitsConfig,
    /// How long a call without its own deadline may run.
    pub timeout: Duration,
}

impl Default for StackConfig {
    /// No audit, no policy, [`LimitsConfig::default`], [`DEFAULT_TIMEOUT`].
    fn default() -> Self {
        StackConfig {
            audit: None,
            policy: None,
            limits: LimitsConfig::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
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
    /// unusable limits make [`build`](RuntimeBuilder::build) fail.
    fn layers(self, config: StackConfig) -> Self;

    /// [`layers`](Self::layers) with [`StackConfig::default`]: validation,
    /// limits (64 calls at once, a 1 s wait for a slot) and the deadline
    /// ([`DEFAULT_TIMEOUT`] for calls without one).
    fn default_layers(self) -> Self {
        self.layers(StackConfig::default())
    }

    /// [`layers`](Self::layers) with the Rego policies `config` names (the
    /// built-in tools marked as such) and the default limits and timeout.
    fn policy_layers(self, config: PolicyConfig) -> Self {
        self.layers(StackConfig {
            policy: Some(config),
            ..StackConfig::default()
        })
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
        if let Some(audit) = config.audit {
            builder = builder.on_refused(Arc::new(audit.clone())).layer(audit);
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

/// A runtime with every built-in tool and the default stack.
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
