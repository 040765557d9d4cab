//! Behaviour of the registry: imports of every format, persistence,
//! versions, removal, filters, search, lazy loading and concurrency.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    thread,
};

use proptest::prelude::*;
use rustchain_tools_registry::{
    Filters, Format, INDEX_FILE, ImportOptions, Manifest, Registry, RegistryError, ToolKey,
};
use semver::{Version, VersionReq};
use serde_json::json;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn corpus_dir() -> PathBuf {
    rustchain_tools_registry::retrieval_dir()
}

fn manifest_line(name: &str, version: &str, category: &str, tags: &[&str]) -> String {
    json!({
        "name": name,
        "version": version,
        "description": format!("The {name} tool."),
        "category": category,
        "tags": tags,
        "inputSchema": {"type": "object", "properties": {"q": {"type": "string", "description": "query"}}},
    })
    .to_string()
}

fn import(registry: &Registry, text: &str) -> Result<rustchain_tools_registry::ImportReport> {
    Ok(registry.import_str(text, "test", &ImportOptions::default())?)
}

#[test]
fn imports_manifest_lines() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    let text = [
        manifest_line("files.read", "1.0.0", "file", &["io"]),
        json!({
            "name": "files.write", "version": "2.1.0", "title": "Write a file",
            "description": "Writes a file.", "category": "file",
            "inputSchema": {"type": "object"},
            "outputSchema": {"type": "object", "properties": {"bytes": {"type": "integer"}}},
            "annotations": {"destructiveHint": true},
            "permissions": {"fileWrite": ["/tmp"]},
            "id": "ext/files.write"
        })
        .to_string(),
    ]
    .join("\n");
    let report = import(&registry, &text)?;
    assert_eq!(report.format, Format::Manifests);
    assert_eq!(report.added.len(), 2);
    assert!(report.problems.is_empty());
    let snapshot = registry.snapshot();
    let write = snapshot.by_id("ext/files.write").ok_or("by id")?;
    assert_eq!(write.name(), "files.write");
    assert_eq!(write.title(), Some("Write a file"));
    assert_eq!(write.permissions(), ["fileWrite", "fileWrite:/tmp"]);
    assert_eq!(write.manifest()?.annotations.destructive_hint, Some(true));
    let loaded = write.load()?;
    assert!(
        loaded
            .output
            .as_ref()
            .ok_or("output")?
            .validate(&json!({"bytes": "x"}))
            .is_err()
    );
    Ok(())
}

