//! Discovery mode: `find_tools` searches the registry for the tools the
//! principal may call, and `call_tool` calls one of them, so that an agent
//! works with tens of thousands of tools without listing them.

use std::sync::Arc;

use rmcp::{
    ErrorData, RoleServer,
    model::{CallToolResult, ContentBlock, JsonObject, Tool, ToolAnnotations},
    service::RequestContext,
};
use serde_json::{Value, json};

use crate::McpServer;

/// The name of the search tool.
pub const FIND_TOOLS: &str = "find_tools";
/// The name of the tool that calls a found tool.
pub const CALL_TOOL: &str = "call_tool";

/// At most this many tools per `find_tools` answer.
const MAX_LIMIT: u64 = 25;

fn object(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// `find_tools` and `call_tool` as `tools/list` gives them in search mode.
pub fn meta_tools() -> Vec<Tool> {
    let find = Tool::new(
        FIND_TOOLS,
        "Finds the tools for a task among all the tools this server can call (which may be \
         thousands). Describe what you want to do in plain words; each result gives the \
         tool's name, what it does and its input schema. Then call the tool by its name \
         with arguments matching that schema (or through call_tool).",
        object(json!({
            "type": "object",
            "properties": {
                "query": {"type": "string", "minLength": 1, "maxLength": 1024,
                          "description": "What the tool should do, in plain words."},
                "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 5,
                          "description": "How many tools to return."},
                "category": {"type": "string", "description": "Only tools of this category."}
            },
            "required": ["query"],
            "additionalProperties": false
        })),
    )
    .with_raw_output_schema(object(json!({
        "type": "object",
        "properties": {
            "tools": {"type": "array", "items": {"type": "object", "properties": {
                "name": {"type": "string"},
                "version": {"type": "string"},
                "description": {"type": "string"},
                "inputSchema": {"type": "object"},
                "definitionDigest": {"type": "string"},
                "score": {"type": "number"},
                "why": {"type": "array", "items": {"type": "string"}}
            }, "required": ["name", "version", "description", "inputSchema"]}}
        },
        "required": ["tools"]
    })))
    .with_annotations(
        ToolAnnotations::new()
            .read_only(true)
            .destructive(false)
            .idempotent(true)
            .open_world(false),
    );
    let call = Tool::new(
        CALL_TOOL,
        "Calls a tool that find_tools returned, by its name, with arguments matching its input \
         schema. The call is checked, decided by policy and recorded like any other.",
        object(json!({
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "The tool's name, as find_tools gave it."},
                "arguments": {"type": "object", "description": "The tool's arguments."}
            },
            "required": ["name"],
            "additionalProperties": false
        })),
    )
    .with_annotations(
        ToolAnnotations::new()
            .read_only(false)
            .destructive(true)
            .idempotent(false)
            .open_world(true),
    );
    vec![find, call]
}

/// A tool result saying what is wrong with the arguments of a meta tool.
fn invalid(tool: &str, message: impl std::fmt::Display) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(format!(
        "invalid arguments for `{tool}`: {message}"
    ))])
}

/// Runs `find_tools`.
pub(crate) fn find_tools(
    server: &McpServer,
    arguments: &Value,
) -> Result<CallToolResult, ErrorData> {
    let Some(args) = arguments.as_object() else {
        return Ok(invalid(FIND_TOOLS, "the arguments must be an object"));
    };
    if let Some(unknown) = args
        .keys()
        .find(|k| !matches!(k.as_str(), "query" | "limit" | "category"))
    {
        return Ok(invalid(
            FIND_TOOLS,
            format!("at /{unknown}: unknown property; the properties are query, limit, category"),
        ));
    }
    let query = match args.get("query") {
        Some(Value::String(q)) if !q.trim().is_empty() && q.len() <= 1024 => q,
        Some(Value::String(_)) => {
            return Ok(invalid(
                FIND_TOOLS,
                "at /query: give 1 to 1024 characters saying what the tool should do",
            ));
        }
        Some(other) => {
            return Ok(invalid(
                FIND_TOOLS,
                format!("at /query: expected a string, got {other}"),
            ));
        }
        None => return Ok(invalid(FIND_TOOLS, "at /query: required")),
    };
    let limit = match args.get("limit") {
        None => 5,
        Some(v) => match v.as_u64().filter(|n| (1..=MAX_LIMIT).contains(n)) {
            Some(n) => n,
            None => {
                return Ok(invalid(
                    FIND_TOOLS,
                    format!("at /limit: expected an integer from 1 to {MAX_LIMIT}, got {v}"),
                ));
            }
        },
    };
    let category = match args.get("category") {
        None => None,
        Some(Value::String(c)) => Some(c.clone()),
        Some(other) => {
            return Ok(invalid(
                FIND_TOOLS,
                format!("at /category: expected a string, got {other}"),
            ));
        }
    };
    let found = server.find(query, category, usize::try_from(limit).unwrap_or(5))?;
    let tools: Vec<Value> = found
        .iter()
        .map(|crate::server::Found { tool, score, why }| {
            let definition = server.tool_definition(tool);
            let metadata = tool.metadata();
            json!({
                "name": metadata.name().as_str(),
                "version": metadata.version().to_string(),
                "description": metadata.description(),
                "inputSchema": definition.input_schema.as_ref(),
                "annotations": definition.annotations,
                "definitionDigest": definition
                    .meta
                    .as_ref()
                    .and_then(|m| m.0.get(crate::server::DIGEST_META).cloned()),
                "score": score,
                "why": why,
            })
        })
        .collect();
    let text = if tools.is_empty() {
        "no tool you may call matches; describe the task in other words".to_owned()
    } else {
        found
            .iter()
            .map(|found| {
                let m = found.tool.metadata();
                format!("{}: {}", m.name(), m.description())
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(json!({"tools": tools}));
    Ok(result)
}

/// Runs `call_tool`.
pub(crate) async fn call_tool(
    server: &McpServer,
    arguments: Value,
    context: &RequestContext<RoleServer>,
) -> Result<CallToolResult, ErrorData> {
    let Value::Object(mut args) = arguments else {
        return Ok(invalid(CALL_TOOL, "the arguments must be an object"));
    };
    if let Some(unknown) = args
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "arguments"))
    {
        return Ok(invalid(
            CALL_TOOL,
            format!("at /{unknown}: unknown property; the properties are name, arguments"),
        ));
    }
    let name = match args.remove("name") {
        Some(Value::String(name)) => name,
        Some(other) => {
            return Ok(invalid(
                CALL_TOOL,
                format!("at /name: expected a string, got {other}"),
            ));
        }
        None => return Ok(invalid(CALL_TOOL, "at /name: required")),
    };
    if matches!(name.as_str(), FIND_TOOLS | CALL_TOOL) {
        return Ok(invalid(
            CALL_TOOL,
            format!("at /name: `{name}` is called directly, not through call_tool"),
        ));
    }
    let inner = match args.remove("arguments") {
        None => Value::Object(JsonObject::new()),
        Some(value @ Value::Object(_)) => value,
        Some(other) => {
            return Ok(invalid(
                CALL_TOOL,
                format!("at /arguments: expected an object, got {other}"),
            ));
        }
    };
    match server.call_named(&name, inner, context).await {
        Ok(result) => Ok(result),
        // Through call_tool an unknown name is a bad argument of call_tool,
        // which the model can fix: a result, not a protocol error.
        Err(error) => Ok(invalid(CALL_TOOL, format!("at /name: {}", error.message))),
    }
}
