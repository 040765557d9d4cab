//! Reading tool definitions from the formats tools come in.

use std::{collections::HashMap, fmt, str::FromStr, thread};

use semver::Version;
use serde::Deserialize;
use serde_json::{Map, Value, value::RawValue};

use crate::{
    RegistryError,
    manifest::{Annotations, Manifest, Permissions, ToolKey, check_name, sanitize_name},
};

/// The format of an import source. Each is read from JSON Lines (one
/// definition a line) or from one JSON document (an array of definitions,
/// or a single one); MCP's list comes as a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// RustChain manifests: MCP tool definitions plus `version`, `category`,
    /// `tags`, `permissions`, `id`.
    Manifests,
    /// An MCP `tools/list` result, `{"tools": [...]}`, bare or wrapped in a
    /// JSON-RPC response (`{"jsonrpc": "2.0", "id": 1, "result": {"tools": [...]}}`).
    McpToolsList,
    /// OpenAI function definitions, `{"type": "function", "function": {...}}`
    /// or bare `{"name", "description", "parameters"}`.
    OpenAi,
    /// The retrieval corpus: `{"id", "name", "description", "parameters", "source"}`.
    Corpus,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Manifests => "manifests",
            Format::McpToolsList => "mcp",
            Format::OpenAi => "openai",
            Format::Corpus => "corpus",
        })
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "manifests" | "manifest" => Ok(Format::Manifests),
            "mcp" => Ok(Format::McpToolsList),
            "openai" => Ok(Format::OpenAi),
            "corpus" => Ok(Format::Corpus),
            other => Err(format!(
                "unknown format `{other}`; expected manifests, mcp, openai or corpus"
            )),
        }
    }
}

/// How to read an import source.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The format, or `None` to detect it from the source.
    pub format: Option<Format>,
    /// The version given to definitions that carry none (MCP, OpenAI and the
    /// corpus have no versions): `1.0.0` by default.
    pub default_version: Version,
    /// Replace characters outside MCP's name rule with `_` (and cut at 128)
    /// instead of refusing the definition; off by default.
    pub sanitize_names: bool,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            default_version: Version::new(1, 0, 0),
            sanitize_names: false,
        }
    }
}

impl ImportOptions {
    /// Forces the format instead of detecting it.
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }

    /// Turns name sanitizing on or off.
    pub fn sanitize_names(mut self, on: bool) -> Self {
        self.sanitize_names = on;
        self
    }
}

/// A definition that was refused, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// The 1-based line of the source where the definition starts.
    pub line: usize,
    /// The tool's name, when it could be read.
    pub name: Option<String>,
    /// What is wrong with it.
    pub reason: String,
}

impl fmt::Display for ImportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "line {}: `{name}`: {}", self.line, self.reason),
            None => write!(f, "line {}: {}", self.line, self.reason),
        }
    }
}

/// The definitions read from a source: the good ones (with their lines) and
/// every refused one.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The format read (detected or forced).
    pub format: Format,
    /// The valid manifests, each with the line where it starts.
    pub manifests: Vec<(usize, Manifest)>,
    /// Every refused definition.
    pub problems: Vec<ImportProblem>,
    /// How many names were changed by [`ImportOptions::sanitize_names`].
    pub renamed: usize,
}

/// Reads and checks every definition in `text`. Bad definitions are reported
/// in [`Parsed::problems`] with their line and reason; the good ones are kept.
/// `origin` names the source in errors. Fails only when the source as a whole
/// is unreadable (not JSON, or not the forced format).
pub fn parse(text: &str, origin: &str, options: &ImportOptions) -> Result<Parsed, RegistryError> {
    let fail = |reason: String| RegistryError::Format {
        origin: origin.to_owned(),
        reason,
    };
    let (items, enveloped) = split(text).map_err(fail)?;
    let format = match options.format {
        Some(Format::McpToolsList) if !enveloped => {
            return Err(fail(
                "expected an MCP tools/list result ({\"tools\": [...]}, bare or as a JSON-RPC result)"
                    .to_owned(),
            ));
        }
        Some(format) => format,
        None if enveloped => Format::McpToolsList,
        None => items.first().map_or(Format::Manifests, |i| detect(i.text)),
    };

    let results = par_map(&items, |i| convert(i.text, format, options));

    let mut parsed = Parsed {
        format,
        manifests: Vec::with_capacity(items.len()),
        problems: Vec::new(),
        renamed: 0,
    };
    let mut seen: HashMap<ToolKey, usize> = HashMap::new();
    for (item, result) in items.iter().zip(results) {
        match result {
            Ok((manifest, renamed)) => {
                if parsed.keep_first(&mut seen, item.line, manifest) {
                    parsed.renamed += usize::from(renamed);
                }
            }
            Err((name, reason)) => parsed.problems.push(ImportProblem {
                line: item.line,
                name,
                reason,
            }),
        }
    }
    Ok(parsed)
}

