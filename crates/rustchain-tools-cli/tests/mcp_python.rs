//! `rustchain-tools mcp` driven by the official Python MCP SDK (`mcp` from
//! PyPI, installed on first use into a virtual environment under the
//! target directory), over stdio and streamable HTTP. Each test then checks
//! the audit log: what happened is in it, and it verifies.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use rustchain_tools::audit::{
    Record, RecordKind, VerifierKey, log_files, read_records, verifier_path, verify,
};
use serde_json::Value;

mod support;

const BIN: &str = env!("CARGO_BIN_EXE_rustchain-tools");
/// The SDK version the tests are written against (`.ci/run` installs the
/// same file).
const REQUIREMENTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/mcp/requirements.txt");

/// The Python with the SDK: `RUSTCHAIN_MCP_PYTHON`, or a virtual
/// environment made in the target directory.
fn python() -> PathBuf {
    support::venv_python(
        "RUSTCHAIN_MCP_PYTHON",
        "mcp-client-venv",
        Path::new(REQUIREMENTS),
    )
}

fn client_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mcp/client.py")
}

/// A data directory, a sandbox root with a file in it, and a configuration.
struct Setup {
    home: tempfile::TempDir,
}

impl Setup {
    fn new(extra: &str) -> Setup {
        let home = tempfile::tempdir().unwrap();
        let root = home.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("hello.txt"), "hello from the root\n").unwrap();
        let setup = Setup { home };
        let config = format!(
            "root = {root:?}\nregistry = {registry:?}\n[audit]\nfile = {audit:?}\n{extra}\n",
            root = root,
            registry = setup.path("registry"),
            audit = setup.audit(),
        );
        std::fs::write(setup.config(), config).unwrap();
        setup
    }

    fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("rustchain.toml")
    }

    fn audit(&self) -> PathBuf {
        self.path("audit.jsonl")
    }

    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env("RUSTCHAIN_TOOLS_DATA_DIR", self.path("data"))
            .env("XDG_CONFIG_HOME", self.path("config"))
            .env_remove("RUSTCHAIN_TOOLS_CONFIG");
        command
    }

    fn server_args(&self) -> Vec<String> {
        vec![
            "mcp".into(),
            "--config".into(),
            self.config().display().to_string(),
            "--lexical".into(),
        ]
    }

    /// Runs a scenario of client.py against the server over stdio.
    fn run_stdio(&self, scenario: &str, env: &[(&str, &str)]) -> String {
        let mut command = self.command(python());
        command.arg(client_script()).args([scenario, "stdio", BIN]);
        command.args(self.server_args());
        run_client(command, env, scenario)
    }

    /// Starts the server on HTTP (a free loopback port); returns it and its
    /// endpoint.
    fn start_http(&self, extra_args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
        let mut command = self.command(BIN);
        command
            .args(self.server_args())
            .args(["--http", "127.0.0.1:0"])
            .args(extra_args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server says where it listens")
                .unwrap();
            if let Some(url) = line.strip_prefix("listening on ") {
                break url.to_owned();
            }
        };
        // Keep reading stderr so the server never blocks on it.
        std::thread::spawn(move || for _ in lines {});
        (child, url)
    }

    fn run_http(
        &self,
        scenario: &str,
        url: &str,
        token: Option<&str>,
        env: &[(&str, &str)],
    ) -> String {
        let mut command = self.command(python());
        command.arg(client_script()).args([scenario, "http", url]);
        command.args(token);
        run_client(command, env, scenario)
    }

    /// The audit log's records, after checking that it verifies.
    fn records(&self) -> Vec<Record> {
        let log = self.audit();
        let verifier = std::fs::read_to_string(verifier_path(&log)).unwrap();
        let verifier = VerifierKey::parse(verifier.trim()).unwrap();
        let files = log_files(&log).unwrap();
        verify(&files, &verifier).unwrap_or_else(|e| panic!("the audit log does not verify: {e}"));
        read_records(&files).unwrap()
    }
}

fn run_client(mut command: Command, env: &[(&str, &str)], scenario: &str) -> String {
    let out = command
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("the client runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("ok {scenario}")),
        "{scenario} failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    stdout
}

/// Stops an HTTP server as Ctrl-C would, and waits for it.
fn stop(mut child: Child) {
    let pid = child.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "the server exited with {status}");
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not stop"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn kinds_of(records: &[Record], tool: &str) -> Vec<RecordKind> {
    let ids: Vec<&Value> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Received && r.payload["tool"] == tool)
        .map(|r| &r.payload["callId"])
        .collect();
    records
        .iter()
        .filter(|r| ids.contains(&&r.payload["callId"]))
        .map(|r| r.kind)
        .collect()
}

