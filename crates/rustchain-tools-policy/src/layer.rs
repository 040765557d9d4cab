//! The policy layer: every call needs an allow before it goes on.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Instant,
};

use pin_project_lite::pin_project;
use rustchain_tools_core::{CallEvent, CallEvents, ToolError, ToolRequest, ToolResult};
use tower::{Layer, Service};

use crate::{Decision, PolicyConfig, PolicyEngine, PolicyError, ReloadablePolicy};

/// Asks the policies about each call: a denied call gets
/// [`ToolError::Denied`] with every reason; an allowed one goes on with the
/// [`Decision`] in `request.extensions` and its deadline lowered to the
/// timeout obligation, if any. Place it after validation (arguments are
/// checked when policies read them) and before the deadline layer.
#[derive(Debug, Clone)]
pub struct PolicyLayer {
    state: State,
}

#[derive(Debug, Clone)]
enum State {
    Ready(PolicyEngine),
    Reloadable(ReloadablePolicy),
    /// The policies did not load: every call is denied with this reason.
    Broken(String),
}

impl PolicyLayer {
    /// The layer over a loaded engine.
    pub fn new(engine: PolicyEngine) -> Self {
        PolicyLayer {
            state: State::Ready(engine),
        }
    }

    /// The layer over policies that can be reloaded while it runs.
    pub fn reloadable(policy: ReloadablePolicy) -> Self {
        PolicyLayer {
            state: State::Reloadable(policy),
        }
    }

    /// Loads `config`; if that fails, the layer denies every call with the
    /// reason (fail closed). Use [`PolicyEngine::load`] to refuse to start
    /// instead.
    pub fn load(config: &PolicyConfig) -> Self {
        match PolicyEngine::load(config) {
            Ok(engine) => PolicyLayer::new(engine),
            Err(error) => PolicyLayer::failing(&error),
        }
    }

    /// A layer that denies every call because the policies are broken.
    pub fn failing(error: &PolicyError) -> Self {
        PolicyLayer {
            state: State::Broken(error.to_string()),
        }
    }
}

impl<S> Layer<S> for PolicyLayer {
    type Service = Policy<S>;

    fn layer(&self, inner: S) -> Policy<S> {
        Policy {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`PolicyLayer`].
#[derive(Debug, Clone)]
pub struct Policy<S> {
    inner: S,
    state: State,
}

impl<S> Service<ToolRequest> for Policy<S>
where
    S: Service<ToolRequest, Response = ToolResult, Error = ToolError>,
{
    type Response = ToolResult;
    type Error = ToolError;
    type Future = PolicyFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: ToolRequest) -> Self::Future {
        let reloaded;
        let (decision, engine) = match &self.state {
            State::Ready(engine) => (engine.decide(&request), Some(engine)),
            State::Reloadable(policy) => {
                reloaded = policy.engine();
                (reloaded.decide(&request), Some(&reloaded))
            }
            State::Broken(message) => (Decision::broken(message.clone()), None),
        };
        // Built only when someone listens (the audit layer): most calls pay nothing.
        if let Some(events) = request.extensions.get::<CallEvents>() {
            events.emit(CallEvent::Decided {
                allowed: decision.allowed,
                reasons: decision.reasons(),
                policy: engine.map_or_else(|| "broken".to_owned(), |e| e.revision().to_owned()),
                profiles: engine.map(|e| e.profiles().to_vec()).unwrap_or_default(),
                obligations: serde_json::to_value(&decision.obligations).unwrap_or_default(),
            });
        }
        if !decision.allowed {
            return PolicyFuture::Denied {
                error: Some(ToolError::Denied {
                    tool: request.tool_name().to_owned(),
                    reasons: decision.reasons(),
                }),
            };
        }
        if let Some(timeout) = decision.obligations.timeout
            && let Some(limit) = Instant::now().checked_add(timeout)
        {
            let deadline = request.call.deadline.map_or(limit, |d| d.min(limit));
            request.call.deadline = Some(deadline);
        }
        request.extensions.insert(decision);
        PolicyFuture::Allowed {
            inner: self.inner.call(request),
        }
    }
}

// The projection type that pin_project! generates carries no docs.
#[allow(missing_docs)]
mod future {
    use super::*;

    pin_project! {
    /// The future of [`Policy`]: the inner call, or the denial.
    #[project = PolicyProj]
    pub enum PolicyFuture<F> {
        /// The call is allowed and goes on.
        Allowed { #[pin] inner: F },
        /// The call is denied.
        Denied { error: Option<ToolError> },
    }
    }
}
pub use future::PolicyFuture;
use future::PolicyProj;

impl<F> Future for PolicyFuture<F>
where
    F: Future<Output = Result<ToolResult, ToolError>>,
{
    type Output = Result<ToolResult, ToolError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            PolicyProj::Allowed { inner } => inner.poll(cx),
            PolicyProj::Denied { error } => Poll::Ready(Err(error.take().unwrap_or_else(|| {
                ToolError::failed("policy", "the policy future was polled after it completed")
            }))),
        }
    }
}