impl Parsed {
    /// Appends what [`parse`] read from a later part of the same source
    /// (its lines already numbered within the whole source), refusing a key
    /// given earlier in either, as `parse` does within one part; so a source
    /// read in parts (to show progress) gives what reading it whole gives.
    /// `renamed` adds up what each part counted.
    pub fn append(&mut self, later: Parsed) {
        let mut seen: HashMap<ToolKey, usize> = self
            .manifests
            .iter()
            .map(|(line, m)| (m.key(), *line))
            .collect();
        self.problems.extend(later.problems);
        self.renamed += later.renamed;
        for (line, manifest) in later.manifests {
            self.keep_first(&mut seen, line, manifest);
        }
        self.problems.sort_by_key(|p| p.line);
    }

    /// Keeps `manifest` unless its key was given before (at the line `seen`
    /// holds), which is reported as a problem; returns whether it was kept.
    fn keep_first(
        &mut self,
        seen: &mut HashMap<ToolKey, usize>,
        line: usize,
        manifest: Manifest,
    ) -> bool {
        let key = manifest.key();
        if let Some(first) = seen.get(&key) {
            self.problems.push(ImportProblem {
                line,
                name: Some(manifest.name),
                reason: format!("`{key}` was already given at line {first}"),
            });
            return false;
        }
        seen.insert(key, line);
        self.manifests.push((line, manifest));
        true
    }
}

/// `f` of each of a few large items (runs of definitions), each on a
/// thread of its own, results in order.
pub(crate) fn par_map_each<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    thread::scope(|scope| {
        let handles: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || f(item)))
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(result) => result,
                // `f` does not panic on any input; if it did, re-raise it here.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// `f` over `items` on every core, in order: for the per-definition work
/// of a large import (converting, checking, search documents).
pub(crate) fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let workers = thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(workers).max(256);
    if items.len() <= chunk {
        return items.iter().map(f).collect();
    }
    let f = &f;
    thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| match h.join() {
                Ok(results) => results,
                // `f` does not panic on any input; if it did, re-raise it here.
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect()
    })
}

/// One definition's text and the line it starts on.
struct Item<'a> {
    line: usize,
    text: &'a str,
}

/// A converted manifest (and whether its name was sanitized), or the name if
/// known and the reason for refusing it.
type Converted = Result<(Manifest, bool), (Option<String>, String)>;

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    tools: Option<Vec<&'a RawValue>>,
    #[serde(borrow, default)]
    result: Option<&'a RawValue>,
}

