//! The audit layer: the outermost layer of the pipeline, which records every
//! call before it runs and its outcome after, and refuses calls it cannot
//! record.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, RwLock},
    task::{Context, Poll},
    time::Instant,
};

use hmac::{Hmac, Mac};
use rustchain_tools_core::{
    BoxToolFuture, CallEvent, CallEvents, Principal, RefusalListener, RefusedFuture, ToolCall,
    ToolError, ToolName, ToolRequest, ToolResult, Version,
};
use serde::Serialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

use crate::{AuditError, AuditLog, RecordKind, note::hex};

/// Records every call that passes it: `received` before the call goes on
/// (and the call is refused if that cannot be recorded), then how it ended.
///
/// Arguments are recorded, except values the tool's input schema marks
/// sensitive (`writeOnly: true` or `x-sensitive: true`), which become an
/// HMAC-SHA256 digest under a key of yours: equal values give equal digests,
/// so they can be matched, but not read back. Output is recorded as size and
/// SHA-256 unless [`AuditLayer::record_output`] is set.
///
/// Add it first, so that it is the outermost layer:
/// `Runtime::builder().layer(AuditLayer::new(log, &key)).layer(ValidationLayer::new())…`.
#[derive(Clone)]
pub struct AuditLayer {
    log: AuditLog,
    redactor: Arc<Redactor>,
    record_output: bool,
    /// The policy revision of the last decision recorded.
    policies: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for AuditLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLayer")
            .field("log", &self.log)
            .field("record_output", &self.record_output)
            .finish_non_exhaustive()
    }
}

impl AuditLayer {
    /// Records into `log`; sensitive values are digested with
    /// `redaction_key` (keep it secret, and the same across runs so that
    /// digests stay comparable).
    pub fn new(log: AuditLog, redaction_key: &[u8]) -> Self {
        AuditLayer {
            log,
            redactor: Arc::new(Redactor {
                mac: Hmac::new_from_slice(redaction_key).expect("HMAC takes keys of any length"),
                cache: RwLock::default(),
            }),
            record_output: false,
            policies: Arc::default(),
        }
    }

    /// Records the output itself too, not only its size and digest.
    pub fn record_output(mut self, yes: bool) -> Self {
        self.record_output = yes;
        self
    }
}

/// Records the calls the runtime refuses before any layer runs (no such tool
/// or version) as `refused`: the call id, the tool name and version
/// requirement asked for, the principal, the error and its message, and the
/// arguments as a keyed digest only (with no schema to say which values are
/// sensitive, none is written out). Install it with
/// `RuntimeBuilder::on_refused(Arc::new(layer.clone()))` beside the layer
/// (the facade's `StackConfig::audit` does both).
impl RefusalListener for AuditLayer {
    fn refused(&self, call: &ToolCall, error: &ToolError) -> RefusedFuture {
        let payload = json!({
            "callId": call.id,
            "tool": call.tool,
            "version": call.version.as_ref().map(ToString::to_string),
            "principal": {"id": call.principal.id, "roles": call.principal.roles},
            "arguments": self.redactor.digest(&call.arguments),
            "error": serde_json::to_value(error).unwrap_or(Value::Null),
            "message": error.to_string(),
        });
        let (log, kind) = (self.log.clone(), kind_of(error));
        Box::pin(async move {
            // The call is refused whatever happens here; a log that cannot
            // take the record has failed closed and refuses the next call
            // that reaches the layer.
            let _ = log.record(kind, payload).await;
        })
    }
}

impl<S> Layer<S> for AuditLayer {
    type Service = Audit<S>;

    fn layer(&self, inner: S) -> Audit<S> {
        Audit {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`AuditLayer`].
#[derive(Clone)]
pub struct Audit<S> {
    inner: S,
    layer: AuditLayer,
}

impl<S> std::fmt::Debug for Audit<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("layer", &self.layer)
            .finish_non_exhaustive()
    }
}

/// Records `policy_loaded` the first time a decision comes from a policy
/// revision this layer has not seen: when a policy (or a reload of it) first
/// takes effect, ahead of the decision it made.
fn record_policy_change(
    log: &AuditLog,
    seen: &Mutex<Option<String>>,
    revision: &str,
    profiles: &[String],
) {
    let Ok(mut seen) = seen.lock() else {
        return;
    };
    if seen.as_deref() == Some(revision) {
        return;
    }
    let previous = seen.replace(revision.to_owned());
    log.record_detached(
        RecordKind::PolicyLoaded,
        json!({
            "revision": revision,
            "previous": previous,
            "profiles": profiles,
        }),
    );
}

