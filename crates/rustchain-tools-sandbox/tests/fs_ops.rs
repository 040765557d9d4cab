//! What each operation does inside the root: listing, search by glob and
//! text, caps, deletes and their errors.

mod fs_common;

use std::os::unix::fs::symlink;

use fs_common::Fixture;
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::fs::{
    EntryKind, FsLimits, MAX_MATCH_LINE_CHARS, SearchQuery, WriteOptions,
};

fn text(under: &str, needle: &str) -> SearchQuery {
    SearchQuery {
        under: under.into(),
        text: Some(needle.into()),
        ..SearchQuery::default()
    }
}

fn glob(pattern: &str) -> SearchQuery {
    SearchQuery {
        glob: Some(pattern.into()),
        ..SearchQuery::default()
    }
}

#[test]
fn list_reports_kinds_sizes_and_relative_paths() {
    let f = Fixture::plain();
    symlink("a/file.txt", f.root_path.join("link")).unwrap();
    let flat = f.root.list(".", false).unwrap();
    let paths: Vec<_> = flat.entries.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a", "link"]);
    let deep = f.root.list("a", true).unwrap();
    let got: Vec<_> = deep
        .entries
        .iter()
        .map(|e| (e.path.as_str(), e.kind, e.size))
        .collect();
    assert_eq!(
        got,
        [
            ("a/b", EntryKind::Dir, 0),
            ("a/b/deep.txt", EntryKind::File, 12),
            ("a/file.txt", EntryKind::File, 21),
        ]
    );
    assert_eq!(flat.entries[1].kind, EntryKind::Symlink);
    assert!(matches!(
        f.root.list("a/file.txt", false),
        Err(SandboxError::NotDirectory { .. })
    ));
    assert!(matches!(
        f.root.list("missing", false),
        Err(SandboxError::PathNotFound { .. })
    ));
}

#[test]
fn list_stops_at_the_cap_and_says_so() {
    let f = Fixture::with_limits(FsLimits {
        max_list_entries: 3,
        ..FsLimits::default()
    });
    for i in 0..10 {
        std::fs::write(f.root_path.join(format!("f{i}")), "x").unwrap();
    }
    let listing = f.root.list(".", true).unwrap();
    assert_eq!(listing.entries.len(), 3);
    assert!(listing.truncated);
}

#[test]
fn glob_without_slash_matches_names_at_any_depth_and_with_slash_paths() {
    let f = Fixture::plain();
    let mut by_name: Vec<_> = f
        .root
        .search(&glob("*.txt"))
        .unwrap()
        .matches
        .into_iter()
        .map(|m| m.path)
        .collect();
    by_name.sort();
    assert_eq!(by_name, ["a/b/deep.txt", "a/file.txt"]);
    let by_path = f.root.search(&glob("a/*.txt")).unwrap().matches;
    assert_eq!(by_path.len(), 1);
    assert_eq!(by_path[0].path, "a/file.txt");
    let under = f
        .root
        .search(&SearchQuery {
            under: "a".into(),
            glob: Some("b/*".into()),
            ..SearchQuery::default()
        })
        .unwrap()
        .matches;
    assert_eq!(under.len(), 1);
    assert_eq!(under[0].path, "a/b/deep.txt");
    assert!(matches!(
        f.root.search(&glob("a/[")),
        Err(SandboxError::InvalidSearch { .. })
    ));
}

