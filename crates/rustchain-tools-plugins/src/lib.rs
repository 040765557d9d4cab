//! WASM plugins for RustChain Tools: community tools that run sandboxed.
//!
//! A plugin is a WebAssembly module and a manifest ([`PluginManifest`],
//! `plugin.json`) that says which tool it is, which capabilities it
//! requests and which framework versions it works with. A [`PluginHost`]
//! checks and compiles it (on `rustchain-tools-sandbox`'s WASM engine) into
//! a [`PluginTool`], a tool like any other: added to a runtime it is
//! validated, decided by policy, limited and audited. A [`PluginDir`] is
//! where plugins are installed and loaded from at start.
//!
//! The ABI for plugin authors is in `docs/plugins.md`.
#![deny(missing_docs)]

mod dir;
mod error;
pub mod examples;
mod generate;
mod manifest;
pub mod scan;
mod tool;

pub use dir::{InstalledPlugin, Loaded, PluginDir};
pub use error::PluginError;
pub use manifest::{
    Capabilities, FRAMEWORK_VERSION, Fetch, MANIFEST_FILE, MAX_PRICE_PER_CALL, PluginManifest,
    Price, ReadFiles, RequestedLimits,
};
pub use tool::{DEFAULT_PLUGIN_TIMEOUT, PluginCall, PluginHost, PluginTool};
