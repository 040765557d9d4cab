//! Checking a log at rest, and proofs about it that need only the public key.

use std::{collections::HashSet, fs, path::PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    AuditError, Checkpoint, Tamper, VerifierKey,
    merkle::{self, Frontier, Hash, leaf_hash},
    note::{NoteFault, hex, unhex32},
    record::{self, LineFault, Record, RecordKind},
    writer::header_frontier,
};

/// What [`verify_with`] accepts beyond a log that was closed cleanly.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// The log is live (still being written, or its writer crashed and has
    /// not reopened it): it need not end with a closing checkpoint, and a
    /// torn last line of the last file is ignored.
    pub open_tail: bool,
    /// A signed checkpoint of this log obtained elsewhere (published, sent to
    /// a witness): the log must contain the tree it vouches for, which
    /// detects a tail cut off together with its checkpoints.
    pub known_checkpoint: Option<String>,
}

/// What a successful check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Records in the log, checkpoints included.
    pub records: u64,
    /// Signed checkpoints checked.
    pub checkpoints: u64,
    /// The last checkpoint.
    pub latest: Option<Checkpoint>,
}

struct Entry {
    file: usize,
    line: u64,
    bytes: Vec<u8>,
    record: Record,
    prev: Hash,
    hash: Hash,
}

fn tampered(files: &[PathBuf], e: &Entry, tamper: Tamper, detail: String) -> AuditError {
    AuditError::Tampered {
        tamper,
        file: files[e.file].clone(),
        line: e.line,
        seq: Some(e.record.seq),
        detail,
    }
}

/// Reads the records of `files` in order; only their own hashes are checked.
fn load(files: &[PathBuf], open_tail: bool) -> Result<Vec<Entry>, AuditError> {
    if files.is_empty() {
        return Err(AuditError::invalid("configuration", "no log files given"));
    }
    let mut entries = Vec::new();
    for (f, path) in files.iter().enumerate() {
        let bytes = fs::read(path).map_err(|e| AuditError::io("read", path, e))?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines: Vec<&[u8]> = match complete {
            0 => Vec::new(),
            n => bytes[..n - 1].split(|&b| b == b'\n').collect(),
        };
        let count = lines.len() as u64;
        for (i, line) in lines.into_iter().enumerate() {
            let at = |tamper, seq, detail: String| AuditError::Tampered {
                tamper,
                file: path.clone(),
                line: i as u64 + 1,
                seq,
                detail,
            };
            let (record, prev, hash) = record::decode(line).map_err(|fault| match fault {
                LineFault::Malformed(d) => at(Tamper::Malformed, None, d),
                LineFault::HashMismatch(seq) => at(
                    Tamper::Edited,
                    seq,
                    "the record's bytes do not match its hash".into(),
                ),
            })?;
            entries.push(Entry {
                file: f,
                line: i as u64 + 1,
                bytes: line.to_vec(),
                record,
                prev,
                hash,
            });
        }
        let last_file = f + 1 == files.len();
        if complete < bytes.len() && !(open_tail && last_file) {
            return Err(AuditError::Tampered {
                tamper: Tamper::Truncated,
                file: path.clone(),
                line: count + 1,
                seq: None,
                detail: format!(
                    "the last line is torn ({} bytes without a newline)",
                    bytes.len() - complete
                ),
            });
        }
        if count == 0 {
            return Err(AuditError::Tampered {
                tamper: Tamper::Truncated,
                file: path.clone(),
                line: 1,
                seq: None,
                detail: "the file holds no record".into(),
            });
        }
    }
    Ok(entries)
}

/// The result of checking: the leaf hashes and the signed checkpoints.
struct Checked {
    entries: Vec<Entry>,
    leaves: Vec<Hash>,
    checkpoints: Vec<(Checkpoint, String)>,
}

