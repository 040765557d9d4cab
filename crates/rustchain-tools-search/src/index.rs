//! The search index: BM25F postings over five fields, optional document
//! embeddings, and the fused search over both.

use std::cell::RefCell;
use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;
use std::hash::Hasher;
use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::analyze::{self, WordMap};
use crate::error::SearchError;
use crate::semantic::{EmbeddingModel, StaticModel, WordTokens};

/// A tool definition as the search sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The tool's unique id (not searched; results give back positions).
    pub id: String,
    /// The tool's name, e.g. `weather.get_forecast`.
    pub name: String,
    /// What the tool does.
    pub description: String,
    /// The tool's parameters.
    pub parameters: Vec<Parameter>,
    /// Free tags or categories.
    pub tags: Vec<String>,
}

/// What the index reads of a tool definition. [`Document`] is one; a
/// caller that holds its definitions in another form implements it to index
/// them without copying their text ([`SearchIndex::with_added_from`]).
pub trait Indexable: Sync {
    /// The tool's name.
    fn name(&self) -> &str;
    /// What the tool does.
    fn description(&self) -> &str;
    /// Each parameter's name and description, in order.
    fn parameters(&self) -> impl Iterator<Item = (&str, &str)>;
    /// The tags, in order.
    fn tags(&self) -> impl Iterator<Item = &str>;
}

impl Indexable for Document {
    fn name(&self) -> &str {
        &self.name
    }

    fn description(&self) -> &str {
        &self.description
    }

    fn parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parameters
            .iter()
            .map(|p| (p.name.as_str(), p.description.as_str()))
    }

    fn tags(&self) -> impl Iterator<Item = &str> {
        self.tags.iter().map(String::as_str)
    }
}

/// One parameter of a tool.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Parameter {
    /// The parameter's name, e.g. `city_name`.
    pub name: String,
    /// What the parameter means.
    pub description: String,
}

/// One search result.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// The document's number: its position in the documents the index was built from.
    pub doc: u32,
    /// The ranking score (higher is better; comparable within one search only).
    pub score: f32,
    /// Why it matched, e.g. `"name: weather, forecast"`, `"parameters: city"`, `"semantic 0.72"`.
    pub why: Vec<String>,
}

/// The searched fields, in the order of [`SearchConfig::fields`].
const FIELD_NAMES: [&str; FIELD_COUNT] = [
    "name",
    "description",
    "parameters",
    "parameter descriptions",
    "tags",
];
const FIELD_COUNT: usize = 5;

/// Weight and length normalisation of one field in BM25F.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FieldParams {
    /// How much one occurrence in this field counts, relative to the others.
    pub weight: f32,
    /// Length normalisation, 0 (none) to 1 (full).
    pub b: f32,
}

/// The ranking parameters. The defaults were tuned on the BFCL dev queries
/// (see the crate documentation); they are general choices, not per-query ones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchConfig {
    /// BM25 term-frequency saturation.
    pub k1: f32,
    /// The tool name.
    pub name: FieldParams,
    /// The tool description.
    pub description: FieldParams,
    /// Parameter names.
    pub parameter_names: FieldParams,
    /// Parameter descriptions.
    pub parameter_descriptions: FieldParams,
    /// Tags.
    pub tags: FieldParams,
    /// Share of the semantic score in the fused score, 0 to 1.
    pub semantic_weight: f32,
    /// Score factor for each earlier-ranked document with the same name
    /// (case-insensitive), 0 to 1: several definitions of one name are
    /// versions or re-wordings of one tool, and a caller wants distinct tools
    /// in the few results it reads. 1 leaves the ranking alone; 0 lists every
    /// name once before any repeat.
    pub same_name_factor: f32,
    /// Share, 0 to 1, of the best single-sentence score in the score of a
    /// request of several sentences: such a request often asks for several
    /// tools, one per sentence, and the words of the others would drown a
    /// tool that answers only one. 0 scores the request as one text (and is
    /// what a configuration written without this field gets).
    #[serde(default)]
    pub segment_weight: f32,
    /// Score factor, 0 to 1, for each earlier-ranked document that answers
    /// the same sentence best, in a request of several sentences: it makes
    /// room for the tools of the other sentences. 1 leaves the ranking alone.
    #[serde(default = "one")]
    pub segment_repeat_factor: f32,
    /// Whether a tool the request names by its identifier (a word with `_`,
    /// an inner `.` or `-`, or in camelCase, such as `requests.get`,
    /// `get_weather` or `search-repos`) goes first: its best-scored
    /// definition among the candidates, or the one added last when none is
    /// a candidate, ahead of every other result. People who know the tool
    /// they want write its name, and no words around it should outrank it;
    /// plain words (`sort`, `cd`) are left to the ranking, since they are as
    /// often verbs as names. On by default. Not stored with an index, so
    /// that indexes saved before it existed still load: a loaded index has
    /// it on.
    #[serde(skip, default = "yes")]
    pub named_tools_first: bool,
}

/// What a loaded index gets for [`SearchConfig::named_tools_first`]: on.
fn yes() -> bool {
    true
}

/// The serde default of [`SearchConfig::segment_repeat_factor`]: off.
fn one() -> f32 {
    1.0
}

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            k1: 2.0,
            name: FieldParams {
                weight: 3.0,
                b: 0.5,
            },
            description: FieldParams {
                weight: 1.0,
                b: 0.9,
            },
            parameter_names: FieldParams {
                weight: 0.5,
                b: 0.5,
            },
            parameter_descriptions: FieldParams {
                weight: 0.5,
                b: 1.0,
            },
            tags: FieldParams {
                weight: 2.0,
                b: 0.5,
            },
            semantic_weight: 0.4,
            same_name_factor: 0.7,
            segment_weight: 0.3,
            segment_repeat_factor: 0.9,
            named_tools_first: true,
        }
    }
}

impl SearchConfig {
    /// The per-field parameters in field order (name, description,
    /// parameter names, parameter descriptions, tags).
    pub fn fields(&self) -> [FieldParams; FIELD_COUNT] {
        [
            self.name,
            self.description,
            self.parameter_names,
            self.parameter_descriptions,
            self.tags,
        ]
    }
}

/// One (term, field) of one document with its count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Entry {
    term: u32,
    field: u8,
    tf: u16,
}

/// A ranked index of tool definitions. Cheap to search from many threads;
/// building a changed index makes a new one ([`SearchIndex::with_added`]).
///
/// ```
/// use rustchain_tools_search::{Document, Parameter, SearchIndex};
/// let docs = vec![
///     Document { id: "a".into(), name: "get_weather".into(), description: "Current weather for a city".into(),
///                parameters: vec![Parameter { name: "city".into(), description: "City name".into() }], tags: vec![] },
///     Document { id: "b".into(), name: "math.factorial".into(), description: "Factorial of n".into(),
///                parameters: vec![], tags: vec!["math".into()] },
/// ];
/// let index = SearchIndex::build(&docs, None);
/// let hits = index.search("what's the weather in Paris?", 5, &|_| true);
/// assert_eq!(hits[0].doc, 0);
/// assert_eq!(hits[0].why[0], "name: weather");
/// assert!(!index.has_semantic());
/// ```
#[derive(Clone)]
pub struct SearchIndex {
    config: SearchConfig,
    vocab: Vec<Box<str>>,
    term_ids: FxHashMap<Box<str>, u32>,
    /// Per document, its range in `entries` (`doc_start[d]..doc_start[d + 1]`).
    doc_start: Vec<u32>,
    /// Grouped by term within each document, fields increasing in a group.
    entries: Vec<Entry>,
    field_len: Vec<[u32; FIELD_COUNT]>,
    /// Per document, a hash of its lowercased name.
    name_keys: Vec<u64>,
    postings: Postings,
    semantic: Semantic,
}

/// Inverted lists derived from the forward entries: per term a range of
/// documents in increasing order, with the precomputed BM25F weight and the
/// fields the term occurs in.
#[derive(Clone, Default)]
struct Postings {
    start: Vec<u32>,
    doc: Vec<u32>,
    weight: Vec<f32>,
    fields: Vec<u8>,
}

/// Why an index searches by words only ([`SearchIndex::lexical_reason`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LexicalReason {
    /// No embedding model is attached.
    NoModel,
    /// A model is attached, but not every document has a stored embedding
    /// (documents were added without the model).
    NotEmbedded,
    /// The stored embeddings came from another model than the attached one.
    OtherModel,
}

/// Document embeddings (unit vectors, `dims` per document) and the model
/// that embeds queries in the same space.
#[derive(Clone, Default)]
struct Semantic {
    dims: usize,
    fingerprint: Option<u64>,
    /// As the model gives them (persisted).
    vectors: Vec<f32>,
    /// The mean document vector (derived).
    mean: Vec<f32>,
    /// Each vector minus the mean, scaled to unit length, quantized to i8
    /// (derived). Static embeddings share a common direction; removing it
    /// spreads the cosines. i8 makes the scan over every document four times
    /// lighter on memory than f32, at no measurable cost in ranking.
    quantized: Vec<i8>,
    /// Per document, the factor that turns its i8 values back into the unit vector's.
    scales: Vec<f32>,
    model: Option<Arc<EmbeddingModel>>,
}

impl Semantic {
    /// Whether there is a stored vector for each of `docs` documents.
    fn has_vectors_for(&self, docs: usize) -> bool {
        self.dims > 0 && docs.checked_mul(self.dims) == Some(self.vectors.len())
    }

    fn active(&self) -> Option<&EmbeddingModel> {
        let model = self.model.as_deref()?;
        (self.fingerprint == Some(model.fingerprint()) && self.dims == model.dims())
            .then_some(model)
    }

    fn rebuild(&mut self) {
        self.mean.clear();
        self.quantized.clear();
        self.scales.clear();
        if self.dims == 0 || self.vectors.is_empty() {
            return;
        }
        let n = self.vectors.len() / self.dims;
        self.mean = vec![0.0; self.dims];
        for v in self.vectors.chunks_exact(self.dims) {
            for (m, x) in self.mean.iter_mut().zip(v) {
                *m += x;
            }
        }
        for m in &mut self.mean {
            *m /= n as f32;
        }
        self.quantized.reserve(self.vectors.len());
        self.scales.reserve(n);
        let mut centered = vec![0f32; self.dims];
        for v in self.vectors.chunks_exact(self.dims) {
            for ((c, x), m) in centered.iter_mut().zip(v).zip(&self.mean) {
                *c = x - m;
            }
            normalize(&mut centered);
            self.scales.push(quantize(&centered, &mut self.quantized));
        }
    }

