//! Schema evolution: does a new input schema accept every input the old one
//! accepted?
//!
//! The check is structural and conservative: a change it cannot prove safe
//! (a different regular expression, a rewritten `anyOf`) counts as breaking,
//! so "compatible" can be trusted.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{SchemaError, export::inline_refs_for_diff, violation::escape_pointer_token};

/// One difference between two schemas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaChange {
    /// JSON pointer into the arguments (not into the schema) where it applies.
    pub pointer: String,
    /// What changed.
    pub what: String,
}

/// The differences between an old and a new schema, sorted by whether inputs
/// the old one accepted may now be refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDiff {
    /// Changes after which some input the old schema accepted is refused.
    pub breaking: Vec<SchemaChange>,
    /// Changes that refuse nothing the old schema accepted.
    pub compatible: Vec<SchemaChange>,
}

impl SchemaDiff {
    /// True when the new schema accepts every input the old one accepted.
    pub fn is_compatible(&self) -> bool {
        self.breaking.is_empty()
    }
}

/// Compares two schemas (local `$ref`s are followed; a recursive one is
/// refused).
pub fn diff(old: &Value, new: &Value) -> Result<SchemaDiff, SchemaError> {
    let old = inline_refs_for_diff(old)?;
    let new = inline_refs_for_diff(new)?;
    let mut out = SchemaDiff::default();
    compare(&old, &new, "", &mut out);
    Ok(out)
}

fn breaking(out: &mut SchemaDiff, pointer: &str, what: String) {
    out.breaking.push(SchemaChange {
        pointer: pointer.to_owned(),
        what,
    });
}

fn compatible(out: &mut SchemaDiff, pointer: &str, what: String) {
    out.compatible.push(SchemaChange {
        pointer: pointer.to_owned(),
        what,
    });
}

fn place(pointer: &str) -> &str {
    if pointer.is_empty() { "/" } else { pointer }
}

