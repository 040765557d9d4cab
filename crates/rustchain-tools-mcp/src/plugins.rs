//! The installed WASM plugins of a server: loaded at start next to the
//! built-ins, and loaded again when the plugin directory changes, so that a
//! plugin added or removed while serving is offered or withdrawn at once
//! (with `notifications/tools/list_changed`).

use std::{collections::BTreeSet, path::PathBuf, sync::Arc, time::Duration};

use rustchain_tools::{
    Catalog, Runtime, ToolError, ToolExecutor, ToolSet, Version,
    audit::{AuditLog, RecordKind},
    plugins::{PluginDir, PluginHost, PluginTool},
    registry::{Registry, ToolKey},
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::McpServer;

type Fingerprint = Vec<(PathBuf, u64, Option<std::time::SystemTime>)>;

/// The plugin directory of a server and what it needs to load it again.
#[derive(Debug)]
pub struct Plugins {
    base: Runtime,
    host: PluginHost,
    dir: PluginDir,
    audit: Option<AuditLog>,
    /// The plugins served, as of the last commit.
    offered: BTreeSet<(String, Version)>,
    fingerprint: Fingerprint,
}

/// What a load found, to record once its runtime is served.
#[derive(Debug)]
pub(crate) struct PendingLoad {
    offered: BTreeSet<(String, Version)>,
    fingerprint: Fingerprint,
}

impl Plugins {
    pub(crate) fn new(
        base: Runtime,
        host: PluginHost,
        dir: PluginDir,
        audit: Option<AuditLog>,
    ) -> Plugins {
        Plugins {
            base,
            host,
            dir,
            audit,
            offered: BTreeSet::new(),
            fingerprint: Vec::new(),
        }
    }

    /// The plugin directory.
    pub fn dir(&self) -> &PluginDir {
        &self.dir
    }

    /// Loads the installed plugins into a runtime with the base runtime's
    /// tools and layers. A plugin that fails its checks, or that the tool set
    /// refuses (a built-in's name: a plugin may not stand in for one), is
    /// left out, with the reason in `warnings`. Nothing is recorded until
    /// the runtime is served and [`commit`](Self::commit) is called, so a
    /// load that is not served leaves the directory to be loaded again.
    pub(crate) fn load(
        &self,
        warnings: &mut Vec<String>,
    ) -> Result<(Runtime, PendingLoad), ToolError> {
        let fingerprint = self.dir.fingerprint();
        let loaded = self.dir.load(&self.host);
        warnings.extend(
            loaded
                .refused
                .iter()
                .map(|e| format!("{e}; it is not offered")),
        );
        let mut set = ToolSet::new();
        for tool in self.base.tools().iter() {
            set.insert(tool.executor().clone())?;
        }
        let mut offered = BTreeSet::new();
        for plugin in loaded.tools {
            let key = name_and_version(&plugin);
            if let Err(e) = set.insert(plugin.into_executor()) {
                warnings.push(format!("{e}; it is not offered"));
                continue;
            }
            offered.insert(key);
        }
        Ok((
            self.base.with_tools(set),
            PendingLoad {
                offered,
                fingerprint,
            },
        ))
    }

    /// Records a load that is now served: the registry drops the
    /// definitions of plugins that are gone, and the audit log records
    /// `tool_removed` and `tool_registered`.
    pub(crate) fn commit(&mut self, load: PendingLoad, registry: &Registry) {
        for (name, version) in self.offered.difference(&load.offered) {
            let key = ToolKey {
                name: name.clone(),
                version: version.clone(),
                id: None,
            };
            if registry.remove_key(&key).unwrap_or(false) {
                let _ = registry.save();
            }
            self.record(RecordKind::ToolRemoved, name, version);
        }
        for (name, version) in load.offered.difference(&self.offered) {
            self.record(RecordKind::ToolRegistered, name, version);
        }
        self.offered = load.offered;
        self.fingerprint = load.fingerprint;
    }

    fn record(&self, kind: RecordKind, name: &str, version: &Version) {
        if let Some(log) = &self.audit {
            log.record_detached(
                kind,
                json!({"tool": name, "version": version.to_string(), "source": "plugin"}),
            );
        }
    }

    fn changed(&self) -> bool {
        self.dir.fingerprint() != self.fingerprint
    }
}

fn name_and_version(plugin: &PluginTool) -> (String, Version) {
    let metadata = plugin.metadata();
    (metadata.name().to_string(), metadata.version().clone())
}

/// Looks at the plugin directory every `interval` until `stop`, and serves
/// the plugins anew when it changed.
pub async fn watch_plugins(
    server: McpServer,
    mut plugins: Plugins,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut reported: BTreeSet<String> = BTreeSet::new();
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        if !plugins.changed() {
            continue;
        }
        let registry = Arc::clone(server.catalog().registry());
        let mut warnings = Vec::new();
        // A load that is not served is not committed: the directory still
        // looks changed, so the next tick tries again.
        let reloaded = plugins
            .load(&mut warnings)
            .map_err(|e| e.to_string())
            .and_then(|(runtime, pending)| {
                Catalog::open(runtime, Arc::clone(&registry))
                    .map(|catalog| (catalog, pending))
                    .map_err(|e| e.to_string())
            });
        match reloaded {
            Ok((catalog, pending)) => {
                for change in catalog.changed() {
                    warnings.push(format!(
                        "`{}` {} is refused: its definition changed under the same version",
                        change.name, change.version
                    ));
                }
                if server.set_catalog(catalog).await {
                    tracing::info!(dir = %plugins.dir().path().display(), "the plugins changed");
                }
                plugins.commit(pending, &registry);
            }
            Err(e) => warnings.push(format!("the plugins were not reloaded: {e}")),
        }
        for warning in warnings {
            if reported.insert(warning.clone()) {
                tracing::warn!("{warning}");
                eprintln!("warning: {warning}");
            }
        }
    }
}
