//! The search index of a snapshot, decoded from the index file on first
//! use: opening a registry reads only the metadata, and a registry that is
//! only looked up in never pays for the search index.

use std::sync::{Arc, Mutex, OnceLock};

use rustchain_tools_search::{EmbeddingModel, SearchIndex};

pub(crate) struct LazySearch {
    /// The encoded index until it is decoded (or written back as is).
    encoded: Mutex<Option<Vec<u8>>>,
    decoded: OnceLock<Result<Arc<SearchIndex>, String>>,
    model: Option<Arc<EmbeddingModel>>,
    /// The number of documents the metadata expects.
    expected: usize,
}

impl LazySearch {
    /// An index already in memory.
    pub(crate) fn ready(index: SearchIndex) -> Self {
        let expected = index.len();
        LazySearch {
            encoded: Mutex::new(None),
            decoded: OnceLock::from(Ok(Arc::new(index))),
            model: None,
            expected,
        }
    }

    /// An index still encoded; `expected` is the number of tools the
    /// metadata holds, which the decoded index must match.
    pub(crate) fn encoded(
        bytes: Vec<u8>,
        model: Option<Arc<EmbeddingModel>>,
        expected: usize,
    ) -> Self {
        LazySearch {
            encoded: Mutex::new(Some(bytes)),
            decoded: OnceLock::new(),
            model,
            expected,
        }
    }

    fn bytes(&self) -> std::sync::MutexGuard<'_, Option<Vec<u8>>> {
        // Only a take or a read happens under the lock; nothing is half-done.
        self.encoded.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The index, decoded now if it was not yet; the reason when the stored
    /// index cannot be decoded.
    pub(crate) fn get(&self) -> Result<&Arc<SearchIndex>, String> {
        self.decoded
            .get_or_init(|| {
                let bytes = self.bytes().take().unwrap_or_default();
                let mut index: SearchIndex = postcard::from_bytes(&bytes)
                    .map_err(|e| format!("its search index cannot be decoded: {e}"))?;
                if index.len() != self.expected {
                    return Err(format!(
                        "its search index holds {} tools and its metadata {}",
                        index.len(),
                        self.expected
                    ));
                }
                index.attach_model(self.model.clone());
                Ok(Arc::new(index))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The encoded index: the stored bytes when it was never decoded.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        if let Some(bytes) = self.bytes().as_ref() {
            return Ok(bytes.clone());
        }
        postcard::to_allocvec(&**self.get()?).map_err(|e| e.to_string())
    }

    /// Approximate bytes: the encoded size (a close proxy for the decoded
    /// index's heap, which is mostly flat arrays).
    pub(crate) fn approximate_bytes(&self) -> usize {
        if let Some(bytes) = self.bytes().as_ref() {
            return bytes.len();
        }
        self.encode().map_or(0, |b| b.len())
    }
}
