//! Export of tool definitions to the formats agents speak: MCP, OpenAI
//! (plain and strict), Anthropic and Gemini.
//!
//! Providers accept different subsets of JSON Schema. Each export rewrites
//! the schema into its format's subset; where that changes what the schema
//! means (a keyword the format cannot hold, an optional property made
//! required and nullable), the change is listed in [`Exported::changes`] and,
//! for the model's sake, stated in the description of the property it
//! concerns. What a format cannot hold at all (a recursive `$ref` for Gemini,
//! an open map in OpenAI strict mode) is refused with the reason.

mod check;
mod walk;

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub use check::check;
use walk::{inline_refs, visit_mut};

use crate::SchemaError;

/// `schema` with 2020-12 keywords rewritten into draft-07 (for code
/// generation).
#[cfg_attr(not(feature = "codegen"), allow(dead_code))]
pub(crate) fn to_draft07(schema: &Value) -> Result<Value, SchemaError> {
    let mut out = schema.clone();
    downgrade_to_draft07(&mut out, &mut Vec::new())?;
    Ok(out)
}

/// Follows local `$ref`s for [`diff`](crate::diff::diff).
pub(crate) fn inline_refs_for_diff(schema: &Value) -> Result<Value, SchemaError> {
    inline_refs(schema, "a comparison")
}

/// A format to export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// An MCP `Tool` (`name`, `inputSchema`, `outputSchema`, `annotations`).
    Mcp,
    /// An OpenAI function tool, JSON Schema as is.
    Openai,
    /// An OpenAI function tool with `strict: true`.
    OpenaiStrict,
    /// An Anthropic tool (`input_schema`).
    Anthropic,
    /// A Gemini function declaration (OpenAPI 3.0 subset).
    Gemini,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 5] = [
        Format::Mcp,
        Format::Openai,
        Format::OpenaiStrict,
        Format::Anthropic,
        Format::Gemini,
    ];

    /// The format's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Mcp => "mcp",
            Format::Openai => "openai",
            Format::OpenaiStrict => "openai-strict",
            Format::Anthropic => "anthropic",
            Format::Gemini => "gemini",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Format::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format {s:?}; the formats are {}",
                    Format::ALL.map(Format::name).join(", ")
                )
            })
    }
}

/// The JSON Schema dialect of an MCP export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Dialect {
    /// JSON Schema 2020-12, MCP's default.
    #[default]
    Draft2020_12,
    /// Draft-07, for clients that reject 2020-12 keywords.
    Draft07,
}

/// How to export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportOptions {
    /// The format.
    pub format: Format,
    /// The dialect of an MCP export.
    pub dialect: Dialect,
    /// Inline `$ref`s and drop `$defs` in an MCP, OpenAI or Anthropic export
    /// (Gemini exports always inline), for hosts that reject `$defs`.
    pub inline_refs: bool,
}

impl ExportOptions {
    /// Defaults for `format`: 2020-12, references kept.
    pub fn new(format: Format) -> Self {
        ExportOptions {
            format,
            dialect: Dialect::default(),
            inline_refs: false,
        }
    }
}

/// What a tool is, as far as an export needs to know.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolDefinition {
    /// The tool's name.
    pub name: String,
    /// A human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does.
    #[serde(default)]
    pub description: String,
    /// The JSON Schema of the arguments.
    pub input_schema: Value,
    /// The JSON Schema of the structured result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// MCP annotations (`readOnlyHint`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<Value>,
}

/// One place where an export had to change what the definition means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// JSON pointer into the exported schema (or `name`).
    pub pointer: String,
    /// What changed.
    pub what: String,
}

/// An exported definition and what the export changed in its meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exported {
    /// The definition in the target format.
    pub document: Value,
    /// Every change of meaning; empty when the export is faithful.
    pub changes: Vec<Change>,
}

