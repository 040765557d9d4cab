//! A log with its signing key kept beside it: `FILE.key` (the private key,
//! readable by its owner only) and `FILE.pub` (the verifier), made on the
//! log's first use. What the command line, the MCP server and the facade's
//! default stack open.

use std::{
    fs::{self, OpenOptions},
    io::Write,
    path::{Path, PathBuf},
};

use crate::{AuditConfig, AuditError, AuditKey, AuditLog, Durability};

/// A log opened by [`open_keyed`].
#[derive(Debug)]
pub struct KeyedLog {
    /// The open log.
    pub log: AuditLog,
    /// Its signing key; the layer keys its digests of sensitive values with
    /// the key's private text too (see [`KeyedLog::redaction_secret`]).
    pub key: AuditKey,
    /// True when the log did not exist before this opening.
    pub fresh: bool,
}

impl KeyedLog {
    /// The secret an [`AuditLayer`](crate::AuditLayer) keys digests of
    /// sensitive arguments with: the private key's text, so that digests
    /// stay comparable across runs of the same log.
    pub fn redaction_secret(&self) -> String {
        self.key.to_private_string()
    }
}

/// Where the private key of the log at `path` is kept: `path.key`.
pub fn key_path(path: &Path) -> PathBuf {
    suffixed(path, ".key")
}

/// Where the verifier of the log at `path` is kept: `path.pub`.
pub fn verifier_path(path: &Path) -> PathBuf {
    suffixed(path, ".pub")
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Opens (or starts) the log at `path` with its key at `path.key`, making
/// the key, and `path.pub` beside it, on first use. The log's directory is
/// created when missing.
pub fn open_keyed(path: &Path, durability: Durability) -> Result<KeyedLog, AuditError> {
    let fresh = !path.exists();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| AuditError::io("create the directory", dir, e))?;
    }
    let key_path = key_path(path);
    let key = match fs::read_to_string(&key_path) {
        Ok(text) => parse_key(&key_path, &text)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => new_key(path, &key_path)?,
        Err(e) => return Err(AuditError::io("read", &key_path, e)),
    };
    let mut config = AuditConfig::new(path, key.clone());
    config.durability = durability;
    let log = AuditLog::open(config)?;
    Ok(KeyedLog { log, key, fresh })
}

fn parse_key(key_path: &Path, text: &str) -> Result<AuditKey, AuditError> {
    AuditKey::from_private_string(text.trim()).map_err(|e| {
        AuditError::invalid(
            "key",
            format!("{} is not an audit key: {e}", key_path.display()),
        )
    })
}

/// Makes the log's key, or takes the one another process made at the same
/// moment: the key is written whole to a temporary file and then linked into
/// place, which fails if the name exists, so no process reads half a key.
fn new_key(path: &Path, key_path: &Path) -> Result<AuditKey, AuditError> {
    let key = AuditKey::generate("rustchain-tools")?;
    let temporary = suffixed(key_path, &format!(".{}.tmp", std::process::id()));
    write_private(&temporary, &key.to_private_string())?;
    let linked = fs::hard_link(&temporary, key_path);
    let _ = fs::remove_file(&temporary);
    match linked {
        Ok(()) => {
            let verifier = verifier_path(path);
            fs::write(&verifier, key.verifier().to_string() + "\n")
                .map_err(|e| AuditError::io("write", &verifier, e))?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let text =
                fs::read_to_string(key_path).map_err(|e| AuditError::io("read", key_path, e))?;
            parse_key(key_path, &text)
        }
        Err(e) => Err(AuditError::io("create", key_path, e)),
    }
}

/// Writes a secret readable by its owner only.
fn write_private(path: &Path, text: &str) -> Result<(), AuditError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| AuditError::io("create", path, e))?;
    writeln!(file, "{text}").map_err(|e| AuditError::io("write", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RecordKind, verify};

    #[test]
    fn a_log_keeps_its_key_across_openings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("logs/calls.jsonl");
        let first = open_keyed(&path, Durability::Fsync).unwrap();
        assert!(first.fresh);
        first
            .log
            .append(RecordKind::ConfigChanged, serde_json::json!({}))
            .unwrap();
        let secret = first.redaction_secret();
        first.log.close().unwrap();
        let second = open_keyed(&path, Durability::Fsync).unwrap();
        assert!(!second.fresh);
        assert_eq!(second.redaction_secret(), secret);
        second.log.close().unwrap();
        let verifier = fs::read_to_string(verifier_path(&path)).unwrap();
        let verifier = crate::VerifierKey::parse(verifier.trim()).unwrap();
        assert!(verify(&crate::log_files(&path).unwrap(), &verifier).is_ok());
    }

    #[test]
    fn a_damaged_key_is_refused_with_its_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("calls.jsonl");
        fs::write(key_path(&path), "not a key\n").unwrap();
        let error = open_keyed(&path, Durability::None).unwrap_err().to_string();
        assert!(
            error.contains("calls.jsonl.key is not an audit key"),
            "{error}"
        );
    }
}