#[test]
fn imports_an_mcp_tools_list_bare_or_in_json_rpc() -> Result {
    let tools = json!({"tools": [
        {"name": "get_weather", "title": "Weather", "description": "Current weather for a city.",
         "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
        {"name": "echo", "description": "Echoes.", "inputSchema": {"type": "object"}, "_meta": {"x": 1}}
    ]});
    for text in [
        serde_json::to_string_pretty(&tools)?,
        json!({"jsonrpc": "2.0", "id": 7, "result": tools}).to_string(),
    ] {
        let dir = tempfile::tempdir()?;
        let registry = Registry::open(dir.path())?;
        let report = import(&registry, &text)?;
        assert_eq!(report.format, Format::McpToolsList);
        assert_eq!(report.added.len(), 2, "{:?}", report.problems);
        let weather = registry.snapshot();
        let weather = weather.get("get_weather").ok_or("get_weather")?;
        assert_eq!(weather.version(), &Version::new(1, 0, 0));
        assert!(weather.load()?.input.validate(&json!({})).is_err());
    }
    Ok(())
}

#[test]
fn imports_openai_functions_wrapped_bare_array_or_lines() -> Result {
    let wrapped = json!([
        {"type": "function", "function": {"name": "add", "description": "Adds two numbers.",
          "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}},
        {"type": "function", "function": {"name": "now", "description": "The time."}}
    ])
    .to_string();
    let bare_lines = "{\"name\": \"add\", \"description\": \"Adds.\", \"parameters\": {\"type\": \"object\"}}\n\
                      {\"name\": \"sub\", \"parameters\": {\"type\": \"object\"}}\n";
    for (text, count) in [(wrapped.as_str(), 2), (bare_lines, 2)] {
        let dir = tempfile::tempdir()?;
        let registry = Registry::open(dir.path())?;
        let report = import(&registry, text)?;
        assert_eq!(report.format, Format::OpenAi);
        assert_eq!(report.added.len(), count, "{:?}", report.problems);
        assert!(registry.snapshot().contains("add"));
    }
    Ok(())
}

#[test]
fn a_forced_format_is_used() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    // Detected as corpus (it has an id), forced as OpenAI: the id is dropped.
    let line = r#"{"id": "x/add", "name": "add", "parameters": {"type": "object"}, "source": "x"}"#;
    let report =
        registry.import_str(line, "t", &ImportOptions::default().format(Format::OpenAi))?;
    assert_eq!(report.format, Format::OpenAi);
    assert_eq!(report.added[0].id, None);
    Ok(())
}

#[test]
fn a_batch_reports_every_bad_line_and_keeps_the_good_ones() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    let lines = [
        manifest_line("good.one", "1.0.0", "c", &[]), // 1
        "{not json".to_owned(),                       // 2
        manifest_line("bad name", "1.0.0", "c", &[]), // 3
        manifest_line("good.two", "1.0", "c", &[]),   // 4: version
        r#"{"name": "s", "inputSchema": {"type": "string"}}"#.to_owned(), // 5: not an object
        r#"{"name": "t", "inputSchema": {"type": "object", "minProperties": "x"}}"#.to_owned(), // 6
        String::new(),                                // 7: blank, skipped
        manifest_line("good.three", "0.2.0", "c", &[]), // 8
        manifest_line("good.one", "1.0.0", "c", &[]), // 9: duplicate
        r#"{"description": "no name", "inputSchema": {"type": "object"}}"#.to_owned(), // 10
        manifest_line(&"x".repeat(129), "1.0.0", "c", &[]), // 11
    ];
    let report = import(&registry, &lines.join("\n"))?;
    let added: Vec<String> = report.added.iter().map(ToString::to_string).collect();
    assert_eq!(added, ["good.one@1.0.0", "good.three@0.2.0"]);
    let bad: Vec<usize> = report.problems.iter().map(|p| p.line).collect();
    assert_eq!(bad, [2, 3, 4, 5, 6, 9, 10, 11]);
    let reason = |line: usize| {
        report
            .problems
            .iter()
            .find(|p| p.line == line)
            .map(|p| p.to_string())
            .unwrap_or_default()
    };
    assert!(reason(2).contains("line 2"), "{}", reason(2));
    assert!(reason(3).contains("' '"), "{}", reason(3));
    assert!(reason(4).contains("not semver"), "{}", reason(4));
    assert!(reason(5).contains("\"type\": \"object\""), "{}", reason(5));
    assert!(reason(6).contains("inputSchema"), "{}", reason(6));
    assert!(
        reason(9).contains("already given at line 1"),
        "{}",
        reason(9)
    );
    assert!(reason(10).contains("name"), "{}", reason(10));
    assert!(reason(11).contains("129 characters"), "{}", reason(11));
    assert_eq!(registry.snapshot().len(), 2);
    Ok(())
}

#[test]
fn the_real_corpus_keeps_ids_and_repeated_names() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    let report = registry.import_file(
        &corpus_dir().join("corpus.jsonl"),
        &ImportOptions::default(),
    )?;
    assert_eq!(report.format, Format::Corpus);
    assert!(
        report.problems.is_empty(),
        "{:?}",
        &report.problems[..report.problems.len().min(3)]
    );
    assert_eq!(report.added.len(), 4053);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.len(), 4053);
    let text = std::fs::read_to_string(corpus_dir().join("corpus.jsonl"))?;
    let mut names = std::collections::HashSet::new();
    for line in text.lines() {
        let tool: serde_json::Value = serde_json::from_str(line)?;
        names.insert(tool["name"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(snapshot.name_count(), names.len());
    // 62 definitions share the name get_current_weather, each under its own id.
    let weather = snapshot.versions("get_current_weather");
    assert_eq!(weather.len(), 62);
    let one = weather[0].key();
    assert!(weather.iter().all(|t| {
        t.id()
            .is_some_and(|id| id.starts_with("bfcl/get_current_weather~"))
    }));
    // Sources become categories and server labels tags.
    let live = snapshot.filter(&Filters::none().category("livemcpbench"));
    assert_eq!(live.len(), 527);
    assert!(snapshot.categories().contains(&"bfcl"));

    let results = registry.search("what is the weather in Boston", &Filters::none(), 5)?;
    assert!(!results.is_empty());
    assert!(
        results.iter().any(|r| r.name.contains("weather")),
        "{results:?}"
    );
    assert!(
        results[0].key.id.is_some(),
        "results give back the corpus id"
    );
    // Removing by key takes one definition and leaves its namesakes.
    assert!(registry.remove_key(&one)?);
    assert!(!registry.remove_key(&one)?);
    assert_eq!(
        registry.snapshot().versions("get_current_weather").len(),
        61
    );
    assert!(registry.snapshot().by_key(&one).is_none());
    let filtered = registry.search("weather", &Filters::none().category("livemcpbench"), 10)?;
    assert!(filtered.iter().all(|r| {
        r.key
            .id
            .as_deref()
            .is_some_and(|id| id.starts_with("livemcp/"))
    }));
    Ok(())
}

#[test]
fn every_manifest_of_large_batches_reads_back() -> Result {
    // Batches over a thousand are encoded in runs on several threads; the
    // second batch is appended after the first.
    let dir = tempfile::tempdir()?;
    let batch = |from: usize| -> Vec<Manifest> {
        (from..from + 1300)
            .map(|i| {
                let mut m = Manifest::new(
                    format!("bulk.tool{i}"),
                    Version::new(1, 0, i as u64 % 4),
                    "x".repeat(i % 50),
                    json!({"type": "object", "properties": {"n": {"type": "integer"}}}),
                );
                m.tags = vec![format!("t{}", i % 9)];
                m
            })
            .collect()
    };
    let (first, second) = (batch(0), batch(1300));
    {
        let registry = Registry::open(dir.path())?;
        assert!(registry.register(&first)?.problems.is_empty());
        assert!(registry.register(&second)?.problems.is_empty());
        registry.save()?;
    }
    let registry = Registry::open(dir.path())?;
    let snapshot = registry.snapshot();
    for m in first.iter().chain(&second) {
        let tool = snapshot.get(&m.name).ok_or("registered")?;
        assert_eq!(&tool.manifest()?, m);
    }
    Ok(())
}

#[test]
fn a_saved_registry_opens_with_the_same_tools_and_search() -> Result {
    let dir = tempfile::tempdir()?;
    let text: Vec<String> = (0..200)
        .map(|i| {
            manifest_line(
                &format!("tool.n{i}"),
                &format!("1.{}.0", i % 3),
                &format!("cat{}", i % 5),
                &["t", &format!("g{}", i % 7)],
            )
        })
        .collect();
    let (stats, results) = {
        let registry = Registry::open(dir.path())?;
        import(&registry, &text.join("\n"))?;
        registry.remove("tool.n3", None)?;
        registry.save()?;
        (
            registry.stats(),
            registry.search("tool n42", &Filters::none(), 5)?,
        )
    };
    assert!(!dir.path().join(format!("{INDEX_FILE}.tmp")).exists());
    let registry = Registry::open(dir.path())?;
    let reopened = registry.stats();
    assert_eq!(
        (
            reopened.tools,
            reopened.names,
            reopened.versions,
            reopened.categories,
            reopened.tags
        ),
        (
            stats.tools,
            stats.names,
            stats.versions,
            stats.categories,
            stats.tags
        )
    );
    assert_eq!(reopened.tools, 199);
    assert_eq!(registry.search("tool n42", &Filters::none(), 5)?, results);
    let snapshot = registry.snapshot();
    assert!(!snapshot.contains("tool.n3"));
    let tool = snapshot.get("tool.n42").ok_or("n42")?;
    assert_eq!(tool.version(), &Version::new(1, 0, 0));
    assert_eq!(tool.tags(), ["t", "g0"]);
    tool.load()?;
    let expected: Manifest = serde_json::from_str(&text[42])?;
    assert_eq!(tool.manifest()?, expected);
    Ok(())
}

#[test]
fn unsaved_changes_are_not_in_the_index_but_nothing_breaks() -> Result {
    let dir = tempfile::tempdir()?;
    {
        let registry = Registry::open(dir.path())?;
        import(&registry, &manifest_line("a", "1.0.0", "c", &[]))?;
        registry.save()?;
        import(&registry, &manifest_line("b", "1.0.0", "c", &[]))?;
        // Dropped without save: like a crash after the manifests were appended.
    }
    let registry = Registry::open(dir.path())?;
    assert!(registry.snapshot().contains("a"));
    assert!(!registry.snapshot().contains("b"));
    import(&registry, &manifest_line("c", "1.0.0", "c", &[]))?;
    registry.save()?;
    let registry = Registry::open(dir.path())?;
    let c = registry.snapshot();
    let tool = c.get("c").ok_or("c")?;
    assert!(tool.load()?.input.validate(&json!({"q": "x"})).is_ok());
    assert_eq!(tool.manifest()?.name, "c");
    Ok(())
}

#[test]
fn a_corrupt_index_is_an_error_not_a_panic() -> Result {
    let dir = tempfile::tempdir()?;
    {
        let registry = Registry::open(dir.path())?;
        import(&registry, &manifest_line("a", "1.0.0", "c", &[]))?;
        registry.save()?;
    }
    let index = dir.path().join(INDEX_FILE);
    let bytes = std::fs::read(&index)?;
    let refused = |contents: &[u8]| -> Result<bool> {
        std::fs::write(&index, contents)?;
        Ok(matches!(
            Registry::open(dir.path()),
            Err(RegistryError::CorruptIndex { .. })
        ))
    };
    assert!(refused(&bytes[..10])?, "shorter than the header");
    assert!(
        refused(b"\xff\xff\xff\xff and more bytes than a header")?,
        "no magic"
    );
    assert!(refused(&bytes[..20])?, "metadata cut");
    // The search section is decoded on the first search: cut there, the
    // registry opens, lookups work and search reports the damage.
    std::fs::write(&index, &bytes[..bytes.len() - 8])?;
    let registry = Registry::open(dir.path())?;
    assert!(registry.snapshot().contains("a"));
    assert!(matches!(
        registry.search("a", &Filters::none(), 3),
        Err(RegistryError::CorruptIndex { .. })
    ));
    // Compaction rebuilds the search index from the manifests.
    registry.compact()?;
    assert_eq!(registry.search("tool", &Filters::none(), 3)?.len(), 1);
    let reopened = Registry::open(dir.path())?;
    assert_eq!(reopened.search("tool", &Filters::none(), 3)?.len(), 1);
    Ok(())
}

#[test]
fn versions_resolve_exactly_by_requirement_or_newest() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    let text = ["1.0.0", "1.5.0", "2.0.0-beta.1", "0.9.0"]
        .map(|v| manifest_line("conv", v, "units", &[]))
        .join("\n");
    import(&registry, &text)?;
    let snapshot = registry.snapshot();
    assert_eq!(
        snapshot.get("conv").ok_or("newest")?.version().to_string(),
        "1.5.0"
    );
    let order: Vec<String> = snapshot
        .versions("conv")
        .iter()
        .map(|t| t.version().to_string())
        .collect();
    assert_eq!(order, ["1.5.0", "1.0.0", "0.9.0", "2.0.0-beta.1"]);
    let exact = snapshot
        .get_version("conv", &Version::new(1, 0, 0))
        .ok_or("exact")?;
    assert_eq!(exact.key().to_string(), "conv@1.0.0");
    let req = |r: &str| -> Result<Option<String>> {
        Ok(snapshot
            .resolve("conv", &VersionReq::parse(r)?)
            .map(|t| t.version().to_string()))
    };
    assert_eq!(req("^1")?.as_deref(), Some("1.5.0"));
    assert_eq!(req("~1.0")?.as_deref(), Some("1.0.0"));
    assert_eq!(req("<1")?.as_deref(), Some("0.9.0"));
    assert_eq!(req(">=2.0.0-beta")?.as_deref(), Some("2.0.0-beta.1"));
    assert_eq!(req("^3")?, None);
    // Within a requirement, precedence decides: a pre-release it admits
    // beats an older release.
    assert_eq!(req(">=0.5, <2.0.0")?.as_deref(), Some("1.5.0"));
    assert_eq!(
        req(">=0.5, <2.0.0-beta.2")?.as_deref(),
        Some("2.0.0-beta.1")
    );
    // Re-importing a key replaces that version only.
    let report = import(&registry, &manifest_line("conv", "1.0.0", "other", &[]))?;
    assert_eq!(report.replaced, 1);
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.versions("conv").len(), 4);
    assert_eq!(
        snapshot
            .get_version("conv", &Version::new(1, 0, 0))
            .ok_or("1.0.0")?
            .category(),
        Some("other")
    );
    Ok(())
}

