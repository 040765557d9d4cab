//! The cross-process writer lock of a registry directory, and the stamp
//! that tells a writer whether another process replaced the index since.

use std::{
    fs::{self, File, OpenOptions, TryLockError},
    path::Path,
    thread,
    time::{Duration, Instant, SystemTime},
};

use crate::{RegistryError, store::io_error};

/// The lock file of a registry directory; writers hold an exclusive lock on it.
pub const LOCK_FILE: &str = "writer.lock";

/// How long to sleep between attempts to take the lock.
const RETRY: Duration = Duration::from_millis(5);

/// Takes the exclusive writer lock of `dir`, waiting at most `wait`; the
/// lock lasts as long as the returned file is open.
pub(crate) fn acquire(dir: &Path, wait: Duration) -> Result<File, RegistryError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(io_error("opening the lock file", &path))?;
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

/// Takes the writer lock of `dir` if no one holds it.
pub(crate) fn try_acquire(dir: &Path) -> Result<Option<File>, RegistryError> {
    acquire(dir, Duration::ZERO).map(Some).or_else(|e| match e {
        RegistryError::Locked { .. } => Ok(None),
        other => Err(other),
    })
}

/// Identifies one version of the index file: every save renames a new file
/// over it, which changes its inode, size or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(Option<(u64, u64, Option<SystemTime>)>);

impl Stamp {
    /// The stamp of the index file in `dir` now (`None` inside when absent).
    pub(crate) fn of(dir: &Path) -> Self {
        Stamp(fs::metadata(dir.join(crate::INDEX_FILE)).ok().map(|m| {
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&m);
            #[cfg(not(unix))]
            let inode = 0;
            (inode, m.len(), m.modified().ok())
        }))
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
        let none = Stamp::of(dir.path());
        fs::write(dir.path().join(crate::INDEX_FILE), b"one").expect("write");
        let one = Stamp::of(dir.path());
        assert_ne!(none, one);
        fs::write(dir.path().join("next"), b"three").expect("write");
        fs::rename(dir.path().join("next"), dir.path().join(crate::INDEX_FILE)).expect("rename");
        assert_ne!(one, Stamp::of(dir.path()));
    }
}
