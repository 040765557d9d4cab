//! Properties: text analysis never panics on any Unicode, and search never
//! panics, returns at most `limit` hits, only documents the filter accepts,
//! each once, best first (also for requests of several sentences); a stored
//! index round-trips and arbitrary bytes are refused without panicking; an
//! index retaining some documents ranks as one built of just those; the
//! first results do not depend on the limit (up to 25); a tool the request
//! names by its identifier comes first.

use proptest::prelude::*;
use rustchain_tools_search::analyze::{for_each_word, terms, words};
use rustchain_tools_search::{Document, Parameter, SearchIndex};

fn document() -> impl Strategy<Value = Document> {
    (
        "[a-zA-Z_.\\-0-9]{0,24}",
        any::<String>(),
        proptest::collection::vec(("[a-zA-Z_]{1,10}", any::<String>()), 0..3),
        proptest::collection::vec("\\PC{0,8}", 0..2),
    )
        .prop_map(|(name, description, params, tags)| Document {
            id: name.clone(),
            name,
            description,
            parameters: params
                .into_iter()
                .map(|(name, description)| Parameter { name, description })
                .collect(),
            tags,
        })
}

/// A document of few words, so that names repeat and the ranking
/// diversifies (lowers repeated names and sentences answered twice).
fn small_document() -> impl Strategy<Value = Document> {
    let word = || {
        prop_oneof![
            Just("weather"),
            Just("email"),
            Just("invoice"),
            Just("city"),
            Just("send")
        ]
    };
    (
        word(),
        0u8..3,
        proptest::collection::vec(word(), 1..6),
        proptest::collection::vec(word(), 0..3),
    )
        .prop_map(|(name, suffix, description, params)| Document {
            id: String::new(),
            name: format!("{name}_{suffix}"),
            description: description.join(" "),
            parameters: params
                .into_iter()
                .map(|p| Parameter {
                    name: p.to_owned(),
                    description: format!("the {p}"),
                })
                .collect(),
            tags: Vec::new(),
        })
}

proptest! {
    #[test]
    fn analysis_never_panics(text in any::<String>()) {
        let mut count = 0;
        for_each_word(&text, |w| {
            assert!(!w.is_empty() && w.len() <= 40 * 3);
            count += 1;
        });
        prop_assert_eq!(words(&text).len(), count);
        prop_assert!(terms(&text).len() <= count);
    }

    #[test]
    fn search_respects_limit_and_filter(
        docs in proptest::collection::vec(document(), 0..12),
        query in any::<String>(),
        limit in 0usize..6,
        modulus in 1u32..4,
    ) {
        let index = SearchIndex::build(&docs, None);
        let filter = |d: u32| d.is_multiple_of(modulus);
        let hits = index.search(&query, limit, &filter);
        prop_assert!(hits.len() <= limit);
        let mut seen = std::collections::HashSet::new();
        for h in &hits {
            prop_assert!((h.doc as usize) < docs.len());
            prop_assert!(filter(h.doc));
            prop_assert!(seen.insert(h.doc));
        }
        prop_assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
        let bytes = postcard::to_allocvec(&index).unwrap();
        let back: SearchIndex = postcard::from_bytes(&bytes).unwrap();
        prop_assert_eq!(back.search(&query, limit, &filter), hits);
    }

    #[test]
    fn requests_of_several_sentences_respect_limit_and_filter(
        docs in proptest::collection::vec(document(), 1..12),
        query in "([a-zA-Z_ ]{0,12}[.?!;\n] ?){0,6}",
        limit in 0usize..6,
        modulus in 1u32..4,
    ) {
        let index = SearchIndex::build(&docs, None);
        let filter = |d: u32| d.is_multiple_of(modulus);
        let hits = index.search(&query, limit, &filter);
        prop_assert!(hits.len() <= limit);
        let mut seen = std::collections::HashSet::new();
        for h in &hits {
            prop_assert!((h.doc as usize) < docs.len());
            prop_assert!(filter(h.doc));
            prop_assert!(seen.insert(h.doc));
        }
        prop_assert!(hits.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn retaining_documents_ranks_as_building_them(
        docs in proptest::collection::vec(document(), 0..10),
        keep in proptest::collection::vec(any::<bool>(), 0..12),
        query in "[a-zA-Z ]{0,30}",
    ) {
        let kept: Vec<Document> = docs
            .iter()
            .zip(&keep)
            .filter(|&(_, &k)| k)
            .map(|(d, _)| d.clone())
            .collect();
        let retained = SearchIndex::build(&docs, None).retain(&keep);
        let fresh = SearchIndex::build(&kept, None);
        prop_assert_eq!(retained.len(), kept.len());
        prop_assert_eq!(retained.term_count(), fresh.term_count());
        prop_assert_eq!(retained.search(&query, 10, &|_| true), fresh.search(&query, 10, &|_| true));
    }

    #[test]
    fn the_first_results_do_not_depend_on_the_limit(
        docs in proptest::collection::vec(small_document(), 100..180),
        query in "((weather|email|invoice|city|send|the) ?){1,4}(\\. ((weather|email|invoice|city|send) ?){1,3}){0,2}",
        limit in 1usize..25,
    ) {
        let index = SearchIndex::build(&docs, None);
        let many = index.search(&query, 25, &|_| true);
        let few = index.search(&query, limit, &|_| true);
        prop_assert_eq!(few.len(), limit.min(many.len()));
        prop_assert_eq!(&few[..], &many[..few.len()]);
    }

    #[test]
    fn a_tool_named_by_its_identifier_comes_first(
        docs in proptest::collection::vec(document(), 0..10),
        name in "[a-z]{1,8}[_.\\-][a-z]{1,8}",
        before in "[a-z ,?]{0,40}",
        after in "\\PC{0,40}",
    ) {
        let mut docs = docs;
        docs.push(Document {
            id: "named".to_owned(),
            name: name.clone(),
            description: String::new(),
            parameters: Vec::new(),
            tags: Vec::new(),
        });
        let index = SearchIndex::build(&docs, None);
        let hits = index.search(&format!("{before} {} {after}", name.to_uppercase()), 5, &|_| true);
        prop_assert!(!hits.is_empty());
        prop_assert_eq!(docs[hits[0].doc as usize].name.to_lowercase(), name);
        prop_assert_eq!(hits[0].why[0].as_str(), "named in the request");
    }

    #[test]
    fn stored_index_garbage_is_refused_not_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = postcard::from_bytes::<SearchIndex>(&bytes);
    }
}