fn check_basics_audit(records: &[Record]) {
    let count = kinds_of(records, "text.word_count");
    assert!(count.contains(&RecordKind::Finished), "{count:?}");
    assert!(count.contains(&RecordKind::Rejected), "{count:?}");
    let write = kinds_of(records, "fs_write");
    assert!(write.contains(&RecordKind::Denied), "{write:?}");
    // Unknown and hidden tools are refused on record too.
    let refused: Vec<&Value> = records
        .iter()
        .filter(|r| r.kind == RecordKind::Refused)
        .map(|r| &r.payload["tool"])
        .collect();
    assert!(
        refused.contains(&&Value::from("no.such_tool")),
        "{refused:?}"
    );
    assert!(
        refused.contains(&&Value::from("json.merge_patch")),
        "{refused:?}"
    );
    assert!(
        records
            .iter()
            .any(|r| r.kind == RecordKind::Session && r.payload["event"] == "opened"),
        "no session record"
    );
}

const BASICS: &str = "[tools]\npage_size = 4\nhide = [\"json.merge_patch\"]\n";

#[test]
fn stdio_initialize_list_call_validation_denial() {
    let setup = Setup::new(BASICS);
    setup.run_stdio("basics", &[("HIDDEN_TOOL", "json.merge_patch")]);
    let records = setup.records();
    check_basics_audit(&records);
    assert!(
        records
            .iter()
            .any(|r| r.kind == RecordKind::Session && r.payload["event"] == "closed"),
        "the stdio session's end is recorded"
    );
}

#[test]
fn http_initialize_list_call_validation_denial() {
    let setup = Setup::new(BASICS);
    let (server, url) = setup.start_http(&[], &[]);
    setup.run_http("basics", &url, None, &[("HIDDEN_TOOL", "json.merge_patch")]);
    stop(server);
    check_basics_audit(&setup.records());
}

/// A registry with a definition that has no implementation.
fn import_definition(setup: &Setup) {
    let file = setup.path("weather.jsonl");
    std::fs::write(
        &file,
        r#"{"name": "get_weather", "description": "Weather forecast for a city.", "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}}}"#,
    )
    .unwrap();
    let out = setup
        .command(BIN)
        .args(["registry", "import"])
        .arg(&file)
        .arg("--registry")
        .arg(setup.path("registry"))
        .arg("--lexical")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn stdio_find_tools_then_call_what_was_found() {
    let setup = Setup::new("[tools]\nmode = \"search\"\n");
    import_definition(&setup);
    setup.run_stdio("discovery", &[]);
    let records = setup.records();
    assert!(kinds_of(&records, "text.word_count").contains(&RecordKind::Finished));
}

#[test]
fn http_find_tools_then_call_what_was_found() {
    let setup = Setup::new("[tools]\nmode = \"search\"\n");
    import_definition(&setup);
    let (server, url) = setup.start_http(&[], &[]);
    setup.run_http("discovery", &url, None, &[]);
    stop(server);
    assert!(kinds_of(&setup.records(), "text.word_count").contains(&RecordKind::Finished));
}

/// A policy that lets the principal run `sleep`, and nothing else new.
fn sleeper(setup: &Setup) -> String {
    let policies = setup.path("policies");
    std::fs::create_dir_all(&policies).unwrap();
    std::fs::write(
        policies.join("sleeper.json"),
        r#"{"rustchain": {"grants": {"roles": {"sleeper": {"categories": ["*"], "commands": ["sleep"], "mutating": true, "openWorld": true}}}}}"#,
    )
    .unwrap();
    format!(
        "[policy]\ndir = {policies:?}\nprofiles = []\n[principal]\nroles = [\"sleeper\"]\n[sandbox]\nprograms = [\"sleep\"]\n"
    )
}

/// Whether a `sleep 30` started by the server is still running.
fn sleep_running() -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline"))
            .is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"30") && c.starts_with(b"sleep\0"))
    })
}

