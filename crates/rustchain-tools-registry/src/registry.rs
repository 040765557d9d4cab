//! The registry: a directory holding tools, an atomically swapped snapshot
//! for readers, and serialized writers (within a process by a mutex, across
//! processes by a lock file).

use std::{
    fs::{self, File},
    io,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
    thread,
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use rustc_hash::FxHashSet;
use rustchain_tools_search::{EmbeddingModel, SearchIndex};
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::{
    Filters, MANIFESTS_FILE, Manifest, RegistryError, Snapshot, ToolKey,
    import::{Format, ImportOptions, ImportProblem, Parsed, par_map, parse},
    intern::Interner,
    lazy_search::LazySearch,
    lock::{self, Stamp},
    snapshot::{Entry, SearchDoc, SearchResult},
    store::{CacheCounters, Counters, INDEX_FILE, Store, io_error, sync_dir, write_synced},
};

/// Bumped whenever the index layout changes; an index of another layout is
/// refused rather than misread.
const INDEX_LAYOUT: u32 = 1;

/// The default byte budget of the loaded-tool cache: 80 MiB, about 5,000
/// tools of the 10,000-tool corpus (a compiled tool takes about 15 KiB),
/// which serves about 90% of the loads of calls spread over 10,000 tools by
/// a Zipf law (s = 1); 48 MiB serves about 85%, 64 MiB about 88%.
pub const DEFAULT_CACHE_BYTES: u64 = 80 << 20;

/// How to open a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// The byte budget of the loaded-tool cache (compiled validators, each
    /// weighed by its approximate heap size): [`DEFAULT_CACHE_BYTES`].
    pub cache_bytes: u64,
    /// The embedding model for semantic search; without one (the default)
    /// search is lexical. Tools are embedded when registered, so a model
    /// given to a registry built without one serves only after re-import.
    pub model: Option<Arc<EmbeddingModel>>,
    /// How long a write waits for another process's writer lock before it
    /// fails with [`RegistryError::Locked`]: 10 seconds by default.
    pub lock_wait: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            cache_bytes: DEFAULT_CACHE_BYTES,
            model: None,
            lock_wait: Duration::from_secs(10),
        }
    }
}

/// What an import or registration did.
#[derive(Debug, Clone)]
pub struct ImportReport {
    /// The format read.
    pub format: Format,
    /// Keys of the tools added (or replacing a tool of the same key).
    pub added: Vec<ToolKey>,
    /// How many of them replaced a tool already registered under their key.
    pub replaced: usize,
    /// Every definition refused, with its line and reason.
    pub problems: Vec<ImportProblem>,
    /// How many names were sanitized.
    pub renamed: usize,
    /// True when every registered tool had an embedding for semantic
    /// search and this registration, made without the model they came
    /// from, dropped them all (search is lexical from now on).
    /// [`Registry::compact`] with the model embeds the tools again.
    pub embeddings_dropped: bool,
}

/// The counts and sizes of a registry.
#[derive(Debug, Clone, PartialEq)]
pub struct Stats {
    /// Registered tools (each version counts).
    pub tools: usize,
    /// Distinct names.
    pub names: usize,
    /// Distinct versions.
    pub versions: usize,
    /// Distinct categories.
    pub categories: usize,
    /// Distinct tags.
    pub tags: usize,
    /// Approximate heap bytes of the in-memory index (metadata, lookup
    /// indices, search index).
    pub index_bytes: usize,
    /// Loaded-tool cache hits in this process.
    pub cache_hits: u64,
    /// Loaded-tool cache misses (loads from disk) in this process.
    pub cache_misses: u64,
    /// Hits over lookups in this process (0 before any lookup).
    pub cache_hit_rate: f64,
    /// Loaded tools dropped from this process's cache for its byte budget.
    pub cache_evictions: u64,
    /// The cache counters of every process that used this registry
    /// directory (persisted when a registry is dropped or
    /// [`Registry::flush_stats`] is called), this process's included.
    pub all_processes: CacheCounters,
    /// Whether semantic (embedding) search is available.
    pub semantic_search: bool,
}

/// The metadata part of the index file as read; [`MetadataRef`] writes it.
#[derive(Deserialize)]
struct Metadata {
    strings: Interner,
    entries: Vec<Option<Arc<Entry>>>,
}

