//! Checkers that encode each format's documented rules, independent of the
//! export code, so that an export is tested against the rules and not
//! against itself.

use serde_json::Value;

use super::{
    Format, GEMINI_KEYWORDS, GEMINI_TYPES, STRICT_FORMATS, STRICT_KEYWORDS, STRICT_MAX_DEPTH,
    STRICT_MAX_ENUM_VALUES, STRICT_MAX_PROPERTIES, walk,
};

/// Every rule of `format` that `document` (an exported definition) breaks;
/// empty when the provider would accept it.
pub fn check(format: Format, document: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    match format {
        Format::Mcp => {
            let name = document["name"].as_str().unwrap_or_default();
            if name.is_empty()
                || name.len() > 128
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
            {
                problems.push(format!("name {name:?} breaks the MCP tool-name rule"));
            }
            object_root(&document["inputSchema"], "inputSchema", &mut problems);
            if let Err(e) = crate::CompiledSchema::compile(&document["inputSchema"]) {
                problems.push(format!("inputSchema does not compile: {e}"));
            }
        }
        Format::Openai | Format::OpenaiStrict => {
            let function = &document["function"];
            if document["type"] != "function" {
                problems.push("type must be \"function\"".into());
            }
            provider_name(function["name"].as_str(), false, &mut problems);
            let params = &function["parameters"];
            object_root(params, "parameters", &mut problems);
            if format == Format::OpenaiStrict {
                if function["strict"] != true {
                    problems.push("strict must be true".into());
                }
                strict_rules(params, &mut problems);
            }
        }
        Format::Anthropic => {
            provider_name(document["name"].as_str(), false, &mut problems);
            object_root(&document["input_schema"], "input_schema", &mut problems);
        }
        Format::Gemini => {
            provider_name(document["name"].as_str(), true, &mut problems);
            if let Some(params) = document.get("parameters") {
                object_root(params, "parameters", &mut problems);
                gemini_rules(params, &mut problems);
            }
        }
    }
    problems
}

fn object_root(schema: &Value, field: &str, problems: &mut Vec<String>) {
    if schema["type"] != "object" {
        problems.push(format!("{field} must have \"type\": \"object\""));
    }
}

fn provider_name(name: Option<&str>, gemini: bool, problems: &mut Vec<String>) {
    let name = name.unwrap_or_default();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || (gemini && c == '.'));
    let start_ok = !gemini || name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    if name.is_empty() || name.len() > 64 || !chars_ok || !start_ok {
        problems.push(format!("name {name:?} is not allowed"));
    }
}

fn strict_rules(params: &Value, problems: &mut Vec<String>) {
    let (mut properties, mut enums) = (0, 0);
    walk::visit(params, &mut |node, pointer, depth| {
        for key in node.keys() {
            if !STRICT_KEYWORDS.contains(&key.as_str()) {
                problems.push(format!(
                    "{pointer}: keyword {key} is not supported in strict mode"
                ));
            }
        }
        if let Some(Value::String(f)) = node.get("format")
            && !STRICT_FORMATS.contains(&f.as_str())
        {
            problems.push(format!(
                "{pointer}: format {f} is not supported in strict mode"
            ));
        }
        if let Some(props) = node.get("properties").and_then(Value::as_object) {
            properties += props.len();
            if depth > STRICT_MAX_DEPTH {
                problems.push(format!("{pointer}: nested deeper than {STRICT_MAX_DEPTH}"));
            }
            if node.get("additionalProperties") != Some(&Value::Bool(false)) {
                problems.push(format!(
                    "{pointer}: objects need additionalProperties: false"
                ));
            }
            let required: Vec<&str> = node
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            for name in props.keys() {
                if !required.contains(&name.as_str()) {
                    problems.push(format!("{pointer}: property {name} must be required"));
                }
            }
        }
        enums += node
            .get("enum")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if !["type", "anyOf", "enum", "const", "$ref"]
            .iter()
            .any(|k| node.contains_key(*k))
        {
            problems.push(format!("{pointer}: every schema needs a type"));
        }
        if node.get("type") == Some(&Value::String("array".into())) && !node.contains_key("items") {
            problems.push(format!("{pointer}: arrays need items"));
        }
    });
    if properties > STRICT_MAX_PROPERTIES {
        problems.push(format!("more than {STRICT_MAX_PROPERTIES} properties"));
    }
    if enums > STRICT_MAX_ENUM_VALUES {
        problems.push(format!("more than {STRICT_MAX_ENUM_VALUES} enum values"));
    }
}

fn gemini_rules(params: &Value, problems: &mut Vec<String>) {
    walk::visit(params, &mut |node, pointer, _| {
        for key in node.keys() {
            if !GEMINI_KEYWORDS.contains(&key.as_str()) {
                problems.push(format!(
                    "{pointer}: keyword {key} is not in Gemini's schema subset"
                ));
            }
        }
        let type_name = node.get("type");
        if let Some(t) = type_name
            && !t.as_str().is_some_and(|t| GEMINI_TYPES.contains(&t))
        {
            problems.push(format!(
                "{pointer}: type must be one of {GEMINI_TYPES:?}, found {t}"
            ));
        }
        if type_name.is_none() && !node.contains_key("anyOf") {
            problems.push(format!("{pointer}: every schema needs a type"));
        }
        let is_object = type_name == Some(&Value::String("object".into()));
        if !is_object && (node.contains_key("properties") || node.contains_key("required")) {
            problems.push(format!("{pointer}: properties/required on a non-object"));
        }
        if let Some(values) = node.get("enum").and_then(Value::as_array)
            && values.iter().any(|v| !v.is_string())
        {
            problems.push(format!("{pointer}: enum values must be strings"));
        }
        if let (Some(required), Some(props)) = (
            node.get("required").and_then(Value::as_array),
            node.get("properties").and_then(Value::as_object),
        ) {
            for name in required.iter().filter_map(Value::as_str) {
                if !props.contains_key(name) {
                    problems.push(format!("{pointer}: required {name} is not a property"));
                }
            }
        }
    });
}
