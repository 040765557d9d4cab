//! The registry's files: the manifests (JSON Lines, append-only, read at
//! byte offsets) and the compact index (replaced atomically), and the cache
//! of loaded tools.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
};

use moka::sync::Cache;
use rustchain_tools_schema::CompiledSchema;

use crate::{Manifest, RegistryError, manifest::compile_input};

/// The name of the compact index file in a registry directory.
pub const INDEX_FILE: &str = "index.bin";
/// The name of the manifests file in a registry directory.
pub const MANIFESTS_FILE: &str = "manifests.jsonl";

/// A tool's full definition, read from disk and with its validators
/// compiled: what a call needs.
#[derive(Debug)]
pub struct LoadedTool {
    /// The manifest as imported.
    pub manifest: Manifest,
    /// The validator of the arguments.
    pub input: CompiledSchema,
    /// The validator of the structured result, when the tool declares one.
    pub output: Option<CompiledSchema>,
}

pub(crate) struct Store {
    dir: PathBuf,
    manifests_path: PathBuf,
    manifests: File,
    cache: Cache<u32, Arc<LoadedTool>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> RegistryError {
    let path = path.to_path_buf();
    move |source| RegistryError::Io {
        action,
        path,
        source,
    }
}

impl Store {
    pub(crate) fn open(dir: &Path, cache_capacity: u64) -> Result<Self, RegistryError> {
        fs::create_dir_all(dir).map_err(io_error("creating the registry directory", dir))?;
        let manifests_path = dir.join(MANIFESTS_FILE);
        let manifests = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&manifests_path)
            .map_err(io_error("opening", &manifests_path))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            manifests_path,
            manifests,
            cache: Cache::new(cache_capacity),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
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
        let mut buffer = Vec::with_capacity(manifests.len() * 512);
        let mut spans = Vec::with_capacity(manifests.len());
        for manifest in manifests {
            let at = buffer.len();
            serde_json::to_writer(&mut buffer, manifest).map_err(|e| RegistryError::Io {
                action: "encoding a manifest for",
                path: path.clone(),
                source: e.into(),
            })?;
            buffer.push(b'\n');
            let len = u32::try_from(buffer.len() - at - 1).map_err(|_| RegistryError::Io {
                action: "appending to",
                path: path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidInput, "a manifest over 4 GiB"),
            })?;
            spans.push((start + at as u64, len));
        }
        (&self.manifests)
            .write_all(&buffer)
            .map_err(io_error("appending to", path))?;
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

    /// The tool stored at `offset`, from the cache or read and compiled now.
    pub(crate) fn load(
        &self,
        slot: u32,
        offset: u64,
        len: u32,
        key: &dyn Fn() -> String,
    ) -> Result<Arc<LoadedTool>, RegistryError> {
        if let Some(tool) = self.cache.get(&slot) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(tool);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let corrupt = |reason: String| RegistryError::CorruptManifest {
            tool: key(),
            path: self.manifests_path.clone(),
            offset,
            reason,
        };
        let bytes = self
            .read_at(offset, len)
            .map_err(|e| corrupt(e.to_string()))?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))?;
        let schema_error = |reason: String| RegistryError::Schema {
            tool: key(),
            reason,
        };
        let input = compile_input(&manifest.input_schema).map_err(schema_error)?;
        let output = match &manifest.output_schema {
            Some(schema) => Some(
                CompiledSchema::compile(schema)
                    .map_err(|e| schema_error(format!("outputSchema: {e}")))?,
            ),
            None => None,
        };
        let tool = Arc::new(LoadedTool {
            manifest,
            input,
            output,
        });
        self.cache.insert(slot, tool.clone());
        Ok(tool)
    }

    /// Cache hits and misses so far.
    pub(crate) fn cache_counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// The index bytes, or `None` for a new registry.
    pub(crate) fn read_index(&self) -> Result<Option<Vec<u8>>, RegistryError> {
        let path = self.dir.join(INDEX_FILE);
        match fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error("reading", &path)(e)),
        }
    }

    /// Replaces the index: written to a temporary file, synced, renamed over
    /// the old one, and the directory synced, so a crash leaves either the
    /// old index or the new one.
    pub(crate) fn write_index(&self, bytes: &[u8]) -> Result<(), RegistryError> {
        let path = self.dir.join(INDEX_FILE);
        let temp = self.dir.join(format!("{INDEX_FILE}.tmp"));
        let mut file = File::create(&temp).map_err(io_error("creating", &temp))?;
        file.write_all(bytes).map_err(io_error("writing", &temp))?;
        file.sync_all().map_err(io_error("syncing", &temp))?;
        drop(file);
        fs::rename(&temp, &path).map_err(io_error("replacing", &path))?;
        #[cfg(unix)]
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_error("syncing", &self.dir))?;
        Ok(())
    }
}