#[derive(Serialize)]
struct MetadataRef<'a> {
    strings: &'a Interner,
    entries: &'a [Option<Arc<Entry>>],
}

/// The index file starts with this, then the layout (u32, little endian),
/// the length of the metadata section (u64), the metadata (postcard) and
/// the search index (postcard).
const INDEX_MAGIC: &[u8; 4] = b"RCTR";
const HEADER_LEN: usize = 16;

/// Splits an index file into its metadata and search sections.
fn split_index(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| format!("{} bytes is shorter than the header", bytes.len()))?;
    if &header[..4] != INDEX_MAGIC {
        return Err("it does not start with RCTR (not a registry index)".to_owned());
    }
    let mut word = [0u8; 4];
    word.copy_from_slice(&header[4..8]);
    let layout = u32::from_le_bytes(word);
    if layout != INDEX_LAYOUT {
        return Err(format!(
            "layout {layout} (this build reads layout {INDEX_LAYOUT})"
        ));
    }
    let mut long = [0u8; 8];
    long.copy_from_slice(&header[8..16]);
    let body = &bytes[HEADER_LEN..];
    let metadata_len = usize::try_from(u64::from_le_bytes(long))
        .ok()
        .filter(|&n| n <= body.len())
        .ok_or("the metadata section runs past the end of the file")?;
    Ok(body.split_at(metadata_len))
}

/// The file whose presence says that a compaction's new files are complete
/// and are being (or, after a crash, must be) renamed into place.
const COMPACT_MARKER: &str = "compact.commit";
/// The suffix of a compaction's new files before they are renamed.
const NEW_SUFFIX: &str = ".new";

fn new_name(file: &str) -> String {
    format!("{file}{NEW_SUFFIX}")
}

/// Finishes an interrupted compaction (its marker exists: both new files
/// were complete) or clears the leftovers of one that never committed.
/// Called only under the writer lock.
fn recover(dir: &Path) -> Result<(), RegistryError> {
    let marker = dir.join(COMPACT_MARKER);
    let committed = marker.exists();
    for file in [MANIFESTS_FILE, INDEX_FILE] {
        let new = dir.join(new_name(file));
        let result = if committed {
            fs::rename(&new, dir.join(file))
        } else {
            fs::remove_file(&new)
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error("finishing the compaction with", &new)(e)),
        }
    }
    if committed {
        sync_dir(dir)?;
        fs::remove_file(&marker).map_err(io_error("removing", &marker))?;
        sync_dir(dir)?;
    }
    Ok(())
}

/// Encodes the index file of `strings`, `entries` and `search`.
fn encode_index(
    dir: &Path,
    strings: &Interner,
    entries: &[Option<Arc<Entry>>],
    search: &LazySearch,
) -> Result<Vec<u8>, RegistryError> {
    let corrupt = |reason: String| RegistryError::CorruptIndex {
        path: dir.join(INDEX_FILE),
        reason,
    };
    let metadata = postcard::to_allocvec(&MetadataRef { strings, entries })
        .map_err(|e| corrupt(format!("cannot be encoded: {e}")))?;
    let search = search.encode().map_err(corrupt)?;
    let mut bytes = Vec::with_capacity(HEADER_LEN + metadata.len() + search.len());
    bytes.extend_from_slice(INDEX_MAGIC);
    bytes.extend_from_slice(&INDEX_LAYOUT.to_le_bytes());
    bytes.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    bytes.extend_from_slice(&metadata);
    bytes.extend_from_slice(&search);
    Ok(bytes)
}

/// Reads the index and opens the manifests of `dir` as they are now. A
/// compaction renames two files; the index is read before the manifests are
/// opened and both are taken only if no compaction committed meanwhile, so
/// the two always belong together.
fn load(
    dir: &Path,
    options: &RegistryOptions,
    counters: &Arc<Counters>,
) -> Result<(Arc<Store>, Snapshot, Stamp), RegistryError> {
    let start = Instant::now();
    loop {
        let waited = start.elapsed();
        if dir.join(COMPACT_MARKER).exists() {
            // A compaction is renaming its files, or crashed doing so.
            if let Some(_lock) = lock::try_acquire(dir)? {
                recover(dir)?;
            } else if waited >= options.lock_wait {
                return Err(RegistryError::Locked {
                    dir: dir.to_path_buf(),
                    waited,
                });
            } else {
                thread::sleep(Duration::from_millis(5));
            }
            continue;
        }
        let stamp = Stamp::of(dir)?;
        let bytes = read_index(dir)?;
        let store = Arc::new(Store::open(dir, options.cache_bytes, counters.clone())?);
        if dir.join(COMPACT_MARKER).exists() || Stamp::of(dir)? != stamp {
            continue;
        }
        let snapshot = decode(dir, bytes, store.clone(), options.model.clone())?;
        return Ok((store, snapshot, stamp));
    }
}

