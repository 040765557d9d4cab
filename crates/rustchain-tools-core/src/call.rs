//! A call to a tool and its result.

use std::time::{Duration, Instant};

use rustchain_tools_schema::Language;
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Who is calling: an identity and its roles, for policy decisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    /// A stable identifier of the caller.
    pub id: String,
    /// The roles the caller holds.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl Principal {
    /// The caller on this machine, with no roles: the principal of calls that
    /// name none.
    pub fn local() -> Self {
        Principal {
            id: "local".to_owned(),
            roles: Vec::new(),
        }
    }
}

impl Default for Principal {
    fn default() -> Self {
        Principal::local()
    }
}

/// A request to run one tool with some arguments.
///
/// ```
/// use rustchain_tools_core::ToolCall;
/// use serde_json::json;
/// use std::time::Duration;
///
/// let call = ToolCall::new("text.word_count", json!({ "text": "one two" }))
///     .with_version("^1".parse()?)
///     .with_timeout(Duration::from_secs(5));
/// assert_eq!(call.tool, "text.word_count");
/// # Ok::<(), semver::Error>(())
/// ```
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ToolCall {
    /// Identifies the call in results, errors and audit records.
    #[serde(default = "new_call_id")]
    pub id: String,
    /// The name of the tool to run.
    pub tool: String,
    /// Which versions of the tool may serve the call; the newest that matches
    /// is chosen. `None` takes the newest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<VersionReq>,
    /// The arguments, checked against the tool's input schema.
    #[serde(default = "empty_object")]
    pub arguments: Value,
    /// Who is calling. Never read from a request body: whoever accepts the
    /// call (a transport, the CLI) sets it from what it authenticated.
    #[serde(skip)]
    pub principal: Principal,
    /// The language of error messages for this call (`en`, `de`, `fr`).
    #[serde(default)]
    pub lang: Language,
    /// When the call must have finished; past it the tool is stopped.
    #[serde(skip)]
    pub deadline: Option<Instant>,
    /// Cancelling this token stops the call.
    #[serde(skip)]
    pub cancellation: Option<CancellationToken>,
}

impl ToolCall {
    /// A call of `tool` with `arguments`, a fresh id, the local principal, no
    /// deadline.
    pub fn new(tool: impl Into<String>, arguments: Value) -> Self {
        ToolCall {
            id: new_call_id(),
            tool: tool.into(),
            version: None,
            arguments,
            principal: Principal::local(),
            lang: Language::English,
            deadline: None,
            cancellation: None,
        }
    }

    /// Sets the call id.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.id = id.into();
        self
    }

    /// Restricts the versions that may serve the call.
    pub fn with_version(mut self, requirement: VersionReq) -> Self {
        self.version = Some(requirement);
        self
    }

    /// Sets the language of error messages.
    pub fn with_lang(mut self, lang: Language) -> Self {
        self.lang = lang;
        self
    }

    /// Sets the caller.
    pub fn with_principal(mut self, principal: Principal) -> Self {
        self.principal = principal;
        self
    }

    /// Sets a deadline `timeout` from now; a timeout too large for the clock
    /// means no deadline.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deadline = Instant::now().checked_add(timeout);
        self
    }

    /// Sets the deadline.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Lets the caller stop the call by cancelling `token`.
    pub fn with_cancellation(mut self, token: CancellationToken) -> Self {
        self.cancellation = Some(token);
        self
    }
}

fn new_call_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

/// What a tool returns: structured JSON, text, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolOutput {
    /// The structured result, matching the tool's output schema if it has one.
    pub structured: Option<Value>,
    /// The result as text for the model; for typed tools, the structured
    /// result serialized as JSON.
    pub text: String,
    /// The tool ran but reports a failure the model should see and may
    /// recover from (a missing file, say), as MCP's `isError` does.
    pub is_error: bool,
    /// The most memory the tool held during the call, in bytes, where its
    /// sandbox measures it (a WASM plugin's linear memory at its peak).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

impl ToolOutput {
    /// A structured result, with its JSON text.
    pub fn structured(value: Value) -> Self {
        ToolOutput {
            text: value.to_string(),
            structured: Some(value),
            is_error: false,
            memory_bytes: None,
        }
    }

    /// A text result.
    pub fn text(text: impl Into<String>) -> Self {
        ToolOutput {
            structured: None,
            text: text.into(),
            is_error: false,
            memory_bytes: None,
        }
    }

    /// A failure reported to the model as a result.
    pub fn error(text: impl Into<String>) -> Self {
        ToolOutput {
            structured: None,
            text: text.into(),
            is_error: true,
            memory_bytes: None,
        }
    }

    /// The same output, with the memory the tool held.
    pub fn with_memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }
}

/// The result of a call that ran.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolResult {
    /// The id of the call.
    pub call_id: String,
    /// The tool that ran.
    pub tool: String,
    /// The version of the tool that ran.
    pub version: Version,
    /// The structured result, if the tool gave one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structured: Option<Value>,
    /// The result as text.
    pub text: String,
    /// The tool reports a failure (see [`ToolOutput::is_error`]).
    pub is_error: bool,
    /// How long the tool ran.
    #[serde(
        rename = "durationUs",
        serialize_with = "as_micros",
        deserialize_with = "from_micros"
    )]
    pub duration: Duration,
    /// The most memory the tool held, where its sandbox measures it
    /// ([`ToolOutput::memory_bytes`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

fn as_micros<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

fn from_micros<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    u64::deserialize(d).map(Duration::from_micros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_call_deserializes_with_defaults() {
        let call: ToolCall = serde_json::from_value(json!({"tool": "t"})).unwrap();
        assert_eq!(call.arguments, json!({}));
        assert_eq!(call.principal, Principal::local());
        assert!(call.deadline.is_none());
        assert!(!call.id.is_empty());
        assert!(call.version.is_none());
    }

    #[test]
    fn a_request_body_cannot_choose_its_principal() {
        let call: ToolCall = serde_json::from_value(
            json!({"tool": "t", "principal": {"id": "root", "roles": ["admin"]}}),
        )
        .unwrap();
        assert_eq!(call.principal, Principal::local());
    }

    #[test]
    fn a_timeout_too_large_for_the_clock_means_no_deadline() {
        let call = ToolCall::new("t", json!({})).with_timeout(Duration::MAX);
        assert!(call.deadline.is_none());
    }

    #[test]
    fn a_result_round_trips_through_json() {
        let result = ToolResult {
            call_id: "c".into(),
            tool: "t".into(),
            version: Version::new(1, 2, 3),
            structured: Some(json!({"a": 1})),
            text: "{\"a\":1}".into(),
            is_error: false,
            duration: Duration::from_micros(42),
            memory_bytes: Some(65_536),
        };
        let back: ToolResult =
            serde_json::from_value(serde_json::to_value(&result).unwrap()).unwrap();
        assert_eq!(back, result);
    }

    #[test]
    fn outputs_use_the_same_casing_as_results() {
        assert_eq!(
            serde_json::to_value(ToolOutput::error("x")).unwrap(),
            json!({"structured": null, "text": "x", "isError": true})
        );
    }

    #[test]
    fn call_ids_are_unique() {
        assert_ne!(
            ToolCall::new("t", json!({})).id,
            ToolCall::new("t", json!({})).id
        );
    }
}
