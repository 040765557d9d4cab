//! The one error type of the MCP server crate.

use thiserror::Error;

/// Why the server could not start or keep serving.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum McpError {
    /// The configuration file cannot be read or is not valid; the reason
    /// names the line and the field.
    #[error("the configuration {file} is not valid: {reason}")]
    Config {
        /// The file (or `<flags>`).
        file: String,
        /// What is wrong.
        reason: String,
    },
    /// A part the server needs could not be set up (the audit log, the
    /// registry, the policy, the tools).
    #[error("the {part} could not be set up: {reason}")]
    Setup {
        /// Which part.
        part: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// The HTTP listener was asked to listen where it must not, or could
    /// not bind.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: String,
        /// Why not.
        reason: String,
    },
    /// The transport failed (the client went away mid-handshake, say).
    #[error("the MCP session failed: {0}")]
    Transport(String),
}

impl McpError {
    pub(crate) fn setup(part: &'static str, reason: impl std::fmt::Display) -> Self {
        McpError::Setup {
            part,
            reason: reason.to_string(),
        }
    }
}
