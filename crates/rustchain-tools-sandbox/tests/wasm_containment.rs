//! WASM plugins under containment: each test plugin (written in WAT) does
//! what its kind does, and the host keeps serving.
#![cfg(feature = "wasm")]

mod wasm;

use std::{
    sync::{Arc, atomic::AtomicBool},
    time::{Duration, Instant},
};

use rustchain_tools_sandbox::{
    SandboxError,
    fs::{FsLimits, FsRoot},
    wasm::{
        self as plugin_wasm, CallLimits, CallOutcome, Grants, HostFunction, PluginReply,
        WasmConfig, WasmEngine, WasmModule,
    },
};
use serde_json::json;

fn engine() -> WasmEngine {
    WasmEngine::new(WasmConfig {
        max_memory_bytes: 4 << 20,
        ..WasmConfig::default()
    })
    .unwrap()
}

fn limits() -> CallLimits {
    CallLimits::timeout(Duration::from_secs(5))
}

/// `wat` loaded on the test engine, importing nothing.
fn load(name: &str, wat: &str) -> WasmModule {
    load_requesting(name, wat, &[])
}

/// `wat` loaded on the test engine, requesting `functions`.
fn load_requesting(name: &str, wat: &str, functions: &[HostFunction]) -> WasmModule {
    engine().load(name, wat.as_bytes(), functions).unwrap()
}

/// One call with `{}`, nothing granted, within the test limits.
fn call_bare(module: &WasmModule, name: &str) -> Result<CallOutcome, SandboxError> {
    module.call(b"{}", &Grants::none(name), &limits())
}

#[test]
fn echo_replies_with_its_arguments() {
    let module = load("echo", &wasm::echo());
    let args = json!({"message": "hello", "n": [1, 2, {"x": null}]});
    let outcome = module
        .call_json(&args, &Grants::none("echo"), &limits())
        .unwrap();
    assert_eq!(outcome.reply, PluginReply::Ok(args));
}

#[test]
fn the_json_transformer_upper_cases_values_not_keys() {
    let engine = engine();
    let module = engine
        .load(
            "json-upper",
            wasm::json_upper().as_bytes(),
            &[HostFunction::Log],
        )
        .unwrap();
    let args = json!({"document": {"name": "ada", "tags": ["x", "y\"z\n"], "nested": {"key": "value", "n": 1}, "é": "é and e"}});
    let outcome = module
        .call_json(&args, &Grants::none("json-upper").with_log(), &limits())
        .unwrap();
    assert_eq!(
        outcome.reply,
        PluginReply::Ok(
            json!({"document": {"name": "ADA", "tags": ["X", "Y\"Z\n"], "nested": {"key": "VALUE", "n": 1}, "é": "é AND E"}})
        )
    );
    assert_eq!(outcome.logs.len(), 1);
    assert_eq!(outcome.logs[0].message, "transforming");
}

#[test]
fn an_infinite_loop_is_stopped_at_its_deadline() {
    let engine = engine();
    let module = engine
        .load("loop", wasm::infinite_loop().as_bytes(), &[])
        .unwrap();
    let started = Instant::now();
    let error = module
        .call(
            b"{}",
            &Grants::none("loop"),
            &CallLimits::timeout(Duration::from_millis(100)),
        )
        .unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(error, SandboxError::WasmTimedOut { .. }),
        "{error}"
    );
    assert!(took >= Duration::from_millis(100), "{took:?}");
    // The engine still serves.
    let echo = engine.load("echo", wasm::echo().as_bytes(), &[]).unwrap();
    assert!(echo.call(b"1", &Grants::none("echo"), &limits()).is_ok());
}

#[test]
fn an_infinite_loop_is_stopped_when_cancelled() {
    let module = load("loop", &wasm::infinite_loop());
    let cancel = Arc::new(AtomicBool::new(false));
    let limits = CallLimits {
        cancel: cancel.clone(),
        ..CallLimits::default()
    };
    let canceller = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        cancel.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    let error = module
        .call(b"{}", &Grants::none("loop"), &limits)
        .unwrap_err();
    canceller.join().unwrap();
    assert!(
        matches!(error, SandboxError::WasmCancelled { .. }),
        "{error}"
    );
}

#[test]
fn memory_growth_past_the_cap_fails_inside_the_plugin() {
    let module = load("bomb", &wasm::memory_bomb());
    let outcome = call_bare(&module, "bomb").unwrap();
    // 4 MiB is 64 pages: the plugin saw `memory.grow` fail at the cap.
    assert_eq!(outcome.reply, PluginReply::Ok(json!(64)));
    let capped = CallLimits {
        max_memory_bytes: Some(1 << 20),
        ..limits()
    };
    let outcome = module.call(b"{}", &Grants::none("bomb"), &capped).unwrap();
    assert_eq!(outcome.reply, PluginReply::Ok(json!(16)));
    assert_eq!(outcome.peak_memory_bytes, 1 << 20, "it grew to the cap");
}

