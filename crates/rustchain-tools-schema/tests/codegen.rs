//! The Rust types generated from the tool-manifest schema: the schema derived
//! back from them accepts and refuses the same inputs as the source.

use rustchain_tools_schema::{CompiledSchema, derive_input_schema, manifest::ToolManifest};
use serde_json::{Value, json};

fn source() -> Value {
    serde_json::from_str(include_str!("../schemas/tool-manifest.json")).unwrap()
}

fn examples() -> Vec<(Value, bool)> {
    let minimal = json!({"name": "t", "version": "1.0.0", "description": "d", "inputSchema": {"type": "object"}});
    let mut full = minimal.clone();
    full["title"] = json!("T");
    full["category"] = json!("text");
    full["tags"] = json!(["a", "b"]);
    full["outputSchema"] = json!({"type": "object"});
    full["annotations"] = json!({"readOnlyHint": true, "openWorldHint": false});
    full["permissions"] = json!({"fileRead": ["/data"], "network": ["example.com:443"]});
    full["source"] = json!("wasm");
    let without = |key: &str| {
        let mut v = minimal.clone();
        v.as_object_mut().unwrap().remove(key);
        v
    };
    let with = |key: &str, value: Value| {
        let mut v = full.clone();
        v[key] = value;
        v
    };
    vec![
        (minimal.clone(), true),
        (full.clone(), true),
        (without("name"), false),
        (without("version"), false),
        (without("inputSchema"), false),
        (with("extra", json!(1)), false),
        (with("tags", json!("a")), false),
        (with("tags", json!([1])), false),
        (with("source", json!("plugin")), false),
        (with("annotations", json!({"readOnlyHint": "yes"})), false),
        (with("annotations", json!({"unknownHint": true})), false),
        (with("permissions", json!({"fileRead": "/data"})), false),
        (with("inputSchema", json!("object")), false),
        (with("description", json!(5)), false),
    ]
}

#[test]
fn generated_types_round_trip_the_source_schema() {
    let source = CompiledSchema::compile(&source()).unwrap();
    let derived = CompiledSchema::compile(&derive_input_schema::<ToolManifest>()).unwrap();
    for (example, valid) in examples() {
        assert_eq!(
            source.validate(&example).is_ok(),
            valid,
            "source on {example}"
        );
        assert_eq!(
            derived.validate(&example).is_ok(),
            valid,
            "derived on {example}"
        );
        let parsed = serde_json::from_value::<ToolManifest>(example.clone());
        assert_eq!(parsed.is_ok(), valid, "deserializing {example}");
        if let Ok(manifest) = parsed {
            assert_eq!(
                serde_json::to_value(&manifest).unwrap(),
                example,
                "round trip"
            );
        }
    }
}
