//! Compiled modules, kept in memory and (with a directory) on disk as
//! wasmtime's serialized artifacts.

use std::{
    collections::HashMap,
    hash::{Hash, Hasher},
    io::Write,
    path::PathBuf,
    sync::{
        Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use sha2::{Digest, Sha256};
use wasmtime::{Engine, Module};

pub(super) struct ModuleCache {
    memory: Mutex<HashMap<[u8; 32], Module>>,
    dir: Option<PathBuf>,
    /// Names the engine's compilation settings, so that artifacts of another
    /// wasmtime or configuration are not even tried.
    engine_key: String,
    compiled: AtomicUsize,
    from_disk: AtomicUsize,
}

impl ModuleCache {
    pub(super) fn new(engine: &Engine, dir: Option<PathBuf>) -> ModuleCache {
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        ModuleCache {
            memory: Mutex::new(HashMap::new()),
            dir,
            engine_key: format!("{:016x}", hasher.finish()),
            compiled: AtomicUsize::new(0),
            from_disk: AtomicUsize::new(0),
        }
    }

    pub(super) fn stats(&self) -> (usize, usize) {
        (
            self.compiled.load(Ordering::Relaxed),
            self.from_disk.load(Ordering::Relaxed),
        )
    }

    /// The module of `bytes`: from memory, from disk, or compiled (and then
    /// kept in both).
    pub(super) fn get_or_compile(&self, engine: &Engine, bytes: &[u8]) -> Result<Module, String> {
        let digest: [u8; 32] = Sha256::digest(bytes).into();
        if let Some(module) = self
            .memory
            .lock()
            .ok()
            .and_then(|m| m.get(&digest).cloned())
        {
            return Ok(module);
        }
        let file = self.dir.as_ref().map(|dir| {
            let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
            dir.join(format!("{hex}-{}.cwasm", self.engine_key))
        });
        let cached = file.as_ref().filter(|f| f.is_file()).and_then(|file| {
            if let Err(reason) = trusted(file) {
                tracing::warn!(file = %file.display(), "cached module not loaded: {reason}; compiling");
                return None;
            }
            // Read into memory rather than mapped: a file changed while it is
            // mapped would fault the process.
            let bytes = std::fs::read(file).ok()?;
            // SAFETY: the artifact and its directory are the user's own and
            // writable by nobody else (checked above; the cache is
            // documented as trusted like the binary); wasmtime
            // checks the artifact's engine version and settings and refuses
            // a mismatch, which is then compiled afresh.
            match unsafe { Module::deserialize(engine, &bytes) } {
                Ok(module) => Some(module),
                Err(e) => {
                    tracing::debug!(file = %file.display(), "cached module refused, compiling: {e:#}");
                    None
                }
            }
        });
        let module = match cached {
            Some(module) => {
                self.from_disk.fetch_add(1, Ordering::Relaxed);
                module
            }
            None => {
                let module = Module::new(engine, bytes)
                    .map_err(|e| format!("it does not compile: {e:#}"))?;
                self.compiled.fetch_add(1, Ordering::Relaxed);
                if let Some(file) = &file
                    && let Err(e) = store(&module, file)
                {
                    tracing::warn!(file = %file.display(), "compiled module not cached: {e}");
                }
                module
            }
        };
        if let Ok(mut memory) = self.memory.lock() {
            memory.insert(digest, module.clone());
        }
        Ok(module)
    }
}

/// Whether `file` and its directory can hold native code this process
/// runs: plain (no symbolic link), owned by the effective user and writable
/// by nobody else.
fn trusted(file: &std::path::Path) -> Result<(), String> {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions and cannot fail.
    let user = unsafe { libc::geteuid() };
    let dir = file.parent().ok_or("it has no directory")?;
    for (path, want_dir) in [(dir, true), (file, false)] {
        let meta = std::fs::symlink_metadata(path)
            .map_err(|e| format!("{} cannot be read: {e}", path.display()))?;
        let kind_ok = if want_dir {
            meta.is_dir()
        } else {
            meta.is_file()
        };
        if !kind_ok {
            return Err(format!(
                "{} is not a plain {}",
                path.display(),
                if want_dir { "directory" } else { "file" }
            ));
        }
        if meta.uid() != user {
            return Err(format!(
                "{} is owned by user {}, not by this user ({user})",
                path.display(),
                meta.uid()
            ));
        }
        if meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is writable by others (mode {:o})",
                path.display(),
                meta.mode() & 0o777
            ));
        }
    }
    Ok(())
}

/// Writes the artifact beside its final name and renames it into place, so
/// that a reader never sees half a file.
fn store(module: &Module, file: &std::path::Path) -> Result<(), String> {
    let bytes = module.serialize().map_err(|e| format!("{e:#}"))?;
    let dir = file.parent().ok_or("no directory")?;
    // Created on first use (readable by its owner only), so that a program
    // that compiles nothing leaves nothing behind.
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| format!("the module cache {} cannot be created: {e}", dir.display()))?;
    }
    let mut temp = tempfile::NamedTempFile::new_in(dir).map_err(|e| e.to_string())?;
    temp.write_all(&bytes).map_err(|e| e.to_string())?;
    temp.persist(file).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const ECHO: &str = r#"(module (func (export "f")))"#;

    #[test]
    fn an_artifact_others_can_write_is_compiled_afresh() {
        let engine = Engine::default();
        let dir = tempfile::tempdir().unwrap();
        let cache_dir = dir.path().join("cache");
        ModuleCache::new(&engine, Some(cache_dir.clone()))
            .get_or_compile(&engine, ECHO.as_bytes())
            .unwrap();

        let again = ModuleCache::new(&engine, Some(cache_dir.clone()));
        again.get_or_compile(&engine, ECHO.as_bytes()).unwrap();
        assert_eq!(again.stats(), (0, 1), "an owner-only artifact is loaded");

        std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let shared = ModuleCache::new(&engine, Some(cache_dir.clone()));
        shared.get_or_compile(&engine, ECHO.as_bytes()).unwrap();
        assert_eq!(
            shared.stats(),
            (1, 0),
            "a world-writable directory is not trusted"
        );

        std::fs::set_permissions(&cache_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        for entry in std::fs::read_dir(&cache_dir).unwrap() {
            let path = entry.unwrap().path();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        }
        let loose = ModuleCache::new(&engine, Some(cache_dir));
        loose.get_or_compile(&engine, ECHO.as_bytes()).unwrap();
        assert_eq!(
            loose.stats(),
            (1, 0),
            "a world-writable artifact is not trusted"
        );
    }
}
