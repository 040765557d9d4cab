//! What a tool is: its name, version, description, schemas, declared
//! permissions and behaviour hints.

use std::{fmt, sync::Arc};

use rustchain_tools_schema::{ArgumentLimits, ArgumentRule, FormatOptions, export::ToolDefinition};
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ToolError;

/// Longest tool name the MCP specification allows.
const MAX_NAME_LEN: usize = 128;

/// A tool name as the MCP specification defines it: 1 to 128 characters of
/// ASCII letters, digits, `_`, `-` and `.`, so names such as
/// `math.factorial` or `get-weather` are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ToolName(Arc<str>);

impl ToolName {
    /// Checks `name` against the MCP rule.
    pub fn new(name: &str) -> Result<Self, ToolError> {
        let invalid = |reason: String| ToolError::InvalidDefinition {
            tool: name.to_owned(),
            reason,
        };
        if name.is_empty() || name.len() > MAX_NAME_LEN {
            return Err(invalid(format!(
                "a tool name must have 1 to {MAX_NAME_LEN} ASCII characters, this one has {} bytes",
                name.len()
            )));
        }
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
        {
            return Err(invalid(format!(
                "a tool name may hold only ASCII letters, digits, '_', '-' and '.', not {bad:?}"
            )));
        }
        Ok(ToolName(Arc::from(name)))
    }

    /// The name as a string.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ToolName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ToolName {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        ToolName::new(&name).map_err(serde::de::Error::custom)
    }
}

/// What a tool may touch, declared by the tool and granted (or not) by policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Permissions {
    /// Directories the tool reads below.
    pub file_read: Vec<String>,
    /// Directories the tool writes below.
    pub file_write: Vec<String>,
    /// Hosts (optionally `host:port`) the tool connects to.
    pub network: Vec<String>,
    /// Programs the tool runs.
    pub commands: Vec<String>,
}

impl Permissions {
    /// True when the tool declares no access to files, network or programs.
    pub fn is_empty(&self) -> bool {
        self.file_read.is_empty()
            && self.file_write.is_empty()
            && self.network.is_empty()
            && self.commands.is_empty()
    }
}

/// How a tool behaves, as the MCP tool annotations describe it (in JSON under
/// MCP's names: `readOnlyHint`, ...). The defaults
/// are the MCP defaults: assume the worst until the tool says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BehaviorHints {
    /// The tool does not change its environment.
    #[serde(rename = "readOnlyHint")]
    pub read_only: bool,
    /// The tool may destroy or overwrite data (meaningful when not read-only).
    #[serde(rename = "destructiveHint")]
    pub destructive: bool,
    /// Calling it again with the same arguments has no further effect.
    #[serde(rename = "idempotentHint")]
    pub idempotent: bool,
    /// The tool reaches an open world (the internet, other systems).
    #[serde(rename = "openWorldHint")]
    pub open_world: bool,
}

impl Default for BehaviorHints {
    fn default() -> Self {
        BehaviorHints {
            read_only: false,
            destructive: true,
            idempotent: false,
            open_world: true,
        }
    }
}

impl BehaviorHints {
    /// A pure function of its arguments: read-only, idempotent, closed world.
    pub const PURE: BehaviorHints = BehaviorHints {
        read_only: true,
        destructive: false,
        idempotent: true,
        open_world: false,
    };
}

/// The description of a tool that its author writes; [`ToolMetadata`] adds the
/// schemas and checks it.
///
/// ```
/// use rustchain_tools_core::{BehaviorHints, ToolInfo};
///
/// let info = ToolInfo::new("text.word_count", "1.0.0")
///     .title("Word count")
///     .description("Counts the words, lines and characters of a text.")
///     .category("text")
///     .tags(["text", "statistics"])
///     .hints(BehaviorHints::PURE);
/// assert_eq!(info.name, "text.word_count");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ToolInfo {
    /// The tool's name (see [`ToolName`]).
    pub name: String,
    /// The tool's version, a semantic version such as `1.2.0`.
    pub version: String,
    /// A short human-readable title.
    pub title: Option<String>,
    /// What the tool does, written for the model that chooses it.
    pub description: String,
    /// The category, such as `text`, `file`, `network`.
    pub category: String,
    /// Free-form tags for discovery.
    pub tags: Vec<String>,
    /// What the tool may touch.
    pub permissions: Permissions,
    /// How the tool behaves.
    pub hints: BehaviorHints,
    /// Where the tool comes from.
    pub source: ToolSource,
    /// How large and deep the arguments may be.
    pub argument_limits: ArgumentLimits,
    /// How the `uri` and `relative-path` formats are checked.
    pub formats: FormatOptions,
    /// Checks in Rust for what the schema cannot say.
    pub rules: Rules,
}