/// Exports `tool` as `options` ask, or says why it cannot be expressed.
pub fn export(tool: &ToolDefinition, options: ExportOptions) -> Result<Exported, SchemaError> {
    let mut changes = Vec::new();
    let format = options.format;
    let document = match format {
        Format::Mcp => {
            let input = mcp_schema(&tool.input_schema, options, &mut changes)?;
            let mut doc = Map::new();
            doc.insert("name".into(), json!(tool.name));
            if let Some(title) = &tool.title {
                doc.insert("title".into(), json!(title));
            }
            doc.insert("description".into(), json!(tool.description));
            doc.insert("inputSchema".into(), input);
            if let Some(output) = &tool.output_schema {
                let mut ignored = Vec::new();
                doc.insert(
                    "outputSchema".into(),
                    mcp_schema(output, options, &mut ignored)?,
                );
            }
            if let Some(annotations) = &tool.annotations {
                doc.insert("annotations".into(), annotations.clone());
            }
            Value::Object(doc)
        }
        Format::Openai => {
            let name = provider_name(&tool.name, format, &mut changes);
            let params = plain_schema(&tool.input_schema, options)?;
            json!({"type": "function", "function": {
                "name": name, "description": tool.description, "parameters": params}})
        }
        Format::OpenaiStrict => {
            let name = provider_name(&tool.name, format, &mut changes);
            let params = strict_schema(&tool.input_schema, options, &mut changes)?;
            json!({"type": "function", "function": {
                "name": name, "description": tool.description, "parameters": params, "strict": true}})
        }
        Format::Anthropic => {
            let name = provider_name(&tool.name, format, &mut changes);
            let input = plain_schema(&tool.input_schema, options)?;
            json!({"name": name, "description": tool.description, "input_schema": input})
        }
        Format::Gemini => {
            let name = provider_name(&tool.name, format, &mut changes);
            let mut doc = json!({"name": name, "description": tool.description});
            if let Some(params) = gemini_schema(&tool.input_schema, &mut changes)? {
                doc["parameters"] = params;
            }
            doc
        }
    };
    Ok(Exported { document, changes })
}

fn refuse(format: Format, pointer: &str, reason: impl Into<String>) -> SchemaError {
    SchemaError::Unexportable {
        format: format.name().to_owned(),
        pointer: pointer.to_owned(),
        reason: reason.into(),
    }
}

fn root_object(schema: &Value, format: Format) -> Result<(), SchemaError> {
    match schema.get("type") {
        Some(Value::String(t)) if t == "object" => Ok(()),
        _ if schema.get("properties").is_some() && schema.get("type").is_none() => Ok(()),
        other => Err(refuse(
            format,
            "",
            format!(
                "the arguments must be an object schema at the root, found type {}",
                other.map_or_else(|| "none".to_owned(), Value::to_string)
            ),
        )),
    }
}

/// Longest function name OpenAI and Anthropic accept.
const MAX_PROVIDER_NAME: usize = 64;

/// The name a provider accepts: OpenAI and Anthropic allow
/// `[A-Za-z0-9_-]{1,64}`, Gemini `[A-Za-z_][A-Za-z0-9_.-]{0,63}`. A changed
/// name is reported, so the caller can map calls back.
fn provider_name(name: &str, format: Format, changes: &mut Vec<Change>) -> String {
    let allowed = |c: char| {
        c.is_ascii_alphanumeric() || c == '_' || c == '-' || (format == Format::Gemini && c == '.')
    };
    let mut mapped: String = name
        .chars()
        .map(|c| if allowed(c) { c } else { '_' })
        .collect();
    if format == Format::Gemini
        && !mapped.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
    {
        mapped.insert(0, '_');
    }
    if mapped.len() > MAX_PROVIDER_NAME {
        // Keep names unique when cut: the tail is a digest of the whole name.
        let digest = fnv1a(name);
        mapped.truncate(MAX_PROVIDER_NAME - 9);
        mapped.push_str(&format!("_{digest:08x}"));
    }
    if mapped != name {
        changes.push(Change {
            pointer: "name".into(),
            what: format!("the name {name:?} is not allowed by {format}; exported as {mapped:?}, map calls back"),
        });
    }
    mapped
}

