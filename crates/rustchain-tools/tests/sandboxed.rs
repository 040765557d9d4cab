//! The sandboxed built-in tools through the whole pipeline: validation, the
//! shipped policy, the limits layer and the deadline, around the real
//! sandbox (no mocks).

use std::{
    io::{Read, Write},
    net::TcpListener,
    time::Duration,
};

use rustchain_tools::{
    Principal, Runtime, RuntimeBuilderExt, StackConfig, ToolCall, ToolError, ToolSource,
    builtins::{self, SandboxConfig},
    policy::PolicyConfig,
};
use serde_json::{Value, json};

fn runtime(config: SandboxConfig) -> Runtime {
    Runtime::builder()
        .builtins()
        .sandboxed(config)
        .layers(
            StackConfig::default()
                .policy(PolicyConfig::new())
                .insecure_no_audit(),
        )
        .build()
        .expect("the runtime builds")
}

fn as_role(tool: &str, arguments: Value, role: &str) -> ToolCall {
    ToolCall::new(tool, arguments).with_principal(Principal {
        id: "tester".into(),
        roles: vec![role.into()],
    })
}

/// A root under /tmp, which the shipped roles `analyst` and `editor` cover.
fn temp_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sandboxed-")
        .tempdir_in("/tmp")
        .unwrap()
}

#[test]
fn every_sandboxed_tool_is_a_builtin_to_policies() {
    let dir = temp_root();
    let rt = runtime(SandboxConfig::new(dir.path()));
    let sandboxed: Vec<_> = rt
        .tools()
        .iter()
        .filter(|t| builtins::SANDBOXED_TOOLS.contains(&t.metadata().name().as_str()))
        .collect();
    assert_eq!(sandboxed.len(), builtins::SANDBOXED_TOOLS.len());
    for tool in sandboxed {
        assert_eq!(tool.metadata().source(), ToolSource::Builtin);
    }
}

#[tokio::test]
async fn files_are_written_read_listed_searched_and_deleted_below_the_root() {
    let dir = temp_root();
    let rt = runtime(SandboxConfig::new(dir.path()));
    let written = rt
        .call(as_role(
            "fs_write",
            json!({"path": "notes/today.txt", "content": "alpha\nbeta\n", "create_dirs": true}),
            "editor",
        ))
        .await
        .unwrap();
    assert_eq!(written.structured.unwrap()["bytes_written"], 11);
    let read = rt
        .call(as_role(
            "fs_read",
            json!({"path": "notes/today.txt"}),
            "analyst",
        ))
        .await
        .unwrap();
    assert_eq!(read.structured.unwrap()["content"], "alpha\nbeta\n");
    let listed = rt
        .call(as_role("fs_list", json!({"recursive": true}), "analyst"))
        .await
        .unwrap()
        .structured
        .unwrap();
    let paths: Vec<&str> = listed["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["notes", "notes/today.txt"]);
    let found = rt
        .call(as_role("fs_search", json!({"text": "beta"}), "analyst"))
        .await
        .unwrap()
        .structured
        .unwrap();
    assert_eq!(found["matches"][0]["line"], 2);
    rt.call(as_role(
        "fs_delete",
        json!({"path": "notes", "recursive": true}),
        "editor",
    ))
    .await
    .unwrap();
    assert!(!dir.path().join("notes").exists());
}

#[tokio::test]
async fn paths_outside_the_root_are_refused_by_policy_and_by_the_sandbox() {
    let outside = temp_root();
    std::fs::write(outside.path().join("secret"), "s3cret").unwrap();
    let dir = temp_root();
    std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
    let rt = runtime(SandboxConfig::new(dir.path()));

    // `..` is refused by the policy before the tool runs.
    let err = rt
        .call(as_role("fs_read", json!({"path": "../x"}), "analyst"))
        .await
        .unwrap_err();
    let ToolError::Denied { reasons, .. } = &err else {
        panic!("expected a denial, got {err}");
    };
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("outside the paths the tool declares")),
        "{reasons:?}"
    );

    // A symlink out passes the policy (its name is inside) but not the sandbox.
    let err = rt
        .call(as_role("fs_read", json!({"path": "link"}), "analyst"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reasons, .. } if reasons[0].contains("outside the sandbox root")),
        "{err}"
    );
    assert!(!err.to_string().contains("s3cret"));

    // Absolute paths outside the root: the policy refuses them whatever the role.
    let err = rt
        .call(as_role("fs_read", json!({"path": "/etc/passwd"}), "admin"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reasons, .. } if reasons[0].contains("outside the paths the tool declares")),
        "{err}"
    );
}

