//! Exports to every format: known provider rejections as regression fixtures,
//! and every real function definition of the shared corpus through every
//! format and its checker.

use std::path::PathBuf;

use rustchain_tools_schema::export::{
    Dialect, ExportOptions, Format, ToolDefinition, check, export,
};
use serde_json::{Value, json};

fn tool(schema: Value) -> ToolDefinition {
    ToolDefinition {
        name: "files.search-text".into(),
        title: Some("Search".into()),
        description: "Searches files.".into(),
        input_schema: schema,
        output_schema: None,
        annotations: Some(json!({"readOnlyHint": true})),
    }
}

fn rich_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri", "description": "Where to look."},
            "when": {"type": "string", "format": "date-time"},
            "limit": {"type": "integer", "minimum": 1, "default": 10},
            "tags": {"type": "object", "propertyNames": {"pattern": "^[a-z]+$"},
                     "properties": {"a": {"type": "string"}}},
            "filter": {"$ref": "#/$defs/filter"},
            "mode": {"const": "fast"},
            "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "maybe": {"type": ["string", "null"]}
        },
        "required": ["url"],
        "$defs": {"filter": {"type": "object", "properties": {"glob": {"type": "string", "maxLength": 64}},
                             "required": ["glob"]}}
    })
}

fn all_keys(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                out.push(k.clone());
                all_keys(v, out);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| all_keys(v, out)),
        _ => {}
    }
}

fn keys(value: &Value) -> Vec<String> {
    let mut out = Vec::new();
    all_keys(value, &mut out);
    out
}

#[test]
fn mcp_export_keeps_the_schema_and_the_annotations() {
    let out = export(&tool(rich_schema()), ExportOptions::new(Format::Mcp)).unwrap();
    assert_eq!(out.document["name"], "files.search-text");
    assert_eq!(out.document["inputSchema"], rich_schema());
    assert_eq!(out.document["annotations"]["readOnlyHint"], true);
    assert!(out.changes.is_empty());
    assert!(check(Format::Mcp, &out.document).is_empty());
}

/// Some hosts reject `$defs` (fastmcp #2808, Bedrock AgentCore): inlined on request.
#[test]
fn mcp_export_can_inline_refs_and_downgrade_to_draft_07() {
    let mut options = ExportOptions::new(Format::Mcp);
    options.inline_refs = true;
    let out = export(&tool(rich_schema()), options).unwrap();
    let k = keys(&out.document);
    assert!(
        !k.contains(&"$defs".to_owned()) && !k.contains(&"$ref".to_owned()),
        "{k:?}"
    );
    assert_eq!(
        out.document["inputSchema"]["properties"]["filter"]["required"],
        json!(["glob"])
    );

    let mut options = ExportOptions::new(Format::Mcp);
    options.dialect = Dialect::Draft07;
    let out = export(&tool(json!({
        "type": "object",
        "properties": {"p": {"$ref": "#/$defs/p"}, "t": {"prefixItems": [{"type": "string"}], "items": false}},
        "dependentRequired": {"a": ["b"]},
        "$defs": {"p": {"type": "string"}}
    })), options).unwrap();
    let schema = &out.document["inputSchema"];
    assert_eq!(schema["$schema"], "http://json-schema.org/draft-07/schema#");
    assert_eq!(schema["properties"]["p"]["$ref"], "#/definitions/p");
    assert_eq!(schema["definitions"]["p"]["type"], "string");
    assert_eq!(
        schema["properties"]["t"]["items"],
        json!([{"type": "string"}])
    );
    assert_eq!(schema["properties"]["t"]["additionalItems"], json!(false));
    assert_eq!(schema["dependencies"], json!({"a": ["b"]}));
    // the downgraded schema still validates as draft-07 does
    let compiled = rustchain_tools_schema::CompiledSchema::compile(schema).unwrap();
    assert!(compiled.validate(&json!({"p": "x", "t": ["a"]})).is_ok());
    assert!(compiled.validate(&json!({"p": 1})).is_err());
    assert!(compiled.validate(&json!({"a": 1})).is_err());
}