fn fnv1a(text: &str) -> u32 {
    text.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    })
}

/// Adds `note` to the description of `node`, so the model reads what the
/// schema can no longer say.
fn note(node: &mut Map<String, Value>, note: &str) {
    let text = match node.get("description").and_then(Value::as_str) {
        Some(d) if !d.is_empty() => format!("{d} ({note})"),
        _ => format!("({note})"),
    };
    node.insert("description".into(), Value::String(text));
}

fn plain_schema(schema: &Value, options: ExportOptions) -> Result<Value, SchemaError> {
    root_object(schema, options.format)?;
    let mut out = if options.inline_refs {
        inline_refs(schema, options.format.name())?
    } else {
        schema.clone()
    };
    if let Value::Object(map) = &mut out {
        map.remove("$schema");
    }
    Ok(out)
}

fn mcp_schema(
    schema: &Value,
    options: ExportOptions,
    changes: &mut Vec<Change>,
) -> Result<Value, SchemaError> {
    let mut out = if options.inline_refs {
        inline_refs(schema, "mcp")?
    } else {
        schema.clone()
    };
    if options.dialect == Dialect::Draft07 {
        downgrade_to_draft07(&mut out, changes)?;
    }
    Ok(out)
}

/// Rewrites 2020-12 keywords into their draft-07 forms.
fn downgrade_to_draft07(schema: &mut Value, changes: &mut Vec<Change>) -> Result<(), SchemaError> {
    if let Value::Object(root) = schema {
        if let Some(defs) = root.remove("$defs") {
            let definitions = root.entry("definitions").or_insert_with(|| json!({}));
            if let (Value::Object(into), Value::Object(from)) = (definitions, defs) {
                into.extend(from);
            }
        }
        root.insert(
            "$schema".into(),
            json!("http://json-schema.org/draft-07/schema#"),
        );
    }
    visit_mut(schema, &mut String::new(), &mut |node, pointer| {
        if let Some(Value::String(r)) = node.get_mut("$ref")
            && let Some(rest) = r.strip_prefix("#/$defs/")
        {
            *r = format!("#/definitions/{rest}");
        }
        if let Some(prefix) = node.remove("prefixItems") {
            if let Some(items) = node.remove("items") {
                node.insert("additionalItems".into(), items);
            }
            node.insert("items".into(), prefix);
        }
        let mut dependencies = Map::new();
        for key in ["dependentRequired", "dependentSchemas"] {
            if let Some(Value::Object(deps)) = node.remove(key) {
                dependencies.extend(deps);
            }
        }
        if !dependencies.is_empty() {
            node.insert("dependencies".into(), Value::Object(dependencies));
        }
        for key in ["unevaluatedProperties", "unevaluatedItems"] {
            if node.remove(key).is_some() {
                changes.push(Change {
                    pointer: pointer.to_owned(),
                    what: format!("{key} has no draft-07 form and was dropped"),
                });
            }
        }
        for key in ["$dynamicRef", "$dynamicAnchor"] {
            if node.contains_key(key) {
                return Err(refuse(
                    Format::Mcp,
                    pointer,
                    format!("{key} has no draft-07 form"),
                ));
            }
        }
        Ok(())
    })
}

/// Keywords OpenAI's strict mode accepts (its structured-outputs documentation).
const STRICT_KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "anyOf",
    "$ref",
    "$defs",
    "definitions",
    "description",
    "title",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minItems",
    "maxItems",
];
/// String formats OpenAI's strict mode accepts.
const STRICT_FORMATS: &[&str] = &[
    "date-time",
    "time",
    "date",
    "duration",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "uuid",
];
/// Documented limits of strict mode.
pub(crate) const STRICT_MAX_DEPTH: usize = 10;
pub(crate) const STRICT_MAX_PROPERTIES: usize = 5000;
pub(crate) const STRICT_MAX_ENUM_VALUES: usize = 1000;
/// What a schema with no type becomes where strict mode needs one.
const ANY_SCALAR: [&str; 5] = ["string", "number", "integer", "boolean", "null"];

