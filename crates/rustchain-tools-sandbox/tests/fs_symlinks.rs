//! Symlinks made inside the root that point out (absolute, relative,
//! chained, to a directory, to a device), a fifo and a device node: reading,
//! writing through, listing, searching and deleting never touch the outside.

mod fs_common;

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use fs_common::{Fixture, SECRET, assert_names_inside};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::fs::{EntryKind, SearchQuery, WriteOptions};

const OUT_LINKS: [&str; 8] = [
    "abs_link",
    "rel_link",
    "chain_a",
    "chain_b",
    "dir_link",
    "abs_dir_link",
    "a/deep_rel_link",
    "zero_link",
];

const THROUGH_LINKS: [&str; 6] = [
    "dir_link/secret.txt",
    "abs_dir_link/secret.txt",
    "chain_a/secret.txt",
    "chain_b/dir/inner.txt",
    "dir_link/dir",
    "chain_a/dir",
];

fn escapes<T: std::fmt::Debug>(result: Result<T, SandboxError>, path: &str) {
    match result {
        Err(SandboxError::PathEscapes { path: p }) => assert_eq!(p, path),
        other => panic!("{path:?}: expected PathEscapes, got {other:?}"),
    }
}

fn mkfifo(path: &Path) {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

/// A character device like /dev/zero inside the root; needs root privileges.
fn mknod_zero(path: &Path) -> bool {
    let c = CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: as above; makedev(1, 5) is /dev/zero's device number.
    unsafe { libc::mknod(c.as_ptr(), libc::S_IFCHR | 0o644, libc::makedev(1, 5)) == 0 }
}

#[test]
fn reads_through_links_out_are_refused() {
    let f = Fixture::with_links();
    for path in OUT_LINKS {
        escapes(f.root.read(path), path);
    }
    for path in THROUGH_LINKS {
        escapes(f.root.read(path), path);
    }
    assert_eq!(
        f.root.read("inside_link").unwrap(),
        b"inside a\nneedle here\n"
    );
}

#[test]
fn writes_through_links_never_land_outside() {
    let f = Fixture::with_links();
    let before = f.outside_snapshot();
    let opts = WriteOptions {
        create_dirs: true,
        overwrite: true,
    };
    for path in OUT_LINKS {
        match f.root.write(path, b"pwned", opts) {
            Err(SandboxError::NotRegularFile {
                kind: EntryKind::Symlink,
                ..
            }) => {}
            other => panic!("{path:?}: {other:?}"),
        }
    }
    for path in [
        "dir_link/secret.txt",
        "dir_link/new.txt",
        "abs_dir_link/new.txt",
        "chain_a/new.txt",
        "dir_link/sub/new.txt",
        "chain_a/dir/new.txt",
    ] {
        escapes(f.root.write(path, b"pwned", opts), path);
    }
    assert_eq!(f.outside_snapshot(), before);
    // A link is left as it was, still pointing where it pointed.
    assert_eq!(
        std::fs::read_link(f.root_path.join("rel_link")).unwrap(),
        Path::new("../outside/secret.txt")
    );
}

#[test]
fn listing_reports_links_without_following_them() {
    let f = Fixture::with_links();
    let listing = f.root.list(".", true).unwrap();
    assert!(!listing.truncated);
    for entry in &listing.entries {
        assert_names_inside(&f.root_path, &entry.path);
    }
    for link in OUT_LINKS.iter().chain(["inside_link"].iter()) {
        let entry = listing.entries.iter().find(|e| e.path == *link).unwrap();
        assert_eq!(entry.kind, EntryKind::Symlink, "{link}");
    }
    let paths: Vec<_> = listing.entries.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths
            .iter()
            .all(|p| !p.contains("secret.txt") && !p.contains("inner.txt")),
        "{paths:?}"
    );
    for path in ["dir_link", "abs_dir_link", "chain_a"] {
        escapes(f.root.list(path, true), path);
    }
    for path in THROUGH_LINKS {
        escapes(f.root.list(path, false), path);
    }
}

