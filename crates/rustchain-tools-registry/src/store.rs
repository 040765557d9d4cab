//! The registry's files: the manifests (JSON Lines, append-only, read at
//! byte offsets) and the compact index (replaced atomically), and the cache
//! of loaded tools.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

use moka::{notification::RemovalCause, sync::Cache};
use rustchain_tools_schema::{CompiledSchema, FormatOptions};
use serde::{Deserialize, Serialize};

use crate::{Manifest, RegistryError};

/// The name of the compact index file in a registry directory.
pub const INDEX_FILE: &str = "index.bin";
/// The name of the manifests file in a registry directory.
pub const MANIFESTS_FILE: &str = "manifests.jsonl";
/// The name of the file holding the cache counters of every process that
/// used the registry (JSON), merged under a lock on it.
pub const CACHE_STATS_FILE: &str = "cache-stats.json";
/// The lock file that serializes the processes updating [`CACHE_STATS_FILE`].
pub(crate) const CACHE_STATS_LOCK: &str = "cache-stats.lock";
/// The suffix of a file being written before it is renamed into place.
const TEMP_SUFFIX: &str = ".tmp";

/// A loaded tool's approximate heap bytes per byte of its stored manifest:
/// the parsed schema and the compiled validator together, measured on the
/// 10,000-tool corpus (see the crate's memory example).
const BYTES_PER_MANIFEST_BYTE: u64 = 16;
/// A loaded tool's fixed heap bytes (validator nodes, the cache's own entry).
const BYTES_PER_TOOL: u64 = 2048;

/// What a call needs of a tool: its validators, compiled on first use and
/// kept in the bounded cache. The rest of the manifest stays on disk
/// ([`crate::ToolRef::manifest`] reads it).
#[derive(Debug)]
pub struct LoadedTool {
    /// The validator of the arguments (it holds the parsed input schema).
    pub input: CompiledSchema,
    /// The validator of the structured result, when the tool declares one.
    pub output: Option<CompiledSchema>,
    /// The weight the cache gives this tool (approximate heap bytes).
    weight: u32,
}

impl LoadedTool {
    /// The approximate heap bytes this tool takes in the cache.
    pub fn approximate_bytes(&self) -> u32 {
        self.weight
    }
}

/// Cache counters as persisted and as reported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheCounters {
    /// Loads asked of the cache.
    pub lookups: u64,
    /// Loads served from the cache.
    pub hits: u64,
    /// Loads read from disk and compiled.
    pub misses: u64,
    /// Loaded tools dropped to stay within the byte budget.
    pub evictions: u64,
}

impl CacheCounters {
    /// Hits over lookups (0 before any lookup).
    pub fn hit_rate(&self) -> f64 {
        if self.lookups == 0 {
            0.0
        } else {
            self.hits as f64 / self.lookups as f64
        }
    }

    fn add(&mut self, other: &CacheCounters) {
        self.lookups += other.lookups;
        self.hits += other.hits;
        self.misses += other.misses;
        self.evictions += other.evictions;
    }

    fn minus(&self, other: &CacheCounters) -> CacheCounters {
        CacheCounters {
            lookups: self.lookups.saturating_sub(other.lookups),
            hits: self.hits.saturating_sub(other.hits),
            misses: self.misses.saturating_sub(other.misses),
            evictions: self.evictions.saturating_sub(other.evictions),
        }
    }
}

/// This process's cache counters for one registry (shared by the stores a
/// registry goes through), and how much of them is already persisted.
#[derive(Default)]
pub(crate) struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    flushed: Mutex<CacheCounters>,
}

impl Counters {
    pub(crate) fn now(&self) -> CacheCounters {
        let hits = self.hits.load(Ordering::Relaxed);
        let misses = self.misses.load(Ordering::Relaxed);
        CacheCounters {
            lookups: hits + misses,
            hits,
            misses,
            evictions: self.evictions.load(Ordering::Relaxed),
        }
    }