/// OpenAI strict rejects `format: uri` (oh-my-pi #206), `propertyNames`
/// (#209), `default` (dotnet/extensions #6266) and open objects.
#[test]
fn openai_strict_export_obeys_strict_mode_and_says_what_changed() {
    let out = export(
        &tool(rich_schema()),
        ExportOptions::new(Format::OpenaiStrict),
    )
    .unwrap();
    let function = &out.document["function"];
    assert_eq!(function["name"], "files_search-text");
    assert_eq!(function["strict"], true);
    let params = &function["parameters"];
    let k = keys(params);
    for banned in ["propertyNames", "default", "$schema", "oneOf", "maxLength"] {
        assert!(!k.contains(&banned.to_owned()), "{banned} in {params}");
    }
    assert!(params["properties"]["url"].get("format").is_none());
    assert_eq!(params["properties"]["when"]["format"], "date-time");
    assert!(
        params["properties"]["url"]["description"]
            .as_str()
            .unwrap()
            .contains("format uri")
    );
    assert_eq!(
        params["properties"]["limit"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(params["additionalProperties"], false);
    assert_eq!(params["required"].as_array().unwrap().len(), 8);
    assert_eq!(params["$defs"]["filter"]["additionalProperties"], false);
    assert!(
        check(Format::OpenaiStrict, &out.document).is_empty(),
        "{:?}",
        check(Format::OpenaiStrict, &out.document)
    );
    let what: Vec<&str> = out.changes.iter().map(|c| c.what.as_str()).collect();
    assert!(
        what.iter()
            .any(|w| w.contains("made required and nullable")),
        "{what:?}"
    );
    assert!(
        what.iter().any(|w| w.contains("oneOf became anyOf")),
        "{what:?}"
    );
    assert!(
        what.iter().any(|w| w.contains("files.search-text")),
        "{what:?}"
    );
}

#[test]
fn openai_strict_refuses_what_it_cannot_say() {
    let map = json!({"type": "object", "properties": {
        "env": {"type": "object", "additionalProperties": {"type": "string"}}}});
    let out = export(&tool(map), ExportOptions::new(Format::OpenaiStrict)).unwrap();
    let env = &out.document["function"]["parameters"]["properties"]["env"];
    assert_eq!(env["type"], json!(["array", "null"]));
    assert_eq!(env["items"]["properties"]["value"]["type"], "string");
    assert!(
        out.changes
            .iter()
            .any(|c| c.pointer == "/properties/env" && c.what.contains("{key, value}"))
    );
    assert!(
        check(Format::OpenaiStrict, &out.document).is_empty(),
        "{:?}",
        check(Format::OpenaiStrict, &out.document)
    );

    let mut deep = json!({"type": "string"});
    for _ in 0..11 {
        deep = json!({"type": "object", "properties": {"x": deep}, "required": ["x"]});
    }
    let err = export(&tool(deep), ExportOptions::new(Format::OpenaiStrict)).unwrap_err();
    assert!(err.to_string().contains("limit of 10"), "{err}");
}

/// Gemini rejects `$ref`/`$defs` (gemini-cli #13326), `additionalProperties`
/// (promptfoo #6902), properties on non-objects (opencode #11889), `$schema`
/// (gemini-cli #14970).
#[test]
fn gemini_export_uses_the_openapi_subset() {
    let mut schema = rich_schema();
    schema["properties"]["name"] =
        json!({"type": "string", "properties": {"x": {}}, "required": ["x"]});
    schema["additionalProperties"] = json!(false);
    let out = export(&tool(schema), ExportOptions::new(Format::Gemini)).unwrap();
    let params = &out.document["parameters"];
    let k = keys(params);
    for banned in [
        "$ref",
        "$defs",
        "additionalProperties",
        "$schema",
        "const",
        "oneOf",
        "propertyNames",
    ] {
        assert!(!k.contains(&banned.to_owned()), "{banned} in {params}");
    }
    assert_eq!(
        params["properties"]["filter"]["properties"]["glob"]["maxLength"],
        64
    );
    assert_eq!(params["properties"]["mode"]["enum"], json!(["fast"]));
    assert_eq!(
        params["properties"]["maybe"],
        json!({"type": "string", "nullable": true})
    );
    assert!(params["properties"]["name"].get("properties").is_none());
    assert!(
        check(Format::Gemini, &out.document).is_empty(),
        "{:?}",
        check(Format::Gemini, &out.document)
    );
    assert_eq!(out.document["name"], "files.search-text");
}

#[test]
fn gemini_refuses_recursion_and_omits_empty_parameters() {
    let recursive = json!({"type": "object", "properties": {"node": {"$ref": "#/$defs/node"}},
        "$defs": {"node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/node"}}}}});
    let err = export(&tool(recursive), ExportOptions::new(Format::Gemini)).unwrap_err();
    assert!(err.to_string().contains("recursive"), "{err}");
    let out = export(
        &tool(json!({"type": "object", "properties": {}})),
        ExportOptions::new(Format::Gemini),
    )
    .unwrap();
    assert!(out.document.get("parameters").is_none());
}