/// What the layer returns when the log cannot take a record.
fn refuse(tool: &str, error: &AuditError) -> ToolError {
    ToolError::failed(
        tool,
        format!("call refused because it cannot be audited: {error}"),
    )
}

/// Writes a `cancelled` record if the call's future is dropped before its
/// outcome was recorded (the caller gave up on it).
struct DropGuard {
    log: AuditLog,
    call_id: Option<String>,
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(call_id) = self.call_id.take() {
            // Fire and forget: a drop cannot wait for the commit.
            self.log.record_detached(
                RecordKind::Cancelled,
                json!({"callId": call_id, "reason": "the caller dropped the call"}),
            );
        }
    }
}

impl<S> Service<ToolRequest> for Audit<S>
where
    S: Service<ToolRequest, Response = ToolResult, Error = ToolError> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = ToolResult;
    type Error = ToolError;
    type Future = BoxToolFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ToolError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: ToolRequest) -> Self::Future {
        // The steps inner layers report (the policy's decision, the start)
        // are recorded in order behind `received`, without holding the call
        // up: the outcome record, which the call does wait for, commits them.
        let log = self.layer.log.clone();
        let policies = self.layer.policies.clone();
        let call_id = request.call.id.clone();
        request.extensions.insert(CallEvents::new(move |event| {
            let (kind, mut payload) = match event {
                CallEvent::Started => {
                    if let Ok(text) = json_text(&Started { call_id: &call_id }) {
                        log.record_step(RecordKind::Started, text);
                    }
                    return;
                }
                CallEvent::Decided {
                    allowed,
                    reasons,
                    policy,
                    profiles,
                    obligations,
                } => {
                    record_policy_change(&log, &policies, &policy, &profiles);
                    (
                        RecordKind::Decided,
                        json!({
                            "allowed": allowed,
                            "reasons": reasons,
                            "policy": policy,
                            "profiles": profiles,
                            "obligations": obligations,
                        }),
                    )
                }
                _ => return,
            };
            payload["callId"] = json!(call_id);
            if let Ok(text) = json_text(&payload) {
                log.record_step(kind, text);
            }
        }));
        // The service that was polled ready is the one that must be called;
        // keep a fresh clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let layer = self.layer.clone();
        Box::pin(async move {
            let started = Instant::now();
            let tool = request.tool_name().to_owned();
            let call_id = request.call.id.clone();
            let facts = layer.redactor.facts(&request);
            // Kept only when something was redacted: the record's arguments,
            // and the original to redact violations.
            let redacted = (!facts.sensitive.root.is_empty()).then(|| {
                let original = request.call.arguments.clone();
                let redacted = layer.redactor.redact(&original, &facts.sensitive);
                (original, redacted)
            });
            // Written straight from the request, without building a JSON
            // value (members in the order a JSON object keeps them).
            let received = json_text(&Received {
                arguments: redacted
                    .as_ref()
                    .map_or(&request.call.arguments, |(_, r)| r),
                call_id: &call_id,
                principal: &request.call.principal,
                tool: &tool,
                version: &facts.version_text,
            });
            // Armed before the received record is sent, so that a call dropped
            // at any point after it gets an outcome record behind it.
            let mut guard = DropGuard {
                log: layer.log.clone(),
                call_id: Some(call_id.clone()),
            };
            let recorded = match received {
                // Written before the tool runs (a call that cannot be
                // recorded does not run); synced with the outcome, which the
                // caller waits for: one sync per acknowledged call.
                Ok(text) => {
                    layer
                        .log
                        .record_text(RecordKind::Received, text, true)
                        .await
                }
                Err(e) => Err(e),
            };
            if let Err(e) = recorded {
                guard.call_id = None;
                return Err(refuse(&tool, &e));
            }
            let result = inner.call(request).await;
            let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let outcome = match &result {
                Ok(r) => (
                    RecordKind::Finished,
                    finished(r, &call_id, elapsed, layer.record_output),
                ),
                Err(e) => {
                    let mut error = serde_json::to_value(e).unwrap_or(Value::Null);
                    if let (Some(violations), Some((original, redacted))) =
                        (error.get_mut("violations"), &redacted)
                    {
                        layer
                            .redactor
                            .redact_violations(violations, original, redacted);
                    }
                    (
                        kind_of(e),
                        json_text(
                            &json!({"callId": call_id, "elapsedUs": elapsed, "error": error}),
                        ),
                    )
                }
            };
            // The outcome is sent on the first poll below, so a drop from
            // here on must not add a second one.
            guard.call_id = None;
            let recorded = match outcome {
                (kind, Ok(text)) => layer.log.record_text(kind, text, false).await,
                (_, Err(e)) => Err(e),
            };
            match recorded {
                Ok(_) => result,
                // The call ran but its outcome is not on record: the caller
                // must not take it as done.
                Err(e) => Err(refuse(&tool, &e)),
            }
        })
    }
}