/// The snapshot of the index `bytes` (`None`: an empty registry).
fn decode(
    dir: &Path,
    bytes: Option<Vec<u8>>,
    store: Arc<Store>,
    model: Option<Arc<EmbeddingModel>>,
) -> Result<Snapshot, RegistryError> {
    let Some(mut bytes) = bytes else {
        let search = SearchIndex::build(&[], model);
        return Ok(Snapshot::build(
            Interner::default(),
            Vec::new(),
            store,
            Arc::new(LazySearch::ready(search)),
        ));
    };
    let corrupt = |reason: String| RegistryError::CorruptIndex {
        path: dir.join(INDEX_FILE),
        reason,
    };
    let (metadata, search) = split_index(&bytes).map_err(corrupt)?;
    let search_at = bytes.len() - search.len();
    let index: Metadata = postcard::from_bytes(metadata).map_err(|e| corrupt(e.to_string()))?;
    let size = store.manifests_len()?;
    if let Some(past) = index
        .entries
        .iter()
        .flatten()
        .find(|e| e.offset.saturating_add(u64::from(e.len)) > size)
    {
        return Err(corrupt(format!(
            "it points at byte {} of the manifests file, which has {size} bytes",
            past.offset.saturating_add(u64::from(past.len))
        )));
    }
    // Keep only the search section, decoded on the first search.
    bytes.drain(..search_at);
    let search = LazySearch::encoded(bytes, model, index.entries.len());
    Ok(Snapshot::build(
        index.strings,
        index.entries,
        store,
        Arc::new(search),
    ))
}

/// What the writer of a registry holds: the store that new snapshots use,
/// the cross-process lock while this process has unsaved writes, and the
/// stamp of the index this process last read or wrote (`None`: unknown, so
/// the next write reloads from disk).
struct Writer {
    store: Arc<Store>,
    lock: Option<File>,
    seen: Option<Stamp>,
}

/// A persistent registry of tool definitions.
///
/// Readers take a [`Snapshot`] (or use the shortcuts here, which take one
/// per call) and never block each other or writers; a writer builds the
/// next snapshot and swaps it in, and a reader keeps the snapshot it
/// started with. Writes go to the directory's manifests file at once; the
/// index is written by [`Registry::save`].
///
/// Across processes, the first write takes the directory's writer lock
/// ([`crate::LOCK_FILE`]) and [`Registry::save`] (or dropping the registry)
/// lets it go; a write that finds the index changed by another process
/// starts from that process's state. Readers take no lock.
///
/// ```
/// use rustchain_tools_registry::{Filters, ImportOptions, Registry};
///
/// let dir = tempfile::tempdir()?;
/// let registry = Registry::open(dir.path())?;
/// let report = registry.import_str(
///     r#"{"name":"weather.get","version":"1.2.0","description":"Gets the weather.","category":"web","inputSchema":{"type":"object"}}"#,
///     "example",
///     &ImportOptions::default(),
/// )?;
/// assert!(report.problems.is_empty());
/// registry.save()?;
///
/// let reopened = Registry::open(dir.path())?;
/// let snapshot = reopened.snapshot();
/// let tool = snapshot.get("weather.get").expect("registered");
/// assert_eq!(tool.version().to_string(), "1.2.0");
/// assert_eq!(snapshot.filter(&Filters::none().category("web")).len(), 1);
/// assert!(tool.load()?.input.validate(&serde_json::json!({})).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Registry {
    dir: PathBuf,
    current: ArcSwap<Snapshot>,
    writer: Mutex<Writer>,
    counters: Arc<Counters>,
    options: RegistryOptions,
    dirty: AtomicBool,
}

impl Registry {
    /// Opens the registry in `dir` (creating an empty one when there is
    /// none), reading only the compact index.
    pub fn open(dir: &Path) -> Result<Self, RegistryError> {
        Self::open_with(dir, &RegistryOptions::default())
    }

