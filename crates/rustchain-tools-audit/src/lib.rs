//! The audit trail of RustChain Tools: a tamper-evident, crash-safe record of
//! every call.
//!
//! - [`AuditLog`] appends records to JSON Lines files, each chained to the one
//!   before by SHA-256, committed with the [`Durability`] you choose, with
//!   periodic Ed25519-signed checkpoints (C2SP `tlog-checkpoint` in a signed
//!   note) of the Merkle tree (RFC 9162) whose leaves are the records.
//! - [`verify`] checks a log at rest with only the public key;
//!   [`prove_inclusion`] and [`prove_consistency`] make proofs of logarithmic
//!   size that [`verify_inclusion_proof`] and [`verify_consistency_proof`]
//!   check without the log.
//! - [`AuditLayer`] is the outermost layer of the call pipeline: it records
//!   each call before it runs and its outcome after, with sensitive arguments
//!   digested, and refuses calls it cannot record. As the runtime's
//!   `RefusalListener` it also records the calls refused before any layer
//!   runs (no such tool or version).
//!
//! ```
//! use rustchain_tools_audit::{AuditConfig, AuditKey, AuditLog, RecordKind, log_files, verify};
//! # fn main() -> Result<(), rustchain_tools_audit::AuditError> {
//! # let dir = tempfile::tempdir().unwrap();
//! let key = AuditKey::generate("example.audit")?;
//! let log = AuditLog::open(AuditConfig::new(dir.path().join("audit.jsonl"), key.clone()))?;
//! log.append(RecordKind::ToolRegistered, serde_json::json!({"tool": "echo"}))?;
//! log.close()?;
//! let files = log_files(&dir.path().join("audit.jsonl"))?;
//! assert_eq!(verify(&files, &key.verifier())?, 3); // file_started, the record, the closing checkpoint
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod error;
mod keyfile;
mod layer;
pub mod merkle;
mod note;
mod record;
mod verify;
mod writer;

pub use error::{AuditError, Tamper};
pub use keyfile::{KeyedLog, key_path, open_keyed, verifier_path};
pub use layer::{Audit, AuditLayer, kind_of};
pub use note::{AuditKey, Checkpoint, VerifierKey};
pub use record::{Record, RecordKind};
pub use verify::{
    ConsistencyProof, InclusionProof, Verified, VerifyOptions, prove_consistency, prove_inclusion,
    read_records, verify, verify_consistency_proof, verify_inclusion_proof, verify_with,
};
pub use writer::{Ack, AuditConfig, AuditLog, Durability, log_files};
