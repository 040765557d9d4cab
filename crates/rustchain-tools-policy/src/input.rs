//! The input document every decision reads, and the map of its fields that
//! the typo check compares `input.` references against.

use std::collections::BTreeMap;

use regorus::Value;
use rustchain_tools_core::{Permissions, ToolMetadata, ToolRequest};

/// What the engine's configuration says about where calls run; the
/// `environment` part of every input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Environment {
    pub profiles: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// Builds the input document of each call. Made once per engine: the
/// environment part is built once, the tool part once per tool (see
/// [`InputBuilder::tool`]), and a call fills a copy of a prepared object
/// whose keys are already in place, so that a decision allocates little.
pub(crate) struct InputBuilder {
    pub env: Environment,
    pub environment: Value,
    /// `{"call": _, "environment": the environment, "principal": _, "tool": _}`.
    document: Value,
    /// `{"arguments": _, "id": _}`.
    call: Value,
    /// `{"id": _, "roles": _}`.
    principal: Value,
    keys: Keys,
}

struct Keys {
    tool: Value,
    call: Value,
    principal: Value,
    id: Value,
    arguments: Value,
    argument_names: Value,
    roles: Value,
}

impl InputBuilder {
    pub fn new(env: Environment) -> Self {
        let environment = environment(&env);
        InputBuilder {
            document: object([
                ("tool", Value::Null),
                ("call", Value::Null),
                ("principal", Value::Null),
                ("environment", environment.clone()),
            ]),
            call: object([
                ("id", Value::Null),
                ("arguments", Value::Null),
                ("argumentNames", Value::Null),
            ]),
            principal: object([("id", Value::Null), ("roles", Value::Null)]),
            keys: Keys {
                tool: Value::from("tool"),
                call: Value::from("call"),
                principal: Value::from("principal"),
                id: Value::from("id"),
                arguments: Value::from("arguments"),
                argument_names: Value::from("argumentNames"),
                roles: Value::from("roles"),
            },
            env,
            environment,
        }
    }

    /// The `tool` part of the input: it depends only on the tool's metadata
    /// and the engine's configuration, so callers may keep it per tool.
    pub fn tool(&self, meta: &ToolMetadata) -> Value {
        let hints = meta.hints();
        object([
            ("name", Value::from(meta.name().as_str())),
            ("version", Value::from(meta.version().to_string())),
            ("category", Value::from(meta.category())),
            ("tags", strings(meta.tags())),
            ("source", Value::from(meta.source().as_str())),
            ("permissions", permissions(meta.permissions())),
            (
                "hints",
                object([
                    ("readOnly", Value::from(hints.read_only)),
                    ("destructive", Value::from(hints.destructive)),
                    ("idempotent", Value::from(hints.idempotent)),
                    ("openWorld", Value::from(hints.open_world)),
                ]),
            ),
        ])
    }

    /// The input document of `request` whose tool part is `tool`.
    pub fn document(&self, request: &ToolRequest, tool: Value) -> Value {
        let k = &self.keys;
        let call = fill(
            &self.call,
            [
                (&k.id, Value::from(request.call.id.as_str())),
                (&k.arguments, from_json(&request.call.arguments)),
                (&k.argument_names, argument_names(&request.call.arguments)),
            ],
        );
        let principal = fill(
            &self.principal,
            [
                (&k.id, Value::from(request.call.principal.id.as_str())),
                (&k.roles, strings(&request.call.principal.roles)),
            ],
        );
        fill(
            &self.document,
            [(&k.tool, tool), (&k.call, call), (&k.principal, principal)],
        )
    }
}

/// A copy of the object `template` with the values of existing keys
/// replaced: the copy keeps its compact sorted form, no map is rebuilt.
fn fill<const N: usize>(template: &Value, fields: [(&Value, Value); N]) -> Value {
    let mut out = template.clone();
    if let Value::Object(object) = &mut out {
        let object = regorus::Rc::make_mut(object);
        for (key, value) in fields {
            object.insert(key.clone(), value);
        }
    }
    out
}

/// The names of the top-level arguments, sorted (none when the arguments
/// are not an object): what a rule that looks at names only reads, so that
/// decisions do not depend on the values.
fn argument_names(arguments: &serde_json::Value) -> Value {
    Value::from(
        arguments
            .as_object()
            .map(|o| {
                o.keys()
                    .map(|k| Value::from(k.as_str()))
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default(),
    )
}

/// Converts JSON to a regorus value directly: regorus's own `From` goes
/// through serde, which costs several times more on every decision.
pub(crate) fn from_json(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::from(*b),
        serde_json::Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                Value::from(u)
            } else if let Some(i) = n.as_i64() {
                Value::from(i)
            } else {
                n.as_f64().map_or(Value::Null, Value::from)
            }
        }
        serde_json::Value::String(s) => Value::from(s.as_str()),
        serde_json::Value::Array(items) => {
            Value::from(items.iter().map(from_json).collect::<Vec<_>>())
        }
        serde_json::Value::Object(map) => Value::from(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect::<BTreeMap<_, _>>(),
        ),
    }
}