#[test]
fn remove_takes_one_version_or_all() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    let text = ["1.0.0", "2.0.0"]
        .map(|v| manifest_line("gone", v, "c", &["x"]))
        .join("\n");
    import(
        &registry,
        &(text + "\n" + &manifest_line("kept", "1.0.0", "c", &["x"])),
    )?;
    let before = registry.snapshot();
    assert_eq!(registry.remove("gone", Some(&Version::new(2, 0, 0)))?, 1);
    assert_eq!(
        registry
            .snapshot()
            .get("gone")
            .ok_or("1.0.0 left")?
            .version(),
        &Version::new(1, 0, 0)
    );
    assert_eq!(registry.remove("gone", None)?, 1);
    assert_eq!(registry.remove("gone", None)?, 0);
    let after = registry.snapshot();
    assert!(!after.contains("gone"));
    assert!(
        registry
            .search("gone", &Filters::none(), 10)?
            .iter()
            .all(|r| r.name != "gone")
    );
    assert_eq!(after.filter(&Filters::none().tag("x")).len(), 1);
    // A snapshot taken before keeps what it had.
    assert_eq!(before.versions("gone").len(), 2);
    Ok(())
}

#[test]
fn filters_and_prefix_lookups_intersect() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    let line = |name: &str, category: &str, tag: &str, network: &[&str]| {
        json!({"name": name, "version": "1.0.0", "category": category, "tags": [tag],
               "permissions": {"network": network}, "inputSchema": {"type": "object"}})
        .to_string()
    };
    let text = [
        line("gh.issues.list", "vcs", "github", &["api.github.com"]),
        line("gh.issues.create", "vcs", "github", &["api.github.com"]),
        line("gl.issues.list", "vcs", "gitlab", &["gitlab.com"]),
        line("fs.read", "file", "local", &[]),
    ]
    .join("\n");
    import(&registry, &text)?;
    let snapshot = registry.snapshot();
    let names = |tools: Vec<rustchain_tools_registry::ToolRef<'_>>| -> Vec<String> {
        tools.iter().map(|t| t.name().to_owned()).collect()
    };
    assert_eq!(
        names(snapshot.prefix("gh.issues.")),
        ["gh.issues.create", "gh.issues.list"]
    );
    assert_eq!(names(snapshot.prefix("g")).len(), 3);
    assert!(snapshot.prefix("zz").is_empty());
    assert_eq!(
        names(snapshot.filter(&Filters::none().category("vcs").tag("github"))).len(),
        2
    );
    assert_eq!(
        names(snapshot.filter(&Filters::none().permission("network"))).len(),
        3
    );
    assert_eq!(
        names(
            snapshot.filter(
                &Filters::none()
                    .category("vcs")
                    .permission("network:gitlab.com")
            )
        ),
        ["gl.issues.list"]
    );
    assert!(
        snapshot
            .filter(&Filters::none().category("vcs").tag("local"))
            .is_empty()
    );
    assert!(snapshot.filter(&Filters::none().tag("unknown")).is_empty());
    let hits = registry.search("list issues", &Filters::none().tag("gitlab"), 5)?;
    assert_eq!(
        hits.iter().map(|h| h.name.as_str()).collect::<Vec<_>>(),
        ["gl.issues.list"]
    );
    Ok(())
}

