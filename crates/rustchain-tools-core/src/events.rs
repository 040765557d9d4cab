//! The steps of a call that inner layers report to an outer listener (the
//! audit layer), without either knowing the other.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

/// A step of a call, reported by the layer that took it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum CallEvent {
    /// A policy decided about the call.
    Decided {
        /// Whether the call may go on.
        allowed: bool,
        /// Every reason given (deny reasons, or what no role grants).
        reasons: Vec<String>,
        /// Which policies decided: a digest of their sources.
        policy: String,
        /// The compliance profiles applied.
        profiles: Vec<String>,
        /// What the decision obliges (redactions, a lower timeout), as JSON.
        obligations: Value,
    },
    /// Every layer let the call through; the tool starts now.
    Started,
}

/// Where layers report the steps of a call: an outer layer that wants them
/// puts one into [`ToolRequest::extensions`](crate::ToolRequest::extensions),
/// and [`ToolRequest::emit`](crate::ToolRequest::emit) reaches it. Reporting
/// into a request without one costs a map lookup and nothing else.
#[derive(Clone)]
pub struct CallEvents(Arc<dyn Fn(CallEvent) + Send + Sync>);

impl CallEvents {
    /// A listener that hands each event to `listener`, which must not block.
    pub fn new(listener: impl Fn(CallEvent) + Send + Sync + 'static) -> Self {
        CallEvents(Arc::new(listener))
    }

    /// Reports `event`.
    pub fn emit(&self, event: CallEvent) {
        (self.0)(event)
    }
}

impl std::fmt::Debug for CallEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallEvents(..)")
    }
}