pub(crate) fn environment(env: &Environment) -> Value {
    let labels = env
        .labels
        .iter()
        .map(|(k, v)| (Value::from(k.as_str()), Value::from(v.as_str())))
        .collect::<BTreeMap<_, _>>();
    object([
        ("profiles", strings(&env.profiles)),
        ("labels", Value::from(labels)),
    ])
}

fn permissions(p: &Permissions) -> Value {
    object([
        ("fileRead", strings(&p.file_read)),
        ("fileWrite", strings(&p.file_write)),
        ("network", strings(&p.network)),
        ("commands", strings(&p.commands)),
    ])
}

fn strings(items: &[String]) -> Value {
    Value::from(
        items
            .iter()
            .map(|s| Value::from(s.as_str()))
            .collect::<Vec<_>>(),
    )
}

fn object<const N: usize>(fields: [(&str, Value); N]) -> Value {
    Value::from(
        fields
            .into_iter()
            .map(|(k, v)| (Value::from(k), v))
            .collect::<BTreeMap<_, _>>(),
    )
}

/// A node of the documented input: what lies below a field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Field {
    /// A string, number or boolean: nothing below it.
    Leaf(&'static str),
    /// An array or an open map (arguments, labels): any index or key below.
    Open,
    /// An object with exactly these fields.
    Object(&'static [(&'static str, Field)]),
}

const PERMISSIONS: Field = Field::Object(&[
    ("fileRead", Field::Open),
    ("fileWrite", Field::Open),
    ("network", Field::Open),
    ("commands", Field::Open),
]);

const HINTS: Field = Field::Object(&[
    ("readOnly", Field::Leaf("a boolean")),
    ("destructive", Field::Leaf("a boolean")),
    ("idempotent", Field::Leaf("a boolean")),
    ("openWorld", Field::Leaf("a boolean")),
]);

/// The documented input (docs/policy.md shows it with an example).
pub(crate) const INPUT: Field = Field::Object(&[
    (
        "tool",
        Field::Object(&[
            ("name", Field::Leaf("a string")),
            ("version", Field::Leaf("a string")),
            ("category", Field::Leaf("a string")),
            ("tags", Field::Open),
            ("source", Field::Leaf("a string")),
            ("permissions", PERMISSIONS),
            ("hints", HINTS),
        ]),
    ),
    (
        "call",
        Field::Object(&[
            ("id", Field::Leaf("a string")),
            ("arguments", Field::Open),
            ("argumentNames", Field::Open),
        ]),
    ),
    (
        "principal",
        Field::Object(&[("id", Field::Leaf("a string")), ("roles", Field::Open)]),
    ),
    (
        "environment",
        Field::Object(&[("profiles", Field::Open), ("labels", Field::Open)]),
    ),
]);

/// Checks a path below `input` (its components, as written) against the
/// documented input; `Err` says why it can never match.
pub(crate) fn check_path(path: &[String]) -> Result<(), String> {
    let mut node = INPUT;
    let mut at = String::from("input");
    for component in path {
        match node {
            Field::Open => return Ok(()),
            Field::Leaf(what) => {
                return Err(format!("`{at}` is {what}; it has no field `{component}`"));
            }
            Field::Object(fields) => match fields.iter().find(|(name, _)| name == component) {
                Some((_, next)) => node = *next,
                None => {
                    let known: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                    let mut message = format!(
                        "`{at}` has no field `{component}` (it has: {})",
                        known.join(", ")
                    );
                    if let Some(close) = closest(component, &known) {
                        message.push_str(&format!("; did you mean `{close}`?"));
                    }
                    return Err(message);
                }
            },
        }
        at.push('.');
        at.push_str(component);
    }
    Ok(())
}

/// The known name closest to `name` when it is a likely typo of it: same
/// letters in another order, or at most two edits apart.
fn closest<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| {
            (
                strsim::osa_distance(&name.to_lowercase(), &k.to_lowercase()),
                *k,
            )
        })
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(p: &str) -> Vec<String> {
        p.split('.').map(str::to_owned).collect()
    }

    #[test]
    fn json_converts_like_regorus_does() {
        let json = serde_json::json!({"a": [1, -2, 2.5, "x", null, true], "b": {"c": {}}});
        assert_eq!(from_json(&json), Value::from(json.clone()));
    }

    #[test]
    fn documented_paths_pass() {
        for p in [
            "tool.category",
            "tool.permissions.fileWrite",
            "tool.hints.readOnly",
            "call.arguments.url.anything.below",
            "environment.labels.region",
            "principal.roles",
            "tool",
        ] {
            assert_eq!(check_path(&path(p)), Ok(()), "{p}");
        }
    }

    #[test]
    fn a_typo_is_refused_with_a_suggestion() {
        let err = check_path(&path("tool.categroy")).unwrap_err();
        assert!(err.contains("did you mean `category`"), "{err}");
        let err = check_path(&path("tool.permissions.file_write")).unwrap_err();
        assert!(err.contains("fileWrite"), "{err}");
        let err = check_path(&path("tool.name.first")).unwrap_err();
        assert!(err.contains("is a string"), "{err}");
        assert!(check_path(&path("user")).is_err());
    }
}
