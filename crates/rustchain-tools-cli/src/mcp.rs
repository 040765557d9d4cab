//! `rustchain-tools mcp`: serve the tools to an MCP client over stdio or
//! streamable HTTP, configured by `rustchain.toml` and flags.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result};
use rustchain_tools::{audit::Durability, registry::RegistryOptions};
use rustchain_tools_mcp::{
    HttpOptions, LoadedConfig, Mode, build, serve_http, serve_stdio, watch_exposure, watch_plugins,
};
use tokio_util::sync::CancellationToken;

use crate::{discovery::SourceArgs, settings::Settings};

/// The flags of `mcp`; each overrides its field of `rustchain.toml`.
#[derive(Debug, Clone, clap::Args)]
pub struct McpArgs {
    /// Serve streamable HTTP on this address (loopback unless the
    /// configuration allows others) instead of stdio.
    #[arg(long, value_name = "ADDR")]
    http: Option<SocketAddr>,
    /// The configuration file (default: ./rustchain.toml when there is one).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The directory the file tools work in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    root: Option<PathBuf>,
    /// A directory of Rego policies added to the default policy.
    #[arg(long, value_name = "DIR")]
    policy: Option<PathBuf>,
    /// A compliance profile (repeatable; replaces the configured ones, which
    /// default to read-only).
    #[arg(long = "profile", value_name = "NAME")]
    profiles: Vec<String>,
    /// Enforce no compliance profile (the read-only default included).
    #[arg(long, conflicts_with = "profiles")]
    no_profile: bool,
    /// Who calls (default: local).
    #[arg(long, value_name = "ID")]
    principal: Option<String>,
    /// A role of the principal (repeatable; replaces the configured ones).
    #[arg(long = "role", value_name = "ROLE")]
    roles: Vec<String>,
    /// The audit log (default: audit.jsonl in the data directory).
    #[arg(long, value_name = "FILE")]
    audit: Option<PathBuf>,
    /// When an audit record is on disk: group, fsync or none.
    #[arg(long, value_name = "MODE", value_parser = parse_durability)]
    durability: Option<Durability>,
    /// Record nothing. Calls leave no trace; for trying things out only.
    #[arg(long)]
    insecure_no_audit: bool,
    /// Limits of the pipeline: a JSON file with the fields of `LimitsConfig`.
    #[arg(long, value_name = "FILE")]
    limits: Option<PathBuf>,
    /// A glob of tool names to expose (repeatable; replaces the configured ones).
    #[arg(long = "expose", value_name = "GLOB")]
    expose: Vec<String>,
    /// A glob of tool names to hide (repeatable; added to the configured ones).
    #[arg(long = "hide", value_name = "GLOB")]
    hide: Vec<String>,
    /// How tools are offered: auto, list, or search (find_tools and call_tool).
    #[arg(long, value_name = "MODE", value_parser = parse_mode)]
    mode: Option<Mode>,
    /// Tools per tools/list page.
    #[arg(long, value_name = "N")]
    page_size: Option<usize>,
    /// A program cmd_run may start (repeatable; added to the configured ones).
    #[arg(long = "allow-program", value_name = "PROGRAM")]
    programs: Vec<String>,
    /// Let http_fetch reach loopback addresses on any port.
    #[arg(long)]
    allow_loopback: bool,
    /// The environment variable holding the bearer token HTTP clients must send.
    #[arg(long, value_name = "NAME")]
    token_env: Option<String>,
    #[command(flatten)]
    source: SourceArgs,
}

fn parse_durability(text: &str) -> Result<Durability, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("`{text}` is not one of group, fsync, none"))
}

fn parse_mode(text: &str) -> Result<Mode, String> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| format!("`{text}` is not one of auto, list, search"))
}