    /// The vectors of a request's texts in the centered space, quantized,
    /// embedded together (a transformer encodes them in one batch).
    fn queries(&self, model: &EmbeddingModel, texts: &[&str]) -> Vec<QueryVector> {
        let mut words = WordTokens::default();
        let mut all = model.embed_all(texts, &mut words);
        all.chunks_exact_mut(self.dims.max(1))
            .map(|q| {
                for (x, m) in q.iter_mut().zip(&self.mean) {
                    *x -= m;
                }
                normalize(q);
                let mut values = Vec::with_capacity(q.len());
                let scale = quantize(q, &mut values);
                QueryVector { values, scale }
            })
            .collect()
    }

    /// The cosine of the query with document `d` (0 when out of range).
    fn cosine(&self, q: &QueryVector, d: usize) -> f32 {
        let at = d * self.dims;
        match (self.quantized.get(at..at + self.dims), self.scales.get(d)) {
            (Some(v), Some(s)) => dot_i8(&q.values, v) as f32 * q.scale * s,
            _ => 0.0,
        }
    }
}

/// One sentence of a request: its known terms and its embedding.
struct Segment {
    terms: Vec<u32>,
    vector: Option<QueryVector>,
}

/// The sentence of a document that answers none in particular.
const NO_TOPIC: u8 = u8::MAX;

/// A diversified search ranks at least this many candidates, and scores a
/// request's sentences on them (measured: as good as scoring every
/// document). A fixed floor keeps the first results the same whatever the
/// limit, up to a quarter of it: with 4 × limit, limits 10 and 25 ranked
/// the lower half of the top 10 differently for 25 of the 1,150 dev queries.
const MIN_CANDIDATES: usize = 100;

/// At most this many sentences of a request are scored on their own.
const MAX_SEGMENTS: usize = 8;

/// The sentences of `text`, trimmed, without empty ones: split at `.`,
/// `?`, `!` or `;` followed by white space or the end, and at line breaks
/// (so `2.5` and `data.csv` stay whole).
fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let ends = move |&i: &usize| {
        bytes.get(i).is_none_or(|&b| {
            b == b'\n'
                || (matches!(b, b'.' | b'?' | b'!' | b';')
                    && bytes.get(i + 1).is_none_or(u8::is_ascii_whitespace))
        })
    };
    let mut start = 0;
    // Every end is an ASCII byte or the text's end: slicing there is safe.
    (0..=bytes.len()).filter(ends).filter_map(move |end| {
        let piece = text[start..end].trim();
        start = end + 1;
        (!piece.is_empty()).then_some(piece)
    })
}

/// At most this many identifiers of a request are looked up as tool names.
const MAX_NAMED: usize = 8;

/// The words of `text` shaped like identifiers, as a request names a tool:
/// runs of letters, digits, `_`, `.` and `-` (the characters of a tool
/// name; trimmed of `.` and `-` at their ends) with a letter and either a
/// `_`, a `.` or `-` inside, or a lowercase letter followed by an
/// uppercase one.
fn identifiers(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !(c.is_alphanumeric() || matches!(c, '_' | '.' | '-')))
        .map(|w| w.trim_matches(['.', '-']))
        .filter(|w| {
            let (mut letter, mut camel, mut after_lower) = (false, false, false);
            for c in w.chars() {
                letter |= c.is_alphabetic();
                camel |= after_lower && c.is_uppercase();
                after_lower = c.is_lowercase();
            }
            letter && (camel || w.contains(['_', '.', '-']))
        })
}

/// A query embedding in the index's quantized space.
struct QueryVector {
    values: Vec<i8>,
    scale: f32,
}

/// Appends `v` scaled to ±127 to `out`; the factor back (0 for a zero vector).
fn quantize(v: &[f32], out: &mut Vec<i8>) -> f32 {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        out.extend(std::iter::repeat_n(0, v.len()));
        return 0.0;
    }
    let k = 127.0 / max;
    out.extend(v.iter().map(|x| round_to_i8(x * k)));
    max / 127.0
}

/// `y.round() as i8` (halves away from zero, saturating) without the call
/// to `roundf` that `f32::round` compiles to on baseline x86-64: the
/// integer part by conversion, then the fraction, which is exact, decides.
#[inline]
fn round_to_i8(y: f32) -> i8 {
    let t = y as i32;
    let fraction = y - t as f32;
    let r = if fraction >= 0.5 {
        t.saturating_add(1)
    } else if fraction <= -0.5 {
        t.saturating_sub(1)
    } else {
        t
    };
    // In range after the clamp.
    r.clamp(-128, 127) as i8
}

/// Appends the cosine of `q` with each of the `dims`-long rows of `docs`.
fn scan(q: &[i8], q_scale: f32, docs: &[i8], scales: &[f32], dims: usize, out: &mut Vec<f32>) {
    if dims == 0 || q.len() != dims {
        return;
    }
    let n = (docs.len() / dims).min(scales.len());
    out.reserve(n);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, checked just above.
        unsafe { scan_avx2(q, q_scale, docs, scales, dims, out) };
        return;
    }
    for (v, s) in docs.chunks_exact(dims).zip(scales) {
        out.push(dot_i8(q, v) as f32 * q_scale * s);
    }
}

/// The loop of [`scan`] compiled for AVX2, so that [`dot_i8_avx2`] is inlined.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_avx2(q: &[i8], q_scale: f32, docs: &[i8], scales: &[f32], dims: usize, out: &mut Vec<f32>) {
    for (v, s) in docs.chunks_exact(dims).zip(scales) {
        out.push(dot_i8_avx2(q, v) as f32 * q_scale * s);
    }
}

/// [`dot_i8`] with AVX2: sixteen i8 pairs widened to i16 and multiplied and
/// added in pairs (`vpmaddwd`) per step.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_hadd_epi32, _mm_loadu_si128,
        _mm256_add_epi32, _mm256_castsi256_si128, _mm256_cvtepi8_epi16, _mm256_extracti128_si256,
        _mm256_madd_epi16, _mm256_setzero_si256,
    };
    let n = a.len().min(b.len());
    let whole = n - n % 16;
    let mut acc = _mm256_setzero_si256();
    let mut i = 0;
    while i < whole {
        // SAFETY: i + 16 <= whole <= len of both slices; loadu has no alignment need.
        let (x, y) = unsafe {
            (
                _mm_loadu_si128(a.as_ptr().add(i).cast::<__m128i>()),
                _mm_loadu_si128(b.as_ptr().add(i).cast::<__m128i>()),
            )
        };
        let products = _mm256_madd_epi16(_mm256_cvtepi8_epi16(x), _mm256_cvtepi8_epi16(y));
        acc = _mm256_add_epi32(acc, products);
        i += 16;
    }
    let half = _mm_add_epi32(
        _mm256_castsi256_si128(acc),
        _mm256_extracti128_si256::<1>(acc),
    );
    let pairs = _mm_hadd_epi32(half, half);
    let mut sum = _mm_cvtsi128_si32(_mm_hadd_epi32(pairs, pairs));
    for j in whole..n {
        sum += i32::from(a[j]) * i32::from(b[j]);
    }
    sum
}

/// Integer dot product (portable; the compiler vectorises the sixteen lanes).
fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    let mut acc = [0i32; 16];
    let (ca, cb) = (a.chunks_exact(16), b.chunks_exact(16));
    let mut sum = 0;
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        sum += i32::from(x) * i32::from(y);
    }
    for (x, y) in ca.zip(cb) {
        for l in 0..16 {
            acc[l] += i32::from(x[l]) * i32::from(y[l]);
        }
    }
    for x in acc {
        sum += x;
    }
    sum
}

fn normalize(v: &mut [f32]) {
    let norm = crate::semantic::dot(v, v).sqrt();
    if norm > 0.0 {
        for x in v {
            *x /= norm;
        }
    }
}

impl std::fmt::Debug for SearchIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchIndex")
            .field("docs", &self.len())
            .field("terms", &self.vocab.len())
            .field("postings", &self.postings.doc.len())
            .field("semantic", &self.has_semantic())
            .finish()
    }
}

/// Writes the words of `source` into `out`, separated by spaces.
fn join_words(out: &mut String, source: &str) {
    out.clear();
    analyze::for_each_word(source, |w| {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    });
}

/// The text a contextual model embeds for a document: its name split
/// into words (ended by "."), its description, its tags, and its
/// parameters (names split into words, and descriptions), in the order the
/// static model reads them.
fn document_text(doc: &impl Indexable) -> String {
    let mut text = String::new();
    let mut words = String::new();
    join_words(&mut words, doc.name());
    text.push_str(&words);
    text.push('.');
    let mut push = |part: &str| {
        if !part.is_empty() {
            text.push(' ');
            text.push_str(part);
        }
    };
    push(doc.description());
    for tag in doc.tags() {
        push(tag);
    }
    for (name, description) in doc.parameters() {
        join_words(&mut words, name);
        push(&words);
        push(description);
    }
    text
}

/// The token ids of documents, for their embeddings. A document is
/// embedded from its name split into words (ended by "."), its
/// description, its tags, and its parameters (names split into words, and
/// descriptions), all split at white space. Tool sets repeat whole
/// descriptions, and a repeated one is split and looked up once.
#[derive(Default)]
struct DocTokens<'a> {
    words: WordTokens,
    /// Text → its token ids (a range of `text_ids`).
    texts: FxHashMap<&'a str, (usize, usize)>,
    text_ids: Vec<u32>,
    ids: Vec<u32>,
    joined: String,
}

