//! A static embedding model: a BPE tokenizer (SentencePiece style, with
//! byte fallback) and a token embedding table; a text's vector is the mean of
//! its tokens' rows, scaled to unit length. This is how WordLlama embeds
//! text, and it runs in microseconds per query.
//!
//! A model directory (written by `cargo xtask fetch-model`) holds
//! `model.json` (`{"name", "dims", "rows"}`), `tokenizer.json` (the Hugging
//! Face tokenizer file: `model.vocab` and `model.merges` are used),
//! `embeddings.f16` (`rows × dims` little-endian IEEE half floats, row-major)
//! and the model's `LICENSE`.

use std::hash::Hasher;
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHasher};
use serde::Deserialize;

use crate::error::SearchError;

/// The word-boundary mark of SentencePiece vocabularies.
const SPACE_MARK: char = '\u{2581}';

/// A loaded static embedding model. Immutable; share it with `Arc`.
pub struct EmbeddingModel {
    name: String,
    dims: usize,
    table: Vec<f32>,
    vocab: FxHashMap<String, u32>,
    /// (left, right) → (rank, merged token).
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    byte_tokens: [Option<u32>; 256],
    unk: Option<u32>,
    fingerprint: u64,
}

impl std::fmt::Debug for EmbeddingModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddingModel")
            .field("name", &self.name)
            .field("dims", &self.dims)
            .field("vocab", &self.vocab.len())
            .field("merges", &self.merges.len())
            .finish()
    }
}

#[derive(Deserialize)]
struct Meta {
    name: String,
    dims: usize,
    rows: usize,
}

#[derive(Deserialize)]
struct TokenizerFile {
    model: BpeModel,
}

#[derive(Deserialize)]
struct BpeModel {
    vocab: FxHashMap<String, u32>,
    merges: Vec<Merge>,
    #[serde(default)]
    unk_token: Option<String>,
}

/// Tokenizer files write a merge as `"a b"` (older) or `["a", "b"]` (newer).
#[derive(Deserialize)]
#[serde(untagged)]
enum Merge {
    Joined(String),
    Pair(String, String),
}

fn read(path: &Path) -> Result<Vec<u8>, SearchError> {
    std::fs::read(path).map_err(|source| SearchError::Io {
        path: path.to_owned(),
        source,
    })
}

fn format_error(path: &Path, message: impl Into<String>) -> SearchError {
    SearchError::Format {
        path: path.to_owned(),
        message: message.into(),
    }
}

impl EmbeddingModel {
    /// Loads the model kept in `dir` (see the module documentation for the files).
    pub fn load(dir: &Path) -> Result<Self, SearchError> {
        let meta_path = dir.join("model.json");
        let meta: Meta = serde_json::from_slice(&read(&meta_path)?)
            .map_err(|e| format_error(&meta_path, e.to_string()))?;
        if meta.dims == 0 || meta.rows == 0 {
            return Err(format_error(&meta_path, "dims and rows must be positive"));
        }
        let tok_path = dir.join("tokenizer.json");
        let tok: TokenizerFile = serde_json::from_slice(&read(&tok_path)?)
            .map_err(|e| format_error(&tok_path, e.to_string()))?;
        let table_path = dir.join("embeddings.f16");
        let bytes = read(&table_path)?;
        let expected = meta
            .rows
            .checked_mul(meta.dims)
            .and_then(|c| c.checked_mul(2));
        if expected != Some(bytes.len()) {
            return Err(format_error(
                &table_path,
                format!(
                    "{} bytes, expected {} rows × {} dims × 2 bytes",
                    bytes.len(),
                    meta.rows,
                    meta.dims
                ),
            ));
        }
        let mut hasher = FxHasher::default();
        hasher.write(&bytes);
        hasher.write_usize(meta.dims);
        let table: Vec<f32> = bytes
            .chunks_exact(2)
            .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
            .collect();
        Self::from_parts(
            meta.name,
            meta.dims,
            table,
            tok.model,
            hasher.finish(),
            &tok_path,
        )
    }

