//! A server from its configuration: the sandbox root, the policies, the
//! principal, the audit log, the limits, the registry and the exposure.

use std::{path::PathBuf, sync::Arc};

use rustchain_tools::{
    Catalog, DEFAULT_AUDIT_FILE, Principal, Runtime, RuntimeBuilderExt, StackConfig,
    WORKSPACE_ROLE,
    audit::{AuditLayer, RecordKind, open_keyed},
    builtins::SandboxConfig,
    data_dir,
    plugins::{PluginDir, PluginHost},
    policy::{PolicyConfig, PolicyEngine},
    registry::{Registry, RegistryOptions},
    sandbox::{
        net::NetPolicy,
        wasm::{WasmConfig, WasmEngine},
    },
    workspace_policy,
};
use serde_json::json;

use crate::{Exposure, LoadedConfig, McpError, McpServer, Plugins, ServerOptions};

/// A server built from a configuration, and what its operator should know.
#[derive(Debug)]
pub struct Built {
    /// The server.
    pub server: McpServer,
    /// The sandbox root, as opened.
    pub root: PathBuf,
    /// The audit log, when calls are recorded.
    pub audit_file: Option<PathBuf>,
    /// Things the operator should hear about (audit off, refused tools).
    pub warnings: Vec<String>,
    /// The plugin directory, to watch while serving (see
    /// [`watch_plugins`](crate::watch_plugins)); `None` when plugins are off.
    pub plugins: Option<Plugins>,
}