impl<'a> DocTokens<'a> {
    /// The token ids of `doc`, in order.
    fn of(&mut self, model: &StaticModel, doc: &'a impl Indexable) -> &[u32] {
        self.ids.clear();
        join_words(&mut self.joined, doc.name());
        self.joined.push('.');
        model.word_ids(&self.joined, &mut self.words, &mut self.ids);
        self.text(model, doc.description());
        for tag in doc.tags() {
            self.text(model, tag);
        }
        for (name, description) in doc.parameters() {
            join_words(&mut self.joined, name);
            model.word_ids(&self.joined, &mut self.words, &mut self.ids);
            self.text(model, description);
        }
        &self.ids
    }

    /// Appends the token ids of `text` to `self.ids`.
    fn text(&mut self, model: &StaticModel, text: &'a str) {
        let (start, end) = *self.texts.entry(text).or_insert_with(|| {
            let start = self.text_ids.len();
            model.word_ids(text, &mut self.words, &mut self.text_ids);
            (start, self.text_ids.len())
        });
        self.ids.extend_from_slice(&self.text_ids[start..end]);
    }
}

impl SearchIndex {
    /// Builds an index of `docs` with the default configuration; document
    /// numbers are positions in `docs`. With a model, documents are embedded
    /// and searches are hybrid.
    pub fn build(docs: &[Document], model: Option<Arc<EmbeddingModel>>) -> SearchIndex {
        Self::build_with(docs, model, SearchConfig::default())
    }

    /// [`SearchIndex::build`] with other ranking parameters.
    pub fn build_with(
        docs: &[Document],
        model: Option<Arc<EmbeddingModel>>,
        config: SearchConfig,
    ) -> SearchIndex {
        let mut index = SearchIndex {
            config,
            vocab: Vec::new(),
            term_ids: FxHashMap::default(),
            doc_start: vec![0],
            entries: Vec::new(),
            field_len: Vec::new(),
            name_keys: Vec::new(),
            postings: Postings::default(),
            semantic: Semantic {
                dims: model.as_ref().map_or(0, |m| m.dims()),
                fingerprint: model.as_ref().map(|m| m.fingerprint()),
                vectors: Vec::new(),
                mean: Vec::new(),
                quantized: Vec::new(),
                scales: Vec::new(),
                model,
            },
        };
        index.append(docs);
        index.rebuild_postings();
        index.semantic.rebuild();
        index
    }

    /// A new index holding this one's documents and then `docs` (numbered
    /// from [`SearchIndex::len`] on). New documents are embedded with the
    /// attached model; without a usable model the new index is lexical only.
    pub fn with_added(&self, docs: &[Document]) -> SearchIndex {
        self.with_added_from(docs)
    }

    /// [`SearchIndex::with_added`] of definitions in any [`Indexable`] form.
    pub fn with_added_from<D: Indexable>(&self, docs: &[D]) -> SearchIndex {
        let mut index = self.clone();
        if index.semantic.active().is_none() {
            index.semantic.vectors.clear();
            index.semantic.fingerprint = None;
        }
        index.append(docs);
        index.rebuild_postings();
        index.semantic.rebuild();
        index
    }

    /// A new index of the documents whose flag in `keep` is set (one flag
    /// per document; a missing flag drops the document), renumbered from 0
    /// in their order. Their words and embeddings are kept as stored:
    /// nothing is analyzed or embedded again, so a registry compacted
    /// without the model keeps its semantic search. Terms no kept document
    /// uses are dropped.
    pub fn retain(&self, keep: &[bool]) -> SearchIndex {
        let kept: Vec<usize> = (0..self.len())
            .filter(|&d| keep.get(d).copied().unwrap_or(false))
            .collect();
        let mut used = vec![false; self.vocab.len()];
        for &d in &kept {
            for e in self.doc_entries(d) {
                used[e.term as usize] = true;
            }
        }
        let mut new_id = vec![0u32; self.vocab.len()];
        let mut vocab = Vec::with_capacity(used.iter().filter(|&&u| u).count());
        for (term, _) in self.vocab.iter().enumerate().filter(|&(t, _)| used[t]) {
            new_id[term] = u32::try_from(vocab.len()).unwrap_or(u32::MAX);
            vocab.push(self.vocab[term].clone());
        }
        let term_ids = vocab
            .iter()
            .enumerate()
            .map(|(id, term)| (term.clone(), u32::try_from(id).unwrap_or(u32::MAX)))
            .collect();
        let mut doc_start = Vec::with_capacity(kept.len() + 1);
        doc_start.push(0);
        let mut entries = Vec::new();
        for &d in &kept {
            entries.extend(self.doc_entries(d).iter().map(|e| Entry {
                term: new_id[e.term as usize],
                ..*e
            }));
            doc_start.push(u32::try_from(entries.len()).unwrap_or(u32::MAX));
        }
        let dims = self.semantic.dims;
        // Vectors (and the model they came from) are kept only when every
        // document has one, as `with_added_from` leaves them.
        let complete = self.semantic.has_vectors_for(self.len());
        let vectors = if complete {
            kept.iter()
                .flat_map(|&d| &self.semantic.vectors[d * dims..(d + 1) * dims])
                .copied()
                .collect()
        } else {
            Vec::new()
        };
        let mut index = SearchIndex {
            config: self.config.clone(),
            vocab,
            term_ids,
            doc_start,
            entries,
            field_len: kept.iter().map(|&d| self.field_len[d]).collect(),
            name_keys: kept.iter().map(|&d| self.name_keys[d]).collect(),
            postings: Postings::default(),
            semantic: Semantic {
                dims,
                fingerprint: self.semantic.fingerprint.filter(|_| complete),
                vectors,
                mean: Vec::new(),
                quantized: Vec::new(),
                scales: Vec::new(),
                model: self.semantic.model.clone(),
            },
        };
        index.rebuild_postings();
        index.semantic.rebuild();
        index
    }

    /// The same documents ranked with other parameters: the postings are
    /// weighed again, nothing is analyzed or embedded again.
    pub fn with_config(&self, config: SearchConfig) -> SearchIndex {
        let mut index = self.clone();
        index.config = config;
        index.rebuild_postings();
        index
    }

    /// Attaches the model that embeds queries (after deserializing, or to
    /// turn semantic search off with `None`). Semantic search is on only
    /// when the model is the one the stored document embeddings came from.
    pub fn attach_model(&mut self, model: Option<Arc<EmbeddingModel>>) {
        self.semantic.model = model;
    }

    /// The number of documents.
    pub fn len(&self) -> usize {
        self.field_len.len()
    }

    /// Whether the index holds no document.
    pub fn is_empty(&self) -> bool {
        self.field_len.is_empty()
    }

    /// Whether searches use the semantic model as well as the lexical one.
    pub fn has_semantic(&self) -> bool {
        self.semantic.active().is_some()
            && self.semantic.scales.len() == self.len()
            && self.semantic.quantized.len() == self.len() * self.semantic.dims
    }

    /// Why searches are lexical only, or `None` when they use the model too.
    pub fn lexical_reason(&self) -> Option<LexicalReason> {
        if self.has_semantic() {
            None
        } else if self.semantic.model.is_none() {
            Some(LexicalReason::NoModel)
        } else if !self.is_embedded() {
            Some(LexicalReason::NotEmbedded)
        } else {
            Some(LexicalReason::OtherModel)
        }
    }

    /// Whether every document has a stored embedding (whatever model is
    /// attached now): what adding documents without that model drops.
    pub fn is_embedded(&self) -> bool {
        self.semantic.fingerprint.is_some() && self.semantic.has_vectors_for(self.len())
    }

    /// The ranking parameters.
    pub fn config(&self) -> &SearchConfig {
        &self.config
    }

    /// The number of distinct terms.
    pub fn term_count(&self) -> usize {
        self.vocab.len()
    }