#[tokio::test]
async fn writing_needs_a_role_that_grants_it_and_the_denial_says_which() {
    let dir = temp_root();
    let rt = runtime(SandboxConfig::new(dir.path()));
    let err = rt
        .call(as_role(
            "fs_write",
            json!({"path": "a.txt", "content": "x"}),
            "analyst",
        ))
        .await
        .unwrap_err();
    let ToolError::Denied { reasons, .. } = &err else {
        panic!("expected a denial, got {err}");
    };
    assert!(reasons.iter().any(|r| r.contains("editor")), "{reasons:?}");
    assert!(!dir.path().join("a.txt").exists());
}

#[tokio::test]
async fn commands_run_without_a_shell_when_policy_and_allowlist_agree() {
    let dir = temp_root();
    let mut config = SandboxConfig::new(dir.path());
    config.programs = config.programs.allow("printf").unwrap();
    let rt = runtime(config);
    let result = rt
        .call(as_role(
            "cmd_run",
            json!({"program": "printf", "args": ["%s|", "; touch pwned", "$(id)"]}),
            "admin",
        ))
        .await
        .unwrap()
        .structured
        .unwrap();
    assert_eq!(result["stdout"], "; touch pwned|$(id)|");
    assert_eq!(result["exit_code"], 0);
    assert!(!dir.path().join("pwned").exists());

    // The policy decides per program: operators may run git, not printf.
    let err = rt
        .call(as_role("cmd_run", json!({"program": "printf"}), "operator"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reasons, .. } if reasons.iter().any(|r| r.contains("running `printf` is not granted"))),
        "{err}"
    );

    // And the runner's allowlist decides too, whatever the policy says.
    let err = rt
        .call(as_role("cmd_run", json!({"program": "rm"}), "admin"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::Denied { reasons, .. } if reasons[0].contains("not allowed")),
        "{err}"
    );
}

#[tokio::test]
async fn a_call_past_its_deadline_kills_the_command() {
    let dir = temp_root();
    let mut config = SandboxConfig::new(dir.path());
    config.programs = config.programs.allow("sleep").unwrap();
    let rt = runtime(config);
    let marker = "7.31415";
    let err = rt
        .call(
            as_role(
                "cmd_run",
                json!({"program": "sleep", "args": [marker]}),
                "admin",
            )
            .with_timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::TimedOut { .. }), "{err}");
    // The runner kills the group when the call's future is dropped; give the
    // kill a moment to land, then no process with the marker may remain.
    let mut left = Vec::new();
    for _ in 0..50 {
        left = processes_with_arg(marker);
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

#[tokio::test]
async fn a_command_that_spins_is_stopped_by_its_cpu_limit() {
    let dir = temp_root();
    let mut config = SandboxConfig::new(dir.path());
    config.programs = config.programs.allow("sh").unwrap();
    config.process_limits.cpu_seconds = 1;
    let rt = runtime(config);
    let err = rt
        .call(as_role(
            "cmd_run",
            json!({"program": "sh", "args": ["-c", "while :; do :; done"]}),
            "admin",
        ))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ToolError::LimitExceeded { limit, .. } if limit == "cpu_time"),
        "{err}"
    );
}

#[tokio::test]
async fn http_fetch_reaches_a_local_server_only_when_loopback_is_allowed() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hello", listener.local_addr().unwrap());
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = stream.read(&mut buf).unwrap();
        stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .unwrap();
    });
    let dir = temp_root();

    let mut config = SandboxConfig::new(dir.path());
    config.net.allow_any_port = true;
    let refused = runtime(config)
        .call(as_role("http_fetch", json!({"url": url}), "admin"))
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, ToolError::Denied { reasons, .. } if reasons[0].contains("loopback")),
        "{refused}"
    );

    let mut config = SandboxConfig::new(dir.path());
    config.net.allow_loopback = true;
    config.net.allow_any_port = true;
    let fetched = runtime(config)
        .call(as_role("http_fetch", json!({"url": url}), "admin"))
        .await
        .unwrap()
        .structured
        .unwrap();
    assert_eq!(fetched["status"], 200);
    assert_eq!(fetched["body"], "hello");
    server.join().unwrap();
}

/// Pids of processes with `arg` among their arguments.
fn processes_with_arg(arg: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline"))
            && cmdline.split(|b| *b == 0).any(|a| a == arg.as_bytes())
        {
            found.push(pid);
        }
    }
    found
}
