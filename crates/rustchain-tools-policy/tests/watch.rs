//! The reload trigger: a watched directory reloads on change, keeps the old
//! policies when the change does not load, and leaves engines already in
//! use untouched.

use std::time::{Duration, Instant};

use rustchain_tools_policy::{PolicyConfig, PolicyEngine, ReloadablePolicy};
use serde_json::{Value, json};

/// Generous: the watcher polls every 10 ms, but a loaded machine may be slow.
const PATIENCE: Duration = Duration::from_secs(20);

fn harmless() -> Value {
    json!({
        "tool": {
            "name": "text.word_count", "version": "1.0.0", "category": "text", "tags": [],
            "source": "builtin",
            "permissions": {"fileRead": [], "fileWrite": [], "network": [], "commands": []},
            "hints": {"readOnly": true, "destructive": false, "idempotent": true, "openWorld": false}
        },
        "call": {"id": "c1", "arguments": {"text": "a b"}},
        "principal": {"id": "local", "roles": []}
    })
}

fn reasons(engine: &PolicyEngine) -> Vec<String> {
    engine.decide_input(&harmless()).reasons()
}

/// Polls `done` until it holds or [`PATIENCE`] runs out.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < PATIENCE, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

const FROZEN: &str = "package rustchain.authz\nimport rego.v1\ndeny contains \"frozen\" if input.tool.category == \"text\"\n";

#[test]
fn a_changed_file_is_reloaded_and_engines_in_use_keep_deciding_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("mine.rego");
    std::fs::write(&rule, "package rustchain.authz\nimport rego.v1\n").unwrap();
    let policy = ReloadablePolicy::load(PolicyConfig::new().policy_dir(dir.path())).unwrap();
    let watch = policy.watch(Duration::from_millis(10)).unwrap();
    let in_flight = policy.engine();
    assert!(reasons(&in_flight).is_empty());

    std::fs::write(&rule, FROZEN).unwrap();
    eventually("the change is loaded", || policy.generation() == 1);
    assert_eq!(reasons(&policy.engine()), vec!["frozen"]);
    assert!(policy.last_reload_error().is_none());
    assert!(
        reasons(&in_flight).is_empty(),
        "an engine taken before the reload decides as before"
    );

    // A new file counts as a change too.
    std::fs::write(
        dir.path().join("more.rego"),
        "package rustchain.authz\nimport rego.v1\ndeny contains \"more\" if true\n",
    )
    .unwrap();
    eventually("the new file is loaded", || policy.generation() == 2);
    assert_eq!(reasons(&policy.engine()), vec!["frozen", "more"]);

    // After the guard is dropped, changes are no longer picked up.
    drop(watch);
    std::fs::remove_file(dir.path().join("more.rego")).unwrap();
    std::fs::write(&rule, "package rustchain.authz\nimport rego.v1\n").unwrap();
    // The watcher thread has been joined; give a watcher that had not
    // stopped many polls (and two for the change to settle) to show it.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(policy.generation(), 2);
    assert_eq!(reasons(&policy.engine()), vec!["frozen", "more"]);
}

#[test]
fn a_broken_edit_keeps_the_old_policies_and_says_why_until_it_is_fixed() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("mine.rego");
    std::fs::write(&rule, FROZEN).unwrap();
    let policy = ReloadablePolicy::load(PolicyConfig::new().policy_dir(dir.path())).unwrap();
    let _watch = policy.watch(Duration::from_millis(10)).unwrap();

    std::fs::write(&rule, "package rustchain.authz\nallow if {\n").unwrap();
    eventually("the failed reload is reported", || {
        policy.last_reload_error().is_some()
    });
    let error = policy.last_reload_error().unwrap().to_string();
    assert!(error.contains("mine.rego:"), "{error}");
    assert_eq!(policy.generation(), 0);
    assert_eq!(
        reasons(&policy.engine()),
        vec!["frozen"],
        "the old policy stays"
    );

    // A typo'd input field is refused the same way.
    std::fs::write(
        &rule,
        "package rustchain.authz\nimport rego.v1\ndeny contains \"x\" if input.tool.categroy == \"text\"\n",
    )
    .unwrap();
    eventually("the typo is reported", || {
        policy
            .last_reload_error()
            .is_some_and(|e| e.to_string().contains("categroy"))
    });
    assert_eq!(policy.generation(), 0);

    std::fs::write(&rule, "package rustchain.authz\nimport rego.v1\n").unwrap();
    eventually("the fix is loaded", || policy.generation() == 1);
    assert!(policy.last_reload_error().is_none());
    assert!(reasons(&policy.engine()).is_empty());
}

#[test]
fn a_change_made_before_watching_starts_is_loaded() {
    let dir = tempfile::tempdir().unwrap();
    let rule = dir.path().join("mine.rego");
    std::fs::write(&rule, "package rustchain.authz\nimport rego.v1\n").unwrap();
    let policy = ReloadablePolicy::load(PolicyConfig::new().policy_dir(dir.path())).unwrap();
    // Changed after loading, before the watcher starts: the watcher compares
    // with what was loaded, not with what it first sees.
    std::fs::write(&rule, FROZEN).unwrap();
    let _watch = policy.watch(Duration::from_millis(10)).unwrap();
    eventually("the earlier change is loaded", || policy.generation() == 1);
    assert_eq!(reasons(&policy.engine()), vec!["frozen"]);
}
