//! An immutable state of the registry: the compact metadata of every tool,
//! the lookup indices over it, and the search index. Readers hold one for
//! as long as they need; writers build the next.

use std::{cmp::Ordering, mem::size_of, sync::Arc};

use fastbloom::BloomFilter;
use rustc_hash::FxHashMap as HashMap;
use rustchain_tools_search::Indexable;
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::{
    Manifest, RegistryError, ToolKey,
    intern::Interner,
    lazy_search::LazySearch,
    store::{LoadedTool, Store},
};

/// Fixed so that the bloom filter is the same in every process.
const BLOOM_SEED: u128 = 0x5275_7374_4368_6169_6e54_6f6f_6c73_0001;

/// The compact metadata of one tool: what lookups, filters and results
/// need, with shared strings interned and the full manifest left on disk.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Entry {
    pub(crate) name: u32,
    pub(crate) version: u32,
    pub(crate) id: Option<Arc<str>>,
    pub(crate) title: Option<Box<str>>,
    pub(crate) description: Box<str>,
    pub(crate) category: Option<u32>,
    pub(crate) tags: Box<[u32]>,
    pub(crate) permissions: Box<[u32]>,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

impl Entry {
    /// The compact entry of `manifest`, stored at `offset`.
    pub(crate) fn new(manifest: &Manifest, strings: &mut Interner, offset: u64, len: u32) -> Self {
        let mut tags: Vec<u32> = Vec::with_capacity(manifest.tags.len());
        for tag in &manifest.tags {
            let id = strings.intern(tag);
            if !tags.contains(&id) {
                tags.push(id);
            }
        }
        let permissions: Vec<u32> = crate::manifest::permission_terms(&manifest.permissions)
            .iter()
            .map(|t| strings.intern(t))
            .collect();
        Entry {
            name: strings.intern(&manifest.name),
            version: strings.intern(&manifest.version.to_string()),
            id: manifest.id.as_deref().map(Arc::from),
            title: manifest.title.as_deref().map(Box::from),
            description: manifest.description.as_str().into(),
            category: manifest.category.as_deref().map(|c| strings.intern(c)),
            tags: tags.into(),
            permissions: permissions.into(),
            offset,
            len,
        }
    }

    fn heap_bytes(&self) -> usize {
        size_of::<Entry>()
            + self.id.as_ref().map_or(0, |s| s.len() + 16)
            + self.title.as_ref().map_or(0, |s| s.len())
            + self.description.len()
            + 4 * (self.tags.len() + self.permissions.len())
    }
}

/// The filters of a lookup or search: every one given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// Only tools of this category.
    pub category: Option<String>,
    /// Only tools with this tag.
    pub tag: Option<String>,
    /// Only tools that declare this permission term: a kind (`network`,
    /// `fileRead`, `fileWrite`, `commands`) or `kind:value`
    /// (`network:api.github.com`).
    pub permission: Option<String>,
}

impl Filters {
    /// No filter: every tool passes.
    pub fn none() -> Self {
        Filters::default()
    }

    /// Only tools of `category`.
    pub fn category(mut self, category: impl Into<String>) -> Self {
        self.category = Some(category.into());
        self
    }

    /// Only tools tagged `tag`.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }

    /// Only tools declaring the permission term `permission`.
    pub fn permission(mut self, permission: impl Into<String>) -> Self {
        self.permission = Some(permission.into());
        self
    }

    /// True when no filter is set.
    pub fn is_empty(&self) -> bool {
        self.category.is_none() && self.tag.is_none() && self.permission.is_none()
    }
}

/// A search result: the tool, its score and why it matched.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchResult {
    /// The key of the tool (its external id when it has one).
    pub key: ToolKey,
    /// The tool's name.
    pub name: String,
    /// The tool's version.
    pub version: Version,
    /// The first line of its description.
    pub description_line: String,
    /// The ranking score (higher is better; comparable within one search).
    pub score: f32,
    /// Why it matched (`"name: weather"`, `"semantic 0.72"`, ...).
    pub why: Vec<String>,
}