fn check_cancelled(setup: &Setup) {
    let started = Instant::now();
    while sleep_running() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the cancelled command still runs"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let kinds = kinds_of(&setup.records(), "cmd_run");
    assert!(kinds.contains(&RecordKind::Started), "{kinds:?}");
    assert!(kinds.contains(&RecordKind::Cancelled), "{kinds:?}");
}

#[test]
fn stdio_a_cancelled_call_stops() {
    let setup = Setup::new("");
    let policy = sleeper(&setup);
    std::fs::write(
        setup.config(),
        std::fs::read_to_string(setup.config()).unwrap() + &policy,
    )
    .unwrap();
    let marker = setup.path("");
    setup.run_stdio("cancel", &[("MARKER_DIR", marker.to_str().unwrap())]);
    check_cancelled(&setup);
}

#[test]
fn http_a_cancelled_call_stops() {
    let setup = Setup::new("");
    let policy = sleeper(&setup);
    std::fs::write(
        setup.config(),
        std::fs::read_to_string(setup.config()).unwrap() + &policy,
    )
    .unwrap();
    let (server, url) = setup.start_http(&[], &[]);
    let marker = setup.path("");
    setup.run_http(
        "cancel",
        &url,
        None,
        &[("MARKER_DIR", marker.to_str().unwrap())],
    );
    stop(server);
    check_cancelled(&setup);
}

#[test]
fn stdio_editing_the_exposed_tools_sends_list_changed() {
    let setup = Setup::new("[tools]\nhide = []\nreload_ms = 100\n");
    setup.run_stdio(
        "list_changed",
        &[("CONFIG_FILE", setup.config().to_str().unwrap())],
    );
    setup.records();
}

#[test]
fn stdio_a_plugin_added_while_serving_is_listed_called_and_removed() {
    let setup = Setup::new("[plugins]\nreload_ms = 100\n");
    let source = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/plugins/json-upper");
    setup.run_stdio(
        "plugins",
        &[
            ("CONFIG_FILE", setup.config().to_str().unwrap()),
            ("BIN", BIN),
            ("PLUGIN_SOURCE", source),
        ],
    );
    let records = setup.records();
    let registered: Vec<_> = records
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::ToolRegistered | RecordKind::ToolRemoved))
        .filter(|r| r.payload["tool"] == "example.json_upper")
        .map(|r| r.kind)
        .collect();
    assert_eq!(
        registered,
        [RecordKind::ToolRegistered, RecordKind::ToolRemoved]
    );
    assert!(kinds_of(&records, "example.json_upper").contains(&RecordKind::Finished));
}

#[test]
fn http_with_a_token_refuses_clients_without_it() {
    let setup = Setup::new(BASICS);
    let token = "a-token-long-enough-0123456789";
    let (server, url) = setup.start_http(
        &["--token-env", "TEST_MCP_TOKEN"],
        &[("TEST_MCP_TOKEN", token)],
    );
    setup.run_http(
        "basics",
        &url,
        Some(token),
        &[("HIDDEN_TOOL", "json.merge_patch")],
    );
    let status = post_status(&url, &[], r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#);
    let wrong = post_status(
        &url,
        &["authorization: Bearer a-wrong-token-of-the-same-size"],
        r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#,
    );
    stop(server);
    assert_eq!(status, 401);
    assert_eq!(wrong, 401);
}

/// The status of a JSON POST to `url` (`http://127.0.0.1:PORT/mcp`) with
/// extra header lines, over a plain socket.
fn post_status(url: &str, headers: &[&str], body: &str) -> u16 {
    use std::io::{Read, Write};
    let rest = url.strip_prefix("http://").unwrap();
    let (authority, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = std::net::TcpStream::connect(authority).unwrap();
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {authority}\r\ncontent-type: application/json\r\n\
         accept: application/json, text/event-stream\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    for header in headers {
        request.push_str(header);
        request.push_str("\r\n");
    }
    request.push_str("\r\n");
    request.push_str(body);
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

#[test]
fn audit_turned_off_by_name_records_nowhere() {
    for (extra, flags) in [
        ("enabled = false", &[][..]),
        ("", &["--insecure-no-audit"][..]),
    ] {
        let setup = Setup::new(extra);
        let output = setup
            .command(BIN)
            .args(setup.server_args())
            .args(flags)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("audit off"), "{stderr}");
        assert!(!setup.audit().exists(), "the configured log was written");
        assert!(
            !setup.path("data").join("audit.jsonl").exists(),
            "the default log was written: {stderr}"
        );
    }
}
