//! Text analysis for the lexical model: splitting into words (on punctuation,
//! `_ . -`, camelCase and letter/digit boundaries), lowercasing, stop words and
//! English stemming.

use std::sync::LazyLock;

use rust_stemmers::{Algorithm, Stemmer};
use rustc_hash::FxHashMap;

/// Words longer than this (in bytes) are dropped: they are hashes, base64 or
/// other noise that no query matches, and they would bloat the vocabulary.
const MAX_WORD_BYTES: usize = 40;

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// English stop words (the NLTK list, without the few that carry meaning in
/// tool requests such as "not", "off", "on", "up", "down", "out", "over", "all").
const STOP_WORDS: &[&str] = &[
    "a",
    "about",
    "above",
    "after",
    "again",
    "against",
    "am",
    "an",
    "and",
    "any",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "below",
    "between",
    "both",
    "but",
    "by",
    "can",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "during",
    "each",
    "few",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "herself",
    "him",
    "himself",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "itself",
    "just",
    "me",
    "more",
    "most",
    "my",
    "myself",
    "no",
    "nor",
    "now",
    "of",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "ourselves",
    "own",
    "same",
    "she",
    "should",
    "so",
    "some",
    "such",
    "than",
    "that",
    "the",
    "their",
    "theirs",
    "them",
    "themselves",
    "then",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "very",
    "was",
    "we",
    "were",
    "what",
    "when",
    "where",
    "which",
    "while",
    "who",
    "whom",
    "why",
    "will",
    "with",
    "would",
    "you",
    "your",
    "yours",
    "yourself",
    "yourselves",
    "please",
    "also",
    "using",
    "use",
    "given",
    "e",
    "g",
    "etc",
];

/// Whether `word` (lowercase) is an English stop word.
pub fn is_stop_word(word: &str) -> bool {
    STOP_WORDS.contains(&word)
}

/// The English (Porter 2) stem of a lowercase word.
pub fn stem(word: &str) -> String {
    STEMMER.stem(word).into_owned()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Upper,
    Lower,
    Digit,
}

const ASCII_CLASS: [Option<Class>; 128] = {
    let mut table = [None; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'A'..=b'Z' => Some(Class::Upper),
            b'a'..=b'z' => Some(Class::Lower),
            b'0'..=b'9' => Some(Class::Digit),
            _ => None,
        };
        b += 1;
    }
    table
};

fn class(c: char) -> Option<Class> {
    if c.is_uppercase() {
        Some(Class::Upper)
    } else if c.is_numeric() {
        Some(Class::Digit)
    } else if c.is_alphanumeric() {
        Some(Class::Lower)
    } else {
        None
    }
}

/// Calls `emit` with each word of `text`, lowercased, in order.
///
/// Words are split at every character that is neither a letter nor a digit,
/// between a lowercase letter and an uppercase one (`getWeather`), before the
/// last capital of a run followed by lowercase (`HTTPServer` → `http`,
/// `server`), and between letters and digits (`sha256` → `sha`, `256`).
/// `emit` gets a reused buffer, so splitting allocates nothing per word.
pub fn for_each_word(text: &str, mut emit: impl FnMut(&str)) {
    let mut lower = String::new();
    for_each_raw_word(text, |word| {
        lowercase_into(word, &mut lower);
        emit(&lower);
    });
}

/// Writes `word` lowercased into `out` (replacing its contents).
pub(crate) fn lowercase_into(word: &str, out: &mut String) {
    out.clear();
    if word.is_ascii() {
        out.push_str(word);
        out.make_ascii_lowercase();
    } else {
        for c in word.chars() {
            out.extend(c.to_lowercase());
        }
    }
}

/// Calls `emit` with each word of `text` as it is written (not lowercased),
/// split as [`for_each_word`] splits. Index building keys its caches on
/// these slices, so a word is copied and lowercased only when first seen.
pub(crate) fn for_each_raw_word<'t>(text: &'t str, mut emit: impl FnMut(&'t str)) {
    let mut emit_word = |word: &'t str| {
        if word.is_empty() || word.len() > MAX_WORD_BYTES {
            return;
        }
        emit(word);
    };
    // The current word is text[start..i]; `last` is where its last character starts.
    let mut start = 0;
    let mut last = 0;
    let mut prev: Option<Class> = None;
    let mut prev2: Option<Class> = None;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        // ASCII (nearly all tool text) is classified by table, without decoding.
        let (cls, width) = match bytes[i] {
            b @ 0..0x80 => (ASCII_CLASS[usize::from(b)], 1),
            _ => text[i..]
                .chars()
                .next()
                .map_or((None, 1), |c| (class(c), c.len_utf8())),
        };
        let Some(cls) = cls else {
            if prev.is_some() {
                emit_word(&text[start..i]);
            }
            prev = None;
            prev2 = None;
            i += width;
            continue;
        };
        match (prev, cls) {
            (None, _) => start = i,
            (Some(Class::Digit), Class::Upper | Class::Lower)
            | (Some(Class::Upper | Class::Lower), Class::Digit)
            | (Some(Class::Lower), Class::Upper) => {
                emit_word(&text[start..i]);
                start = i;
            }
            (Some(Class::Upper), Class::Lower) if prev2 == Some(Class::Upper) => {
                // "HTTPServer": the capital before this letter starts the next word.
                emit_word(&text[start..last]);
                start = last;
            }
            _ => {}
        }
        last = i;
        prev2 = prev;
        prev = Some(cls);
        i += width;
        // Nothing splits a run of lowercase ASCII letters or of ASCII digits,
        // which is most of the text: skip to its end, leaving the state as
        // the steps above would have left it.
        let rest = &bytes[i..];
        let run = match cls {
            Class::Lower => rest.iter().take_while(|b| b.is_ascii_lowercase()).count(),
            Class::Digit => rest.iter().take_while(|b| b.is_ascii_digit()).count(),
            Class::Upper => 0,
        };
        if run > 0 {
            i += run;
            last = i - 1;
            prev2 = prev;
        }
    }
    if prev.is_some() {
        emit_word(&text[start..]);
    }
}

