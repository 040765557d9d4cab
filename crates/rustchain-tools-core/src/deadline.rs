//! The deadline and cancellation layer.

use std::{
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use tokio::time::Instant;

use tower::{Layer, Service};

use crate::{BoxToolFuture, RegisteredTool, ToolError, ToolRequest, ToolResult};

/// Stops a call whose deadline passes or whose caller cancels it: the tool's
/// future is dropped, the call's cancellation token is cancelled (so work the
/// tool started elsewhere can stop), and the error says which happened.
///
/// A call without a deadline gets the layer's default timeout, if one is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer {
    default_timeout: Option<Duration>,
}

impl DeadlineLayer {
    /// The layer, with no default timeout.
    pub fn new() -> Self {
        DeadlineLayer::default()
    }

    /// Gives calls that have no deadline this much time.
    pub fn with_default_timeout(mut self, timeout: Duration) -> Self {
        self.default_timeout = Some(timeout);
        self
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            default_timeout: self.default_timeout,
        }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    default_timeout: Option<Duration>,
}

impl<S> Service<ToolRequest> for Deadline<S>
where
    S: Service<ToolRequest, Response = ToolResult, Error = ToolError>,
    S::Future: Send + 'static,
{
    type Response = ToolResult;
    type Error = ToolError;
    type Future = BoxToolFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: ToolRequest) -> Self::Future {
        // tokio's clock, so that tests with paused time see the same deadline.
        let started = Instant::now();
        let deadline = match (request.call.deadline, self.default_timeout) {
            (Some(deadline), _) => Some(Instant::from_std(deadline)),
            (None, Some(timeout)) => started.checked_add(timeout),
            (None, None) => None,
        };
        // The tool sees the deadline it actually has, default included.
        request.call.deadline = deadline.map(Instant::into_std);
        let tool = request.tool.clone();
        let token = request.cancellation.clone();
        if token.is_cancelled() {
            return Box::pin(std::future::ready(Err(cancelled(&tool))));
        }
        if deadline.is_some_and(|d| d <= started) {
            token.cancel();
            return Box::pin(std::future::ready(Err(timed_out(&tool, Duration::ZERO))));
        }
        let call = self.inner.call(request);
        Box::pin(async move {
            let Some(deadline) = deadline else {
                return tokio::select! {
                    biased;
                    result = call => result,
                    () = token.cancelled() => Err(cancelled(&tool)),
                };
            };
            tokio::select! {
                biased;
                result = call => result,
                () = token.cancelled() => Err(cancelled(&tool)),
                () = tokio::time::sleep_until(deadline) => {
                    token.cancel();
                    Err(timed_out(&tool, started.elapsed()))
                }
            }
        })
    }
}

fn cancelled(tool: &Arc<RegisteredTool>) -> ToolError {
    ToolError::Cancelled {
        tool: tool.metadata().name().to_string(),
    }
}

fn timed_out(tool: &Arc<RegisteredTool>, after: Duration) -> ToolError {
    ToolError::TimedOut {
        tool: tool.metadata().name().to_string(),
        after,
    }
}