#[test]
fn schemas_load_lazily_and_the_cache_counts() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Registry::open(dir.path())?;
    import(&registry, &manifest_line("a", "1.0.0", "c", &[]))?;
    let snapshot = registry.snapshot();
    let tool = snapshot.get("a").ok_or("a")?;
    assert_eq!(registry.stats().cache_misses, 0);
    let first = tool.load()?;
    let second = tool.load()?;
    assert!(Arc::ptr_eq(&first, &second));
    let stats = registry.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (1, 1));
    assert!((stats.cache_hit_rate - 0.5).abs() < 1e-9);
    assert!(stats.index_bytes > 0);
    assert!(!stats.semantic_search);
    Ok(())
}

#[test]
fn readers_keep_their_snapshot_while_writers_register() -> Result {
    let dir = tempfile::tempdir()?;
    let registry = Arc::new(Registry::open(dir.path())?);
    import(
        &registry,
        &(0..50)
            .map(|i| manifest_line(&format!("base.t{i}"), "1.0.0", "base", &[]))
            .collect::<Vec<_>>()
            .join("\n"),
    )?;
    let writer = {
        let registry = registry.clone();
        thread::spawn(move || -> std::result::Result<(), String> {
            for batch in 0..20 {
                let text: Vec<String> = (0..25)
                    .map(|i| manifest_line(&format!("new.b{batch}.t{i}"), "1.0.0", "new", &[]))
                    .collect();
                registry
                    .import_str(&text.join("\n"), "writer", &ImportOptions::default())
                    .map_err(|e| e.to_string())?;
                if batch % 5 == 4 {
                    registry
                        .remove(&format!("new.b{}.t0", batch - 1), None)
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(())
        })
    };
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let registry = registry.clone();
            thread::spawn(move || -> std::result::Result<usize, String> {
                let mut seen = 0;
                for round in 0..60 {
                    let snapshot = registry.snapshot();
                    let size = snapshot.len();
                    for result in snapshot
                        .search("tool t3", &Filters::none(), 20)
                        .map_err(|e| e.to_string())?
                    {
                        if snapshot.by_key(&result.key).is_none() {
                            return Err(format!(
                                "round {round}: {} not in its snapshot",
                                result.key
                            ));
                        }
                    }
                    if snapshot.get("base.t7").is_none() {
                        return Err("base.t7 vanished".to_owned());
                    }
                    if snapshot.len() != size {
                        return Err("a held snapshot changed".to_owned());
                    }
                    seen = seen.max(size);
                }
                Ok(seen)
            })
        })
        .collect();
    writer.join().map_err(|_| "writer panicked")??;
    for reader in readers {
        let seen = reader.join().map_err(|_| "reader panicked")??;
        assert!(seen >= 50);
    }
    let stats = registry.stats();
    assert_eq!(stats.tools, 50 + 20 * 25 - 4);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn every_registered_tool_is_found_and_never_refused(
        names in proptest::collection::hash_set("[A-Za-z0-9_.-]{1,40}", 1..60),
        absent in proptest::collection::vec("[A-Za-z0-9_.-]{1,40}", 0..20),
    ) {
        let dir = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let registry = Registry::open(dir.path()).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let manifests: Vec<Manifest> = names
            .iter()
            .map(|n| Manifest::new(n.clone(), Version::new(1, 0, 0), "d", json!({"type": "object"})))
            .collect();
        let report = registry.register(&manifests).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert!(report.problems.is_empty());
        let snapshot = registry.snapshot();
        for name in &names {
            prop_assert!(snapshot.may_contain(name));
            prop_assert!(snapshot.contains(name));
            let key = ToolKey { name: name.clone(), version: Version::new(1, 0, 0), id: None };
            prop_assert_eq!(snapshot.get(name).map(|t| t.key()), Some(key));
        }
        for name in absent.iter().filter(|n| !names.contains(*n)) {
            prop_assert!(!snapshot.contains(name));
            prop_assert!(snapshot.get(name).is_none());
        }
    }
}

