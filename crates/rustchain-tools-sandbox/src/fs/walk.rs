//! A depth-first walk over directory handles that never follows a symlink.
//!
//! Each level holds its own `Dir`, and subdirectories are opened from it with
//! `open_dir_nofollow`, so a directory swapped for a symlink between the
//! listing and the descent is refused rather than followed. Open handles grow
//! with depth, not with the number of directories.

use std::ffi::OsStr;
use std::io;

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, ReadDir};

use super::EntryKind;

/// One entry met by the walk.
pub(crate) struct Visit<'a> {
    /// The directory holding the entry, to open it from without following links.
    pub(crate) parent: &'a Dir,
    /// The entry's own name.
    pub(crate) name: &'a OsStr,
    /// The root-relative, `/`-separated path.
    pub(crate) path: String,
    /// What the entry is, not following symlinks.
    pub(crate) kind: EntryKind,
    /// The size of a regular file, 0 for everything else.
    pub(crate) size: u64,
}

/// Whether the walk goes on.
pub(crate) enum Flow {
    Continue,
    Stop,
}

struct Frame {
    dir: Dir,
    entries: ReadDir,
    prefix: String,
}

/// Walks `start` (whose root-relative path is `prefix`), calling `visit` for
/// every entry; descends into subdirectories when `recursive`. Returns how
/// many subdirectories were skipped because they could not be opened
/// (permissions), so that one such directory does not end the whole walk.
pub(crate) fn walk(
    start: Dir,
    prefix: String,
    recursive: bool,
    mut visit: impl FnMut(Visit<'_>) -> Flow,
) -> io::Result<u64> {
    let entries = start.entries()?;
    let mut stack = vec![Frame {
        dir: start,
        entries,
        prefix,
    }];
    let mut unreadable = 0u64;
    while let Some(frame) = stack.last_mut() {
        let Some(entry) = frame.entries.next() else {
            stack.pop();
            continue;
        };
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(e),
        };
        let name = entry.file_name();
        // An entry removed since the directory was read is skipped, not an error.
        let file_type = match entry.file_type() {
            Ok(t) => t,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(e),
        };
        let kind = EntryKind::from_file_type(file_type);
        let size = if kind == EntryKind::File {
            match entry.metadata() {
                Ok(m) => m.len(),
                Err(e) if vanished(&e) => continue,
                Err(e) => return Err(e),
            }
        } else {
            0
        };
        let path = join(&frame.prefix, &name);
        let descend = recursive && kind == EntryKind::Dir;
        let flow = visit(Visit {
            parent: &frame.dir,
            name: &name,
            path: path.clone(),
            kind,
            size,
        });
        if let Flow::Stop = flow {
            return Ok(unreadable);
        }
        if descend {
            let opened = frame
                .dir
                .open_dir_nofollow(&name)
                .and_then(|sub| sub.entries().map(|entries| (sub, entries)));
            let (sub, entries) = match opened {
                Ok(opened) => opened,
                // Removed or swapped for a symlink since it was listed: not followed.
                Err(e) if vanished(&e) || swapped(&e) => continue,
                Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
                    unreadable += 1;
                    continue;
                }
                Err(e) => return Err(e),
            };
            stack.push(Frame {
                dir: sub,
                entries,
                prefix: path,
            });
        }
    }
    Ok(unreadable)
}

fn join(prefix: &str, name: &OsStr) -> String {
    let name = name.to_string_lossy();
    if prefix.is_empty() {
        name.into_owned()
    } else {
        format!("{prefix}/{name}")
    }
}

fn vanished(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

/// The errors `open_dir_nofollow` gives when the name is no longer a directory.
fn swapped(e: &io::Error) -> bool {
    super::is_escape(e)
        || matches!(
            e.raw_os_error(),
            Some(libc::ELOOP) | Some(libc::ENOTDIR) | Some(libc::EMLINK)
        )
}
