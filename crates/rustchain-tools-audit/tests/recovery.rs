//! Reopening a log: a torn last line is cut off and recorded, the chain and
//! tree continue, damage elsewhere is refused; rotation keeps the chain.

mod common;

use std::io::Write;

use common::*;
use rustchain_tools_audit::{
    AuditConfig, AuditError, AuditLog, Durability, RecordKind, Tamper, VerifyOptions, log_files,
    read_records, verify, verify_with,
};
use serde_json::json;

#[test]
fn a_torn_last_line_is_cut_off_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 5, 100);
    let before = lines(&files[0]);
    // A crash in the middle of writing the next record.
    let torn = forge_line(
        before.len() as u64,
        "received",
        json!({"x": 1}),
        &hash_of(before.last().unwrap()),
    );
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&files[0])
        .unwrap();
    f.write_all(&torn.as_bytes()[..torn.len() / 2]).unwrap();
    drop(f);
    assert_eq!(
        verify(&files, &key.verifier()).unwrap_err().tamper(),
        Some(Tamper::Truncated)
    );

    let log = AuditLog::open(AuditConfig::new(&files[0], key.clone())).unwrap();
    log.append(RecordKind::PolicyLoaded, json!({"version": "2"}))
        .unwrap();
    log.close().unwrap();
    let records = read_records(&files).unwrap();
    let recovered = &records[before.len()];
    assert_eq!(recovered.kind, RecordKind::Recovered);
    assert_eq!(recovered.payload["cutBytes"], json!(torn.len() / 2));
    assert_eq!(records[before.len() + 1].kind, RecordKind::PolicyLoaded);
    assert_eq!(
        verify(&files, &key.verifier()).unwrap(),
        records.len() as u64
    );
    // What was kept is byte for byte what was there.
    assert_eq!(lines(&files[0])[..before.len()], before[..]);
}

#[test]
fn an_unclean_shutdown_is_recorded_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 5, 100);
    let l = lines(&files[0]);
    write_lines(&files[0], &l[..l.len() - 1]); // no closing checkpoint
    let log = AuditLog::open(AuditConfig::new(&files[0], key.clone())).unwrap();
    log.close().unwrap();
    let records = read_records(&files).unwrap();
    assert_eq!(records[l.len() - 1].kind, RecordKind::Recovered);
    assert_eq!(records[l.len() - 1].payload["uncleanShutdown"], json!(true));
    verify(&files, &key.verifier()).unwrap();
}

#[test]
fn damage_before_the_last_line_is_refused_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 5, 100);
    let mut l = lines(&files[0]);
    l[2] = l[2].replace("t1", "tX");
    write_lines(&files[0], &l);
    let err = AuditLog::open(AuditConfig::new(&files[0], key.clone())).unwrap_err();
    assert_eq!(err.tamper(), Some(Tamper::Edited));
    // A complete but damaged last line is not a torn write either.
    let mut l = lines(&files[0]);
    l[2] = l[2].replace("tX", "t1");
    let last = l.len() - 1;
    l[last] = l[last].replace("close", "clos3");
    write_lines(&files[0], &l);
    assert!(matches!(
        AuditLog::open(AuditConfig::new(&files[0], key.clone())),
        Err(AuditError::Tampered { .. })
    ));
}

#[test]
fn the_chain_continues_across_reopenings_and_rotations() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let path = dir.path().join("audit.jsonl");
    for round in 0..3 {
        let mut config = AuditConfig::new(&path, key.clone());
        config.rotate_bytes = Some(3_000);
        config.checkpoint_every = 5;
        config.durability = [Durability::Fsync, Durability::Group, Durability::None][round];
        let log = AuditLog::open(config).unwrap();
        for i in 0..30 {
            log.append(RecordKind::ConfigChanged, json!({"round": round, "i": i}))
                .unwrap();
        }
        log.close().unwrap();
    }
    let files = log_files(&path).unwrap();
    assert!(files.len() > 3);
    let records = read_records(&files).unwrap();
    let n = verify(&files, &key.verifier()).unwrap();
    assert_eq!(n, records.len() as u64);
    let ours = records
        .iter()
        .filter(|r| r.kind == RecordKind::ConfigChanged)
        .count();
    assert_eq!(ours, 90);
    assert!(records.iter().all(|r| r.kind != RecordKind::Recovered));
}

