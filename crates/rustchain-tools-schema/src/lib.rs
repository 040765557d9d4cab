//! JSON Schema for RustChain tools: derivation from Rust types and validation
//! with validators compiled once.
//!
//! The validator reports every violation of a value, each with the JSON pointer
//! of the offending value, the keyword that failed, what was expected and what
//! was found, in a sentence a model can act on.
//!
//! ```
//! use rustchain_tools_schema::CompiledSchema;
//! use serde_json::json;
//!
//! let schema = CompiledSchema::compile(&json!({
//!     "type": "object",
//!     "properties": { "limit": { "type": "integer", "maximum": 100 } },
//!     "required": ["limit"]
//! }))?;
//! assert!(schema.validate(&json!({ "limit": 10 })).is_ok());
//!
//! let violations = schema.validate(&json!({ "limit": 500 })).unwrap_err();
//! assert_eq!(violations[0].pointer, "/limit");
//! assert_eq!(violations[0].keyword, "maximum");
//! # Ok::<(), rustchain_tools_schema::SchemaError>(())
//! ```
#![deny(missing_docs)]

#[cfg(feature = "codegen")]
pub mod codegen;
mod compiled;
mod derive;
pub mod diff;
mod error;
pub mod export;
mod formats;
mod limits;
/// The tool manifest, as Rust types generated from
/// `schemas/tool-manifest.json` by `cargo xtask codegen`.
#[allow(missing_docs, clippy::all, clippy::pedantic)]
#[path = "generated/tool_manifest.rs"]
pub mod manifest;
mod messages;
mod rules;
mod violation;

pub use compiled::CompiledSchema;
pub use derive::{derive_input_schema, derive_output_schema};
pub use error::SchemaError;
pub use formats::{FormatOptions, RELATIVE_PATH, is_relative_path, is_uri_with_scheme};
pub use limits::ArgumentLimits;
pub use messages::{Language, message_errors, message_ids};
pub use rules::ArgumentRule;
pub use violation::Violation;