    fn from_parts(
        name: String,
        dims: usize,
        table: Vec<f32>,
        bpe: BpeModel,
        fingerprint: u64,
        tok_path: &Path,
    ) -> Result<Self, SearchError> {
        let rows = table.len() / dims;
        if let Some((t, &id)) = bpe.vocab.iter().find(|&(_, &id)| id as usize >= rows) {
            return Err(format_error(
                tok_path,
                format!("token {t:?} has id {id}, past the {rows} rows of the embedding table"),
            ));
        }
        let mut merges = FxHashMap::default();
        for (rank, m) in bpe.merges.iter().enumerate() {
            let (a, b) = match m {
                Merge::Joined(s) => match s.split_once(' ') {
                    Some(p) => p,
                    None => {
                        return Err(format_error(
                            tok_path,
                            format!("merge {rank} {s:?} has no space"),
                        ));
                    }
                },
                Merge::Pair(a, b) => (a.as_str(), b.as_str()),
            };
            let (Some(&l), Some(&r), Some(&m)) = (
                bpe.vocab.get(a),
                bpe.vocab.get(b),
                bpe.vocab.get(&format!("{a}{b}")),
            ) else {
                return Err(format_error(
                    tok_path,
                    format!("merge {rank} ({a:?}, {b:?}) uses unknown tokens"),
                ));
            };
            merges.entry((l, r)).or_insert((rank as u32, m));
        }
        let byte_tokens = std::array::from_fn(|b| bpe.vocab.get(&format!("<0x{b:02X}>")).copied());
        let unk = bpe
            .unk_token
            .as_ref()
            .and_then(|u| bpe.vocab.get(u))
            .copied();
        Ok(Self {
            name,
            dims,
            table,
            vocab: bpe.vocab,
            merges,
            byte_tokens,
            unk,
            fingerprint,
        })
    }

    /// The model's name (from `model.json`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The length of the vectors.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// A hash of the weights: an index records it to refuse query vectors
    /// from another model.
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// The token ids of `text`.
    pub fn tokenize(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut word = String::new();
        for w in text.split_whitespace() {
            word.clear();
            word.push(SPACE_MARK);
            word.push_str(w);
            self.tokenize_word(&word, &mut out);
        }
        out
    }

    fn tokenize_word(&self, word: &str, out: &mut Vec<u32>) {
        // Symbols: a token id, or None for a character the vocabulary lacks
        // (it never merges, and falls back to byte tokens).
        let mut symbols: Vec<(Option<u32>, &str)> = Vec::with_capacity(word.len());
        let mut buf = [0u8; 4];
        for (i, c) in word.char_indices() {
            let s = &word[i..i + c.len_utf8()];
            symbols.push((self.vocab.get(c.encode_utf8(&mut buf) as &str).copied(), s));
        }
        loop {
            let best = symbols
                .windows(2)
                .enumerate()
                .filter_map(|(i, p)| match (p[0].0, p[1].0) {
                    (Some(a), Some(b)) => self.merges.get(&(a, b)).map(|&(rank, m)| (rank, i, m)),
                    _ => None,
                })
                .min();
            let Some((_, i, merged)) = best else { break };
            let start = symbols[i].1.as_ptr() as usize - word.as_ptr() as usize;
            let end = start + symbols[i].1.len() + symbols[i + 1].1.len();
            symbols[i] = (Some(merged), &word[start..end]);
            symbols.remove(i + 1);
        }
        for (id, s) in symbols {
            match id {
                Some(id) => out.push(id),
                None => {
                    for b in s.bytes() {
                        if let Some(t) = self.byte_tokens[usize::from(b)].or(self.unk) {
                            out.push(t);
                        }
                    }
                }
            }
        }
    }

    /// The unit vector of `text` (all zeros when it has no token).
    pub fn embed(&self, text: &str) -> Vec<f32> {
        self.pool(&self.tokenize(text))
    }

