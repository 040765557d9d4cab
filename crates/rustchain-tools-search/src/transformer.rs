//! A contextual sentence encoder: a BERT model (candle's implementation,
//! on the CPU) with its WordPiece tokenizer (Hugging Face `tokenizers`),
//! mean-pooled over the real tokens and scaled to unit length, as
//! sentence-transformers embeds with all-MiniLM-L6-v2.
//!
//! A model directory (written by `cargo xtask fetch-model --model
//! all-minilm-l6-v2`) holds `model.json` (`{"name", "kind": "transformer",
//! "dims", "max_tokens"}`), `config.json` (the BERT configuration),
//! `tokenizer.json`, `model.safetensors` (f32 weights) and the `LICENSE`.

use std::hash::Hasher;
use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use rustc_hash::FxHasher;
use tokenizers::{Tokenizer, TruncationParams};

use crate::error::SearchError;
use crate::semantic::{format_error, read};

/// Texts encoded in one forward pass: large enough to keep the matrix
/// products busy, small enough that padding to the longest costs little
/// once texts are sorted by length.
const BATCH: usize = 32;

/// Texts whose vectors are remembered: agents repeat their requests, and
/// an evaluation ranks the same request under many parameter sets. About
/// 1.5 KB each (384 dims).
const CACHED_TEXTS: u64 = 4_096;

/// Tokens kept of a text when `model.json` names no limit (the
/// sentence-transformers setting of all-MiniLM-L6-v2).
const DEFAULT_MAX_TOKENS: usize = 256;

/// A loaded BERT sentence encoder.
pub(crate) struct TransformerModel {
    name: String,
    dims: usize,
    fingerprint: u64,
    tokenizer: Tokenizer,
    bert: BertModel,
    cache: moka::sync::Cache<String, Arc<[f32]>>,
}

impl std::fmt::Debug for TransformerModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransformerModel")
            .field("name", &self.name)
            .field("dims", &self.dims)
            .finish()
    }
}

impl TransformerModel {
    /// Loads the encoder in `dir`; `dims` (from `model.json`) must be the
    /// model's hidden size.
    pub(crate) fn load(
        dir: &Path,
        name: String,
        dims: usize,
        max_tokens: Option<usize>,
    ) -> Result<Self, SearchError> {
        let config_path = dir.join("config.json");
        let config: Config = serde_json::from_slice(&read(&config_path)?)
            .map_err(|e| format_error(&config_path, e))?;
        if config.hidden_size != dims {
            return Err(format_error(
                &dir.join("model.json"),
                format!(
                    "dims is {dims} but config.json has hidden_size {}",
                    config.hidden_size
                ),
            ));
        }
        let tok_path = dir.join("tokenizer.json");
        let mut tokenizer =
            Tokenizer::from_file(&tok_path).map_err(|e| format_error(&tok_path, e))?;
        // The file pads every text to a fixed length; pooling over padding
        // would pull every vector towards the same point, so batches are
        // padded to their longest text and the padding is masked out.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
                ..TruncationParams::default()
            }))
            .map_err(|e| format_error(&tok_path, e))?;
        let weights_path = dir.join("model.safetensors");
        let weights = read(&weights_path)?;
        let mut hasher = FxHasher::default();
        hasher.write(&weights);
        hasher.write_usize(dims);
        let fingerprint = hasher.finish();
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)
            .map_err(|e| format_error(&weights_path, e))?;
        let bert = BertModel::load(vb, &config).map_err(|e| format_error(&weights_path, e))?;
        Ok(Self {
            name,
            dims,
            fingerprint,
            tokenizer,
            bert,
            cache: moka::sync::Cache::new(CACHED_TEXTS),
        })
    }

    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn dims(&self) -> usize {
        self.dims
    }

    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    pub(crate) fn clear_cache(&self) {
        self.cache.invalidate_all();
    }

    /// The unit vectors of `texts`, one after another. Texts met recently
    /// come from the cache; the others are encoded in batches of similar
    /// length. A batch the model fails on (it should not, on the CPU) is
    /// logged and left as zero vectors, which match nothing, so search
    /// falls back to its lexical side for them.
    pub(crate) fn embed(&self, texts: &[&str]) -> Vec<f32> {
        let dims = self.dims;
        let mut out = vec![0f32; texts.len() * dims];
        let mut missing: Vec<usize> = Vec::new();
        for (i, text) in texts.iter().enumerate() {
            match self.cache.get(*text) {
                Some(v) => out[i * dims..(i + 1) * dims].copy_from_slice(&v),
                None => missing.push(i),
            }
        }
        missing.sort_by_key(|&i| texts[i].len());
        for batch in length_batches(&missing, |i| texts[i].len()) {
            let inputs: Vec<&str> = batch.iter().map(|&i| texts[i]).collect();
            match self.encode(&inputs) {
                Ok(vectors) => {
                    for (&i, v) in batch.iter().zip(vectors.chunks_exact(dims)) {
                        out[i * dims..(i + 1) * dims].copy_from_slice(v);
                        self.cache.insert(texts[i].to_owned(), Arc::from(v));
                    }
                }
                Err(message) => tracing::warn!(
                    model = %self.name,
                    texts = inputs.len(),
                    %message,
                    "the embedding model failed; these texts are searched lexically only"
                ),
            }
        }
        out
    }

    /// One forward pass over `texts`: mean of the last hidden states over
    /// each text's tokens (not its padding), scaled to unit length.
    fn encode(&self, texts: &[&str]) -> Result<Vec<f32>, String> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|e| e.to_string())?;
        let len = encodings
            .iter()
            .map(|e| e.get_ids().len())
            .max()
            .unwrap_or(0);
        if len == 0 {
            return Ok(vec![0.0; texts.len() * self.dims]);
        }
        let mut ids = vec![0u32; texts.len() * len];
        let mut mask = vec![0u32; texts.len() * len];
        for (row, e) in encodings.iter().enumerate() {
            let at = row * len;
            ids[at..at + e.get_ids().len()].copy_from_slice(e.get_ids());
            mask[at..at + e.get_ids().len()].fill(1);
        }
        let candle = |e: candle_core::Error| e.to_string();
        let shape = (texts.len(), len);
        let ids = Tensor::from_vec(ids, shape, &Device::Cpu).map_err(candle)?;
        let mask = Tensor::from_vec(mask, shape, &Device::Cpu).map_err(candle)?;
        let types = ids.zeros_like().map_err(candle)?;
        let hidden = self
            .bert
            .forward(&ids, &types, Some(&mask))
            .map_err(candle)?;
        let weights = mask
            .to_dtype(DType::F32)
            .and_then(|m| m.unsqueeze(2))
            .map_err(candle)?;
        let sums = hidden
            .broadcast_mul(&weights)
            .and_then(|h| h.sum(1))
            .map_err(candle)?;
        let counts = weights.sum(1).map_err(candle)?;
        let means = sums.broadcast_div(&counts).map_err(candle)?;
        let mut vectors = means
            .flatten_all()
            .and_then(|m| m.to_vec1::<f32>())
            .map_err(candle)?;
        for v in vectors.chunks_exact_mut(self.dims) {
            let norm = crate::semantic::dot(v, v).sqrt();
            if norm > 0.0 {
                v.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(vectors)
    }
}

