//! The registry across processes and crashes: the writer lock, cache
//! counters that add up over processes, compaction (including its
//! recovery after a crash at each step), and writers killed while they
//! import, save or compact.
//!
//! The tests that need a second process run this test binary again with
//! `REGISTRY_CHILD` set; the child runs one named role and exits.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Child, Command},
    thread,
    time::{Duration, Instant},
};

use rustchain_tools_registry::{
    CACHE_STATS_FILE, Filters, INDEX_FILE, ImportOptions, MANIFESTS_FILE, Registry, RegistryError,
    RegistryOptions,
};
use serde_json::json;

type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

fn line(name: &str, version: &str) -> String {
    json!({
        "name": name,
        "version": version,
        "description": format!("The {name} tool reads weather reports."),
        "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    })
    .to_string()
}

fn import(registry: &Registry, names: &[(&str, &str)]) -> Result {
    let text: Vec<String> = names.iter().map(|(n, v)| line(n, v)).collect();
    let report = registry.import_str(&text.join("\n"), "test", &ImportOptions::default())?;
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    Ok(())
}

/// Runs this test binary as a child playing `role` on `dir`.
fn child(test: &str, role: &str, dir: &Path) -> Result<Child> {
    Ok(Command::new(std::env::current_exe()?)
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env("REGISTRY_CHILD", role)
        .env("REGISTRY_DIR", dir)
        .spawn()?)
}

/// The child's role and directory, when this process is a child.
fn role() -> Option<(String, PathBuf)> {
    let role = std::env::var("REGISTRY_CHILD").ok()?;
    let dir = std::env::var_os("REGISTRY_DIR")?;
    Some((role, PathBuf::from(dir)))
}

fn wait_for(path: &Path) -> Result {
    let start = Instant::now();
    while !path.exists() {
        if start.elapsed() > Duration::from_secs(30) {
            return Err(format!("{} never appeared", path.display()).into());
        }
        thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

#[test]
fn a_second_writer_waits_then_fails_clearly_and_readers_go_on() -> Result {
    if let Some((role, dir)) = role() {
        if role == "writer" {
            // Imports (taking the lock), says so, holds it until told to go.
            let registry = Registry::open(&dir)?;
            import(&registry, &[("child.tool", "1.0.0")])?;
            fs::write(dir.join("ready"), b"")?;
            wait_for(&dir.join("release"))?;
            registry.save()?;
        }
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let first = Registry::open(dir.path())?;
    import(&first, &[("parent.tool", "1.0.0")])?;
    first.save()?;

    let mut writer = child(
        "a_second_writer_waits_then_fails_clearly_and_readers_go_on",
        "writer",
        dir.path(),
    )?;
    wait_for(&dir.path().join("ready"))?;
    let options = RegistryOptions {
        lock_wait: Duration::from_millis(100),
        ..RegistryOptions::default()
    };
    let second = Registry::open_with(dir.path(), &options)?;
    match second.remove("parent.tool", None) {
        Err(e @ RegistryError::Locked { .. }) => {
            assert!(e.to_string().contains(&dir.path().display().to_string()))
        }
        other => return Err(format!("expected a lock error, got {other:?}").into()),
    }
    // Readers are not held up by the writer.
    let reader = Registry::open(dir.path())?;
    assert!(reader.snapshot().contains("parent.tool"));
    assert_eq!(
        reader.search("weather", &Filters::none(), 5)?[0].name,
        "parent.tool"
    );

    fs::write(dir.path().join("release"), b"")?;
    assert!(writer.wait()?.success());
    // Once the child saved, a write here starts from the child's state.
    assert_eq!(second.remove("parent.tool", None)?, 1);
    second.save()?;
    let after = Registry::open(dir.path())?.snapshot();
    assert!(after.contains("child.tool"));
    assert!(!after.contains("parent.tool"));
    Ok(())
}

#[test]
fn writers_in_one_process_take_turns_through_the_lock() -> Result {
    if role().is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let quick = RegistryOptions {
        lock_wait: Duration::from_millis(50),
        ..RegistryOptions::default()
    };
    let a = Registry::open_with(dir.path(), &quick)?;
    let b = Registry::open_with(dir.path(), &quick)?;
    import(&a, &[("a", "1.0.0")])?;
    assert!(matches!(
        b.remove("a", None),
        Err(RegistryError::Locked { .. })
    ));
    a.save()?;
    import(&b, &[("b", "1.0.0")])?;
    b.save()?;
    let both = Registry::open(dir.path())?.snapshot();
    assert!(both.contains("a") && both.contains("b"));
    Ok(())
}

#[test]
fn cache_counters_add_up_across_processes() -> Result {
    if let Some((role, dir)) = role() {
        if role == "loader" {
            let registry = Registry::open(&dir)?;
            let snapshot = registry.snapshot();
            let tool = snapshot.get("counted").ok_or("counted")?;
            for _ in 0..10 {
                tool.load()?;
            }
            // Dropping the registry persists its counters.
        }
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    {
        let registry = Registry::open(dir.path())?;
        import(&registry, &[("counted", "1.0.0")])?;
        registry.save()?;
    }
    let children: Vec<Child> = (0..3)
        .map(|_| {
            child(
                "cache_counters_add_up_across_processes",
                "loader",
                dir.path(),
            )
        })
        .collect::<Result<_>>()?;
    for mut c in children {
        assert!(c.wait()?.success());
    }
    let registry = Registry::open(dir.path())?;
    let stats = registry.stats();
    assert_eq!((stats.cache_hits, stats.cache_misses), (0, 0));
    let all = stats.all_processes;
    assert_eq!((all.lookups, all.hits, all.misses), (30, 27, 3));
    assert!((all.hit_rate() - 0.9).abs() < 1e-9);

    // This process's unflushed counts are included, and a flush adds them once.
    registry
        .snapshot()
        .get("counted")
        .ok_or("counted")?
        .load()?;
    assert_eq!(registry.stats().all_processes.lookups, 31);
    registry.flush_stats()?;
    registry.flush_stats()?;
    drop(registry);
    let text = fs::read_to_string(dir.path().join(CACHE_STATS_FILE))?;
    let saved: serde_json::Value = serde_json::from_str(&text)?;
    assert_eq!(saved["lookups"], 31);
    Ok(())
}

/// A registry with `keep` saved, `gone` removed and `old` replaced.
fn with_garbage(dir: &Path) -> Result<Registry> {
    let registry = Registry::open(dir)?;
    import(&registry, &[("keep", "1.0.0"), ("gone", "1.0.0")])?;
    import(&registry, &[("keep", "1.0.0")])?;
    assert_eq!(registry.remove("gone", None)?, 1);
    registry.save()?;
    Ok(registry)
}

fn assert_compacted(dir: &Path) -> Result {
    let registry = Registry::open(dir)?;
    let snapshot = registry.snapshot();
    assert_eq!(snapshot.len(), 1);
    let tool = snapshot.get("keep").ok_or("keep")?;
    assert_eq!(tool.manifest()?.name, "keep");
    assert!(tool.load()?.input.validate(&json!({})).is_err());
    assert_eq!(
        registry.search("weather", &Filters::none(), 5)?[0].name,
        "keep"
    );
    let manifests = fs::read_to_string(dir.join(MANIFESTS_FILE))?;
    assert_eq!(manifests.lines().count(), 1);
    Ok(())
}

#[test]
fn compaction_drops_removed_and_replaced_manifests() -> Result {
    if role().is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let registry = with_garbage(dir.path())?;
    let before = registry.snapshot();
    let size = fs::metadata(dir.path().join(MANIFESTS_FILE))?.len();
    let reclaimed = registry.compact()?;
    assert!(reclaimed > 0);
    assert_eq!(
        fs::metadata(dir.path().join(MANIFESTS_FILE))?.len(),
        size - reclaimed
    );
    // A snapshot taken before still reads the manifests it knew.
    assert_eq!(before.get("keep").ok_or("keep")?.manifest()?.name, "keep");
    assert_compacted(dir.path())?;
    // Writes after a compaction land in the new files.
    import(&registry, &[("later", "1.0.0")])?;
    registry.save()?;
    let reopened = Registry::open(dir.path())?.snapshot();
    assert_eq!(
        reopened.get("later").ok_or("later")?.manifest()?.name,
        "later"
    );
    Ok(())
}

/// The files of a compaction that a crash interrupted at each step, made
/// from a compacted copy: the new files beside the old ones with or without
/// the commit marker, and after the first rename.
#[test]
fn a_crash_during_compaction_loses_nothing() -> Result {
    if role().is_some() {
        return Ok(());
    }
    let compacted = tempfile::tempdir()?;
    with_garbage(compacted.path())?.compact()?;
    let new = |file: &str| compacted.path().join(file);

    for step in ["before-marker", "after-marker", "after-first-rename"] {
        let dir = tempfile::tempdir()?;
        drop(with_garbage(dir.path())?);
        let d = dir.path();
        fs::copy(new(MANIFESTS_FILE), d.join(format!("{MANIFESTS_FILE}.new")))?;
        fs::copy(new(INDEX_FILE), d.join(format!("{INDEX_FILE}.new")))?;
        if step != "before-marker" {
            fs::write(d.join("compact.commit"), b"")?;
        }
        if step == "after-first-rename" {
            fs::rename(
                d.join(format!("{MANIFESTS_FILE}.new")),
                d.join(MANIFESTS_FILE),
            )?;
        }
        if step == "before-marker" {
            // Not committed: the old registry, whole; the next write clears the leftovers.
            let registry = Registry::open(d)?;
            assert!(registry.snapshot().contains("keep"));
            assert_eq!(registry.snapshot().len(), 1);
            assert_eq!(
                fs::read_to_string(d.join(MANIFESTS_FILE))?.lines().count(),
                3
            );
            import(&registry, &[("next", "1.0.0")])?;
            registry.save()?;
            assert!(!d.join(format!("{MANIFESTS_FILE}.new")).exists());
            assert!(Registry::open(d)?.snapshot().contains("next"));
        } else {
            // Committed: opening finishes the renames.
            assert_compacted(d)?;
            assert!(!d.join("compact.commit").exists(), "{step}");
        }
    }
    Ok(())
}

/// A compaction whose commit fails after its marker (the index cannot be
/// renamed into place: a directory holds its name) reports the error and
/// leaves this process writing nothing until the commit can be finished;
/// then the next write finishes it, reloads, and loses nothing.
#[cfg(unix)]
#[test]
fn an_io_error_after_the_compaction_commits_loses_no_write() -> Result {
    if role().is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let d = dir.path();
    let registry = Registry::open(d)?;
    import(&registry, &[("keep", "1.0.0"), ("gone", "1.0.0")])?;
    assert_eq!(registry.remove("gone", None)?, 1);
    // Nothing saved yet, so the index's name is free for a directory that
    // no rename can replace.
    let blocker = d.join(INDEX_FILE);
    fs::create_dir(&blocker)?;
    fs::write(blocker.join("in-the-way"), b"")?;

    let error = registry.compact().expect_err("the index cannot be renamed");
    assert!(error.to_string().contains(INDEX_FILE), "{error}");
    // Readers of this registry go on with the state they had.
    assert!(registry.snapshot().contains("keep"));
    // The old manifests file is already replaced: a write must not append
    // to it, and cannot go on while the commit cannot be finished.
    assert!(import(&registry, &[("refused", "1.0.0")]).is_err());

    fs::remove_file(blocker.join("in-the-way"))?;
    fs::remove_dir(&blocker)?;
    import(&registry, &[("after", "1.0.0")])?;
    registry.save()?;
    drop(registry);

    let reopened = Registry::open(d)?.snapshot();
    assert_eq!(reopened.len(), 2);
    assert!(!reopened.contains("gone") && !reopened.contains("refused"));
    for name in ["keep", "after"] {
        let tool = reopened.get(name).ok_or(name)?;
        assert_eq!(tool.manifest()?.name, name);
        assert!(
            tool.load()?
                .input
                .validate(&json!({"city": "Oslo"}))
                .is_ok()
        );
    }
    assert_eq!(
        fs::read_to_string(d.join(MANIFESTS_FILE))?.lines().count(),
        2
    );
    Ok(())
}

#[test]
fn a_writer_sees_two_quick_saves_by_another_registry() -> Result {
    if role().is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let first = Registry::open(dir.path())?;
    import(&first, &[("one", "1.0.0")])?;
    first.save()?;
    let other = Registry::open(dir.path())?;
    let late = Registry::open(dir.path())?;
    import(&other, &[("two", "1.0.0")])?;
    other.save()?;
    import(&other, &[("three", "1.0.0")])?;
    other.save()?;
    // `late` read the index before both saves; its write starts from theirs.
    import(&late, &[("four", "1.0.0")])?;
    late.save()?;
    for snapshot in [late.snapshot(), Registry::open(dir.path())?.snapshot()] {
        assert_eq!(snapshot.len(), 4);
        for name in ["one", "two", "three", "four"] {
            assert_eq!(snapshot.get(name).ok_or(name)?.manifest()?.name, name);
        }
    }
    Ok(())
}

#[test]
fn a_removal_that_finds_nothing_lets_go_of_the_lock() -> Result {
    if role().is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let quick = RegistryOptions {
        lock_wait: Duration::from_millis(50),
        ..RegistryOptions::default()
    };
    let a = Registry::open_with(dir.path(), &quick)?;
    let b = Registry::open_with(dir.path(), &quick)?;
    import(&a, &[("kept", "1.0.0")])?;
    a.save()?;
    let mut missing = a.snapshot().get("kept").ok_or("kept")?.key();
    missing.name = "missing".to_owned();

    assert_eq!(a.remove("missing", None)?, 0);
    assert!(!a.remove_key(&missing)?);
    import(&b, &[("by-b", "1.0.0")])?;
    b.save()?;

    // With unsaved changes the lock stays, whatever the removal found.
    import(&a, &[("unsaved", "1.0.0")])?;
    assert_eq!(a.remove("missing", None)?, 0);
    assert!(matches!(
        b.remove("kept", None),
        Err(RegistryError::Locked { .. })
    ));
    a.save()?;
    let all = Registry::open(dir.path())?.snapshot();
    assert!(all.contains("kept") && all.contains("by-b") && all.contains("unsaved"));
    Ok(())
}

/// How many tools each cycle of the churning child imports.
const CHURN_BATCH: usize = 200;

/// Checks what a registry directory must hold whatever moment a writer
/// died at: it opens, every anchor is there, every registered tool's
/// manifest reads back under its name and its validator compiles, search
/// works, and a compaction here keeps exactly the same tools. Returns the
/// number of tools.
fn assert_whole(dir: &Path, anchors: &[String]) -> Result<usize> {
    let registry = Registry::open(dir)?;
    let snapshot = registry.snapshot();
    for anchor in anchors {
        assert!(snapshot.contains(anchor), "{anchor} lost");
    }
    let mut names: Vec<String> = snapshot.iter().map(|t| t.name().to_owned()).collect();
    for tool in snapshot.iter() {
        assert_eq!(tool.manifest()?.name, tool.name());
        tool.load()?;
    }
    assert!(
        !registry
            .search("weather reports", &Filters::none(), 5)?
            .is_empty()
    );
    registry.compact()?;
    let mut after: Vec<String> = Registry::open(dir)?
        .snapshot()
        .iter()
        .map(|t| t.name().to_owned())
        .collect();
    names.sort();
    after.sort();
    assert_eq!(names, after, "compaction changed the tools");
    Ok(names.len())
}

/// Writers killed (SIGKILL) at moments spread over their work — appending
/// manifests, writing the index, compacting — lose nothing saved before
/// and leave a registry that opens whole. The child churns until killed:
/// each cycle imports a batch (versions of one new name), saves, removes
/// the previous batches, saves and compacts.
#[test]
fn writers_killed_at_any_moment_lose_nothing_saved() -> Result {
    if let Some((role, dir)) = role() {
        if role == "churn" {
            let registry = Registry::open(&dir)?;
            fs::write(dir.join("churning"), b"")?;
            for cycle in 0.. {
                // One name, many versions: the previous batch goes in one removal.
                let name = format!("churn.{}.{cycle}", std::process::id());
                let versions: Vec<String> = (0..CHURN_BATCH).map(|i| format!("1.0.{i}")).collect();
                let pairs: Vec<(&str, &str)> = versions
                    .iter()
                    .map(|v| (name.as_str(), v.as_str()))
                    .collect();
                import(&registry, &pairs)?;
                registry.save()?;
                let older: Vec<String> = registry
                    .snapshot()
                    .prefix("churn.")
                    .iter()
                    .map(|t| t.name().to_owned())
                    .filter(|n| *n != name)
                    .collect();
                for name in &older {
                    registry.remove(name, None)?;
                }
                registry.save()?;
                registry.compact()?;
            }
        }
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    let anchors: Vec<String> = (0..300).map(|i| format!("anchor.{i}")).collect();
    {
        let registry = Registry::open(dir.path())?;
        let pairs: Vec<(&str, &str)> = anchors.iter().map(|n| (n.as_str(), "1.0.0")).collect();
        import(&registry, &pairs)?;
        registry.save()?;
    }
    let churning = dir.path().join("churning");
    // Delays after the child starts churning, spread over several cycles
    // so that kills land in every step.
    for kill in 0..14u64 {
        let _ = fs::remove_file(&churning);
        let mut churn = child(
            "writers_killed_at_any_moment_lose_nothing_saved",
            "churn",
            dir.path(),
        )?;
        wait_for(&churning)?;
        thread::sleep(Duration::from_millis(7 + kill * 53 % 400));
        // A writer that stopped on an error of its own would make the
        // checks below pass without any kill.
        let stopped = churn.try_wait()?;
        churn.kill()?;
        churn.wait()?;
        assert!(
            stopped.is_none(),
            "the churning writer stopped: {stopped:?}"
        );
        let tools = assert_whole(dir.path(), &anchors)?;
        // Each save is all or nothing: only whole batches are there.
        assert_eq!((tools - anchors.len()) % CHURN_BATCH, 0, "{tools} tools");
    }
    Ok(())
}
