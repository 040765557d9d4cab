//! The one error type of the audit crate.

use std::{fmt, path::PathBuf};

use thiserror::Error;

/// How a log was found to have been tampered with (or damaged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tamper {
    /// A record's bytes no longer match its hash.
    Edited,
    /// Records are missing: the sequence jumps forward.
    Deleted,
    /// Records (or files) are out of order.
    Reordered,
    /// A record appears that the log never wrote.
    Inserted,
    /// A record's hash is right but it does not chain to the one before.
    BrokenChain,
    /// The log ends early: a torn last line, no closing checkpoint, or fewer
    /// records than a checkpoint known from elsewhere.
    Truncated,
    /// A checkpoint's signature does not verify with the public key.
    BadSignature,
    /// A checkpoint is well signed but does not describe the records before it
    /// (wrong size or root), or names another log.
    ForgedCheckpoint,
    /// A line is not a record at all.
    Malformed,
}

impl fmt::Display for Tamper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Tamper::Edited => "edited",
            Tamper::Deleted => "deleted",
            Tamper::Reordered => "reordered",
            Tamper::Inserted => "inserted",
            Tamper::BrokenChain => "broken chain",
            Tamper::Truncated => "truncated",
            Tamper::BadSignature => "bad signature",
            Tamper::ForgedCheckpoint => "forged checkpoint",
            Tamper::Malformed => "malformed",
        })
    }
}

/// Everything that can go wrong in the audit crate, one variant for each
/// thing the caller can act on.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Reading or writing a file failed (not the log's appends; see
    /// [`AuditError::WriteFailed`]).
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing or syncing the log failed (a full disk, say). The log refuses
    /// every later append; free space and reopen it, which cuts off any
    /// partial record.
    #[error("audit log {} cannot be written, calls are refused until it is reopened: {message}", path.display())]
    WriteFailed {
        /// The log file.
        path: PathBuf,
        /// What failed.
        message: String,
    },
    /// Another process has the log open for writing; only one may, or the
    /// chain would break. Retry once it has closed the log.
    #[error("audit log {} is in use by another process (it holds {}); gave up after {waited_ms} ms", path.display(), lock.display())]
    InUse {
        /// The log file.
        path: PathBuf,
        /// The lock file held.
        lock: PathBuf,
        /// How long opening waited.
        waited_ms: u64,
    },
    /// The log was closed; nothing more can be appended.
    #[error("the audit log is closed")]
    Closed,
    /// The log on disk is damaged or was tampered with; `audit verify` tells
    /// which. Opening refuses such a log rather than continue it.
    #[error("{tamper} at {} line {line}{}: {detail}", file.display(), seq.map(|s| format!(" (record {s})")).unwrap_or_default())]
    Tampered {
        /// What kind of damage.
        tamper: Tamper,
        /// The file it was found in.
        file: PathBuf,
        /// The line (1-based), or the line after the last for what is missing
        /// at the end.
        line: u64,
        /// The record's sequence number, if it could be read.
        seq: Option<u64>,
        /// What exactly was wrong.
        detail: String,
    },
    /// A key, checkpoint or proof could not be read.
    #[error("invalid {what}: {detail}")]
    Invalid {
        /// What was being read: `key`, `checkpoint`, `proof`, `configuration`.
        what: &'static str,
        /// Why it was refused.
        detail: String,
    },
    /// A proof does not verify.
    #[error("proof does not verify: {0}")]
    ProofFailed(String),
    /// A proof was asked for something the log cannot prove: a record that
    /// is not there or not yet covered by a checkpoint, a size with no
    /// checkpoint.
    #[error("cannot prove: {0}")]
    CannotProve(String),
}

impl AuditError {
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        AuditError::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(what: &'static str, detail: impl Into<String>) -> Self {
        AuditError::Invalid {
            what,
            detail: detail.into(),
        }
    }

    /// The kind of tampering, if this error reports one.
    pub fn tamper(&self) -> Option<Tamper> {
        match self {
            AuditError::Tampered { tamper, .. } => Some(*tamper),
            _ => None,
        }
    }
}