#[test]
fn each_call_reports_the_most_memory_it_held() {
    let module = load("echo", &wasm::echo());
    let small = module
        .call_json(&json!({"m": "hi"}), &Grants::none("echo"), &limits())
        .unwrap();
    // One page to start with, which the small call never outgrows.
    assert_eq!(small.peak_memory_bytes, 65_536);
    let text = "x".repeat(300_000);
    let large = module
        .call_json(&json!({"m": text}), &Grants::none("echo"), &limits())
        .unwrap();
    assert!(
        large.peak_memory_bytes >= 300_000 && large.peak_memory_bytes <= 4 << 20,
        "{}",
        large.peak_memory_bytes
    );
    // A fresh instance per call: the next small call starts over.
    let again = module
        .call_json(&json!({"m": "hi"}), &Grants::none("echo"), &limits())
        .unwrap();
    assert_eq!(again.peak_memory_bytes, 65_536);
}

#[test]
fn a_plugin_that_traps_after_the_cap_reports_the_memory_limit() {
    let module = load("bomb", &wasm::memory_bomb_trapping());
    let error = call_bare(&module, "bomb").unwrap_err();
    assert!(
        matches!(error, SandboxError::WasmMemoryExceeded { limit_bytes, .. } if limit_bytes == 4 << 20),
        "{error}"
    );
}

#[test]
fn a_trap_is_an_error_and_the_next_call_runs() {
    let module = load("trap", &wasm::trapping());
    let error = call_bare(&module, "trap").unwrap_err();
    assert!(
        matches!(&error, SandboxError::WasmTrap { reason, .. } if reason.contains("unreachable")),
        "{error}"
    );
    let error = call_bare(&module, "trap").unwrap_err();
    assert!(matches!(error, SandboxError::WasmTrap { .. }));
}

#[test]
fn an_unrequested_import_is_refused_at_load() {
    let engine = engine();
    let error = engine
        .load(
            "sneaky",
            wasm::importing_read_file().as_bytes(),
            &[HostFunction::Log],
        )
        .unwrap_err();
    let message = error.to_string();
    assert!(matches!(error, SandboxError::WasmRejected { .. }));
    assert!(
        message.contains("rustchain.read_file") && message.contains("readFiles"),
        "{message}"
    );

    let error = engine
        .load(
            "wasi",
            wasm::importing_wasi().as_bytes(),
            &HostFunction::ALL,
        )
        .unwrap_err();
    assert!(error.to_string().contains("no WASI"), "{error}");
}

#[test]
fn modules_that_break_the_abi_are_refused_at_load() {
    let engine = engine();
    let cases = [
        ("(module)", "does not export `memory`"),
        (
            "(module (memory (export \"memory\") 1))",
            "does not export `alloc`",
        ),
        (
            "(module (memory (export \"memory\") 1) (func (export \"alloc\") (param i32) (result i32) (i32.const 0)) (func (export \"call\") (param i32) (result i32) (i32.const 0)))",
            "export `call` has the signature",
        ),
        (
            "(module (memory (export \"memory\") 100))",
            "exceeds the limit",
        ),
        ("this is not wasm", "does not compile"),
        (
            "(module (import \"rustchain\" \"log\" (func (param i32))) (memory (export \"memory\") 1))",
            "with the signature",
        ),
    ];
    for (wat, expected) in cases {
        let error = engine
            .load("bad", wat.as_bytes(), &HostFunction::ALL)
            .unwrap_err();
        assert!(error.to_string().contains(expected), "{wat}: {error}");
    }
    let small = WasmEngine::new(WasmConfig {
        max_module_bytes: 100,
        ..WasmConfig::default()
    })
    .unwrap();
    let error = small
        .load("echo", wasm::echo().as_bytes(), &[])
        .unwrap_err();
    assert!(
        error.to_string().contains("over the limit of 100 bytes"),
        "{error}"
    );
}

fn files() -> (tempfile::TempDir, FsRoot) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("granted")).unwrap();
    std::fs::write(dir.path().join("granted/notes.txt"), "plain notes").unwrap();
    std::fs::write(dir.path().join("secret.txt"), "the secret").unwrap();
    let root = FsRoot::open(dir.path().join("granted"), FsLimits::default()).unwrap();
    (dir, root)
}

