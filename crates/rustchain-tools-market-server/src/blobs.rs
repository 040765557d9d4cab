//! Where packages' files are kept, by content address: on the filesystem
//! here; another store (an S3-compatible one) implements the same trait.

use std::path::PathBuf;

use rustchain_tools_market::PackageDigest;

use crate::ServerError;

/// A content-addressed store of package contents.
pub trait BlobStore: Send + Sync + 'static {
    /// Keeps `bytes` under `digest`; keeping the same digest again is a
    /// no-op.
    fn put(&self, digest: &PackageDigest, bytes: &[u8]) -> Result<(), ServerError>;
    /// What is kept under `digest`, if anything.
    fn get(&self, digest: &PackageDigest) -> Result<Option<Vec<u8>>, ServerError>;
}

/// Blobs as files in a directory, one per digest, written whole (a
/// temporary file renamed into place) so a reader never sees half of one.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    dir: PathBuf,
}

impl FsBlobStore {
    /// A store in `dir`, created if needed.
    pub fn new(dir: impl Into<PathBuf>) -> Result<FsBlobStore, ServerError> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| ServerError::Blob {
            operation: "create its directory",
            reason: format!("{}: {e}", dir.display()),
        })?;
        Ok(FsBlobStore { dir })
    }

    fn path(&self, digest: &PackageDigest) -> PathBuf {
        let text = digest.to_string();
        let hex = text.trim_start_matches("sha256:");
        self.dir.join(format!("{hex}.json"))
    }
}

impl BlobStore for FsBlobStore {
    fn put(&self, digest: &PackageDigest, bytes: &[u8]) -> Result<(), ServerError> {
        let path = self.path(digest);
        if path.exists() {
            return Ok(());
        }
        let failed = |e: std::io::Error| ServerError::Blob {
            operation: "keep a package",
            reason: format!("{}: {e}", path.display()),
        };
        let mut file = tempfile::NamedTempFile::new_in(&self.dir).map_err(failed)?;
        std::io::Write::write_all(&mut file, bytes).map_err(failed)?;
        file.as_file().sync_all().map_err(failed)?;
        file.persist(&path).map_err(|e| failed(e.error))?;
        Ok(())
    }

    fn get(&self, digest: &PackageDigest) -> Result<Option<Vec<u8>>, ServerError> {
        let path = self.path(digest);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(ServerError::Blob {
                operation: "read a package",
                reason: format!("{}: {e}", path.display()),
            }),
        }
    }
}