    /// [`EmbeddingModel::embed`] that remembers each word's tokens in
    /// `cache`: embedding many texts tokenizes each distinct word once.
    pub(crate) fn embed_cached(&self, text: &str, cache: &mut WordTokens) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.dims);
        self.embed_into(text, cache, &mut v);
        v
    }

    /// Appends the unit vector of `text` to `out`, tokenizing each distinct
    /// word once per `cache` and reusing its buffers: embedding a batch of
    /// documents allocates nothing per document.
    pub(crate) fn embed_into(&self, text: &str, cache: &mut WordTokens, out: &mut Vec<f32>) {
        let WordTokens {
            words,
            tokens,
            ids,
            word,
        } = cache;
        ids.clear();
        for w in text.split_whitespace() {
            if let Some(&(start, end)) = words.get(w) {
                ids.extend_from_slice(&tokens[start as usize..end as usize]);
                continue;
            }
            word.clear();
            word.push(SPACE_MARK);
            word.push_str(w);
            let start = tokens.len();
            self.tokenize_word(word, tokens);
            ids.extend_from_slice(&tokens[start..]);
            let span = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
            words.insert(w.into(), (span(start), span(tokens.len())));
        }
        self.pool_into(ids, out);
    }

    /// The mean of the tokens' rows, scaled to unit length.
    fn pool(&self, ids: &[u32]) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.dims);
        self.pool_into(ids, &mut v);
        v
    }

    /// [`EmbeddingModel::pool`], appended to `out`.
    fn pool_into(&self, ids: &[u32], out: &mut Vec<f32>) {
        let at = out.len();
        out.resize(at + self.dims, 0.0);
        let v = &mut out[at..];
        for &id in ids {
            let row_at = id as usize * self.dims;
            if let Some(row) = self.table.get(row_at..row_at + self.dims) {
                for (x, r) in v.iter_mut().zip(row) {
                    *x += r;
                }
            }
        }
        let norm = dot(v, v).sqrt();
        if norm > 0.0 {
            for x in v.iter_mut() {
                *x /= norm;
            }
        }
    }
}

/// Reusable state for embedding many texts: each distinct word's tokens
/// (a range of `tokens`), and buffers for the text being embedded.
#[derive(Default)]
pub(crate) struct WordTokens {
    words: FxHashMap<Box<str>, (u32, u32)>,
    tokens: Vec<u32>,
    ids: Vec<u32>,
    word: String,
}

/// The dot product of two vectors (of the shorter length), written in eight
/// lanes so that the compiler vectorises it.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// A directory beside the workspace where `cargo xtask fetch-model` puts the model.
pub fn default_model_dir(workspace_root: &Path) -> PathBuf {
    workspace_root.join("models").join(DEFAULT_MODEL)
}

/// The name of the model `cargo xtask fetch-model` installs.
pub const DEFAULT_MODEL: &str = "wordllama-l2-supercat-256";

