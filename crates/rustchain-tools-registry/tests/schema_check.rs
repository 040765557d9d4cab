//! The import-time schema check against the compiler it stands in for: on
//! real tool schemas and on malformed ones, a schema passes the check
//! exactly when it compiles (but for the regular-expression syntax, which
//! only the compiler checks).

use std::sync::Arc;

use rustchain_tools_registry::{ImportOptions, Manifest, parse};
use rustchain_tools_schema::{CompiledSchema, FormatOptions};
use semver::Version;
use serde_json::{Value, json};

fn compiles(schema: &Value) -> bool {
    CompiledSchema::compile_input(Arc::new(schema.clone()), &FormatOptions::default()).is_ok()
}

fn checked(schema: &Value) -> bool {
    Manifest::new("t", Version::new(1, 0, 0), "d", schema.clone())
        .check()
        .is_ok()
}

#[test]
fn the_check_agrees_with_the_compiler_on_real_tools() -> Result<(), Box<dyn std::error::Error>> {
    let path = rustchain_tools_registry::retrieval_dir().join("corpus_10k.jsonl");
    let text = std::fs::read_to_string(&path)?;
    // Every 10th tool keeps the test to seconds in a debug build.
    let sample: Vec<&str> = text.lines().step_by(10).collect();
    let parsed = parse(
        &sample.join("\n"),
        "corpus",
        &ImportOptions::default().sanitize_names(true),
    )?;
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems.first());
    for (_, manifest) in &parsed.manifests {
        assert!(compiles(&manifest.input_schema), "{}", manifest.name);
    }
    assert!(parsed.manifests.len() >= 900);
    Ok(())
}

#[test]
fn the_check_refuses_what_the_compiler_refuses() {
    let bad = [
        json!({"type": "string"}),
        json!({"type": "object", "properties": {"a": {"type": 5}}}),
        json!({"type": "object", "properties": {"a": {"type": "dict"}}}),
        json!({"type": "object", "required": "a"}),
        json!({"type": "object", "properties": {"a": {"minLength": -1}}}),
        json!({"type": "object", "properties": {"a": {"anyOf": []}}}),
        json!({"type": "object", "properties": {"a": {"$ref": "#/$defs/none"}}}),
        json!({"type": "object", "properties": {"a": {"enum": 3}}}),
        json!({"type": "object", "additionalProperties": 1}),
        json!({"type": "object", "properties": {"a": {"items": "x"}}}),
        json!({"type": "object", "properties": {"a": {"items": [{"type": "string"}]}}}),
    ];
    for schema in &bad {
        assert!(!compiles(schema), "the compiler accepts {schema}");
        assert!(!checked(schema), "the check accepts {schema}");
    }
    let good = [
        json!({"type": "object"}),
        json!({"type": "object", "properties": {"a": {"type": ["string", "null"], "maxLength": 3}}}),
        json!({"type": "object", "$defs": {"s": {"type": "string"}}, "properties": {"a": {"$ref": "#/$defs/s"}}}),
        json!({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object", "properties": {"a": {"type": "array", "items": [{"type": "string"}]}}}),
        json!({"$schema": "http://json-schema.org/draft-04/schema#", "type": "object", "properties": {"n": {"type": "number", "maximum": 3, "exclusiveMaximum": true}}}),
    ];
    for schema in &good {
        assert!(compiles(schema), "the compiler refuses {schema}");
        assert!(checked(schema), "the check refuses {schema}");
    }
}
