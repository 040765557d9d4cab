//! The tools a runtime can call, each with its validator compiled once.

use std::{collections::HashMap, sync::Arc};

use rustchain_tools_schema::CompiledSchema;
use semver::VersionReq;

use crate::{Tool, ToolError, ToolExecutor, ToolMetadata, TypedTool};

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
            CompiledSchema::compile_input(metadata.shared_input_schema()).map_err(|e| {
                ToolError::InvalidDefinition {
                    tool: metadata.name().to_string(),
                    reason: format!("its input schema is unusable: {e}"),
                }
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

    /// Adds a tool; fails when its schema is unusable or its name and version
    /// are already taken.
    pub fn insert(&mut self, executor: Arc<dyn ToolExecutor>) -> Result<(), ToolError> {
        let tool = Arc::new(RegisteredTool::new(executor)?);
        let metadata = tool.metadata();
        let versions = self.by_name.entry(metadata.name().to_string()).or_default();
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