/// The words of `text` (see [`for_each_word`]), lowercased.
///
/// ```
/// use rustchain_tools_search::analyze::words;
/// assert_eq!(words("get_currentWeather.v2"), ["get", "current", "weather", "v", "2"]);
/// assert_eq!(words("parseHTTPResponse"), ["parse", "http", "response"]);
/// ```
pub fn words(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| out.push(w.to_owned()));
    out
}

/// The index terms of `text`: its words without stop words, stemmed.
///
/// ```
/// use rustchain_tools_search::analyze::terms;
/// assert_eq!(terms("Calculates the areas of triangles"), ["calcul", "area", "triangl"]);
/// ```
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_word(text, |w| {
        if !is_stop_word(w) {
            out.push(stem(w));
        }
    });
    out
}

/// A map from words to small values, for remembering what each distinct
/// word of a batch of texts became. Short words (nearly all) are keyed
/// inline, which spares the lookup a pointer chase and a `memcmp`.
pub(crate) struct WordMap<V> {
    short: FxHashMap<[u8; SHORT_WORD], V>,
    long: FxHashMap<Box<str>, V>,
}

impl<V> Default for WordMap<V> {
    fn default() -> Self {
        Self {
            short: FxHashMap::default(),
            long: FxHashMap::default(),
        }
    }
}

/// Words up to `SHORT_WORD - 1` bytes are keyed inline (the last byte holds the length).
const SHORT_WORD: usize = 24;

impl<V: Copy> WordMap<V> {
    /// The value of `w`, made by `new` the first time `w` is seen.
    #[inline]
    pub(crate) fn get_or_insert_with(&mut self, w: &str, new: impl FnOnce(&str) -> V) -> V {
        if w.len() < SHORT_WORD {
            let mut key = [0u8; SHORT_WORD];
            key[..w.len()].copy_from_slice(w.as_bytes());
            key[SHORT_WORD - 1] = w.len() as u8;
            *self.short.entry(key).or_insert_with(|| new(w))
        } else if let Some(&v) = self.long.get(w) {
            v
        } else {
            let v = new(w);
            self.long.insert(w.into(), v);
            v
        }
    }

    /// The number of distinct words.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.short.len() + self.long.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_identifiers() {
        assert_eq!(words("math.factorial"), ["math", "factorial"]);
        assert_eq!(words("get-weather"), ["get", "weather"]);
        assert_eq!(
            words("AbstractJarAgent.runJarAgent"),
            ["abstract", "jar", "agent", "run", "jar", "agent"]
        );
        assert_eq!(words("XMLHttpRequest"), ["xml", "http", "request"]);
        assert_eq!(words("base64Encode"), ["base", "64", "encode"]);
        assert_eq!(words("ÉtéCafé naïve"), ["été", "café", "naïve"]);
        // Runs of lowercase letters and digits next to other classes.
        assert_eq!(words("abcÉtéx12ab"), ["abc", "étéx", "12", "ab"]);
        assert_eq!(
            words("a1b2C3dEF4gh"),
            ["a", "1", "b", "2", "c", "3", "d", "ef", "4", "gh"]
        );
        assert_eq!(words("x٣٤y"), ["x", "٣٤", "y"]);
    }

    #[test]
    fn drops_stop_words_and_stems() {
        assert_eq!(
            terms("Finds the nearest restaurants"),
            ["find", "nearest", "restaur"]
        );
        assert!(terms("the of and").is_empty());
    }

    #[test]
    fn word_map_makes_each_value_once() {
        let mut map = WordMap::default();
        let long = "x".repeat(SHORT_WORD + 3);
        let mut made = 0;
        for w in ["a", "bb", "a", &long, "bb", &long, ""] {
            let v = map.get_or_insert_with(w, |w| {
                made += 1;
                w.len()
            });
            assert_eq!(v, w.len());
        }
        assert_eq!((made, map.len()), (4, 4));
    }

    #[test]
    fn drops_overlong_words() {
        let long = "a".repeat(MAX_WORD_BYTES + 1);
        assert_eq!(words(&format!("{long} ok")), ["ok"]);
    }
}
