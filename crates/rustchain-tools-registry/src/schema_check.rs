//! The import-time check that a schema is a well-formed JSON Schema, without
//! compiling a validator: compiling 10,000 schemas takes longer than the
//! whole registration may, and most registered tools are never called.
//! Validators are compiled on first use (`Store::load`).
//!
//! The check walks every subschema and checks each known keyword's value
//! against the meta-schemas (draft 4 to 2020-12, accepting the forms of
//! each), that local references (`#/...`) point at something, and that
//! every `pattern` and `patternProperties` name compiles as the validator
//! compiles it (ECMA-262 syntax translated by `jsonschema-regex`, then
//! `fancy-regex`, jsonschema's default engine), so that a tool whose every
//! call would fail on a bad regex is refused at import.
//!
//! Why not jsonschema's own meta-schema validation: measured here on the
//! 10,000-tool corpus it takes 38-45 ms (release), three times this walk,
//! and it does not check that local references resolve.

use std::cell::RefCell;

use rustc_hash::FxHashSet;
use serde_json::{Map, Value};

/// The seven type names of JSON Schema.
const TYPES: [&str; 7] = [
    "array", "boolean", "integer", "null", "number", "object", "string",
];

/// What a keyword's value must be.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A schema.
    Schema,
    /// A non-empty array of schemas.
    SchemaArray,
    /// An object of schemas.
    SchemaMap,
    /// A non-negative integer.
    Count,
    /// A string.
    Text,
    /// A boolean.
    Boolean,
}

/// The kind of the keywords with one kind of value (the others are
/// checked one by one); a `match` compiles to a length switch and a few
/// comparisons, which matters at 10,000 schemas an import.
fn kind(keyword: &str) -> Option<Kind> {
    Some(match keyword {
        "not"
        | "if"
        | "then"
        | "else"
        | "contains"
        | "propertyNames"
        | "additionalProperties"
        | "additionalItems"
        | "unevaluatedProperties"
        | "unevaluatedItems"
        | "contentSchema"
        | "items" => Kind::Schema,
        "allOf" | "anyOf" | "oneOf" | "prefixItems" => Kind::SchemaArray,
        "properties" | "patternProperties" | "$defs" | "definitions" | "dependentSchemas" => {
            Kind::SchemaMap
        }
        "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties" | "minProperties"
        | "maxContains" | "minContains" => Kind::Count,
        "pattern" | "format" | "$ref" | "$id" | "id" | "$schema" | "$anchor" | "$dynamicRef"
        | "$dynamicAnchor" | "title" | "contentEncoding" | "contentMediaType" | "$comment" => {
            Kind::Text
        }
        "uniqueItems" | "readOnly" | "writeOnly" | "deprecated" => Kind::Boolean,
        _ => return None,
    })
}

/// Checks that `schema` is a well-formed JSON Schema; the reason names the
/// place (a JSON pointer) and what is wrong there.
pub(crate) fn check_schema(schema: &Value) -> Result<(), String> {
    let mut path = Vec::new();
    let draft = schema
        .get("$schema")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let ctx = Ctx {
        root: schema,
        // Before 2020-12, `items` could be an array of schemas.
        array_items: ["draft-04", "draft-06", "draft-07", "2019-09"]
            .iter()
            .any(|d| draft.contains(d)),
    };
    walk(&ctx, schema, &mut path).map_err(|reason| {
        if path.is_empty() {
            reason
        } else {
            format!("at /{}: {reason}", path.join("/"))
        }
    })
}

/// The schema being checked and what its draft allows.
struct Ctx<'a> {
    root: &'a Value,
    array_items: bool,
}

/// Checks one subschema at `path` (left pointing at the fault on error).
fn walk<'a>(ctx: &Ctx<'_>, schema: &'a Value, path: &mut Vec<&'a str>) -> Result<(), String> {
    let object = match schema {
        Value::Bool(_) => return Ok(()),
        Value::Object(object) => object,
        other => {
            return Err(format!(
                "a schema must be an object or a boolean, not {other}"
            ));
        }
    };
    for (keyword, value) in object {
        path.push(keyword);
        keyword_value(ctx, object, keyword, value, path)?;
        path.pop();
    }
    Ok(())
}

