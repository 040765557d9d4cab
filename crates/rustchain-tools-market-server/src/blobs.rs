//! Where packages' files are kept, by content address: on the filesystem
//! ([`FsBlobStore`]) or in a bucket of an S3-compatible store
//! ([`S3BlobStore`]), behind one trait.

use std::path::PathBuf;

use async_trait::async_trait;
use rustchain_tools_market::PackageDigest;

use crate::ServerError;

pub use crate::s3::{S3BlobStore, S3Location};

/// A content-addressed store of package contents.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Keeps `bytes` under `digest`; keeping the same digest again is a
    /// no-op.
    async fn put(&self, digest: &PackageDigest, bytes: &[u8]) -> Result<(), ServerError>;
    /// What is kept under `digest`, if anything.
    async fn get(&self, digest: &PackageDigest) -> Result<Option<Vec<u8>>, ServerError>;
}

/// A store chosen at run time (e.g. by a command-line flag).
#[async_trait]
impl BlobStore for Box<dyn BlobStore> {
    async fn put(&self, digest: &PackageDigest, bytes: &[u8]) -> Result<(), ServerError> {
        (**self).put(digest, bytes).await
    }

    async fn get(&self, digest: &PackageDigest) -> Result<Option<Vec<u8>>, ServerError> {
        (**self).get(digest).await
    }
}

/// The name a blob is kept under: the digest's hex and `.json` (the
/// contents are the package's files as JSON), the same in every store.
pub(crate) fn blob_name(digest: &PackageDigest) -> String {
    let text = digest.to_string();
    format!("{}.json", text.trim_start_matches("sha256:"))
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
        self.dir.join(blob_name(digest))
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(&self, digest: &PackageDigest, bytes: &[u8]) -> Result<(), ServerError> {
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

    async fn get(&self, digest: &PackageDigest) -> Result<Option<Vec<u8>>, ServerError> {
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