/// A `received` record's payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Received<'a> {
    arguments: &'a Value,
    call_id: &'a str,
    principal: &'a Principal,
    tool: &'a str,
    version: &'a str,
}

/// A `started` record's payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Started<'a> {
    call_id: &'a str,
}

/// A `finished` record's payload.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Finished<'a> {
    call_id: &'a str,
    duration_us: u64,
    elapsed_us: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    memory_bytes: Option<u64>,
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    structured: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    structured_bytes: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    structured_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    text_bytes: usize,
    text_sha256: String,
}

/// The JSON text of a payload, or why it has none.
fn json_text(payload: &impl Serialize) -> Result<Vec<u8>, AuditError> {
    let mut text = Vec::with_capacity(256);
    serde_json::to_writer(&mut text, payload)
        .map_err(|e| AuditError::invalid("payload", e.to_string()))?;
    Ok(text)
}

fn finished(
    r: &ToolResult,
    call_id: &str,
    elapsed: u64,
    record_output: bool,
) -> Result<Vec<u8>, AuditError> {
    let structured = r
        .structured
        .as_ref()
        .map(|s| serde_json::to_vec(s).unwrap_or_default());
    json_text(&Finished {
        call_id,
        duration_us: u64::try_from(r.duration.as_micros()).unwrap_or(u64::MAX),
        elapsed_us: elapsed,
        memory_bytes: r.memory_bytes,
        outcome: if r.is_error { "tool_error" } else { "ok" },
        structured: record_output.then(|| r.structured.as_ref().unwrap_or(&Value::Null)),
        structured_bytes: structured.as_ref().map(Vec::len),
        structured_sha256: structured.as_ref().map(|s| hex(&Sha256::digest(s))),
        text: record_output.then_some(r.text.as_str()),
        text_bytes: r.text.len(),
        text_sha256: hex(&Sha256::digest(r.text.as_bytes())),
    })
}

/// The record kind of each way a call can fail.
pub fn kind_of(error: &ToolError) -> RecordKind {
    match error {
        ToolError::InvalidArguments { .. } => RecordKind::Rejected,
        ToolError::Denied { .. } => RecordKind::Denied,
        ToolError::LimitExceeded { .. } | ToolError::Busy { .. } => RecordKind::LimitExceeded,
        ToolError::TimedOut { .. } => RecordKind::TimedOut,
        ToolError::Cancelled { .. } => RecordKind::Cancelled,
        ToolError::Failed { .. } => RecordKind::Failed,
        _ => RecordKind::Refused,
    }
}

/// Where in a tool's arguments the sensitive values are: a tree that
/// mirrors the schema, with `$ref`s kept as references into `defs` (so a
/// recursive schema stays finite and each definition is read once).
#[derive(Debug, Default)]
struct Sensitive {
    root: Node,
    defs: HashMap<String, Node>,
}

#[derive(Debug, Default)]
struct Node {
    redact: bool,
    properties: HashMap<String, Node>,
    items: Option<Box<Node>>,
    refs: Vec<String>,
}

impl Node {
    fn is_empty(&self) -> bool {
        !self.redact && self.properties.is_empty() && self.items.is_none() && self.refs.is_empty()
    }

    fn merge(&mut self, other: Node) {
        self.redact |= other.redact;
        for (k, v) in other.properties {
            self.properties.entry(k).or_default().merge(v);
        }
        if let Some(items) = other.items {
            self.items.get_or_insert_with(Box::default).merge(*items);
        }
        self.refs.extend(other.refs);
    }
}