/// Splits `sorted` (shortest first) into batches of at most [`BATCH`]
/// texts, each ending before a text over twice as long as the batch's
/// first: every text is padded to its batch's longest, so a request's
/// short sentences must not share a batch with the whole request.
fn length_batches(sorted: &[usize], len: impl Fn(usize) -> usize) -> Vec<&[usize]> {
    let mut batches = Vec::new();
    let mut start = 0;
    for end in 1..=sorted.len() {
        let full = end - start == BATCH;
        let longer = end < sorted.len() && len(sorted[end]) > 2 * len(sorted[start]).max(8);
        if end == sorted.len() || full || longer {
            batches.push(&sorted[start..end]);
            start = end;
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_hold_texts_of_similar_length_and_at_most_a_batch() {
        let lens = [10, 12, 19, 20, 21, 50, 300];
        let sorted: Vec<usize> = (0..lens.len()).collect();
        let batches = length_batches(&sorted, |i| lens[i]);
        assert_eq!(batches, [&[0, 1, 2, 3][..], &[4], &[5], &[6]]);
        let many: Vec<usize> = (0..70).collect();
        let sizes: Vec<usize> = length_batches(&many, |_| 5)
            .iter()
            .map(|b| b.len())
            .collect();
        assert_eq!(sizes, [BATCH, BATCH, 70 - 2 * BATCH]);
        assert!(length_batches(&[], |_| 1).is_empty());
    }

    /// The model `cargo xtask fetch-model --model all-minilm-l6-v2` installs,
    /// or None (and a line on stderr) when it is not installed; `.ci/run`
    /// installs it and sets `RUSTCHAIN_REQUIRE_MODELS` so that it is checked.
    fn installed() -> Option<TransformerModel> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models/all-minilm-l6-v2");
        if !dir.join("model.json").is_file() {
            assert!(
                std::env::var_os("RUSTCHAIN_REQUIRE_MODELS").is_none(),
                "no model at {}",
                dir.display()
            );
            eprintln!("no model at {}: not checked", dir.display());
            return None;
        }
        Some(TransformerModel::load(&dir, "all-minilm-l6-v2".into(), 384, None).unwrap())
    }

    #[test]
    fn a_batch_embeds_each_text_as_it_would_alone() {
        let Some(model) = installed() else { return };
        // Lengths differ, so the shorter texts are padded in the batch.
        let texts = [
            "weather",
            "Get the current weather forecast for a city, in Celsius or Fahrenheit",
            "",
            "send an email to my manager about tomorrow's meeting",
        ];
        let together = model.embed(&texts);
        for (i, text) in texts.iter().enumerate() {
            let alone = model.embed(&[text]);
            let got = &together[i * 384..(i + 1) * 384];
            let worst = got
                .iter()
                .zip(&alone)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "{text:?} differs by {worst}");
            assert!((crate::semantic::dot(got, got) - 1.0).abs() < 1e-4);
        }
    }

    #[test]
    fn a_text_past_the_token_limit_is_cut_not_refused() {
        let Some(model) = installed() else { return };
        let long = "weather ".repeat(2_000);
        let v = model.embed(&[long.as_str()]);
        assert!((crate::semantic::dot(&v, &v) - 1.0).abs() < 1e-4);
    }

    #[test]
    fn a_model_directory_without_its_files_is_an_error_naming_the_file() {
        let dir = tempfile_dir();
        let err = TransformerModel::load(&dir, "m".into(), 384, None).unwrap_err();
        assert!(err.to_string().contains("config.json"), "{err}");
        std::fs::write(dir.join("config.json"), r#"{"vocab_size": 10, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1, "intermediate_size": 8, "hidden_act": "gelu", "max_position_embeddings": 8, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_dropout_prob": 0.0, "initializer_range": 0.02, "pad_token_id": 0}"#).unwrap();
        let err = TransformerModel::load(&dir, "m".into(), 384, None).unwrap_err();
        assert!(err.to_string().contains("hidden_size"), "{err}");
        let err = TransformerModel::load(&dir, "m".into(), 8, None).unwrap_err();
        assert!(err.to_string().contains("tokenizer.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rustchain-transformer-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