#[test]
fn search_never_follows_links_out() {
    let f = Fixture::with_links();
    let text = f
        .root
        .search(&SearchQuery {
            under: ".".into(),
            text: Some("needle".into()),
            ..SearchQuery::default()
        })
        .unwrap();
    let mut paths: Vec<_> = text.matches.iter().map(|m| m.path.as_str()).collect();
    paths.sort_unstable();
    assert_eq!(paths, ["a/b/deep.txt", "a/file.txt"], "{text:?}");
    for m in &text.matches {
        assert!(!m.text.as_deref().unwrap_or("").contains(SECRET));
    }
    let secret = f
        .root
        .search(&SearchQuery {
            under: ".".into(),
            text: Some(SECRET.into()),
            ..SearchQuery::default()
        })
        .unwrap();
    assert!(secret.matches.is_empty(), "{secret:?}");
    let glob = f
        .root
        .search(&SearchQuery {
            under: ".".into(),
            glob: Some("*.txt".into()),
            ..SearchQuery::default()
        })
        .unwrap();
    for m in &glob.matches {
        assert_names_inside(&f.root_path, &m.path);
        assert!(
            !m.path.contains("secret") && !m.path.contains("inner"),
            "{m:?}"
        );
    }
    for under in ["dir_link", "abs_dir_link", "chain_a"] {
        escapes(
            f.root.search(&SearchQuery {
                under: under.into(),
                text: Some("needle".into()),
                ..SearchQuery::default()
            }),
            under,
        );
    }
}

#[test]
fn deleting_links_removes_the_link_never_the_target() {
    let f = Fixture::with_links();
    let before = f.outside_snapshot();
    for path in THROUGH_LINKS {
        escapes(f.root.delete(path, true), path);
    }
    for path in OUT_LINKS {
        f.root.delete(path, true).unwrap();
        assert!(
            std::fs::symlink_metadata(f.root_path.join(path)).is_err(),
            "{path} gone"
        );
    }
    assert_eq!(f.outside_snapshot(), before);
}

#[test]
fn recursive_delete_of_a_tree_holding_links_out_keeps_the_outside() {
    let f = Fixture::with_links();
    std::fs::create_dir(f.root_path.join("a/links")).unwrap();
    std::os::unix::fs::symlink(&f.outside, f.root_path.join("a/links/abs")).unwrap();
    std::os::unix::fs::symlink("../../../outside", f.root_path.join("a/links/rel")).unwrap();
    let before = f.outside_snapshot();
    f.root.delete("a", true).unwrap();
    assert!(!f.root_path.join("a").exists());
    assert_eq!(f.outside_snapshot(), before);
}

#[test]
fn fifos_and_devices_are_refused_without_blocking() {
    let f = Fixture::plain();
    mkfifo(&f.root_path.join("fifo"));
    let has_device = mknod_zero(&f.root_path.join("zero"));
    let root = std::sync::Arc::new(f.root);
    let (tx, rx) = mpsc::channel();
    let worker = {
        let root = root.clone();
        std::thread::spawn(move || {
            let mut results = vec![("fifo", root.read("fifo"))];
            if has_device {
                results.push(("zero", root.read("zero")));
            }
            let opts = WriteOptions {
                create_dirs: false,
                overwrite: true,
            };
            let write = root.write("fifo", b"x", opts);
            let search = root.search(&SearchQuery {
                under: ".".into(),
                text: Some("needle".into()),
                ..SearchQuery::default()
            });
            tx.send((results, write, search)).unwrap();
        })
    };
    // A read that opened the fifo would block forever waiting for a writer.
    let (results, write, search) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("no blocking on a fifo");
    worker.join().unwrap();
    for (path, result) in results {
        match result {
            Err(SandboxError::NotRegularFile {
                kind: EntryKind::Other,
                path: p,
            }) => assert_eq!(p, path),
            other => panic!("{path}: {other:?}"),
        }
    }
    assert!(matches!(
        write,
        Err(SandboxError::NotRegularFile {
            kind: EntryKind::Other,
            ..
        })
    ));
    assert_eq!(search.unwrap().matches.len(), 2);
    let listing = root.list(".", false).unwrap();
    let fifo = listing.entries.iter().find(|e| e.path == "fifo").unwrap();
    assert_eq!(fifo.kind, EntryKind::Other);
    root.delete("fifo", false).unwrap();
    assert!(!f.root_path.join("fifo").exists());
}
