//! The transformer kind of embedding model on the real all-MiniLM-L6-v2
//! (installed by `cargo xtask fetch-model --model all-minilm-l6-v2`; `.ci/run`
//! installs it and sets `RUSTCHAIN_REQUIRE_MODELS` so that nothing here is
//! skipped there).
#![cfg(feature = "transformer")]

use std::path::Path;
use std::sync::Arc;

use rustchain_tools_search::{Document, EmbeddingModel, Parameter, SearchIndex, dot};

fn installed() -> Option<EmbeddingModel> {
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
    Some(EmbeddingModel::load(&dir).unwrap_or_else(|e| panic!("{e}")))
}

/// The figures of an independent forward pass over the same weights (numpy,
/// written from the BERT paper's layer equations, with the tokenizer's
/// Python binding): the first components of one vector and two cosines.
#[test]
fn embeddings_match_an_independent_forward_pass() {
    let Some(model) = installed() else { return };
    assert_eq!(model.dims(), 384);
    assert!(model.is_contextual());
    let a = model.embed("What's the weather like in Paris today?");
    let b = model.embed("Get the current weather forecast for a city");
    let c = model.embed("Compute the factorial of a number");
    let reference = [0.047_025_62, 0.028_669_78, 0.089_599_71, 0.017_008_12];
    for (got, want) in a.iter().zip(reference) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
    assert!((dot(&a, &b) - 0.481_190).abs() < 1e-4, "{}", dot(&a, &b));
    assert!((dot(&a, &c) - 0.071_516).abs() < 1e-4, "{}", dot(&a, &c));
}

fn tool(id: &str, name: &str, description: &str, parameter: &str) -> Document {
    Document {
        id: id.into(),
        name: name.into(),
        description: description.into(),
        parameters: vec![Parameter {
            name: parameter.into(),
            description: String::new(),
        }],
        tags: vec![],
    }
}

/// A request that shares no word with its tool's definition is found by
/// meaning, and the index keeps the vectors it computed at build time.
#[test]
fn hybrid_search_finds_a_paraphrase() {
    let Some(model) = installed() else { return };
    let docs = vec![
        tool("math", "math.factorial", "Factorial of an integer", "n"),
        tool(
            "mail",
            "send_email",
            "Send an email message to a recipient",
            "to",
        ),
        tool(
            "wx",
            "get_forecast",
            "Weather forecast for a location",
            "location",
        ),
    ];
    let index = SearchIndex::build(&docs, Some(Arc::new(model)));
    assert!(index.has_semantic() && index.is_embedded());
    let hits = index.search("will it rain in Oslo tomorrow?", 3, &|_| true);
    assert_eq!(hits[0].doc, 2, "{hits:?}");
    assert!(
        hits[0].why.iter().any(|w| w.starts_with("semantic")),
        "{hits:?}"
    );
}
