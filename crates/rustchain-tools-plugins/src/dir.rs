//! The directory plugins are installed in: one subdirectory per plugin,
//! named after it, holding its manifest and module.

use std::path::{Path, PathBuf};

use crate::{MANIFEST_FILE, PluginError, PluginHost, PluginManifest, PluginTool};

/// An installed plugin: where it lies and its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct InstalledPlugin {
    /// Its directory.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: PluginManifest,
}

/// What loading a directory of plugins gave.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The plugins that loaded, as tools.
    pub tools: Vec<PluginTool>,
    /// The plugins that did not, each with why; they are not registered.
    pub refused: Vec<PluginError>,
}

/// The plugin directory.
///
/// ```
/// use rustchain_tools_plugins::{PluginDir, PluginHost};
/// use rustchain_tools_sandbox::{net::NetPolicy, wasm::{WasmConfig, WasmEngine}};
///
/// let data = tempfile::tempdir()?;
/// let plugins = PluginDir::new(data.path().join("plugins"));
/// let host = PluginHost::new(WasmEngine::new(WasmConfig::default())?, data.path(), NetPolicy::default());
/// let echo = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plugins/echo");
/// let (added, _tool) = plugins.add(&host, echo.as_ref())?;
/// assert_eq!(added.manifest.name, "example.echo");
/// assert_eq!(plugins.load(&host).tools.len(), 1);
/// plugins.remove("example.echo")?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct PluginDir {
    dir: PathBuf,
}

impl PluginDir {
    /// The plugin directory at `dir` (created when a plugin is added).
    pub fn new(dir: impl Into<PathBuf>) -> PluginDir {
        PluginDir { dir: dir.into() }
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// The installed plugins, by name; a subdirectory whose manifest cannot
    /// be read is listed as an error.
    pub fn list(&self) -> Result<Vec<Result<InstalledPlugin, PluginError>>, PluginError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(PluginError::Io {
                    op: "listing",
                    path: self.dir.clone(),
                    source,
                });
            }
        };
        let mut dirs: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_dir() && !is_hidden(p))
            .collect();
        dirs.sort();
        Ok(dirs
            .into_iter()
            .map(|dir| {
                PluginManifest::read(&dir.join(MANIFEST_FILE))
                    .map(|manifest| InstalledPlugin { dir, manifest })
            })
            .collect())
    }

    /// Loads every installed plugin with `host`; those that fail are
    /// reported, not registered.
    pub fn load(&self, host: &PluginHost) -> Loaded {
        let mut loaded = Loaded::default();
        let listed = match self.list() {
            Ok(listed) => listed,
            Err(e) => {
                loaded.refused.push(e);
                return loaded;
            }
        };
        for plugin in listed {
            match plugin.and_then(|p| host.load(&p.manifest, &p.dir)) {
                Ok(tool) => loaded.tools.push(tool),
                Err(e) => loaded.refused.push(e),
            }
        }
        loaded
    }

    /// Installs the plugin at `source`: a directory holding `plugin.json`,
    /// or the manifest file itself, its module beside it. The plugin is
    /// loaded with `host` first, so one that would be refused at start is
    /// refused here and nothing is installed; its manifest and module are
    /// copied in, whole or not at all. Returns the installed plugin and the
    /// tool it loaded as.
    pub fn add(
        &self,
        host: &PluginHost,
        source: &Path,
    ) -> Result<(InstalledPlugin, PluginTool), PluginError> {
        let (manifest_path, source_dir) = if source.is_dir() {
            (source.join(MANIFEST_FILE), source.to_path_buf())
        } else {
            let dir = source
                .parent()
                .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
            (source.to_path_buf(), dir)
        };
        let manifest = PluginManifest::read(&manifest_path)?;
        let tool = host.load(&manifest, &source_dir)?;
        if let Some(installed) = self.find(&manifest.name)? {
            return Err(PluginError::AlreadyInstalled {
                name: manifest.name,
                version: installed.manifest.version.to_string(),
            });
        }
        let io = |op: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| PluginError::Io { op, path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io("creating", &self.dir))?;
        let staging = tempfile::Builder::new()
            .prefix(".adding-")
            .tempdir_in(&self.dir)
            .map_err(io("creating a staging directory in", &self.dir))?;
        let module_from = source_dir.join(&manifest.module);
        std::fs::copy(&module_from, staging.path().join(&manifest.module))
            .map_err(io("copying", &module_from))?;
        std::fs::copy(&manifest_path, staging.path().join(MANIFEST_FILE))
            .map_err(io("copying", &manifest_path))?;
        let target = self.dir.join(&manifest.name);
        let staged = staging.keep();
        std::fs::rename(&staged, &target).map_err(|source| {
            let _ = std::fs::remove_dir_all(&staged);
            PluginError::Io {
                op: "installing into",
                path: target.clone(),
                source,
            }
        })?;
        Ok((
            InstalledPlugin {
                dir: target,
                manifest,
            },
            tool,
        ))
    }

    /// Removes the plugin named `name`; its manifest is returned.
    pub fn remove(&self, name: &str) -> Result<InstalledPlugin, PluginError> {
        let Some(installed) = self.find(name)? else {
            let installed = self
                .list()?
                .into_iter()
                .filter_map(Result::ok)
                .map(|p| p.manifest.name)
                .collect();
            return Err(PluginError::NotInstalled {
                name: name.to_owned(),
                installed,
            });
        };
        std::fs::remove_dir_all(&installed.dir).map_err(|source| PluginError::Io {
            op: "removing",
            path: installed.dir.clone(),
            source,
        })?;
        Ok(installed)
    }

    fn find(&self, name: &str) -> Result<Option<InstalledPlugin>, PluginError> {
        Ok(self
            .list()?
            .into_iter()
            .filter_map(Result::ok)
            .find(|p| p.manifest.name == name))
    }

    /// A fingerprint of what is installed (names, sizes and times of the
    /// files), to notice an add or remove by another process.
    pub fn fingerprint(&self) -> Vec<(PathBuf, u64, Option<std::time::SystemTime>)> {
        let mut files = Vec::new();
        for dir in std::fs::read_dir(&self.dir).into_iter().flatten().flatten() {
            let dir = dir.path();
            if !dir.is_dir() || is_hidden(&dir) {
                continue;
            }
            for file in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                if let Ok(meta) = file.metadata() {
                    files.push((file.path(), meta.len(), meta.modified().ok()));
                }
            }
        }
        files.sort();
        files
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with('.'))
}
