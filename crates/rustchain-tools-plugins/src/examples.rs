//! A plugin's examples (`examples/*.json` beside its manifest), run against
//! the plugin in the sandbox, and its documentation, generated from the
//! manifest's schemas and the examples.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use rustchain_tools_core::{ToolContext, ToolExecutor};
use rustchain_tools_schema::CompiledSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{PluginCall, PluginError, PluginManifest, PluginTool};

/// The directory of examples inside a plugin's directory.
pub const EXAMPLES_DIR: &str = "examples";

/// One example: arguments, and the result they must give if it is stated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Example {
    /// What the example shows.
    #[serde(default)]
    pub description: String,
    /// The arguments.
    pub arguments: Value,
    /// The result they give; checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// An example and its file.
#[derive(Debug, Clone)]
pub struct ExampleFile {
    /// The file.
    pub path: PathBuf,
    /// What it holds.
    pub example: Example,
}

/// What running an example came to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExampleRun {
    /// The file's name.
    pub file: String,
    /// Whether the plugin gave a result that matches the stated one.
    pub passed: bool,
    /// What happened, when it did not pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Reads the examples in `dir/examples`, sorted by file name; none if the
/// directory does not exist.
pub fn read_examples(dir: &Path) -> Result<Vec<ExampleFile>, PluginError> {
    let examples = dir.join(EXAMPLES_DIR);
    let Ok(entries) = std::fs::read_dir(&examples) else {
        return Ok(Vec::new());
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let bad = |reason: String| PluginError::Manifest {
                path: path.clone(),
                reason,
            };
            let text =
                std::fs::read_to_string(&path).map_err(|e| bad(format!("cannot be read: {e}")))?;
            let example = serde_json::from_str(&text).map_err(|e| {
                bad(format!(
                    "is not an example ({{\"description\", \"arguments\", \"result\"}}): {e}"
                ))
            })?;
            Ok(ExampleFile { path, example })
        })
        .collect()
}

/// Runs each example against `tool`: its arguments must pass the input
/// schema, the plugin must give a result, and the result must be the
/// stated one.
pub async fn run_examples(tool: &PluginTool, examples: &[ExampleFile]) -> Vec<ExampleRun> {
    let metadata = tool.metadata();
    let validator =
        CompiledSchema::compile_input(metadata.shared_input_schema(), metadata.formats());
    let mut runs = Vec::with_capacity(examples.len());
    for (i, file) in examples.iter().enumerate() {
        let name = file
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let checked = match &validator {
            Ok(validator) => validator
                .validate(&file.example.arguments)
                .map_err(|violations| {
                    violations
                        .iter()
                        .map(|v| v.message.clone())
                        .collect::<Vec<_>>()
                        .join("; ")
                }),
            Err(e) => Err(e.to_string()),
        };
        let problem = if let Err(reasons) = checked {
            Some(format!(
                "its arguments do not match the input schema: {reasons}"
            ))
        } else {
            let context = ToolContext::new(format!("example-{i}"));
            match tool.run(file.example.arguments.clone(), &context).await {
                PluginCall::Ok(value) => match &file.example.result {
                    Some(expected) if *expected != value => Some(format!(
                        "the plugin gave {value}, the example says {expected}"
                    )),
                    _ => None,
                },
                PluginCall::Error(message) => Some(format!("the plugin refused it: {message}")),
                PluginCall::OutputMismatch(reasons) => Some(format!(
                    "the result does not match the output schema: {}",
                    reasons.join("; ")
                )),
                PluginCall::Stopped(e) => Some(e.to_string()),
                PluginCall::HostFailure(e) => Some(format!("it could not run: {e}")),
            }
        };
        runs.push(ExampleRun {
            file: name,
            passed: problem.is_none(),
            problem,
        });
    }
    runs
}

/// The plugin's documentation in Markdown: what it does, its capabilities
/// and limits, its arguments and result (from the schemas), and its
/// examples.
pub fn markdown(manifest: &PluginManifest, examples: &[ExampleFile]) -> String {
    let mut out = String::new();
    let title = manifest.title.as_deref().unwrap_or(&manifest.name);
    let _ = writeln!(out, "# {title}\n");
    let _ = writeln!(
        out,
        "`{}` {} · category `{}`\n",
        manifest.name, manifest.version, manifest.category
    );
    let _ = writeln!(out, "{}\n", manifest.description);
    let _ = writeln!(out, "## Capabilities\n");
    let mut capabilities = Vec::new();
    if manifest.capabilities.log {
        capabilities.push("writes log lines".to_owned());
    }
    if let Some(read) = &manifest.capabilities.read_files {
        capabilities.push(format!("reads files below `{}`", read.dir));
    }
    let hosts = manifest.fetch_hosts();
    if !hosts.is_empty() {
        capabilities.push(format!("fetches from {}", hosts.join(", ")));
    }
    if capabilities.is_empty() {
        capabilities.push("none: it reaches nothing outside its sandbox".to_owned());
    }
    for capability in capabilities {
        let _ = writeln!(out, "- {capability}");
    }
    let limit = |v: Option<u64>, unit: &str| {
        v.map_or_else(
            || "the host's default".to_owned(),
            |v| format!("{v} {unit}"),
        )
    };
    let _ = writeln!(
        out,
        "\nLimits: time {}, memory {}.\n",
        limit(manifest.limits.timeout_ms, "ms"),
        limit(manifest.limits.memory_mib, "MiB")
    );
    let _ = writeln!(out, "## Arguments\n");
    properties_table(&mut out, &manifest.input_schema);
    if let Some(output) = &manifest.output_schema {
        let _ = writeln!(out, "\n## Result\n");
        properties_table(&mut out, output);
    }
    if !examples.is_empty() {
        let _ = writeln!(out, "\n## Examples");
        for file in examples {
            let example = &file.example;
            let heading = if example.description.is_empty() {
                file.path
                    .file_stem()
                    .map_or_else(String::new, |s| s.to_string_lossy().into_owned())
            } else {
                example.description.clone()
            };
            let _ = writeln!(out, "\n### {heading}\n");
            let _ = writeln!(
                out,
                "```json\n{}\n```",
                serde_json::to_string_pretty(&example.arguments).unwrap_or_default()
            );
            if let Some(result) = &example.result {
                let _ = writeln!(
                    out,
                    "\ngives\n\n```json\n{}\n```",
                    serde_json::to_string_pretty(result).unwrap_or_default()
                );
            }
        }
    }
    out
}

fn properties_table(out: &mut String, schema: &Value) {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        let _ = writeln!(
            out,
            "```json\n{}\n```",
            serde_json::to_string_pretty(schema).unwrap_or_default()
        );
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let _ = writeln!(out, "| name | type | required | description |");
    let _ = writeln!(out, "| --- | --- | --- | --- |");
    for (name, property) in properties {
        let kind = match property.get("type") {
            Some(Value::String(kind)) => kind.clone(),
            Some(Value::Array(kinds)) => kinds
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" or "),
            _ if property.get("enum").is_some() => "one of the listed values".to_owned(),
            _ => "any".to_owned(),
        };
        let mut description = property
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or("")
            .replace('|', "\\|")
            .replace('\n', " ");
        if let Some(Value::Array(values)) = property.get("enum") {
            let values: Vec<String> = values.iter().map(Value::to_string).collect();
            let _ = write!(description, " One of: {}.", values.join(", "));
        }
        let _ = writeln!(
            out,
            "| `{name}` | {kind} | {} | {} |",
            if required.contains(&name.as_str()) {
                "yes"
            } else {
                "no"
            },
            description.trim()
        );
    }
}
