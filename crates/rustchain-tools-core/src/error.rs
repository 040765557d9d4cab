//! The errors of a tool call, one variant for each thing a caller can act on.

use std::time::Duration;

use rustchain_tools_schema::Violation;
use serde::Serialize;
use thiserror::Error;

/// Why a tool call (or a tool's registration) did not succeed.
#[derive(Debug, Clone, Error, Serialize)]
#[serde(
    tag = "error",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[non_exhaustive]
pub enum ToolError {
    /// The arguments do not match the tool's input schema; every violation is
    /// listed. Fix the arguments and call again.
    #[error("invalid arguments for `{tool}`: {}", summarize(.violations))]
    InvalidArguments {
        /// The tool that was called.
        tool: String,
        /// Every way in which the arguments break the schema.
        violations: Vec<Violation>,
    },
    /// No tool of that name is registered.
    #[error("unknown tool `{tool}`{}", suggest(.suggestions))]
    UnknownTool {
        /// The name that was asked for.
        tool: String,
        /// Registered names close to it.
        suggestions: Vec<String>,
    },
    /// The tool exists, but no registered version meets the requirement.
    #[error("no version of `{tool}` matches `{requirement}` (registered: {})", .available.join(", "))]
    NoMatchingVersion {
        /// The tool that was asked for.
        tool: String,
        /// The version requirement of the call.
        requirement: String,
        /// The versions that are registered.
        available: Vec<String>,
    },
    /// A policy refused the call; every reason is listed.
    #[error("call to `{tool}` denied: {}", .reasons.join("; "))]
    Denied {
        /// The tool that was called.
        tool: String,
        /// Every reason a policy gave.
        reasons: Vec<String>,
    },
    /// A resource limit stopped or refused the call.
    #[error("call to `{tool}` exceeded the {limit} limit: {message}")]
    LimitExceeded {
        /// The tool that was called.
        tool: String,
        /// Which limit: `concurrency`, `memory`, `output`, ...
        limit: String,
        /// What happened.
        message: String,
    },
    /// Too much work is in hand: the call waited the bounded time for a free
    /// slot (or found memory short) and was refused before it started. Retry
    /// later; nothing ran.
    #[error("call to `{tool}` refused, busy: {reason}")]
    Busy {
        /// The tool that was called.
        tool: String,
        /// What was full: the slots of all tools or of this one, or memory.
        reason: String,
    },
    /// The tool ran and failed.
    #[error("tool `{tool}` failed: {message}")]
    Failed {
        /// The tool that failed.
        tool: String,
        /// What went wrong, as the tool reported it.
        message: String,
    },
    /// The call was cancelled by its caller; the tool was stopped.
    #[error("call to `{tool}` was cancelled")]
    Cancelled {
        /// The tool that was called.
        tool: String,
    },
    /// The call ran past its deadline; the tool was stopped.
    #[error("call to `{tool}` timed out after {} ms", .after.as_millis())]
    TimedOut {
        /// The tool that was called.
        tool: String,
        /// How long the call ran before it was stopped (zero when its
        /// deadline had passed before it started).
        #[serde(rename = "afterMs", serialize_with = "as_millis")]
        after: Duration,
    },
    /// The tool is known by its definition (in a registry, for discovery)
    /// but nothing implements it here: it can be found, not called. Choose a
    /// tool that is marked callable, or install its implementation.
    #[error(
        "`{tool}` has no implementation here: its definition is in the registry for discovery only, so it cannot be called"
    )]
    NoImplementation {
        /// The tool that was asked for.
        tool: String,
    },
    /// A part every call needs (the audit log, say) could not be set up, so
    /// nothing runs; the reason says what to fix.
    #[error("the {part} could not be set up, so no call runs: {reason}")]
    SetupFailed {
        /// Which part: `audit log`, `limits`, ...
        part: String,
        /// What went wrong.
        reason: String,
    },
    /// A tool's definition is unusable (bad name, version or schema), or
    /// another tool already holds its name and version.
    #[error("invalid definition of tool `{tool}`: {reason}")]
    InvalidDefinition {
        /// The tool's name as given.
        tool: String,
        /// What is wrong with it.
        reason: String,
    },
}

impl ToolError {
    /// A failure of `tool` with `message`; what tools return when they fail.
    pub fn failed(tool: impl Into<String>, message: impl Into<String>) -> Self {
        ToolError::Failed {
            tool: tool.into(),
            message: message.into(),
        }
    }
}

fn summarize(violations: &[Violation]) -> String {
    violations
        .iter()
        .map(|v| v.message.as_str())
        .collect::<Vec<_>>()
        .join("; ")
}

fn suggest(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", suggestions.join(", "))
    }
}

fn as_millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_arguments_list_every_violation() {
        let err = ToolError::InvalidArguments {
            tool: "t".into(),
            violations: vec![
                Violation::new("/a", "type", json!("string"), json!(1), "expected string"),
                Violation::new("/b", "required", json!("b"), json!(null), "missing"),
            ],
        };
        assert_eq!(
            err.to_string(),
            "invalid arguments for `t`: at /a: expected string; at /b: missing"
        );
    }

    #[test]
    fn serializes_with_its_kind() {
        let err = ToolError::TimedOut {
            tool: "t".into(),
            after: Duration::from_millis(1500),
        };
        assert_eq!(
            serde_json::to_value(&err).unwrap(),
            json!({"error": "timed_out", "tool": "t", "afterMs": 1500})
        );
    }
}
