//! Inclusion and consistency proofs, made from the log and checked with only
//! the public key.

mod common;

use common::*;
use rustchain_tools_audit::{
    AuditError, AuditKey, ConsistencyProof, InclusionProof, VerifyOptions, prove_consistency,
    prove_inclusion, verify_consistency_proof, verify_inclusion_proof, verify_with,
};

#[test]
fn every_record_has_an_inclusion_proof_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 40, 7);
    let total = lines(&files[0]).len() as u64;
    // The closing checkpoint covers every record but itself.
    for index in 0..total - 1 {
        let proof = prove_inclusion(&files, &key.verifier(), index).unwrap();
        // Through JSON, as the CLI would pass it.
        let proof: InclusionProof =
            serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
        let record = verify_inclusion_proof(&proof, &key.verifier()).unwrap();
        assert_eq!(record.seq, index);
    }
}

#[test]
fn a_proof_for_a_record_that_is_not_there_fails() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 10, 100);
    let total = lines(&files[0]).len() as u64;
    for index in [total - 1, total, total + 100] {
        assert!(matches!(
            prove_inclusion(&files, &key.verifier(), index),
            Err(AuditError::CannotProve(_))
        ));
    }
    let good = prove_inclusion(&files, &key.verifier(), 3).unwrap();
    // A record the log never held, dressed with record 3's proof.
    let mut fake = good.clone();
    fake.record = forge_line(
        3,
        "tool_registered",
        serde_json::json!({"tool": "evil"}),
        &"0".repeat(64),
    );
    assert!(matches!(
        verify_inclusion_proof(&fake, &key.verifier()),
        Err(AuditError::ProofFailed(_))
    ));
    // The right record claimed at another position.
    let mut moved = good.clone();
    moved.index = 4;
    assert!(verify_inclusion_proof(&moved, &key.verifier()).is_err());
    // An edited record.
    let mut edited = good.clone();
    edited.record = edited.record.replace("t2", "t9");
    assert!(verify_inclusion_proof(&edited, &key.verifier()).is_err());
    // A flipped bit in the path.
    let mut flipped = good.clone();
    let h = &mut flipped.path[0];
    let c = if h.starts_with('0') { "1" } else { "0" };
    h.replace_range(0..1, c);
    assert!(verify_inclusion_proof(&flipped, &key.verifier()).is_err());
    // Another key.
    let other = AuditKey::generate("test.audit").unwrap();
    assert!(verify_inclusion_proof(&good, &other.verifier()).is_err());
}

#[test]
fn every_checkpoint_is_consistent_with_the_latest() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 50, 6);
    let sizes: Vec<u64> = lines(&files[0])
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("\"kind\":\"checkpoint\""))
        .map(|(i, _)| i as u64)
        .collect();
    assert!(sizes.len() > 5);
    for &size in &sizes {
        let proof = prove_consistency(&files, &key.verifier(), size).unwrap();
        let proof: ConsistencyProof =
            serde_json::from_str(&serde_json::to_string(&proof).unwrap()).unwrap();
        let (old, new) = verify_consistency_proof(&proof, &key.verifier()).unwrap();
        assert_eq!((old.size, new.size), (size, *sizes.last().unwrap()));
    }
    let proof = prove_consistency(&files, &key.verifier(), sizes[1]).unwrap();
    // Swapped checkpoints, or a flipped bit, fail.
    let swapped = ConsistencyProof {
        old: proof.new.clone(),
        new: proof.old.clone(),
        path: proof.path.clone(),
    };
    assert!(verify_consistency_proof(&swapped, &key.verifier()).is_err());
    let mut flipped = proof.clone();
    let c = if flipped.path[0].starts_with('a') {
        "b"
    } else {
        "a"
    };
    flipped.path[0].replace_range(0..1, c);
    assert!(verify_consistency_proof(&flipped, &key.verifier()).is_err());
    // A size with no checkpoint cannot be proved.
    assert!(matches!(
        prove_consistency(&files, &key.verifier(), sizes[0] + 1),
        Err(AuditError::CannotProve(_))
    ));
}

#[test]
fn a_checkpoint_from_a_rewritten_log_is_not_consistent_with_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let key = key();
    let files = closed_log(dir.path(), &key, 30, 10);
    let latest = verify_with(&files, &key.verifier(), &VerifyOptions::default()).unwrap();
    let original = prove_consistency(&files, &key.verifier(), 11).unwrap();
    // The owner of the key rewrites history and re-signs: an old checkpoint
    // published earlier then proves it.
    let dir2 = tempfile::tempdir().unwrap();
    let files2 = closed_log(dir2.path(), &key, 31, 10);
    let rewritten = prove_consistency(&files2, &key.verifier(), 11).unwrap();
    let mixed = ConsistencyProof {
        old: original.old.clone(),
        new: rewritten.new.clone(),
        path: rewritten.path.clone(),
    };
    assert!(verify_consistency_proof(&mixed, &key.verifier()).is_err());
    assert!(latest.latest.is_some());
}