#[test]
fn a_missing_active_file_after_a_rotation_continues_from_the_last_rotated_one() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let path = dir.path().join("audit.jsonl");
    let mut config = AuditConfig::new(&path, key.clone());
    config.rotate_bytes = Some(1_500);
    let log = AuditLog::open(config.clone()).unwrap();
    for i in 0..20 {
        log.append(RecordKind::ToolRemoved, json!({"i": i}))
            .unwrap();
    }
    log.close().unwrap();
    let closing = read_records(&log_files(&path).unwrap())
        .unwrap()
        .pop()
        .unwrap();
    let known = closing.payload["note"].as_str().unwrap().to_owned();
    // As if the process died between renaming the full file and creating
    // the next one (here, with records in the active file, which are lost).
    std::fs::remove_file(&path).unwrap();
    let log = AuditLog::open(config).unwrap();
    log.append(RecordKind::ToolRemoved, json!({"i": 20}))
        .unwrap();
    log.close().unwrap();
    let files = log_files(&path).unwrap();
    // The chain continues from the last rotated file...
    verify(&files, &key.verifier()).unwrap();
    // ...and only a checkpoint kept elsewhere shows what was lost.
    let options = VerifyOptions {
        open_tail: false,
        known_checkpoint: Some(known),
    };
    let err = verify_with(&files, &key.verifier(), &options).unwrap_err();
    assert!(
        matches!(
            err.tamper(),
            Some(Tamper::Truncated | Tamper::ForgedCheckpoint)
        ),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_appends_all_land_once_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let path = dir.path().join("audit.jsonl");
    let log = AuditLog::open(AuditConfig::new(&path, key.clone())).unwrap();
    let mut tasks = Vec::new();
    for t in 0..16 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            let mut seqs = Vec::new();
            for i in 0..100 {
                seqs.push(
                    log.record(RecordKind::Received, json!({"t": t, "i": i}))
                        .await
                        .unwrap(),
                );
            }
            seqs
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        let seqs = t.await.unwrap();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]));
        all.extend(seqs);
    }
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 1600);
    log.close().unwrap();
    let files = log_files(&path).unwrap();
    let records = read_records(&files).unwrap();
    for seq in all {
        assert_eq!(records[seq as usize].kind, RecordKind::Received);
    }
    verify(&files, &key.verifier()).unwrap();
}

#[test]
fn a_closed_log_refuses_appends() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let log = AuditLog::open(AuditConfig::new(dir.path().join("a.jsonl"), key)).unwrap();
    let other = log.clone();
    log.close().unwrap();
    assert!(matches!(
        other.append(RecordKind::Received, json!({})),
        Err(AuditError::Closed)
    ));
}

#[test]
fn files_rotate_by_age_too() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let path = dir.path().join("nested/dir/audit.jsonl");
    let mut config = AuditConfig::new(&path, key.clone());
    config.rotate_every = Some(std::time::Duration::ZERO);
    let log = AuditLog::open(config).unwrap();
    for i in 0..3 {
        log.append(RecordKind::ConfigChanged, json!({"i": i}))
            .unwrap();
    }
    log.close().unwrap();
    let files = log_files(&path).unwrap();
    // Every commit finds the file old enough: one file per record.
    assert_eq!(files.len(), 4);
    verify(&files, &key.verifier()).unwrap();
}

#[test]
fn an_empty_or_torn_new_file_is_replaced() {
    for content in ["", "{\"seq\":0,\"ti"] {
        let dir = tempfile::tempdir().unwrap();
        let key = key();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, content).unwrap();
        let log = AuditLog::open(AuditConfig::new(&path, key.clone())).unwrap();
        log.close().unwrap();
        assert_eq!(
            verify(&log_files(&path).unwrap(), &key.verifier()).unwrap(),
            2
        );
    }
}

#[test]
fn one_writer_at_a_time_the_next_waits_for_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let path = dir.path().join("audit.jsonl");
    let first = AuditLog::open(AuditConfig::new(&path, key.clone())).unwrap();
    first
        .append(RecordKind::PolicyLoaded, json!({"n": 1}))
        .unwrap();

    // A second writer would break the chain: it is refused after its wait.
    let mut impatient = AuditConfig::new(&path, key.clone());
    impatient.lock_wait = std::time::Duration::from_millis(50);
    let err = AuditLog::open(impatient).unwrap_err();
    assert!(matches!(err, AuditError::InUse { .. }), "{err}");
    assert!(
        err.to_string().contains("in use by another process"),
        "{err}"
    );

    // One that waits gets the log once the first closes it, and continues the chain.
    let waiting = std::thread::spawn({
        let (path, key) = (path.clone(), key.clone());
        move || {
            let log = AuditLog::open(AuditConfig::new(&path, key)).unwrap();
            log.append(RecordKind::PolicyLoaded, json!({"n": 2}))
                .unwrap();
            log.close().unwrap();
        }
    });
    std::thread::sleep(std::time::Duration::from_millis(30));
    first.close().unwrap();
    waiting.join().unwrap();
    let files = log_files(&path).unwrap();
    verify(&files, &key.verifier()).unwrap();
    let loaded: Vec<_> = read_records(&files)
        .unwrap()
        .into_iter()
        .filter(|r| r.kind == RecordKind::PolicyLoaded)
        .map(|r| r.payload["n"].clone())
        .collect();
    assert_eq!(loaded, [json!(1), json!(2)]);
}
