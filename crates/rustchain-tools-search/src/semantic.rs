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

use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
use rustc_hash::{FxHashMap, FxHasher};
use serde::Deserialize;

use crate::analyze::WordMap;
use crate::error::SearchError;

/// The word-boundary mark of SentencePiece vocabularies.
const SPACE_MARK: char = '\u{2581}';

/// A static embedding model: the kind [`EmbeddingModel`] loads from a
/// `model.json` without a `kind` (or with `"kind": "static"`).
pub(crate) struct StaticModel {
    name: String,
    dims: usize,
    /// IEEE half floats (bits), `rows × dims`, as in the file: half the
    /// memory of f32, so pooling reads half as many bytes; converting a
    /// half to f32 is exact.
    table: Vec<u16>,
    vocab: FxHashMap<String, u32>,
    /// (left, right) → (rank, merged token).
    merges: FxHashMap<(u32, u32), (u32, u32)>,
    byte_tokens: [Option<u32>; 256],
    /// The token of each ASCII character and of the word-boundary mark, so
    /// that tokenizing a word looks its characters up without hashing.
    ascii_tokens: [Option<u32>; 128],
    space_token: Option<u32>,
    unk: Option<u32>,
    fingerprint: u64,
}

impl std::fmt::Debug for StaticModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StaticModel")
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
    #[serde(default)]
    kind: Option<String>,
    dims: usize,
    /// Rows of a static model's table.
    #[serde(default)]
    rows: usize,
    /// Tokens a transformer reads of a text (the rest is cut).
    #[serde(default)]
    #[cfg_attr(not(feature = "transformer"), allow(dead_code))]
    max_tokens: Option<usize>,
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