    /// Analyses `docs` and appends their forward entries (and embeddings).
    ///
    /// Three steps, so that each distinct word is lowercased, checked and
    /// stemmed once per batch however many threads split it: the documents'
    /// words are collected in parallel as local word numbers ([`Tokenized`]);
    /// then, in one pass in document order, each chunk's distinct words are
    /// turned into term ids of the index (new terms numbered in order of
    /// first occurrence, as a sequential pass would); then, in parallel
    /// again, each document's words become sorted (term, field) entries.
    fn append<D: Indexable>(&mut self, docs: &[D]) {
        let model = self.semantic.active().and(self.semantic.model.clone());
        let model = model.as_deref();
        let static_model = model.and_then(EmbeddingModel::as_static);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_THREADS);
        let workers = if threads < 2 || docs.len() < PARALLEL_FROM {
            1
        } else {
            threads
        };
        let chunks: Vec<&[D]> = docs.chunks(docs.len().div_ceil(workers).max(1)).collect();
        let parts = in_parallel(&chunks, |chunk| Tokenized::of(chunk, static_model));
        // Each distinct word of the batch once, in order of first occurrence.
        let mut numbers: WordMap<u32> = WordMap::default();
        let mut distinct: Vec<&str> = Vec::new();
        let global: Vec<Vec<u32>> = parts
            .iter()
            .map(|part| {
                part.words
                    .iter()
                    .map(|&w| {
                        numbers.get_or_insert_with(w, |_| {
                            distinct.push(w);
                            u32::try_from(distinct.len() - 1).unwrap_or(u32::MAX)
                        })
                    })
                    .collect()
            })
            .collect();
        // Lowercasing, stop words and stemming depend on the word alone: the
        // distinct words are split across threads; None for a stop word.
        let runs: Vec<&[&str]> = distinct
            .chunks(distinct.len().div_ceil(workers).max(1))
            .collect();
        let stems = in_parallel(&runs, |run| {
            let mut lower = String::new();
            run.iter()
                .map(|w| {
                    analyze::lowercase_into(w, &mut lower);
                    (!analyze::is_stop_word(&lower)).then(|| analyze::stem(&lower))
                })
                .collect::<Vec<_>>()
        });
        // Interned in order of first occurrence, as a sequential pass would.
        let term_of: Vec<Option<u32>> = stems
            .iter()
            .flatten()
            .map(|stem| {
                stem.as_deref()
                    .map(|s| intern(&mut self.vocab, &mut self.term_ids, s))
            })
            .collect();
        let terms: Vec<Vec<Option<u32>>> = global
            .iter()
            .map(|ids| ids.iter().map(|&d| term_of[d as usize]).collect())
            .collect();
        let work: Vec<(&Tokenized, &[Option<u32>])> =
            parts.iter().zip(terms.iter().map(Vec::as_slice)).collect();
        let analyzed = in_parallel(&work, |&(part, terms)| part.entries(terms));
        // Sized once: growing these by doubling copied and zeroed them again
        // (the vectors are megabytes).
        self.entries
            .reserve(analyzed.iter().map(|a| a.entries.len()).sum::<usize>());
        self.semantic
            .vectors
            .reserve(parts.iter().map(|p| p.vectors.len()).sum::<usize>());
        for (part, analyzed) in parts.iter().zip(analyzed) {
            let base = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
            self.entries.extend_from_slice(&analyzed.entries);
            self.doc_start.extend(
                analyzed
                    .doc_start
                    .iter()
                    .skip(1)
                    .map(|&s| base.saturating_add(s)),
            );
            self.field_len.extend(analyzed.field_len);
            self.name_keys.extend_from_slice(&part.name_keys);
            self.semantic.vectors.extend_from_slice(&part.vectors);
        }
        // A transformer uses its own threads for each batch.
        if let Some(model) = model.filter(|_| static_model.is_none()) {
            let texts: Vec<String> = docs.iter().map(document_text).collect();
            let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
            self.semantic
                .vectors
                .extend(model.embed_all(&texts, &mut WordTokens::default()));
        }
    }

    /// Recomputes the inverted lists and their BM25F weights from the forward entries.
    fn rebuild_postings(&mut self) {
        let n = self.len();
        let params = self.config.fields();
        let mut avg = [0f32; FIELD_COUNT];
        for lens in &self.field_len {
            for (a, &l) in avg.iter_mut().zip(lens) {
                *a += l as f32;
            }
        }
        for a in &mut avg {
            *a = if *a > 0.0 { *a / n as f32 } else { 1.0 };
        }
        let mut df = vec![0u32; self.vocab.len()];
        for d in 0..n {
            let mut last = u32::MAX;
            for e in self.doc_entries(d) {
                if e.term != last {
                    df[e.term as usize] += 1;
                    last = e.term;
                }
            }
        }
        let mut start = Vec::with_capacity(df.len() + 1);
        let mut total = 0u32;
        start.push(0);
        for &c in &df {
            total += c;
            start.push(total);
        }
        let idf: Vec<f32> = df
            .iter()
            .map(|&c| (1.0 + (n as f32 - c as f32 + 0.5) / (c as f32 + 0.5)).ln())
            .collect();
        let len = total as usize;
        let mut postings = Postings {
            start: start.clone(),
            doc: vec![0; len],
            weight: vec![0.0; len],
            fields: vec![0; len],
        };
        let mut fill = start;
        let k1 = self.config.k1;
        for d in 0..n {
            let lens = self.field_len[d];
            let norm: [f32; FIELD_COUNT] = std::array::from_fn(|f| {
                params[f].weight / (1.0 - params[f].b + params[f].b * lens[f] as f32 / avg[f])
            });
            let entries = self.doc_entries(d);
            let mut i = 0;
            while i < entries.len() {
                let term = entries[i].term;
                let mut tf = 0f32;
                let mut mask = 0u8;
                while i < entries.len() && entries[i].term == term {
                    let f = usize::from(entries[i].field);
                    tf += f32::from(entries[i].tf) * norm[f];
                    mask |= 1 << f;
                    i += 1;
                }
                let slot = &mut fill[term as usize];
                let at = *slot as usize;
                *slot += 1;
                postings.doc[at] = d as u32;
                postings.weight[at] = idf[term as usize] * tf * (k1 + 1.0) / (k1 + tf);
                postings.fields[at] = mask;
            }
        }
        self.postings = postings;
    }

    fn doc_entries(&self, d: usize) -> &[Entry] {
        let (a, b) = (self.doc_start[d] as usize, self.doc_start[d + 1] as usize);
        &self.entries[a..b]
    }

    /// Adds the known terms of `text` to `all` (each once, with the first
    /// word that produced it) and to `own` (each once); whether `text` has a
    /// word that is not a stop word.
    fn query_terms(&self, text: &str, all: &mut Vec<(u32, String)>, own: &mut Vec<u32>) -> bool {
        let mut any = false;
        analyze::for_each_word(text, |w| {
            if analyze::is_stop_word(w) {
                return;
            }
            any = true;
            if let Some(&t) = self.term_ids.get(analyze::stem(w).as_str()) {
                if !own.contains(&t) {
                    own.push(t);
                }
                if !all.iter().any(|(u, _)| *u == t) {
                    all.push((t, w.to_owned()));
                }
            }
        });
        any
    }

    /// The best `limit` documents for `query` among those for which `filter`
    /// returns true, best first, each with why it matched. A document
    /// matches when it shares a term with the query, when the query names
    /// it ([`SearchConfig::named_tools_first`]) or, with a model, when its
    /// embedding is closer to the query's than the average document's.
    /// `filter` is asked only about documents that would enter the results.
    pub fn search(&self, query: &str, limit: usize, filter: &dyn Fn(u32) -> bool) -> Vec<Hit> {
        let n = self.len();
        if limit == 0 || n == 0 {
            return Vec::new();
        }
        let model = if self.has_semantic() {
            self.semantic.active()
        } else {
            None
        };
        // The request's terms are those of its sentences.
        let mut terms: Vec<(u32, String)> = Vec::new();
        let mut whole: Vec<u32> = Vec::new();
        let mut segments: Vec<(&str, Vec<u32>)> = Vec::new();
        if self.config.segment_weight > 0.0 {
            for text in sentences(query) {
                let mut own = Vec::new();
                let has_words = self.query_terms(text, &mut terms, &mut own);
                // With a model, a sentence of unknown words still has a meaning.
                let meaningful = !own.is_empty() || (model.is_some() && has_words);
                if meaningful && segments.len() < MAX_SEGMENTS {
                    segments.push((text, own));
                }
            }
            whole.extend(terms.iter().map(|&(t, _)| t));
        } else {
            self.query_terms(query, &mut terms, &mut whole);
        }
        // One sentence is the whole request.
        if segments.len() < 2 {
            segments.clear();
        }
        let mut vectors = model.map(|m| {
            let texts: Vec<&str> = std::iter::once(query)
                .chain(segments.iter().map(|&(text, _)| text))
                .collect();
            self.semantic.queries(m, &texts).into_iter()
        });
        let semantic = vectors.as_mut().and_then(Iterator::next);
        let segments: Vec<Segment> = segments
            .into_iter()
            .map(|(_, terms)| Segment {
                terms,
                vector: vectors.as_mut().and_then(Iterator::next),
            })
            .collect();
        let diversify = self.config.same_name_factor < 1.0
            || (!segments.is_empty() && self.config.segment_repeat_factor < 1.0);
        // Diversifying needs more candidates than are returned.
        let pool = if diversify {
            limit.saturating_mul(4).max(MIN_CANDIDATES)
        } else {
            limit
        };
        let mut top = TopK::new(pool.min(n));
        let (top, topics) = SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let scratch = &mut *scratch;
            if segments.is_empty() {
                self.offer_single(&whole, semantic.as_ref(), scratch, &mut top, filter);
                return (top.into_sorted(), Vec::new());
            }
            let (candidates, scores, topics) =
                self.score_segments(&whole, semantic.as_ref(), &segments, pool, scratch, filter);
            // The candidates passed the filter already.
            for (&d, &score) in candidates.iter().zip(&scores) {
                if score > 0.0 {
                    top.offer(score, d, &|_| true);
                }
            }
            let top = top.into_sorted();
            let topics = top
                .iter()
                .map(|&(_, d)| candidates.binary_search(&d).map_or(NO_TOPIC, |i| topics[i]))
                .collect();
            (top, topics)
        });
        let named = if self.config.named_tools_first {
            self.named(query, &top, filter)
        } else {
            Vec::new()
        };
        let mut top = if diversify {
            self.diversify(top, &topics, limit)
        } else {
            top
        };
        if !named.is_empty() {
            // Strictly ahead of the best other result, in the order of their
            // own scores.
            let lead = top.first().map_or(0.0, |&(score, _)| score).max(named[0].0) * 1.001;
            top.retain(|&(_, d)| named.iter().all(|&(_, n)| n != d));
            let ahead = named.iter().map(|&(score, d)| (lead + score, d));
            top = ahead.chain(top).take(limit).collect();
        }
        top.into_iter()
            .map(|(score, doc)| {
                let mut why = self.explain(doc, &terms, semantic.as_ref());
                if named.iter().any(|&(_, d)| d == doc) {
                    why.insert(0, "named in the request".to_owned());
                }
                Hit { doc, score, why }
            })
            .collect()
    }

    /// The tools `query` names by identifier ([`identifiers`]): for each
    /// name, its best-scored definition among the candidates `ranked`, or
    /// else, when none of its definitions is a candidate, the one added to
    /// the index last that `filter` accepts (scored 0); best first.
    fn named(
        &self,
        query: &str,
        ranked: &[(f32, u32)],
        filter: &dyn Fn(u32) -> bool,
    ) -> Vec<(f32, u32)> {
        let mut keys: Vec<u64> = Vec::new();
        for word in identifiers(query) {
            let key = name_key(word);
            if !keys.contains(&key) {
                keys.push(key);
                if keys.len() == MAX_NAMED {
                    break;
                }
            }
        }
        if keys.is_empty() {
            return Vec::new();
        }
        let key_of = |d: u32| self.name_keys.get(d as usize).copied();
        let mut named: Vec<(f32, u32)> = Vec::new();
        let mut missing: Vec<u64> = Vec::new();
        for key in keys {
            // `ranked` is best first.
            match ranked.iter().find(|&&(_, d)| key_of(d) == Some(key)) {
                Some(&hit) => named.push(hit),
                None => missing.push(key),
            }
        }
        // One pass from the end over the names finds every missing one.
        if !missing.is_empty() {
            for (d, key) in self.name_keys.iter().enumerate().rev() {
                let Some(i) = missing.iter().position(|k| k == key) else {
                    continue;
                };
                if filter(d as u32) {
                    named.push((0.0, d as u32));
                    missing.swap_remove(i);
                    if missing.is_empty() {
                        break;
                    }
                }
            }
        }
        named.sort_by(|a, b| b.0.total_cmp(&a.0));
        named
    }

    /// Scores a request of several sentences: the whole request and each
    /// sentence are fused and scaled to their best document, and a
    /// document's score mixes its whole-request score with its best
    /// sentence score ([`SearchConfig::segment_weight`]). Sentences are
    /// scored only on the best documents for the whole request (at least
    /// [`MIN_CANDIDATES`] that `filter` accepts), which keeps the cost
    /// near one search. The candidates (increasing), their scores, and the
    /// sentence each answers best.
    fn score_segments(
        &self,
        whole: &[u32],
        semantic: Option<&QueryVector>,
        segments: &[Segment],
        pool: usize,
        scratch: &mut Scratch,
        filter: &dyn Fn(u32) -> bool,
    ) -> (Vec<u32>, Vec<f32>, Vec<u8>) {
        let beta = self.config.segment_weight.clamp(0.0, 1.0);
        let mut best = TopK::new(pool.max(MIN_CANDIDATES).min(self.len()));
        self.offer_single(whole, semantic, scratch, &mut best, filter);
        let mut best = best.into_sorted();
        let max = best.first().map_or(0.0, |&(s, _)| s);
        let whole_scale = if max > 0.0 { (1.0 - beta) / max } else { 0.0 };
        best.sort_unstable_by_key(|&(_, d)| d);
        let candidates: Vec<u32> = best.iter().map(|&(_, d)| d).collect();
        let mut scores: Vec<f32> = best.iter().map(|&(s, _)| s * whole_scale).collect();
        let mut best_part = vec![0f32; candidates.len()];
        let mut topics = vec![NO_TOPIC; candidates.len()];
        let mut part = vec![0f32; candidates.len()];
        let alpha = self.config.semantic_weight;
        for (i, seg) in segments.iter().enumerate() {
            part.fill(0.0);
            for &t in &seg.terms {
                self.add_term(t, &candidates, &mut part);
            }
            let max_lex = part.iter().copied().fold(0f32, f32::max);
            let lex_scale = match (max_lex > 0.0, seg.vector.is_some()) {
                (false, _) => 0.0,
                (true, true) => (1.0 - alpha) / max_lex,
                (true, false) => 1.0 / max_lex,
            };
            for p in &mut part {
                *p *= lex_scale;
            }
            if let Some(q) = &seg.vector {
                let cosines: Vec<f32> = candidates
                    .iter()
                    .map(|&d| self.semantic.cosine(q, d as usize).max(0.0))
                    .collect();
                let max_cos = cosines.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
                for (p, c) in part.iter_mut().zip(cosines) {
                    *p += c * alpha / max_cos;
                }
            }
            let max = part.iter().copied().fold(0f32, f32::max);
            if max > 0.0 {
                let k = beta / max;
                for ((b, t), &p) in best_part.iter_mut().zip(&mut topics).zip(&part) {
                    if p * k > *b {
                        *b = p * k;
                        *t = u8::try_from(i).unwrap_or(NO_TOPIC);
                    }
                }
            }
        }
        for (s, b) in scores.iter_mut().zip(&best_part) {
            *s += b;
        }
        (candidates, scores, topics)
    }

    /// Adds the weight of `term` in each of `docs` (increasing) to `out`:
    /// by merging when its posting list is short, else by binary search.
    fn add_term(&self, term: u32, docs: &[u32], out: &mut [f32]) {
        let (a, b) = self.posting_range(term);
        let (list, weights) = (&self.postings.doc[a..b], &self.postings.weight[a..b]);
        let mut from = 0;
        for (&d, o) in docs.iter().zip(out.iter_mut()) {
            let rest = &list[from..];
            let at = if rest.len() <= 8 * docs.len() {
                rest.iter().position(|&x| x >= d).unwrap_or(rest.len())
            } else {
                rest.partition_point(|&x| x < d)
            };
            from += at;
            if list.get(from) == Some(&d) {
                *o += weights[from];
            }
        }
    }

    /// Adds the lexical scores of `terms` into `scratch.lexical`, listing
    /// the documents first touched in `scratch.touched`; the best score.
    fn accumulate(&self, terms: &[u32], scratch: &mut Scratch) -> f32 {
        let n = self.len();
        let Scratch {
            lexical, touched, ..
        } = scratch;
        if lexical.len() < n {
            lexical.resize(n, 0.0);
        }
        touched.clear();
        for &t in terms {
            let (a, b) = self.posting_range(t);
            for (&d, &w) in self.postings.doc[a..b]
                .iter()
                .zip(&self.postings.weight[a..b])
            {
                let s = &mut lexical[d as usize];
                if *s == 0.0 {
                    touched.push(d);
                }
                *s += w;
            }
        }
        touched
            .iter()
            .map(|&d| lexical[d as usize])
            .fold(0f32, f32::max)
    }

    /// The factors that scale the lexical and the semantic scores to their
    /// best hit and mix them by [`SearchConfig::semantic_weight`].
    fn scales(&self, max_lex: f32, cosine: &[f32]) -> (f32, f32) {
        let max_cos = cosine.iter().copied().fold(f32::MIN_POSITIVE, f32::max);
        let alpha = self.config.semantic_weight;
        let lex_scale = if max_lex > 0.0 {
            (1.0 - alpha) / max_lex
        } else {
            0.0
        };
        (lex_scale, alpha / max_cos)
    }

    /// Offers every matching document for a query scored as one text.
    fn offer_single(
        &self,
        terms: &[u32],
        semantic: Option<&QueryVector>,
        scratch: &mut Scratch,
        top: &mut TopK,
        filter: &dyn Fn(u32) -> bool,
    ) {
        let max_lex = self.accumulate(terms, scratch);
        let Scratch {
            lexical,
            touched,
            cosine,
            ..
        } = scratch;
        match semantic {
            Some(q) => {
                self.cosines(q, cosine);
                let (lex_scale, cos_scale) = self.scales(max_lex, cosine);
                for (d, &lex) in lexical[..self.len()].iter().enumerate() {
                    let c = cosine.get(d).copied().unwrap_or(0.0);
                    let score = lex * lex_scale + c.max(0.0) * cos_scale;
                    // Neither a shared term nor a positive cosine: not a match.
                    if score > 0.0 {
                        top.offer(score, d as u32, filter);
                    }
                }
            }
            None => {
                for &d in touched.iter() {
                    top.offer(lexical[d as usize], d, filter);
                }
            }
        }
        for &d in touched.iter() {
            lexical[d as usize] = 0.0;
        }
    }

    /// Lowers the score of repeated names (see [`SearchConfig::same_name_factor`])
    /// and of repeated best sentences, `topics` giving each ranked
    /// document's ([`SearchConfig::segment_repeat_factor`]), re-sorts and
    /// cuts to `limit`.
    fn diversify(
        &self,
        mut ranked: Vec<(f32, u32)>,
        topics: &[u8],
        limit: usize,
    ) -> Vec<(f32, u32)> {
        let factor = self.config.same_name_factor.max(0.0);
        let topic_factor = self.config.segment_repeat_factor.max(0.0);
        let mut seen: FxHashMap<u64, i32> = FxHashMap::default();
        let mut per_topic = [0i32; 256];
        for (i, (score, d)) in ranked.iter_mut().enumerate() {
            let count = seen
                .entry(self.name_keys.get(*d as usize).copied().unwrap_or(0))
                .or_insert(0);
            *score *= factor.powi(*count);
            *count += 1;
            if let Some(&t) = topics.get(i).filter(|&&t| t != NO_TOPIC) {
                *score *= topic_factor.powi(per_topic[usize::from(t)]);
                per_topic[usize::from(t)] += 1;
            }
        }
        // Stable: equal scores (all zero when the factor is 0) keep their rank order.
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.truncate(limit);
        ranked
    }

    fn posting_range(&self, term: u32) -> (usize, usize) {
        let t = term as usize;
        (
            self.postings.start[t] as usize,
            self.postings.start[t + 1] as usize,
        )
    }

    /// Cosine of the query vector with every document vector.
    fn cosines(&self, q: &QueryVector, out: &mut Vec<f32>) {
        out.clear();
        let s = &self.semantic;
        scan(&q.values, q.scale, &s.quantized, &s.scales, s.dims, out);
    }

    fn explain(
        &self,
        doc: u32,
        terms: &[(u32, String)],
        semantic: Option<&QueryVector>,
    ) -> Vec<String> {
        let mut per_field: [Vec<&str>; FIELD_COUNT] = Default::default();
        for (t, word) in terms {
            let (a, b) = self.posting_range(*t);
            if let Ok(i) = self.postings.doc[a..b].binary_search(&doc) {
                let mask = self.postings.fields[a + i];
                for (f, words) in per_field.iter_mut().enumerate() {
                    if mask & (1 << f) != 0 {
                        words.push(word);
                    }
                }
            }
        }
        let mut why: Vec<String> = per_field
            .iter()
            .zip(FIELD_NAMES)
            .filter(|(words, _)| !words.is_empty())
            .map(|(words, field)| format!("{field}: {}", words.join(", ")))
            .collect();
        if let Some(q) = semantic {
            why.push(format!(
                "semantic {:.2}",
                self.semantic.cosine(q, doc as usize)
            ));
        }
        why
    }
}