fn check(
    files: &[PathBuf],
    key: &VerifierKey,
    options: &VerifyOptions,
) -> Result<Checked, AuditError> {
    let entries = load(files, options.open_tail)?;
    let known = options
        .known_checkpoint
        .as_deref()
        .map(|note| Checkpoint::open(note, key))
        .transpose()?;
    let mut known_root = None;
    let mut frontier = Frontier::new();
    let mut leaves = Vec::with_capacity(entries.len());
    let mut checkpoints = Vec::new();
    let mut prev = [0u8; 32];
    let mut seen = HashSet::new();
    for (i, e) in entries.iter().enumerate() {
        let expected = i as u64;
        let seq = e.record.seq;
        if seq != expected {
            let (tamper, detail) = if seq > expected {
                if entries[i + 1..]
                    .iter()
                    .any(|later| later.record.seq == expected)
                {
                    (Tamper::Reordered, format!("record {expected} comes later"))
                } else {
                    (
                        Tamper::Deleted,
                        format!("records {expected} to {} are missing", seq - 1),
                    )
                }
            } else if seen.contains(&e.hash) {
                (Tamper::Reordered, format!("record {seq} appears again"))
            } else {
                (
                    Tamper::Inserted,
                    format!("a second record {seq}, expected {expected}"),
                )
            };
            return Err(tampered(files, e, tamper, detail));
        }
        if e.prev != prev {
            // An extra record whose successor chains past it was inserted.
            let inserted = entries.get(i + 1).is_some_and(|n| n.prev == prev);
            let tamper = if inserted {
                Tamper::Inserted
            } else {
                Tamper::BrokenChain
            };
            return Err(tampered(
                files,
                e,
                tamper,
                "prev is not the hash of the record before".into(),
            ));
        }
        let first_in_file = i == 0 || entries[i - 1].file != e.file;
        if first_in_file != (e.record.kind == RecordKind::FileStarted) {
            return Err(tampered(
                files,
                e,
                Tamper::Malformed,
                "each file, and only its first line, is a file_started record".into(),
            ));
        }
        if first_in_file && header_frontier(seq, &e.record.payload).as_ref() != Some(&frontier) {
            return Err(tampered(
                files,
                e,
                Tamper::BrokenChain,
                "the file does not continue the tree of the files before it".into(),
            ));
        }
        if e.record.kind == RecordKind::Checkpoint {
            let note = e.record.payload["note"].as_str().unwrap_or_default();
            let checkpoint = Checkpoint::open_note(note, key).map_err(|fault| match fault {
                NoteFault::BadSignature(d) => tampered(files, e, Tamper::BadSignature, d),
                NoteFault::Malformed(d) | NoteFault::WrongOrigin(d) => {
                    tampered(files, e, Tamper::ForgedCheckpoint, d)
                }
            })?;
            if checkpoint.size != seq || checkpoint.root != frontier.root() {
                return Err(tampered(
                    files,
                    e,
                    Tamper::ForgedCheckpoint,
                    format!(
                        "the checkpoint (size {}) does not match the {seq} records before it: they were rewritten or the checkpoint forged",
                        checkpoint.size
                    ),
                ));
            }
            checkpoints.push((checkpoint, note.to_owned()));
        }
        if known.as_ref().is_some_and(|k| k.size == frontier.size()) {
            known_root = Some(frontier.root());
        }
        let leaf = leaf_hash(&e.bytes);
        frontier.push(leaf);
        leaves.push(leaf);
        seen.insert(e.hash);
        prev = e.hash;
    }
    if known.as_ref().is_some_and(|k| k.size == frontier.size()) {
        known_root = Some(frontier.root());
    }
    let last = entries.last().expect("load refuses an empty log");
    let at_end = |tamper, detail| AuditError::Tampered {
        tamper,
        file: files[last.file].clone(),
        line: last.line + 1,
        seq: None,
        detail,
    };
    if let Some(k) = &known {
        match known_root {
            None => {
                return Err(at_end(
                    Tamper::Truncated,
                    format!(
                        "the log has {} records, a known checkpoint covers {}",
                        frontier.size(),
                        k.size
                    ),
                ));
            }
            Some(root) if root != k.root => {
                return Err(at_end(
                    Tamper::ForgedCheckpoint,
                    format!(
                        "the first {} records differ from those the known checkpoint covers",
                        k.size
                    ),
                ));
            }
            Some(_) => {}
        }
    }
    let closed =
        last.record.kind == RecordKind::Checkpoint && last.record.payload["reason"] == "close";
    if !closed && !options.open_tail {
        return Err(at_end(
            Tamper::Truncated,
            "the log does not end with a closing checkpoint (its tail was cut, or it is still open)".into(),
        ));
    }
    Ok(Checked {
        entries,
        leaves,
        checkpoints,
    })
}

/// Checks a closed log: the chain and every signature across `files` (oldest
/// first), and that it ends with a closing checkpoint. Returns the number of
/// records, or the first one that fails and why.
pub fn verify(files: &[PathBuf], key: &VerifierKey) -> Result<u64, AuditError> {
    verify_with(files, key, &VerifyOptions::default()).map(|v| v.records)
}

/// [`verify`] with options.
pub fn verify_with(
    files: &[PathBuf],
    key: &VerifierKey,
    options: &VerifyOptions,
) -> Result<Verified, AuditError> {
    let checked = check(files, key, options)?;
    Ok(Verified {
        records: checked.leaves.len() as u64,
        checkpoints: checked.checkpoints.len() as u64,
        latest: checked.checkpoints.last().map(|(c, _)| c.clone()),
    })
}

/// Reads the records of `files` as they are, checking only each record's own
/// hash (use [`verify`] for the rest). For display.
pub fn read_records(files: &[PathBuf]) -> Result<Vec<Record>, AuditError> {
    Ok(load(files, true)?.into_iter().map(|e| e.record).collect())
}

