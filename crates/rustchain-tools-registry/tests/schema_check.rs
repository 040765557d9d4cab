//! The import-time schema check against the compiler it stands in for: on
//! real tool schemas and on malformed ones, a schema passes the check
//! exactly when it compiles, regular expressions included.

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
        json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "[a-"}}}),
        json!({"type": "object", "patternProperties": {"(": {"type": "string"}}}),
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
        json!({"type": "object", "properties": {"a": {"type": "string", "pattern": "^(?=.*[0-9])[a-z0-9]{4,}$"}}}),
        json!({"type": "object", "patternProperties": {"^x-[a-z]+$": {"type": "string"}}}),
    ];
    for schema in &good {
        assert!(compiles(schema), "the compiler refuses {schema}");
        assert!(checked(schema), "the check refuses {schema}");
    }
}

#[test]
fn a_tool_with_a_bad_regex_is_refused_at_import_with_its_place()
-> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let registry = rustchain_tools_registry::Registry::open(dir.path())?;
    let lines = [
        json!({"name": "good", "inputSchema": {"type": "object", "properties": {"id": {"type": "string", "pattern": "^[a-z]+$"}}}}),
        json!({"name": "bad", "inputSchema": {"type": "object", "properties": {"id": {"type": "string", "pattern": "([a-z]+"}}}}),
    ]
    .map(|l| l.to_string());
    let report = registry.import_str(&lines.join("\n"), "test", &ImportOptions::default())?;
    assert_eq!(report.added.len(), 1);
    assert_eq!(report.added[0].name, "good");
    assert_eq!(report.problems.len(), 1);
    let problem = &report.problems[0];
    assert_eq!(problem.line, 2);
    assert!(
        problem.reason.contains("/properties/id/pattern"),
        "{}",
        problem.reason
    );
    assert!(!registry.snapshot().contains("bad"));
    Ok(())
}
