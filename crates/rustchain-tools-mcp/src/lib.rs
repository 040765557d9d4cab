//! Serves RustChain Tools to agents over the Model Context Protocol, on the
//! official Rust SDK (`rmcp`): over stdio ([`serve_stdio`]) and streamable
//! HTTP ([`serve_http`]).
//!
//! Every `tools/call` passes the runtime's whole stack (audit, validation,
//! policy, limits, deadline); invalid arguments and denials come back as
//! tool results with `isError` and a message a model can act on, and only
//! protocol faults (an unknown tool, a bad cursor) as protocol errors.
//! `tools/list` pages through the visible tools, each with its schemas, its
//! hints as annotations and its definition digest under `_meta`
//! ([`DIGEST_META`]). For registries too large to list, search mode offers
//! `find_tools` (the registry's search, filtered by what the principal may
//! call) and `call_tool` instead.
//!
//! ```no_run
//! use rustchain_tools::registry::RegistryOptions;
//! use rustchain_tools_mcp::{LoadedConfig, build, serve_stdio};
//!
//! # #[tokio::main] async fn main() -> Result<(), rustchain_tools_mcp::McpError> {
//! let loaded = LoadedConfig::load(None)?; // ./rustchain.toml, or the safe defaults
//! let built = build(&loaded, &RegistryOptions::default())?;
//! serve_stdio(built.server).await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod build;
pub mod config;
mod discovery;
mod error;
mod exposure;
mod http;
mod plugins;
mod server;

use std::{path::PathBuf, time::Duration};

pub use build::{Built, build, plugin_dir, plugin_host};
pub use config::{LoadedConfig, Mode, ServerConfig};
pub use discovery::{CALL_TOOL, FIND_TOOLS};
pub use error::McpError;
pub use exposure::Exposure;
pub use http::{HttpOptions, serve_http};
pub use plugins::{Plugins, watch_plugins};
pub use server::{DIGEST_META, ERROR_META, McpServer, ServerOptions, VERSION_META};

use rmcp::ServiceExt;
use serde_json::json;
use tokio_util::sync::CancellationToken;

/// Serves one client over this process's stdin and stdout until it goes
/// away; the session's start and end are recorded.
pub async fn serve_stdio(server: McpServer) -> Result<(), McpError> {
    let (stdin, stdout) = rmcp::transport::io::stdio_pipes();
    serve_io(server, stdin, stdout, "stdio").await
}

/// Serves one client over a byte stream pair (a pipe, a socket, an
/// in-memory duplex), one JSON-RPC message per line, until it goes away;
/// the session's start and end are recorded under `transport`.
pub async fn serve_io<R, W>(
    server: McpServer,
    reader: R,
    writer: W,
    transport: &str,
) -> Result<(), McpError>
where
    R: tokio::io::AsyncRead + Send + Unpin + 'static,
    W: tokio::io::AsyncWrite + Send + Unpin + 'static,
{
    let running = server.clone().serve((reader, writer)).await.map_err(|e| {
        server.record_session(
            "failed",
            json!({"transport": transport, "reason": e.to_string()}),
        );
        McpError::Transport(e.to_string())
    })?;
    let reason = running.waiting().await;
    server.record_session(
        "closed",
        json!({"transport": transport, "reason": format!("{reason:?}")}),
    );
    Ok(())
}

/// Reads the `[tools]` section of `file` every `interval` and applies it to
/// `server` (which tells its sessions when the listed tools change) until
/// `stop` is cancelled. A file that no longer parses keeps the exposure in
/// force and says why once.
pub async fn watch_exposure(
    server: McpServer,
    file: PathBuf,
    interval: Duration,
    stop: CancellationToken,
) {
    let mut last_error: Option<String> = None;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
        let exposure = ServerConfig::read(&file).and_then(|c| Exposure::of(&c.tools));
        match exposure {
            Ok(exposure) => {
                last_error = None;
                if server.set_exposure(exposure).await {
                    tracing::info!(file = %file.display(), "the exposed tools changed");
                }
            }
            Err(e) => {
                let message = e.to_string();
                if last_error.as_ref() != Some(&message) {
                    tracing::warn!(error = %message, "the tools section was not reloaded");
                    eprintln!("warning: {message}; the exposed tools stay as they were");
                    last_error = Some(message);
                }
            }
        }
    }
}