    /// Opens the registry in `dir` with `options`.
    pub fn open_with(dir: &Path, options: &RegistryOptions) -> Result<Self, RegistryError> {
        fs::create_dir_all(dir).map_err(io_error("creating the registry directory", dir))?;
        let counters = Arc::new(Counters::default());
        let (store, snapshot, seen) = load(dir, options, &counters)?;
        if options.model.is_none() {
            tracing::warn!(
                registry = %dir.display(),
                "tool search is lexical: no embedding model was given; `cargo xtask fetch-model` \
                 installs one"
            );
        }
        Ok(Registry {
            dir: dir.to_path_buf(),
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(Writer {
                store,
                lock: None,
                seen: Some(seen),
            }),
            counters,
            options: options.clone(),
            dirty: AtomicBool::new(false),
        })
    }

    /// The directory of this registry.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The byte budget of the loaded-tool cache.
    pub fn cache_bytes(&self) -> u64 {
        self.options.cache_bytes
    }

    /// The current state. Holding it keeps that state alive and unchanged,
    /// whatever writers do meanwhile.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    fn lock(&self) -> MutexGuard<'_, Writer> {
        // The guarded state is swapped whole; a writer that panicked left
        // nothing half-done, so a poisoned lock is usable.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes this process the directory's writer: takes the lock file
    /// (waiting at most the lock wait), finishes or clears an interrupted
    /// compaction, and, when another process saved the index since this one
    /// last read or wrote it, starts from that state.
    fn begin_write(&self, writer: &mut Writer) -> Result<(), RegistryError> {
        if writer.lock.is_some() {
            return Ok(());
        }
        let lock = lock::acquire(&self.dir, self.options.lock_wait)?;
        recover(&self.dir)?;
        if writer.seen != Some(Stamp::of(&self.dir)?) {
            let (store, snapshot, seen) = load(&self.dir, &self.options, &self.counters)?;
            self.current.store(Arc::new(snapshot));
            writer.store = store;
            writer.seen = Some(seen);
        }
        writer.lock = Some(lock);
        Ok(())
    }

    /// Marks the index written: the lock goes, and the stamp is the new
    /// index's (unknown if it cannot be read, which makes the next write
    /// reload).
    fn end_write(&self, writer: &mut Writer) {
        writer.seen = Stamp::of(&self.dir).ok();
        writer.lock = None;
        self.dirty.store(false, Ordering::Release);
    }

    /// Lets go of the writer lock when this process has nothing unsaved
    /// (a write that changed nothing need not keep other processes out).
    fn release_if_clean(&self, writer: &mut Writer) {
        if !self.dirty.load(Ordering::Acquire) {
            writer.lock = None;
        }
    }

    /// Imports the definitions in the file at `path`; see [`Registry::import_str`].
    pub fn import_file(
        &self,
        path: &Path,
        options: &ImportOptions,
    ) -> Result<ImportReport, RegistryError> {
        let text = fs::read_to_string(path).map_err(|source| RegistryError::Io {
            action: "reading",
            path: path.to_path_buf(),
            source,
        })?;
        self.import_str(&text, &path.display().to_string(), options)
    }

    /// Imports the definitions in `text` (format detected unless forced).
    /// Every bad definition is reported with its line and reason; the good
    /// ones are registered. A definition with the key of a registered tool
    /// replaces it.
    pub fn import_str(
        &self,
        text: &str,
        origin: &str,
        options: &ImportOptions,
    ) -> Result<ImportReport, RegistryError> {
        self.import_parsed(parse(text, origin, options)?)
    }

    /// Registers what [`parse`] read and checked (without checking it
    /// again): for sources read in parts, joined with [`Parsed::append`].
    pub fn import_parsed(&self, parsed: Parsed) -> Result<ImportReport, RegistryError> {
        let manifests: Vec<&Manifest> = parsed.manifests.iter().map(|(_, m)| m).collect();
        let added = self.add(&manifests)?;
        Ok(ImportReport {
            format: parsed.format,
            added: added.keys,
            replaced: added.replaced,
            problems: parsed.problems,
            renamed: parsed.renamed,
            embeddings_dropped: added.embeddings_dropped,
        })
    }

