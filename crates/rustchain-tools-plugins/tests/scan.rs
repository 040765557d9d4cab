//! The security scan on real plugins in the real sandbox: a well-behaved
//! plugin passes with its evidence; one that traps, hangs or breaks its
//! output schema on valid input, imports what it did not request, or has
//! no readable manifest cannot pass.

use std::path::{Path, PathBuf};

use rustchain_tools_plugins::PluginHost;
use rustchain_tools_plugins::scan::{CheckOutcome, PASSING_SCORE, ScanOptions, ScanReport, scan};
use rustchain_tools_sandbox::net::NetPolicy;
use rustchain_tools_sandbox::wasm::{WasmConfig, WasmEngine};
use serde_json::{Value, json};

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plugins");

/// The allocator every test module shares (as in the echo example).
const ALLOC: &str = r#"
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func $alloc (export "alloc") (param $len i32) (result i32)
    (local $at i32)
    (local $end i32)
    (local $size i32)
    (local.set $at (global.get $next))
    (local.set $end (i32.add (local.get $at) (local.get $len)))
    (local.set $size (i32.mul (memory.size) (i32.const 65536)))
    (if (i32.gt_u (local.get $end) (local.get $size))
      (then
        (if (i32.eq
              (memory.grow
                (i32.div_u
                  (i32.add (i32.sub (local.get $end) (local.get $size)) (i32.const 65535))
                  (i32.const 65536)))
              (i32.const -1))
          (then (return (i32.const 0))))))
    (global.set $next (local.get $end))
    (local.get $at))
"#;

fn host(root: &Path) -> PluginHost {
    PluginHost::new(
        WasmEngine::new(WasmConfig::default()).unwrap(),
        root,
        NetPolicy::default(),
    )
}

/// A plugin directory named `name` with `body` (imports, data and the
/// `call` export) and the echo example's manifest changed by `patch`.
fn plugin(root: &Path, name: &str, body: &str, patch: impl FnOnce(&mut Value)) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EXAMPLES}/echo/plugin.json")).unwrap(),
    )
    .unwrap();
    manifest["name"] = json!(format!("test.{name}"));
    manifest["limits"] = json!({"timeoutMs": 200, "memoryMib": 16});
    patch(&mut manifest);
    std::fs::write(dir.join("plugin.json"), manifest.to_string()).unwrap();
    std::fs::write(dir.join("plugin.wat"), format!("(module {ALLOC} {body})")).unwrap();
    dir
}

fn outcome(report: &ScanReport, check: &str) -> CheckOutcome {
    report
        .checks
        .iter()
        .find(|c| c.check == check)
        .unwrap_or_else(|| panic!("no {check} check in {report:#?}"))
        .outcome
}

#[tokio::test]
async fn the_echo_example_passes_with_its_evidence() {
    let root = tempfile::tempdir().unwrap();
    let report = scan(
        &host(root.path()),
        Path::new(&format!("{EXAMPLES}/echo")),
        &ScanOptions::default(),
    )
    .await;
    assert!(report.passed, "{report:#?}");
    assert!(report.score >= PASSING_SCORE, "{report:#?}");
    assert_eq!(report.plugin, "example.echo");
    assert!(report.valid.calls >= 40, "{report:#?}");
    assert_eq!(report.valid.failures(), 0, "{report:#?}");
    assert_eq!(report.valid.ok, report.valid.calls, "{report:#?}");
    // Echo returns whatever it is given, so malformed inputs come back
    // outside its output schema: a robustness finding, not a failure.
    assert!(
        report.invalid.calls > 0 && report.invalid.output_mismatches > 0,
        "{report:#?}"
    );
    assert!(
        report.findings.iter().all(|f| !f.valid_input),
        "{report:#?}"
    );
    assert_eq!(outcome(&report, "module"), CheckOutcome::Pass);
    assert_eq!(outcome(&report, "capabilities"), CheckOutcome::Pass);
    // The same seed gives the same inputs and so the same counts.
    let again = scan(
        &host(root.path()),
        Path::new(&format!("{EXAMPLES}/echo")),
        &ScanOptions::default(),
    )
    .await;
    assert_eq!((again.valid, again.invalid), (report.valid, report.invalid));
}

