//! Files confined to one root directory.
//!
//! [`FsRoot`] opens its root once, with ambient authority, as a
//! [`cap_std::fs::Dir`]; every later operation resolves paths through that
//! handle only. Paths are first checked as strings (see [`PathRule`]); then
//! cap-std refuses any path that would leave the root at open time, through
//! `..` in a symlink, an absolute symlink, or a directory swapped for a
//! symlink while an operation runs, and that refusal becomes
//! [`SandboxError::PathEscapes`]. Listing, search and delete never follow a
//! symlink at all; read and write follow one only while it stays inside.
//!
//! The API is synchronous: async callers run it in `spawn_blocking`.
//!
//! ```
//! use rustchain_tools_sandbox::fs::{FsLimits, FsRoot, WriteOptions};
//!
//! let dir = tempfile::tempdir()?;
//! let root = FsRoot::open(dir.path(), FsLimits::default())?;
//! root.write("notes/today.txt", b"hello\n", WriteOptions { create_dirs: true, overwrite: false })?;
//! assert_eq!(root.read("notes/today.txt")?, b"hello\n");
//! assert!(root.read("../etc/passwd").is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Limit of the approach: a handle already opened inside the root stays
//! valid if something outside the sandbox moves that directory out of the
//! root meanwhile; the sandboxed caller itself cannot do that.

mod atomic;
mod path;
mod walk;

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use cap_fs_ext::{DirExt, FollowSymlinks, OpenOptionsFollowExt};
use cap_std::ambient_authority;
use cap_std::fs::{Dir, File, FileType, Metadata, OpenOptions, OpenOptionsExt};
use globset::{GlobBuilder, GlobMatcher};
use serde::{Deserialize, Serialize};

use crate::SandboxError;

use path::RelPath;
pub use path::{MAX_PATH_BYTES, PathRule};
use walk::{Flow, Visit, walk};

/// The longest line text a search match carries, in characters.
pub const MAX_MATCH_LINE_CHARS: usize = 400;

/// The caps every operation of an [`FsRoot`] keeps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FsLimits {
    /// The largest file `read` returns, in bytes.
    pub max_read_bytes: u64,
    /// The largest content `write` accepts, in bytes.
    pub max_write_bytes: u64,
    /// The most entries one `list` returns.
    pub max_list_entries: usize,
    /// The most matches one `search` returns.
    pub max_search_results: usize,
    /// Files larger than this are skipped by a text search, in bytes.
    pub max_search_file_bytes: u64,
    /// The most entries one `search` looks at before it stops.
    pub max_search_entries: usize,
}

impl Default for FsLimits {
    fn default() -> Self {
        Self {
            max_read_bytes: 10 * 1024 * 1024,
            max_write_bytes: 10 * 1024 * 1024,
            max_list_entries: 10_000,
            max_search_results: 1_000,
            max_search_file_bytes: 1024 * 1024,
            max_search_entries: 100_000,
        }
    }
}

/// How `write` treats missing directories and an existing file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct WriteOptions {
    /// Create missing parent directories.
    pub create_dirs: bool,
    /// Replace an existing file; without it an existing file is an error.
    pub overwrite: bool,
}

/// What a directory entry is, not following symlinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (reported, never followed).
    Symlink,
    /// A device, fifo or socket.
    Other,
}

impl EntryKind {
    fn from_file_type(t: FileType) -> Self {
        if t.is_symlink() {
            Self::Symlink
        } else if t.is_dir() {
            Self::Dir
        } else if t.is_file() {
            Self::File
        } else {
            Self::Other
        }
    }
}

impl std::fmt::Display for EntryKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::File => "regular file",
            Self::Dir => "directory",
            Self::Symlink => "symlink",
            Self::Other => "device, fifo or socket",
        })
    }
}

/// One entry of a listing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Entry {
    /// The path relative to the root, `/`-separated (names that are not
    /// UTF-8 are shown lossily).
    pub path: String,
    /// What it is.
    pub kind: EntryKind,
    /// The size of a regular file in bytes; 0 for everything else.
    pub size: u64,
}