/// A path given on the command line, absolute, so that it does not read as
/// relative to the configuration file.
fn absolute(path: &Path) -> PathBuf {
    std::env::current_dir()
        .map(|d| d.join(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

impl McpArgs {
    fn apply(&self, loaded: &mut LoadedConfig, settings: &Settings) -> Result<()> {
        let config = &mut loaded.config;
        if let Some(root) = &self.root {
            config.root = Some(absolute(root));
        }
        if let Some(dir) = &self.policy {
            config.policy.dir = Some(absolute(dir));
        }
        if self.no_profile {
            config.policy.profiles.clear();
        } else if !self.profiles.is_empty() {
            config.policy.profiles = self.profiles.clone();
        }
        if let Some(id) = &self.principal {
            config.principal.id = id.clone();
        }
        if !self.roles.is_empty() {
            config.principal.roles = self.roles.clone();
        }
        if let Some(file) = &self.audit {
            config.audit.file = Some(absolute(file));
            config.audit.enabled = true;
        }
        if let Some(durability) = self.durability {
            config.audit.durability = durability;
        }
        if self.insecure_no_audit {
            config.audit.enabled = false;
        }
        if let Some(path) = &self.limits {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --limits {}", path.display()))?;
            config.limits = Some(serde_json::from_str(&text).with_context(|| {
                format!("--limits {} is not a limits configuration", path.display())
            })?);
        } else if config.limits.is_none() {
            config.limits = settings.config.limits.clone();
        }
        if !self.expose.is_empty() {
            config.tools.expose = self.expose.clone();
        }
        config.tools.hide.extend(self.hide.iter().cloned());
        if let Some(mode) = self.mode {
            config.tools.mode = mode;
        }
        if let Some(size) = self.page_size {
            config.tools.page_size = size;
        }
        config
            .sandbox
            .programs
            .extend(self.programs.iter().cloned());
        if self.allow_loopback {
            config.sandbox.allow_loopback = true;
        }
        if let Some(addr) = self.http {
            config.http.listen = addr;
        }
        if let Some(name) = &self.token_env {
            config.http.token_env = Some(name.clone());
        }
        if self.source.registry.is_some() || config.registry.is_none() {
            config.registry = Some(absolute(
                &settings.registry_dir(self.source.registry.as_deref()),
            ));
        }
        Ok(())
    }
}

/// `mcp`.
pub fn serve(args: &McpArgs) -> Result<u8> {
    let settings = Settings::load()?;
    let mut loaded = LoadedConfig::load(args.config.as_deref())?;
    args.apply(&mut loaded, &settings)?;
    let registry_options = RegistryOptions {
        model: args.source.model(&settings)?,
        ..RegistryOptions::default()
    };
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    tokio.block_on(async move {
        // Everything the operator reads goes to stderr: over stdio, stdout
        // is the protocol.
        let built = build(&loaded, &registry_options)?;
        for warning in &built.warnings {
            eprintln!("warning: {warning}");
        }
        let server = built.server;
        let plugins = built.plugins;
        eprintln!(
            "rustchain-tools mcp: {} tools{} below {}, principal `{}`, audit {}",
            server.listed_names().len(),
            if server.search_mode() {
                " in search mode (find_tools, call_tool)"
            } else {
                ""
            },
            built.root.display(),
            loaded.config.principal.id,
            built
                .audit_file
                .as_ref()
                .map_or_else(|| "off".to_owned(), |f| f.display().to_string()),
        );
        let stop = CancellationToken::new();
        let watcher = match (&loaded.file, loaded.config.tools.reload_ms) {
            (Some(file), ms) if ms > 0 => Some(tokio::spawn(watch_exposure(
                server.clone(),
                file.clone(),
                Duration::from_millis(ms),
                stop.clone(),
            ))),
            _ => None,
        };
        let plugin_watcher = match (plugins, loaded.config.plugins.reload_ms) {
            (Some(plugins), ms) if ms > 0 => Some(tokio::spawn(watch_plugins(
                server.clone(),
                plugins,
                Duration::from_millis(ms),
                stop.clone(),
            ))),
            _ => None,
        };
        let served = if args.http.is_some() {
            let options = HttpOptions::from_section(&loaded.config.http)?;
            let interrupt = stop.clone();
            tokio::spawn(async move {
                if tokio::signal::ctrl_c().await.is_ok() {
                    interrupt.cancel();
                }
            });
            serve_http(server, options, stop.clone(), |address| {
                eprintln!("listening on http://{address}/mcp");
            })
            .await
        } else {
            serve_stdio(server).await
        };
        stop.cancel();
        for watcher in [watcher, plugin_watcher].into_iter().flatten() {
            let _ = watcher.await;
        }
        served?;
        Ok::<u8, anyhow::Error>(0)
    })
}