/// Batches at least this large are analysed on several threads.
const PARALLEL_FROM: usize = 1024;
const MAX_THREADS: usize = 4;

/// `f` of each item, the items on threads of their own when there are
/// several (results in item order).
fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    if items.len() < 2 {
        return items.iter().map(f).collect();
    }
    let f = &f;
    std::thread::scope(|scope| {
        let running: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || f(item)))
            .collect();
        running
            .into_iter()
            .map(|t| {
                t.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// A run of documents split into words, each distinct word (as written)
/// numbered in order of first occurrence; not yet stemmed.
struct Tokenized<'a> {
    /// Local word number → the word.
    words: Vec<&'a str>,
    /// The local word numbers of each distinct text, one after another.
    text_words: Vec<u32>,
    /// Per document, its range in `spans` (`doc_spans[d]..doc_spans[d + 1]`).
    doc_spans: Vec<u32>,
    /// (start, end, field): a run of `text_words` in one field.
    spans: Vec<(u32, u32, u8)>,
    name_keys: Vec<u64>,
    vectors: Vec<f32>,
}

/// The forward entries of a run of documents, in the index's term ids.
struct Analyzed {
    /// Starts with 0; one more entry than documents.
    doc_start: Vec<u32>,
    /// Per document, sorted by (term, field).
    entries: Vec<Entry>,
    field_len: Vec<[u32; FIELD_COUNT]>,
}

impl<'a> Tokenized<'a> {
    fn of<D: Indexable>(docs: &'a [D], model: Option<&StaticModel>) -> Tokenized<'a> {
        let mut out = Tokenized {
            words: Vec::new(),
            text_words: Vec::new(),
            doc_spans: Vec::with_capacity(docs.len() + 1),
            spans: Vec::with_capacity(docs.len() * 8),
            name_keys: Vec::with_capacity(docs.len()),
            vectors: Vec::with_capacity(model.map_or(0, |m| docs.len() * m.dims())),
        };
        out.doc_spans.push(0);
        let mut numbers: WordMap<u32> = WordMap::default();
        let mut doc_tokens = DocTokens::default();
        // Text → its words (a range of `text_words`): tool sets repeat whole
        // descriptions and parameters (a third of the text of the 10,000-tool
        // corpus), and a repeated text is split once.
        let mut texts: FxHashMap<&str, (u32, u32)> =
            FxHashMap::with_capacity_and_hasher(docs.len() * 4, Default::default());
        for doc in docs {
            let mut add = |text: &'a str, field: u8| {
                let (start, end) = *texts.entry(text).or_insert_with(|| {
                    let start = out.text_words.len();
                    analyze::for_each_raw_word(text, |w| {
                        let number = numbers.get_or_insert_with(w, |_| {
                            out.words.push(w);
                            u32::try_from(out.words.len() - 1).unwrap_or(u32::MAX)
                        });
                        out.text_words.push(number);
                    });
                    let at = |i: usize| u32::try_from(i).unwrap_or(u32::MAX);
                    (at(start), at(out.text_words.len()))
                });
                if start < end {
                    out.spans.push((start, end, field));
                }
            };
            add(doc.name(), 0);
            add(doc.description(), 1);
            for (name, description) in doc.parameters() {
                add(name, 2);
                add(description, 3);
            }
            for tag in doc.tags() {
                add(tag, 4);
            }
            out.doc_spans
                .push(u32::try_from(out.spans.len()).unwrap_or(u32::MAX));
            out.name_keys.push(name_key(doc.name()));
            if let Some(model) = model {
                model.pool_into(doc_tokens.of(model, doc), &mut out.vectors);
            }
        }
        out
    }

    /// The entries of these documents, given the term of each local word.
    fn entries(&self, terms: &[Option<u32>]) -> Analyzed {
        let docs = self.doc_spans.len().saturating_sub(1);
        let mut out = Analyzed {
            doc_start: Vec::with_capacity(docs + 1),
            entries: Vec::with_capacity(self.text_words.len()),
            field_len: Vec::with_capacity(docs),
        };
        out.doc_start.push(0);
        // (term << 8 | field) per token: one integer sorts faster than a pair,
        // in the same order.
        let mut tokens: Vec<u64> = Vec::new();
        for w in self.doc_spans.windows(2) {
            tokens.clear();
            let mut lens = [0u32; FIELD_COUNT];
            for &(start, end, field) in &self.spans[w[0] as usize..w[1] as usize] {
                let before = tokens.len();
                tokens.extend(
                    self.text_words[start as usize..end as usize]
                        .iter()
                        .filter_map(|&n| terms[n as usize])
                        .map(|t| u64::from(t) << 8 | u64::from(field)),
                );
                lens[usize::from(field)] += (tokens.len() - before) as u32;
            }
            tokens.sort_unstable();
            for run in tokens.chunk_by(|a, b| a == b) {
                out.entries.push(Entry {
                    // Both in range by construction: a u32 term above a u8 field.
                    term: (run[0] >> 8) as u32,
                    field: run[0] as u8,
                    tf: u16::try_from(run.len()).unwrap_or(u16::MAX),
                });
            }
            out.doc_start
                .push(u32::try_from(out.entries.len()).unwrap_or(u32::MAX));
            out.field_len.push(lens);
        }
        out
    }
}

fn name_key(name: &str) -> u64 {
    let mut h = rustc_hash::FxHasher::default();
    h.write(name.to_lowercase().as_bytes());
    h.finish()
}

/// Adds `term` to the vocabulary if new; its id.
fn intern(vocab: &mut Vec<Box<str>>, ids: &mut FxHashMap<Box<str>, u32>, term: &str) -> u32 {
    if let Some(&id) = ids.get(term) {
        return id;
    }
    let id = u32::try_from(vocab.len()).unwrap_or(u32::MAX);
    vocab.push(term.into());
    ids.insert(term.into(), id);
    id
}

/// Per-thread buffers reused across searches, so a search allocates no
/// per-document array.
#[derive(Default)]
struct Scratch {
    lexical: Vec<f32>,
    touched: Vec<u32>,
    cosine: Vec<f32>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A candidate ordered by score, then by lower document number.
#[derive(Clone, Copy, PartialEq)]
struct Candidate(f32, u32);

impl Eq for Candidate {}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0
            .total_cmp(&other.0)
            .then_with(|| other.1.cmp(&self.1))
    }
}

