//! The cross-process writer lock of a registry directory, and the stamp
//! that tells a writer whether another process replaced the index since.

use std::{
    fs::{self, File, OpenOptions, TryLockError},
    io,
    path::Path,
    thread,
    time::{Duration, Instant, SystemTime},
};

use crate::{
    RegistryError,
    store::{io_error, replace_file},
};

/// The lock file of a registry directory; writers hold an exclusive lock on it.
pub const LOCK_FILE: &str = "writer.lock";

/// How long to sleep between attempts to take the lock.
const RETRY: Duration = Duration::from_millis(5);

/// Takes the exclusive writer lock of `dir`, waiting at most `wait`; the
/// lock lasts as long as the returned file is open.
pub(crate) fn acquire(dir: &Path, wait: Duration) -> Result<File, RegistryError> {
    let path = dir.join(LOCK_FILE);
    let file = open_lock_file(&path)?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if start.elapsed() < wait => thread::sleep(RETRY),
            Err(TryLockError::WouldBlock) => {
                return Err(RegistryError::Locked {
                    dir: dir.to_path_buf(),
                    waited: start.elapsed(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io_error("locking", &path)(e)),
        }
    }
}

/// Opens (making it if need be) a file that only serves to be locked; its
/// content is never read or written.
pub(crate) fn open_lock_file(path: &Path) -> Result<File, RegistryError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_error("opening the lock file", path))
}

/// Takes the writer lock of `dir` if no one holds it.
pub(crate) fn try_acquire(dir: &Path) -> Result<Option<File>, RegistryError> {
    acquire(dir, Duration::ZERO).map(Some).or_else(|e| match e {
        RegistryError::Locked { .. } => Ok(None),
        other => Err(other),
    })
}

/// The file holding the index's generation (decimal text): a counter that
/// every save and compaction increments under the writer lock, so that a
/// writer sees every save by another process even when the index file's
/// inode, size and modification time repeat. A registry without the file
/// (written before it existed) is at generation 0.
pub(crate) const GENERATION_FILE: &str = "index.generation";

/// The generation of the index of `dir` (0 when there is no generation file).
pub(crate) fn generation(dir: &Path) -> Result<u64, RegistryError> {
    let path = dir.join(GENERATION_FILE);
    match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse().map_err(|e| RegistryError::Io {
            action: "decoding the index generation in",
            path,
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_error("reading", &path)(e)),
    }
}

/// Increments the generation of `dir`; only under the writer lock, before
/// the index is replaced.
pub(crate) fn bump_generation(dir: &Path) -> Result<(), RegistryError> {
    let next = generation(dir)?.wrapping_add(1);
    replace_file(dir, GENERATION_FILE, next.to_string().as_bytes())
}

/// Identifies one version of the index: its generation, and the index
/// file's inode, size and modification time (which every save's rename
/// changes too, unless the inode is reused and the clock is coarse).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    file: Option<(u64, u64, Option<SystemTime>)>,
    generation: u64,
}

impl Stamp {
    /// The stamp of the index of `dir` now (no file part when it is absent).
    pub(crate) fn of(dir: &Path) -> Result<Self, RegistryError> {
        let generation = generation(dir)?;
        let file = fs::metadata(dir.join(crate::INDEX_FILE)).ok().map(|m| {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            (inode, m.len(), m.modified().ok())
        });
        Ok(Stamp { file, generation })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_refused_with_the_directory_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let held = acquire(dir.path(), Duration::ZERO).expect("first lock");
        let refused = acquire(dir.path(), Duration::from_millis(20)).expect_err("held");
        assert!(
            refused
                .to_string()
                .contains(&dir.path().display().to_string())
        );
        assert!(try_acquire(dir.path()).expect("no io error").is_none());
        drop(held);
        assert!(try_acquire(dir.path()).expect("no io error").is_some());
    }

    #[test]
    fn stamp_changes_when_the_index_is_replaced() {
        let dir = tempfile::tempdir().expect("temp dir");
        let none = Stamp::of(dir.path()).expect("stamp");
        fs::write(dir.path().join(crate::INDEX_FILE), b"one").expect("write");
        let one = Stamp::of(dir.path()).expect("stamp");
        assert_ne!(none, one);
        fs::write(dir.path().join("next"), b"three").expect("write");
        fs::rename(dir.path().join("next"), dir.path().join(crate::INDEX_FILE)).expect("rename");
        assert_ne!(one, Stamp::of(dir.path()).expect("stamp"));
    }

    #[test]
    fn the_generation_tells_apart_saves_whose_files_look_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let index = dir.path().join(crate::INDEX_FILE);
        fs::write(&index, b"same").expect("write");
        let before = Stamp::of(dir.path()).expect("stamp");
        assert_eq!(generation(dir.path()).expect("readable"), 0);

        // A save that reused the inode, kept the size and, on a coarse
        // clock, the modification time: only the generation moves.
        bump_generation(dir.path()).expect("bump");
        let modified = before.file.and_then(|(_, _, m)| m).expect("mtime");
        fs::write(&index, b"same").expect("rewrite");
        File::options()
            .write(true)
            .open(&index)
            .and_then(|f| f.set_modified(modified))
            .expect("restore mtime");
        let after = Stamp::of(dir.path()).expect("stamp");
        assert_eq!(before.file, after.file);
        assert_ne!(before, after);
        assert_eq!(generation(dir.path()).expect("readable"), 1);
    }

    #[test]
    fn an_unreadable_generation_is_refused_with_its_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::write(dir.path().join(GENERATION_FILE), b"seven").expect("write");
        let error = generation(dir.path()).expect_err("not a number");
        assert!(error.to_string().contains(GENERATION_FILE), "{error}");
    }
}
