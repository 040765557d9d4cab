//! The registry: a directory holding tools, an atomically swapped snapshot
//! for readers, and serialized writers.

use std::{
    collections::HashSet,
    fs,
    path::Path,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicBool, Ordering},
    },
};

use arc_swap::ArcSwap;
use rustchain_tools_search::{EmbeddingModel, SearchIndex};
use semver::Version;
use serde::{Deserialize, Serialize};

use crate::{
    Filters, Manifest, RegistryError, Snapshot, ToolKey,
    import::{Format, ImportOptions, ImportProblem, Parsed, par_map, parse},
    intern::Interner,
    lazy_search::LazySearch,
    snapshot::{Entry, SearchResult, document},
    store::{INDEX_FILE, Store},
};

/// Bumped whenever the index layout changes; an index of another layout is
/// refused rather than misread.
const INDEX_LAYOUT: u32 = 1;

/// How to open a registry.
#[derive(Debug, Clone)]
pub struct RegistryOptions {
    /// How many loaded tools (parsed manifest and compiled validators) the
    /// cache keeps: 1,024 by default.
    pub cache_capacity: u64,
    /// The embedding model for semantic search; without one (the default)
    /// search is lexical. Tools are embedded when registered, so a model
    /// given to a registry built without one serves only after re-import.
    pub model: Option<Arc<EmbeddingModel>>,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            cache_capacity: 1024,
            model: None,
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
    /// Loaded-tool cache hits.
    pub cache_hits: u64,
    /// Loaded-tool cache misses (loads from disk).
    pub cache_misses: u64,
    /// Hits over lookups (0 before any lookup).
    pub cache_hit_rate: f64,
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

/// A persistent registry of tool definitions.
///
/// Readers take a [`Snapshot`] (or use the shortcuts here, which take one
/// per call) and never block each other or writers; a writer builds the
/// next snapshot and swaps it in, and a reader keeps the snapshot it
/// started with. Writes go to the directory's manifests file at once; the
/// index is written by [`Registry::save`].
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
    current: ArcSwap<Snapshot>,
    writer: Mutex<()>,
    store: Arc<Store>,
    model: Option<Arc<EmbeddingModel>>,
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
        let store = Arc::new(Store::open(dir, options.cache_capacity)?);
        let (strings, entries, search) = match store.read_index()? {
            None => (
                Interner::default(),
                Vec::new(),
                LazySearch::ready(SearchIndex::build(&[], options.model.clone())),
            ),
            Some(mut bytes) => {
                let corrupt = |reason: String| RegistryError::CorruptIndex {
                    path: dir.join(INDEX_FILE),
                    reason,
                };
                let (metadata, search) = split_index(&bytes).map_err(corrupt)?;
                let search_at = bytes.len() - search.len();
                let index: Metadata =
                    postcard::from_bytes(metadata).map_err(|e| corrupt(e.to_string()))?;
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
                let search = LazySearch::encoded(bytes, options.model.clone(), index.entries.len());
                (index.strings, index.entries, search)
            }
        };
        let snapshot = Snapshot::build(strings, entries, store.clone(), Arc::new(search));
        Ok(Registry {
            current: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(()),
            store,
            model: options.model.clone(),
            dirty: AtomicBool::new(false),
        })
    }

    /// The directory of this registry.
    pub fn dir(&self) -> &Path {
        self.store.dir()
    }

    /// The current state. Holding it keeps that state alive and unchanged,
    /// whatever writers do meanwhile.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        // The guarded state is the snapshot, swapped whole; a writer that
        // panicked left nothing half-done, so a poisoned lock is usable.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
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
        let (added, replaced) = self.add(&manifests)?;
        Ok(ImportReport {
            format: parsed.format,
            added,
            replaced,
            problems: parsed.problems,
            renamed: parsed.renamed,
        })
    }

    /// Registers manifests built in code, after the same checks as an import
    /// (a problem's `line` is the manifest's 1-based position in `manifests`).
    pub fn register(&self, manifests: &[Manifest]) -> Result<ImportReport, RegistryError> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        let mut good = Vec::with_capacity(manifests.len());
        let checks = par_map(manifests, Manifest::check);
        for (i, (manifest, check)) in manifests.iter().zip(checks).enumerate() {
            let problem = match check {
                Err(reason) => Some(reason),
                Ok(()) if !seen.insert(manifest.key()) => {
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
        let (added, replaced) = self.add(&good)?;
        Ok(ImportReport {
            format: Format::Manifests,
            added,
            replaced,
            problems,
            renamed: 0,
        })
    }

    /// Appends checked manifests and swaps in the snapshot holding them.
    fn add(&self, manifests: &[&Manifest]) -> Result<(Vec<ToolKey>, usize), RegistryError> {
        if manifests.is_empty() {
            return Ok((Vec::new(), 0));
        }
        let _guard = self.lock();
        let current = self.current.load_full();
        let spans = self.store.append(manifests)?;
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
        let documents: Vec<_> = manifests.iter().map(|m| document(m)).collect();
        let mut search = current
            .search
            .get()
            .map_err(|reason| RegistryError::CorruptIndex {
                path: self.dir().join(INDEX_FILE),
                reason,
            })?
            .with_added(&documents);
        search.attach_model(self.model.clone());
        self.current.store(Arc::new(Snapshot::build(
            strings,
            entries,
            self.store.clone(),
            Arc::new(LazySearch::ready(search)),
        )));
        self.dirty.store(true, Ordering::Release);
        Ok((added, replaced))
    }

    /// Removes the tool `name` at `version`, or every tool of that name
    /// when `version` is `None`; returns how many tools were removed. On disk
    /// once [`Registry::save`] writes the index.
    pub fn remove(&self, name: &str, version: Option<&Version>) -> Result<usize, RegistryError> {
        let _guard = self.lock();
        let current = self.current.load_full();
        let doomed: Vec<u32> = current
            .versions(name)
            .iter()
            .filter(|t| version.is_none_or(|v| t.version() == v))
            .map(|t| t.slot())
            .collect();
        if doomed.is_empty() {
            return Ok(0);
        }
        let mut entries = current.entries.clone();
        for &slot in &doomed {
            entries[slot as usize] = None;
        }
        self.current.store(Arc::new(Snapshot::build(
            current.strings.clone(),
            entries,
            self.store.clone(),
            current.search.clone(),
        )));
        self.dirty.store(true, Ordering::Release);
        Ok(doomed.len())
    }

    /// Removes the one tool filed under `key`; returns whether there was one.
    pub fn remove_key(&self, key: &ToolKey) -> Result<bool, RegistryError> {
        let _guard = self.lock();
        let current = self.current.load_full();
        let Some(slot) = current.slot_of(key) else {
            return Ok(false);
        };
        let mut entries = current.entries.clone();
        entries[slot as usize] = None;
        self.current.store(Arc::new(Snapshot::build(
            current.strings.clone(),
            entries,
            self.store.clone(),
            current.search.clone(),
        )));
        self.dirty.store(true, Ordering::Release);
        Ok(true)
    }

    /// Writes the index if anything changed since it was last written:
    /// to a temporary file, then renamed over the old one.
    pub fn save(&self) -> Result<(), RegistryError> {
        let _guard = self.lock();
        if !self.dirty.load(Ordering::Acquire) && self.dir().join(INDEX_FILE).exists() {
            return Ok(());
        }
        let current = self.current.load_full();
        let encoding = |e: postcard::Error| RegistryError::CorruptIndex {
            path: self.dir().join(INDEX_FILE),
            reason: format!("cannot be encoded: {e}"),
        };
        let metadata = postcard::to_allocvec(&MetadataRef {
            strings: &current.strings,
            entries: &current.entries,
        })
        .map_err(encoding)?;
        let search = current
            .search
            .encode()
            .map_err(|reason| RegistryError::CorruptIndex {
                path: self.dir().join(INDEX_FILE),
                reason,
            })?;
        let mut bytes = Vec::with_capacity(HEADER_LEN + metadata.len() + search.len());
        bytes.extend_from_slice(INDEX_MAGIC);
        bytes.extend_from_slice(&INDEX_LAYOUT.to_le_bytes());
        bytes.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&metadata);
        bytes.extend_from_slice(&search);
        self.store.sync_manifests()?;
        self.store.write_index(&bytes)?;
        self.dirty.store(false, Ordering::Release);
        Ok(())
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

    /// Counts, approximate index memory, cache hit rate, semantic search.
    /// The search index's share is measured as its serialized size.
    pub fn stats(&self) -> Stats {
        let snapshot = self.snapshot();
        let search_bytes = snapshot.search.approximate_bytes();
        let (tools, names, versions, categories, tags) = snapshot.counts();
        let (cache_hits, cache_misses) = self.store.cache_counts();
        let lookups = cache_hits + cache_misses;
        Stats {
            tools,
            names,
            versions,
            categories,
            tags,
            index_bytes: snapshot.heap_bytes() + search_bytes,
            cache_hits,
            cache_misses,
            cache_hit_rate: if lookups == 0 {
                0.0
            } else {
                cache_hits as f64 / lookups as f64
            },
            semantic_search: snapshot.has_semantic(),
        }
    }
}