#[test]
fn anthropic_export_has_an_input_schema() {
    let out = export(&tool(rich_schema()), ExportOptions::new(Format::Anthropic)).unwrap();
    assert_eq!(out.document["name"], "files_search-text");
    assert_eq!(out.document["input_schema"]["type"], "object");
    assert!(out.document["input_schema"].get("$schema").is_none());
    assert!(check(Format::Anthropic, &out.document).is_empty());
}

#[test]
fn long_names_stay_unique_when_cut() {
    let mut a = tool(json!({"type": "object"}));
    a.name = format!("{}a", "x".repeat(80));
    let mut b = a.clone();
    b.name = format!("{}b", "x".repeat(80));
    let na = export(&a, ExportOptions::new(Format::Openai))
        .unwrap()
        .document["function"]["name"]
        .clone();
    let nb = export(&b, ExportOptions::new(Format::Openai))
        .unwrap()
        .document["function"]["name"]
        .clone();
    assert_ne!(na, nb);
    assert!(na.as_str().unwrap().len() <= 64);
}

fn corpus_path() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../..");
    let beside = root.join("shared/retrieval/corpus.jsonl");
    if beside.exists() {
        return beside;
    }
    PathBuf::from("/work/shared/retrieval/corpus.jsonl")
}

/// Every function definition of the shared corpus (about 4,000, from public
/// function-calling benchmarks and MCP servers) exports to every format and
/// passes that format's checker.
#[test]
fn every_real_definition_exports_to_every_format_and_passes_its_checker() {
    let path = corpus_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("the shared corpus should be at {}: {e}", path.display()));
    let mut count = 0;
    let mut changed = std::collections::BTreeMap::<Format, usize>::new();
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let definition = ToolDefinition {
            name: entry["name"].as_str().unwrap().to_owned(),
            title: None,
            description: entry["description"].as_str().unwrap_or_default().to_owned(),
            input_schema: entry["parameters"].clone(),
            output_schema: None,
            annotations: None,
        };
        for format in Format::ALL {
            let out = export(&definition, ExportOptions::new(format))
                .unwrap_or_else(|e| panic!("{} to {format}: {e}", entry["id"]));
            let problems = check(format, &out.document);
            assert!(
                problems.is_empty(),
                "{} to {format}: {problems:?}\n{}",
                entry["id"],
                out.document
            );
            *changed.entry(format).or_default() += usize::from(!out.changes.is_empty());
        }
        count += 1;
    }
    assert!(count > 4000, "only {count} definitions read");
    eprintln!("{count} definitions; exports that changed meaning, by format: {changed:?}");
    assert_eq!(changed[&Format::Mcp], 0, "MCP exports are faithful");
    assert!(changed[&Format::OpenaiStrict] > 0);
}
