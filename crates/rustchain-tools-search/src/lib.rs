//! Tool search for RustChain Tools: ranks tool definitions for a
//! natural-language request, and says why each one matched.
//!
//! - **Lexical**: BM25F over five fields (name, description, parameter names,
//!   parameter descriptions, tags) with per-field weights and length
//!   normalisation ([`SearchConfig`]); names are split on `_ . -`, camelCase
//!   and digits, words are lowercased, English stop words dropped and words
//!   stemmed (Porter 2) ([`analyze`]). Postings are compact (u32 document,
//!   f32 precomputed BM25F weight, u8 field mask); a search touches only the
//!   postings of its terms and reuses per-thread buffers.
//! - **Semantic** (optional): a static embedding model ([`EmbeddingModel`]:
//!   WordLlama's BPE tokenizer and token table, mean pooling), installed by
//!   `cargo xtask fetch-model` from the PyPI wheel into
//!   `models/wordllama-l2-supercat-256/`. Document vectors are stored in the
//!   index (centred on their mean, quantized to i8 for the scan); a query
//!   costs one embedding (about 15 µs) and a scan of every document.
//! - **Fusion**: each side's scores are scaled to their best hit and mixed
//!   with [`SearchConfig::semantic_weight`]; repeated tool names are then
//!   lowered ([`SearchConfig::same_name_factor`]) so the first results are
//!   distinct tools.
//!
//! Without a model the index is lexical only and [`SearchIndex::has_semantic`]
//! says so. [`eval`] measures rankings on the project's retrieval data;
//! `examples/evaluate.rs` prints the figures.
//!
//! Measured on the BFCL dev queries (1,150), name-level relevance, recall@5 /
//! nDCG@10 (exact-level in brackets), defaults:
//!
//! | corpus | lexical | semantic | hybrid |
//! | --- | --- | --- | --- |
//! | 4,053 tools | 0.923 / 0.864 (0.833 / 0.759) | 0.874 / 0.801 | 0.929 / 0.875 (0.830 / 0.768) |
//! | 10,000 tools | 0.914 / 0.863 (0.819 / 0.757) | 0.870 / 0.797 | 0.925 / 0.872 (0.822 / 0.761) |
//!
//! With `same_name_factor = 1.0` (no lowering of repeated names) the 4,053
//! figures are lexical 0.897 / 0.850 (0.873 / 0.785), semantic 0.843 / 0.786,
//! hybrid 0.906 / 0.860 (0.876 / 0.797).

#![deny(missing_docs)]

pub mod analyze;
mod error;
pub mod eval;
mod index;
mod semantic;

pub use error::SearchError;
pub use index::{Document, FieldParams, Hit, Parameter, SearchConfig, SearchIndex};
pub use semantic::{DEFAULT_MODEL, EmbeddingModel, default_model_dir, dot};

#[cfg(test)]
mod tests {
    #[test]
    fn index_and_model_can_be_shared_across_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<crate::SearchIndex>();
        shared::<crate::EmbeddingModel>();
    }
}