impl Sensitive {
    /// Reads the sensitive locations of a tool's input schema (`writeOnly:
    /// true` or `x-sensitive: true`), following local `$ref`s.
    fn of_schema(schema: &Value) -> Sensitive {
        let mut s = Sensitive::default();
        s.root = s.node(schema, schema);
        // References to definitions with nothing sensitive cost a lookup on
        // every call for nothing: drop them.
        let empty: Vec<String> = s
            .defs
            .iter()
            .filter(|(_, n)| n.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        if !empty.is_empty() {
            fn prune(n: &mut Node, empty: &[String]) {
                n.refs.retain(|r| !empty.contains(r));
                n.properties.values_mut().for_each(|c| prune(c, empty));
                n.properties.retain(|_, c| !c.is_empty());
                if let Some(items) = n.items.as_deref_mut() {
                    prune(items, empty);
                }
                if n.items.as_ref().is_some_and(|i| i.is_empty()) {
                    n.items = None;
                }
            }
            prune(&mut s.root, &empty);
            for n in s.defs.values_mut() {
                prune(n, &empty);
            }
        }
        s
    }

    fn node(&mut self, schema: &Value, root: &Value) -> Node {
        let mut n = Node::default();
        let Some(obj) = schema.as_object() else {
            return n;
        };
        n.redact = obj.get("writeOnly") == Some(&Value::Bool(true))
            || obj.get("x-sensitive") == Some(&Value::Bool(true));
        if let Some(r) = obj.get("$ref").and_then(Value::as_str)
            && let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p))
        {
            if !self.defs.contains_key(r) {
                // A placeholder first, so that a recursive reference stops.
                self.defs.insert(r.to_owned(), Node::default());
                let def = self.node(target, root);
                self.defs.insert(r.to_owned(), def);
            }
            n.refs.push(r.to_owned());
        }
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            for (k, v) in props {
                let child = self.node(v, root);
                if !child.is_empty() {
                    n.properties.entry(k.clone()).or_default().merge(child);
                }
            }
        }
        if let Some(items) = obj.get("items") {
            let child = self.node(items, root);
            if !child.is_empty() {
                n.items.get_or_insert_with(Box::default).merge(child);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
                let child = self.node(sub, root);
                n.merge(child);
            }
        }
        n
    }
}

/// What the layer needs to know of a tool version on every call.
struct ToolFacts {
    version: Version,
    /// `version` as written in records.
    version_text: String,
    sensitive: Sensitive,
}

struct Redactor {
    mac: Hmac<Sha256>,
    /// Per tool and version, computed on its first call; looked up without
    /// allocating.
    cache: RwLock<HashMap<ToolName, Vec<Arc<ToolFacts>>>>,
}

impl Redactor {
    fn facts(&self, request: &ToolRequest) -> Arc<ToolFacts> {
        let metadata = request.tool.metadata();
        let (name, version) = (metadata.name(), metadata.version());
        let find = |cache: &HashMap<ToolName, Vec<Arc<ToolFacts>>>| {
            cache
                .get(name)
                .and_then(|v| v.iter().find(|f| f.version == *version).cloned())
        };
        if let Some(f) = self.cache.read().ok().and_then(|c| find(&c)) {
            return f;
        }
        let facts = Arc::new(ToolFacts {
            version: version.clone(),
            version_text: version.to_string(),
            sensitive: Sensitive::of_schema(metadata.input_schema()),
        });
        if let Ok(mut cache) = self.cache.write()
            && find(&cache).is_none()
        {
            cache.entry(name.clone()).or_default().push(facts.clone());
        }
        facts
    }

    fn digest(&self, value: &Value) -> Value {
        let mut mac = self.mac.clone();
        mac.update(&serde_json::to_vec(value).unwrap_or_default());
        json!(format!("hmac-sha256:{}", hex(&mac.finalize().into_bytes())))
    }

    /// `arguments` with every sensitive value digested.
    fn redact(&self, arguments: &Value, s: &Sensitive) -> Value {
        let mut value = arguments.clone();
        if !s.root.is_empty() {
            self.apply(&mut value, &s.root, s);
        }
        value
    }

    /// Returns whether `value` itself was replaced.
    fn apply(&self, value: &mut Value, node: &Node, s: &Sensitive) -> bool {
        if node.redact {
            *value = self.digest(value);
            return true;
        }
        for r in &node.refs {
            if let Some(def) = s.defs.get(r)
                && self.apply(value, def, s)
            {
                return true;
            }
        }
        match value {
            Value::Object(map) => {
                for (k, child) in &node.properties {
                    if let Some(v) = map.get_mut(k) {
                        self.apply(v, child, s);
                    }
                }
            }
            Value::Array(items) => {
                if let Some(child) = &node.items {
                    for v in items {
                        self.apply(v, child, s);
                    }
                }
            }
            _ => {}
        }
        false
    }