/// The result of `list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Listing {
    /// The entries, sorted by path.
    pub entries: Vec<Entry>,
    /// Whether `max_list_entries` cut the listing short.
    pub truncated: bool,
    /// Subdirectories not descended into because they could not be opened.
    pub skipped_unreadable: u64,
}

/// What to search for: a glob on paths, a text in lines, or both.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SearchQuery {
    /// The directory to search under, relative to the root (empty or `.`
    /// for the root).
    pub under: String,
    /// A glob (`*.rs`, `src/**/*.rs`). Without a `/` it matches file names
    /// at any depth; with one, the path relative to `under`.
    pub glob: Option<String>,
    /// A plain substring, matched line by line in text files.
    pub text: Option<String>,
    /// The most matches wanted; capped by `max_search_results`.
    pub limit: Option<usize>,
}

/// One search hit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchMatch {
    /// The path relative to the root, `/`-separated.
    pub path: String,
    /// The 1-based line number, for a text match.
    pub line: Option<u64>,
    /// The matching line (without its line end, cut to
    /// [`MAX_MATCH_LINE_CHARS`] characters), for a text match.
    pub text: Option<String>,
}

/// The result of `search`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SearchResults {
    /// The matches, in walk order.
    pub matches: Vec<SearchMatch>,
    /// Whether the limit or `max_search_entries` stopped the search early.
    pub truncated: bool,
    /// Files a text search skipped because they hold a NUL byte.
    pub skipped_binary: u64,
    /// Files a text search skipped for being over `max_search_file_bytes`.
    pub skipped_too_large: u64,
    /// Files a text search could not open or read, and directories that
    /// could not be opened (vanished, permissions).
    pub skipped_unreadable: u64,
}

/// A directory that file operations are confined to.
#[derive(Debug)]
pub struct FsRoot {
    dir: Dir,
    root: PathBuf,
    limits: FsLimits,
}

impl FsRoot {
    /// Opens `root` (the one use of ambient authority) with `limits`.
    pub fn open(root: impl AsRef<Path>, limits: FsLimits) -> Result<Self, SandboxError> {
        let root = root.as_ref().to_path_buf();
        let dir = Dir::open_ambient_dir(&root, ambient_authority()).map_err(|source| {
            SandboxError::RootOpen {
                root: root.clone(),
                source,
            }
        })?;
        Ok(Self { dir, root, limits })
    }

    /// The root directory as it was opened.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The limits in force.
    pub fn limits(&self) -> &FsLimits {
        &self.limits
    }