    /// Registers manifests built in code, after the same checks as an import
    /// (a problem's `line` is the manifest's 1-based position in `manifests`).
    pub fn register(&self, manifests: &[Manifest]) -> Result<ImportReport, RegistryError> {
        let mut problems = Vec::new();
        // Keys borrowed from the manifests: nothing is copied to find repeats.
        let mut seen: FxHashSet<(&str, &Version, Option<&str>)> =
            FxHashSet::with_capacity_and_hasher(manifests.len(), Default::default());
        let mut good = Vec::with_capacity(manifests.len());
        let checks = par_map(manifests, Manifest::check);
        for (i, (manifest, check)) in manifests.iter().zip(checks).enumerate() {
            let problem = match check {
                Err(reason) => Some(reason),
                Ok(())
                    if !seen.insert((
                        &manifest.name,
                        &manifest.version,
                        manifest.id.as_deref(),
                    )) =>
                {
                    Some(format!("`{}` is given twice", manifest.key()))
                }
                Ok(()) => None,
            };
            match problem {
                Some(reason) => problems.push(ImportProblem {
                    line: i + 1,
                    name: Some(manifest.name.clone()),
                    reason,
                }),
                None => good.push(manifest),
            }
        }
        let added = self.add(&good)?;
        Ok(ImportReport {
            format: Format::Manifests,
            added: added.keys,
            replaced: added.replaced,
            problems,
            renamed: 0,
            embeddings_dropped: added.embeddings_dropped,
        })
    }

    /// Appends checked manifests and swaps in the snapshot holding them.
    ///
    /// The two halves of the work overlap: one thread writes the manifests
    /// and builds the entries and lookup indices while this one builds the
    /// search index (each half also splits its heaviest steps over cores),
    /// so that either half's sequential steps run while the other computes.
    fn add(&self, manifests: &[&Manifest]) -> Result<Added, RegistryError> {
        if manifests.is_empty() {
            return Ok(Added::default());
        }
        let mut writer = self.lock();
        self.begin_write(&mut writer)?;
        let current = self.current.load_full();
        let base = current
            .search
            .get()
            .map_err(|reason| RegistryError::CorruptIndex {
                path: self.dir.join(INDEX_FILE),
                reason,
            })?;
        let store = writer.store.clone();
        let (stored, search) = thread::scope(|scope| {
            let stored = scope.spawn(|| {
                let spans = store.append(manifests)?;
                // The file has grown: a later save must write the index.
                self.dirty.store(true, Ordering::Release);
                Ok::<_, RegistryError>(with_entries(&current, manifests, spans, store.clone()))
            });
            let documents = par_map(manifests, |m| SearchDoc::of(m));
            let mut search = base.with_added_from(&documents);
            search.attach_model(self.options.model.clone());
            let stored = match stored.join() {
                Ok(result) => result,
                // Nothing in it panics on any input; if it did, re-raise it here.
                Err(panic) => std::panic::resume_unwind(panic),
            };
            (stored, search)
        });
        let (snapshot, keys, replaced) = stored?;
        let embeddings_dropped = base.is_embedded() && !base.is_empty() && !search.is_embedded();
        self.current.store(Arc::new(
            snapshot.with_search(Arc::new(LazySearch::ready(search))),
        ));
        Ok(Added {
            keys,
            replaced,
            embeddings_dropped,
        })
    }

    /// Empties `slots` in a new snapshot (under the writer lock).
    fn remove_slots(&self, writer: &Writer, current: &Snapshot, slots: &[u32]) {
        let mut entries = current.entries.clone();
        for &slot in slots {
            entries[slot as usize] = None;
        }
        self.current.store(Arc::new(Snapshot::build(
            current.strings.clone(),
            entries,
            writer.store.clone(),
            current.search.clone(),
        )));
        self.dirty.store(true, Ordering::Release);
    }

    /// Removes the tool `name` at `version`, or every tool of that name
    /// when `version` is `None`; returns how many tools were removed. On disk
    /// once [`Registry::save`] writes the index; the manifests stay in the
    /// manifests file until [`Registry::compact`].
    pub fn remove(&self, name: &str, version: Option<&Version>) -> Result<usize, RegistryError> {
        let mut writer = self.lock();
        self.begin_write(&mut writer)?;
        let current = self.current.load_full();
        let doomed: Vec<u32> = current
            .versions(name)
            .iter()
            .filter(|t| version.is_none_or(|v| t.version() == v))
            .map(|t| t.slot())
            .collect();
        if doomed.is_empty() {
            self.release_if_clean(&mut writer);
        } else {
            self.remove_slots(&writer, &current, &doomed);
        }
        Ok(doomed.len())
    }