/// The best `k` candidates seen; the filter is asked only about candidates
/// that would enter.
struct TopK {
    k: usize,
    heap: BinaryHeap<Reverse<Candidate>>,
    /// The worst score in a full heap: lower ones are refused at once.
    floor: f32,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: BinaryHeap::with_capacity(k.min(1024) + 1),
            floor: f32::NEG_INFINITY,
        }
    }

    #[inline]
    fn offer(&mut self, score: f32, doc: u32, filter: &dyn Fn(u32) -> bool) {
        if score < self.floor {
            return;
        }
        let c = Candidate(score, doc);
        if self.heap.len() == self.k {
            match self.heap.peek() {
                Some(Reverse(worst)) if c > *worst => {}
                _ => return,
            }
        }
        if !filter(doc) {
            return;
        }
        if self.heap.len() == self.k {
            self.heap.pop();
        }
        self.heap.push(Reverse(c));
        if self.heap.len() == self.k
            && let Some(Reverse(worst)) = self.heap.peek()
        {
            self.floor = worst.0;
        }
    }

    fn into_sorted(self) -> Vec<(f32, u32)> {
        let mut v: Vec<Candidate> = self.heap.into_iter().map(|Reverse(c)| c).collect();
        v.sort_unstable_by(|a, b| b.cmp(a));
        v.into_iter().map(|Candidate(s, d)| (s, d)).collect()
    }
}

/// What is persisted: the forward index and the embeddings; the inverted
/// lists are derived again when loading.
#[derive(Serialize)]
struct StoredRef<'a> {
    config: &'a SearchConfig,
    vocab: &'a [Box<str>],
    doc_start: &'a [u32],
    entries: &'a [Entry],
    field_len: &'a [[u32; FIELD_COUNT]],
    name_keys: &'a [u64],
    dims: usize,
    fingerprint: Option<u64>,
    vectors: &'a [f32],
}

#[derive(Deserialize)]
struct Stored {
    config: SearchConfig,
    vocab: Vec<Box<str>>,
    doc_start: Vec<u32>,
    entries: Vec<Entry>,
    field_len: Vec<[u32; FIELD_COUNT]>,
    name_keys: Vec<u64>,
    dims: usize,
    fingerprint: Option<u64>,
    vectors: Vec<f32>,
}

impl Serialize for SearchIndex {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        StoredRef {
            config: &self.config,
            vocab: &self.vocab,
            doc_start: &self.doc_start,
            entries: &self.entries,
            field_len: &self.field_len,
            name_keys: &self.name_keys,
            dims: self.semantic.dims,
            fingerprint: self.semantic.fingerprint,
            vectors: &self.semantic.vectors,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for SearchIndex {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let stored = Stored::deserialize(deserializer)?;
        SearchIndex::try_from(stored).map_err(serde::de::Error::custom)
    }
}

impl TryFrom<Stored> for SearchIndex {
    type Error = SearchError;