    /// Reads a whole regular file. Directories, devices, fifos and sockets
    /// are refused without being read; so is a file over `max_read_bytes`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, SandboxError> {
        let rel = RelPath::parse(path)?;
        let fail = |e| map_io("read", path, e);
        // Checked before opening, so that a device or fifo is never opened.
        let meta = self.dir.metadata(rel.to_path()).map_err(fail)?;
        self.check_readable(path, &meta)?;
        let file = self
            .dir
            .open_with(rel.to_path(), &read_options())
            .map_err(fail)?;
        // Checked again on the open file: the path may have changed in between.
        let meta = file.metadata().map_err(fail)?;
        self.check_readable(path, &meta)?;
        let cap = self.limits.max_read_bytes;
        let data = read_capped(file, meta.len(), cap).map_err(fail)?;
        if data.len() as u64 > cap {
            return Err(too_large(path, data.len() as u64, "max_read_bytes", cap));
        }
        Ok(data)
    }

    fn check_readable(&self, path: &str, meta: &Metadata) -> Result<(), SandboxError> {
        let kind = EntryKind::from_file_type(meta.file_type());
        if kind != EntryKind::File {
            return Err(SandboxError::NotRegularFile {
                path: path.to_owned(),
                kind,
            });
        }
        let cap = self.limits.max_read_bytes;
        if meta.len() > cap {
            return Err(too_large(path, meta.len(), "max_read_bytes", cap));
        }
        Ok(())
    }

    /// Writes `bytes` to a regular file atomically; returns the bytes written.
    /// See [`FsRoot::write_from`].
    pub fn write(
        &self,
        path: &str,
        bytes: &[u8],
        options: WriteOptions,
    ) -> Result<u64, SandboxError> {
        let cap = self.limits.max_write_bytes;
        if bytes.len() as u64 > cap {
            RelPath::parse(path)?;
            return Err(too_large(path, bytes.len() as u64, "max_write_bytes", cap));
        }
        self.write_from(path, &mut &bytes[..], options)
    }

    /// Writes what `reader` yields to a regular file atomically: into a
    /// temporary file beside it, synced, then renamed over it. If the reader
    /// fails or passes `max_write_bytes`, or anything else fails (or panics)
    /// before the rename, the old content stays whole and the temporary file
    /// is removed. A symlink, directory or special file at `path` is refused.
    pub fn write_from(
        &self,
        path: &str,
        reader: &mut dyn Read,
        options: WriteOptions,
    ) -> Result<u64, SandboxError> {
        let rel = RelPath::parse(path)?;
        let fail = |e| map_io("write", path, e);
        let Some((parent, name)) = rel.split_last() else {
            return Err(SandboxError::NotRegularFile {
                path: path.to_owned(),
                kind: EntryKind::Dir,
            });
        };
        if options.create_dirs && !parent.is_root() {
            match self.dir.create_dir_all(parent.to_path()) {
                // Something that is not a directory is in the way (a symlink
                // out, a file): opening the parent below names it precisely.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                other => other.map_err(fail)?,
            }
        }
        let dir = self.dir.open_dir(parent.to_path()).map_err(fail)?;
        let existing = match dir.symlink_metadata(name) {
            Ok(meta) => Some(meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(fail(e)),
        };
        if let Some(meta) = &existing {
            let kind = EntryKind::from_file_type(meta.file_type());
            if kind != EntryKind::File {
                return Err(SandboxError::NotRegularFile {
                    path: path.to_owned(),
                    kind,
                });
            }
            if !options.overwrite {
                return Err(SandboxError::PathExists {
                    path: path.to_owned(),
                });
            }
        }
        let mut temp = atomic::TempFile::create(&dir, name).map_err(fail)?;
        if let Some(meta) = &existing {
            // The replacement keeps the permissions of the file it replaces.
            temp.file()
                .set_permissions(meta.permissions())
                .map_err(fail)?;
        }
        let cap = self.limits.max_write_bytes;
        let written = match temp.copy_capped(reader, cap) {
            Ok(n) => n,
            Err(Ok(seen)) => return Err(too_large(path, seen, "max_write_bytes", cap)),
            Err(Err(e)) => return Err(fail(e)),
        };
        if options.overwrite {
            temp.replace(name).map_err(fail)?;
        } else {
            temp.place_new(name).map_err(fail)?;
        }
        // Makes the rename itself durable. The data is already in place, so a
        // file system that refuses to sync a directory does not turn a
        // finished write into an error.
        let _ = sync_dir(&dir);
        Ok(written)
    }

    /// Lists a directory, or its whole tree when `recursive`, without
    /// following symlinks; at most `max_list_entries` entries.
    pub fn list(&self, path: &str, recursive: bool) -> Result<Listing, SandboxError> {
        let rel = RelPath::parse(path)?;
        let start = self.open_start("list", path, &rel)?;
        let cap = self.limits.max_list_entries;
        let mut entries = Vec::new();
        let mut truncated = false;
        let skipped_unreadable = walk(start, rel.display(), recursive, |v: Visit<'_>| {
            if entries.len() >= cap {
                truncated = true;
                return Flow::Stop;
            }
            entries.push(Entry {
                path: v.path,
                kind: v.kind,
                size: v.size,
            });
            Flow::Continue
        })
        .map_err(|e| map_io("list", path, e))?;
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Listing {
            entries,
            truncated,
            skipped_unreadable,
        })
    }

    /// Searches the tree under `query.under` by glob, by text, or both,
    /// without following symlinks. A glob alone reports every entry whose
    /// path matches (files, directories, symlinks). A text search reads
    /// regular files only, skipping binary files (any NUL byte) and files
    /// over `max_search_file_bytes`, and matches the text within one line;
    /// invalid UTF-8 is compared as its lossy decoding.
    pub fn search(&self, query: &SearchQuery) -> Result<SearchResults, SandboxError> {
        let under = if query.under.is_empty() {
            "."
        } else {
            query.under.as_str()
        };
        let rel = RelPath::parse(under)?;
        let glob = match &query.glob {
            Some(g) => Some(compile_glob(g)?),
            None => None,
        };
        let text = match query.text.as_deref() {
            Some("") => {
                return Err(SandboxError::InvalidSearch {
                    reason: "the text to search for is empty".to_owned(),
                });
            }
            other => other,
        };
        if glob.is_none() && text.is_none() {
            return Err(SandboxError::InvalidSearch {
                reason: "give a glob, a text, or both".to_owned(),
            });
        }
        let limit = query
            .limit
            .unwrap_or(self.limits.max_search_results)
            .min(self.limits.max_search_results);
        let start = self.open_start("search", under, &rel)?;
        let base = rel.display();
        let mut out = SearchResults::default();
        let mut seen = 0usize;
        let unreadable_dirs = walk(start, base.clone(), true, |v: Visit<'_>| {
            seen += 1;
            if seen > self.limits.max_search_entries || out.matches.len() >= limit {
                out.truncated = true;
                return Flow::Stop;
            }
            if let Some(glob) = &glob
                && !glob.is_match(&v.path, &base)
            {
                return Flow::Continue;
            }
            let Some(text) = text else {
                out.matches.push(SearchMatch {
                    path: v.path,
                    line: None,
                    text: None,
                });
                return Flow::Continue;
            };
            if v.kind != EntryKind::File {
                return Flow::Continue;
            }
            if v.size > self.limits.max_search_file_bytes {
                out.skipped_too_large += 1;
                return Flow::Continue;
            }
            let data = match self.read_for_search(&v) {
                Ok(Some(data)) => data,
                Ok(None) => {
                    out.skipped_too_large += 1;
                    return Flow::Continue;
                }
                Err(_) => {
                    out.skipped_unreadable += 1;
                    return Flow::Continue;
                }
            };
            if data.contains(&0) {
                out.skipped_binary += 1;
                return Flow::Continue;
            }
            let content = String::from_utf8_lossy(&data);
            for (i, line) in content.split('\n').enumerate() {
                if !line.contains(text) {
                    continue;
                }
                if out.matches.len() >= limit {
                    out.truncated = true;
                    return Flow::Stop;
                }
                let line = line.strip_suffix('\r').unwrap_or(line);
                out.matches.push(SearchMatch {
                    path: v.path.clone(),
                    line: Some(i as u64 + 1),
                    text: Some(line.chars().take(MAX_MATCH_LINE_CHARS).collect()),
                });
            }
            Flow::Continue
        })
        .map_err(|e| map_io("search", under, e))?;
        out.skipped_unreadable += unreadable_dirs;
        Ok(out)
    }

    /// Reads a file met by a walk from its own directory, not following a
    /// symlink; `None` when it grew over the cap since it was listed.
    fn read_for_search(&self, v: &Visit<'_>) -> io::Result<Option<Vec<u8>>> {
        let mut options = read_options();
        options.follow(FollowSymlinks::No);
        let file = v.parent.open_with(v.name, &options)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no longer a regular file",
            ));
        }
        let cap = self.limits.max_search_file_bytes;
        let data = read_capped(file, meta.len(), cap)?;
        Ok((data.len() as u64 <= cap).then_some(data))
    }

    /// Deletes a file, a symlink (the link, never its target), an empty
    /// directory, or with `recursive` a directory and everything in it
    /// (symlinks inside are removed, not followed). The root is refused.
    pub fn delete(&self, path: &str, recursive: bool) -> Result<(), SandboxError> {
        let rel = RelPath::parse(path)?;
        if rel.is_root() {
            return Err(SandboxError::RootDelete {
                path: path.to_owned(),
            });
        }
        let fail = |e| map_io("delete", path, e);
        let target = rel.to_path();
        let meta = self.dir.symlink_metadata(&target).map_err(fail)?;
        if meta.is_dir() {
            let result = if recursive {
                self.dir.remove_dir_all(&target)
            } else {
                self.dir.remove_dir(&target)
            };
            result.map_err(|e| {
                // POSIX allows EEXIST as well as ENOTEMPTY for a non-empty directory.
                if e.kind() == io::ErrorKind::DirectoryNotEmpty
                    || e.raw_os_error() == Some(libc::EEXIST)
                {
                    SandboxError::DirectoryNotEmpty {
                        path: path.to_owned(),
                    }
                } else {
                    fail(e)
                }
            })
        } else {
            self.dir.remove_file_or_symlink(&target).map_err(fail)
        }
    }

    /// Opens the directory a list or search starts from.
    fn open_start(&self, op: &'static str, path: &str, rel: &RelPath) -> Result<Dir, SandboxError> {
        let opened = if rel.is_root() {
            self.dir.try_clone()
        } else {
            self.dir.open_dir(rel.to_path())
        };
        opened.map_err(|e| {
            if e.raw_os_error() == Some(libc::ENOTDIR) {
                SandboxError::NotDirectory {
                    path: path.to_owned(),
                }
            } else {
                map_io(op, path, e)
            }
        })
    }
}