fn strict_schema(
    schema: &Value,
    options: ExportOptions,
    changes: &mut Vec<Change>,
) -> Result<Value, SchemaError> {
    let format = Format::OpenaiStrict;
    root_object(schema, format)?;
    let mut out = if options.inline_refs {
        inline_refs(schema, format.name())?
    } else {
        schema.clone()
    };
    if let Value::Object(root) = &mut out {
        root.remove("$schema");
        if root.contains_key("anyOf") || root.contains_key("oneOf") {
            return Err(refuse(
                format,
                "",
                "strict mode needs a plain object at the root, not anyOf/oneOf",
            ));
        }
        root.insert("type".into(), json!("object"));
    }
    visit_mut(&mut out, &mut String::new(), &mut |node, pointer| {
        strict_node(node, pointer, changes)
    })?;
    check_strict_limits(&out)?;
    Ok(out)
}

fn strict_node(
    node: &mut Map<String, Value>,
    pointer: &str,
    changes: &mut Vec<Change>,
) -> Result<(), SchemaError> {
    let format = Format::OpenaiStrict;
    let mut dropped = Vec::new();
    if let Some(Value::String(f)) = node.get("format")
        && !STRICT_FORMATS.contains(&f.as_str())
    {
        dropped.push(format!("format {f}"));
        node.remove("format");
    }
    if let Some(one_of) = node.remove("oneOf") {
        node.insert("anyOf".into(), one_of);
        changes.push(Change {
            pointer: pointer.to_owned(),
            what: "oneOf became anyOf: a value matching several alternatives is no longer refused"
                .into(),
        });
    }
    if node.contains_key("allOf") {
        return Err(refuse(
            format,
            pointer,
            "allOf is not supported in strict mode",
        ));
    }
    dropped.extend(drop_unsupported(node, STRICT_KEYWORDS));
    report_dropped(node, pointer, &dropped, changes);
    let is_object = node.get("type") == Some(&json!("object"))
        || node.contains_key("properties")
        || node
            .get("type")
            .and_then(Value::as_array)
            .is_some_and(|t| t.contains(&json!("object")));
    if is_object {
        node.entry("type").or_insert_with(|| json!("object"));
        let has_properties = node
            .get("properties")
            .and_then(Value::as_object)
            .is_some_and(|p| !p.is_empty());
        match node.get("additionalProperties").cloned() {
            Some(Value::Bool(false)) | None => {}
            Some(Value::Object(values)) if !has_properties => {
                // A map has no strict-mode form; a list of entries says the same.
                let mut value = Value::Object(values);
                if let Value::Object(v) = &mut value
                    && v.is_empty()
                {
                    v.insert("type".into(), json!(ANY_SCALAR));
                }
                let nullable = node
                    .get("type")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.contains(&json!("null")));
                let description = node.remove("description");
                node.clear();
                node.insert(
                    "type".into(),
                    if nullable {
                        json!(["array", "null"])
                    } else {
                        json!("array")
                    },
                );
                if let Some(description) = description {
                    node.insert("description".into(), description);
                }
                node.insert(
                    "items".into(),
                    json!({"type": "object", "properties": {"key": {"type": "string"}, "value": value},
                           "required": ["key", "value"], "additionalProperties": false}),
                );
                let text = "an object of arbitrary keys became an array of {key, value} entries; \
                            convert it back before calling";
                note(node, text);
                changes.push(Change {
                    pointer: pointer.to_owned(),
                    what: text.into(),
                });
                return Ok(());
            }
            Some(_) if !has_properties => changes.push(Change {
                pointer: pointer.to_owned(),
                what: "an open object with no declared properties became an empty object".into(),
            }),
            Some(_) => changes.push(Change {
                pointer: pointer.to_owned(),
                what: "additional properties are no longer accepted".into(),
            }),
        }
        node.insert("additionalProperties".into(), json!(false));
        let required = crate::diff::names(node, "required");
        let mut all = Vec::new();
        if let Some(Value::Object(properties)) = node.get_mut("properties") {
            for (name, property) in properties.iter_mut() {
                all.push(Value::String(name.clone()));
                if !required.contains(name) {
                    make_nullable(property);
                    changes.push(Change {
                        pointer: format!("{pointer}/properties/{}", walk::escape(name)),
                        what: "optional property made required and nullable: null means absent"
                            .into(),
                    });
                }
            }
        }
        node.entry("properties").or_insert_with(|| json!({}));
        node.insert("required".into(), Value::Array(all));
    }
    let is_array = node.get("type") == Some(&json!("array"));
    if is_array && !node.contains_key("items") {
        node.insert("items".into(), json!({"type": ANY_SCALAR}));
        changes.push(Change {
            pointer: pointer.to_owned(),
            what: "array items of any kind narrowed to scalars: strict mode needs a typed items schema".into(),
        });
    }
    let typed = ["type", "anyOf", "enum", "const", "$ref"]
        .iter()
        .any(|k| node.contains_key(*k));
    if !typed {
        node.insert("type".into(), json!(ANY_SCALAR));
        changes.push(Change {
            pointer: pointer.to_owned(),
            what: "a schema allowing any value narrowed to scalars: strict mode needs a type"
                .into(),
        });
    }
    Ok(())
}

