//! Interned strings: each distinct name, version, category, tag and
//! permission term is stored once and referred to by a `u32`.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A table of distinct strings. Cloning it shares the strings. FxHash:
/// names come from manifests an operator imports, not from callers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Interner {
    strings: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
}

impl Interner {
    /// The id of `s`, adding it when new.
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = u32::try_from(self.strings.len()).unwrap_or(u32::MAX);
        let shared: Arc<str> = Arc::from(s);
        self.strings.push(shared.clone());
        self.ids.insert(shared, id);
        id
    }

    /// The id of `s`, if it was interned.
    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.ids.get(s).copied()
    }

    /// The string of `id` (empty for an unknown id, which only a corrupt
    /// index could hold).
    pub(crate) fn resolve(&self, id: u32) -> &str {
        self.strings.get(id as usize).map_or("", |s| s)
    }

    /// The shared string of `id`.
    pub(crate) fn shared(&self, id: u32) -> Option<&Arc<str>> {
        self.strings.get(id as usize)
    }

    /// Bytes held by the strings and the table (approximate).
    pub(crate) fn heap_bytes(&self) -> usize {
        let text: usize = self.strings.iter().map(|s| s.len() + 16).sum();
        text + self.strings.capacity() * 16 + self.ids.capacity() * 24
    }
}

impl Serialize for Interner {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.strings.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Interner {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let strings = Vec::<Arc<str>>::deserialize(deserializer)?;
        let mut ids = FxHashMap::with_capacity_and_hasher(strings.len(), Default::default());
        for (i, s) in strings.iter().enumerate() {
            ids.insert(s.clone(), u32::try_from(i).unwrap_or(u32::MAX));
        }
        Ok(Interner { strings, ids })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_twice_gives_one_id() {
        let mut strings = Interner::default();
        let a = strings.intern("net");
        assert_eq!(strings.intern("net"), a);
        assert_ne!(strings.intern("file"), a);
        assert_eq!(strings.resolve(a), "net");
        assert_eq!(strings.get("file"), Some(1));
    }

    #[test]
    fn survives_a_round_trip() {
        let mut strings = Interner::default();
        strings.intern("a");
        strings.intern("b");
        let bytes = postcard::to_allocvec(&strings).unwrap();
        let back: Interner = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.get("b"), Some(1));
        assert_eq!(back.resolve(0), "a");
    }
}
