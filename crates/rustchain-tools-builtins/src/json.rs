//! JSON utilities (feature `json`).

use rustchain_tools_core::{
    BehaviorHints, Tool, ToolContext, ToolError, ToolInfo, ToolSource, Violation, async_trait,
};
use rustchain_tools_schema::CompiledSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::register;

const VERSION: &str = "1.0.0";

fn info(name: &str, title: &str, description: &str) -> ToolInfo {
    ToolInfo::new(name, VERSION)
        .source(ToolSource::Builtin)
        .title(title)
        .description(description)
        .category("json")
        .tags(["json", "data"])
        .hints(BehaviorHints::PURE)
}

/// `json.query`: the value at a JSON pointer in a document.
pub struct JsonQuery;

/// Arguments of [`JsonQuery`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonQueryParams {
    /// The JSON document to look into.
    pub document: Value,
    /// A JSON pointer (RFC 6901) such as `/items/0/name`; empty for the whole
    /// document.
    #[schemars(regex(pattern = r"^(/([^~]|~[01])*)*$"))]
    pub pointer: String,
}

/// Result of [`JsonQuery`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonQueryOutput {
    /// Whether the pointer leads to a value.
    pub found: bool,
    /// The value, when found.
    pub value: Option<Value>,
}

#[async_trait]
impl Tool for JsonQuery {
    type Params = JsonQueryParams;
    type Output = JsonQueryOutput;

    fn info(&self) -> ToolInfo {
        info(
            "json.query",
            "JSON query",
            "Returns the value at a JSON pointer (RFC 6901, e.g. /items/0/name) in a JSON document.",
        )
    }

    async fn run(&self, p: JsonQueryParams, _: &ToolContext) -> Result<JsonQueryOutput, ToolError> {
        let value = p.document.pointer(&p.pointer).cloned();
        Ok(JsonQueryOutput {
            found: value.is_some(),
            value,
        })
    }
}
register!("json", JsonQuery);

/// `json.format`: parses JSON text and prints it pretty or compact.
pub struct JsonFormat;

/// Arguments of [`JsonFormat`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonFormatParams {
    /// JSON text to format.
    pub text: String,
    /// Spaces per indentation level; 0 prints compact JSON on one line.
    #[serde(default = "default_indent")]
    #[schemars(range(max = 8))]
    pub indent: u8,
}

fn default_indent() -> u8 {
    2
}

/// Result of [`JsonFormat`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonFormatOutput {
    /// The formatted JSON text (object keys sorted).
    pub text: String,
}

#[async_trait]
impl Tool for JsonFormat {
    type Params = JsonFormatParams;
    type Output = JsonFormatOutput;

    fn info(&self) -> ToolInfo {
        info(
            "json.format",
            "JSON format",
            "Checks that a text is JSON and prints it indented (or compact with indent 0), keys sorted.",
        )
    }

    async fn run(
        &self,
        p: JsonFormatParams,
        _: &ToolContext,
    ) -> Result<JsonFormatOutput, ToolError> {
        let value: Value = serde_json::from_str(&p.text).map_err(|e| {
            crate::invalid_argument(
                "json.format",
                "/text",
                "x-json",
                Value::Null,
                format!("the text is not valid JSON: {e}"),
            )
        })?;
        let text = if p.indent == 0 {
            value.to_string()
        } else {
            let indent = " ".repeat(usize::from(p.indent));
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(indent.as_bytes());
            let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
            value
                .serialize(&mut ser)
                .map_err(|e| ToolError::failed("json.format", e.to_string()))?;
            String::from_utf8(out).map_err(|e| ToolError::failed("json.format", e.to_string()))?
        };
        Ok(JsonFormatOutput { text })
    }
}
register!("json", JsonFormat);

/// `json.validate`: checks a document against a JSON Schema.
pub struct JsonValidate;

/// Arguments of [`JsonValidate`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonValidateParams {
    /// A JSON Schema (draft 4 to 2020-12, by its `$schema`; 2020-12 when absent).
    pub schema: Value,
    /// The document to check.
    pub document: Value,
}