/// A small model for tests: whole words (each given a vector) built by
/// merging a word's prefix with its next character; other text falls back to
/// bytes, which embed to zero.
#[cfg(test)]
pub(crate) fn test_model(words: &[(&str, &[f32])], fingerprint: u64) -> EmbeddingModel {
    let dims = words.first().map_or(1, |(_, v)| v.len());
    let mut vocab: FxHashMap<String, u32> = FxHashMap::default();
    let mut rows: Vec<Vec<f32>> = Vec::new();
    let id = |t: &str,
              v: Option<&[f32]>,
              vocab: &mut FxHashMap<String, u32>,
              rows: &mut Vec<Vec<f32>>| {
        let next = vocab.len() as u32;
        let i = *vocab.entry(t.to_owned()).or_insert(next);
        if i as usize == rows.len() {
            rows.push(vec![0.0; dims]);
        }
        if let Some(v) = v {
            rows[i as usize] = v.to_vec();
        }
    };
    for b in 0..=255u32 {
        id(&format!("<0x{b:02X}>"), None, &mut vocab, &mut rows);
    }
    let mut merges = Vec::new();
    for (w, v) in words {
        let w = format!("{SPACE_MARK}{w}");
        let chars: Vec<char> = w.chars().collect();
        let mut prefix = String::new();
        for (i, c) in chars.iter().enumerate() {
            id(&c.to_string(), None, &mut vocab, &mut rows);
            if i > 0 {
                merges.push(Merge::Pair(prefix.clone(), c.to_string()));
            }
            prefix.push(*c);
            let last = i + 1 == chars.len();
            id(&prefix, last.then_some(*v), &mut vocab, &mut rows);
        }
    }
    let table = rows.concat();
    let bpe = BpeModel {
        vocab,
        merges,
        unk_token: None,
    };
    match EmbeddingModel::from_parts(
        "test".into(),
        dims,
        table,
        bpe,
        fingerprint,
        Path::new("test"),
    ) {
        Ok(m) => m,
        Err(e) => panic!("test model: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny model: vocabulary ▁, a, b, ab, ▁ab, and the bytes 0x00..0xFF.
    fn tiny() -> EmbeddingModel {
        let mut vocab: FxHashMap<String, u32> = FxHashMap::default();
        for (i, t) in ["▁", "a", "b", "ab", "▁ab"].iter().enumerate() {
            vocab.insert((*t).to_owned(), i as u32);
        }
        for b in 0..=255u32 {
            vocab.insert(format!("<0x{b:02X}>"), 5 + b);
        }
        let rows = 5 + 256;
        let dims = 2;
        let mut table = vec![0f32; rows * dims];
        table[3 * dims] = 1.0; // "ab"
        table[4 * dims + 1] = 1.0; // "▁ab"
        let bpe = BpeModel {
            vocab,
            merges: vec![
                Merge::Joined("a b".into()),
                Merge::Pair("▁".into(), "ab".into()),
            ],
            unk_token: None,
        };
        EmbeddingModel::from_parts("tiny".into(), dims, table, bpe, 1, Path::new("t")).unwrap()
    }

    #[test]
    fn merges_by_rank_and_falls_back_to_bytes() {
        let m = tiny();
        assert_eq!(m.tokenize("ab"), [4]);
        assert_eq!(m.tokenize("aab"), [0, 1, 3]);
        // "é" is not in the vocabulary: its two UTF-8 bytes.
        assert_eq!(m.tokenize("é"), [0, 5 + 0xC3, 5 + 0xA9]);
        assert!(m.tokenize("  ").is_empty());
    }

    #[test]
    fn cached_embedding_is_the_same() {
        let m = tiny();
        let mut cache = WordTokens::default();
        for text in ["ab aab", "aab é ab", ""] {
            assert_eq!(m.embed_cached(text, &mut cache), m.embed(text));
        }
        assert_eq!(cache.words.len(), 3);
    }

    #[test]
    fn texts_embedded_into_one_buffer_are_each_their_embedding() {
        let m = tiny();
        let mut cache = WordTokens::default();
        let mut all = Vec::new();
        let texts = ["ab", "ab ba", "", "b a ab"];
        for text in texts {
            m.embed_into(text, &mut cache, &mut all);
        }
        let each: Vec<f32> = texts.iter().flat_map(|t| m.embed(t)).collect();
        assert_eq!(all, each);
    }

    #[test]
    fn embeds_to_unit_vectors() {
        let m = tiny();
        assert_eq!(m.embed("ab"), [0.0, 1.0]);
        let v = m.embed("ab xab");
        assert!((dot(&v, &v) - 1.0).abs() < 1e-6);
        assert_eq!(m.embed(""), [0.0, 0.0]);
    }

    #[test]
    fn missing_model_is_an_io_error() {
        let err = EmbeddingModel::load(Path::new("/nonexistent/model")).unwrap_err();
        assert!(err.to_string().contains("model.json"), "{err}");
    }

    #[test]
    fn test_model_embeds_whole_words() {
        let m = test_model(&[("rain", &[1.0, 0.0]), ("mail", &[0.0, 1.0])], 7);
        assert_eq!(m.embed("rain"), [1.0, 0.0]);
        assert_eq!(m.embed("mail zzz"), [0.0, 1.0]);
        assert_eq!(m.fingerprint(), 7);
    }

    #[test]
    fn dot_handles_tails() {
        let a: Vec<f32> = (0..11).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..11).map(|i| (i * i) as f32).sum::<f32>());
    }
}
