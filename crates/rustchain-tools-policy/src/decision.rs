//! The outcome of a policy decision, and how it is read from what the Rego
//! aggregate rule yields.

use std::time::Duration;

use regorus::Value;
use serde::Serialize;

/// The reason given when no rule allows a call and no rule explains why.
pub const DEFAULT_DENY: &str = "no policy rule allows this call (default deny)";

/// What a decision obliges the layers after it to do when the call runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Obligations {
    /// JSON pointers into the arguments that the audit record must redact.
    pub redact: Vec<String>,
    /// The call must finish within this time (the smallest any rule asked
    /// for); the policy layer lowers the call's deadline to it.
    #[serde(rename = "timeoutMs", serialize_with = "as_millis")]
    pub timeout: Option<Duration>,
}

/// A policy decision about one call. Deny always wins; without an allow the
/// call is denied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// The call may run: some rule allowed it and none denied it.
    pub allowed: bool,
    /// What the `allow` rule yielded.
    pub allow: bool,
    /// Every reason a `deny` rule gave (sorted, no duplicates).
    pub deny: Vec<String>,
    /// Why nothing allowed the call and which role or profile would (from
    /// the `unmet` rule); only read when `allow` is false.
    pub unmet: Vec<String>,
    /// What the call must honour if it runs.
    pub obligations: Obligations,
}

impl Decision {
    /// Every reason the call is denied; empty when it is allowed.
    pub fn reasons(&self) -> Vec<String> {
        if self.allowed {
            return Vec::new();
        }
        let mut reasons = self.deny.clone();
        if !self.allow {
            if self.unmet.is_empty() {
                reasons.push(DEFAULT_DENY.to_owned());
            } else {
                reasons.extend(self.unmet.iter().cloned());
            }
        }
        reasons
    }

    /// A denial because the policies themselves are broken: fail closed.
    pub fn broken(message: impl Into<String>) -> Self {
        Decision {
            allowed: false,
            allow: false,
            deny: vec![format!("policy error: {}", message.into())],
            unmet: Vec::new(),
            obligations: Obligations::default(),
        }
    }

    /// Reads the aggregate the generated `rustchain.decision` rule yields:
    /// `{"allow": [v], "deny": {pkg: set}, "unmet": [set], "redact": {pkg: set},
    /// "timeout_ms": {pkg: set}}`, where `[]` stands for an undefined `allow`
    /// (false) or `unmet` (none). Anything of the wrong type denies, naming
    /// the rule and its package.
    pub(crate) fn from_value(value: &Value) -> Self {
        match read(value) {
            Ok(decision) => decision,
            Err(message) => Decision::broken(message),
        }
    }
}

fn read(value: &Value) -> Result<Decision, String> {
    let object = match value {
        Value::Object(o) => o,
        Value::Undefined => return Err("the decision rule is undefined".into()),
        other => return Err(format!("the decision rule yielded {}", kind(other))),
    };
    // Looked up by scanning the five fields: a key `Value` per lookup would
    // allocate on every decision.
    let field = |name: &str| {
        object
            .iter()
            .find(|(k, _)| k.as_string().is_ok_and(|k| k.as_ref() == name))
            .map_or(&Value::Undefined, |(_, v)| v)
    };
    let allow = match optional(field("allow"), "allow")? {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(other) => {
            return Err(format!(
                "rule `allow` of package rustchain.authz yielded {}, not a boolean",
                kind(other)
            ));
        }
    };
    let mut deny = Vec::new();
    for (package, v) in per_package(field("deny"))? {
        deny.extend(strings(v, "deny", package)?);
    }
    let unmet = match optional(field("unmet"), "unmet")? {
        None => Vec::new(),
        Some(set) => strings(set, "unmet", "rustchain.authz")?,
    };
    let mut redact = Vec::new();
    for (package, v) in per_package(field("redact"))? {
        redact.extend(strings(v, "redact", package)?);
    }
    let mut timeout: Option<Duration> = None;
    for (package, v) in per_package(field("timeout_ms"))? {
        members(v, "timeout_ms", package, |n| {
            let ms = match n {
                Value::Number(n) => n.as_u64(),
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "rule `timeout_ms` of package {package} holds {}, not a whole number of milliseconds",
                    kind(n)
                )
            })?;
            let t = Duration::from_millis(ms);
            timeout = Some(timeout.map_or(t, |old| old.min(t)));
            Ok(())
        })?;
    }
    deny.sort();
    deny.dedup();
    redact.sort();
    redact.dedup();
    Ok(Decision {
        allowed: allow && deny.is_empty(),
        allow,
        deny,
        unmet,
        obligations: Obligations { redact, timeout },
    })
}