#[tokio::test]
async fn a_trap_on_valid_input_cannot_pass() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugin(
        root.path(),
        "trap",
        r#"(func (export "call") (param i32 i32) (result i64) unreachable)"#,
        |_| {},
    );
    let report = scan(&host(root.path()), &dir, &ScanOptions::default()).await;
    assert!(!report.passed);
    assert_eq!(report.score, 0);
    assert_eq!(outcome(&report, "fuzz"), CheckOutcome::Fail);
    assert_eq!(report.valid.traps, report.valid.calls, "{report:#?}");
    let finding = report.findings.iter().find(|f| f.valid_input).unwrap();
    assert!(finding.outcome.contains("trapped"), "{finding:?}");
    assert!(finding.input.contains("message"), "{finding:?}");
}

#[tokio::test]
async fn a_hang_is_stopped_and_the_rest_skipped() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugin(
        root.path(),
        "hang",
        r#"(func (export "call") (param i32 i32) (result i64) (loop $l (br $l)) (i64.const 0))"#,
        |m| m["limits"]["timeoutMs"] = json!(50),
    );
    let options = ScanOptions::default();
    let report = scan(&host(root.path()), &dir, &options).await;
    assert!(!report.passed);
    assert_eq!(report.valid.timeouts, options.max_timeouts, "{report:#?}");
    assert!(report.valid.skipped > 0, "{report:#?}");
    assert!(report.took_ms < 10_000, "took {} ms", report.took_ms);
}

#[tokio::test]
async fn a_result_outside_the_output_schema_cannot_pass() {
    let root = tempfile::tempdir().unwrap();
    let reply = r#"{"ok":{"message":5}}"#;
    let dir = plugin(
        root.path(),
        "liar",
        &format!(
            r#"(data (i32.const 0) "{}")
               (func (export "call") (param i32 i32) (result i64) (i64.const {}))"#,
            reply.replace('"', "\\\""),
            reply.len()
        ),
        |_| {},
    );
    let report = scan(&host(root.path()), &dir, &ScanOptions::default()).await;
    assert!(!report.passed, "{report:#?}");
    assert_eq!(
        report.valid.output_mismatches, report.valid.calls,
        "{report:#?}"
    );
}

#[tokio::test]
async fn an_undeclared_capability_cannot_pass() {
    let root = tempfile::tempdir().unwrap();
    let dir = plugin(
        root.path(),
        "sneaky",
        r#"(import "rustchain" "fetch" (func $fetch (param i32 i32) (result i64)))
           (func (export "call") (param i32 i32) (result i64) unreachable)"#,
        |_| {},
    );
    let report = scan(&host(root.path()), &dir, &ScanOptions::default()).await;
    assert!(!report.passed);
    assert_eq!(outcome(&report, "module"), CheckOutcome::Fail);
    let module = report.checks.iter().find(|c| c.check == "module").unwrap();
    assert!(module.detail.contains("fetch"), "{module:?}");
    assert_eq!(report.valid.calls, 0);
}

#[tokio::test]
async fn a_requested_but_unused_capability_costs_points() {
    let root = tempfile::tempdir().unwrap();
    let echo = std::fs::read_to_string(format!("{EXAMPLES}/echo/plugin.wat")).unwrap();
    let dir = root.path().join("greedy");
    std::fs::create_dir_all(&dir).unwrap();
    let mut manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{EXAMPLES}/echo/plugin.json")).unwrap(),
    )
    .unwrap();
    manifest["capabilities"] = json!({"log": true});
    manifest["limits"] = json!({"timeoutMs": 200, "memoryMib": 16});
    std::fs::write(dir.join("plugin.json"), manifest.to_string()).unwrap();
    std::fs::write(dir.join("plugin.wat"), echo).unwrap();
    let report = scan(&host(root.path()), &dir, &ScanOptions::default()).await;
    assert!(report.passed, "{report:#?}");
    assert_eq!(outcome(&report, "capabilities"), CheckOutcome::Warn);
    let capabilities = report
        .checks
        .iter()
        .find(|c| c.check == "capabilities")
        .unwrap();
    assert!(
        capabilities.detail.contains("never imported: log"),
        "{capabilities:?}"
    );
}

#[tokio::test]
async fn no_manifest_cannot_pass() {
    let root = tempfile::tempdir().unwrap();
    let report = scan(&host(root.path()), root.path(), &ScanOptions::default()).await;
    assert!(!report.passed);
    assert_eq!(outcome(&report, "manifest"), CheckOutcome::Fail);
    assert_eq!(report.score, 0);
}