/// Where a tool comes from, which policies may weigh (`input.tool.source`):
/// compiled into the program as one of the shipped built-ins, or anything
/// else (a tool of the application, a manifest, a plugin). A tool is a
/// plugin unless it says otherwise; only compiled-in code can say so (code
/// that runs in the process anyway), while tools described from outside
/// carry no such field and stay plugins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolSource {
    /// One of the built-in tools shipped with RustChain Tools.
    Builtin,
    /// Any other tool.
    #[default]
    Plugin,
}

impl ToolSource {
    /// `builtin` or `plugin`, as policies see it.
    pub fn as_str(self) -> &'static str {
        match self {
            ToolSource::Builtin => "builtin",
            ToolSource::Plugin => "plugin",
        }
    }
}

/// A tool's [`ArgumentRule`]s, run after its schema accepted the arguments.
#[derive(Clone, Default)]
pub struct Rules(Vec<Arc<dyn ArgumentRule>>);

impl Rules {
    /// Every violation of every rule.
    pub fn check(&self, arguments: &Value) -> Vec<rustchain_tools_schema::Violation> {
        self.0
            .iter()
            .flat_map(|rule| rule.check(arguments))
            .collect()
    }

    /// True when the tool has no rules.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Rules({})", self.0.len())
    }
}

impl PartialEq for Rules {
    /// The same rules, by identity.
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(&other.0).all(|(a, b)| Arc::ptr_eq(a, b))
    }
}

impl ToolInfo {
    /// A tool named `name` at `version`, in the category `general`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        ToolInfo {
            name: name.into(),
            version: version.into(),
            title: None,
            description: String::new(),
            category: "general".to_owned(),
            tags: Vec::new(),
            permissions: Permissions::default(),
            hints: BehaviorHints::default(),
            source: ToolSource::default(),
            argument_limits: ArgumentLimits::default(),
            formats: FormatOptions::default(),
            rules: Rules::default(),
        }
    }

    /// Sets the title.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
        self
    }

    /// Sets the description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    /// Sets the category.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = category.into();
        self
    }

    /// Sets the tags.
    pub fn tags<I, S>(mut self, tags: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tags = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the declared permissions.
    pub fn permissions(mut self, permissions: Permissions) -> Self {
        self.permissions = permissions;
        self
    }

    /// Sets the behaviour hints.
    pub fn hints(mut self, hints: BehaviorHints) -> Self {
        self.hints = hints;
        self
    }

    /// Sets where the tool comes from (by default a plugin).
    pub fn source(mut self, source: ToolSource) -> Self {
        self.source = source;
        self
    }

    /// Sets the URI schemes `format: uri` accepts (default: http, https).
    pub fn uri_schemes<I, S>(mut self, schemes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.formats.uri_schemes = schemes.into_iter().map(Into::into).collect();
        self
    }

    /// Adds a rule in Rust for what the schema cannot say; it runs in the
    /// validation layer after the schema accepted the arguments.
    pub fn rule(mut self, rule: impl ArgumentRule) -> Self {
        self.rules.0.push(Arc::new(rule));
        self
    }

    /// Sets how large and deep the arguments may be (default:
    /// [`ArgumentLimits::default`]).
    pub fn argument_limits(mut self, limits: ArgumentLimits) -> Self {
        self.argument_limits = limits;
        self
    }
}

/// A tool's checked description with its input and output schemas.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolMetadata {
    name: ToolName,
    version: Version,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    description: String,
    category: String,
    tags: Vec<String>,
    input_schema: Arc<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_schema: Option<Arc<Value>>,
    permissions: Permissions,
    #[serde(rename = "annotations")]
    hints: BehaviorHints,
    source: ToolSource,
    argument_limits: ArgumentLimits,
    formats: FormatOptions,
    #[serde(skip)]
    rules: Rules,
}

