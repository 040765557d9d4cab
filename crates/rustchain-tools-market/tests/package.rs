//! Package digests and signatures: the same files give the same digest,
//! any change to them is caught, and a signature verifies only for its
//! package, version and registered key.

use proptest::prelude::*;
use rustchain_tools_market::package::{SigningKey, generate_key, read_dir};
use rustchain_tools_market::{
    MarketError, PackageDigest, PackageFile, PublisherKey, SignedPackage,
};

fn file(path: &str, bytes: &[u8]) -> PackageFile {
    PackageFile {
        path: path.to_owned(),
        bytes: bytes.to_vec(),
    }
}

fn package() -> Vec<PackageFile> {
    vec![
        file("plugin.json", br#"{"name":"echo"}"#),
        file("echo.wasm", b"\0asm\x01\0\0\0"),
        file("docs/usage.md", b"# Echo\n"),
    ]
}

fn registered(publisher: &str, key: &SigningKey) -> PublisherKey {
    PublisherKey {
        publisher: publisher.to_owned(),
        key: key.verifying_key(),
    }
}

#[test]
fn digest_ignores_order_and_sees_every_change() {
    let files = package();
    let digest = PackageDigest::of(&files).unwrap();
    let mut reversed = files.clone();
    reversed.reverse();
    assert_eq!(PackageDigest::of(&reversed).unwrap(), digest);

    let mut renamed = files.clone();
    renamed[2].path = "docs/Usage.md".into();
    let mut changed = files.clone();
    changed[1].bytes.push(0);
    let mut removed = files.clone();
    removed.pop();
    let mut added = files.clone();
    added.push(file("examples/one.json", b"{}"));
    for other in [renamed, changed, removed, added] {
        assert_ne!(PackageDigest::of(&other).unwrap(), digest);
    }

    let text = digest.to_string();
    assert!(text.starts_with("sha256:") && text.len() == 71, "{text}");
    assert_eq!(text.parse::<PackageDigest>().unwrap(), digest);
    assert!("sha256:xyz".parse::<PackageDigest>().is_err());
}

#[test]
fn bad_paths_are_refused_by_name() {
    for (path, expected) in [
        ("../escape", "relative"),
        ("/abs", "relative"),
        ("a//b", "relative"),
        ("a\\b", "backslashes"),
        ("", "1 to 255 bytes"),
    ] {
        let err = PackageDigest::of(&[file(path, b"x")]).unwrap_err();
        assert!(
            matches!(&err, MarketError::InvalidPackage { reason, .. } if reason.contains(expected)),
            "{path}: {err}"
        );
    }
    let err = PackageDigest::of(&[file("a", b"1"), file("a", b"2")]).unwrap_err();
    assert!(err.to_string().contains("appears twice"), "{err}");
}

#[test]
fn a_signature_verifies_only_for_what_was_signed() {
    let key = generate_key().unwrap();
    let files = package();
    let digest = PackageDigest::of(&files).unwrap();
    let signed = SignedPackage::sign(&key, "acme", "echo", "1.0.0", digest);
    let keys = [registered("acme", &key)];
    signed.verify(&keys, Some(&files)).unwrap();

    // Another version, another name, other files, another publisher's key.
    let mut other_version = signed.clone();
    other_version.version = "1.0.1".into();
    let mut other_name = signed.clone();
    other_name.name = "echo2".into();
    for forged in [other_version, other_name] {
        let err = forged.verify(&keys, None).unwrap_err();
        assert!(err.to_string().contains("does not match"), "{err}");
    }
    let mut tampered = files.clone();
    tampered[0].bytes = br#"{"name":"evil"}"#.to_vec();
    let err = signed.verify(&keys, Some(&tampered)).unwrap_err();
    assert!(err.to_string().contains("the files have digest"), "{err}");

    let stranger = generate_key().unwrap();
    let err = signed
        .verify(&[registered("acme", &stranger)], None)
        .unwrap_err();
    assert!(err.to_string().contains("is not registered"), "{err}");
    // The right key, registered to someone else.
    let err = signed
        .verify(&[registered("mallory", &key)], None)
        .unwrap_err();
    assert!(err.to_string().contains("is not registered"), "{err}");

    let json = serde_json::to_string(&signed).unwrap();
    let back: SignedPackage = serde_json::from_str(&json).unwrap();
    back.verify(&keys, Some(&files)).unwrap();
}

#[test]
fn keys_round_trip_through_hex() {
    let key = generate_key().unwrap();
    let public = registered("acme", &key);
    let back = PublisherKey::from_hex("acme", &public.to_hex()).unwrap();
    assert_eq!(back, public);
    assert_eq!(public.key_id().len(), 16);
    assert!(PublisherKey::from_hex("acme", "zz").is_err());
}

#[cfg(unix)]
#[test]
fn a_directory_reads_as_its_files_and_links_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for f in package() {
        let path = dir.path().join(&f.path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, &f.bytes).unwrap();
    }
    let read = read_dir(dir.path()).unwrap();
    assert_eq!(
        PackageDigest::of(&read).unwrap(),
        PackageDigest::of(&package()).unwrap()
    );
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("docs/link")).unwrap();
    let err = read_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

proptest! {
    #[test]
    fn any_well_formed_paths_digest_and_bad_ones_do_not_panic(
        paths in prop::collection::btree_set("[a-z]{1,6}(/[a-z.]{1,6}){0,2}", 1..8),
        junk in prop::collection::vec(any::<String>(), 0..4),
    ) {
        let files: Vec<PackageFile> = paths.iter().map(|p| file(p, p.as_bytes())).collect();
        let ok = files.iter().all(|f| f.path.split('/').all(|part| part != "." && part != ".."));
        prop_assert_eq!(PackageDigest::of(&files).is_ok(), ok);
        for path in junk {
            let _ = PackageDigest::of(&[file(&path, b"")]);
        }
    }
}