/// Makes an optional property nullable, so that "absent" can be said as null.
fn make_nullable(property: &mut Value) {
    let Value::Object(map) = property else {
        *property = json!({"anyOf": [property.clone(), {"type": "null"}]});
        return;
    };
    match map.get_mut("type") {
        Some(Value::String(t)) if t != "null" => {
            let t = t.clone();
            map.insert("type".into(), json!([t, "null"]));
            if let Some(Value::Array(values)) = map.get_mut("enum")
                && !values.contains(&Value::Null)
            {
                values.push(Value::Null);
            }
        }
        Some(Value::Array(types)) => {
            if !types.contains(&json!("null")) {
                types.push(json!("null"));
            }
        }
        _ => {
            let inner = Value::Object(std::mem::take(map));
            map.insert("anyOf".into(), json!([inner, {"type": "null"}]));
        }
    }
}

fn check_strict_limits(schema: &Value) -> Result<(), SchemaError> {
    let format = Format::OpenaiStrict;
    let (mut properties, mut enum_values, mut deepest) = (0, 0, (0, String::new()));
    walk::visit(schema, &mut |node, pointer, depth| {
        properties += node
            .get("properties")
            .and_then(Value::as_object)
            .map_or(0, Map::len);
        enum_values += node
            .get("enum")
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if node.contains_key("properties") && depth > deepest.0 {
            deepest = (depth, pointer.to_owned());
        }
    });
    if deepest.0 > STRICT_MAX_DEPTH {
        return Err(refuse(
            format,
            &deepest.1,
            format!(
                "objects nest {} levels deep, more than strict mode's limit of {STRICT_MAX_DEPTH}",
                deepest.0
            ),
        ));
    }
    if properties > STRICT_MAX_PROPERTIES {
        return Err(refuse(
            format,
            "",
            format!(
                "{properties} properties in all, more than strict mode's limit of {STRICT_MAX_PROPERTIES}"
            ),
        ));
    }
    if enum_values > STRICT_MAX_ENUM_VALUES {
        return Err(refuse(
            format,
            "",
            format!(
                "{enum_values} enum values in all, more than strict mode's limit of {STRICT_MAX_ENUM_VALUES}"
            ),
        ));
    }
    Ok(())
}