#[test]
fn a_granted_file_is_read() {
    let (_dir, root) = files();
    let engine = engine();
    let module = engine
        .load(
            "reader",
            wasm::reader().as_bytes(),
            &[HostFunction::ReadFile],
        )
        .unwrap();
    let grants = Grants::none("reader").with_files(root);
    let outcome = module
        .call_json(&json!({"path": "notes.txt"}), &grants, &limits())
        .unwrap();
    assert_eq!(outcome.reply, PluginReply::Ok(json!("plain notes")));
    assert!(outcome.host_errors.is_empty());
}

#[test]
fn a_file_outside_the_granted_directory_is_denied() {
    let (dir, root) = files();
    let engine = engine();
    let module = engine
        .load(
            "reader",
            wasm::reader().as_bytes(),
            &[HostFunction::ReadFile],
        )
        .unwrap();
    let grants = Grants::none("reader").with_files(root);
    let absolute = dir.path().join("secret.txt").display().to_string();
    for path in ["../secret.txt", absolute.as_str()] {
        let outcome = module
            .call_json(&json!({"path": path}), &grants, &limits())
            .unwrap();
        assert_eq!(outcome.reply, PluginReply::Error("denied".into()), "{path}");
        assert_eq!(outcome.host_errors.len(), 1, "{path}");
    }
    // Imported but not granted for the call: denied too.
    let outcome = module
        .call_json(
            &json!({"path": "notes.txt"}),
            &Grants::none("reader"),
            &limits(),
        )
        .unwrap();
    assert_eq!(outcome.reply, PluginReply::Error("denied".into()));
    assert!(
        outcome.host_errors[0].contains("not granted"),
        "{:?}",
        outcome.host_errors
    );
}

#[test]
fn malformed_output_is_an_error() {
    let engine = engine();
    for (name, wat, expected) in [
        ("malformed", wasm::malformed(), "not JSON"),
        (
            "bounds",
            wasm::out_of_bounds(),
            "outside the plugin's memory",
        ),
    ] {
        let module = engine.load(name, wat.as_bytes(), &[]).unwrap();
        let error = module
            .call(b"{}", &Grants::none(name), &limits())
            .unwrap_err();
        assert!(
            matches!(&error, SandboxError::WasmBadOutput { reason, .. } if reason.contains(expected)),
            "{name}: {error}"
        );
    }
}

#[test]
fn every_call_gets_a_fresh_instance() {
    let module = load("counter", &wasm::counter());
    for _ in 0..3 {
        let outcome = module
            .call(b"{}", &Grants::none("counter"), &limits())
            .unwrap();
        assert_eq!(outcome.reply, PluginReply::Ok(json!(1)));
    }
}

#[test]
fn compiled_modules_are_cached_in_memory_and_on_disk() {
    let cache = tempfile::tempdir().unwrap();
    let config = WasmConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..WasmConfig::default()
    };
    let first = WasmEngine::new(config.clone()).unwrap();
    first.load("echo", wasm::echo().as_bytes(), &[]).unwrap();
    first.load("echo", wasm::echo().as_bytes(), &[]).unwrap();
    assert_eq!(first.compile_stats(), (1, 0));
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1);

    let second = WasmEngine::new(config).unwrap();
    let module = second.load("echo", wasm::echo().as_bytes(), &[]).unwrap();
    assert_eq!(second.compile_stats(), (0, 1));
    assert_eq!(
        module
            .call(b"[1]", &Grants::none("echo"), &limits())
            .unwrap()
            .reply,
        PluginReply::Ok(json!([1]))
    );

    // A damaged artifact is refused by wasmtime and compiled afresh.
    for entry in std::fs::read_dir(cache.path()).unwrap() {
        std::fs::write(entry.unwrap().path(), b"garbage").unwrap();
    }
    let third = WasmEngine::new(WasmConfig {
        cache_dir: Some(cache.path().to_path_buf()),
        ..WasmConfig::default()
    })
    .unwrap();
    third.load("echo", wasm::echo().as_bytes(), &[]).unwrap();
    assert_eq!(third.compile_stats(), (1, 0));
}

