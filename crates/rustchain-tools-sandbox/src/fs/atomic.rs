//! Atomic replacement of a file: a temporary file beside the target, written,
//! synced, then renamed over it. A guard removes the temporary file on every
//! path that does not end in the rename (errors and panics alike), so the old
//! content stays whole and nothing is left behind.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::{Dir, File, OpenOptions};

/// Marks temporary files so they are recognizable in a listing.
pub(crate) const TEMP_MARKER: &str = ".rustchain-tmp-";

/// Bytes of the target's name kept in the temporary name, so that the
/// temporary name stays under the 255-byte limit of a file name.
const NAME_PREFIX_BYTES: usize = 120;

/// How many taken temporary names `create` skips before it gives up.
const MAX_ATTEMPTS: u32 = 64;

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary file in `dir` that is removed when dropped, unless it was
/// renamed into place first.
pub(crate) struct TempFile<'a> {
    dir: &'a Dir,
    name: String,
    file: File,
    armed: bool,
}

impl<'a> TempFile<'a> {
    /// Creates a new temporary file for `target` in `dir`.
    pub(crate) fn create(dir: &'a Dir, target: &str) -> io::Result<Self> {
        let mut cut = target.len().min(NAME_PREFIX_BYTES);
        while !target.is_char_boundary(cut) {
            cut -= 1;
        }
        let stem = &target[..cut];
        let mut attempts = 0;
        loop {
            attempts += 1;
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let name = format!(".{stem}{TEMP_MARKER}{}-{n}", std::process::id());
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            match dir.open_with(&name, &options) {
                Ok(file) => {
                    return Ok(Self {
                        dir,
                        name,
                        file,
                        armed: true,
                    });
                }
                // A leftover of a killed process with the same pid: take the next number.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempts < MAX_ATTEMPTS => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// The open file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Copies `reader` into the file, failing once more than `cap` bytes came.
    /// Returns the number of bytes, or `Err(Ok(seen))` when over the cap.
    pub(crate) fn copy_capped(
        &mut self,
        reader: &mut dyn Read,
        cap: u64,
    ) -> Result<u64, Result<u64, io::Error>> {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total: u64 = 0;
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) => return Ok(total),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Err(e)),
            };
            total = total.saturating_add(n as u64);
            if total > cap {
                return Err(Ok(total));
            }
            self.file.write_all(&buf[..n]).map_err(Err)?;
        }
    }

    /// Syncs the file and renames it over `target`, replacing what is there.
    pub(crate) fn replace(mut self, target: &str) -> io::Result<()> {
        self.file.sync_all()?;
        self.dir.rename(&self.name, self.dir, target)?;
        self.armed = false;
        Ok(())
    }

    /// Syncs the file and links it at `target` only if nothing is there
    /// (`link` fails on an existing name, so no writer can clobber another).
    pub(crate) fn place_new(self, target: &str) -> io::Result<()> {
        self.file.sync_all()?;
        self.dir.hard_link(&self.name, self.dir, target)
        // Dropping `self` removes the temporary name; the target keeps the data.
    }
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if self.armed {
            // Nothing to report to in a drop: a failure here leaves one marked
            // temporary file, which the next listing shows.
            let _ = self.dir.remove_file(&self.name);
        }
    }
}