    /// Violations quote the offending value: where the arguments at that
    /// place were redacted, the quote is replaced too.
    fn redact_violations(&self, violations: &mut Value, original: &Value, redacted: &Value) {
        if original == redacted {
            return;
        }
        for v in violations.as_array_mut().into_iter().flatten() {
            let Some(obj) = v.as_object_mut() else {
                continue;
            };
            let pointer = obj
                .get("pointer")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let replacement = match (original.pointer(pointer), redacted.pointer(pointer)) {
                (Some(o), Some(r)) if o == r => continue,
                (_, Some(r)) => r.clone(),
                // Below a value that was digested whole.
                (_, None) => {
                    let actual = obj.get("actual").cloned().unwrap_or(Value::Null);
                    self.digest(&actual)
                }
            };
            obj.insert("actual".into(), replacement);
            obj.insert("message".into(), json!("(value redacted)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redactor(key: &[u8]) -> Redactor {
        Redactor {
            mac: Hmac::new_from_slice(key).unwrap(),
            cache: RwLock::default(),
        }
    }

    #[test]
    fn sensitive_values_are_found_through_refs_and_combinators() {
        let schema = json!({
            "type": "object",
            "properties": {
                "user": {"type": "string"},
                "password": {"type": "string", "writeOnly": true},
                "auth": {"$ref": "#/$defs/Auth"},
                "maybe": {"anyOf": [{"$ref": "#/$defs/Auth"}, {"type": "null"}]},
                "tokens": {"type": "array", "items": {"type": "string", "x-sensitive": true}},
                "plain": {"$ref": "#/$defs/Plain"}
            },
            "$defs": {
                "Auth": {"type": "object", "properties": {"token": {"type": "string", "x-sensitive": true}}},
                "Plain": {"type": "object", "properties": {"a": {"type": "string"}}}
            }
        });
        let s = Sensitive::of_schema(&schema);
        assert!(!s.root.properties.contains_key("plain"));
        let r = redactor(b"k");
        let args = json!({
            "user": "ann", "password": "pw", "auth": {"token": "t1", "x": 1},
            "maybe": {"token": "t2"}, "tokens": ["a", "b"], "plain": {"a": "visible"}
        });
        let out = r.redact(&args, &s);
        assert_eq!(out["user"], "ann");
        assert_eq!(out["plain"]["a"], "visible");
        assert_eq!(out["auth"]["x"], 1);
        for p in [
            "/password",
            "/auth/token",
            "/maybe/token",
            "/tokens/0",
            "/tokens/1",
        ] {
            let v = out.pointer(p).unwrap().as_str().unwrap();
            assert!(v.starts_with("hmac-sha256:"), "{p}: {v}");
        }
        assert!(!out.to_string().contains("\"pw\""));
    }

    #[test]
    fn a_recursive_schema_is_redacted_at_every_depth() {
        let schema = json!({
            "$ref": "#/$defs/Node",
            "$defs": {"Node": {"properties": {
                "next": {"$ref": "#/$defs/Node"},
                "other": {"$ref": "#/$defs/Node"},
                "secret": {"writeOnly": true}
            }}}
        });
        let s = Sensitive::of_schema(&schema);
        let args =
            json!({"secret": 1, "next": {"next": {"secret": "deep"}, "other": {"secret": 2}}});
        let out = redactor(b"k").redact(&args, &s);
        assert!(!out.to_string().contains("deep"));
        assert!(out["next"]["other"]["secret"].is_string());
        assert!(out["secret"].is_string());
    }

    #[test]
    fn violations_quoting_a_sensitive_value_are_redacted() {
        let schema =
            json!({"properties": {"pin": {"type": "integer", "writeOnly": true}, "n": {}}});
        let s = Sensitive::of_schema(&schema);
        let r = redactor(b"k");
        let args = json!({"pin": "1234", "n": "x"});
        let redacted = r.redact(&args, &s);
        let mut violations = json!([
            {"pointer": "/pin", "actual": "1234", "message": "\"1234\" is not an integer"},
            {"pointer": "/n", "actual": "x", "message": "bad"}
        ]);
        r.redact_violations(&mut violations, &args, &redacted);
        assert!(!violations.to_string().contains("1234"));
        assert_eq!(violations[1]["actual"], "x");
    }

    #[test]
    fn equal_values_give_equal_digests_under_one_key_only() {
        let (a, b) = (redactor(b"k1"), redactor(b"k2"));
        assert_eq!(a.digest(&json!("hunter2")), a.digest(&json!("hunter2")));
        assert_ne!(a.digest(&json!("hunter2")), a.digest(&json!("hunter3")));
        assert_ne!(a.digest(&json!("hunter2")), b.digest(&json!("hunter2")));
    }
}