#[test]
fn many_calls_at_once_each_run_alone() {
    let module = load("echo", &wasm::echo());
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let module = module.clone();
            std::thread::spawn(move || {
                for j in 0..50 {
                    let args = json!({"thread": i, "call": j});
                    let outcome = module
                        .call_json(&args, &Grants::none("echo"), &limits())
                        .unwrap();
                    assert_eq!(outcome.reply, PluginReply::Ok(args));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// A one-shot HTTP server on loopback that answers `body`.
async fn http_server(body: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0; 4096];
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{address}/data")
}

fn fetch_grant(hosts: &[&str], allow_loopback: bool) -> Grants {
    use rustchain_tools_sandbox::{
        net::{FetchLimits, HttpFetcher, NetPolicy},
        wasm::FetchGrant,
    };
    let policy = NetPolicy {
        allow_loopback,
        allow_any_port: true,
        allowed_schemes: vec!["http".into(), "https".into()],
        ..NetPolicy::default()
    };
    let fetcher = HttpFetcher::new(policy, FetchLimits::default()).unwrap();
    Grants::none("fetcher").with_fetch(FetchGrant::new(
        &fetcher,
        hosts.iter().map(|h| (*h).to_owned()).collect(),
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_granted_host_is_fetched_through_the_checked_client() {
    let url = http_server("served over loopback").await;
    let engine = engine();
    let module = engine
        .load(
            "fetcher",
            wasm::fetcher().as_bytes(),
            &[HostFunction::Fetch],
        )
        .unwrap();
    let run = |grants: Grants, url: String| {
        let module = module.clone();
        tokio::task::spawn_blocking(move || {
            module.call_json(&json!({"url": url}), &grants, &limits())
        })
    };

    let outcome = run(fetch_grant(&["127.0.0.1"], true), url.clone())
        .await
        .unwrap()
        .unwrap();
    let PluginReply::Ok(response) = outcome.reply else {
        panic!("{:?}", outcome);
    };
    assert_eq!(response["status"], 200);
    assert_eq!(response["body"], "served over loopback");

    // A host outside the grant: refused before any connection.
    let outcome = run(fetch_grant(&["api.example.com"], true), url.clone())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.reply, PluginReply::Error("denied".into()));
    assert!(
        outcome.host_errors[0].contains("not among the granted hosts"),
        "{:?}",
        outcome.host_errors
    );

    // Granted by the manifest, but the client refuses loopback (SSRF).
    let outcome = run(fetch_grant(&["127.0.0.1"], false), url)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(outcome.reply, PluginReply::Error("denied".into()));
    assert!(
        outcome.host_errors[0].contains("loopback"),
        "{:?}",
        outcome.host_errors
    );
}

#[test]
fn refused_host_calls_are_remembered_up_to_a_cap() {
    let module = load_requesting("refuser", &wasm::refusal_loop(), &[HostFunction::ReadFile]);
    let path = "x".repeat(4000);
    let outcome = module
        .call(path.as_bytes(), &Grants::none("refuser"), &limits())
        .unwrap();
    assert_eq!(outcome.reply, PluginReply::Ok(json!(0)));
    assert_eq!(outcome.host_errors.len(), plugin_wasm::MAX_HOST_ERRORS);
    assert!(
        outcome.host_errors.iter().all(|e| e.len() <= 1024 + 3),
        "refusals are cut"
    );
    assert!(
        outcome.host_errors[0].contains("not granted"),
        "{:?}",
        outcome.host_errors[0]
    );
}

#[test]
fn a_trap_in_alloc_during_a_host_call_is_the_calls_trap() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("note.txt"), "hello").unwrap();
    let module = load_requesting(
        "reader",
        &wasm::reader_with_trapping_alloc(),
        &[HostFunction::ReadFile],
    );
    let grants =
        Grants::none("reader").with_files(FsRoot::open(dir.path(), FsLimits::default()).unwrap());
    let error = module.call(b"note.txt", &grants, &limits()).unwrap_err();
    assert!(matches!(error, SandboxError::WasmTrap { .. }), "{error:?}");
}

/// A server on loopback that redirects every request to `to`.
async fn redirecting_server(to: String) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0; 4096];
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 302 Found\r\nlocation: {to}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(response.as_bytes()).await;
        }
    });
    format!("http://{address}/start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_off_the_granted_hosts_is_refused() {
    let target = http_server("not for this plugin").await;
    let elsewhere = target.replace("127.0.0.1", "localhost");
    let start = redirecting_server(elsewhere).await;
    let module = load_requesting("fetcher", &wasm::fetcher(), &[HostFunction::Fetch]);
    let outcome = tokio::task::spawn_blocking(move || {
        module.call_json(
            &json!({"url": start}),
            &fetch_grant(&["127.0.0.1"], true),
            &limits(),
        )
    })
    .await
    .unwrap()
    .unwrap();
    assert_eq!(outcome.reply, PluginReply::Error("denied".into()));
    assert!(
        outcome.host_errors[0].contains("localhost")
            && outcome.host_errors[0].contains("not among the granted hosts"),
        "{:?}",
        outcome.host_errors
    );
}
