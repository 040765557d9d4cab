//! `plugin add|install|list|remove`, and the installed plugins for the other
//! commands.

use std::path::Path;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rustchain_tools::{
    RuntimeBuilder, ToolExecutor, manifest_of,
    plugins::{PluginDir, PluginHost},
    registry::{Registry, ToolKey},
    sandbox::net::NetPolicy,
};
use rustchain_tools_market::package::write_dir;
use rustchain_tools_market::{PackageBundle, PublisherKey, VersionRecord};
use rustchain_tools_mcp::{LoadedConfig, plugin_dir, plugin_host};
use serde_json::{Value, json};

use crate::exit;
use crate::market::{MarketClient, MarketFlags};
use crate::settings::Settings;

/// `plugin`.
#[derive(Debug, clap::Args)]
pub struct PluginArgs {
    /// The configuration file whose `[plugins]` section and registry to use
    /// (default: ./rustchain.toml when there is one).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(flatten)]
    market: MarketFlags,
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
    /// Install a published plugin from the market: its signature is
    /// checked against the keys registered to its publisher and its files
    /// against the signed digest before the checks of `add`.
    Install {
        /// The package: NAME for its latest version, or NAME@VERSION.
        package: String,
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
        PluginCommand::Add { source } => add(&loaded, settings, &dir, source),
        PluginCommand::Install { package } => {
            let client = MarketClient::new(&args.market)?;
            let (name, asked) = match package.split_once('@') {
                Some((name, version)) => (name.to_owned(), Some(version)),
                None => (package.clone(), None),
            };
            let versions = match client.get(&format!("/api/v1/packages/{name}"))? {
                Ok(v) => v,
                Err(refusal) => return Ok(refusal.report()),
            };
            let versions: Vec<VersionRecord> = serde_json::from_value(versions)
                .context("the market's answer is not a list of versions")?;
            let version = match asked {
                Some(version) => {
                    // An exact yanked version still installs (a lock file
                    // may name it), but never silently.
                    if let Some(yanked) = versions
                        .iter()
                        .find(|v| v.package.version == version)
                        .and_then(|v| v.yanked.as_ref())
                    {
                        eprintln!("warning: {package} is yanked: {}", yanked.reason);
                    }
                    version.to_owned()
                }
                None => versions
                    .iter()
                    .filter(|v| v.yanked.is_none())
                    .filter_map(|v| semver::Version::parse(&v.package.version).ok())
                    .max()
                    .with_context(|| format!("{package} has no version that is not yanked"))?
                    .to_string(),
            };
            let bundle = match client.get(&format!("/api/v1/packages/{name}/{version}"))? {
                Ok(v) => v,
                Err(refusal) => return Ok(refusal.report()),
            };
            let bundle: PackageBundle =
                serde_json::from_value(bundle).context("the market's answer is not a package")?;
            if bundle.package.name != name || bundle.package.version != version {
                bail!(
                    "asked for {name}@{version}, the market sent {}@{}",
                    bundle.package.name,
                    bundle.package.version
                );
            }
            let publisher = &bundle.package.publisher;
            let keys = match client.get(&format!("/api/v1/publishers/{publisher}/keys"))? {
                Ok(v) => v,
                Err(refusal) => return Ok(refusal.report()),
            };
            let keys = keys["keys"]
                .as_array()
                .map(|keys| {
                    keys.iter()
                        .filter_map(Value::as_str)
                        .map(|hex| PublisherKey::from_hex(publisher, hex))
                        .collect::<Result<Vec<_>, _>>()
                })
                .transpose()?
                .unwrap_or_default();
            let files = bundle.files()?;
            if let Err(e) = bundle.package.verify(&keys, Some(&files)) {
                eprintln!("error: {e}; nothing was installed");
                return Ok(exit::TOOL_FAILED);
            }
            let unpacked = tempfile::tempdir()?;
            write_dir(unpacked.path(), &files)?;
            println!(
                "verified {name}@{version} ({}) signed by {publisher}",
                bundle.package.digest
            );
            add(&loaded, settings, &dir, unpacked.path())
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

/// `plugin add SOURCE`: checks and installs it, and registers its
/// definition so that search finds it before any server has started.
fn add(loaded: &LoadedConfig, settings: &Settings, dir: &PluginDir, source: &Path) -> Result<u8> {
    let host = host(loaded, &root(loaded))?;
    let (installed, tool) = dir.add(&host, source)?;
    let manifest = &installed.manifest;
    // Its definition goes into the registry now, so that search
    // finds it before any server has started.
    let registry = registry(loaded, settings)?;
    registry.register(&[manifest_of(tool.metadata())])?;
    registry.save()?;
    println!(
        "added plugin {} {} to {}",
        manifest.name,
        manifest.version,
        installed.dir.display()
    );
    Ok(exit::SUCCESS)
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
