//! Group commit under concurrent appenders: every acknowledgement names a
//! distinct record that is in the log, in order, and the log verifies; a
//! sync that waits for the appenders of the last batch to come back still
//! acknowledges a lone record when they do not.

mod common;

use std::collections::BTreeSet;

use common::*;
use rustchain_tools_audit::{
    AuditConfig, AuditLog, Durability, RecordKind, log_files, read_records, verify,
};
use serde_json::json;

async fn burst(log: &AuditLog, appenders: u64, each: u64) -> Vec<u64> {
    let tasks: Vec<_> = (0..appenders)
        .map(|t| {
            let log = log.clone();
            tokio::spawn(async move {
                let mut seqs = Vec::new();
                for i in 0..each {
                    let payload = json!({"t": t, "i": i});
                    seqs.push(log.record(RecordKind::Received, payload).await.unwrap());
                }
                seqs
            })
        })
        .collect();
    let mut seqs = Vec::new();
    for task in tasks {
        seqs.extend(task.await.unwrap());
    }
    seqs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appenders_each_get_their_own_committed_record() {
    for durability in [Durability::Group, Durability::Fsync, Durability::None] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        let key = key();
        let mut config = AuditConfig::new(&path, key.clone());
        config.durability = durability;
        config.checkpoint_every = 100;
        let log = AuditLog::open(config).unwrap();
        let each = if durability == Durability::Fsync {
            2
        } else {
            20
        };
        let mut acked = burst(&log, 64, each).await;
        // The appenders of the burst are gone: a lone record is still
        // acknowledged (the wait for them to come back is bounded).
        acked.push(
            log.record(RecordKind::Finished, json!({"lone": true}))
                .await
                .unwrap(),
        );
        log.close().unwrap();

        let distinct: BTreeSet<u64> = acked.iter().copied().collect();
        assert_eq!(distinct.len(), acked.len(), "{durability:?}");
        let files = log_files(&path).unwrap();
        verify(&files, &key.verifier()).unwrap();
        let records = read_records(&files).unwrap();
        for seq in &acked {
            let record = records.iter().find(|r| r.seq == *seq).unwrap();
            assert!(
                matches!(record.kind, RecordKind::Received | RecordKind::Finished),
                "{durability:?}: {record:?}"
            );
        }
        // Each appender's records are in the order it made them.
        for t in 0..64 {
            let mine: Vec<u64> = records
                .iter()
                .filter(|r| r.kind == RecordKind::Received && r.payload["t"] == t)
                .map(|r| r.payload["i"].as_u64().unwrap())
                .collect();
            assert_eq!(mine, (0..each).collect::<Vec<_>>(), "{durability:?}");
        }
    }
}
