//! A directory swapped for a symlink to the outside while reads, writes,
//! listings, searches and deletes run on another thread: nothing outside is
//! ever read, written, listed or deleted.

mod fs_common;

use std::os::unix::fs::symlink;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use fs_common::{Fixture, SECRET};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::fs::{SearchQuery, WriteOptions};

const SWAPS: usize = 5_000;
const INSIDE: &[u8] = b"INSIDE needle";

fn acceptable(e: &SandboxError) -> bool {
    matches!(
        e,
        SandboxError::PathEscapes { .. }
            | SandboxError::PathNotFound { .. }
            | SandboxError::NotDirectory { .. }
    )
}

#[test]
fn swapping_a_directory_for_a_link_out_never_reaches_the_outside() {
    let f = Fixture::plain();
    let d = f.root_path.join("d");
    let parked = f.root_path.join("d_parked");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("secret.txt"), INSIDE).unwrap();
    std::fs::write(d.join("victim.txt"), INSIDE).unwrap();
    let before = f.outside_snapshot();

    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        let (d, parked, outside) = (d.clone(), parked.clone(), f.outside.clone());
        std::thread::spawn(move || {
            for _ in 0..SWAPS {
                std::fs::rename(&d, &parked).unwrap();
                symlink(&outside, &d).unwrap();
                std::thread::yield_now();
                std::fs::remove_file(&d).unwrap();
                std::fs::rename(&parked, &d).unwrap();
                std::thread::yield_now();
            }
            stop.store(true, Ordering::SeqCst);
        })
    };

    let opts = WriteOptions {
        create_dirs: false,
        overwrite: true,
    };
    let query = SearchQuery {
        under: "d".into(),
        text: Some("needle".into()),
        ..SearchQuery::default()
    };
    let mut rounds = 0u32;
    let mut inside_reads = 0u32;
    let mut escaped_reads = 0u32;
    while !stop.load(Ordering::SeqCst) && rounds < 20_000 {
        rounds += 1;
        match f.root.read("d/secret.txt") {
            Ok(data) => {
                assert_eq!(
                    data, INSIDE,
                    "read returned something other than the inside file"
                );
                inside_reads += 1;
            }
            Err(e) => {
                assert!(acceptable(&e), "{e}");
                if matches!(e, SandboxError::PathEscapes { .. }) {
                    escaped_reads += 1;
                }
            }
        }
        if let Err(e) = f.root.write("d/written.txt", INSIDE, opts) {
            assert!(acceptable(&e), "{e}");
        }
        if let Err(e) = f.root.write("d/victim.txt", INSIDE, opts) {
            assert!(acceptable(&e), "{e}");
        }
        match f.root.list("d", true) {
            Ok(listing) => {
                // The outside holds `dir/` and `dir/inner.txt`, which `d` never does.
                for entry in listing.entries {
                    assert!(
                        ["d/secret.txt", "d/victim.txt", "d/written.txt"]
                            .contains(&entry.path.as_str()),
                        "{entry:?}"
                    );
                }
            }
            Err(e) => assert!(acceptable(&e), "{e}"),
        }
        match f.root.search(&query) {
            Ok(found) => {
                for m in found.matches {
                    assert!(!m.text.unwrap_or_default().contains(SECRET));
                }
            }
            Err(e) => assert!(acceptable(&e), "{e}"),
        }
        if rounds.is_multiple_of(4)
            && let Err(e) = f.root.delete("d/victim.txt", false)
        {
            assert!(acceptable(&e), "{e}");
        }
    }
    swapper.join().unwrap();
    eprintln!("{rounds} rounds: {inside_reads} reads inside, {escaped_reads} refused as escapes");
    assert_eq!(f.outside_snapshot(), before, "the outside changed");
    assert!(inside_reads > 0, "the loop never read the inside file");
}