#[test]
fn text_search_reports_lines_and_skips_binary_and_large_files() {
    let f = Fixture::with_limits(FsLimits {
        max_search_file_bytes: 5000,
        ..FsLimits::default()
    });
    std::fs::write(f.root_path.join("bin"), b"needle\0binary").unwrap();
    std::fs::write(f.root_path.join("big"), "needle\n".repeat(1000)).unwrap();
    let long = format!("needle {}\r\n", "é".repeat(1000));
    std::fs::write(f.root_path.join("long.txt"), &long).unwrap();
    let found = f.root.search(&text(".", "needle")).unwrap();
    assert_eq!(found.skipped_binary, 1);
    assert_eq!(found.skipped_too_large, 1);
    let mut hits: Vec<_> = found
        .matches
        .iter()
        .map(|m| (m.path.as_str(), m.line))
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        [
            ("a/b/deep.txt", Some(1)),
            ("a/file.txt", Some(2)),
            ("long.txt", Some(1))
        ]
    );
    let long_hit = found.matches.iter().find(|m| m.path == "long.txt").unwrap();
    let line = long_hit.text.as_deref().unwrap();
    assert_eq!(line.chars().count(), MAX_MATCH_LINE_CHARS);
    assert!(!line.ends_with('\r'));
    let glob_and_text = f
        .root
        .search(&SearchQuery {
            glob: Some("deep.*".into()),
            text: Some("needle".into()),
            ..SearchQuery::default()
        })
        .unwrap();
    assert_eq!(glob_and_text.matches.len(), 1);
}

#[test]
fn search_honours_limit_and_refuses_empty_queries() {
    let f = Fixture::plain();
    for i in 0..20 {
        std::fs::write(f.root_path.join(format!("n{i}.txt")), "needle\nneedle\n").unwrap();
    }
    let limited = f
        .root
        .search(&SearchQuery {
            limit: Some(5),
            ..text(".", "needle")
        })
        .unwrap();
    assert_eq!(limited.matches.len(), 5);
    assert!(limited.truncated);
    assert!(matches!(
        f.root.search(&SearchQuery::default()),
        Err(SandboxError::InvalidSearch { .. })
    ));
    assert!(matches!(
        f.root.search(&text(".", "")),
        Err(SandboxError::InvalidSearch { .. })
    ));
    assert!(matches!(
        f.root.search(&text("a/file.txt", "x")),
        Err(SandboxError::NotDirectory { .. })
    ));
}

#[test]
fn delete_distinguishes_files_empty_and_full_directories() {
    let f = Fixture::plain();
    assert!(matches!(
        f.root.delete("a", false),
        Err(SandboxError::DirectoryNotEmpty { .. })
    ));
    f.root.delete("a/b/deep.txt", false).unwrap();
    f.root.delete("a/b", false).unwrap();
    assert!(!f.root_path.join("a/b").exists());
    f.root.delete("a", true).unwrap();
    assert!(!f.root_path.join("a").exists());
    assert!(matches!(
        f.root.delete("a", true),
        Err(SandboxError::PathNotFound { .. })
    ));
}

#[test]
fn symlink_loops_fail_cleanly() {
    let f = Fixture::plain();
    symlink("loop_b", f.root_path.join("loop_a")).unwrap();
    symlink("loop_a", f.root_path.join("loop_b")).unwrap();
    let err = f.root.read("loop_a").unwrap_err();
    assert!(!err.to_string().is_empty());
    let opts = WriteOptions {
        create_dirs: true,
        overwrite: true,
    };
    assert!(f.root.write("loop_a/x", b"x", opts).is_err());
    assert!(f.root.list(".", true).is_ok());
    f.root.delete("loop_a", false).unwrap();
    assert!(f.root_path.join("loop_b").symlink_metadata().is_ok());
}

#[test]
fn write_creates_parents_only_when_asked() {
    let f = Fixture::plain();
    let plain = WriteOptions::default();
    assert!(matches!(
        f.root.write("x/y/z.txt", b"z", plain),
        Err(SandboxError::PathNotFound { .. })
    ));
    assert!(matches!(
        f.root.write("a/file.txt/z.txt", b"z", plain),
        Err(SandboxError::NotDirectory { .. })
    ));
    assert!(matches!(
        f.root.write(
            "a",
            b"z",
            WriteOptions {
                create_dirs: false,
                overwrite: true
            }
        ),
        Err(SandboxError::NotRegularFile {
            kind: EntryKind::Dir,
            ..
        })
    ));
    let created = WriteOptions {
        create_dirs: true,
        overwrite: false,
    };
    assert_eq!(f.root.write("x/y/z.txt", b"z", created).unwrap(), 1);
    assert_eq!(std::fs::read(f.root_path.join("x/y/z.txt")).unwrap(), b"z");
}
