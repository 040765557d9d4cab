//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use rustchain_tools_audit::{AuditConfig, AuditKey, AuditLog, RecordKind, log_files};
use serde_json::json;
use sha2::{Digest, Sha256};

pub fn key() -> AuditKey {
    AuditKey::generate("test.audit").unwrap()
}

/// A closed log of `n` records (plus its file_started and checkpoints) at
/// `dir/audit.jsonl`, a checkpoint every `every` records.
pub fn closed_log(dir: &Path, key: &AuditKey, n: u64, every: u64) -> Vec<PathBuf> {
    let path = dir.join("audit.jsonl");
    let mut config = AuditConfig::new(&path, key.clone());
    config.checkpoint_every = every;
    let log = AuditLog::open(config).unwrap();
    for i in 0..n {
        log.append(RecordKind::ToolRegistered, json!({"tool": format!("t{i}")}))
            .unwrap();
    }
    log.close().unwrap();
    log_files(&path).unwrap()
}

pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub fn write_lines(path: &Path, lines: &[String]) {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(path, text).unwrap();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A record line with a correct hash, as anyone without the signing key can
/// make one: the chain alone has no secret.
pub fn forge_line(seq: u64, kind: &str, payload: serde_json::Value, prev: &str) -> String {
    let body = json!({"seq": seq, "time": "2026-01-01T00:00:00.000000Z", "kind": kind, "payload": payload, "prev": prev});
    // Members in the order the writer uses.
    let body = format!(
        "{{\"seq\":{},\"time\":{},\"kind\":{},\"payload\":{},\"prev\":{}}}",
        seq, body["time"], body["kind"], body["payload"], body["prev"]
    );
    let hash = hex(&Sha256::digest(body.as_bytes()));
    format!("{},\"hash\":\"{hash}\"}}", &body[..body.len() - 1])
}

/// The `hash` member of a line.
pub fn hash_of(line: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    v["hash"].as_str().unwrap().to_owned()
}

/// Re-chains `lines[from..]` after an edit, renumbering from `lines[from]`'s
/// position: what a forger without the key can do.
pub fn rechain(lines: &mut [String], from: usize) {
    for i in from..lines.len() {
        let v: serde_json::Value = serde_json::from_str(&lines[i]).unwrap();
        let prev = if i == 0 {
            "0".repeat(64)
        } else {
            hash_of(&lines[i - 1])
        };
        lines[i] = forge_line(
            i as u64,
            v["kind"].as_str().unwrap(),
            v["payload"].clone(),
            &prev,
        );
    }
}
