//! The validation layer: arguments are checked against the tool's argument
//! limits, then its input schema, with the validator compiled when the tool
//! was registered.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::{ToolError, ToolRequest, ToolResult};

/// Refuses calls whose arguments pass the tool's [argument
/// limits](crate::ToolInfo::argument_limits) (size, depth, string length) or
/// break its input schema, with every violation, before anything else runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidationLayer;

impl ValidationLayer {
    /// The layer.
    pub fn new() -> Self {
        ValidationLayer
    }
}

impl<S> Layer<S> for ValidationLayer {
    type Service = Validate<S>;

    fn layer(&self, inner: S) -> Validate<S> {
        Validate { inner }
    }
}

/// The service of [`ValidationLayer`].
#[derive(Debug, Clone)]
pub struct Validate<S> {
    inner: S,
}

impl<S> Service<ToolRequest> for Validate<S>
where
    S: Service<ToolRequest, Response = ToolResult, Error = ToolError>,
{
    type Response = ToolResult;
    type Error = ToolError;
    type Future = ValidateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: ToolRequest) -> Self::Future {
        let limits = request.tool.metadata().argument_limits();
        // Limits first, so an oversized value never reaches the validator.
        let checked = limits
            .check_value(&request.call.arguments, request.call.lang)
            .map_err(|v| vec![*v])
            .and_then(|()| {
                request
                    .tool
                    .validator()
                    .validate_in(&request.call.arguments, request.call.lang)
            })
            .and_then(|()| {
                // Rules rely on the shape the schema guarantees: only now.
                let rules = request.tool.metadata().rules();
                if rules.is_empty() {
                    return Ok(());
                }
                let violations = rules.check(&request.call.arguments);
                if violations.is_empty() {
                    Ok(())
                } else {
                    Err(violations)
                }
            });
        match checked {
            Ok(()) => ValidateFuture::Valid {
                inner: self.inner.call(request),
            },
            Err(violations) => ValidateFuture::Invalid {
                error: Some(ToolError::InvalidArguments {
                    tool: request.tool_name().to_owned(),
                    violations,
                }),
            },
        }
    }
}

// The projection type that pin_project! generates carries no docs.
#[allow(missing_docs)]
mod future {
    use super::*;

    pin_project! {
    /// The future of [`Validate`]: the inner call, or the refusal.
    #[project = ValidateProj]
    pub enum ValidateFuture<F> {
        /// The arguments are valid; the call goes on.
        Valid { #[pin] inner: F },
        /// The arguments are invalid.
        Invalid { error: Option<ToolError> },
    }
    }
}
pub use future::ValidateFuture;
use future::ValidateProj;

impl<F> Future for ValidateFuture<F>
where
    F: Future<Output = Result<ToolResult, ToolError>>,
{
    type Output = Result<ToolResult, ToolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ValidateProj::Valid { inner } => inner.poll(cx),
            ValidateProj::Invalid { error } => Poll::Ready(Err(error
                .take()
                .expect("ValidateFuture polled after completion"))),
        }
    }
}
