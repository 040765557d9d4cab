//! Every kind of tampering with a log at rest is detected, with the record
//! where it starts.

mod common;

use common::*;
use rustchain_tools_audit::{
    AuditConfig, AuditError, AuditKey, AuditLog, RecordKind, Tamper, VerifyOptions, log_files,
    verify, verify_with,
};
use serde_json::json;

fn tamper_of(result: Result<u64, AuditError>) -> (Tamper, Option<u64>) {
    match result {
        Err(AuditError::Tampered { tamper, seq, .. }) => (tamper, seq),
        other => panic!("expected tampering to be detected, got {other:?}"),
    }
}

#[test]
fn an_untouched_log_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    // 25 records, file_started, 2 periodic checkpoints, the closing one.
    assert_eq!(verify(&files, &key.verifier()).unwrap(), 29);
}

#[test]
fn an_edited_record_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    l[5] = l[5].replace("\"t4\"", "\"evil\"");
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())),
        (Tamper::Edited, Some(5))
    );
}

#[test]
fn a_deleted_record_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    l.remove(5);
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())),
        (Tamper::Deleted, Some(6))
    );
}

#[test]
fn reordered_records_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    l.swap(5, 6);
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())),
        (Tamper::Reordered, Some(6))
    );
}

#[test]
fn an_inserted_record_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    // Well formed, correctly hashed and chained to record 4.
    let forged = forge_line(
        5,
        "tool_registered",
        json!({"tool": "evil"}),
        &hash_of(&l[4]),
    );
    l.insert(5, forged);
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())),
        (Tamper::Inserted, Some(5))
    );
}

#[test]
fn an_insertion_with_the_chain_rewritten_is_caught_by_the_next_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    l.insert(
        5,
        forge_line(
            5,
            "tool_registered",
            json!({"tool": "evil"}),
            &hash_of(&l[4]),
        ),
    );
    rechain(&mut l, 5);
    write_lines(&files[0], &l);
    // The first checkpoint covered records 0..11; it now sits at 12.
    let (tamper, seq) = tamper_of(verify(&files, &key.verifier()));
    assert_eq!((tamper, seq), (Tamper::ForgedCheckpoint, Some(12)));
}

#[test]
fn a_truncated_log_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let l = lines(&files[0]);
    // Cut back to just after the second periodic checkpoint: every record
    // left is intact and chained.
    let cut = l.iter().rposition(|x| x.contains("\"periodic\"")).unwrap();
    write_lines(&files[0], &l[..=cut]);
    let (tamper, _) = tamper_of(verify(&files, &key.verifier()));
    assert_eq!(tamper, Tamper::Truncated);
}

#[test]
fn a_truncated_live_log_is_detected_by_a_checkpoint_known_from_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let l = lines(&files[0]);
    let last: serde_json::Value = serde_json::from_str(l.last().unwrap()).unwrap();
    let known = last["payload"]["note"].as_str().unwrap().to_owned();
    let options = VerifyOptions {
        open_tail: true,
        known_checkpoint: Some(known),
    };
    assert!(verify_with(&files, &key.verifier(), &options).is_ok());
    write_lines(&files[0], &l[..l.len() - 4]);
    let err = verify_with(&files, &key.verifier(), &options).unwrap_err();
    assert_eq!(err.tamper(), Some(Tamper::Truncated));
}

#[test]
fn a_torn_last_line_is_reported_as_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 5, 10);
    let text = std::fs::read_to_string(&files[0]).unwrap();
    std::fs::write(&files[0], &text[..text.len() - 20]).unwrap();
    let (tamper, _) = tamper_of(verify(&files, &key.verifier()));
    assert_eq!(tamper, Tamper::Truncated);
}

fn rotated_log(dir: &std::path::Path, key: &AuditKey) -> Vec<std::path::PathBuf> {
    let path = dir.join("audit.jsonl");
    let mut config = AuditConfig::new(&path, key.clone());
    config.rotate_bytes = Some(2_000);
    config.checkpoint_every = 7;
    let log = AuditLog::open(config).unwrap();
    for i in 0..60 {
        log.append(RecordKind::ToolRegistered, json!({"tool": format!("t{i}")}))
            .unwrap();
    }
    log.close().unwrap();
    log_files(&path).unwrap()
}