/// The types a schema allows, `None` for any.
fn types(schema: &Map<String, Value>) -> Option<Vec<String>> {
    match schema.get("type")? {
        Value::String(t) => Some(vec![t.clone()]),
        Value::Array(ts) => Some(
            ts.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

fn type_allows(allowed: &[String], t: &str) -> bool {
    allowed
        .iter()
        .any(|a| a == t || (a == "number" && t == "integer"))
}

fn compare(old: &Value, new: &Value, pointer: &str, out: &mut SchemaDiff) {
    if old == new {
        return;
    }
    let (old, new) = match (old, new) {
        (_, Value::Bool(true)) => {
            compatible(out, pointer, "the schema now accepts any value".into());
            return;
        }
        (Value::Bool(false), _) => {
            compatible(
                out,
                pointer,
                "a value that was never allowed now may be".into(),
            );
            return;
        }
        (_, Value::Bool(false)) => {
            breaking(out, pointer, "no value is accepted here any more".into());
            return;
        }
        (Value::Bool(true), Value::Object(new)) => (&Map::new(), new),
        (Value::Object(old), Value::Object(new)) => (old, new),
        _ => {
            breaking(
                out,
                pointer,
                "the schema changed in a way that cannot be compared".into(),
            );
            return;
        }
    };
    let at = place(pointer);

    match (types(old), types(new)) {
        (_, None) => {}
        (None, Some(new_types)) => breaking(
            out,
            pointer,
            format!("{at} must now be of type {}", new_types.join(" or ")),
        ),
        (Some(old_types), Some(new_types)) => {
            let lost: Vec<&String> = old_types
                .iter()
                .filter(|t| !type_allows(&new_types, t))
                .collect();
            let gained: Vec<&String> = new_types
                .iter()
                .filter(|t| !type_allows(&old_types, t))
                .collect();
            if !lost.is_empty() {
                breaking(
                    out,
                    pointer,
                    format!("{at} no longer accepts type {}", join(&lost)),
                );
            }
            if !gained.is_empty() {
                compatible(
                    out,
                    pointer,
                    format!("{at} now also accepts type {}", join(&gained)),
                );
            }
        }
    }

    bound(old, new, "minimum", true, pointer, out);
    bound(old, new, "exclusiveMinimum", true, pointer, out);
    bound(old, new, "maximum", false, pointer, out);
    bound(old, new, "exclusiveMaximum", false, pointer, out);
    for (keyword, is_lower) in [
        ("minLength", true),
        ("maxLength", false),
        ("minItems", true),
        ("maxItems", false),
        ("minProperties", true),
        ("maxProperties", false),
    ] {
        bound(old, new, keyword, is_lower, pointer, out);
    }

    match (
        old.get("enum").and_then(Value::as_array),
        new.get("enum").and_then(Value::as_array),
    ) {
        (_, None) => {
            if old.contains_key("enum") {
                compatible(
                    out,
                    pointer,
                    format!("{at} is no longer limited to a list of values"),
                );
            }
        }
        (None, Some(_)) => breaking(
            out,
            pointer,
            format!("{at} is now limited to a list of values"),
        ),
        (Some(o), Some(n)) => {
            let removed: Vec<String> = o
                .iter()
                .filter(|v| !n.contains(v))
                .map(Value::to_string)
                .collect();
            let added: Vec<String> = n
                .iter()
                .filter(|v| !o.contains(v))
                .map(Value::to_string)
                .collect();
            if !removed.is_empty() {
                breaking(
                    out,
                    pointer,
                    format!("{at} no longer accepts {}", removed.join(", ")),
                );
            }
            if !added.is_empty() {
                compatible(
                    out,
                    pointer,
                    format!("{at} now also accepts {}", added.join(", ")),
                );
            }
        }
    }

    for keyword in [
        "const",
        "pattern",
        "format",
        "multipleOf",
        "uniqueItems",
        "contentEncoding",
    ] {
        match (old.get(keyword), new.get(keyword)) {
            (None, None) => {}
            (a, b) if a == b => {}
            (Some(_), None) => compatible(out, pointer, format!("{at}: {keyword} removed")),
            (None, Some(v)) if keyword == "uniqueItems" && v == &Value::Bool(false) => {}
            (Some(a), Some(b)) => breaking(
                out,
                pointer,
                format!("{at}: {keyword} changed from {a} to {b}"),
            ),
            (None, Some(v)) => breaking(out, pointer, format!("{at}: {keyword} {v} added")),
        }
    }

    for keyword in [
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "if",
        "then",
        "else",
        "dependentSchemas",
        "patternProperties",
        "propertyNames",
        "prefixItems",
        "contains",
    ] {
        match (old.get(keyword), new.get(keyword)) {
            (a, b) if a == b => {}
            (Some(_), None) if keyword != "if" => {
                compatible(out, pointer, format!("{at}: {keyword} removed"))
            }
            _ => breaking(
                out,
                pointer,
                format!("{at}: {keyword} changed, and the change cannot be proven compatible"),
            ),
        }
    }

    objects(old, new, pointer, out);

    match (old.get("items"), new.get("items")) {
        (_, None) => {}
        (None, Some(n)) => compare(&Value::Bool(true), n, &format!("{pointer}/0"), out),
        (Some(o), Some(n)) => compare(o, n, &format!("{pointer}/0"), out),
    }
}

fn join(items: &[&String]) -> String {
    items
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A numeric bound: a lower bound may only go down, an upper bound only up.
fn bound(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    keyword: &str,
    is_lower: bool,
    pointer: &str,
    out: &mut SchemaDiff,
) {
    let at = place(pointer);
    match (
        old.get(keyword).and_then(Value::as_f64),
        new.get(keyword).and_then(Value::as_f64),
    ) {
        (None, None) => {}
        (Some(o), None) => compatible(out, pointer, format!("{at}: {keyword} {o} removed")),
        (None, Some(n)) => breaking(out, pointer, format!("{at}: {keyword} {n} added")),
        (Some(o), Some(n)) if o == n => {}
        (Some(o), Some(n)) => {
            let narrowed = if is_lower { n > o } else { n < o };
            let what = format!("{at}: {keyword} changed from {o} to {n}");
            if narrowed {
                breaking(out, pointer, what);
            } else {
                compatible(out, pointer, what);
            }
        }
    }
}

/// The strings listed under `keyword` (`required`, say); none when absent.
pub(crate) fn names(schema: &Map<String, Value>, keyword: &str) -> Vec<String> {
    schema
        .get(keyword)
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn objects(
    old: &Map<String, Value>,
    new: &Map<String, Value>,
    pointer: &str,
    out: &mut SchemaDiff,
) {
    let empty = Map::new();
    let old_props = old
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let new_props = new
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    // What an undeclared property must match: `true` when the object is open.
    let extra = |schema: &Map<String, Value>| {
        schema
            .get("additionalProperties")
            .cloned()
            .unwrap_or(Value::Bool(true))
    };
    let (old_extra, new_extra) = (extra(old), extra(new));

    let (old_required, new_required) = (names(old, "required"), names(new, "required"));
    for name in new_required.iter().filter(|n| !old_required.contains(n)) {
        breaking(
            out,
            &format!("{pointer}/{}", escape_pointer_token(name)),
            format!("{name} is now required"),
        );
    }
    for name in old_required.iter().filter(|n| !new_required.contains(n)) {
        compatible(
            out,
            &format!("{pointer}/{}", escape_pointer_token(name)),
            format!("{name} is no longer required"),
        );
    }

    for (name, old_schema) in old_props {
        let at = format!("{pointer}/{}", escape_pointer_token(name));
        match new_props.get(name) {
            Some(new_schema) => compare(old_schema, new_schema, &at, out),
            // The property now falls under additionalProperties.
            None => compare_as_one(
                old_schema,
                &new_extra,
                (&at, &at),
                out,
                format!(
                    "the property {name} was removed and is not accepted as an additional property"
                ),
                format!("the property {name} was removed but is still accepted"),
            ),
        }
    }
    for (name, new_schema) in new_props {
        if old_props.contains_key(name) {
            continue;
        }
        let at = format!("{pointer}/{}", escape_pointer_token(name));
        // Inputs could carry it before only as an additional property.
        compare_as_one(
            &old_extra,
            new_schema,
            (&at, &at),
            out,
            format!(
                "the new property {name} constrains values that inputs could already pass as an additional property"
            ),
            format!("the property {name} was added"),
        );
    }
    if old_extra != new_extra {
        compare_as_one(
            &old_extra,
            &new_extra,
            (&format!("{pointer}/*"), pointer),
            out,
            format!(
                "{}: additional properties are now restricted",
                place(pointer)
            ),
            format!(
                "{}: more additional properties are accepted",
                place(pointer)
            ),
        );
    }
}

/// Compares `old` with `new` at `at.0` and sums the outcome up at `at.1` in
/// one change: `if_breaking` replaces the breaking changes the comparison
/// found, or `if_compatible` is added when there were none.
fn compare_as_one(
    old: &Value,
    new: &Value,
    at: (&str, &str),
    out: &mut SchemaDiff,
    if_breaking: String,
    if_compatible: String,
) {
    let before = out.breaking.len();
    compare(old, new, at.0, out);
    if out.breaking.len() > before {
        out.breaking.truncate(before);
        breaking(out, at.1, if_breaking);
    } else {
        compatible(out, at.1, if_compatible);
    }
}
