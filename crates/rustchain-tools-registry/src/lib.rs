//! A registry of 10,000+ tool definitions for discovery: imports from MCP,
//! OpenAI and corpus formats with every bad definition reported, persistent
//! in a directory (a compact index opened without parsing manifests, and the
//! manifests read on demand), lock-free readers over immutable snapshots,
//! exact, prefix, version and filtered lookups, and search.
//!
//! ```
//! use rustchain_tools_registry::{ImportOptions, Registry};
//!
//! let dir = tempfile::tempdir()?;
//! let registry = Registry::open(dir.path())?;
//! let report = registry.import_str(
//!     "{\"name\":\"add\",\"parameters\":{\"type\":\"object\"}}\n{\"name\":\"bad name\"}",
//!     "inline",
//!     &ImportOptions::default(),
//! )?;
//! assert_eq!(report.added.len(), 1);
//! assert_eq!(report.problems[0].line, 2);
//! assert!(registry.snapshot().contains("add"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! On disk a registry is a directory with two files: `manifests.jsonl`, the
//! full manifests, appended to on every import and read at byte offsets on
//! demand; and `index.bin`, the compact index (interned strings, per-tool
//! metadata with offsets, then the search index), replaced by
//! [`Registry::save`] through a temporary file and a rename after the
//! manifests are synced. Opening decodes the metadata only; the search index
//! is decoded on the first search. [`Registry::compact`] rewrites both
//! without removed and replaced tools, atomically (new files, a commit
//! marker, renames finished by the next opening after a crash).
//!
//! Import checks that schemas are well-formed JSON Schema without compiling
//! them; a tool's validators are compiled on first use ([`ToolRef::load`])
//! and kept in a cache bounded in approximate bytes
//! ([`RegistryOptions::cache_bytes`]).
//!
//! One process at a time writes a registry directory: the first write
//! takes an exclusive lock on [`LOCK_FILE`] (waiting at most
//! [`RegistryOptions::lock_wait`], then [`RegistryError::Locked`]) and
//! [`Registry::save`] lets it go; readers take no lock. Cache counters of
//! every process are added up in [`CACHE_STATS_FILE`] when a registry is
//! dropped ([`Stats::all_processes`]).
#![deny(missing_docs)]

mod error;
mod import;
mod intern;
mod lazy_search;
mod lock;
mod manifest;
mod registry;
mod schema_check;
mod snapshot;
mod store;

pub use error::RegistryError;
pub use import::{Format, ImportOptions, ImportProblem, Parsed, parse};
pub use lock::LOCK_FILE;
pub use manifest::{Annotations, Manifest, Permissions, ToolKey, check_name, sanitize_name};
pub use registry::{DEFAULT_CACHE_BYTES, ImportReport, Registry, RegistryOptions, Stats};
pub use rustchain_tools_search::{
    DEFAULT_MODEL, EmbeddingModel, LexicalReason, SearchError, eval::retrieval_dir,
};
pub use snapshot::{Filters, SearchResult, Snapshot, ToolRef};
pub use store::{CACHE_STATS_FILE, CacheCounters, INDEX_FILE, LoadedTool, MANIFESTS_FILE};
