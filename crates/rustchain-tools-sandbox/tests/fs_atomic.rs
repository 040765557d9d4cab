//! Atomic writes: a write that fails mid-way (reader error, over the cap,
//! panic) leaves the old content whole and no temporary file; concurrent
//! writers leave exactly one whole version, and readers never see a torn one.

mod fs_common;

use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;

use fs_common::{Fixture, leftover_temps};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::fs::{FsLimits, WriteOptions};

const OVERWRITE: WriteOptions = WriteOptions {
    create_dirs: true,
    overwrite: true,
};
const OLD: &[u8] = b"old content, whole\n";

/// Yields `good` bytes, then fails (or panics).
struct Failing {
    good: usize,
    panic: bool,
}

impl Read for Failing {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.good == 0 {
            if self.panic {
                panic!("reader panicked mid-write");
            }
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.good).min(1000);
        buf[..n].fill(b'n');
        self.good -= n;
        Ok(n)
    }
}

fn fixture_with_old(limits: FsLimits) -> Fixture {
    let f = Fixture::with_limits(limits);
    f.root.write("doc.txt", OLD, OVERWRITE).unwrap();
    f
}

#[test]
fn a_reader_error_mid_way_keeps_the_old_content() {
    let f = fixture_with_old(FsLimits::default());
    let err = f
        .root
        .write_from(
            "doc.txt",
            &mut Failing {
                good: 5_000,
                panic: false,
            },
            OVERWRITE,
        )
        .unwrap_err();
    assert!(
        matches!(err, SandboxError::FsIo { op: "write", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("disk on fire"));
    assert_eq!(f.root.read("doc.txt").unwrap(), OLD);
    assert!(leftover_temps(&f.root_path).is_empty());
}

#[test]
fn a_panic_mid_way_keeps_the_old_content_and_removes_the_temporary() {
    let f = fixture_with_old(FsLimits::default());
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        f.root.write_from(
            "doc.txt",
            &mut Failing {
                good: 70_000,
                panic: true,
            },
            OVERWRITE,
        )
    }));
    assert!(outcome.is_err(), "the panic came through");
    assert_eq!(f.root.read("doc.txt").unwrap(), OLD);
    assert!(leftover_temps(&f.root_path).is_empty());
}

#[test]
fn passing_the_cap_mid_stream_keeps_the_old_content() {
    let limits = FsLimits {
        max_write_bytes: 10_000,
        ..FsLimits::default()
    };
    let f = fixture_with_old(limits);
    let err = f
        .root
        .write_from("doc.txt", &mut io::repeat(b'x').take(50_000), OVERWRITE)
        .unwrap_err();
    match &err {
        SandboxError::FileTooLarge {
            path,
            size,
            limit,
            cap,
        } => {
            assert_eq!(path, "doc.txt");
            assert!(*size > 10_000);
            assert_eq!(*limit, "max_write_bytes");
            assert_eq!(*cap, 10_000);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("10000"), "{err}");
    assert_eq!(f.root.read("doc.txt").unwrap(), OLD);
    assert!(leftover_temps(&f.root_path).is_empty());

    let err = f
        .root
        .write("doc.txt", &[b'y'; 10_001], OVERWRITE)
        .unwrap_err();
    assert!(
        matches!(err, SandboxError::FileTooLarge { size: 10_001, .. }),
        "{err}"
    );
    assert_eq!(
        f.root.write("doc.txt", &[b'y'; 10_000], OVERWRITE).unwrap(),
        10_000
    );
}

#[test]
fn read_cap_names_size_and_cap() {
    let limits = FsLimits {
        max_read_bytes: 10,
        ..FsLimits::default()
    };
    let f = fixture_with_old(limits);
    let err = f.root.read("doc.txt").unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&OLD.len().to_string())
            && msg.contains("10")
            && msg.contains("max_read_bytes"),
        "{msg}"
    );
}

#[test]
fn without_overwrite_an_existing_file_is_kept() {
    let f = fixture_with_old(FsLimits::default());
    let opts = WriteOptions {
        create_dirs: false,
        overwrite: false,
    };
    let err = f.root.write("doc.txt", b"new", opts).unwrap_err();
    assert!(matches!(err, SandboxError::PathExists { .. }), "{err}");
    assert_eq!(f.root.read("doc.txt").unwrap(), OLD);
    f.root.write("fresh.txt", b"new", opts).unwrap();
    assert_eq!(f.root.read("fresh.txt").unwrap(), b"new");
    assert!(matches!(
        f.root.write("missing/dir/x.txt", b"new", opts),
        Err(SandboxError::PathNotFound { .. })
    ));
    assert!(leftover_temps(&f.root_path).is_empty());
}

#[test]
fn overwrite_keeps_the_permissions() {
    let f = fixture_with_old(FsLimits::default());
    let path = f.root_path.join("doc.txt");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    f.root.write("doc.txt", b"new", OVERWRITE).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

#[test]
fn concurrent_writers_leave_one_whole_version() {
    let f = fixture_with_old(FsLimits::default());
    let root = Arc::new(f.root);
    let versions: Vec<Vec<u8>> = (0..6u8).map(|i| vec![b'a' + i; 200_000]).collect();
    let writers: Vec<_> = versions
        .iter()
        .cloned()
        .map(|content| {
            let root = root.clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    root.write("doc.txt", &content, OVERWRITE).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let (root, versions) = (root.clone(), versions.clone());
        std::thread::spawn(move || {
            for _ in 0..200 {
                let data = root.read("doc.txt").unwrap();
                assert!(
                    data == OLD || versions.contains(&data),
                    "a torn read of {} bytes",
                    data.len()
                );
            }
        })
    };
    for w in writers {
        w.join().unwrap();
    }
    reader.join().unwrap();
    let last = root.read("doc.txt").unwrap();
    assert!(versions.contains(&last));
    assert!(leftover_temps(&f.root_path).is_empty());
}

#[test]
fn concurrent_creators_without_overwrite_have_one_winner() {
    let f = Fixture::plain();
    let root = Arc::new(f.root);
    let handles: Vec<_> = (0..8u8)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                let opts = WriteOptions {
                    create_dirs: true,
                    overwrite: false,
                };
                root.write("new/once.txt", &[b'0' + i; 4096], opts)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let winners = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(winners, 1, "{results:?}");
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Ok(4096) | Err(SandboxError::PathExists { .. })))
    );
    let data = root.read("new/once.txt").unwrap();
    assert!(data.iter().all(|b| *b == data[0]) && data.len() == 4096);
    assert!(leftover_temps(&f.root_path).is_empty());
}