fn keyword_value<'a>(
    ctx: &Ctx<'_>,
    object: &'a Map<String, Value>,
    keyword: &'a str,
    value: &'a Value,
    path: &mut Vec<&'a str>,
) -> Result<(), String> {
    let want = |what: &str| Err(format!("`{keyword}` must be {what}, not {value}"));
    let k = keyword;
    if k == "type" {
        return match value {
            Value::String(t) if TYPES.contains(&t.as_str()) => Ok(()),
            Value::Array(types)
                if types
                    .iter()
                    .all(|t| t.as_str().is_some_and(|t| TYPES.contains(&t)))
                    && types
                        .iter()
                        .enumerate()
                        .all(|(i, t)| !types[..i].contains(t)) =>
            {
                Ok(())
            }
            _ => want(
                "one of array, boolean, integer, null, number, object, string (or a list of distinct ones)",
            ),
        };
    }
    if k == "items" && value.is_array() {
        // Draft 4 to 2019-09: an array of schemas, one per position.
        return if ctx.array_items {
            schemas(ctx, value, path)
        } else {
            want("a schema (an array of schemas is `prefixItems` since draft 2020-12)")
        };
    }
    let kind = kind(k);
    if kind == Some(Kind::Schema) {
        return walk(ctx, value, path);
    }
    if kind == Some(Kind::SchemaArray) {
        return match value {
            Value::Array(list) if !list.is_empty() => schemas(ctx, value, path),
            _ => want("a non-empty array of schemas"),
        };
    }
    if kind == Some(Kind::SchemaMap) {
        let Value::Object(map) = value else {
            return want("an object of schemas");
        };
        for (name, sub) in map {
            path.push(name);
            if k == "patternProperties" {
                regex(name).map_err(|e| format!("this property name pattern {e}"))?;
            }
            walk(ctx, sub, path)?;
            path.pop();
        }
        return Ok(());
    }
    if kind == Some(Kind::Count) {
        let ok = value.as_u64().is_some()
            || value.as_f64().is_some_and(|n| n >= 0.0 && n.fract() == 0.0);
        return if ok {
            Ok(())
        } else {
            want("a non-negative integer")
        };
    }
    if kind == Some(Kind::Text) {
        let Value::String(text) = value else {
            return want("a string");
        };
        if k == "$ref" {
            return reference(ctx, object, text);
        }
        if k == "pattern" {
            return regex(text).map_err(|e| format!("`pattern` {e}"));
        }
        return Ok(());
    }
    if kind == Some(Kind::Boolean) {
        return if value.is_boolean() {
            Ok(())
        } else {
            want("true or false")
        };
    }
    match k {
        "minimum" | "maximum" if !value.is_number() => want("a number"),
        // A number from draft 6 on, a boolean in draft 4.
        "exclusiveMinimum" | "exclusiveMaximum" if !(value.is_number() || value.is_boolean()) => {
            want("a number")
        }
        "multipleOf" if !value.as_f64().is_some_and(|n| n > 0.0) => want("a number greater than 0"),
        "enum" if !value.is_array() => want("an array"),
        "required" => match value {
            Value::Array(names) if names.iter().all(Value::is_string) => Ok(()),
            _ => want("an array of property names"),
        },
        "dependentRequired" => match value {
            Value::Object(map) if map.values().all(string_array) => Ok(()),
            _ => want("an object of arrays of property names"),
        },
        "dependencies" => {
            let Value::Object(map) = value else {
                return want("an object");
            };
            for (name, sub) in map {
                if !string_array(sub) {
                    path.push(name);
                    walk(ctx, sub, path)?;
                    path.pop();
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn schemas<'a>(ctx: &Ctx<'_>, list: &'a Value, path: &mut Vec<&'a str>) -> Result<(), String> {
    let Value::Array(list) = list else {
        return Ok(());
    };
    for (i, sub) in list.iter().enumerate() {
        // Array positions have no borrowed name; `*` marks "an item of".
        path.push(ITEM_NAMES.get(i).copied().unwrap_or("*"));
        walk(ctx, sub, path)?;
        path.pop();
    }
    Ok(())
}

/// Names of the first array positions, borrowed for error paths.
const ITEM_NAMES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

fn string_array(value: &Value) -> bool {
    value
        .as_array()
        .is_some_and(|list| list.iter().all(Value::is_string))
}

/// How many accepted patterns a thread remembers before it starts over.
const ACCEPTED_MAX: usize = 4096;

thread_local! {
    /// Patterns this thread already compiled without error: the tools of one
    /// source often share patterns, and compiling one takes tens of
    /// microseconds (more than the rest of a typical schema's check).
    static ACCEPTED: RefCell<FxHashSet<String>> = RefCell::new(FxHashSet::default());
}

/// Checks that `pattern` compiles as the validator's `pattern` compiles it;
/// the reason completes "`pattern` ...".
fn regex(pattern: &str) -> Result<(), String> {
    if ACCEPTED.with_borrow(|accepted| accepted.contains(pattern)) {
        return Ok(());
    }
    let translated = jsonschema_regex::to_rust_regex(pattern)
        .map_err(|()| format!("{pattern:?} is not a valid ECMA-262 regular expression"))?;
    fancy_regex::Regex::new(&translated).map_err(|e| {
        format!("{pattern:?} is not a regular expression the validator accepts: {e}")
    })?;
    ACCEPTED.with_borrow_mut(|accepted| {
        if accepted.len() >= ACCEPTED_MAX {
            accepted.clear();
        }
        accepted.insert(pattern.to_owned());
    });
    Ok(())
}

/// Checks a `$ref`: a local JSON pointer must point at something in the
/// document; a reference to another document cannot be resolved (nothing
/// is fetched), unless the schema declares an `$id` it may be relative to.
fn reference(ctx: &Ctx<'_>, object: &Map<String, Value>, target: &str) -> Result<(), String> {
    let Some(fragment) = target.strip_prefix('#') else {
        if ctx.root.get("$id").is_some() || object.get("$id").is_some() {
            return Ok(());
        }
        return Err(format!(
            "`$ref` points at another document ({target}), which is not resolved; \
             only references within the schema (#/...) are"
        ));
    };
    // `#name` is an anchor, and percent-encoded pointers are left to the compiler.
    if !fragment.starts_with('/') || fragment.contains('%') {
        return Ok(());
    }
    if ctx.root.pointer(fragment).is_some() {
        Ok(())
    } else {
        Err(format!("`$ref` {target} points at nothing in the schema"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn accepts_ordinary_tool_schemas() {
        let schema = json!({
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City", "minLength": 1},
                "days": {"type": ["integer", "null"], "minimum": 1, "exclusiveMaximum": 15},
                "unit": {"enum": ["c", "f"]},
                "tags": {"type": "array", "items": {"$ref": "#/$defs/tag"}, "uniqueItems": true}
            },
            "required": ["city"],
            "additionalProperties": false,
            "$defs": {"tag": {"type": "string", "pattern": "^[a-z]+$"}}
        });
        assert_eq!(check_schema(&schema), Ok(()));
        assert_eq!(check_schema(&json!(true)), Ok(()));
    }

    #[test]
    fn accepts_the_ecma_regexes_the_validator_accepts() {
        for pattern in [
            "^[a-z]+$",
            r"^\d{3}-\d{4}$",
            r"^(?=.*\d)\w+$",
            r"(?<=a)b",
            r"^\p{L}+$",
            r"\cA",
            "",
        ] {
            let schema = json!({"type": "string", "pattern": pattern});
            assert_eq!(check_schema(&schema), Ok(()), "{pattern}");
            let compiled =
                rustchain_tools_schema::CompiledSchema::compile_shared(std::sync::Arc::new(schema));
            assert!(compiled.is_ok(), "the validator accepts {pattern}");
        }
    }

    #[test]
    fn a_pattern_the_validator_refuses_is_refused_with_its_place() {
        for pattern in ["[a-", "(", "a{2,1}", r"\"] {
            let schema = json!({"type": "object", "properties": {"p": {"type": "string", "pattern": pattern}}});
            let reason = check_schema(&schema).expect_err(pattern);
            assert!(reason.contains("/properties/p/pattern"), "{reason}");
            let compiled =
                rustchain_tools_schema::CompiledSchema::compile_shared(std::sync::Arc::new(schema));
            assert!(compiled.is_err(), "the validator refuses {pattern} too");
        }
    }

    #[test]
    fn refuses_malformed_keywords_and_says_where() {
        let cases = [
            (
                json!({"properties": {"a": {"type": 5}}}),
                "/properties/a/type",
            ),
            (json!({"type": "dict"}), "/type"),
            (json!({"required": "a"}), "/required"),
            (json!({"properties": []}), "/properties"),
            (json!({"anyOf": []}), "/anyOf"),
            (
                json!({"$schema": "http://json-schema.org/draft-07/schema#", "items": [{"type": "string"}, {"minLength": -1}]}),
                "/items/1/minLength",
            ),
            (json!({"items": [{"type": "string"}]}), "/items"),
            (
                json!({"properties": {"a": {"$ref": "#/$defs/missing"}}}),
                "/properties/a/$ref",
            ),
            (json!({"$ref": "https://example.com/s.json"}), "/$ref"),
            (json!({"multipleOf": 0}), "/multipleOf"),
            (json!({"not": 3}), "/not"),
            (
                json!({"properties": {"a": {"type": "string", "pattern": "[a-"}}}),
                "/properties/a/pattern",
            ),
            (json!({"pattern": "(?<"}), "/pattern"),
            (
                json!({"patternProperties": {"^x(": {"type": "string"}}}),
                "/patternProperties/^x(",
            ),
        ];
        for (schema, place) in cases {
            let reason = check_schema(&schema).expect_err("malformed");
            assert!(reason.contains(place), "{reason} should name {place}");
        }
    }

    fn schema_strategy() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(json!({"type": "string"})),
            Just(json!({"type": "integer", "minimum": 0})),
            Just(json!({"enum": [1, "a"]})),
            Just(json!(true)),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::btree_map("[a-z]{1,4}", inner.clone(), 0..4)
                    .prop_map(|m| json!({"type": "object", "properties": m})),
                inner
                    .clone()
                    .prop_map(|i| json!({"type": "array", "items": i})),
                prop::collection::vec(inner, 1..3).prop_map(|v| json!({"anyOf": v})),
            ]
        })
    }

    proptest! {
        #[test]
        fn well_formed_schemas_pass_and_never_panic(schema in schema_strategy()) {
            prop_assert_eq!(check_schema(&schema), Ok(()));
        }

        #[test]
        fn any_json_is_answered_without_panic(text in "[\\[\\]{}\":,a-z0-9 ]{0,40}") {
            if let Ok(value) = serde_json::from_str::<Value>(&text) {
                let _ = check_schema(&value);
            }
        }
    }
}