    /// Removes the one tool filed under `key`; returns whether there was one.
    pub fn remove_key(&self, key: &ToolKey) -> Result<bool, RegistryError> {
        let mut writer = self.lock();
        self.begin_write(&mut writer)?;
        let current = self.current.load_full();
        let Some(slot) = current.slot_of(key) else {
            self.release_if_clean(&mut writer);
            return Ok(false);
        };
        self.remove_slots(&writer, &current, &[slot]);
        Ok(true)
    }

    /// Writes the index if anything changed since it was last written:
    /// to a temporary file, then renamed over the old one. Lets go of the
    /// writer lock.
    pub fn save(&self) -> Result<(), RegistryError> {
        let mut writer = self.lock();
        let indexed = self.dir.join(INDEX_FILE).exists();
        if !self.dirty.load(Ordering::Acquire) && indexed {
            writer.lock = None;
            return Ok(());
        }
        self.begin_write(&mut writer)?;
        let current = self.current.load_full();
        let bytes = encode_index(
            &self.dir,
            &current.strings,
            &current.entries,
            &current.search,
        )?;
        writer.store.sync_manifests()?;
        lock::bump_generation(&self.dir)?;
        writer.store.write_index(&bytes)?;
        self.end_write(&mut writer);
        Ok(())
    }

    /// Rewrites the manifests file and the index without the removed and
    /// replaced tools, renumbering the tools. Their search entries and
    /// stored embeddings are kept as they are (with or without a model);
    /// only when the registry has a model and the stored embeddings are
    /// missing or from another model are the tools embedded again with it.
    /// A search index that cannot be decoded is rebuilt from the manifests.
    /// Returns the bytes the manifests file shrank by.
    ///
    /// Both new files are written and synced beside the old ones, then a
    /// marker file commits them and they are renamed into place; a crash
    /// before the marker leaves the old registry, after it the next opening
    /// finishes the renames. Snapshots taken before keep reading the old
    /// manifests file. Unsaved changes are saved with it. An error after the
    /// commit leaves this registry's readers on the old state and its next
    /// write finishing the commit and reloading, so nothing is appended to a
    /// replaced file.
    pub fn compact(&self) -> Result<u64, RegistryError> {
        let mut writer = self.lock();
        self.begin_write(&mut writer)?;
        let current = self.current.load_full();
        let old_len = writer.store.manifests_len()?;
        let mut manifests = Vec::new();
        let mut strings = Interner::default();
        let mut entries = Vec::with_capacity(current.len());
        let mut parsed = Vec::with_capacity(current.len());
        for tool in current.iter() {
            let (offset, len) = tool.span();
            // Read once: the bytes are both parsed and copied as they are.
            let raw = writer.store.raw(offset, len)?;
            let manifest = writer
                .store
                .parse(&raw, offset, &|| tool.key().to_string())?;
            entries.push(Some(Arc::new(Entry::new(
                &manifest,
                &mut strings,
                manifests.len() as u64,
                len,
            ))));
            manifests.extend_from_slice(&raw);
            manifests.push(b'\n');
            parsed.push(manifest);
        }
        let live: Vec<bool> = current.entries.iter().map(Option::is_some).collect();
        let model = &self.options.model;
        // A search index that cannot be decoded is rebuilt from the
        // manifests, which are the source of truth.
        let retained = current.search.get().ok().map(|index| {
            let mut kept = index.retain(&live);
            kept.attach_model(model.clone());
            kept
        });
        let search = match retained {
            Some(kept) if model.is_none() || kept.has_semantic() => kept,
            _ => {
                let documents: Vec<SearchDoc> = parsed.iter().map(SearchDoc::of).collect();
                SearchIndex::build(&[], model.clone()).with_added_from(&documents)
            }
        };
        let search = LazySearch::ready(search);
        let index = encode_index(&self.dir, &strings, &entries, &search)?;
        write_synced(&self.dir.join(new_name(MANIFESTS_FILE)), &manifests)?;
        write_synced(&self.dir.join(new_name(INDEX_FILE)), &index)?;
        sync_dir(&self.dir)?;
        lock::bump_generation(&self.dir)?;
        write_synced(&self.dir.join(COMPACT_MARKER), b"")?;
        // From here the new files are committed: the old manifests file may
        // already be renamed over, so on an error this process must not go
        // on appending to it. It forgets its writer state instead; the next
        // write takes the lock again, finishes the renames and reloads.
        let store = sync_dir(&self.dir)
            .and_then(|()| recover(&self.dir))
            .and_then(|()| Store::open(&self.dir, self.options.cache_bytes, self.counters.clone()));
        let store = match store {
            Ok(store) => Arc::new(store),
            Err(e) => {
                writer.lock = None;
                writer.seen = None;
                // Everything unsaved is in the committed files.
                self.dirty.store(false, Ordering::Release);
                return Err(e);
            }
        };
        self.current.store(Arc::new(Snapshot::build(
            strings,
            entries,
            store.clone(),
            Arc::new(search),
        )));
        writer.store = store;
        self.end_write(&mut writer);
        Ok(old_len.saturating_sub(manifests.len() as u64))
    }

