//! The one error type of the plugins crate.

use std::path::PathBuf;

use rustchain_tools_sandbox::SandboxError;
use thiserror::Error;

/// Why a plugin could not be read, installed, loaded or removed; each
/// message names the plugin or file and what to change.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The manifest cannot be read or breaks a rule.
    #[error("plugin manifest {}: {reason}", .path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong, with the field.
        reason: String,
    },
    /// The plugin does not work with this version of RustChain Tools.
    #[error("plugin `{plugin}` requires RustChain Tools {requires}, and this is {framework}")]
    Incompatible {
        /// The plugin.
        plugin: String,
        /// Its `framework` range.
        requires: String,
        /// This framework's version.
        framework: String,
    },
    /// The plugin's module was refused (imports, exports, size) or its
    /// definition is not a usable tool.
    #[error("plugin `{plugin}` cannot be loaded: {reason}")]
    Rejected {
        /// The plugin.
        plugin: String,
        /// Why.
        reason: String,
    },
    /// A capability the plugin requests cannot be set up here (a directory
    /// that does not exist, say).
    #[error("plugin `{plugin}` requests {capability}, which cannot be granted: {reason}")]
    Capability {
        /// The plugin.
        plugin: String,
        /// The capability.
        capability: String,
        /// Why.
        reason: String,
    },
    /// A plugin of that name is installed already.
    #[error(
        "a plugin named `{name}` is installed already (version {version}); remove it first with `rustchain-tools plugin remove {name}`"
    )]
    AlreadyInstalled {
        /// The name.
        name: String,
        /// The installed version.
        version: String,
    },
    /// No plugin of that name is installed.
    #[error("no plugin named `{name}` is installed (installed: {})", if .installed.is_empty() { "none".to_owned() } else { .installed.join(", ") })]
    NotInstalled {
        /// The name asked for.
        name: String,
        /// The names that are installed.
        installed: Vec<String>,
    },
    /// A file operation failed.
    #[error("{op} {} failed: {source}", .path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The WASM engine could not be set up.
    #[error(transparent)]
    Engine(SandboxError),
}
