//! The one error type of this crate.

use std::path::PathBuf;

/// What went wrong loading a model, a corpus or a query file, or reading a stored index.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A file was read but its content is not what was expected.
    #[error("{path}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What was wrong, and where in the file.
        message: String,
    },
    /// A stored index is inconsistent (it was corrupted or written by another version).
    #[error("invalid stored search index: {0}")]
    InvalidIndex(String),
}