#[test]
fn swapped_or_missing_files_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = rotated_log(dir.path(), &key);
    assert!(files.len() >= 3, "{files:?}");
    let total = verify(&files, &key.verifier()).unwrap();
    assert!(total > 60);
    let mut swapped = files.clone();
    swapped.swap(0, 1);
    assert_eq!(
        tamper_of(verify(&swapped, &key.verifier())).0,
        Tamper::Reordered
    );
    let mut missing = files.clone();
    missing.remove(1);
    assert_eq!(
        tamper_of(verify(&missing, &key.verifier())).0,
        Tamper::Deleted
    );
    assert_eq!(
        tamper_of(verify(&files[1..], &key.verifier())).0,
        Tamper::Deleted
    );
}

#[test]
fn a_checkpoint_signed_by_another_key_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    let at = l.iter().position(|x| x.contains("\"periodic\"")).unwrap();
    let v: serde_json::Value = serde_json::from_str(&l[at]).unwrap();
    let note = v["payload"]["note"].as_str().unwrap();
    let body = &note[..note.find("\n\n").unwrap() + 1];
    // A forger with their own key of the same name signs the same body.
    let forger = AuditKey::generate("test.audit").unwrap();
    let cp = rustchain_tools_audit::Checkpoint {
        origin: "test.audit".into(),
        size: body.lines().nth(1).unwrap().parse().unwrap(),
        root: [0; 32],
    };
    let mut forged_note = forger.sign(&cp);
    // Keep the real body so only the signature is wrong.
    forged_note = format!(
        "{body}{}",
        &forged_note[forged_note.find("\n\n").unwrap() + 1..]
    );
    l[at] = forge_line(
        at as u64,
        "checkpoint",
        json!({"reason": "periodic", "note": forged_note}),
        &hash_of(&l[at - 1]),
    );
    rechain(&mut l, at + 1);
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())),
        (Tamper::BadSignature, Some(at as u64))
    );
}

#[test]
fn a_genuine_checkpoint_moved_elsewhere_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    let cps: Vec<usize> = l
        .iter()
        .enumerate()
        .filter(|(_, x)| x.contains("\"checkpoint\""))
        .map(|(i, _)| i)
        .collect();
    let first: serde_json::Value = serde_json::from_str(&l[cps[0]]).unwrap();
    // Replace the second checkpoint by a copy of the first, well signed.
    let at = cps[1];
    l[at] = forge_line(
        at as u64,
        "checkpoint",
        first["payload"].clone(),
        &hash_of(&l[at - 1]),
    );
    rechain(&mut l, at + 1);
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())),
        (Tamper::ForgedCheckpoint, Some(at as u64))
    );
}

#[test]
fn a_wholesale_rewrite_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 25, 10);
    let mut l = lines(&files[0]);
    l[3] = l[3].replace("\"t2\"", "\"evil\"");
    rechain(&mut l, 3);
    write_lines(&files[0], &l);
    assert_eq!(
        tamper_of(verify(&files, &key.verifier())).0,
        Tamper::ForgedCheckpoint
    );
}

#[test]
fn the_wrong_public_key_fails() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 5, 10);
    let other = AuditKey::generate("test.audit").unwrap();
    assert_eq!(
        tamper_of(verify(&files, &other.verifier())).0,
        Tamper::BadSignature
    );
}

#[test]
fn garbage_is_malformed_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 5, 10);
    for garbage in [
        "",
        "\n",
        "not json\n",
        "{}\n",
        "\u{0}\u{0}\u{0}\n",
        "[1,2,3]\n",
    ] {
        std::fs::write(&files[0], garbage).unwrap();
        assert!(verify(&files, &key.verifier()).is_err(), "{garbage:?}");
    }
    let mut bytes = std::fs::read(&files[0]).unwrap();
    bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
    std::fs::write(&files[0], bytes).unwrap();
    assert!(verify(&files, &key.verifier()).is_err());
}
