use std::{io, path::PathBuf, time::Duration};

use thiserror::Error;

/// Errors of the registry: files that cannot be read or written, an index
/// that cannot be decoded, a document that is not in a known format.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// A file of the registry (or an import source) could not be read or written.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done (`reading`, `writing`, ...).
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The index file exists but cannot be decoded (corrupt, or written by an
    /// incompatible version).
    #[error("the registry index {} cannot be decoded: {reason}", path.display())]
    CorruptIndex {
        /// The index file.
        path: PathBuf,
        /// Why it cannot be decoded.
        reason: String,
    },
    /// A stored manifest could not be read back at the offset the index gives.
    #[error("the stored manifest of `{tool}` at byte {offset} of {} is unreadable: {reason}", path.display())]
    CorruptManifest {
        /// The tool's key.
        tool: String,
        /// The manifests file.
        path: PathBuf,
        /// Where the manifest starts.
        offset: u64,
        /// Why it cannot be read.
        reason: String,
    },
    /// An import source is in none of the known formats, or not in the one forced.
    #[error("cannot import {origin}: {reason}")]
    Format {
        /// The file (or `<memory>`).
        origin: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A tool's stored schema no longer compiles (it did when it was imported).
    #[error("the schema of `{tool}` does not compile: {reason}")]
    Schema {
        /// The tool's key.
        tool: String,
        /// The compiler's reason.
        reason: String,
    },
    /// Another process holds the registry's writer lock and did not let go
    /// within the wait the registry was opened with.
    #[error(
        "the registry {} is being written by another process (its lock file {} was held for {waited:?}); try again when that process is done",
        dir.display(),
        dir.join(crate::LOCK_FILE).display()
    )]
    Locked {
        /// The registry directory.
        dir: PathBuf,
        /// How long this process waited.
        waited: Duration,
    },
    /// The tool asked for is not registered.
    #[error("no tool `{0}` is registered")]
    NotFound(String),
}
