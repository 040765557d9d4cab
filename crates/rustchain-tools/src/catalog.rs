//! One set of tools: what a runtime can call and what a registry can find,
//! kept in the same registry so that search finds the callable tools and
//! says which definitions are there for discovery only.

use std::{collections::HashMap, sync::Arc};

use rustchain_tools_core::{Runtime, ToolCall, ToolError, ToolMetadata, ToolResult, Version};
use rustchain_tools_registry::{
    Annotations, Filters, Manifest, Registry, RegistryError, SearchResult, ToolKey,
};

/// The registry manifest of a runtime tool: its MCP definition, category,
/// tags, declared permissions and source.
pub fn manifest_of(metadata: &ToolMetadata) -> Manifest {
    let hints = metadata.hints();
    Manifest {
        name: metadata.name().to_string(),
        version: metadata.version().clone(),
        title: metadata.title().map(str::to_owned),
        description: metadata.description().to_owned(),
        input_schema: metadata.input_schema().clone(),
        output_schema: metadata.output_schema().cloned(),
        annotations: Annotations {
            title: None,
            read_only_hint: Some(hints.read_only),
            destructive_hint: Some(hints.destructive),
            idempotent_hint: Some(hints.idempotent),
            open_world_hint: Some(hints.open_world),
        },
        category: Some(metadata.category().to_owned()).filter(|c| !c.is_empty()),
        tags: metadata.tags().to_vec(),
        permissions: metadata.permissions().clone(),
        id: None,
        source: Some(metadata.source().as_str().to_owned()),
    }
}

/// A runtime tool whose definition differs from the one the registry holds
/// under the same name and version: refused until the old definition is
/// removed (`rustchain-tools registry remove NAME@VERSION`) or the tool's
/// version is raised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefinitionChange {
    /// The tool's name.
    pub name: String,
    /// The version both definitions carry.
    pub version: Version,
    /// The digest of the definition the registry holds (pinned).
    pub pinned: String,
    /// The digest of the definition offered now.
    pub offered: String,
}

impl DefinitionChange {
    fn error(&self) -> ToolError {
        ToolError::InvalidDefinition {
            tool: self.name.clone(),
            reason: format!(
                "its definition changed under version {} (the registry pins {}, the tool now \
                 offers {}), so it is refused; raise the tool's version, or accept the new \
                 definition with `rustchain-tools registry remove {}@{}`",
                self.version, self.pinned, self.offered, self.name, self.version
            ),
        }
    }
}

/// A search result and whether this program can call it.
#[derive(Debug, Clone, PartialEq)]
pub struct CatalogHit {
    /// What the registry found.
    pub result: SearchResult,
    /// True when a runtime tool implements it (and its definition is the
    /// pinned one); false for a definition held for discovery only.
    pub callable: bool,
}

