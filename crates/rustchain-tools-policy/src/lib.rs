//! Policies for RustChain Tools: every call needs an allow from Rego (v1)
//! policies evaluated with regorus; without one it is denied (default deny),
//! a deny always wins, and the caller gets every reason.
//!
//! - [`PolicyConfig`] names the policies (the shipped default policy, your
//!   directories, compliance profiles) and the environment.
//! - [`PolicyEngine`] loads, checks and compiles them once; each decision
//!   reuses them with no shared lock (strict interpreter; the compiled VM on request).
//! - [`PolicyLayer`] puts it in the call pipeline, after validation and
//!   before the deadline layer.
//! - [`ReloadablePolicy`] swaps in reloaded policies while calls run, and
//!   keeps the old ones when a reload fails; [`ReloadablePolicy::watch`]
//!   reloads when the policy files change.
//! - [`check_policy_dir`] and [`run_policy_tests`] back `policy check` and
//!   `policy test`.
//!
//! ```
//! use rustchain_tools_core::{DeadlineLayer, Runtime, ValidationLayer};
//! use rustchain_tools_policy::{PolicyConfig, PolicyLayer};
//!
//! let runtime = Runtime::builder()
//!     .layer(ValidationLayer::new())
//!     .layer(PolicyLayer::load(&PolicyConfig::new().profile("sox")))
//!     .layer(DeadlineLayer::new())
//!     .build()?;
//! # Ok::<(), rustchain_tools_core::ToolError>(())
//! ```
//!
//! `docs/policy.md` documents the input document, the decision, the role
//! table and the profiles.
#![deny(missing_docs)]

mod cache;
mod decision;
mod engine;
mod error;
mod input;
mod layer;
mod reload;
mod sources;
mod testing;

pub use decision::{DEFAULT_DENY, Decision, Obligations};
pub use engine::{PolicyConfig, PolicyEngine};
pub use error::{InputFinding, PolicyError};
pub use layer::{Policy, PolicyFuture, PolicyLayer};
pub use reload::{MIN_WATCH_INTERVAL, PolicyWatch, ReloadablePolicy};
pub use sources::SHIPPED;
pub use testing::{CheckReport, TestOutcome, TestReport, check_policy_dir, run_policy_tests};
