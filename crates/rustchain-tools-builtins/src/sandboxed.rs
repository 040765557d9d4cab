//! The built-in tools that touch the world (feature `sandbox`): files below
//! one root, programs without a shell, HTTP without SSRF. Unlike the pure
//! tools they need to know what they may touch, so they are made from a
//! [`SandboxConfig`] rather than registered at compile time.

use std::{path::PathBuf, sync::Arc};

use rustchain_tools_core::{ToolError, ToolExecutor, TypedTool};
use rustchain_tools_sandbox::{
    SandboxError,
    fs::{FsLimits, FsRoot},
    net::{FetchLimits, HttpFetcher, NetPolicy},
    process::{CommandRunner, ProcessLimits, ProgramAllowlist},
};
use serde_json::Value;

use crate::{commands::CmdRun, files, web::HttpFetch};

/// The names of the tools [`sandboxed`] makes.
pub const SANDBOXED_TOOLS: [&str; 7] = [
    "fs_read",
    "fs_write",
    "fs_list",
    "fs_search",
    "fs_delete",
    "cmd_run",
    "http_fetch",
];

/// What the sandboxed tools may touch.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// The directory the file tools work in and commands run in.
    pub root: PathBuf,
    /// Size and count caps of the file tools.
    pub fs_limits: FsLimits,
    /// The programs `cmd_run` may start (the policy must allow each call too).
    pub programs: ProgramAllowlist,
    /// Environment variables a command may set or inherit.
    pub env_allowlist: Vec<String>,
    /// CPU, memory, file size, process, time and output limits of commands.
    pub process_limits: ProcessLimits,
    /// Which addresses, hosts and ports `http_fetch` may reach.
    pub net: NetPolicy,
    /// Size, time and redirect limits of `http_fetch`.
    pub fetch_limits: FetchLimits,
}

impl SandboxConfig {
    /// Defaults around `root`: default caps, no programs allowed, `PATH`,
    /// `LANG` and `HOME` passed to commands, public internet only.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        SandboxConfig {
            root: root.into(),
            fs_limits: FsLimits::default(),
            programs: ProgramAllowlist::new(),
            env_allowlist: vec!["PATH".into(), "LANG".into(), "HOME".into()],
            process_limits: ProcessLimits::default(),
            net: NetPolicy::default(),
            fetch_limits: FetchLimits::default(),
        }
    }
}

/// The seven sandboxed tools (see [`SANDBOXED_TOOLS`]) on `config`, or an
/// error saying what in it is unusable (a root that cannot be opened, say).
pub fn sandboxed(config: SandboxConfig) -> Result<Vec<Arc<dyn ToolExecutor>>, ToolError> {
    let unusable = |what: &str, e: SandboxError| ToolError::InvalidDefinition {
        tool: what.to_owned(),
        reason: e.to_string(),
    };
    // The canonical root, so that what the tools declare to the policy is
    // the directory they really work in.
    let root = config
        .root
        .canonicalize()
        .map_err(|e| ToolError::InvalidDefinition {
            tool: "fs_*".into(),
            reason: format!("sandbox root {}: {e}", config.root.display()),
        })?;
    let fs_root = Arc::new(FsRoot::open(&root, config.fs_limits).map_err(|e| unusable("fs_*", e))?);
    let runner = CommandRunner::new(
        root,
        config.programs,
        config.env_allowlist,
        config.process_limits,
    )
    .map_err(|e| unusable("cmd_run", e))?;
    let fetcher =
        HttpFetcher::new(config.net, config.fetch_limits).map_err(|e| unusable("http_fetch", e))?;
    let (read, write, list, search, delete) = files::tools(fs_root);
    Ok(vec![
        erase(read)?,
        erase(write)?,
        erase(list)?,
        erase(search)?,
        erase(delete)?,
        erase(CmdRun::new(Arc::new(runner)))?,
        erase(HttpFetch::new(Arc::new(fetcher)))?,
    ])
}

fn erase<T: rustchain_tools_core::Tool>(tool: T) -> Result<Arc<dyn ToolExecutor>, ToolError> {
    Ok(Arc::new(TypedTool::new(tool)?))
}

/// Runs file work on tokio's blocking pool, mapping its error.
pub(crate) async fn blocking<T, F>(tool: &'static str, work: F) -> Result<T, ToolError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, SandboxError> + Send + 'static,
{
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(|e| sandbox_error(tool, e)),
        Err(e) => Err(ToolError::failed(
            tool,
            format!("the file work stopped: {e}"),
        )),
    }
}

/// The tool error a caller can act on for each sandbox error: a bad
/// argument (fix it), a refusal (not allowed here), a limit, or a failure.
pub(crate) fn sandbox_error(tool: &str, error: SandboxError) -> ToolError {
    let message = error.to_string();
    match error {
        SandboxError::PathRefused { .. }
        | SandboxError::PathNotFound { .. }
        | SandboxError::PathExists { .. }
        | SandboxError::NotRegularFile { .. }
        | SandboxError::NotDirectory { .. }
        | SandboxError::DirectoryNotEmpty { .. }
        | SandboxError::RootDelete { .. }
        | SandboxError::InvalidSearch { .. } => {
            crate::invalid_argument(tool, "/path", "sandbox", Value::Null, message)
        }
        SandboxError::CwdRefused { .. } => {
            crate::invalid_argument(tool, "/cwd", "sandbox", Value::Null, message)
        }
        SandboxError::CommandRefused { .. } => {
            crate::invalid_argument(tool, "", "sandbox", Value::Null, message)
        }
        SandboxError::InvalidFetch { .. } => {
            crate::invalid_argument(tool, "/url", "sandbox", Value::Null, message)
        }
        SandboxError::PathEscapes { .. }
        | SandboxError::UrlRefused { .. }
        | SandboxError::ProgramNotAllowed { .. }
        | SandboxError::AddressRefused { .. } => ToolError::Denied {
            tool: tool.to_owned(),
            reasons: vec![message],
        },
        SandboxError::FileTooLarge { limit, .. } => ToolError::LimitExceeded {
            tool: tool.to_owned(),
            limit: limit.to_owned(),
            message,
        },
        SandboxError::TooManyRedirects { .. } => ToolError::LimitExceeded {
            tool: tool.to_owned(),
            limit: "max_redirects".into(),
            message,
        },
        SandboxError::FetchTimedOut { .. } => ToolError::LimitExceeded {
            tool: tool.to_owned(),
            limit: "fetch_timeout".into(),
            message,
        },
        SandboxError::Cancelled { .. } => ToolError::Cancelled {
            tool: tool.to_owned(),
        },
        _ => ToolError::failed(tool, message),
    }
}
