//! The tools a runtime can call, each with its validator compiled once.

use std::{collections::HashMap, sync::Arc};

use rustchain_tools_schema::{CompiledSchema, diff::diff};
use semver::{Version, VersionReq};

use crate::{Tool, ToolError, ToolExecutor, ToolMetadata, ToolSource, TypedTool};

/// How many "did you mean" names an unknown-tool error offers at most.
const MAX_SUGGESTIONS: usize = 3;

/// A tool ready to be called: its executor and its compiled input validator.
pub struct RegisteredTool {
    executor: Arc<dyn ToolExecutor>,
    validator: CompiledSchema,
}

impl RegisteredTool {
    /// Compiles the input schema of `executor`; fails when the schema is not a
    /// usable JSON Schema describing an object.
    pub fn new(executor: Arc<dyn ToolExecutor>) -> Result<Self, ToolError> {
        let metadata = executor.metadata();
        let validator =
            CompiledSchema::compile_input(metadata.shared_input_schema(), metadata.formats())
                .map_err(|e| ToolError::InvalidDefinition {
                    tool: metadata.name().to_string(),
                    reason: format!("its input schema is unusable: {e}"),
                })?;
        Ok(RegisteredTool {
            executor,
            validator,
        })
    }

    /// The tool's metadata.
    pub fn metadata(&self) -> &ToolMetadata {
        self.executor.metadata()
    }

    /// The tool itself.
    pub fn executor(&self) -> &Arc<dyn ToolExecutor> {
        &self.executor
    }

    /// The validator of the tool's arguments.
    pub fn validator(&self) -> &CompiledSchema {
        &self.validator
    }
}

impl std::fmt::Debug for RegisteredTool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegisteredTool")
            .field("name", self.metadata().name())
            .field("version", self.metadata().version())
            .finish_non_exhaustive()
    }
}

/// Semver compatibility: the same major version, or for 0.x the same minor.
fn same_range(a: &Version, b: &Version) -> bool {
    a.major == b.major && (a.major > 0 || a.minor == b.minor)
}

/// Refuses `newer` when it shares `older`'s compatibility range but refuses
/// inputs `older` accepted.
fn check_evolution(older: &ToolMetadata, newer: &ToolMetadata) -> Result<(), ToolError> {
    if !same_range(older.version(), newer.version()) {
        return Ok(());
    }
    let changes = diff(older.input_schema(), newer.input_schema()).map_err(|e| {
        ToolError::InvalidDefinition {
            tool: newer.name().to_string(),
            reason: format!(
                "its input schema cannot be compared with version {}: {e}",
                older.version()
            ),
        }
    })?;
    if changes.is_compatible() {
        return Ok(());
    }
    let listed: Vec<String> = changes
        .breaking
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                if c.pointer.is_empty() {
                    "/"
                } else {
                    &c.pointer
                },
                c.what
            )
        })
        .collect();
    Err(ToolError::InvalidDefinition {
        tool: newer.name().to_string(),
        reason: format!(
            "version {} breaks the input schema of version {} without a major version bump: {}",
            newer.version(),
            older.version(),
            listed.join("; ")
        ),
    })
}

/// A set of tools by name, with several versions of a name allowed.
///
/// Built before the runtime starts and immutable afterwards, so lookups take
/// no lock.
#[derive(Debug, Default)]
pub struct ToolSet {
    /// Versions of each name, newest first.
    by_name: HashMap<String, Vec<Arc<RegisteredTool>>>,
}

impl ToolSet {
    /// An empty set.
    pub fn new() -> Self {
        ToolSet::default()
    }

    /// Adds a typed tool.
    pub fn add<T: Tool>(&mut self, tool: T) -> Result<(), ToolError> {
        self.insert(Arc::new(TypedTool::new(tool)?))
    }

    /// Adds a tool; fails when its schema is unusable, its name and version
    /// are already taken, or its name is a built-in's and it is not one (a
    /// newer version from elsewhere would otherwise take the built-in's
    /// calls).
    pub fn insert(&mut self, executor: Arc<dyn ToolExecutor>) -> Result<(), ToolError> {
        let tool = Arc::new(RegisteredTool::new(executor)?);
        let metadata = tool.metadata();
        let versions = self.by_name.entry(metadata.name().to_string()).or_default();
        if versions.iter().any(|t| {
            (t.metadata().source() == ToolSource::Builtin)
                != (metadata.source() == ToolSource::Builtin)
        }) {
            return Err(ToolError::InvalidDefinition {
                tool: metadata.name().to_string(),
                reason: "a built-in tool has this name, and only built-in versions may join it"
                    .into(),
            });
        }
        if versions
            .iter()
            .any(|t| t.metadata().version() == metadata.version())
        {
            return Err(ToolError::InvalidDefinition {
                tool: metadata.name().to_string(),
                reason: format!("version {} is already registered", metadata.version()),
            });
        }
        let at = versions.partition_point(|t| t.metadata().version() > metadata.version());
        // Neighbours within one compatibility range must not break each other:
        // the older one's inputs must all be accepted by the newer one.
        if let Some(older) = versions.get(at) {
            check_evolution(older.metadata(), metadata)?;
        }
        if let Some(newer) = at.checked_sub(1).and_then(|i| versions.get(i)) {
            check_evolution(metadata, newer.metadata())?;
        }
        versions.insert(at, tool);
        Ok(())
    }

    /// The newest version of `name` that meets `requirement` (any version when
    /// `None`).
    pub fn resolve(
        &self,
        name: &str,
        requirement: Option<&VersionReq>,
    ) -> Result<Arc<RegisteredTool>, ToolError> {
        let Some(versions) = self.by_name.get(name) else {
            return Err(ToolError::UnknownTool {
                tool: name.to_owned(),
                suggestions: self.suggestions(name),
            });
        };
        let found = match requirement {
            // Releases before pre-releases, as a `*` requirement would choose;
            // a tool with only pre-releases still resolves.
            None => versions
                .iter()
                .find(|t| t.metadata().version().pre.is_empty())
                .or_else(|| versions.first()),
            Some(req) => versions
                .iter()
                .find(|t| req.matches(t.metadata().version())),
        };
        found.cloned().ok_or_else(|| ToolError::NoMatchingVersion {
            tool: name.to_owned(),
            requirement: requirement.map(ToString::to_string).unwrap_or_default(),
            available: versions
                .iter()
                .map(|t| t.metadata().version().to_string())
                .collect(),
        })
    }

    /// Every registered tool, every version, sorted by name then newest first.
    pub fn iter(&self) -> impl Iterator<Item = &Arc<RegisteredTool>> {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        names.into_iter().flat_map(|n| self.by_name[n].iter())
    }

    /// How many tools (counting each version) are registered.
    pub fn len(&self) -> usize {
        self.by_name.values().map(Vec::len).sum()
    }

    /// True when no tool is registered.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    fn suggestions(&self, name: &str) -> Vec<String> {
        let mut scored: Vec<(f64, &String)> = self
            .by_name
            .keys()
            .map(|known| (strsim::normalized_damerau_levenshtein(name, known), known))
            .filter(|(score, _)| *score >= 0.5)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        scored
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .map(|(_, n)| n.clone())
            .collect()
    }
}