/// A glob matched against file names (no `/` in it) or relative paths.
struct Glob {
    matcher: GlobMatcher,
    on_name: bool,
}

impl Glob {
    fn is_match(&self, path: &str, base: &str) -> bool {
        if self.on_name {
            let name = path.rsplit('/').next().unwrap_or(path);
            return self.matcher.is_match(name);
        }
        let relative = if base.is_empty() {
            path
        } else {
            path.strip_prefix(base)
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or(path)
        };
        self.matcher.is_match(relative)
    }
}

fn compile_glob(glob: &str) -> Result<Glob, SandboxError> {
    let matcher = GlobBuilder::new(glob)
        .literal_separator(true)
        .backslash_escape(true)
        .build()
        .map_err(|e| SandboxError::InvalidSearch {
            reason: format!("glob {glob:?}: {e}"),
        })?
        .compile_matcher();
    Ok(Glob {
        matcher,
        on_name: !glob.contains('/'),
    })
}

/// Options for reading: non-blocking, so that opening a fifo that appeared
/// after the type check cannot hang, and never acquiring a terminal.
fn read_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    options
}

/// Reads at most `cap + 1` bytes, so that a caller sees a file that grew
/// past the cap without reading all of it.
fn read_capped(file: File, size_hint: u64, cap: u64) -> io::Result<Vec<u8>> {
    let mut data = Vec::with_capacity(usize::try_from(size_hint.min(cap)).unwrap_or(0));
    file.take(cap.saturating_add(1)).read_to_end(&mut data)?;
    Ok(data)
}

fn sync_dir(dir: &Dir) -> io::Result<()> {
    dir.open(".")?.sync_all()
}

fn too_large(path: &str, size: u64, limit: &'static str, cap: u64) -> SandboxError {
    SandboxError::FileTooLarge {
        path: path.to_owned(),
        size,
        limit,
        cap,
    }
}

/// Whether cap-std refused a path for leaving the root.
pub(crate) fn is_escape(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::PermissionDenied
        && e.raw_os_error().is_none()
        && e.to_string().contains("outside of the filesystem")
}

fn map_io(op: &'static str, path: &str, e: io::Error) -> SandboxError {
    let path = path.to_owned();
    if is_escape(&e) {
        return SandboxError::PathEscapes { path };
    }
    match e.kind() {
        io::ErrorKind::NotFound => SandboxError::PathNotFound { path },
        io::ErrorKind::AlreadyExists => SandboxError::PathExists { path },
        _ if e.raw_os_error() == Some(libc::ENOTDIR) => SandboxError::NotDirectory { path },
        _ => SandboxError::FsIo {
            op,
            path,
            source: e,
        },
    }
}