/// The search document of a manifest, borrowed from it (nothing is copied):
/// name, description, the input schema's top-level parameters with their
/// descriptions, and tags. The category is a filter, not search text: a
/// word every tool of a large category shares ranks nothing apart, and in
/// every document's embedding it blurred the semantic scores (hybrid
/// nDCG@10 of the dev queries over 4,053 tools 0.879 with it, 0.881
/// without).
pub(crate) struct SearchDoc<'a> {
    manifest: &'a Manifest,
    parameters: Vec<(&'a str, &'a str)>,
}

impl<'a> SearchDoc<'a> {
    pub(crate) fn of(manifest: &'a Manifest) -> Self {
        let parameters = manifest
            .input_schema
            .get("properties")
            .and_then(serde_json::Value::as_object)
            .map(|properties| {
                properties
                    .iter()
                    .map(|(name, property)| {
                        let description = property
                            .get("description")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default();
                        (name.as_str(), description)
                    })
                    .collect()
            })
            .unwrap_or_default();
        SearchDoc {
            manifest,
            parameters,
        }
    }
}

impl Indexable for SearchDoc<'_> {
    fn name(&self) -> &str {
        &self.manifest.name
    }

    fn description(&self) -> &str {
        &self.manifest.description
    }

    fn parameters(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parameters.iter().copied()
    }

    fn tags(&self) -> impl Iterator<Item = &str> {
        self.manifest.tags.iter().map(String::as_str)
    }
}

/// Orders versions for "newest": any release before any pre-release, then
/// by semver precedence.
pub(crate) fn newest_first(a: &Version, b: &Version) -> Ordering {
    (b.pre.is_empty(), b).cmp(&(a.pre.is_empty(), a))
}

/// One immutable state of the registry. Lookups here never block and never
/// see later writes.
pub struct Snapshot {
    pub(crate) strings: Interner,
    pub(crate) entries: Vec<Option<Arc<Entry>>>,
    pub(crate) store: Arc<Store>,
    pub(crate) search: Arc<LazySearch>,
    versions: HashMap<u32, Version>,
    by_name: HashMap<Arc<str>, Vec<u32>>,
    /// Every name, sorted, for prefix lookups.
    names: Vec<Arc<str>>,
    by_id: HashMap<Arc<str>, u32>,
    by_category: HashMap<u32, Vec<u32>>,
    by_tag: HashMap<u32, Vec<u32>>,
    by_permission: HashMap<u32, Vec<u32>>,
    bloom: BloomFilter,
    live: usize,
}

impl Snapshot {
    /// Builds the lookup indices over `entries` (slot = position).
    pub(crate) fn build(
        strings: Interner,
        entries: Vec<Option<Arc<Entry>>>,
        store: Arc<Store>,
        search: Arc<LazySearch>,
    ) -> Self {
        let mut versions = HashMap::default();
        let mut by_name: HashMap<Arc<str>, Vec<u32>> =
            HashMap::with_capacity_and_hasher(entries.len(), Default::default());
        let mut by_id = HashMap::default();
        let mut by_category: HashMap<u32, Vec<u32>> = HashMap::default();
        let mut by_tag: HashMap<u32, Vec<u32>> = HashMap::default();
        let mut by_permission: HashMap<u32, Vec<u32>> = HashMap::default();
        let mut live = 0;
        for (slot, entry) in entries.iter().enumerate() {
            let Some(entry) = entry else { continue };
            let slot = u32::try_from(slot).unwrap_or(u32::MAX);
            live += 1;
            versions.entry(entry.version).or_insert_with(|| {
                // Stored versions were parsed at import; 0.0.0 only for a corrupt index.
                Version::parse(strings.resolve(entry.version)).unwrap_or(Version::new(0, 0, 0))
            });
            if let Some(name) = strings.shared(entry.name) {
                by_name.entry(name.clone()).or_default().push(slot);
            }
            if let Some(id) = &entry.id {
                by_id.insert(id.clone(), slot);
            }
            if let Some(category) = entry.category {
                by_category.entry(category).or_default().push(slot);
            }
            for &tag in &entry.tags {
                by_tag.entry(tag).or_default().push(slot);
            }
            for &term in &entry.permissions {
                by_permission.entry(term).or_default().push(slot);
            }
        }
        for slots in by_name.values_mut() {
            // Newest first; among equal versions the latest registered first.
            slots.sort_by(|&a, &b| {
                let va = &versions[&entries[a as usize].as_ref().map_or(0, |e| e.version)];
                let vb = &versions[&entries[b as usize].as_ref().map_or(0, |e| e.version)];
                newest_first(va, vb).then(b.cmp(&a))
            });
        }
        let mut bloom = BloomFilter::with_false_pos(0.01)
            .seed(&BLOOM_SEED)
            .expected_items(by_name.len().max(64));
        for name in by_name.keys() {
            bloom.insert(&**name);
        }
        let mut names: Vec<Arc<str>> = by_name.keys().cloned().collect();
        names.sort_unstable();
        Snapshot {
            strings,
            entries,
            store,
            search,
            versions,
            by_name,
            names,
            by_id,
            by_category,
            by_tag,
            by_permission,
            bloom,
            live,
        }
    }