/// Removes every keyword of `node` that `allowed` lacks and returns what the
/// removed constraints said; annotations (`examples`, `$comment`, ...) and
/// unknown extension keywords constrain nothing and go without a word.
fn drop_unsupported(node: &mut Map<String, Value>, allowed: &[&str]) -> Vec<String> {
    let unsupported: Vec<String> = node
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .cloned()
        .collect();
    unsupported
        .into_iter()
        .filter_map(|key| {
            let value = node.remove(&key)?;
            match key.as_str() {
                "additionalProperties" if value == json!(false) => {
                    Some("no properties beyond those listed".to_owned())
                }
                "additionalProperties" if value == json!(true) => None,
                "default" => Some(format!("default {value}")),
                _ if is_keyword(&key) => Some(format!("{key} {value}")),
                _ => None,
            }
        })
        .collect()
}

/// States the constraints an export dropped in the node's description, for
/// the model, and in the list of changes, for the caller.
fn report_dropped(
    node: &mut Map<String, Value>,
    pointer: &str,
    dropped: &[String],
    changes: &mut Vec<Change>,
) {
    if dropped.is_empty() {
        return;
    }
    let text = format!("not enforced by the schema: {}", dropped.join(", "));
    note(node, &text);
    changes.push(Change {
        pointer: pointer.to_owned(),
        what: text,
    });
}

/// Whether `key` is a JSON Schema keyword that constrains values (as opposed
/// to an unknown extension keyword, which no validator enforces anyway).
fn is_keyword(key: &str) -> bool {
    const CONSTRAINTS: &[&str] = &[
        "minLength",
        "maxLength",
        "pattern",
        "format",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minItems",
        "maxItems",
        "uniqueItems",
        "contains",
        "minContains",
        "maxContains",
        "prefixItems",
        "additionalItems",
        "unevaluatedItems",
        "minProperties",
        "maxProperties",
        "propertyNames",
        "patternProperties",
        "additionalProperties",
        "unevaluatedProperties",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "if",
        "then",
        "else",
        "not",
        "allOf",
        "anyOf",
        "oneOf",
        "const",
        "enum",
        "contentEncoding",
        "contentMediaType",
        "required",
        "type",
        "properties",
        "items",
    ];
    CONSTRAINTS.contains(&key)
}

/// Keywords of Gemini's OpenAPI 3.0 subset (its `Schema` object).
const GEMINI_KEYWORDS: &[&str] = &[
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "properties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "anyOf",
    "propertyOrdering",
    "minProperties",
    "maxProperties",
];
const GEMINI_TYPES: &[&str] = &["string", "number", "integer", "boolean", "array", "object"];

/// Gemini parameters: references inlined, the OpenAPI subset only, `None`
/// when the tool takes no parameters (Gemini refuses an object without
/// properties).
fn gemini_schema(schema: &Value, changes: &mut Vec<Change>) -> Result<Option<Value>, SchemaError> {
    let format = Format::Gemini;
    root_object(schema, format)?;
    let mut out = inline_refs(schema, format.name())?;
    visit_mut(&mut out, &mut String::new(), &mut |node, pointer| {
        gemini_node(node, pointer, changes)
    })?;
    let empty = out
        .get("properties")
        .and_then(Value::as_object)
        .is_none_or(Map::is_empty);
    Ok(if empty { None } else { Some(out) })
}

