//! Validation through the public API: every violation, with pointer, keyword,
//! expected and actual values; property tests over generated schemas.

use proptest::prelude::*;
use rustchain_tools_schema::{CompiledSchema, SchemaError};
use serde_json::{Map, Value, json};

fn schema() -> CompiledSchema {
    CompiledSchema::compile(&json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 8, "pattern": "^[a-z]+$"},
            "size": {"type": "integer", "minimum": 1, "exclusiveMaximum": 10},
            "mode": {"enum": ["fast", "safe"]},
            "tags": {"type": "array", "items": {"type": "string"}, "uniqueItems": true, "maxItems": 2},
            "when": {"type": "string", "format": "date"},
            "kind": {"const": "v1"},
            "nested": {"$ref": "#/$defs/point"}
        },
        "required": ["name", "size"],
        "additionalProperties": false,
        "$defs": {
            "point": {"type": "object", "properties": {"x": {"type": "number"}}, "required": ["x"]}
        }
    }))
    .unwrap()
}

fn violations(value: Value) -> Vec<(String, String)> {
    let mut found: Vec<(String, String)> = schema()
        .validate(&value)
        .unwrap_err()
        .into_iter()
        .map(|v| (v.pointer, v.keyword))
        .collect();
    found.sort();
    found
}

#[test]
fn a_valid_value_passes() {
    assert!(
        schema()
            .validate(
                &json!({"name": "ab", "size": 9, "mode": "safe", "tags": ["a"],
                          "when": "2026-11-25", "kind": "v1", "nested": {"x": 1.5}})
            )
            .is_ok()
    );
}

#[test]
fn every_violation_is_reported_not_only_the_first() {
    let found = violations(json!({
        "name": "ABCDEFGHIJ", "size": 10, "mode": "slow", "tags": ["a", "a", "b"],
        "when": "yesterday", "kind": "v2", "nested": {}, "extra": 1
    }));
    let expected: Vec<(String, String)> = [
        ("/extra", "additionalProperties"),
        ("/kind", "const"),
        ("/mode", "enum"),
        ("/name", "maxLength"),
        ("/name", "pattern"),
        ("/nested/x", "required"),
        ("/size", "exclusiveMaximum"),
        ("/tags", "maxItems"),
        ("/tags", "uniqueItems"),
        ("/when", "format"),
    ]
    .iter()
    .map(|(p, k)| ((*p).to_owned(), (*k).to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn messages_name_the_place_the_rule_and_the_values() {
    let all = schema()
        .validate(&json!({"name": "", "size": 0, "mode": "slow"}))
        .unwrap_err();
    let by = |p: &str, k: &str| {
        all.iter()
            .find(|v| v.pointer == p && v.keyword == k)
            .unwrap()
            .clone()
    };
    let size = by("/size", "minimum");
    assert_eq!(size.message, "at /size: 0 is less than the minimum of 1");
    assert_eq!((size.expected, size.actual), (json!(1), json!(0)));
    let mode = by("/mode", "enum");
    assert_eq!(
        mode.message,
        "at /mode: \"slow\" is not one of \"fast\", \"safe\""
    );
    assert_eq!(mode.expected, json!(["fast", "safe"]));
    let name = by("/name", "minLength");
    assert_eq!(
        name.message,
        "at /name: the string has 0 characters, fewer than the minimum of 1"
    );
}

#[test]
fn alternatives_say_why_each_one_failed() {
    let schema = CompiledSchema::compile(&json!({
        "anyOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]
    }))
    .unwrap();
    let v = schema.validate(&json!(2)).unwrap_err();
    assert_eq!(v[0].keyword, "anyOf");
    assert!(
        v[0].message
            .contains("option 1: at the top level: expected string"),
        "{}",
        v[0].message
    );
    assert!(
        v[0].message
            .contains("option 2: at the top level: 2 is less than the minimum of 5"),
        "{}",
        v[0].message
    );
}

#[test]
fn if_then_else_and_dependent_required_are_enforced() {
    let schema = CompiledSchema::compile(&json!({
        "type": "object",
        "if": {"properties": {"kind": {"const": "card"}}},
        "then": {"required": ["number"]},
        "dependentRequired": {"billing": ["address"]}
    }))
    .unwrap();
    assert!(schema.validate(&json!({"kind": "cash"})).is_ok());
    let v = schema
        .validate(&json!({"kind": "card", "billing": 1}))
        .unwrap_err();
    let mut pointers: Vec<&str> = v.iter().map(|v| v.pointer.as_str()).collect();
    pointers.sort_unstable();
    assert_eq!(pointers, ["/address", "/number"]);
}

#[test]
fn unusable_schemas_are_refused_with_the_reason() {
    let err = CompiledSchema::compile(&json!({"type": "strng"})).unwrap_err();
    assert!(matches!(err, SchemaError::Invalid { .. }), "{err}");
    let err =
        CompiledSchema::compile(&json!({"$ref": "https://example.com/remote.json"})).unwrap_err();
    assert!(err.to_string().contains("invalid JSON Schema"), "{err}");
    let err = CompiledSchema::compile_input(
        std::sync::Arc::new(json!({"type": "array"})),
        &rustchain_tools_schema::FormatOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        SchemaError::NotAnObject {
            found: "\"array\"".into()
        }
    );
}

/// A property's type in a generated schema, with a generator of valid values
/// and a value that is never of that type.
#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    Int,
    Bool,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Int => "integer",
            Kind::Bool => "boolean",
        }
    }

    fn wrong(self) -> Value {
        match self {
            Kind::Str => json!(1),
            Kind::Int | Kind::Bool => json!("not this"),
        }
    }
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![Just(Kind::Str), Just(Kind::Int), Just(Kind::Bool)]
}