/// A runtime and a registry as one set of tools.
///
/// Opening registers each runtime tool's definition in the registry (once:
/// a definition already there is kept), so that search finds the tools the
/// runtime calls next to the definitions imported for discovery. A runtime
/// tool whose definition differs from the registry's under the same name and
/// version is refused (see [`DefinitionChange`]); a definition with no
/// runtime tool behind it is found by search, marked as not callable, and
/// refused by [`call`](Self::call) with [`ToolError::NoImplementation`].
///
/// ```
/// use std::sync::Arc;
/// use rustchain_tools::{Catalog, Runtime, RuntimeBuilderExt, StackConfig, registry::{Filters, Registry}};
///
/// let dir = tempfile::tempdir()?;
/// let runtime = Runtime::builder()
///     .builtins()
///     .layers(StackConfig::default().audit_file(dir.path().join("audit.jsonl")))
///     .build()?;
/// let registry = Arc::new(Registry::open(&dir.path().join("registry"))?);
/// let catalog = Catalog::open(runtime, registry)?;
/// let hits = catalog.search("count the words of a text", &Filters::none(), 3)?;
/// assert_eq!(hits[0].result.name, "text.word_count");
/// assert!(hits[0].callable);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Catalog {
    runtime: Runtime,
    registry: Arc<Registry>,
    /// The definition digest of each runtime tool, by name and version.
    digests: Arc<HashMap<(String, Version), String>>,
    changed: Arc<[DefinitionChange]>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("runtime", &self.runtime)
            .field("registry", &self.registry.dir())
            .field("changed", &self.changed)
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Registers the runtime's tools in `registry` (saving it when any was
    /// new) and compares those already there.
    pub fn open(runtime: Runtime, registry: Arc<Registry>) -> Result<Catalog, RegistryError> {
        let snapshot = registry.snapshot();
        let mut digests = HashMap::new();
        let mut changed = Vec::new();
        let mut new = Vec::new();
        for tool in runtime.tools().iter() {
            let manifest = manifest_of(tool.metadata());
            let offered = manifest.definition_digest();
            let key = ToolKey {
                name: manifest.name.clone(),
                version: manifest.version.clone(),
                id: None,
            };
            match snapshot.by_key(&key) {
                Some(stored) => {
                    let pinned = stored.manifest()?.definition_digest();
                    if pinned != offered {
                        changed.push(DefinitionChange {
                            name: manifest.name.clone(),
                            version: manifest.version.clone(),
                            pinned,
                            offered: offered.clone(),
                        });
                    }
                }
                None => new.push(manifest.clone()),
            }
            digests.insert((manifest.name, manifest.version), offered);
        }
        drop(snapshot);
        if !new.is_empty() {
            let report = registry.register(&new)?;
            if let Some(problem) = report.problems.first() {
                // Runtime tools passed stricter checks when they were built;
                // a refusal here is a bug worth stopping for.
                return Err(RegistryError::Format {
                    origin: "the runtime's tools".into(),
                    reason: format!("{}: {}", new[problem.line - 1].name, problem.reason),
                });
            }
            registry.save()?;
        }
        Ok(Catalog {
            runtime,
            registry,
            digests: Arc::new(digests),
            changed: changed.into(),
        })
    }

    /// The runtime that calls the tools.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The registry that finds them.
    pub fn registry(&self) -> &Arc<Registry> {
        &self.registry
    }

    /// The runtime tools refused because their definition changed under a
    /// version the registry holds.
    pub fn changed(&self) -> &[DefinitionChange] {
        &self.changed
    }

    /// The definition digest of the runtime tool `name` at `version`
    /// (see [`Manifest::definition_digest`]).
    pub fn digest(&self, name: &str, version: &Version) -> Option<&str> {
        self.digests
            .get(&(name.to_owned(), version.clone()))
            .map(String::as_str)
    }

    /// Whether the runtime tool `name` at `version` may be called: it
    /// exists and its definition is the pinned one.
    pub fn is_callable(&self, name: &str, version: &Version) -> bool {
        self.digest(name, version).is_some() && self.change_of(name, version).is_none()
    }

    fn change_of(&self, name: &str, version: &Version) -> Option<&DefinitionChange> {
        self.changed
            .iter()
            .find(|c| c.name == name && &c.version == version)
    }

    /// Searches the registry; each hit says whether it can be called here.
    pub fn search(
        &self,
        query: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<CatalogHit>, RegistryError> {
        Ok(self
            .registry
            .search(query, filters, limit)?
            .into_iter()
            .map(|result| CatalogHit {
                callable: result.key.id.is_none()
                    && self.is_callable(&result.name, &result.version),
                result,
            })
            .collect())
    }

    /// Calls a tool through the runtime's pipeline. A definition known only
    /// to the registry is refused with [`ToolError::NoImplementation`], a
    /// tool whose definition changed with [`ToolError::InvalidDefinition`];
    /// both refusals reach the runtime's refusal listeners (the audit log).
    pub async fn call(&self, call: ToolCall) -> Result<ToolResult, ToolError> {
        match self
            .runtime
            .tools()
            .resolve(&call.tool, call.version.as_ref())
        {
            Ok(tool) => {
                let metadata = tool.metadata();
                if let Some(change) = self.change_of(metadata.name().as_str(), metadata.version()) {
                    let error = change.error();
                    return Err(self.runtime.refuse(&call, error).await);
                }
                self.runtime.call(call).await
            }
            Err(ToolError::UnknownTool { .. }) if self.registry.snapshot().contains(&call.tool) => {
                let error = ToolError::NoImplementation {
                    tool: call.tool.clone(),
                };
                Err(self.runtime.refuse(&call, error).await)
            }
            // The runtime refuses it again, with the listeners told.
            Err(_) => self.runtime.call(call).await,
        }
    }
}