    /// This snapshot with `search` as its search index.
    pub(crate) fn with_search(self, search: Arc<LazySearch>) -> Self {
        Snapshot { search, ..self }
    }

    /// How many tools are registered (every version counted).
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no tool is registered.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// How many distinct names are registered.
    pub fn name_count(&self) -> usize {
        self.by_name.len()
    }

    /// The bloom filter's answer: `false` means no tool has this name (it
    /// never says `false` for a registered name), `true` means maybe.
    pub fn may_contain(&self, name: &str) -> bool {
        self.bloom.contains(name)
    }

    /// Whether a tool of this name is registered; the bloom filter answers
    /// most unknown names without touching the map.
    pub fn contains(&self, name: &str) -> bool {
        self.may_contain(name) && self.by_name.contains_key(name)
    }

    fn tool(&self, slot: u32) -> Option<ToolRef<'_>> {
        let entry = self.entries.get(slot as usize)?.as_deref()?;
        Some(ToolRef {
            snapshot: self,
            slot,
            entry,
        })
    }

    fn slots_named(&self, name: &str) -> &[u32] {
        if !self.may_contain(name) {
            return &[];
        }
        self.by_name.get(name).map_or(&[], Vec::as_slice)
    }

    /// The newest version of the tool named `name` (releases before
    /// pre-releases; of equal versions, the one registered last).
    pub fn get(&self, name: &str) -> Option<ToolRef<'_>> {
        self.slots_named(name).first().and_then(|&s| self.tool(s))
    }

    /// Every tool named `name`, newest first.
    pub fn versions(&self, name: &str) -> Vec<ToolRef<'_>> {
        self.slots_named(name)
            .iter()
            .filter_map(|&s| self.tool(s))
            .collect()
    }

    /// The tool `name` at exactly `version`.
    pub fn get_version(&self, name: &str, version: &Version) -> Option<ToolRef<'_>> {
        self.versions(name)
            .into_iter()
            .find(|t| t.version() == version)
    }

    /// The newest tool `name` whose version meets `requirement` (semver
    /// rules: a pre-release matches only a requirement that names its
    /// major.minor.patch with a pre-release).
    pub fn resolve(&self, name: &str, requirement: &VersionReq) -> Option<ToolRef<'_>> {
        // Highest precedence, as cargo picks: `>=0.5, <1.0.0-rc.3` prefers
        // 1.0.0-rc.2 to 0.9.0. Of equal versions, the first (latest registered).
        self.versions(name)
            .into_iter()
            .filter(|t| requirement.matches(t.version()))
            .min_by(|a, b| b.version().cmp(a.version()))
    }

    /// The tool with external id `id`.
    pub fn by_id(&self, id: &str) -> Option<ToolRef<'_>> {
        self.by_id.get(id).and_then(|&s| self.tool(s))
    }

    /// The tool filed under `key`.
    pub fn by_key(&self, key: &ToolKey) -> Option<ToolRef<'_>> {
        self.slot_of(key).and_then(|s| self.tool(s))
    }

    pub(crate) fn slot_of(&self, key: &ToolKey) -> Option<u32> {
        match &key.id {
            Some(id) => self.by_id.get(id.as_str()).copied(),
            None => self.slots_named(&key.name).iter().copied().find(|&s| {
                self.tool(s)
                    .is_some_and(|t| t.entry.id.is_none() && *t.version() == key.version)
            }),
        }
    }

    /// Every tool whose name starts with `prefix`, by name, newest first
    /// within a name.
    pub fn prefix(&self, prefix: &str) -> Vec<ToolRef<'_>> {
        let start = self.names.partition_point(|name| &**name < prefix);
        self.names[start..]
            .iter()
            .take_while(|name| name.starts_with(prefix))
            .flat_map(|name| self.versions(name))
            .collect()
    }

    /// The slots passing `filters`, in slot order, or `None` when no filter
    /// is set (everything passes).
    pub(crate) fn filter_slots(&self, filters: &Filters) -> Option<Vec<u32>> {
        let lists = [
            (&filters.category, &self.by_category),
            (&filters.tag, &self.by_tag),
            (&filters.permission, &self.by_permission),
        ];
        let mut result: Option<Vec<u32>> = None;
        for (wanted, index) in lists {
            let Some(wanted) = wanted else { continue };
            let list = self
                .strings
                .get(wanted)
                .and_then(|id| index.get(&id))
                .map_or(&[][..], Vec::as_slice);
            result = Some(match result {
                None => list.to_vec(),
                Some(so_far) => intersect(&so_far, list),
            });
        }
        result
    }

    /// Every tool passing `filters` (all tools when none is set), in
    /// registration order.
    pub fn filter(&self, filters: &Filters) -> Vec<ToolRef<'_>> {
        match self.filter_slots(filters) {
            Some(slots) => slots.into_iter().filter_map(|s| self.tool(s)).collect(),
            None => self.iter().collect(),
        }
    }

    /// Every registered tool, in registration order.
    pub fn iter(&self) -> impl Iterator<Item = ToolRef<'_>> {
        (0..self.entries.len()).filter_map(|s| self.tool(u32::try_from(s).unwrap_or(u32::MAX)))
    }

    /// Every distinct category.
    pub fn categories(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .by_category
            .keys()
            .map(|&c| self.strings.resolve(c))
            .collect();
        all.sort_unstable();
        all
    }

    /// Every distinct tag.
    pub fn tags(&self) -> Vec<&str> {
        let mut all: Vec<&str> = self
            .by_tag
            .keys()
            .map(|&t| self.strings.resolve(t))
            .collect();
        all.sort_unstable();
        all
    }

    pub(crate) fn counts(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.live,
            self.by_name.len(),
            self.versions.len(),
            self.by_category.len(),
            self.by_tag.len(),
        )
    }

    fn is_live(&self, slot: u32) -> bool {
        self.entries.get(slot as usize).is_some_and(Option::is_some)
    }

    /// Whether searches use semantic (embedding) search as well as lexical
    /// (decodes the search index if it was not yet).
    pub fn has_semantic(&self) -> bool {
        self.search.get().is_ok_and(|s| s.has_semantic())
    }

    /// Why searches are lexical only, or `None` when they are semantic too
    /// (decodes the search index if it was not yet; an index that cannot be
    /// decoded has no model to use).
    pub fn lexical_reason(&self) -> Option<crate::LexicalReason> {
        match self.search.get() {
            Ok(index) => index.lexical_reason(),
            Err(_) => Some(crate::LexicalReason::NotEmbedded),
        }
    }

    /// The `limit` best tools for `query` among those passing `filters`.
    /// The first search of an opened registry decodes its search index; an
    /// index that cannot be decoded is an error.
    pub fn search(
        &self,
        query: &str,
        filters: &Filters,
        limit: usize,
    ) -> Result<Vec<SearchResult>, RegistryError> {
        let index = self
            .search
            .get()
            .map_err(|reason| RegistryError::CorruptIndex {
                path: self.store.dir().join(crate::INDEX_FILE),
                reason,
            })?;
        let hits = match self.filter_slots(filters) {
            None => index.search(query, limit, &|doc| self.is_live(doc)),
            Some(slots) => {
                let mut allowed = vec![0u64; self.entries.len().div_ceil(64)];
                for slot in slots {
                    allowed[slot as usize / 64] |= 1 << (slot % 64);
                }
                index.search(query, limit, &|doc| {
                    allowed
                        .get(doc as usize / 64)
                        .is_some_and(|w| w & (1 << (doc % 64)) != 0)
                        && self.is_live(doc)
                })
            }
        };
        Ok(hits
            .into_iter()
            .filter_map(|hit| {
                let tool = self.tool(hit.doc)?;
                Some(SearchResult {
                    key: tool.key(),
                    name: tool.name().to_owned(),
                    version: tool.version().clone(),
                    description_line: tool.description_line(),
                    score: hit.score,
                    why: hit.why,
                })
            })
            .collect())
    }

    /// Approximate heap bytes of the metadata and lookup indices (not the
    /// search index).
    pub(crate) fn heap_bytes(&self) -> usize {
        let entries: usize = self
            .entries
            .iter()
            .map(|e| 8 + e.as_ref().map_or(0, |e| e.heap_bytes()))
            .sum();
        let postings = |m: &HashMap<u32, Vec<u32>>| -> usize {
            m.values().map(|v| 4 * v.capacity() + 40).sum::<usize>()
        };
        let names: usize = self
            .by_name
            .values()
            .map(|v| 4 * v.capacity() + 56)
            .sum::<usize>()
            + self.names.capacity() * 16;
        self.strings.heap_bytes()
            + entries
            + names
            + self.by_id.capacity() * 28
            + postings(&self.by_category)
            + postings(&self.by_tag)
            + postings(&self.by_permission)
            + self.versions.capacity() * 48
            + self.bloom.num_bits() / 8
    }
}