    fn flushed(&self) -> std::sync::MutexGuard<'_, CacheCounters> {
        // Only a copy happens under the lock; nothing is half-done.
        self.flushed.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The counters persisted in `dir` plus this process's not yet persisted.
    /// The file is only ever replaced whole (renamed into place), so a read
    /// sees either the old totals or the new ones; a missing file is none.
    pub(crate) fn all_processes(&self, dir: &Path) -> Result<CacheCounters, RegistryError> {
        let mut total = read_counters(dir)?;
        total.add(&self.now().minus(&self.flushed()));
        Ok(total)
    }

    /// Adds this process's counts since the last flush to the file in `dir`,
    /// under an exclusive lock on [`CACHE_STATS_LOCK`], so that processes
    /// flushing at the same time add up. The new totals are written to a
    /// temporary file and renamed over the old one: a crash at any point
    /// leaves the old totals or the new ones, never none.
    pub(crate) fn flush(&self, dir: &Path) -> Result<(), RegistryError> {
        let mut flushed = self.flushed();
        let now = self.now();
        let delta = now.minus(&flushed);
        if delta == CacheCounters::default() {
            return Ok(());
        }
        // The lock is on a file of its own: the counters file is replaced
        // by each flush, and a lock on a replaced file serializes nothing.
        let lock_path = dir.join(CACHE_STATS_LOCK);
        let lock = crate::lock::open_lock_file(&lock_path)?;
        lock.lock().map_err(io_error("locking", &lock_path))?;
        let mut total = read_counters(dir)?;
        total.add(&delta);
        let path = dir.join(CACHE_STATS_FILE);
        let text = serde_json::to_vec(&total).map_err(|e| RegistryError::Io {
            action: "encoding the counters for",
            path: path.clone(),
            source: e.into(),
        })?;
        replace_file(dir, CACHE_STATS_FILE, &text)?;
        // The lock goes with the file handle.
        drop(lock);
        *flushed = now;
        Ok(())
    }
}