    fn try_from(s: Stored) -> Result<Self, SearchError> {
        let bad = |m: &str| Err(SearchError::InvalidIndex(m.to_owned()));
        let n = s.field_len.len();
        if s.doc_start.len() != n + 1 || s.doc_start.first() != Some(&0) || s.name_keys.len() != n {
            return bad("document offsets do not match the document count");
        }
        if s.doc_start.windows(2).any(|w| w[0] > w[1])
            || s.doc_start.last().map(|&l| l as usize) != Some(s.entries.len())
        {
            return bad("document offsets are not increasing up to the entry count");
        }
        if s.entries
            .iter()
            .any(|e| e.term as usize >= s.vocab.len() || usize::from(e.field) >= FIELD_COUNT)
        {
            return bad("an entry refers to an unknown term or field");
        }
        // Each document's entries are grouped by term, fields increasing in a group.
        let mut last_doc = vec![usize::MAX; s.vocab.len()];
        for (d, w) in s.doc_start.windows(2).enumerate() {
            let doc = &s.entries[w[0] as usize..w[1] as usize];
            for (i, e) in doc.iter().enumerate() {
                let same_group = i > 0 && doc[i - 1].term == e.term;
                if same_group && doc[i - 1].field >= e.field {
                    return bad("a document's fields of one term are not increasing");
                }
                if !same_group {
                    if last_doc[e.term as usize] == d {
                        return bad("a document lists one term in two places");
                    }
                    last_doc[e.term as usize] = d;
                }
            }
        }
        if n.checked_mul(s.dims).is_none() {
            return bad("the embedding size overflows");
        }
        if !s.vectors.is_empty() && (s.dims == 0 || s.vectors.len() != n.saturating_mul(s.dims)) {
            return bad("embedding count does not match the document count");
        }
        let mut term_ids = FxHashMap::default();
        for (i, t) in s.vocab.iter().enumerate() {
            if term_ids.insert(t.clone(), i as u32).is_some() {
                return bad("a term appears twice in the vocabulary");
            }
        }
        let mut index = SearchIndex {
            config: s.config,
            vocab: s.vocab,
            term_ids,
            doc_start: s.doc_start,
            entries: s.entries,
            field_len: s.field_len,
            name_keys: s.name_keys,
            postings: Postings::default(),
            semantic: Semantic {
                dims: s.dims,
                fingerprint: s.fingerprint,
                vectors: s.vectors,
                mean: Vec::new(),
                quantized: Vec::new(),
                scales: Vec::new(),
                model: None,
            },
        };
        index.rebuild_postings();
        index.semantic.rebuild();
        Ok(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str, description: &str, params: &[&str], tags: &[&str]) -> Document {
        Document {
            id: name.to_owned(),
            name: name.to_owned(),
            description: description.to_owned(),
            parameters: params
                .iter()
                .map(|p| Parameter {
                    name: (*p).to_owned(),
                    description: format!("the {p}"),
                })
                .collect(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    fn corpus() -> Vec<Document> {
        vec![
            doc(
                "get_weather",
                "Current weather conditions for a city.",
                &["city"],
                &[],
            ),
            doc(
                "math.factorial",
                "Computes the factorial of a number.",
                &["n"],
                &["math"],
            ),
            doc(
                "sendEmail",
                "Sends an email message to a recipient.",
                &["to", "subject"],
                &["mail"],
            ),
            doc(
                "forecast",
                "Weather forecast for the next days.",
                &["location", "days"],
                &["weather"],
            ),
        ]
    }

    #[test]
    fn ranks_by_fields_and_explains() {
        let index = SearchIndex::build(&corpus(), None);
        let hits = index.search("weather in the city", 10, &|_| true);
        assert_eq!(hits[0].doc, 0);
        assert_eq!(
            hits[0].why,
            [
                "name: weather",
                "description: weather, city",
                "parameters: city",
                "parameter descriptions: city"
            ]
        );
        assert!(
            hits.iter()
                .any(|h| h.doc == 3 && h.why.contains(&"tags: weather".to_owned()))
        );
        let hits = index.search("send an e-mail", 10, &|_| true);
        assert_eq!(hits[0].doc, 2);
    }

    #[test]
    fn identifiers_are_words_shaped_like_tool_names() {
        let found: Vec<&str> = identifiers(
            "Use requests.get (or http_get, or getWeather) to fetch data.csv; \
             sort it, then cd. Pay 2.5 at 10:30 with search-repos -v --no-strict.",
        )
        .collect();
        assert_eq!(
            found,
            [
                "requests.get",
                "http_get",
                "getWeather",
                "data.csv",
                "search-repos",
                "no-strict"
            ]
        );
        assert_eq!(
            identifiers("math.factorial.").collect::<Vec<_>>(),
            ["math.factorial"]
        );
    }

    #[test]
    fn a_tool_named_in_the_request_goes_first() {
        let mut docs = corpus();
        docs.push(doc(
            "requests.get",
            "Sends a GET request to a URL.",
            &["url"],
            &[],
        ));
        let index = SearchIndex::build(&docs, None);
        let query = "The weather in the city and the weather forecast, with requests.get";
        let hits = index.search(query, 3, &|_| true);
        assert_eq!(hits[0].doc, 4);
        assert_eq!(hits[0].why[0], "named in the request");
        assert!(hits[0].score > hits[1].score);
        assert_ne!(
            hits[1].why.first().map(String::as_str),
            Some("named in the request")
        );
        // Named but filtered out, it is not offered.
        let hits = index.search(query, 3, &|d| d != 4);
        assert!(hits.iter().all(|h| h.doc != 4));
        // A name the words do not match at all still goes first, and case
        // does not matter.
        let hits = index.search("call MATH.FACTORIAL on the weather", 2, &|_| true);
        assert_eq!(hits[0].doc, 1);
        // Off, the words decide.
        let off = index.with_config(SearchConfig {
            named_tools_first: false,
            ..SearchConfig::default()
        });
        assert_ne!(off.search(query, 3, &|_| true)[0].doc, 4);
    }

    #[test]
    fn a_named_tool_out_of_the_candidates_is_its_definition_added_last() {
        // `do.it` is all stop words: no term of the request finds it.
        let mut docs: Vec<Document> = (0..150)
            .map(|i| doc(&format!("weather_{i}"), "Weather in the city.", &[], &[]))
            .collect();
        docs.push(doc("do.it", "First definition.", &[], &[]));
        docs.push(doc("do.it", "Second definition.", &[], &[]));
        let index = SearchIndex::build(&docs, None);
        let query = "the weather in the city, with do.it";
        let hits = index.search(query, 5, &|_| true);
        assert_eq!(hits[0].doc, 151);
        assert_eq!(hits[0].why, ["named in the request"]);
        assert!(hits[0].score > hits[1].score);
        assert_eq!(hits.len(), 5);
        let hits = index.search(query, 5, &|d| d != 151);
        assert_eq!(hits[0].doc, 150);
    }

    #[test]
    fn respects_limit_and_filter() {
        let index = SearchIndex::build(&corpus(), None);
        assert_eq!(index.search("weather", 1, &|_| true).len(), 1);
        assert!(index.search("weather", 0, &|_| true).is_empty());
        let hits = index.search("weather", 10, &|d| d != 0);
        assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), [3]);
        assert!(index.search("zzz unknown", 10, &|_| true).is_empty());
    }

    #[test]
    fn added_documents_continue_numbering() {
        let docs = corpus();
        let index = SearchIndex::build(&docs[..2], None);
        let more = index.with_added(&docs[2..]);
        assert_eq!((index.len(), more.len()), (2, 4));
        let full = SearchIndex::build(&docs, None);
        let a = more.search("weather forecast days", 10, &|_| true);
        let b = full.search("weather forecast days", 10, &|_| true);
        assert_eq!(a, b);
        assert_eq!(a[0].doc, 3);
    }

    #[test]
    fn round_trips_through_postcard() {
        let index = SearchIndex::build(&corpus(), None);
        let bytes = postcard::to_allocvec(&index).unwrap();
        let back: SearchIndex = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(
            back.search("email", 5, &|_| true),
            index.search("email", 5, &|_| true)
        );
    }

    #[test]
    fn refuses_inconsistent_stored_index() {
        let index = SearchIndex::build(&corpus(), None);
        let mut stored: Stored = postcard::from_bytes(&postcard::to_allocvec(&index).unwrap())
            .map(|i: StoredProbe| i.0)
            .unwrap();
        stored.entries[0].term = 10_000;
        assert!(matches!(
            SearchIndex::try_from(stored),
            Err(SearchError::InvalidIndex(_))
        ));
        // No embeddings but a size whose product with the documents
        // overflows: refused, not kept for `retain` to slice with.
        let index = SearchIndex::build(&corpus(), Some(model(1)));
        let mut stored: Stored = postcard::from_bytes(&postcard::to_allocvec(&index).unwrap())
            .map(|i: StoredProbe| i.0)
            .unwrap();
        stored.vectors.clear();
        stored.dims = 1 << 63;
        assert!(matches!(
            SearchIndex::try_from(stored),
            Err(SearchError::InvalidIndex(_))
        ));
    }

    struct StoredProbe(Stored);

    impl<'de> Deserialize<'de> for StoredProbe {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Stored::deserialize(d).map(StoredProbe)
        }
    }

    fn model(fingerprint: u64) -> Arc<EmbeddingModel> {
        Arc::new(crate::semantic::test_model(
            &[
                ("weather", &[1.0, 0.0, 0.0]),
                ("rain", &[0.9, 0.1, 0.0]),
                ("email", &[0.0, 1.0, 0.0]),
                ("letter", &[0.1, 0.9, 0.0]),
                ("factorial", &[0.0, 0.0, 1.0]),
            ],
            fingerprint,
        ))
    }

    #[test]
    fn hybrid_finds_by_meaning_and_explains() {
        let index = SearchIndex::build(&corpus(), Some(model(1)));
        assert!(index.has_semantic());
        // No word of "letter" is in any document: only the embedding matches.
        let hits = index.search("letter", 2, &|_| true);
        assert_eq!(hits[0].doc, 2);
        assert_eq!(hits[0].why.len(), 1);
        assert!(hits[0].why[0].starts_with("semantic "), "{:?}", hits[0].why);
        let hits = index.search("rain", 4, &|d| d != 0);
        assert_eq!(hits[0].doc, 3);
        // A request of two sentences, one answered by meaning only.
        let hits = index.search("Write a letter. Then the factorial of 5.", 2, &|_| true);
        let mut docs: Vec<u32> = hits.iter().map(|h| h.doc).collect();
        docs.sort_unstable();
        assert_eq!(docs, [1, 2]);
    }

    #[test]
    fn semantic_needs_the_same_model() {
        let mut index = SearchIndex::build(&corpus(), Some(model(1)));
        let bytes = postcard::to_allocvec(&index).unwrap();
        let mut back: SearchIndex = postcard::from_bytes(&bytes).unwrap();
        assert!(!back.has_semantic());
        assert_eq!(back.lexical_reason(), Some(LexicalReason::NoModel));
        back.attach_model(Some(model(1)));
        assert!(back.has_semantic());
        assert_eq!(back.lexical_reason(), None);
        assert_eq!(
            back.search("letter", 3, &|_| true),
            index.search("letter", 3, &|_| true)
        );
        back.attach_model(Some(model(2)));
        assert!(!back.has_semantic());
        assert_eq!(back.lexical_reason(), Some(LexicalReason::OtherModel));
        index.attach_model(None);
        assert!(!index.has_semantic());
        assert_eq!(index.search("weather", 1, &|_| true)[0].doc, 0);
    }

    #[test]
    fn retained_documents_rank_as_a_fresh_build_of_them() {
        let docs = corpus();
        let keep = [true, false, true, true];
        let kept: Vec<Document> = docs
            .iter()
            .zip(keep)
            .filter(|&(_, k)| k)
            .map(|(d, _)| d.clone())
            .collect();
        for m in [None, Some(model(1))] {
            let retained = SearchIndex::build(&docs, m.clone()).retain(&keep);
            let fresh = SearchIndex::build(&kept, m.clone());
            assert_eq!(retained.len(), 3);
            assert_eq!(retained.has_semantic(), m.is_some());
            // "factorial" was only in the dropped document.
            assert_eq!(retained.term_count(), fresh.term_count());
            for query in ["weather in the city", "letter", "factorial", "email days"] {
                assert_eq!(
                    retained.search(query, 10, &|_| true),
                    fresh.search(query, 10, &|_| true),
                    "{query}"
                );
            }
        }
    }

    #[test]
    fn adding_without_the_model_drops_the_embeddings() {
        let docs = corpus();
        let mut index = SearchIndex::build(&docs[..2], Some(model(1)));
        assert!(index.is_embedded());
        index.attach_model(None);
        assert!(index.is_embedded());
        let mut dropped = index.with_added(&docs[2..]);
        assert!(!dropped.is_embedded());
        dropped.attach_model(Some(model(1)));
        assert_eq!(dropped.lexical_reason(), Some(LexicalReason::NotEmbedded));
        index.attach_model(Some(model(1)));
        assert!(index.with_added(&docs[2..]).is_embedded());
        assert!(!SearchIndex::build(&docs, None).is_embedded());
    }

    #[test]
    fn retain_keeps_embeddings_without_the_model() {
        let docs = corpus();
        let mut index = SearchIndex::build(&docs, Some(model(1)));
        index.attach_model(None);
        let mut retained = index.retain(&[false, true, true, true]);
        assert!(!retained.has_semantic());
        retained.attach_model(Some(model(1)));
        assert!(retained.has_semantic());
        // Only the embedding matches "letter": the stored vector survived.
        assert_eq!(retained.search("letter", 1, &|_| true)[0].doc, 1);
        // Flags past the end drop nothing that exists; missing flags drop.
        assert_eq!(index.retain(&[true; 9]).len(), 4);
        assert_eq!(index.retain(&[true]).len(), 1);
        assert!(index.retain(&[]).is_empty());
    }

    #[test]
    fn documents_are_embedded_from_their_words() {
        let m = model(1);
        let docs = corpus();
        let index = SearchIndex::build(&docs, Some(m.clone()));
        let texts = [
            "get weather. Current weather conditions for a city. city the city",
            "math factorial. Computes the factorial of a number. math n the n",
            "send email. Sends an email message to a recipient. mail to the to subject the subject",
            "forecast. Weather forecast for the next days. weather location the location days the days",
        ];
        let dims = m.dims();
        for (d, text) in texts.iter().enumerate() {
            let stored = &index.semantic.vectors[d * dims..(d + 1) * dims];
            assert_eq!(stored, m.embed(text).as_slice(), "{text}");
        }
    }

    #[test]
    fn added_documents_are_embedded() {
        let docs = corpus();
        let index = SearchIndex::build(&docs[..2], Some(model(1)));
        let more = index.with_added(&docs[2..]);
        assert!(more.has_semantic());
        assert_eq!(more.search("letter", 1, &|_| true)[0].doc, 2);
        let mut lexical = SearchIndex::build(&docs[..2], None);
        lexical.attach_model(Some(model(1)));
        assert!(!lexical.with_added(&docs[2..]).has_semantic());
    }

    #[test]
    fn repeated_names_make_room_for_other_tools() {
        let mut docs = vec![doc("get_weather", "Weather now.", &[], &[]); 3];
        docs.push(doc("forecast", "Weather forecast.", &[], &[]));
        let spread = SearchConfig {
            same_name_factor: 0.0,
            ..SearchConfig::default()
        };
        let index = SearchIndex::build_with(&docs, None, spread);
        let names: Vec<u32> = index
            .search("weather", 2, &|_| true)
            .iter()
            .map(|h| h.doc)
            .collect();
        assert_eq!(names, [0, 3]);
        let plain = SearchConfig {
            same_name_factor: 1.0,
            ..SearchConfig::default()
        };
        let index = SearchIndex::build_with(&docs, None, plain);
        let names: Vec<u32> = index
            .search("weather", 2, &|_| true)
            .iter()
            .map(|h| h.doc)
            .collect();
        assert!(!names.contains(&3), "{names:?}");
    }

    #[test]
    fn splits_requests_into_sentences() {
        let text = "Find the weather in Paris. Then send an email!\nRun 2.5 km; read data.csv? . ";
        assert_eq!(
            sentences(text).collect::<Vec<_>>(),
            [
                "Find the weather in Paris",
                "Then send an email",
                "Run 2.5 km",
                "read data.csv"
            ]
        );
        assert_eq!(
            sentences("one request").collect::<Vec<_>>(),
            ["one request"]
        );
        assert_eq!(sentences(" . ;\n").count(), 0);
    }

    /// Six weather tools, sixteen that share one word with the mail tool,
    /// and the mail tool (number 22); a request of two sentences, one for
    /// each kind.
    fn two_sentence_case() -> (Vec<Document>, &'static str) {
        let mut docs: Vec<Document> = ["now", "hourly", "daily", "weekly", "radar", "alerts"]
            .iter()
            .map(|kind| {
                doc(
                    &format!("weather_{kind}"),
                    "Weather forecast: temperature, rain, wind and humidity for a city.",
                    &["city", "units"],
                    &["weather"],
                )
            })
            .collect();
        // Other tools that share the mail words, so that those are common.
        for i in 0..8 {
            docs.push(doc(
                &format!("archive_{i}"),
                "Archive an old message.",
                &[],
                &[],
            ));
            docs.push(doc(&format!("upload_{i}"), "Send a file.", &["path"], &[]));
        }
        docs.push(doc("notify", "Send a short message.", &["message"], &[]));
        let query = "Give me the weather forecast for Oslo. Then send a message.";
        (docs, query)
    }

    #[test]
    fn each_sentence_of_a_request_finds_its_tool() {
        let (docs, query) = two_sentence_case();
        let whole = SearchConfig {
            segment_weight: 0.0,
            segment_repeat_factor: 1.0,
            ..SearchConfig::default()
        };
        let rank = |config: SearchConfig| {
            let index = SearchIndex::build_with(&docs, None, config);
            let hits = index.search(query, 5, &|_| true);
            hits.iter().position(|h| h.doc == 22)
        };
        // As one text, the six weather tools bury the mail tool; scored per
        // sentence (and with the later weather tools lowered) it comes fourth.
        assert_eq!(rank(whole), None);
        assert_eq!(rank(SearchConfig::default()), Some(3));
        // Without the weather tools, the filter still leaves full results.
        let index = SearchIndex::build(&docs, None);
        let hits = index.search(query, 5, &|d| d >= 6);
        assert_eq!(hits.len(), 5);
        assert_eq!(hits[0].doc, 22);
    }

    #[test]
    fn rounding_to_i8_is_f32_round() {
        let mut values: Vec<f32> = (-300..=300).map(|h| h as f32 / 2.0).collect();
        for v in values.clone() {
            values.extend([v.next_up(), v.next_down()]);
        }
        values.extend([
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            1e9,
            -1e9,
            0.0,
            -0.0,
        ]);
        // A spread of bit patterns, both signs, from tiny to past the range.
        values.extend((0..0x4400_0000u32).step_by(4099).map(f32::from_bits));
        values.extend(
            (0..0x4400_0000u32)
                .step_by(4099)
                .map(|b| -f32::from_bits(b)),
        );
        for y in values {
            assert_eq!(round_to_i8(y), y.round() as i8, "{y:?}");
        }
    }

    #[test]
    fn dot_products_agree() {
        let a: Vec<i8> = (0..300).map(|i| ((i * 37) % 255 - 127) as i8).collect();
        let b: Vec<i8> = (0..300).map(|i| ((i * 91) % 255 - 127) as i8).collect();
        let want: i32 = a
            .iter()
            .zip(&b)
            .map(|(&x, &y)| i32::from(x) * i32::from(y))
            .sum();
        assert_eq!(dot_i8(&a, &b), want);
        let mut out = Vec::new();
        scan(&a[..256], 1.0, &b[..256], &[1.0], 256, &mut out);
        assert_eq!(out, [dot_i8(&a[..256], &b[..256]) as f32]);
    }

    #[test]
    fn parallel_and_sequential_analysis_agree() {
        let topics = [
            "weather",
            "email",
            "invoice",
            "factorial",
            "calendar",
            "storage",
        ];
        let docs: Vec<Document> = (0..PARALLEL_FROM + 500)
            .map(|i| {
                let topic = topics[i % topics.len()];
                let other = topics[(i / 7) % topics.len()];
                doc(
                    &format!("{topic}_tool{i}"),
                    &format!("Handles {topic} requests, variant {i}, with some {other} data."),
                    &[other, "id"],
                    &[topic],
                )
            })
            .collect();
        // One batch over the threshold is analysed in parallel; batches under it are not.
        let whole = SearchIndex::build(&docs, None);
        let pieces = SearchIndex::build(&docs[..500], None)
            .with_added(&docs[500..1000])
            .with_added(&docs[1000..]);
        assert_eq!(whole.len(), pieces.len());
        // Terms are numbered in order of first occurrence and each
        // document's entries sorted by term, however the batch was split,
        // so even the persisted form is the same.
        let whole_bytes = postcard::to_allocvec(&whole).unwrap_or_default();
        assert!(!whole_bytes.is_empty());
        assert_eq!(
            whole_bytes,
            postcard::to_allocvec(&pieces).unwrap_or_default()
        );
        for q in ["weather data", "invoice 42", "calendar storage id", "tool7"] {
            assert_eq!(
                whole.search(q, 20, &|_| true),
                pieces.search(q, 20, &|_| true),
                "{q}"
            );
        }
    }

    #[test]
    fn empty_index_finds_nothing() {
        let index = SearchIndex::build(&[], None);
        assert!(index.is_empty());
        assert!(index.search("anything", 10, &|_| true).is_empty());
    }
}
