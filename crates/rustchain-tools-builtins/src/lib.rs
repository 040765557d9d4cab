//! The built-in tools of RustChain Tools.
//!
//! Each pure tool registers itself at compile time (with `inventory`), so
//! there is no hand-kept list; each group sits behind a cargo feature of the
//! same name (`text`, `json`), both on by default. The tools that touch the
//! world (files, programs, HTTP; feature `sandbox`, on by default) need to
//! know what they may touch, so [`sandboxed`] makes them from a
//! [`SandboxConfig`].
//!
//! ```
//! let tools = rustchain_tools_builtins::all()?;
//! assert!(tools.iter().any(|t| t.metadata().name().as_str() == "text.word_count"));
//! # Ok::<(), rustchain_tools_core::ToolError>(())
//! ```
#![deny(missing_docs)]
// With every group turned off there is nothing to register.
#![cfg_attr(
    not(any(feature = "text", feature = "json")),
    allow(dead_code, unused_imports, unused_macros)
)]

use std::sync::Arc;

use rustchain_tools_core::{Tool, ToolError, ToolExecutor, TypedTool};

#[cfg(feature = "sandbox")]
pub mod commands;
#[cfg(feature = "sandbox")]
pub mod files;
#[cfg(feature = "json")]
pub mod json;
#[cfg(feature = "sandbox")]
mod sandboxed;
#[cfg(feature = "text")]
pub mod text;
#[cfg(feature = "sandbox")]
pub mod web;

/// One built-in tool, as registered at compile time.
pub struct Builtin {
    group: &'static str,
    make: fn() -> Result<Arc<dyn ToolExecutor>, ToolError>,
}

impl Builtin {
    /// The registration of a typed tool in `group`; used through `inventory::submit!`.
    pub const fn new(
        group: &'static str,
        make: fn() -> Result<Arc<dyn ToolExecutor>, ToolError>,
    ) -> Self {
        Builtin { group, make }
    }

    /// The group (and cargo feature) the tool belongs to.
    pub fn group(&self) -> &'static str {
        self.group
    }

    /// Builds the tool.
    pub fn make(&self) -> Result<Arc<dyn ToolExecutor>, ToolError> {
        (self.make)()
    }
}

inventory::collect!(Builtin);

#[cfg(feature = "sandbox")]
pub use sandboxed::{SANDBOXED_TOOLS, SandboxConfig, sandboxed};

/// Erases a typed built-in tool; the `make` function of its registration.
fn erase<T: Tool>(tool: T) -> Result<Arc<dyn ToolExecutor>, ToolError> {
    Ok(Arc::new(TypedTool::new(tool)?))
}

/// An argument refused by a tool's own check (beyond its schema), as a
/// violation at `pointer`, so that it reads like a schema violation.
#[cfg(any(feature = "json", feature = "sandbox"))]
fn invalid_argument(
    tool: &str,
    pointer: &str,
    keyword: &str,
    actual: serde_json::Value,
    problem: String,
) -> ToolError {
    ToolError::InvalidArguments {
        tool: tool.to_owned(),
        violations: vec![rustchain_tools_core::Violation::new(
            pointer,
            keyword,
            serde_json::Value::Null,
            actual,
            problem,
        )],
    }
}

/// Registers a typed tool, built by `$make`, in `$group`.
macro_rules! register {
    ($group:literal, $make:expr) => {
        inventory::submit! {
            $crate::Builtin::new($group, || $crate::erase($make))
        }
    };
}
pub(crate) use register;

/// Every built-in tool compiled in.
pub fn all() -> Result<Vec<Arc<dyn ToolExecutor>>, ToolError> {
    inventory::iter::<Builtin>().map(Builtin::make).collect()
}

/// The built-in tools of one group.
pub fn group(name: &str) -> Result<Vec<Arc<dyn ToolExecutor>>, ToolError> {
    inventory::iter::<Builtin>()
        .filter(|b| b.group == name)
        .map(Builtin::make)
        .collect()
}

/// The groups compiled in, each once, sorted.
pub fn groups() -> Vec<&'static str> {
    let mut groups: Vec<&'static str> = inventory::iter::<Builtin>().map(|b| b.group).collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}