/// Registry options with the embedding model `cargo xtask fetch-model`
/// installs into `models/` (as `.ci/run` does), or `None` (and a line on
/// stderr) when it is not installed and there is nothing to check.
fn with_installed_model() -> Result<Option<rustchain_tools_registry::RegistryOptions>> {
    let model_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../models")
        .join(rustchain_tools_registry::DEFAULT_MODEL);
    if !model_dir.join("model.json").exists() {
        eprintln!("no model at {}: not checked", model_dir.display());
        return Ok(None);
    }
    let model = Arc::new(rustchain_tools_registry::EmbeddingModel::load(&model_dir)?);
    Ok(Some(rustchain_tools_registry::RegistryOptions {
        model: Some(model),
        ..Default::default()
    }))
}

/// With the embedding model of the search crate (installed by
/// `cargo xtask fetch-model` into `models/`), search is hybrid and stays so
/// across save and open. Without the model there is nothing to check here.
#[test]
fn semantic_search_survives_a_round_trip_when_the_model_is_installed() -> Result {
    let Some(options) = with_installed_model()? else {
        return Ok(());
    };
    let dir = tempfile::tempdir()?;
    {
        let registry = Registry::open_with(dir.path(), &options)?;
        import(
            &registry,
            &[
                manifest_line("forecast.get", "1.0.0", "weather", &[]),
                manifest_line("invoice.send", "1.0.0", "billing", &[]),
            ]
            .join("\n"),
        )?;
        assert!(registry.stats().semantic_search);
        registry.save()?;
    }
    let registry = Registry::open_with(dir.path(), &options)?;
    assert!(registry.stats().semantic_search);
    assert!(!Registry::open(dir.path())?.stats().semantic_search);
    let hits = registry.search("will it rain tomorrow", &Filters::none(), 2)?;
    assert!(!hits.is_empty());
    Ok(())
}