/// The bytes of a model file, or an error naming it.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, SearchError> {
    std::fs::read(path).map_err(|source| SearchError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A model file that is not what it should be, and why.
pub(crate) fn format_error(path: &Path, message: impl std::fmt::Display) -> SearchError {
    SearchError::Format {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// A loaded embedding model: static (WordLlama: token rows, mean pooling;
/// microseconds per query) or, with the `transformer` feature, a BERT
/// sentence encoder (all-MiniLM-L6-v2; milliseconds per query). Immutable;
/// share it with `Arc`.
#[derive(Debug)]
pub struct EmbeddingModel {
    kind: ModelKind,
}

#[derive(Debug)]
enum ModelKind {
    Static(Box<StaticModel>),
    #[cfg(feature = "transformer")]
    Transformer(Box<crate::transformer::TransformerModel>),
}

impl EmbeddingModel {
    /// Loads the model kept in `dir`: `model.json` names its kind
    /// (`"static"`, the default, or `"transformer"`) and the files beside it
    /// (see the module documentation).
    pub fn load(dir: &Path) -> Result<Self, SearchError> {
        let meta_path = dir.join("model.json");
        let meta: Meta = serde_json::from_slice(&read(&meta_path)?)
            .map_err(|e| format_error(&meta_path, e.to_string()))?;
        if meta.dims == 0 {
            return Err(format_error(&meta_path, "dims must be positive"));
        }
        let kind = match meta.kind.as_deref() {
            None | Some("static") => ModelKind::Static(Box::new(StaticModel::load(dir, meta)?)),
            #[cfg(feature = "transformer")]
            Some("transformer") => {
                ModelKind::Transformer(Box::new(crate::transformer::TransformerModel::load(
                    dir,
                    meta.name,
                    meta.dims,
                    meta.max_tokens,
                )?))
            }
            #[cfg(not(feature = "transformer"))]
            Some("transformer") => {
                return Err(format_error(
                    &meta_path,
                    "a transformer model needs rustchain-tools-search built with its `transformer` feature",
                ));
            }
            Some(other) => {
                return Err(format_error(
                    &meta_path,
                    format!(
                        "unknown model kind {other:?} (expected \"static\" or \"transformer\")"
                    ),
                ));
            }
        };
        Ok(Self { kind })
    }

    #[cfg(test)]
    pub(crate) fn from_static(model: StaticModel) -> Self {
        Self {
            kind: ModelKind::Static(Box::new(model)),
        }
    }

    /// The model's name (from `model.json`).
    pub fn name(&self) -> &str {
        match &self.kind {
            ModelKind::Static(m) => &m.name,
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(m) => m.name(),
        }
    }

    /// The length of the vectors.
    pub fn dims(&self) -> usize {
        match &self.kind {
            ModelKind::Static(m) => m.dims,
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(m) => m.dims(),
        }
    }

    /// A hash of the weights: an index records it to refuse query vectors
    /// from another model.
    pub fn fingerprint(&self) -> u64 {
        match &self.kind {
            ModelKind::Static(m) => m.fingerprint,
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(m) => m.fingerprint(),
        }
    }

    /// Whether a text's vector depends on its words' context (a
    /// transformer), so that embedding costs milliseconds, not microseconds.
    pub fn is_contextual(&self) -> bool {
        !matches!(self.kind, ModelKind::Static(_))
    }

    /// The unit vector of `text` (all zeros when it has no token).
    pub fn embed(&self, text: &str) -> Vec<f32> {
        match &self.kind {
            ModelKind::Static(m) => m.embed(text),
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(m) => m.embed(&[text]),
        }
    }

    /// Forgets the vectors a contextual model remembers of recent texts
    /// (a static model remembers none), so that the next embeddings are
    /// computed: for measuring what an unseen request costs.
    pub fn clear_cache(&self) {
        match &self.kind {
            ModelKind::Static(_) => {}
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(m) => m.clear_cache(),
        }
    }

    /// The static model, which the index embeds documents with token by token.
    pub(crate) fn as_static(&self) -> Option<&StaticModel> {
        match &self.kind {
            ModelKind::Static(m) => Some(m),
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(_) => None,
        }
    }

    /// The unit vectors of `texts`, one after another; a static model
    /// remembers each word's tokens in `cache`, a transformer encodes them
    /// in one batch.
    pub(crate) fn embed_all(&self, texts: &[&str], cache: &mut WordTokens) -> Vec<f32> {
        match &self.kind {
            ModelKind::Static(m) => {
                let mut out = Vec::with_capacity(texts.len() * m.dims);
                for text in texts {
                    m.embed_into(text, cache, &mut out);
                }
                out
            }
            #[cfg(feature = "transformer")]
            ModelKind::Transformer(m) => m.embed(texts),
        }
    }
}

impl StaticModel {
    /// Loads the static model kept in `dir`, described by `meta`.
    fn load(dir: &Path, meta: Meta) -> Result<Self, SearchError> {
        if meta.rows == 0 {
            return Err(format_error(
                &dir.join("model.json"),
                "rows must be positive",
            ));
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
        let table: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
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
        table: Vec<u16>,
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
        let ascii_tokens = std::array::from_fn(|b| {
            let c = char::from(b as u8);
            bpe.vocab.get(c.encode_utf8(&mut [0; 4]) as &str).copied()
        });
        let space_token = bpe
            .vocab
            .get(SPACE_MARK.encode_utf8(&mut [0; 4]) as &str)
            .copied();
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
            ascii_tokens,
            space_token,
            unk,
            fingerprint,
        })
    }

    /// The length of the vectors.
    pub(crate) fn dims(&self) -> usize {
        self.dims
    }

    /// The token ids of `text`.
    pub(crate) fn tokenize(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut word = String::new();
        let mut scratch = BpeScratch::default();
        for w in text.split_whitespace() {
            word.clear();
            word.push(SPACE_MARK);
            word.push_str(w);
            self.tokenize_word(&word, &mut out, &mut scratch);
        }
        out
    }

    /// Appends the tokens of `word` to `out`; `scratch` holds buffers
    /// reused from word to word.
    fn tokenize_word(&self, word: &str, out: &mut Vec<u32>, scratch: &mut BpeScratch) {
        let BpeScratch { symbols, pairs } = scratch;
        // Symbols: a token id, or None for a character the vocabulary lacks
        // (it never merges, and falls back to byte tokens), and the byte
        // range of `word` it covers.
        symbols.clear();
        for (i, c) in word.char_indices() {
            let end = i + c.len_utf8();
            symbols.push((self.char_token(c, &word[i..end]), i, end));
        }
        // The merge of each neighbouring pair, kept up to date as pairs
        // merge: a merge changes only the pairs beside it, so each step
        // looks up two pairs instead of all of them.
        let pair = |a: Option<u32>, b: Option<u32>| match (a, b) {
            (Some(a), Some(b)) => self.merges.get(&(a, b)).copied(),
            _ => None,
        };
        pairs.clear();
        pairs.extend(symbols.windows(2).map(|p| pair(p[0].0, p[1].0)));
        loop {
            // The lowest rank, the leftmost pair on ties (equal ranks are
            // the same merge).
            let mut best: Option<(u32, usize, u32)> = None;
            for (i, p) in pairs.iter().enumerate() {
                if let Some((rank, merged)) = *p
                    && best.is_none_or(|(r, _, _)| rank < r)
                {
                    best = Some((rank, i, merged));
                }
            }
            let Some((_, i, merged)) = best else { break };
            symbols[i] = (Some(merged), symbols[i].1, symbols[i + 1].2);
            symbols.remove(i + 1);
            pairs.remove(i);
            if i > 0 {
                pairs[i - 1] = pair(symbols[i - 1].0, symbols[i].0);
            }
            if i + 1 < symbols.len() {
                pairs[i] = pair(symbols[i].0, symbols[i + 1].0);
            }
        }
        for &(id, start, end) in symbols.iter() {
            match id {
                Some(id) => out.push(id),
                None => {
                    for &b in &word.as_bytes()[start..end] {
                        if let Some(t) = self.byte_tokens[usize::from(b)].or(self.unk) {
                            out.push(t);
                        }
                    }
                }
            }
        }
    }

    /// The token of the character `c` (`s` is its text), if the vocabulary has one.
    #[inline]
    fn char_token(&self, c: char, s: &str) -> Option<u32> {
        match u8::try_from(c) {
            Ok(b) if b < 0x80 => self.ascii_tokens[usize::from(b)],
            _ if c == SPACE_MARK => self.space_token,
            _ => self.vocab.get(s).copied(),
        }
    }

    /// The unit vector of `text` (all zeros when it has no token).
    pub(crate) fn embed(&self, text: &str) -> Vec<f32> {
        self.pool(&self.tokenize(text))
    }

    /// Appends the unit vector of `text` to `out`, tokenizing each distinct
    /// word once per `cache` and reusing its buffers: embedding a batch of
    /// documents allocates nothing per document.
    pub(crate) fn embed_into(&self, text: &str, cache: &mut WordTokens, out: &mut Vec<f32>) {
        let mut ids = std::mem::take(&mut cache.ids);
        ids.clear();
        self.word_ids(text, cache, &mut ids);
        self.pool_into(&ids, out);
        cache.ids = ids;
    }

    /// Appends the token ids of the words of `text` (split at white space)
    /// to `ids`, tokenizing each distinct word once per `cache`.
    pub(crate) fn word_ids(&self, text: &str, cache: &mut WordTokens, ids: &mut Vec<u32>) {
        let WordTokens {
            words,
            tokens,
            word,
            bpe,
            ..
        } = cache;
        for w in text.split_whitespace() {
            let (start, end) = words.get_or_insert_with(w, |w| {
                word.clear();
                word.push(SPACE_MARK);
                word.push_str(w);
                let start = tokens.len();
                self.tokenize_word(word, tokens, bpe);
                let span = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
                (span(start), span(tokens.len()))
            });
            ids.extend_from_slice(&tokens[start as usize..end as usize]);
        }
    }

    /// The mean of the tokens' rows, scaled to unit length.
    fn pool(&self, ids: &[u32]) -> Vec<f32> {
        let mut v = Vec::with_capacity(self.dims);
        self.pool_into(ids, &mut v);
        v
    }

    /// [`StaticModel::pool`], appended to `out`.
    pub(crate) fn pool_into(&self, ids: &[u32], out: &mut Vec<f32>) {
        let at = out.len();
        out.resize(at + self.dims, 0.0);
        let v = &mut out[at..];
        add_rows(&self.table, self.dims, ids, v);
        let norm = dot(v, v).sqrt();
        if norm > 0.0 {
            for x in v.iter_mut() {
                *x /= norm;
            }
        }
    }
}

/// Adds the `dims`-long rows `ids` of the half-float `table` to `v`, in
/// order (ids past the table add nothing). `half` converts each row with
/// F16C where the CPU has it, exactly, so the sums do not depend on it.
fn add_rows(table: &[u16], dims: usize, ids: &[u32], v: &mut [f32]) {
    let mut row_f32 = vec![0f32; dims];
    for &id in ids {
        let row_at = id as usize * dims;
        if let Some(row) = table.get(row_at..row_at + dims) {
            row.reinterpret_cast::<half::f16>()
                .convert_to_f32_slice(&mut row_f32);
            for (x, &y) in v.iter_mut().zip(&row_f32) {
                *x += y;
            }
        }
    }
}

/// Reusable state for embedding many texts: each distinct word's tokens
/// (a range of `tokens`), and buffers for the text being embedded.
#[derive(Default)]
pub(crate) struct WordTokens {
    words: WordMap<(u32, u32)>,
    tokens: Vec<u32>,
    ids: Vec<u32>,
    word: String,
    bpe: BpeScratch,
}

/// Buffers of [`StaticModel::tokenize_word`]: the symbols of the word
/// (token, start, end) and the merge of each neighbouring pair.
#[derive(Default)]
struct BpeScratch {
    symbols: Vec<(Option<u32>, usize, usize)>,
    pairs: Vec<Option<(u32, u32)>>,
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

/// The half-float bits of `values`, for test tables.
#[cfg(test)]
fn halves(values: &[f32]) -> Vec<u16> {
    values
        .iter()
        .map(|&x| half::f16::from_f32(x).to_bits())
        .collect()
}

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
    let table = halves(&rows.concat());
    let bpe = BpeModel {
        vocab,
        merges,
        unk_token: None,
    };
    match StaticModel::from_parts(
        "test".into(),
        dims,
        table,
        bpe,
        fingerprint,
        Path::new("test"),
    ) {
        Ok(m) => EmbeddingModel::from_static(m),
        Err(e) => panic!("test model: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny model: vocabulary ▁, a, b, ab, ▁ab, and the bytes 0x00..0xFF.
    fn tiny() -> StaticModel {
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
        StaticModel::from_parts("tiny".into(), dims, halves(&table), bpe, 1, Path::new("t"))
            .unwrap()
    }

    #[test]
    fn merges_by_rank_and_falls_back_to_bytes() {
        let m = tiny();
        assert_eq!(m.tokenize("ab"), [4]);
        assert_eq!(m.tokenize("aab"), [0, 1, 3]);
        // Both "a b" pairs merge, then the mark with the first.
        assert_eq!(m.tokenize("abab"), [4, 3]);
        // "é" is not in the vocabulary: its two UTF-8 bytes.
        assert_eq!(m.tokenize("é"), [0, 5 + 0xC3, 5 + 0xA9]);
        assert!(m.tokenize("  ").is_empty());
    }

    #[test]
    fn cached_embedding_is_the_same() {
        let m = tiny();
        let mut cache = WordTokens::default();
        for text in ["ab aab", "aab é ab", ""] {
            let mut v = Vec::new();
            m.embed_into(text, &mut cache, &mut v);
            assert_eq!(v, m.embed(text));
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
    fn an_unknown_model_kind_is_refused_by_name() {
        let dir = std::env::temp_dir().join(format!("rustchain-kind-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("model.json"),
            r#"{"name": "m", "kind": "onnx", "dims": 4}"#,
        )
        .unwrap();
        let err = EmbeddingModel::load(&dir).unwrap_err().to_string();
        assert!(err.contains("unknown model kind \"onnx\""), "{err}");
        std::fs::write(dir.join("model.json"), r#"{"name": "m", "dims": 0}"#).unwrap();
        let err = EmbeddingModel::load(&dir).unwrap_err().to_string();
        assert!(err.contains("dims must be positive"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn test_model_embeds_whole_words() {
        let m = test_model(&[("rain", &[1.0, 0.0]), ("mail", &[0.0, 1.0])], 7);
        assert_eq!(m.embed("rain"), [1.0, 0.0]);
        assert_eq!(m.embed("mail zzz"), [0.0, 1.0]);
        assert_eq!(m.fingerprint(), 7);
    }

    #[test]
    fn pooling_adds_the_rows_in_order_exactly() {
        // 20 dims: two steps of eight and a tail of four.
        let dims = 20;
        let values: Vec<f32> = (0..5 * dims)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0)
            .collect();
        let table = halves(&values);
        let ids = [3, 0, 3, 9, 4, 1];
        let mut plain = vec![0f32; dims];
        add_rows(&table, dims, &ids, &mut plain);
        let want: Vec<f32> = (0..dims)
            .map(|j| {
                ids.iter().filter(|&&id| id < 5).fold(0f32, |acc, &id| {
                    acc + half::f16::from_bits(table[id as usize * dims + j]).to_f32()
                })
            })
            .collect();
        assert_eq!(plain, want);
    }

    #[test]
    fn dot_handles_tails() {
        let a: Vec<f32> = (0..11).map(|i| i as f32).collect();
        assert_eq!(dot(&a, &a), (0..11).map(|i| (i * i) as f32).sum::<f32>());
    }
}
