//! `market report`: the calls of installed market packages, counted from
//! the audit log after its hash chain verifies, as the usage reports the
//! market adds up into a version's quality metrics.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use anyhow::{Context, Result};
use rustchain_tools::audit::{Record, RecordKind, VerifierKey, log_files, read_records, verify};
use rustchain_tools_market::{CallOutcome, UsageReport};

/// Verifies the log at `log` with its public key beside it, and counts the
/// calls of the tools named in `packages`, per tool and version.
pub fn reports_from_log(log: &Path, packages: &HashSet<String>) -> Result<Vec<UsageReport>> {
    let files =
        log_files(log).with_context(|| format!("cannot list the audit log {}", log.display()))?;
    let key_path = rustchain_tools::audit::verifier_path(log);
    let key = std::fs::read_to_string(&key_path).with_context(|| {
        format!(
            "cannot read the audit log's public key {}",
            key_path.display()
        )
    })?;
    let key = VerifierKey::parse(key.trim())
        .with_context(|| format!("{} is not a public audit key", key_path.display()))?;
    verify(&files, &key).with_context(|| {
        format!(
            "the audit log {} does not verify; nothing is reported from it",
            log.display()
        )
    })?;
    let records = read_records(&files)?;
    Ok(count_calls(&records, packages))
}

/// The calls in `records` of the tools named in `packages`. A call counts
/// when the tool ran: a `received` record followed by its outcome
/// (finished, failed, timed out or stopped by a limit). Calls refused
/// before the tool ran (validation, policy) are not the package's doing.
pub fn count_calls(records: &[Record], packages: &HashSet<String>) -> Vec<UsageReport> {
    let mut calls: HashMap<&str, (&str, &str)> = HashMap::new();
    let mut reports: BTreeMap<(String, String), UsageReport> = BTreeMap::new();
    let mut head = "";
    for record in records {
        head = &record.hash;
        let payload = &record.payload;
        let call_id = payload["callId"].as_str().unwrap_or_default();
        if record.kind == RecordKind::Received {
            let tool = payload["tool"].as_str().unwrap_or_default();
            if packages.contains(tool) {
                let version = payload["version"].as_str().unwrap_or_default();
                calls.insert(call_id, (tool, version));
            }
            continue;
        }
        let outcome = match record.kind {
            RecordKind::Finished if payload["outcome"] == "ok" => CallOutcome::Ok,
            RecordKind::Finished | RecordKind::Failed => CallOutcome::Error,
            RecordKind::TimedOut => CallOutcome::TimedOut,
            RecordKind::LimitExceeded => CallOutcome::LimitHit,
            RecordKind::Rejected
            | RecordKind::Denied
            | RecordKind::Refused
            | RecordKind::Cancelled => {
                calls.remove(call_id);
                continue;
            }
            _ => continue,
        };
        let Some((tool, version)) = calls.remove(call_id) else {
            continue;
        };
        let elapsed = payload["elapsedUs"].as_u64().unwrap_or(0);
        let report = reports
            .entry((tool.to_owned(), version.to_owned()))
            .or_insert_with(|| UsageReport::new(tool, version));
        report.record(outcome, elapsed);
        // Where the sandbox measured it (WASM plugins' finished calls).
        if let Some(bytes) = payload["memoryBytes"].as_u64() {
            report.record_memory(bytes);
        }
    }
    reports
        .into_values()
        .map(|mut r| {
            r.log_head = head.to_owned();
            r
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn record(seq: u64, kind: RecordKind, payload: Value) -> Record {
        Record {
            seq,
            time: String::new(),
            kind,
            payload,
            prev: String::new(),
            hash: format!("h{seq}"),
        }
    }

    #[test]
    fn only_calls_of_market_packages_that_ran_are_counted() {
        let received = |seq, id: &str, tool: &str| {
            record(
                seq,
                RecordKind::Received,
                json!({"callId": id, "tool": tool, "version": "1.0.0"}),
            )
        };
        let records = vec![
            received(0, "a", "example.json_upper"),
            record(
                1,
                RecordKind::Finished,
                json!({"callId": "a", "outcome": "ok", "elapsedUs": 90, "memoryBytes": 65_536}),
            ),
            received(2, "b", "example.json_upper"),
            record(
                3,
                RecordKind::Finished,
                json!({"callId": "b", "outcome": "tool_error", "elapsedUs": 400}),
            ),
            received(4, "c", "example.json_upper"),
            record(5, RecordKind::Denied, json!({"callId": "c"})),
            received(6, "d", "example.json_upper"),
            record(
                7,
                RecordKind::TimedOut,
                json!({"callId": "d", "elapsedUs": 6_000_000}),
            ),
            received(8, "e", "text.sha256"),
            record(
                9,
                RecordKind::Finished,
                json!({"callId": "e", "outcome": "ok", "elapsedUs": 5}),
            ),
        ];
        let packages = HashSet::from(["example.json_upper".to_owned()]);
        let reports = count_calls(&records, &packages);
        assert_eq!(reports.len(), 1);
        let r = &reports[0];
        assert_eq!((r.calls, r.errors, r.timeouts, r.limit_hits), (3, 1, 1, 0));
        assert_eq!(r.log_head, "h9");
        // Only the first call's record measured its memory.
        assert_eq!(r.memory.iter().sum::<u64>(), 1);
        assert_eq!(r.memory[0], 1);
        r.check().unwrap();
    }
}