/// Result of [`JsonValidate`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonValidateOutput {
    /// Whether the document satisfies the schema.
    pub valid: bool,
    /// Every violation, each with its JSON pointer.
    pub violations: Vec<Violation>,
}

#[async_trait]
impl Tool for JsonValidate {
    type Params = JsonValidateParams;
    type Output = JsonValidateOutput;

    fn info(&self) -> ToolInfo {
        info(
            "json.validate",
            "JSON Schema validate",
            "Validates a JSON document against a JSON Schema and lists every violation with its JSON pointer.",
        )
        .tags(["json", "data", "schema", "validation"])
    }

    async fn run(
        &self,
        p: JsonValidateParams,
        _: &ToolContext,
    ) -> Result<JsonValidateOutput, ToolError> {
        let schema = CompiledSchema::compile(&p.schema).map_err(|e| {
            crate::invalid_argument(
                "json.validate",
                "/schema",
                "x-schema",
                Value::Null,
                format!("the schema is not usable: {e}"),
            )
        })?;
        let violations = schema.validate(&p.document).err().unwrap_or_default();
        Ok(JsonValidateOutput {
            valid: violations.is_empty(),
            violations,
        })
    }
}
register!("json", JsonValidate);

/// `json.merge_patch`: applies a JSON Merge Patch (RFC 7386).
pub struct JsonMergePatch;

/// Arguments of [`JsonMergePatch`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct JsonMergePatchParams {
    /// The document to patch.
    pub target: Value,
    /// The merge patch: members set to `null` are removed, objects merge,
    /// anything else replaces.
    pub patch: Value,
}

/// Result of [`JsonMergePatch`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct JsonMergePatchOutput {
    /// The patched document.
    pub result: Value,
}

/// RFC 7386, section 2.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        *target = patch;
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            map.remove(&key);
        } else {
            merge_patch(map.entry(key).or_insert(Value::Null), value);
        }
    }
}

#[async_trait]
impl Tool for JsonMergePatch {
    type Params = JsonMergePatchParams;
    type Output = JsonMergePatchOutput;

    fn info(&self) -> ToolInfo {
        info(
            "json.merge_patch",
            "JSON Merge Patch",
            "Applies a JSON Merge Patch (RFC 7386) to a document: null removes a member, objects merge, other values replace.",
        )
    }

    async fn run(
        &self,
        p: JsonMergePatchParams,
        _: &ToolContext,
    ) -> Result<JsonMergePatchOutput, ToolError> {
        let mut result = p.target;
        merge_patch(&mut result, p.patch);
        Ok(JsonMergePatchOutput { result })
    }
}
register!("json", JsonMergePatch);

#[cfg(test)]
mod tests {
    use super::*;

    /// The examples of RFC 7386, appendix A.
    #[test]
    fn merge_patch_follows_the_rfc_examples() {
        let cases = [
            (json!({"a":"b"}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"b"}), json!({"b":"c"}), json!({"a":"b","b":"c"})),
            (json!({"a":"b"}), json!({"a":null}), json!({})),
            (
                json!({"a":"b","b":"c"}),
                json!({"a":null}),
                json!({"b":"c"}),
            ),
            (json!({"a":["b"]}), json!({"a":"c"}), json!({"a":"c"})),
            (json!({"a":"c"}), json!({"a":["b"]}), json!({"a":["b"]})),
            (
                json!({"a":{"b":"c"}}),
                json!({"a":{"b":"d","c":null}}),
                json!({"a":{"b":"d"}}),
            ),
            (json!({"a":[{"b":"c"}]}), json!({"a":[1]}), json!({"a":[1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a":"b"}), json!(["c"]), json!(["c"])),
            (json!({"a":"foo"}), json!(null), json!(null)),
            (json!({"a":"foo"}), json!("bar"), json!("bar")),
            (json!({"e":null}), json!({"a":1}), json!({"e":null,"a":1})),
            (json!([1, 2]), json!({"a":"b","c":null}), json!({"a":"b"})),
            (
                json!({}),
                json!({"a":{"bb":{"ccc":null}}}),
                json!({"a":{"bb":{}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            let mut doc = target.clone();
            merge_patch(&mut doc, patch.clone());
            assert_eq!(doc, expected, "{target} + {patch}");
        }
    }
}
