//! Where the command line keeps its state, and its configuration file.
//!
//! The data directory is `$RUSTCHAIN_TOOLS_DATA_DIR`, else
//! `$XDG_DATA_HOME/rustchain-tools`, else `~/.local/share/rustchain-tools`.
//! The configuration file is `$RUSTCHAIN_TOOLS_CONFIG`, else
//! `$XDG_CONFIG_HOME/rustchain-tools/config.json`, else
//! `~/.config/rustchain-tools/config.json`; it is optional.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use rustchain_tools::audit::{AuditLog, RecordKind};
use rustchain_tools::sandbox::LimitsConfig;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The configuration file: every field optional.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfigFile {
    /// The audit log of `call`; `false` turns the default log off.
    pub audit: Option<AuditSetting>,
    /// The registry directory of `tools search` and `registry`.
    pub registry: Option<PathBuf>,
    /// Limits of the pipeline.
    pub limits: Option<LimitsConfig>,
}

/// `"audit": "path/to/log.jsonl"` or `"audit": false`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(untagged)]
pub enum AuditSetting {
    /// Record to this file.
    File(PathBuf),
    /// `false`: record nothing unless `--audit` says so.
    Enabled(bool),
}

/// What the command line works with, after the configuration file and the
/// environment are read.
#[derive(Debug)]
pub struct Settings {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The configuration file, when there is one.
    pub config_path: Option<PathBuf>,
    /// Its content.
    pub config: ConfigFile,
    /// SHA-256 of the file's bytes, `None` without a file: what an audit log
    /// compares to see whether the configuration changed since it last ran.
    pub config_digest: Option<String>,
}

impl Settings {
    /// Reads the environment and the configuration file; a file that exists
    /// but does not parse is an error naming it.
    pub fn load() -> Result<Settings> {
        let data_dir = match env_path("RUSTCHAIN_TOOLS_DATA_DIR") {
            Some(dir) => dir,
            None => match env_path("XDG_DATA_HOME") {
                Some(dir) => dir.join("rustchain-tools"),
                None => home()?.join(".local/share/rustchain-tools"),
            },
        };
        let explicit = env_path("RUSTCHAIN_TOOLS_CONFIG");
        let config_path = match &explicit {
            Some(path) => Some(path.clone()),
            None => env_path("XDG_CONFIG_HOME")
                .map(|dir| dir.join("rustchain-tools/config.json"))
                .or_else(|| {
                    home()
                        .ok()
                        .map(|h| h.join(".config/rustchain-tools/config.json"))
                }),
        };
        let mut config_digest = None;
        let config = match &config_path {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => {
                    config_digest = Some(format!("{:x}", Sha256::digest(text.as_bytes())));
                    serde_json::from_str(&text).with_context(|| {
                        format!("the configuration file {} is not valid", path.display())
                    })?
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && explicit.is_none() => {
                    ConfigFile::default()
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot read the configuration file {}", path.display())
                    });
                }
            },
            None => ConfigFile::default(),
        };
        let config_path = config_path.filter(|p| p.exists());
        Ok(Settings {
            data_dir,
            config_path,
            config,
            config_digest,
        })
    }

    /// The audit log `call` records to: `--audit FILE`, else the
    /// configuration file's, else `audit.jsonl` in the data directory;
    /// `None` when turned off.
    pub fn audit_log(&self, flag: Option<&str>, off: bool) -> Option<PathBuf> {
        if let Some(path) = flag {
            return Some(PathBuf::from(path));
        }
        if off {
            return None;
        }
        match &self.config.audit {
            Some(AuditSetting::File(path)) => Some(self.relative_to_config(path)),
            Some(AuditSetting::Enabled(false)) => None,
            Some(AuditSetting::Enabled(true)) | None => Some(self.data_dir.join("audit.jsonl")),
        }
    }

    /// The registry directory: `--registry DIR`, else the configuration
    /// file's, else `registry` in the data directory.
    pub fn registry_dir(&self, flag: Option<&str>) -> PathBuf {
        match (flag, &self.config.registry) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(dir)) => self.relative_to_config(dir),
            (None, None) => self.data_dir.join("registry"),
        }
    }

    /// A path in the configuration file is relative to the file's directory.
    fn relative_to_config(&self, path: &Path) -> PathBuf {
        match &self.config_path {
            Some(config) if path.is_relative() => config
                .parent()
                .map_or_else(|| path.to_path_buf(), |dir| dir.join(path)),
            _ => path.to_path_buf(),
        }
    }
}

impl Settings {
    /// Records `config_changed` in `log` when the configuration differs from
    /// the one this log last ran with (or the log has never recorded one),
    /// then remembers it beside the log in [`config_seen_path`]. That file
    /// only saves re-recording: deleting it costs one more record, and
    /// [`forget_configuration`] deletes it when a log starts afresh. A
    /// failure to remember is a warning: the record is already made.
    pub fn record_configuration(&self, log: &AuditLog, log_path: &Path) -> Result<()> {
        let seen_path = config_seen_path(log_path);
        let current = self.config_digest.as_deref().unwrap_or("none");
        let previous = match std::fs::read_to_string(&seen_path) {
            Ok(text) => Some(text.trim().to_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| format!("could not read {}", seen_path.display()));
            }
        };
        if previous.as_deref() == Some(current) {
            return Ok(());
        }
        log.append(
            RecordKind::ConfigChanged,
            serde_json::json!({
                "file": self.config_path.as_ref().map(|p| p.display().to_string()),
                "digest": self.config_digest,
                "previous": previous.filter(|p| p != "none"),
                "settings": &self.config,
            }),
        )
        .with_context(|| {
            format!(
                "the configuration could not be recorded in {}",
                log_path.display()
            )
        })?;
        // Written whole and renamed into place, so a crash leaves the old
        // digest (one more record next time) and never half a digest.
        let temporary = PathBuf::from(format!(
            "{}.{}.tmp",
            seen_path.display(),
            std::process::id()
        ));
        if let Err(e) = std::fs::write(&temporary, format!("{current}\n"))
            .and_then(|()| std::fs::rename(&temporary, &seen_path))
        {
            let _ = std::fs::remove_file(&temporary);
            eprintln!(
                "warning: could not write {} ({e}); the next command records the configuration again",
                seen_path.display()
            );
        }
        Ok(())
    }
}

/// Where the digest of the configuration a log last ran with is kept.
pub fn config_seen_path(log_path: &Path) -> PathBuf {
    PathBuf::from(format!("{}.config", log_path.display()))
}

/// Forgets the configuration a log at `log_path` ran with, for a log that
/// starts afresh (deleted or never made), so that it records its own.
pub fn forget_configuration(log_path: &Path) -> Result<()> {
    let seen_path = config_seen_path(log_path);
    match std::fs::remove_file(&seen_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("could not remove {}", seen_path.display()))
        }
        _ => Ok(()),
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn home() -> Result<PathBuf> {
    env_path("HOME").ok_or_else(|| {
        anyhow!("HOME is not set: set RUSTCHAIN_TOOLS_DATA_DIR to say where to keep data")
    })
}