fn intersect(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            Ordering::Less => i += 1,
            Ordering::Greater => j += 1,
            Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// A registered tool's compact metadata, borrowed from a snapshot; its full
/// manifest and validators are loaded on demand with [`ToolRef::load`].
#[derive(Clone, Copy)]
pub struct ToolRef<'a> {
    snapshot: &'a Snapshot,
    slot: u32,
    entry: &'a Entry,
}

impl<'a> ToolRef<'a> {
    pub(crate) fn slot(&self) -> u32 {
        self.slot
    }

    /// Where the manifest is in the manifests file: offset and length.
    pub(crate) fn span(&self) -> (u64, u32) {
        (self.entry.offset, self.entry.len)
    }

    /// The tool's name.
    pub fn name(&self) -> &'a str {
        self.snapshot.strings.resolve(self.entry.name)
    }

    /// The tool's version.
    pub fn version(&self) -> &'a Version {
        // Every live entry's version is in the table (built from the entries).
        static ZERO: Version = Version::new(0, 0, 0);
        self.snapshot
            .versions
            .get(&self.entry.version)
            .unwrap_or(&ZERO)
    }

    /// The external id, if the tool came with one.
    pub fn id(&self) -> Option<&'a str> {
        self.entry.id.as_deref()
    }

    /// The key the tool is filed under.
    pub fn key(&self) -> ToolKey {
        ToolKey {
            name: self.name().to_owned(),
            version: self.version().clone(),
            id: self.id().map(str::to_owned),
        }
    }

    /// The title, if any.
    pub fn title(&self) -> Option<&'a str> {
        self.entry.title.as_deref()
    }

    /// The full description.
    pub fn description(&self) -> &'a str {
        &self.entry.description
    }

    /// The first line of the description (at most 160 characters).
    pub fn description_line(&self) -> String {
        first_line(&self.entry.description)
    }

    /// The category, if any.
    pub fn category(&self) -> Option<&'a str> {
        self.entry
            .category
            .map(|c| self.snapshot.strings.resolve(c))
    }

    /// The tags.
    pub fn tags(&self) -> Vec<&'a str> {
        let strings = &self.snapshot.strings;
        self.entry
            .tags
            .iter()
            .map(|&t| strings.resolve(t))
            .collect()
    }

    /// The declared permission terms (`network`, `network:api.github.com`, ...).
    pub fn permissions(&self) -> Vec<&'a str> {
        let strings = &self.snapshot.strings;
        self.entry
            .permissions
            .iter()
            .map(|&t| strings.resolve(t))
            .collect()
    }

    /// The full manifest, read from disk now (it is not cached).
    pub fn manifest(&self) -> Result<Manifest, RegistryError> {
        self.snapshot
            .store
            .manifest(self.entry.offset, self.entry.len, &|| {
                self.key().to_string()
            })
    }

    /// The compiled validators: read from disk and compiled on first use,
    /// then served from the bounded cache.
    pub fn load(&self) -> Result<Arc<LoadedTool>, RegistryError> {
        self.snapshot
            .store
            .load(self.slot, self.entry.offset, self.entry.len, &|| {
                self.key().to_string()
            })
    }
}

