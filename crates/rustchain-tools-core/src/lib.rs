//! The core of RustChain Tools: the tool trait, calls, results, errors and
//! the layered pipeline every call passes.
//!
//! A call is resolved to a tool in a [`ToolSet`], wrapped in a
//! [`ToolRequest`] and sent through a stack of `tower` layers around
//! [`ExecuteTool`]. This crate brings two layers: [`ValidationLayer`]
//! (arguments against the input schema) and [`DeadlineLayer`] (timeouts and
//! cancellation). Policy, limits, sandbox and audit layers come from their own
//! crates and stack the same way.
#![deny(missing_docs)]

mod call;
mod deadline;
mod error;
mod events;
mod executor;
mod metadata;
mod pipeline;
mod runtime;
mod toolset;
mod typed;
mod validation;

pub use async_trait::async_trait;
pub use call::{Principal, ToolCall, ToolOutput, ToolResult};
pub use deadline::{Deadline, DeadlineLayer};
pub use error::ToolError;
pub use events::{CallEvent, CallEvents};
pub use executor::{ToolContext, ToolExecutor};
pub use http::Extensions;
pub use metadata::{
    BehaviorHints, Permissions, Rules, ToolInfo, ToolMetadata, ToolName, ToolSource,
};
pub use pipeline::{BoxToolFuture, BoxToolService, ExecuteTool, ToolRequest};
pub use runtime::{RefusalListener, RefusedFuture, Runtime, RuntimeBuilder};
pub use rustchain_tools_schema::{
    ArgumentLimits, ArgumentRule, FormatOptions, Language, Violation,
};
pub use semver::{Version, VersionReq};
pub use tokio_util::sync::CancellationToken;
pub use toolset::{RegisteredTool, ToolSet};
pub use typed::{Tool, TypedTool};
pub use validation::{Validate, ValidateFuture, ValidationLayer};