/// Proof that a record is in the log: the record, a signed checkpoint and the
/// Merkle path between them. Serializes to JSON for the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InclusionProof {
    /// The record's sequence number: its leaf index.
    pub index: u64,
    /// The record's line, exactly as in the log.
    pub record: String,
    /// The signed checkpoint the proof leads to.
    pub checkpoint: String,
    /// The Merkle audit path, hex.
    pub path: Vec<String>,
}

/// Proof that an older checkpoint's tree is a prefix of a newer one's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The older signed checkpoint.
    pub old: String,
    /// The newer signed checkpoint.
    pub new: String,
    /// The Merkle consistency path, hex.
    pub path: Vec<String>,
}

fn checked_live(files: &[PathBuf], key: &VerifierKey) -> Result<Checked, AuditError> {
    check(
        files,
        key,
        &VerifyOptions {
            open_tail: true,
            known_checkpoint: None,
        },
    )
}

/// Proves record `index` against the latest checkpoint of the log in
/// `files`, which is verified first.
pub fn prove_inclusion(
    files: &[PathBuf],
    key: &VerifierKey,
    index: u64,
) -> Result<InclusionProof, AuditError> {
    let checked = checked_live(files, key)?;
    let (latest, note) = checked
        .checkpoints
        .last()
        .ok_or_else(|| AuditError::CannotProve("the log has no checkpoint yet".into()))?;
    if index >= latest.size {
        return Err(AuditError::CannotProve(format!(
            "record {index} is not covered by the latest checkpoint (size {}); the log has {} records",
            latest.size,
            checked.leaves.len()
        )));
    }
    let path = merkle::inclusion_proof(&checked.leaves[..latest.size as usize], index as usize)
        .expect("index < size");
    let record = &checked.entries[index as usize].bytes;
    Ok(InclusionProof {
        index,
        record: String::from_utf8_lossy(record).into_owned(),
        checkpoint: note.clone(),
        path: path.iter().map(|h| hex(h)).collect(),
    })
}

fn parse_path(path: &[String]) -> Result<Vec<Hash>, AuditError> {
    path.iter()
        .map(|h| {
            unhex32(h)
                .ok_or_else(|| AuditError::invalid("proof", "a path hash is not 64 hex digits"))
        })
        .collect()
}

/// Checks an inclusion proof with only the public key; returns the record.
pub fn verify_inclusion_proof(
    proof: &InclusionProof,
    key: &VerifierKey,
) -> Result<Record, AuditError> {
    let checkpoint = Checkpoint::open(&proof.checkpoint, key)?;
    let (record, _, _) = record::decode(proof.record.as_bytes()).map_err(|fault| match fault {
        LineFault::Malformed(d) => AuditError::invalid("proof", format!("the record: {d}")),
        LineFault::HashMismatch(_) => {
            AuditError::ProofFailed("the record does not match its hash".into())
        }
    })?;
    if record.seq != proof.index {
        return Err(AuditError::ProofFailed(format!(
            "the record is number {}, the proof is for {}",
            record.seq, proof.index
        )));
    }
    let path = parse_path(&proof.path)?;
    let leaf = leaf_hash(proof.record.as_bytes());
    if !merkle::verify_inclusion(proof.index, checkpoint.size, &leaf, &path, &checkpoint.root) {
        return Err(AuditError::ProofFailed(format!(
            "record {} is not in the tree of checkpoint size {}",
            proof.index, checkpoint.size
        )));
    }
    Ok(record)
}

/// Proves that the log's checkpoint of `old_size` records is a prefix of its
/// latest checkpoint.
pub fn prove_consistency(
    files: &[PathBuf],
    key: &VerifierKey,
    old_size: u64,
) -> Result<ConsistencyProof, AuditError> {
    let checked = checked_live(files, key)?;
    let (old, old_note) = checked
        .checkpoints
        .iter()
        .find(|(c, _)| c.size == old_size)
        .ok_or_else(|| {
            AuditError::CannotProve(format!("the log has no checkpoint of size {old_size}"))
        })?;
    let (new, new_note) = checked.checkpoints.last().expect("found one above");
    let path = merkle::consistency_proof(&checked.leaves[..new.size as usize], old.size as usize)
        .expect("old size <= new size");
    Ok(ConsistencyProof {
        old: old_note.clone(),
        new: new_note.clone(),
        path: path.iter().map(|h| hex(h)).collect(),
    })
}

/// Checks a consistency proof with only the public key; returns the two
/// checkpoints.
pub fn verify_consistency_proof(
    proof: &ConsistencyProof,
    key: &VerifierKey,
) -> Result<(Checkpoint, Checkpoint), AuditError> {
    let old = Checkpoint::open(&proof.old, key)?;
    let new = Checkpoint::open(&proof.new, key)?;
    let path = parse_path(&proof.path)?;
    if !merkle::verify_consistency(old.size, new.size, &old.root, &new.root, &path) {
        return Err(AuditError::ProofFailed(format!(
            "the tree of size {} is not a prefix of the tree of size {}",
            old.size, new.size
        )));
    }
    Ok((old, new))
}