/// Builds the server `loaded` describes, its registry opened with
/// `registry_options` (the embedding model, say).
pub fn build(loaded: &LoadedConfig, registry_options: &RegistryOptions) -> Result<Built, McpError> {
    let config = &loaded.config;
    let mut warnings = Vec::new();
    let root = loaded.resolve(config.root.as_deref().unwrap_or(std::path::Path::new(".")));
    let root = std::fs::canonicalize(&root).map_err(|e| {
        McpError::setup(
            "sandbox root",
            format!("{} cannot be opened: {e}", root.display()),
        )
    })?;

    let mut sandbox = SandboxConfig::new(&root);
    for program in &config.sandbox.programs {
        sandbox.programs = sandbox
            .programs
            .allow(program)
            .map_err(|e| McpError::setup("sandbox", format!("program {program}: {e}")))?;
    }
    if config.sandbox.allow_loopback {
        sandbox.net.allow_loopback = true;
        sandbox.net.allow_any_port = true;
    }

    let mut policy = PolicyConfig::new();
    if let Some(dir) = &config.policy.dir {
        policy = policy.policy_dir(loaded.resolve(dir));
    }
    for profile in &config.policy.profiles {
        policy = policy.profile(profile);
    }
    let policy = workspace_policy(policy, &root);
    // Loaded here too, so that a broken policy stops the server at start
    // rather than denying every call; the same engine answers find_tools.
    let probe = PolicyEngine::load(&policy).map_err(|e| McpError::setup("policy", e))?;

    let mut principal = Principal {
        id: config.principal.id.clone(),
        roles: config.principal.roles.clone(),
    };
    principal.roles.push(WORKSPACE_ROLE.into());

    let mut stack = StackConfig::default()
        .policy(policy)
        .limits(config.limits.clone().unwrap_or_default());
    let (audit, audit_file) = if config.audit.enabled {
        let path = match &config.audit.file {
            Some(file) => loaded.resolve(file),
            None => data_dir()
                .ok_or_else(|| {
                    McpError::setup(
                        "audit log",
                        "no data directory: set RUSTCHAIN_TOOLS_DATA_DIR or [audit] file",
                    )
                })?
                .join(DEFAULT_AUDIT_FILE),
        };
        let keyed = open_keyed(&path, config.audit.durability)
            .map_err(|e| McpError::setup("audit log", e))?;
        stack = stack.audit_layer(AuditLayer::new(
            keyed.log.clone(),
            keyed.redaction_secret().as_bytes(),
        ));
        (Some(keyed.log), Some(path))
    } else {
        stack = stack.insecure_no_audit();
        warnings.push("audit is off ([audit] enabled = false): calls leave no record".to_owned());
        (None, None)
    };

    let net = sandbox.net.clone();
    let base = Runtime::builder()
        .builtins()
        .sandboxed(sandbox)
        .layers(stack)
        .build()
        .map_err(|e| McpError::setup("tools", e))?;

    let registry_dir = match &config.registry {
        Some(dir) => loaded.resolve(dir),
        None => data_dir()
            .ok_or_else(|| {
                McpError::setup(
                    "registry",
                    "no data directory: set RUSTCHAIN_TOOLS_DATA_DIR or the registry",
                )
            })?
            .join("registry"),
    };
    let registry = Registry::open_with(&registry_dir, registry_options)
        .map_err(|e| McpError::setup("registry", e))?;

    let mut plugins = if config.plugins.enabled {
        let host = plugin_host(loaded, &root, net)?;
        let dir = PluginDir::new(plugin_dir(loaded)?);
        Some(Plugins::new(base.clone(), host, dir, audit.clone()))
    } else {
        None
    };
    let (runtime, pending) = match &plugins {
        Some(plugins) => {
            let (runtime, pending) = plugins
                .load(&mut warnings)
                .map_err(|e| McpError::setup("plugins", e))?;
            (runtime, Some(pending))
        }
        None => (base, None),
    };
    let registry = Arc::new(registry);
    let catalog = Catalog::open(runtime, Arc::clone(&registry))
        .map_err(|e| McpError::setup("registry", e))?;
    if let (Some(plugins), Some(pending)) = (&mut plugins, pending) {
        plugins.commit(pending, &registry);
    }
    for change in catalog.changed() {
        warnings.push(format!(
            "`{}` {} is refused: its definition changed under the same version (pinned {}, \
             now {}); `rustchain-tools registry remove {}@{}` accepts the new one",
            change.name, change.version, change.pinned, change.offered, change.name, change.version
        ));
        if let Some(log) = &audit {
            log.record_detached(
                RecordKind::DefinitionChanged,
                json!({
                    "tool": change.name,
                    "version": change.version.to_string(),
                    "pinned": change.pinned,
                    "offered": change.offered,
                    "action": "refused",
                }),
            );
        }
    }

    let exposure = Exposure::of(&config.tools)?;
    let server = McpServer::new(
        catalog,
        ServerOptions {
            principal,
            exposure,
            probe: Some(probe),
            audit,
            page_size: config.tools.page_size,
        },
    );
    Ok(Built {
        server,
        root,
        audit_file,
        warnings,
        plugins,
    })
}

/// The plugin directory `loaded` configures (default: `plugins` in the
/// data directory).
pub fn plugin_dir(loaded: &LoadedConfig) -> Result<PathBuf, McpError> {
    match &loaded.config.plugins.dir {
        Some(dir) => Ok(loaded.resolve(dir)),
        None => Ok(data_dir()
            .ok_or_else(|| {
                McpError::setup(
                    "plugins",
                    "no data directory: set RUSTCHAIN_TOOLS_DATA_DIR or [plugins] dir",
                )
            })?
            .join("plugins")),
    }
}

/// The plugin host `loaded` configures: the WASM engine with its memory cap
/// and module cache, file capabilities below `root`, fetches under `net`.
pub fn plugin_host(
    loaded: &LoadedConfig,
    root: &std::path::Path,
    net: NetPolicy,
) -> Result<PluginHost, McpError> {
    let section = &loaded.config.plugins;
    let cache = match &section.cache {
        Some(dir) => Some(loaded.resolve(dir)),
        None => data_dir().map(|d| d.join("wasm-cache")),
    };
    let engine = WasmEngine::new(WasmConfig {
        max_memory_bytes: usize::try_from(section.max_memory_mib.saturating_mul(1 << 20))
            .unwrap_or(usize::MAX),
        cache_dir: cache,
        ..WasmConfig::default()
    })
    .map_err(|e| McpError::setup("plugins", e))?;
    Ok(PluginHost::new(engine, root, net))
}
