//! A corpus of traversal payloads: each is refused by the right path rule,
//! or (encoded forms that are only odd names) stays inside the root.

mod fs_common;

use fs_common::{Fixture, SECRET, assert_names_inside};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::fs::{PathRule, SearchQuery, WriteOptions};

const CREATE: WriteOptions = WriteOptions {
    create_dirs: true,
    overwrite: true,
};

fn refused_payloads(f: &Fixture) -> Vec<(String, PathRule)> {
    let abs_secret = f.outside.join("secret.txt").to_string_lossy().into_owned();
    vec![
        ("../secret".into(), PathRule::ParentDir),
        ("../outside/secret.txt".into(), PathRule::ParentDir),
        ("a/../../secret".into(), PathRule::ParentDir),
        (
            "a/b/../../../outside/secret.txt".into(),
            PathRule::ParentDir,
        ),
        ("./../outside".into(), PathRule::ParentDir),
        ("..".into(), PathRule::ParentDir),
        ("/etc/passwd".into(), PathRule::Absolute),
        (abs_secret, PathRule::Absolute),
        ("//server/share".into(), PathRule::Absolute),
        ("..\\secret".into(), PathRule::Backslash),
        ("..\\..\\outside\\secret.txt".into(), PathRule::Backslash),
        ("a\\..\\..\\outside".into(), PathRule::Backslash),
        ("\\\\server\\share\\secret".into(), PathRule::Backslash),
        ("C:\\Windows\\win.ini".into(), PathRule::Backslash),
        ("C:secret".into(), PathRule::WindowsDrive),
        ("c:/outside/secret.txt".into(), PathRule::WindowsDrive),
        ("secret\0.txt".into(), PathRule::NulByte),
        ("../outside/secret.txt\0".into(), PathRule::NulByte),
        ("\0".into(), PathRule::NulByte),
        ("".into(), PathRule::Empty),
        ("a/".repeat(3000), PathRule::TooLong),
    ]
}

/// Encoded forms: on a POSIX file system these are just names inside the root.
fn odd_names() -> Vec<String> {
    vec![
        "%2e%2e%2fsecret".into(),
        "%2e%2e/%2e%2e/outside/secret.txt".into(),
        "%252e%252e%252fsecret".into(),
        "..%2f..%2foutside%2fsecret.txt".into(),
        "%c0%ae%c0%ae%c0%afsecret".into(),
        // Overlong UTF-8 for "../" as the lossy string it decodes to.
        String::from_utf8_lossy(b"\xc0\xae\xc0\xae\xc0\xafsecret").into_owned(),
        String::from_utf8_lossy(b"\xe0\x80\xae\xe0\x80\xae/\xe0\x80\xaf").into_owned(),
        "\u{2025}/secret".into(),
        "\u{FF0E}\u{FF0E}\u{FF0F}secret".into(),
        "....//secret".into(),
        "...".into(),
    ]
}

fn expect_rule(result: Result<impl std::fmt::Debug, SandboxError>, path: &str, rule: PathRule) {
    match result {
        Err(SandboxError::PathRefused { path: p, rule: r }) => {
            assert_eq!(p, path);
            assert_eq!(r, rule, "{path:?}");
        }
        other => panic!("{path:?}: expected {rule:?}, got {other:?}"),
    }
}

#[test]
fn refused_payloads_name_the_path_and_rule_for_every_operation() {
    let f = Fixture::plain();
    let before = f.outside_snapshot();
    let root_before = fs_common::snapshot(&f.root_path);
    for (path, rule) in refused_payloads(&f) {
        expect_rule(f.root.read(&path), &path, rule);
        expect_rule(f.root.write(&path, b"x", CREATE), &path, rule);
        expect_rule(f.root.list(&path, true), &path, rule);
        expect_rule(f.root.delete(&path, true), &path, rule);
        let query = SearchQuery {
            under: path.clone(),
            text: Some("needle".into()),
            ..SearchQuery::default()
        };
        if rule == PathRule::Empty {
            // An empty `under` is the root, as in `SearchQuery::default()`.
            assert!(f.root.search(&query).is_ok());
        } else {
            expect_rule(f.root.search(&query), &path, rule);
        }
        let message = f.root.read(&path).unwrap_err().to_string();
        assert!(message.contains("refused"), "{message}");
    }
    assert_eq!(f.outside_snapshot(), before);
    assert_eq!(
        fs_common::snapshot(&f.root_path),
        root_before,
        "refusals touch nothing"
    );
}

#[test]
fn encoded_forms_stay_inside_the_root() {
    let f = Fixture::plain();
    let before = f.outside_snapshot();
    for name in odd_names() {
        match f.root.read(&name) {
            Err(SandboxError::PathNotFound { path }) => assert_eq!(path, name),
            other => panic!("{name:?}: {other:?}"),
        }
        f.root.write(&name, b"odd", CREATE).unwrap();
        let on_disk = f.root_path.join(&name);
        assert_eq!(
            std::fs::read(&on_disk).unwrap(),
            b"odd",
            "{name:?} written inside"
        );
        assert_eq!(f.root.read(&name).unwrap(), b"odd");
        for entry in f.root.list(".", true).unwrap().entries {
            assert_names_inside(&f.root_path, &entry.path);
        }
        f.root.delete(&name, false).unwrap();
        assert!(!on_disk.exists());
    }
    let listing = f.root.list(".", true).unwrap();
    let all: Vec<_> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    assert!(all.iter().all(|p| !p.contains("secret.txt")), "{all:?}");
    assert_eq!(f.outside_snapshot(), before);
}

#[test]
fn root_forms_are_the_root_and_never_deleted() {
    let f = Fixture::plain();
    for path in [".", "./", "./.", ".//"] {
        assert!(matches!(
            f.root.delete(path, true),
            Err(SandboxError::RootDelete { .. })
        ));
        assert!(matches!(
            f.root.read(path),
            Err(SandboxError::NotRegularFile { .. })
        ));
        assert!(matches!(
            f.root.write(path, b"x", CREATE),
            Err(SandboxError::NotRegularFile { .. })
        ));
        assert!(!f.root.list(path, false).unwrap().entries.is_empty());
    }
    assert!(f.root_path.join("a/file.txt").exists());
}

#[test]
fn nothing_read_ever_holds_the_secret() {
    let f = Fixture::plain();
    let mut payloads: Vec<String> = refused_payloads(&f).into_iter().map(|(p, _)| p).collect();
    payloads.extend(odd_names());
    for path in payloads {
        if let Ok(data) = f.root.read(&path) {
            assert!(!String::from_utf8_lossy(&data).contains(SECRET));
        }
    }
    let hits = f
        .root
        .search(&SearchQuery {
            under: ".".into(),
            text: Some(SECRET.into()),
            ..SearchQuery::default()
        })
        .unwrap();
    assert!(hits.matches.is_empty(), "{hits:?}");
}
