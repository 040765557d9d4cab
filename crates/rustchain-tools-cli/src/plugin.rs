//! `plugin add|list|remove`, and the installed plugins for the other
//! commands.

use std::path::Path;

use anyhow::{Context, Result};
use clap::Subcommand;
use rustchain_tools::{
    RuntimeBuilder, ToolExecutor, manifest_of,
    plugins::{PluginDir, PluginHost},
    registry::{Registry, ToolKey},
    sandbox::net::NetPolicy,
};
use rustchain_tools_mcp::{LoadedConfig, plugin_dir, plugin_host};
use serde_json::json;

use crate::settings::Settings;

/// `plugin`.
#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    /// The configuration file whose `[plugins]` section and registry to use
    /// (default: ./rustchain.toml when there is one).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: PluginCommand,
}

/// `plugin` subcommands.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Install a plugin: a directory holding plugin.json and its module, or
    /// the manifest file itself. It is checked (manifest, framework range,
    /// module imports and exports, capabilities) and refused whole if any
    /// check fails; a running `mcp` server offers it within a second.
    Add {
        /// The plugin directory or manifest file.
        source: std::path::PathBuf,
    },
    /// List the installed plugins.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove an installed plugin (and its definition from the registry).
    Remove {
        /// The plugin's name.
        name: String,
    },
}

pub(crate) fn config(file: Option<&Path>) -> Result<LoadedConfig> {
    Ok(LoadedConfig::load(file)?)
}

/// The registry the configuration names, else the CLI's.
fn registry(loaded: &LoadedConfig, settings: &Settings) -> Result<Registry> {
    let dir = match &loaded.config.registry {
        Some(dir) => loaded.resolve(dir),
        None => settings.registry_dir(None),
    };
    Ok(Registry::open(&dir)?)
}

pub(crate) fn host(loaded: &LoadedConfig, root: &Path) -> Result<PluginHost> {
    Ok(plugin_host(loaded, root, NetPolicy::default())?)
}

pub(crate) fn root(loaded: &LoadedConfig) -> std::path::PathBuf {
    let root = loaded.resolve(loaded.config.root.as_deref().unwrap_or(Path::new(".")));
    std::fs::canonicalize(&root).unwrap_or(root)
}

/// `plugin ...`.
pub fn run(args: &PluginArgs, settings: &Settings) -> Result<u8> {
    let loaded = config(args.config.as_deref())?;
    let dir = PluginDir::new(plugin_dir(&loaded)?);
    match &args.command {
        PluginCommand::Add { source } => {
            let host = host(&loaded, &root(&loaded))?;
            let (installed, tool) = dir.add(&host, source)?;
            let manifest = &installed.manifest;
            // Its definition goes into the registry now, so that search
            // finds it before any server has started.
            let registry = registry(&loaded, settings)?;
            registry.register(&[manifest_of(tool.metadata())])?;
            registry.save()?;
            println!(
                "added plugin {} {} to {}",
                manifest.name,
                manifest.version,
                installed.dir.display()
            );
            Ok(0)
        }
        PluginCommand::List { json } => {
            let listed = dir.list()?;
            if *json {
                let items: Vec<_> = listed
                    .iter()
                    .map(|p| match p {
                        Ok(p) => json!({
                            "name": p.manifest.name,
                            "version": p.manifest.version.to_string(),
                            "description": p.manifest.description,
                            "capabilities": p.manifest.capabilities,
                            "dir": p.dir,
                        }),
                        Err(e) => json!({"error": e.to_string()}),
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&items)?);
            } else if listed.is_empty() {
                println!("no plugins installed in {}", dir.path().display());
            } else {
                for plugin in &listed {
                    match plugin {
                        Ok(p) => println!(
                            "{} {}  {}",
                            p.manifest.name, p.manifest.version, p.manifest.description
                        ),
                        Err(e) => println!("(unreadable) {e}"),
                    }
                }
            }
            Ok(0)
        }
        PluginCommand::Remove { name } => {
            let removed = dir.remove(name)?;
            let registry = registry(&loaded, settings)?;
            let key = ToolKey {
                name: removed.manifest.name.clone(),
                version: removed.manifest.version.clone(),
                id: None,
            };
            if registry.remove_key(&key)? {
                registry.save()?;
            }
            println!(
                "removed plugin {} {}",
                removed.manifest.name, removed.manifest.version
            );
            Ok(0)
        }
    }
}

/// Adds the installed plugins to `builder`, their file capabilities below
/// `root`; those that fail their checks are reported and left out.
pub fn with_installed(mut builder: RuntimeBuilder, root: &Path) -> Result<RuntimeBuilder> {
    let loaded = config(None)?;
    if !loaded.config.plugins.enabled {
        return Ok(builder);
    }
    let dir = PluginDir::new(plugin_dir(&loaded)?);
    if dir.list().is_ok_and(|listed| listed.is_empty()) {
        return Ok(builder);
    }
    let host = host(&loaded, root).context("the plugins cannot be loaded")?;
    let plugins = dir.load(&host);
    for refused in &plugins.refused {
        eprintln!("warning: {refused}; it is left out");
    }
    for tool in plugins.tools {
        if let Err(e) = builder.try_executor(tool.into_executor()) {
            eprintln!("warning: {e}; it is left out");
        }
    }
    Ok(builder)
}
