//! The call pipeline: a request type, the innermost service that runs the
//! tool, and the boxed service type the layers are stacked into.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use tokio_util::sync::CancellationToken;
use tower::{Service, util::BoxCloneSyncService};

use crate::{CallEvent, CallEvents, RegisteredTool, ToolCall, ToolContext, ToolError, ToolResult};

/// A call on its way through the pipeline, with the tool that will serve it.
#[derive(Debug)]
pub struct ToolRequest {
    /// The call as the caller made it.
    pub call: ToolCall,
    /// The tool the call resolved to.
    pub tool: Arc<RegisteredTool>,
    /// Cancelled when the call is cancelled or runs out of time; a child of
    /// the caller's token, so cancelling it never reaches back to the caller.
    pub cancellation: CancellationToken,
    /// What layers tell the layers inside them (or, through a shared handle
    /// an outer layer put here, the layers outside): a policy decision, its
    /// obligations. Empty, and free, unless a layer uses it.
    pub extensions: http::Extensions,
}

impl ToolRequest {
    /// Wraps `call`, resolved to `tool`.
    pub fn new(call: ToolCall, tool: Arc<RegisteredTool>) -> Self {
        let cancellation = call
            .cancellation
            .as_ref()
            .map_or_else(CancellationToken::new, CancellationToken::child_token);
        ToolRequest {
            call,
            tool,
            cancellation,
            extensions: http::Extensions::new(),
        }
    }

    /// The name of the tool the call resolved to.
    pub fn tool_name(&self) -> &str {
        self.tool.metadata().name().as_str()
    }

    /// Reports a step of the call to the [`CallEvents`] listener an outer
    /// layer put into the extensions, if any.
    pub fn emit(&self, event: CallEvent) {
        if let Some(events) = self.extensions.get::<CallEvents>() {
            events.emit(event);
        }
    }
}

/// The future of a boxed tool service.
pub type BoxToolFuture = Pin<Box<dyn Future<Output = Result<ToolResult, ToolError>> + Send>>;

/// A pipeline (or part of one) with its layers erased, as the runtime holds it.
pub type BoxToolService = BoxCloneSyncService<ToolRequest, ToolResult, ToolError>;

/// The innermost service: runs the resolved tool and times it.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExecuteTool;

impl Service<ToolRequest> for ExecuteTool {
    type Response = ToolResult;
    type Error = ToolError;
    type Future = BoxToolFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: ToolRequest) -> Self::Future {
        request.emit(CallEvent::Started);
        Box::pin(async move {
            let ToolRequest {
                call,
                tool,
                cancellation,
                ..
            } = request;
            let context = ToolContext {
                call_id: call.id.clone(),
                principal: call.principal,
                deadline: call.deadline,
                cancellation,
            };
            let started = Instant::now();
            let output = tool.executor().execute(call.arguments, context).await?;
            let metadata = tool.metadata();
            Ok(ToolResult {
                call_id: call.id,
                tool: metadata.name().to_string(),
                version: metadata.version().clone(),
                structured: output.structured,
                text: output.text,
                is_error: output.is_error,
                duration: started.elapsed(),
                memory_bytes: output.memory_bytes,
            })
        })
    }
}
