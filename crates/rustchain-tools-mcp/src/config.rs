//! `rustchain.toml`: what the server serves, to whom, under which policy,
//! recorded where. Every field is optional; with none the server is safe:
//! the current directory as root, the `read-only` profile, audit on.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use rustchain_tools::{audit::Durability, sandbox::LimitsConfig};
use serde::{Deserialize, Serialize};

use crate::McpError;

/// The configuration file's name, looked for in the current directory.
pub const CONFIG_FILE: &str = "rustchain.toml";

/// The whole configuration. Relative paths are relative to the file's
/// directory (to the current directory without a file).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The directory the file tools work in and programs run in (default:
    /// the current directory). The principal gets the `workspace` role,
    /// which grants reading and writing below it.
    pub root: Option<PathBuf>,
    /// The registry the server finds tools in (default: `registry` in the
    /// data directory).
    pub registry: Option<PathBuf>,
    /// The policies that decide every call.
    pub policy: PolicySection,
    /// Who calls: the identity every call of this server carries.
    pub principal: PrincipalSection,
    /// Where calls are recorded.
    pub audit: AuditSection,
    /// Slots, waits, timeouts and the memory cap of the pipeline.
    pub limits: Option<LimitsConfig>,
    /// Which tools are exposed, and how.
    pub tools: ToolsSection,
    /// What the sandboxed tools may reach beyond the root.
    pub sandbox: SandboxSection,
    /// The streamable HTTP transport.
    pub http: HttpSection,
    /// WASM plugins.
    pub plugins: PluginsSection,
}

/// `[plugins]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PluginsSection {
    /// Load the installed plugins (default true).
    pub enabled: bool,
    /// Where plugins are installed (default: `plugins` in the data
    /// directory); `rustchain-tools plugin add` installs there.
    pub dir: Option<PathBuf>,
    /// Where compiled modules are kept between runs (default: `wasm-cache`
    /// in the data directory).
    pub cache: Option<PathBuf>,
    /// The most memory one plugin instance may have, in MiB (default 64, at
    /// most 2048).
    pub max_memory_mib: u64,
    /// How often the plugin directory is looked at for added or removed
    /// plugins while serving, in milliseconds (default 1000; 0 never).
    pub reload_ms: u64,
}

impl Default for PluginsSection {
    fn default() -> Self {
        PluginsSection {
            enabled: true,
            dir: None,
            cache: None,
            max_memory_mib: 64,
            reload_ms: 1000,
        }
    }
}

/// `[policy]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicySection {
    /// A directory of Rego policies and data documents added to the shipped
    /// default policy.
    pub dir: Option<PathBuf>,
    /// Compliance profiles to enforce (default: `["read-only"]`); an empty
    /// list enforces none.
    pub profiles: Vec<String>,
}

impl Default for PolicySection {
    fn default() -> Self {
        PolicySection {
            dir: None,
            profiles: vec!["read-only".into()],
        }
    }
}

/// `[principal]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrincipalSection {
    /// The principal's id (default: `local`, which the shipped grants give
    /// the `reader` role).
    pub id: String,
    /// Roles beyond those the grants give the id.
    pub roles: Vec<String>,
}

impl Default for PrincipalSection {
    fn default() -> Self {
        PrincipalSection {
            id: "local".into(),
            roles: Vec::new(),
        }
    }
}

/// `[audit]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditSection {
    /// The log (default: `audit.jsonl` in the data directory); its key is
    /// made beside it on first use.
    pub file: Option<PathBuf>,
    /// When a record is on disk: `group` (default), `fsync` or `none`.
    pub durability: Durability,
    /// `false` records nothing. Only for trying things out: the server says
    /// so when it starts.
    pub enabled: bool,
}

impl Default for AuditSection {
    fn default() -> Self {
        AuditSection {
            file: None,
            durability: Durability::Group,
            enabled: true,
        }
    }
}

/// How the tools are offered to the client.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `list` while at most [`AUTO_LIST_LIMIT`] tools are exposed, else
    /// `search`.
    #[default]
    Auto,
    /// `tools/list` lists every exposed tool.
    List,
    /// `tools/list` lists `find_tools` and `call_tool` only: the agent
    /// searches for what it needs and calls it, so tens of thousands of
    /// tools never enter its context.
    Search,
}

/// Past this many exposed tools, [`Mode::Auto`] serves in search mode.
pub const AUTO_LIST_LIMIT: usize = 64;

/// `[tools]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ToolsSection {
    /// Glob patterns of the tool names that are visible (default: `["*"]`).
    /// Visibility is apart from authorization: a visible tool is still
    /// decided by the policy on every call, and a tool that is not visible
    /// is, to the client, a tool that does not exist.
    pub expose: Vec<String>,
    /// Glob patterns of tool names hidden even when `expose` matches them.
    pub hide: Vec<String>,
    /// `auto`, `list` or `search`.
    pub mode: Mode,
    /// Tools per `tools/list` page (default 100).
    pub page_size: usize,
    /// How often the configuration file is read again for changes to this
    /// section, in milliseconds (default 1000; 0 never).
    pub reload_ms: u64,
}