impl ToolMetadata {
    /// Checks `info` (name, version) and joins it with the schemas. The input
    /// schema is checked for use when the tool is registered.
    pub fn new(
        info: ToolInfo,
        input_schema: Value,
        output_schema: Option<Value>,
    ) -> Result<Self, ToolError> {
        let name = ToolName::new(&info.name)?;
        let version = Version::parse(&info.version).map_err(|e| ToolError::InvalidDefinition {
            tool: info.name.clone(),
            reason: format!("version {:?} is not a semantic version: {e}", info.version),
        })?;
        Ok(ToolMetadata {
            name,
            version,
            title: info.title,
            description: info.description,
            category: info.category,
            tags: info.tags,
            input_schema: Arc::new(input_schema),
            output_schema: output_schema.map(Arc::new),
            permissions: info.permissions,
            hints: info.hints,
            source: info.source,
            argument_limits: info.argument_limits,
            formats: info.formats,
            rules: info.rules,
        })
    }

    /// The tool's name.
    pub fn name(&self) -> &ToolName {
        &self.name
    }

    /// The tool's version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// The tool's title, if it has one.
    pub fn title(&self) -> Option<&str> {
        self.title.as_deref()
    }

    /// What the tool does.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The tool's category.
    pub fn category(&self) -> &str {
        &self.category
    }

    /// The tool's tags.
    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    /// The JSON Schema of the arguments.
    pub fn input_schema(&self) -> &Value {
        &self.input_schema
    }

    /// The JSON Schema of the arguments, shared rather than copied.
    pub fn shared_input_schema(&self) -> Arc<Value> {
        Arc::clone(&self.input_schema)
    }

    /// The JSON Schema of the structured result, if declared.
    pub fn output_schema(&self) -> Option<&Value> {
        self.output_schema.as_deref()
    }

    /// What the tool may touch.
    pub fn permissions(&self) -> &Permissions {
        &self.permissions
    }

    /// How the tool behaves.
    pub fn hints(&self) -> BehaviorHints {
        self.hints
    }

    /// Where the tool comes from.
    pub fn source(&self) -> ToolSource {
        self.source
    }

    /// How large and deep the arguments may be.
    pub fn argument_limits(&self) -> ArgumentLimits {
        self.argument_limits
    }

    /// How the `uri` and `relative-path` formats are checked.
    pub fn formats(&self) -> &FormatOptions {
        &self.formats
    }

    /// The tool's rules in Rust.
    pub fn rules(&self) -> &Rules {
        &self.rules
    }

    /// The tool as the schema exporters see it, for
    /// [`export`](rustchain_tools_schema::export::export) to MCP, OpenAI,
    /// Anthropic or Gemini.
    pub fn definition(&self) -> ToolDefinition {
        ToolDefinition {
            name: self.name.to_string(),
            title: self.title.clone(),
            description: self.description.clone(),
            input_schema: (*self.input_schema).clone(),
            output_schema: self.output_schema.as_deref().cloned(),
            annotations: serde_json::to_value(self.hints).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_real_world_names() {
        for name in [
            "math.factorial",
            "get-weather",
            "search_web",
            "A1",
            &"x".repeat(128),
        ] {
            assert!(ToolName::new(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refuses_bad_names_with_the_reason() {
        let err = ToolName::new("get weather").unwrap_err().to_string();
        assert!(err.contains("not ' '"), "{err}");
        assert!(ToolName::new("").is_err());
        assert!(ToolName::new(&"x".repeat(129)).is_err());
        assert!(ToolName::new("tool/evil").is_err());
        assert!(ToolName::new("naïve").is_err());
    }

    #[test]
    fn refuses_a_version_that_is_not_semver() {
        let err = ToolMetadata::new(
            ToolInfo::new("t", "1.0"),
            serde_json::json!({"type": "object"}),
            None,
        )
        .unwrap_err();
        assert!(err.to_string().contains("not a semantic version"), "{err}");
    }

    proptest! {
        #[test]
        fn names_are_accepted_exactly_when_they_follow_the_mcp_rule(name in "\\PC{0,140}") {
            let expected = !name.is_empty()
                && name.len() <= 128
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
            prop_assert_eq!(ToolName::new(&name).is_ok(), expected);
        }
    }
}