fn gemini_node(
    node: &mut Map<String, Value>,
    pointer: &str,
    changes: &mut Vec<Change>,
) -> Result<(), SchemaError> {
    let format = Format::Gemini;
    let mut dropped = Vec::new();
    if let Some(one_of) = node.remove("oneOf") {
        node.insert("anyOf".into(), one_of);
        changes.push(Change {
            pointer: pointer.to_owned(),
            what: "oneOf became anyOf: a value matching several alternatives is no longer refused"
                .into(),
        });
    }
    if node.contains_key("allOf") {
        return Err(refuse(format, pointer, "allOf is not supported by Gemini"));
    }
    if let Some(value) = node.remove("const") {
        node.insert("enum".into(), json!([value]));
    }
    // A type list: one type plus null becomes nullable; several become anyOf.
    if let Some(Value::Array(types)) = node.get("type").cloned() {
        let non_null: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        if types.len() != non_null.len() {
            node.insert("nullable".into(), json!(true));
        }
        match non_null.as_slice() {
            [] => {
                node.remove("type");
            }
            [one] => {
                node.insert("type".into(), one.clone());
            }
            many => {
                node.remove("type");
                let alternatives: Vec<Value> = many.iter().map(|t| json!({"type": t})).collect();
                node.insert("anyOf".into(), Value::Array(alternatives));
            }
        }
    }
    if let Some(Value::String(t)) = node.get("type")
        && !GEMINI_TYPES.contains(&t.as_str())
    {
        if t == "null" {
            node.remove("type");
            node.insert("nullable".into(), json!(true));
        } else {
            return Err(refuse(
                format,
                pointer,
                format!("the type {t:?} is not a JSON Schema type"),
            ));
        }
    }
    if let Some(Value::Array(values)) = node.get("enum") {
        if values.iter().any(|v| !v.is_string()) {
            let texts: Vec<Value> = values
                .iter()
                .filter(|v| !v.is_null())
                .map(|v| Value::String(v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                .collect();
            if values.contains(&Value::Null) {
                node.insert("nullable".into(), json!(true));
            }
            node.insert("enum".into(), Value::Array(texts));
            if node.get("type").is_some_and(|t| t != "string") {
                changes.push(Change {
                    pointer: pointer.to_owned(),
                    what: "enum values became strings: Gemini allows enums of strings only".into(),
                });
            }
            node.insert("type".into(), json!("string"));
        } else if !node.contains_key("type") {
            node.insert("type".into(), json!("string"));
        }
    }
    let type_name = node.get("type").and_then(Value::as_str).map(str::to_owned);
    if let Some(Value::String(f)) = node.get("format") {
        let ok = match type_name.as_deref() {
            Some("string") => matches!(f.as_str(), "date-time" | "enum"),
            Some("number") => matches!(f.as_str(), "float" | "double"),
            Some("integer") => matches!(f.as_str(), "int32" | "int64"),
            _ => false,
        };
        if !ok {
            dropped.push(format!("format {f}"));
            node.remove("format");
        }
    }
    if type_name.as_deref().is_some_and(|t| t != "object") {
        for key in ["properties", "required"] {
            if node.remove(key).is_some() {
                changes.push(Change {
                    pointer: pointer.to_owned(),
                    what: format!("{key} dropped: Gemini allows it on objects only"),
                });
            }
        }
    }
    if type_name.as_deref() == Some("object") || node.contains_key("properties") {
        let names: Vec<String> = node
            .get("properties")
            .and_then(Value::as_object)
            .map(|p| p.keys().cloned().collect())
            .unwrap_or_default();
        if let Some(Value::Array(required)) = node.get_mut("required") {
            let before = required.len();
            required.retain(|r| r.as_str().is_some_and(|r| names.iter().any(|n| n == r)));
            if required.len() != before {
                changes.push(Change {
                    pointer: pointer.to_owned(),
                    what: "required names without a property dropped".into(),
                });
            }
        }
    }
    dropped.extend(drop_unsupported(node, GEMINI_KEYWORDS));
    if !["type", "anyOf"].iter().any(|k| node.contains_key(*k)) {
        // Gemini has no "any value" schema: the scalars are the closest it says.
        node.insert(
            "anyOf".into(),
            json!([{"type": "string"}, {"type": "number"}, {"type": "boolean"}]),
        );
        changes.push(Change {
            pointer: pointer.to_owned(),
            what: "a schema allowing any value narrowed to string, number or boolean: Gemini needs a type".into(),
        });
    }
    report_dropped(node, pointer, &dropped, changes);
    Ok(())
}
