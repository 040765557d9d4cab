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

use std::time::Duration;

pub use rustchain_tools_audit as audit;
pub use rustchain_tools_builtins as builtins;
pub use rustchain_tools_core::*;
pub use rustchain_tools_policy as policy;
pub use rustchain_tools_schema as schema;

use rustchain_tools_policy::{PolicyConfig, PolicyLayer};

/// How long a call without its own deadline may run under the default stack.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What the facade adds to [`RuntimeBuilder`].
pub trait RuntimeBuilderExt: Sized {
    /// Adds every built-in tool compiled in.
    fn builtins(self) -> Self;

    /// Adds the default stack of layers, outermost first: validation, then
    /// the deadline ([`DEFAULT_TIMEOUT`] for calls without one) around the
    /// tool.
    fn default_layers(self) -> Self;

    /// Adds the stack with a policy decision before every call: validation,
    /// then the Rego policies `config` names (the built-in tools marked as
    /// such), then the deadline. A policy that fails to load denies every
    /// call with the reason.
    fn policy_layers(self, config: PolicyConfig) -> Self;
}

impl RuntimeBuilderExt for RuntimeBuilder {
    fn builtins(self) -> Self {
        match rustchain_tools_builtins::all() {
            Ok(tools) => tools.into_iter().fold(self, RuntimeBuilder::executor),
            Err(error) => self.fail(error),
        }
    }

    fn default_layers(self) -> Self {
        self.layer(ValidationLayer::new())
            .layer(DeadlineLayer::new().with_default_timeout(DEFAULT_TIMEOUT))
    }

    fn policy_layers(self, config: PolicyConfig) -> Self {
        let config = config.builtin_tools(builtin_names());
        self.layer(ValidationLayer::new())
            .layer(PolicyLayer::load(&config))
            .layer(DeadlineLayer::new().with_default_timeout(DEFAULT_TIMEOUT))
    }
}

/// The names of the built-in tools compiled in.
pub fn builtin_names() -> Vec<String> {
    rustchain_tools_builtins::all()
        .map(|tools| {
            tools
                .iter()
                .map(|t| t.metadata().name().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A runtime with every built-in tool and the default stack.
pub fn default_runtime() -> Result<Runtime, ToolError> {
    Runtime::builder().builtins().default_layers().build()
}

/// The names most programs need, to import with `use rustchain_tools::prelude::*`.
pub mod prelude {
    pub use crate::{
        Runtime, RuntimeBuilderExt, Tool, ToolCall, ToolContext, ToolError, ToolInfo, ToolResult,
        async_trait,
    };
}
