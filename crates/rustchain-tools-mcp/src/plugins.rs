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
    loaded: BTreeSet<(String, Version)>,
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
            loaded: BTreeSet::new(),
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
    /// left out, with the reason in `warnings`; the registry drops the definitions of
    /// plugins that are gone.
    pub(crate) fn load(
        &mut self,
        registry: &Registry,
        warnings: &mut Vec<String>,
    ) -> Result<Runtime, ToolError> {
        self.fingerprint = self.dir.fingerprint();
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
        let mut now = BTreeSet::new();
        for plugin in loaded.tools {
            let key = name_and_version(&plugin);
            if let Err(e) = set.insert(plugin.into_executor()) {
                warnings.push(format!("{e}; it is not offered"));
                continue;
            }
            now.insert(key);
        }
        for (name, version) in self.loaded.difference(&now) {
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
        for (name, version) in now.difference(&self.loaded) {
            self.record(RecordKind::ToolRegistered, name, version);
        }
        self.loaded = now;
        Ok(self.base.with_tools(set))
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
        let catalog = server.catalog();
        let registry = Arc::clone(catalog.registry());
        let mut warnings = Vec::new();
        let reloaded = plugins
            .load(&registry, &mut warnings)
            .map_err(|e| e.to_string())
            .and_then(|runtime| Catalog::open(runtime, registry).map_err(|e| e.to_string()));
        match reloaded {
            Ok(catalog) => {
                for change in catalog.changed() {
                    warnings.push(format!(
                        "`{}` {} is refused: its definition changed under the same version",
                        change.name, change.version
                    ));
                }
                if server.set_catalog(catalog).await {
                    tracing::info!(dir = %plugins.dir().path().display(), "the plugins changed");
                }
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