/// The value of a rule the aggregate reads as an array of zero values (the
/// rule is undefined) or one.
fn optional<'a>(value: &'a Value, rule: &str) -> Result<Option<&'a Value>, String> {
    match value {
        Value::Array(a) if a.len() <= 1 => Ok(a.first()),
        other => Err(format!(
            "the decision aggregate holds {} for rule `{rule}`",
            kind(other)
        )),
    }
}

fn per_package(value: &Value) -> Result<impl Iterator<Item = (&str, &Value)>, String> {
    match value {
        Value::Object(o) => Ok(o
            .iter()
            .map(|(k, v)| (k.as_string().map_or("", |s| s.as_ref()), v))),
        other => Err(format!("the decision aggregate holds {}", kind(other))),
    }
}

/// Calls `f` with each member of the set (or array) `value`.
fn members(
    value: &Value,
    rule: &str,
    package: &str,
    mut f: impl FnMut(&Value) -> Result<(), String>,
) -> Result<(), String> {
    match value {
        Value::Set(s) => s.iter().try_for_each(&mut f),
        Value::Array(a) => a.iter().try_for_each(&mut f),
        other => Err(format!(
            "rule `{rule}` of package {package} yielded {}, not a set",
            kind(other)
        )),
    }
}

fn strings(value: &Value, rule: &str, package: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    members(value, rule, package, |v| match v {
        Value::String(s) => {
            out.push(s.to_string());
            Ok(())
        }
        other => Err(format!(
            "rule `{rule}` of package {package} holds {}, not a string",
            kind(other)
        )),
    })?;
    Ok(out)
}

fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(_) => format!("the number {value}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Set(_) => "a set".into(),
        Value::Object(_) => "an object".into(),
        Value::Undefined => "nothing (undefined)".into(),
    }
}

fn as_millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(json: &str) -> Value {
        Value::from_json_str(json).unwrap()
    }

    #[test]
    fn deny_wins_over_allow() {
        let d = Decision::from_value(&value(
            r#"{"allow": [true], "deny": {"rustchain.authz": ["b", "a", "b"]}, "unmet": [],
                "redact": {}, "timeout_ms": {}}"#,
        ));
        assert!(!d.allowed);
        assert_eq!(d.reasons(), vec!["a", "b"]);
    }

    #[test]
    fn no_allow_is_a_denial_with_the_default_reason() {
        let d = Decision::from_value(&value(
            r#"{"allow": [false], "deny": {}, "unmet": [], "redact": {}, "timeout_ms": {}}"#,
        ));
        assert!(!d.allowed);
        assert_eq!(d.reasons(), vec![DEFAULT_DENY]);
        // An undefined `allow` (no rule matched) reads as false.
        let d = Decision::from_value(&value(
            r#"{"allow": [], "deny": {}, "unmet": [["needs a role"]], "redact": {}, "timeout_ms": {}}"#,
        ));
        assert!(!d.allowed && !d.allow);
        assert_eq!(d.reasons(), vec!["needs a role"]);
    }

    #[test]
    fn the_smallest_timeout_wins() {
        let d = Decision::from_value(&value(
            r#"{"allow": [true], "deny": {}, "unmet": [], "redact": {"a": ["/x"]},
                "timeout_ms": {"a": [5000], "b": [200, 900]}}"#,
        ));
        assert!(d.allowed);
        assert_eq!(d.obligations.timeout, Some(Duration::from_millis(200)));
        assert_eq!(d.obligations.redact, vec!["/x"]);
    }

    #[test]
    fn wrong_types_fail_closed_naming_the_rule() {
        for (json, needle) in [
            (
                r#"{"allow": ["yes"], "deny": {}, "unmet": [], "redact": {}, "timeout_ms": {}}"#,
                "rule `allow` of package rustchain.authz yielded the string",
            ),
            (
                r#"{"allow": [true], "deny": {"rustchain.profiles.x": 3}, "unmet": [], "redact": {}, "timeout_ms": {}}"#,
                "rule `deny` of package rustchain.profiles.x yielded the number 3",
            ),
            (
                r#"{"allow": [true], "deny": {}, "unmet": [], "redact": {}, "timeout_ms": {"p": [-1]}}"#,
                "not a whole number",
            ),
            ("7", "the decision rule yielded the number 7"),
        ] {
            let d = Decision::from_value(&value(json));
            assert!(!d.allowed, "{json}");
            let reasons = d.reasons().join("; ");
            assert!(reasons.contains(needle), "{reasons}");
        }
    }
}