/// Compacting keeps the stored embeddings of the tools that stay, even in a
/// process without the model: opened with the model again, search ranks as
/// in a registry that embedded only those tools. Needs the installed model
/// (as above).
#[test]
fn compaction_without_the_model_keeps_the_embeddings() -> Result {
    let Some(options) = with_installed_model()? else {
        return Ok(());
    };
    let forecast = manifest_line("forecast.get", "1.0.0", "weather", &[]);
    let invoice = manifest_line("invoice.send", "1.0.0", "billing", &[]);
    let doomed = manifest_line("ledger.close", "1.0.0", "billing", &[]);
    let dir = tempfile::tempdir()?;
    {
        let registry = Registry::open_with(dir.path(), &options)?;
        import(
            &registry,
            &[doomed, forecast.clone(), invoice.clone()].join("\n"),
        )?;
        assert_eq!(registry.remove("ledger.close", None)?, 1);
        registry.save()?;
    }
    {
        let registry = Registry::open(dir.path())?;
        assert!(registry.compact()? > 0);
    }
    let compacted = Registry::open_with(dir.path(), &options)?;
    assert!(compacted.stats().semantic_search);
    let fresh_dir = tempfile::tempdir()?;
    let fresh = Registry::open_with(fresh_dir.path(), &options)?;
    import(&fresh, &[forecast, invoice].join("\n"))?;
    for query in ["will it rain tomorrow", "send a bill to a customer"] {
        let ranked = |r: &Registry| -> Result<Vec<(String, u32)>> {
            Ok(r.search(query, &Filters::none(), 5)?
                .into_iter()
                .map(|hit| (hit.key.to_string(), hit.score.to_bits()))
                .collect())
        };
        assert_eq!(ranked(&compacted)?, ranked(&fresh)?, "{query}");
    }
    Ok(())
}