impl Default for ToolsSection {
    fn default() -> Self {
        ToolsSection {
            expose: vec!["*".into()],
            hide: Vec::new(),
            mode: Mode::Auto,
            page_size: 100,
            reload_ms: 1000,
        }
    }
}

/// `[sandbox]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxSection {
    /// Programs `cmd_run` may start (the policy must grant each call too).
    pub programs: Vec<String>,
    /// Let `http_fetch` reach loopback addresses on any port.
    pub allow_loopback: bool,
}

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// Where to listen (default `127.0.0.1:8700`).
    pub listen: SocketAddr,
    /// Listening on an address other than loopback must be asked for.
    pub allow_remote: bool,
    /// `Host` values accepted besides `localhost`, `127.0.0.1` and `::1`
    /// (DNS rebinding protection).
    pub allowed_hosts: Vec<String>,
    /// Browser origins accepted (`http://localhost:3000`); a request with
    /// any other `Origin` is refused. Empty: requests carrying an `Origin`
    /// are refused, except from loopback origins.
    pub allowed_origins: Vec<String>,
    /// The environment variable holding the bearer token clients must send
    /// (`Authorization: Bearer ...`); none: no token is asked for.
    pub token_env: Option<String>,
    /// The largest request body, in bytes (default 4 MiB).
    pub max_body_bytes: usize,
}

impl Default for HttpSection {
    fn default() -> Self {
        HttpSection {
            listen: SocketAddr::from(([127, 0, 0, 1], 8700)),
            allow_remote: false,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            token_env: None,
            max_body_bytes: 4 << 20,
        }
    }
}

/// A configuration and where it was read from.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    /// The configuration.
    pub config: ServerConfig,
    /// The file, when there was one.
    pub file: Option<PathBuf>,
}

impl LoadedConfig {
    /// Reads `path` when given (it must exist), else [`CONFIG_FILE`] in the
    /// current directory when there is one, else the defaults.
    pub fn load(path: Option<&Path>) -> Result<LoadedConfig, McpError> {
        let file = match path {
            Some(path) => Some(path.to_path_buf()),
            None => Some(PathBuf::from(CONFIG_FILE)).filter(|p| p.exists()),
        };
        let config = match &file {
            Some(path) => ServerConfig::read(path)?,
            None => ServerConfig::default(),
        };
        Ok(LoadedConfig { config, file })
    }

    /// `path` made absolute against the configuration file's directory (or
    /// the current directory).
    pub fn resolve(&self, path: &Path) -> PathBuf {
        let base = self
            .file
            .as_deref()
            .and_then(Path::parent)
            .filter(|d| !d.as_os_str().is_empty())
            .map(Path::to_path_buf)
            .or_else(|| std::env::current_dir().ok())
            .unwrap_or_default();
        base.join(path)
    }
}

impl ServerConfig {
    /// Parses the TOML text of a configuration; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<ServerConfig, McpError> {
        toml::from_str(text).map_err(|e| McpError::Config {
            file: origin.to_owned(),
            reason: e.to_string(),
        })
    }

    /// Reads and parses the configuration file at `path`.
    pub fn read(path: &Path) -> Result<ServerConfig, McpError> {
        let text = std::fs::read_to_string(path).map_err(|e| McpError::Config {
            file: path.display().to_string(),
            reason: e.to_string(),
        })?;
        ServerConfig::parse(&text, &path.display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_configuration_is_the_safe_default() {
        let config = ServerConfig::parse("", "<empty>").unwrap();
        assert_eq!(config, ServerConfig::default());
        assert_eq!(config.policy.profiles, ["read-only"]);
        assert!(config.audit.enabled);
        assert_eq!(config.tools.expose, ["*"]);
        assert!(config.http.listen.ip().is_loopback());
    }

    #[test]
    fn every_section_parses() {
        let config = ServerConfig::parse(
            r#"
root = "work"
[policy]
dir = "policies"
profiles = ["sox"]
[principal]
id = "alice"
roles = ["editor"]
[audit]
file = "logs/calls.jsonl"
durability = "fsync"
[limits]
max_concurrent = 8
[tools]
expose = ["text.*", "fs_read"]
hide = ["text.regex_find"]
mode = "search"
page_size = 5
[sandbox]
programs = ["git"]
[http]
listen = "127.0.0.1:9000"
token_env = "MCP_TOKEN"
"#,
            "test",
        )
        .unwrap();
        assert_eq!(config.root.as_deref(), Some(Path::new("work")));
        assert_eq!(config.principal.roles, ["editor"]);
        assert_eq!(config.audit.durability, Durability::Fsync);
        assert_eq!(config.tools.mode, Mode::Search);
        assert_eq!(config.limits.unwrap().max_concurrent, 8);
        assert_eq!(config.http.listen.port(), 9000);
    }

    #[test]
    fn a_typo_is_refused_with_its_place() {
        let error = ServerConfig::parse("[tools]\nexpsoe = [\"*\"]\n", "rustchain.toml")
            .unwrap_err()
            .to_string();
        assert!(error.contains("rustchain.toml"), "{error}");
        assert!(error.contains("expsoe"), "{error}");
        assert!(error.contains("line 2"), "{error}");
    }
}