    /// The `limit` best tools for `query` among those passing `filters`,
    /// in the current snapshot.
    pub fn search(
        &self,
        query: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<SearchResult>, RegistryError> {
        self.snapshot().search(query, filters, limit)
    }

    /// Adds this process's cache counters (since the last flush) to the
    /// directory's [`crate::CACHE_STATS_FILE`], under a lock on its own lock
    /// file so that processes flushing together add up. Dropping the registry does
    /// it too (ignoring errors, which it cannot report).
    pub fn flush_stats(&self) -> Result<(), RegistryError> {
        self.counters.flush(&self.dir)
    }

    /// Counts, approximate index memory, cache counters of this process
    /// and of every process, semantic search. The search index's share is
    /// measured as its serialized size. An unreadable counters file counts
    /// as none.
    pub fn stats(&self) -> Stats {
        let snapshot = self.snapshot();
        let search_bytes = snapshot.search.approximate_bytes();
        let (tools, names, versions, categories, tags) = snapshot.counts();
        let mine = self.counters.now();
        Stats {
            tools,
            names,
            versions,
            categories,
            tags,
            index_bytes: snapshot.heap_bytes() + search_bytes,
            cache_hits: mine.hits,
            cache_misses: mine.misses,
            cache_hit_rate: mine.hit_rate(),
            cache_evictions: mine.evictions,
            all_processes: self.counters.all_processes(&self.dir).unwrap_or(mine),
            semantic_search: snapshot.has_semantic(),
        }
    }
}

/// What [`Registry::add`] did.
#[derive(Default)]
struct Added {
    keys: Vec<ToolKey>,
    replaced: usize,
    embeddings_dropped: bool,
}

/// `current` with `manifests` added at `spans` of the manifests file (the
/// search index still `current`'s), the keys added, and how many
/// registered tools they replace.
fn with_entries(
    current: &Snapshot,
    manifests: &[&Manifest],
    spans: Vec<(u64, u32)>,
    store: Arc<Store>,
) -> (Snapshot, Vec<ToolKey>, usize) {
    let mut strings = current.strings.clone();
    let mut entries = current.entries.clone();
    let mut replaced = 0;
    let mut added = Vec::with_capacity(manifests.len());
    for (manifest, (offset, len)) in manifests.iter().zip(spans) {
        let key = manifest.key();
        if let Some(old) = current.slot_of(&key) {
            entries[old as usize] = None;
            replaced += 1;
        }
        entries.push(Some(Arc::new(Entry::new(
            manifest,
            &mut strings,
            offset,
            len,
        ))));
        added.push(key);
    }
    let snapshot = Snapshot::build(strings, entries, store, current.search.clone());
    (snapshot, added, replaced)
}

impl Drop for Registry {
    fn drop(&mut self) {
        // Nothing can report an error here; a failed flush loses only
        // this process's counts.
        let _ = self.counters.flush(&self.dir);
    }
}

/// The index bytes of `dir`, or `None` for a new registry.
fn read_index(dir: &Path) -> Result<Option<Vec<u8>>, RegistryError> {
    let path = dir.join(INDEX_FILE);
    match fs::read(&path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("reading", &path)(e)),
    }
}