fn value_of(kind: Kind) -> BoxedStrategy<Value> {
    match kind {
        Kind::Str => "\\PC{0,12}".prop_map(Value::from).boxed(),
        Kind::Int => any::<i64>().prop_map(Value::from).boxed(),
        Kind::Bool => any::<bool>().prop_map(Value::from).boxed(),
    }
}

/// A schema of up to 6 typed properties (names may hold `/` and `~`), nested
/// one level under `inner`, and a valid value for it.
fn schema_and_value() -> impl Strategy<Value = (Value, Value, Vec<(String, Kind)>)> {
    prop::collection::btree_map("[a-z/~]{1,6}", kind(), 1..6)
        .prop_flat_map(|props| {
            let props: Vec<(String, Kind)> = props.into_iter().collect();
            let values: Vec<BoxedStrategy<Value>> = props.iter().map(|(_, k)| value_of(*k)).collect();
            (Just(props), values)
        })
        .prop_map(|(props, values)| {
            let mut properties = Map::new();
            let mut inner = Map::new();
            for ((name, kind), value) in props.iter().zip(values) {
                properties.insert(name.clone(), json!({"type": kind.name()}));
                inner.insert(name.clone(), value);
            }
            let names: Vec<&String> = props.iter().map(|(n, _)| n).collect();
            let schema = json!({
                "type": "object",
                "properties": {"inner": {"type": "object", "properties": properties, "required": names}},
                "required": ["inner"]
            });
            (schema, json!({"inner": inner}), props)
        })
}

fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

proptest! {
    #[test]
    fn values_generated_from_a_schema_validate((schema, value, _) in schema_and_value()) {
        prop_assert!(CompiledSchema::compile(&schema).unwrap().validate(&value).is_ok());
    }

    #[test]
    fn a_value_mutated_at_one_place_fails_at_that_pointer(
        (schema, mut value, props) in schema_and_value(),
        pick in any::<prop::sample::Index>(),
        remove in any::<bool>(),
    ) {
        let (name, kind) = &props[pick.index(props.len())];
        let inner = value["inner"].as_object_mut().unwrap();
        let keyword = if remove {
            inner.remove(name);
            "required"
        } else {
            inner.insert(name.clone(), kind.wrong());
            "type"
        };
        let violations = CompiledSchema::compile(&schema).unwrap().validate(&value).unwrap_err();
        prop_assert_eq!(violations.len(), 1, "{:?}", violations);
        prop_assert_eq!(&violations[0].pointer, &format!("/inner/{}", escape(name)));
        prop_assert_eq!(&violations[0].keyword, keyword);
        // the pointer really leads to the offending value (or where it belongs)
        if !remove {
            prop_assert_eq!(value.pointer(&violations[0].pointer), Some(&kind.wrong()));
        }
    }
}