/// The totals in the counters file of `dir` (none when there is no file).
fn read_counters(dir: &Path) -> Result<CacheCounters, RegistryError> {
    let path = dir.join(CACHE_STATS_FILE);
    match fs::read(&path) {
        Ok(bytes) => parse_counters(&bytes, &path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(CacheCounters::default()),
        Err(e) => Err(io_error("reading", &path)(e)),
    }
}

fn parse_counters(bytes: &[u8], path: &Path) -> Result<CacheCounters, RegistryError> {
    serde_json::from_slice(bytes).map_err(|e| RegistryError::Io {
        action: "decoding the cache counters in",
        path: path.to_path_buf(),
        source: e.into(),
    })
}

pub(crate) struct Store {
    dir: PathBuf,
    manifests_path: PathBuf,
    manifests: File,
    cache: Cache<u32, Arc<LoadedTool>>,
    counters: Arc<Counters>,
}

pub(crate) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> RegistryError {
    let path = path.to_path_buf();
    move |source| RegistryError::Io {
        action,
        path,
        source,
    }
}

impl Store {
    /// Opens the manifests file of `dir` (which must exist) with a cache
    /// of `cache_bytes` approximate bytes.
    pub(crate) fn open(
        dir: &Path,
        cache_bytes: u64,
        counters: Arc<Counters>,
    ) -> Result<Self, RegistryError> {
        let manifests_path = dir.join(MANIFESTS_FILE);
        let manifests = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&manifests_path)
            .map_err(io_error("opening", &manifests_path))?;
        let evicted = counters.clone();
        let cache = Cache::builder()
            .max_capacity(cache_bytes)
            .weigher(|_, tool: &Arc<LoadedTool>| tool.weight)
            .eviction_listener(move |_, _, cause| {
                if cause == RemovalCause::Size {
                    evicted.evictions.fetch_add(1, Ordering::Relaxed);
                }
            })
            .build();
        Ok(Store {
            dir: dir.to_path_buf(),
            manifests_path,
            manifests,
            cache,
            counters,
        })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one JSON line per manifest; returns each line's offset and
    /// length. Callers serialize appends.
    pub(crate) fn append(&self, manifests: &[&Manifest]) -> Result<Vec<(u64, u32)>, RegistryError> {
        let path = &self.manifests_path;
        let start = self
            .manifests
            .metadata()
            .map_err(io_error("reading the size of", path))?
            .len();
        // Encoding is a fifth of a large registration; it runs on every
        // core, each thread writing its run of manifests into one buffer
        // (no buffer per manifest to grow and copy again).
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = manifests.len().div_ceil(workers).max(256);
        let runs: Vec<&[&Manifest]> = manifests.chunks(chunk).collect();
        let encoded = crate::import::par_map_each(&runs, |run| encode_lines(run));
        let mut spans = Vec::with_capacity(manifests.len());
        let mut buffers = Vec::with_capacity(encoded.len());
        let mut at = start;
        for run in encoded {
            let (buffer, ends) = run.map_err(|e| RegistryError::Io {
                action: "encoding a manifest for",
                path: path.clone(),
                source: e.into(),
            })?;
            let mut line_start = 0;
            for end in ends {
                let len = u32::try_from(end - line_start).map_err(|_| RegistryError::Io {
                    action: "appending to",
                    path: path.clone(),
                    source: io::Error::new(io::ErrorKind::InvalidInput, "a manifest over 4 GiB"),
                })?;
                spans.push((at + line_start as u64, len));
                // Past the newline.
                line_start = end + 1;
            }
            at += buffer.len() as u64;
            buffers.push(buffer);
        }
        let mut file = &self.manifests;
        for buffer in &buffers {
            file.write_all(buffer)
                .map_err(io_error("appending to", path))?;
        }
        Ok(spans)
    }

    /// Makes the appended manifests durable; done before an index that
    /// refers to them is written.
    pub(crate) fn sync_manifests(&self) -> Result<(), RegistryError> {
        self.manifests
            .sync_data()
            .map_err(io_error("syncing", &self.manifests_path))
    }

    /// The length of the manifests file.
    pub(crate) fn manifests_len(&self) -> Result<u64, RegistryError> {
        Ok(self
            .manifests
            .metadata()
            .map_err(io_error("reading the size of", &self.manifests_path))?
            .len())
    }

    fn read_at(&self, offset: u64, len: u32) -> io::Result<Vec<u8>> {
        let mut buffer = vec![0; len as usize];
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            self.manifests.read_exact_at(&mut buffer, offset)?;
        }
        #[cfg(windows)]
        {
            use std::os::windows::fs::FileExt;
            let mut done = 0;
            while done < buffer.len() {
                let n = self
                    .manifests
                    .seek_read(&mut buffer[done..], offset + done as u64)?;
                if n == 0 {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                done += n;
            }
        }
        Ok(buffer)
    }

    /// The manifest stored at `offset`.
    pub(crate) fn manifest(
        &self,
        offset: u64,
        len: u32,
        key: &dyn Fn() -> String,
    ) -> Result<Manifest, RegistryError> {
        let corrupt = |reason: String| RegistryError::CorruptManifest {
            tool: key(),
            path: self.manifests_path.clone(),
            offset,
            reason,
        };
        let bytes = self
            .read_at(offset, len)
            .map_err(|e| corrupt(e.to_string()))?;
        self.parse(&bytes, offset, key)
    }

    /// Parses the manifest `bytes` read at `offset`.
    pub(crate) fn parse(
        &self,
        bytes: &[u8],
        offset: u64,
        key: &dyn Fn() -> String,
    ) -> Result<Manifest, RegistryError> {
        serde_json::from_slice(bytes).map_err(|e| RegistryError::CorruptManifest {
            tool: key(),
            path: self.manifests_path.clone(),
            offset,
            reason: e.to_string(),
        })
    }

    /// The raw manifest line stored at `offset` (without its newline).
    pub(crate) fn raw(&self, offset: u64, len: u32) -> Result<Vec<u8>, RegistryError> {
        self.read_at(offset, len)
            .map_err(io_error("reading", &self.manifests_path))
    }

    /// The tool stored at `offset`, from the cache or read and compiled now.
    pub(crate) fn load(
        &self,
        slot: u32,
        offset: u64,
        len: u32,
        key: &dyn Fn() -> String,
    ) -> Result<Arc<LoadedTool>, RegistryError> {
        if let Some(tool) = self.cache.get(&slot) {
            self.counters.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(tool);
        }
        self.counters.misses.fetch_add(1, Ordering::Relaxed);
        let manifest = self.manifest(offset, len, key)?;
        let schema_error = |reason: String| RegistryError::Schema {
            tool: key(),
            reason,
        };
        // The schemas move into the validators, which keep them for their
        // messages; nothing else of the manifest is kept.
        let input = CompiledSchema::compile_input(
            Arc::new(manifest.input_schema),
            &FormatOptions::default(),
        )
        .map_err(|e| schema_error(format!("inputSchema: {e}")))?;
        let output = match manifest.output_schema {
            Some(schema) => Some(
                CompiledSchema::compile_shared(Arc::new(schema))
                    .map_err(|e| schema_error(format!("outputSchema: {e}")))?,
            ),
            None => None,
        };
        let weight = u64::from(len) * BYTES_PER_MANIFEST_BYTE + BYTES_PER_TOOL;
        let tool = Arc::new(LoadedTool {
            input,
            output,
            weight: u32::try_from(weight).unwrap_or(u32::MAX),
        });
        self.cache.insert(slot, tool.clone());
        Ok(tool)
    }

    /// Replaces the index; see [`replace_file`].
    pub(crate) fn write_index(&self, bytes: &[u8]) -> Result<(), RegistryError> {
        replace_file(&self.dir, INDEX_FILE, bytes)
    }
}

/// Syncs a directory so that renames in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), RegistryError> {
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_error("syncing", dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `bytes` to `path` (created or truncated) and syncs it.
pub(crate) fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RegistryError> {
    let mut file = File::create(path).map_err(io_error("creating", path))?;
    file.write_all(bytes).map_err(io_error("writing", path))?;
    file.sync_all().map_err(io_error("syncing", path))
}

/// Replaces the file `name` of `dir` with `bytes`: written to a temporary
/// file, synced, renamed over the old one, and the directory synced, so a
/// crash leaves either the old file or the new one. Callers serialize
/// writers of the same file (the temporary name is fixed).
pub(crate) fn replace_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), RegistryError> {
    let path = dir.join(name);
    let temp = dir.join(format!("{name}{TEMP_SUFFIX}"));
    write_synced(&temp, bytes)?;
    fs::rename(&temp, &path).map_err(io_error("replacing", &path))?;
    sync_dir(dir)
}

/// `manifests` as JSON lines in one buffer, with where each line ends
/// (at its newline).
fn encode_lines(manifests: &[&Manifest]) -> Result<(Vec<u8>, Vec<usize>), serde_json::Error> {
    let mut buffer = Vec::with_capacity(manifests.len() * 1024);
    let mut ends = Vec::with_capacity(manifests.len());
    for manifest in manifests {
        serde_json::to_writer(&mut buffer, manifest)?;
        ends.push(buffer.len());
        buffer.push(b'\n');
    }
    Ok((buffer, ends))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(lookups: u64) -> CacheCounters {
        CacheCounters {
            lookups,
            hits: lookups,
            misses: 0,
            evictions: 0,
        }
    }

    #[test]
    fn a_missing_counters_file_is_zero() {
        let dir = tempfile::tempdir().expect("temp dir");
        let counters = Counters::default();
        assert_eq!(
            counters.all_processes(dir.path()).expect("readable"),
            CacheCounters::default()
        );
    }

    #[test]
    fn a_flush_interrupted_after_its_temporary_file_leaves_the_old_totals() {
        let dir = tempfile::tempdir().expect("temp dir");
        let old = serde_json::to_vec(&totals(7)).expect("encode");
        fs::write(dir.path().join(CACHE_STATS_FILE), &old).expect("write totals");
        // What a crash after writing the temporary file leaves behind.
        let torn = format!("{CACHE_STATS_FILE}{TEMP_SUFFIX}");
        fs::write(dir.path().join(&torn), b"{\"lookups\":99").expect("write temp");

        let counters = Counters::default();
        assert_eq!(
            counters.all_processes(dir.path()).expect("readable"),
            totals(7)
        );

        counters.hits.fetch_add(2, Ordering::Relaxed);
        counters.flush(dir.path()).expect("flush");
        assert_eq!(read_counters(dir.path()).expect("readable"), totals(9));
        assert!(
            !dir.path().join(torn).exists(),
            "the temporary file was renamed"
        );
        // Flushed counts are not added twice.
        assert_eq!(
            counters.all_processes(dir.path()).expect("readable"),
            totals(9)
        );
    }
}