impl std::fmt::Debug for ToolRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToolRef")
            .field("key", &self.key().to_string())
            .field("category", &self.category())
            .finish()
    }
}

/// The first line of `text`, cut at a character boundary to 160 characters.
pub(crate) fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    match line.char_indices().nth(160) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustchain_tools_search::{Document, Parameter, SearchIndex};
    use serde_json::json;

    #[test]
    fn a_manifest_indexes_as_its_document() {
        let mut with_all = Manifest::new(
            "weather.getForecast",
            Version::new(1, 0, 0),
            "Gets the forecast for a city.",
            json!({"type": "object", "properties": {
                "city_name": {"type": "string", "description": "The city's name"},
                "days": {"type": "integer"}
            }}),
        );
        with_all.tags = vec!["weather".into(), "geo".into()];
        with_all.category = Some("web".into());
        let bare = Manifest::new("x", Version::new(1, 0, 0), "", json!({"type": "object"}));
        let documents = [
            Document {
                id: String::new(),
                name: "weather.getForecast".into(),
                description: "Gets the forecast for a city.".into(),
                parameters: vec![
                    Parameter {
                        name: "city_name".into(),
                        description: "The city's name".into(),
                    },
                    Parameter {
                        name: "days".into(),
                        description: String::new(),
                    },
                ],
                // The category ("web") is a filter, not search text.
                tags: vec!["weather".into(), "geo".into()],
            },
            Document {
                name: "x".into(),
                ..Document::default()
            },
        ];
        let empty = SearchIndex::build(&[], None);
        let borrowed = [SearchDoc::of(&with_all), SearchDoc::of(&bare)];
        let encode = |index: &SearchIndex| postcard::to_allocvec(index).unwrap_or_default();
        let from_manifests = encode(&empty.with_added_from(&borrowed));
        assert!(!from_manifests.is_empty());
        assert_eq!(from_manifests, encode(&empty.with_added(&documents)));
    }

    #[test]
    fn releases_come_before_pre_releases() {
        let mut v: Vec<Version> = ["1.0.0", "2.0.0-beta.1", "1.5.0", "0.9.0"]
            .iter()
            .filter_map(|s| Version::parse(s).ok())
            .collect();
        v.sort_by(newest_first);
        let shown: Vec<String> = v.iter().map(Version::to_string).collect();
        assert_eq!(shown, ["1.5.0", "1.0.0", "0.9.0", "2.0.0-beta.1"]);
    }

    #[test]
    fn intersection_keeps_common_slots() {
        assert_eq!(intersect(&[1, 3, 5, 9], &[2, 3, 9, 10]), [3, 9]);
        assert!(intersect(&[], &[1]).is_empty());
    }

    #[test]
    fn first_line_is_cut_on_a_character_boundary() {
        assert_eq!(first_line("one\ntwo"), "one");
        let long = "é".repeat(200);
        assert_eq!(first_line(&long).chars().count(), 161);
    }
}
