use thiserror::Error;

/// Errors of this crate: a schema that cannot be used.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema is not a valid JSON Schema, or refers to something that
    /// cannot be resolved offline.
    #[error("invalid JSON Schema at {location}: {reason}")]
    Invalid {
        /// JSON pointer into the schema where the problem is (empty for the root).
        location: String,
        /// What is wrong.
        reason: String,
    },
    /// A schema cannot be expressed in an export format.
    #[error("cannot export to {format} at {}: {reason}", if .pointer.is_empty() { "the root" } else { .pointer.as_str() })]
    Unexportable {
        /// The format asked for.
        format: String,
        /// JSON pointer into the schema.
        pointer: String,
        /// Why not.
        reason: String,
    },
    /// A tool's input schema must describe a JSON object.
    #[error("an input schema must have \"type\": \"object\" at its root, found {found}")]
    NotAnObject {
        /// What the root `type` was instead.
        found: String,
    },
}
