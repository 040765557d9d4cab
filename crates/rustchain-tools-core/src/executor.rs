//! The object-safe trait every tool is erased to.

use std::time::Instant;

use async_trait::async_trait;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::{Principal, ToolError, ToolMetadata, ToolOutput};

/// What a running tool knows about its call.
#[derive(Debug, Clone)]
pub struct ToolContext {
    /// The id of the call.
    pub call_id: String,
    /// Who is calling.
    pub principal: Principal,
    /// When the call must have finished, if it has a deadline.
    pub deadline: Option<Instant>,
    /// Cancelled when the call is cancelled or times out. The tool's future is
    /// dropped then anyway; work a tool started outside its future (a child
    /// process, a spawned task) should watch this token to stop too.
    pub cancellation: CancellationToken,
}

impl ToolContext {
    /// A context for a call with `call_id` and no deadline, for running a
    /// tool outside the pipeline (in tests, say).
    pub fn new(call_id: impl Into<String>) -> Self {
        ToolContext {
            call_id: call_id.into(),
            principal: Principal::local(),
            deadline: None,
            cancellation: CancellationToken::new(),
        }
    }
}

/// A tool as the pipeline runs it: metadata plus an async `execute` on JSON
/// arguments.
///
/// Typed tools get this through [`TypedTool`](crate::TypedTool); dynamic tools
/// (described by manifests, WASM plugins) implement it by hand. The pipeline
/// validates the arguments against [`ToolMetadata::input_schema`] before
/// `execute` is called.
#[async_trait]
pub trait ToolExecutor: Send + Sync + 'static {
    /// The tool's description and schemas.
    fn metadata(&self) -> &ToolMetadata;

    /// Runs the tool.
    async fn execute(
        &self,
        arguments: Value,
        context: ToolContext,
    ) -> Result<ToolOutput, ToolError>;
}