/// Splits a source into definitions; the flag says whether they came in an
/// MCP `tools/list` envelope.
fn split(text: &str) -> Result<(Vec<Item<'_>>, bool), String> {
    let line_of = |raw: &RawValue| {
        let offset = (raw.get().as_ptr() as usize).saturating_sub(text.as_ptr() as usize);
        text.get(..offset).map_or(1, |before| {
            before.bytes().filter(|&b| b == b'\n').count() + 1
        })
    };
    let whole = serde_json::from_str::<&RawValue>(text);
    let trimmed = text.trim_start();
    match whole {
        Ok(raw) if trimmed.starts_with('[') => {
            let list: Vec<&RawValue> = serde_json::from_str(raw.get())
                .map_err(|e| format!("not a JSON array of definitions: {e}"))?;
            let items = list
                .into_iter()
                .map(|r| Item {
                    line: line_of(r),
                    text: r.get(),
                })
                .collect();
            Ok((items, false))
        }
        Ok(raw) if trimmed.starts_with('{') => {
            let envelope: Envelope<'_> = serde_json::from_str(raw.get()).unwrap_or(Envelope {
                tools: None,
                result: None,
            });
            let tools = match (envelope.tools, envelope.result) {
                (Some(tools), _) => Some(tools),
                (None, Some(result)) => {
                    let inner: Envelope<'_> = serde_json::from_str(result.get())
                        .map_err(|e| format!("the JSON-RPC result is not an object: {e}"))?;
                    Some(inner.tools.ok_or(
                        "the JSON-RPC result has no `tools` array (not a tools/list result)",
                    )?)
                }
                (None, None) => None,
            };
            Ok(match tools {
                Some(tools) => (
                    tools
                        .into_iter()
                        .map(|r| Item {
                            line: line_of(r),
                            text: r.get(),
                        })
                        .collect(),
                    true,
                ),
                None => (
                    vec![Item {
                        line: line_of(raw),
                        text: raw.get(),
                    }],
                    false,
                ),
            })
        }
        Ok(_) => Err("expected JSON objects (one a line) or an array of them".to_owned()),
        Err(whole_error) => {
            let items: Vec<Item<'_>> = text
                .lines()
                .enumerate()
                .filter(|(_, l)| !l.trim().is_empty())
                .map(|(i, l)| Item {
                    line: i + 1,
                    text: l,
                })
                .collect();
            // A pretty-printed document with a syntax error would otherwise
            // come back as one complaint per line: report the document's error.
            let first_is_json = items
                .first()
                .is_some_and(|i| serde_json::from_str::<&RawValue>(i.text).is_ok());
            if !items.is_empty() && !first_is_json && trimmed.starts_with(['[', '{']) {
                return Err(format!("not valid JSON or JSON Lines: {whole_error}"));
            }
            Ok((items, false))
        }
    }
}

