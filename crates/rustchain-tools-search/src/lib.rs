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
//!   With the `transformer` feature, [`EmbeddingModel::load`] also runs a
//!   BERT sentence encoder (all-MiniLM-L6-v2 from
//!   `cargo xtask fetch-model --model all-minilm-l6-v2`: candle on the CPU,
//!   Hugging Face tokenizers, masked mean pooling; `model.json` says which
//!   kind a directory holds). It embeds each tool's whole text at build and
//!   each request once (a cache keeps the last 4,096): at 10,000 tools a
//!   hybrid search takes 20 ms at the median and 158 ms at p99, against
//!   0.2 ms and 0.6 ms with WordLlama.
//! - **Fusion**: each side's scores are scaled to their best hit and mixed
//!   with [`SearchConfig::semantic_weight`]; repeated tool names are then
//!   lowered ([`SearchConfig::same_name_factor`]) so the first results are
//!   distinct tools.
//! - **Requests of several sentences** often ask for several tools. Each
//!   sentence is also scored on its own (on the best documents for the
//!   whole request), and a document's score mixes its whole-request score
//!   with its best sentence score ([`SearchConfig::segment_weight`]);
//!   documents that answer the same sentence as a higher-ranked one are
//!   lowered ([`SearchConfig::segment_repeat_factor`]), so that each
//!   sentence's tool reaches the first results.
//! - **Tools named in the request**: a word shaped like an identifier
//!   (`requests.get`, `get_weather`, `search-repos`, `getWeather`) that is
//!   a tool's name puts that tool first, its best-scored definition among
//!   the candidates or else the one added last
//!   ([`SearchConfig::named_tools_first`]).
//!
//! Without a model the index is lexical only and [`SearchIndex::has_semantic`]
//! says so. [`eval`] measures rankings on the project's retrieval data,
//! [`crossval`] on folds of it that were not tuned on;
//! `examples/evaluate.rs` prints the figures.
//!
//! Measured on the BFCL dev queries (1,150), name-level relevance, recall@5 /
//! nDCG@10 (exact-level in brackets), defaults:
//!
//! | corpus | lexical | semantic | hybrid |
//! | --- | --- | --- | --- |
//! | 4,053 tools | 0.927 / 0.868 (0.838 / 0.765) | 0.888 / 0.816 (0.746 / 0.686) | 0.941 / 0.884 (0.842 / 0.775) |
//! | 10,000 tools | 0.920 / 0.867 (0.824 / 0.761) | 0.884 / 0.813 (0.739 / 0.680) | 0.934 / 0.879 (0.831 / 0.766) |
//!
//! With all-MiniLM-L6-v2 instead of WordLlama, on 4,053 tools: semantic
//! 0.879 / 0.792, hybrid 0.936 / 0.881 (0.846 / 0.775), with the defaults
//! tuned for WordLlama.
//!
//! The comparisons below were measured before tools named in the request
//! went first (which adds up to 0.005 to the figures above).
//!
//! Scoring each request as one text (`segment_weight = 0`) gave hybrid
//! 0.929 / 0.875 (0.830 / 0.768) on 4,053 tools; the sentence scoring lifts
//! the requests that need two to four tools (recall@5 0.810 → 0.857, nDCG@10
//! 0.833 → 0.867) and lowers no other BFCL category. With
//! `same_name_factor = 1.0` (no lowering of repeated names) the 4,053
//! figures are lexical 0.902 / 0.855 (0.876 / 0.787), semantic 0.856 / 0.798
//! (0.814 / 0.727), hybrid 0.916 / 0.870 (0.881 / 0.802). Search p99 over
//! 10,000 tools, top 10: lexical about 0.25 ms, hybrid about 0.5 ms.

#![deny(missing_docs)]

pub mod analyze;
pub mod crossval;
mod error;
pub mod eval;
mod index;
mod semantic;
#[cfg(feature = "transformer")]
mod transformer;

pub use error::SearchError;
pub use index::{
    Document, FieldParams, Hit, Indexable, LexicalReason, Parameter, SearchConfig, SearchIndex,
};
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