/// Guesses the format of a definition from its keys.
fn detect(text: &str) -> Format {
    let Ok(object) = serde_json::from_str::<Map<String, Value>>(text) else {
        return Format::Manifests;
    };
    if object.contains_key("inputSchema") {
        Format::Manifests
    } else if object.contains_key("function") {
        Format::OpenAi
    } else if object.contains_key("parameters") && object.contains_key("id") {
        Format::Corpus
    } else if object.contains_key("parameters") {
        Format::OpenAi
    } else {
        Format::Manifests
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawManifest {
    name: String,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
    input_schema: Value,
    #[serde(default)]
    output_schema: Option<Value>,
    #[serde(default)]
    annotations: Option<Annotations>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    permissions: Permissions,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
struct OpenAiFunction {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    parameters: Option<Value>,
}

#[derive(Deserialize)]
struct OpenAiTool {
    function: OpenAiFunction,
}

#[derive(Deserialize)]
struct CorpusTool {
    id: String,
    name: String,
    #[serde(default)]
    description: String,
    parameters: Value,
    #[serde(default)]
    source: Option<String>,
}

/// Reads one definition in `format` and checks it.
fn convert(text: &str, format: Format, options: &ImportOptions) -> Converted {
    let bad = |e: serde_json::Error| (None, format!("not a {format} definition: {e}"));
    let (mut manifest, version) = match format {
        Format::Manifests | Format::McpToolsList => {
            let raw: RawManifest = serde_json::from_str(text).map_err(bad)?;
            let manifest = Manifest {
                name: raw.name,
                version: options.default_version.clone(),
                title: raw.title,
                description: raw.description.unwrap_or_default(),
                input_schema: raw.input_schema,
                output_schema: raw.output_schema,
                annotations: raw.annotations.unwrap_or_default(),
                category: raw.category,
                tags: raw.tags,
                permissions: raw.permissions,
                id: raw.id,
                source: raw.source,
            };
            (manifest, raw.version)
        }
        Format::OpenAi => {
            let function = if text.contains("\"function\"") {
                match serde_json::from_str::<OpenAiTool>(text) {
                    Ok(tool) => tool.function,
                    Err(_) => serde_json::from_str(text).map_err(bad)?,
                }
            } else {
                serde_json::from_str(text).map_err(bad)?
            };
            let schema = function
                .parameters
                .unwrap_or_else(|| serde_json::json!({"type": "object", "properties": {}}));
            let mut manifest = Manifest::new(
                function.name,
                options.default_version.clone(),
                function.description.unwrap_or_default(),
                schema,
            );
            manifest.source = Some("openai".to_owned());
            (manifest, None)
        }
        Format::Corpus => {
            let tool: CorpusTool = serde_json::from_str(text).map_err(bad)?;
            let mut manifest = Manifest::new(
                tool.name,
                options.default_version.clone(),
                tool.description,
                tool.parameters,
            );
            // `livemcpbench:github` → category `livemcpbench`, tag `github`;
            // `openapi-directory:amazonaws.com/acm@2015-12-08` → tag `amazonaws.com/acm`.
            if let Some(source) = &tool.source {
                let (family, rest) = source.split_once(':').unwrap_or((source, ""));
                manifest.category = Some(family.to_owned());
                let label = rest.split('@').next().unwrap_or("");
                if !label.is_empty() {
                    manifest.tags.push(label.to_owned());
                }
            }
            manifest.id = Some(tool.id);
            manifest.source = tool.source;
            (manifest, None)
        }
    };
    let name = Some(manifest.name.clone());
    if let Some(version) = version {
        manifest.version = Version::parse(&version).map_err(|e| {
            (
                name.clone(),
                format!("version `{version}` is not semver: {e}"),
            )
        })?;
    }
    let mut renamed = false;
    if options.sanitize_names && check_name(&manifest.name).is_err() {
        let sanitized = sanitize_name(&manifest.name);
        renamed = sanitized != manifest.name;
        manifest.name = sanitized;
    }
    manifest.check().map_err(|reason| (name, reason))?;
    Ok((manifest, renamed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_read_in_parts_gives_what_reading_it_whole_gives() {
        let lines = [
            r#"{"name": "a", "parameters": {"type": "object"}}"#,
            r#"{"name": "bad name!", "parameters": {"type": "object"}}"#,
            r#"{"name": "b", "parameters": {"type": "object"}}"#,
            r#"{"name": "a", "parameters": {"type": "object"}}"#,
        ];
        let whole = parse_str(&lines.join("\n"));
        let mut joined = parse_str(&lines[..2].join("\n"));
        let mut later = parse_str(&lines[2..].join("\n"));
        for (line, _) in &mut later.manifests {
            *line += 2;
        }
        for problem in &mut later.problems {
            problem.line += 2;
        }
        joined.append(later);
        let lines_of = |p: &Parsed| {
            p.manifests
                .iter()
                .map(|(l, m)| (*l, m.key()))
                .collect::<Vec<_>>()
        };
        assert_eq!(lines_of(&joined), lines_of(&whole));
        assert_eq!(joined.problems, whole.problems);
        assert!(
            joined.problems[1]
                .reason
                .contains("already given at line 1")
        );
    }

    fn parse_str(text: &str) -> Parsed {
        match parse(text, "<test>", &ImportOptions::default()) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn detects_each_format() {
        let manifests =
            r#"{"name":"a","version":"1.2.0","description":"d","inputSchema":{"type":"object"}}"#;
        assert_eq!(parse_str(manifests).format, Format::Manifests);
        let mcp = r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a","inputSchema":{"type":"object"}}]}}"#;
        assert_eq!(parse_str(mcp).format, Format::McpToolsList);
        let openai =
            r#"[{"type":"function","function":{"name":"a","parameters":{"type":"object"}}}]"#;
        assert_eq!(parse_str(openai).format, Format::OpenAi);
        let corpus = r#"{"id":"bfcl/a","name":"a","description":"d","parameters":{"type":"object"},"source":"bfcl"}"#;
        let parsed = parse_str(corpus);
        assert_eq!(parsed.format, Format::Corpus);
        assert_eq!(parsed.manifests[0].1.id.as_deref(), Some("bfcl/a"));
    }

    #[test]
    fn array_items_get_their_lines() {
        let text = "[\n  {\"name\": \"a\", \"parameters\": {\"type\": \"object\"}},\n  {\"name\": \"b c\"}\n]";
        let parsed = parse_str(text);
        assert_eq!(parsed.manifests[0].0, 2);
        assert_eq!(parsed.problems[0].line, 3);
    }

    #[test]
    fn a_broken_document_is_one_error() {
        let err = parse("{\n \"tools\": [\n", "<x>", &ImportOptions::default()).unwrap_err();
        assert!(err.to_string().contains("not valid JSON"));
    }

    #[test]
    fn forcing_mcp_needs_the_envelope() {
        let options = ImportOptions::default().format(Format::McpToolsList);
        assert!(
            parse(
                r#"{"name":"a","inputSchema":{"type":"object"}}"#,
                "<x>",
                &options
            )
            .is_err()
        );
    }
}
