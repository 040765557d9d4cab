//! The `rustchain-tools` binary as a user runs it.

use std::{
    io::Write,
    process::{Command, Output, Stdio},
};

use serde_json::Value;

#[path = "../../rustchain-tools-market-server/tests/support/s3s_fs.rs"]
mod s3s_fs;
mod support;

/// One data and configuration directory for the whole test run, so that
/// the default audit log never lands in the real home directory.
fn home() -> &'static std::path::Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| tempfile::tempdir().unwrap()).path()
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    run_in(home(), args, stdin)
}

/// Runs with `home` as the data and configuration home.
fn run_in(home: &std::path::Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rustchain-tools"))
        .args(args)
        .env("RUSTCHAIN_TOOLS_DATA_DIR", home.join("data"))
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env_remove("RUSTCHAIN_TOOLS_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).unwrap();
    }
    drop(pipe);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn lists_tools_as_a_table_and_as_json() {
    let out = run(&["tools", "list"], None);
    assert_eq!(out.status.code(), Some(0));
    let table = stdout(&out);
    let row = table
        .lines()
        .find(|l| l.starts_with("text.word_count "))
        .unwrap();
    assert!(row.contains(" 1.0.0 ") && row.contains(" text "), "{table}");

    let out = run(&["tools", "list", "--category", "json", "--json"], None);
    let rows: Vec<Value> = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|r| r["category"] == "json"));
}

#[test]
fn describes_a_tool_and_refuses_an_unknown_one() {
    let out = run(&["tools", "describe", "text.sha256", "--json"], None);
    assert_eq!(out.status.code(), Some(0));
    let meta: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(meta["name"], "text.sha256");
    assert_eq!(meta["inputSchema"]["required"][0], "text");
    assert_eq!(meta["annotations"]["readOnlyHint"], true);

    let out = run(&["tools", "describe", "text.sha256"], None);
    assert!(stdout(&out).contains("input schema:"));

    let out = run(&["tools", "describe", "text.sha265"], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("did you mean text.sha256?"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_valid_call_prints_the_result_as_json() {
    let out = run(
        &[
            "call",
            "text.word_count",
            "--args",
            r#"{"text": "to be or not to be"}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["structured"]["words"], 6);
    assert_eq!(result["isError"], false);
}

#[test]
fn invalid_arguments_exit_2_with_each_violation_and_its_path() {
    let out = run(
        &[
            "call",
            "text.word_count",
            "--args",
            r#"{"text": 5, "x": 1}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("2 violations"), "{err}");
    assert!(
        err.contains("at /text: expected string, found integer 5 (keyword: type)"),
        "{err}"
    );
    assert!(
        err.contains("at /x: the property \"x\" is not allowed"),
        "{err}"
    );
    assert!(stdout(&out).is_empty());

    let out = run(&["call", "text.word_count", "--args", "{not json"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("not valid JSON"));
}

#[test]
fn arguments_come_from_a_file_or_stdin() {
    let dir = std::env::temp_dir().join(format!("rustchain-tools-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("args.json");
    std::fs::write(&file, r#"{"text": "abc"}"#).unwrap();
    let at_file = format!("@{}", file.display());
    let out = run(&["call", "text.sha256", "--args", &at_file], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_file: Value = serde_json::from_str(&stdout(&out)).unwrap();

    let out = run(
        &["call", "text.sha256", "--args", "-"],
        Some(r#"{"text": "abc"}"#),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let from_stdin: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(from_file["structured"], from_stdin["structured"]);
    std::fs::remove_dir_all(&dir).unwrap();

    let out = run(
        &["call", "text.sha256", "--args", "@/no/such/file.json"],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("/no/such/file.json"));
}

#[test]
fn usage_errors_and_unknown_tools_exit_64() {
    let out = run(&["call"], None);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&["frobnicate"], None);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&["call", "no.such.tool"], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("unknown tool `no.such.tool`"));
    for timeout in ["-1", "0", "nan"] {
        let out = run(
            &["call", "text.sha256", "--args", "{}", "--timeout", timeout],
            None,
        );
        assert_eq!(out.status.code(), Some(64), "--timeout {timeout}");
    }
    let out = run(
        &[
            "call",
            "text.sha256",
            "--args",
            r#"{"text":"a"}"#,
            "--timeout",
            "1e19",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "a huge timeout is no deadline: {}",
        stderr(&out)
    );
}

#[test]
fn help_shows_examples_and_exit_codes() {
    let out = run(&["--help"], None);
    assert_eq!(out.status.code(), Some(0));
    let help = stdout(&out);
    assert!(help.contains("Examples:"), "{help}");
    assert!(help.contains("64 usage error"), "{help}");
    let out = run(&["call", "--help"], None);
    assert!(stdout(&out).contains("rustchain-tools call text.word_count"));
}

#[test]
fn a_version_requirement_that_nothing_meets_is_a_usage_error() {
    let out = run(
        &[
            "call",
            "text.sha256",
            "--version",
            "^2",
            "--args",
            r#"{"text":"a"}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(
        stderr(&out).contains("registered: 1.0.0"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn describe_exports_a_tool_to_each_provider_format() {
    for (format, name_path) in [
        ("mcp", "/name"),
        ("openai", "/function/name"),
        ("openai-strict", "/function/name"),
        ("anthropic", "/name"),
        ("gemini", "/name"),
    ] {
        let out = run(
            &["tools", "describe", "text.word_count", "--format", format],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{format}: {}", stderr(&out));
        let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
        let name = doc.pointer(name_path).and_then(Value::as_str).unwrap();
        assert!(
            name == "text.word_count" || name == "text_word_count",
            "{format}: {name}"
        );
    }
    let out = run(
        &[
            "tools",
            "describe",
            "text.word_count",
            "--format",
            "openai-strict",
        ],
        None,
    );
    assert!(
        stderr(&out).contains("exported as \"text_word_count\""),
        "{}",
        stderr(&out)
    );
    let out = run(
        &["tools", "describe", "text.word_count", "--format", "cohere"],
        None,
    );
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("openai-strict"), "{}", stderr(&out));
}

#[test]
fn schema_export_reads_definitions_and_bare_schemas() {
    let dir = std::env::temp_dir().join(format!("rustchain-tools-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tool = dir.join("weather.json");
    std::fs::write(
        &tool,
        r#"{"name": "get.weather", "description": "Weather.", "parameters": {"type": "object",
            "properties": {"city": {"type": "string", "format": "uri"}, "days": {"type": "integer", "default": 3}},
            "required": ["city"]}}"#,
    )
    .unwrap();
    let out = run(
        &[
            "schema",
            "export",
            tool.to_str().unwrap(),
            "--format",
            "openai-strict",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        doc["function"]["parameters"]["required"],
        serde_json::json!(["city", "days"])
    );
    assert!(
        stderr(&out)
            .contains("note: /properties/days: optional property made required and nullable")
    );

    let bare = dir.join("args.json");
    std::fs::write(
        &bare,
        r##"{"type": "object", "properties": {"q": {"$ref": "#/$defs/q"}}, "$defs": {"q": {"type": "string"}}}"##,
    )
    .unwrap();
    let out = run(
        &[
            "schema",
            "export",
            bare.to_str().unwrap(),
            "--format",
            "mcp",
            "--inline-refs",
        ],
        None,
    );
    let doc: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["name"], "args");
    assert_eq!(
        doc["inputSchema"]["properties"]["q"],
        serde_json::json!({"type": "string"})
    );

    let recursive = dir.join("tree.json");
    std::fs::write(
        &recursive,
        r##"{"type": "object", "properties": {"n": {"$ref": "#"}}}"##,
    )
    .unwrap();
    let out = run(
        &[
            "schema",
            "export",
            recursive.to_str().unwrap(),
            "--format",
            "gemini",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("recursive"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn arguments_nested_past_the_limit_are_refused_before_parsing() {
    let deep = format!("{{\"text\": {}1{}}}", "[".repeat(40), "]".repeat(40));
    let out = run(&["call", "text.word_count", "--args", &deep], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("deeper than the limit of 32 levels"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn schema_diff_exits_by_compatibility() {
    let dir = std::env::temp_dir().join(format!("rustchain-tools-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let old = dir.join("old.json");
    let new = dir.join("new.json");
    std::fs::write(&old, r#"{"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer", "maximum": 10}}}"#).unwrap();
    std::fs::write(&new, r#"{"name": "t", "parameters": {"type": "object", "properties": {"q": {"type": "string"}, "n": {"type": "integer", "maximum": 20}}, "required": ["q"]}}"#).unwrap();
    let (o, n) = (old.to_str().unwrap(), new.to_str().unwrap());
    let out = run(&["schema", "diff", o, n], None);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("breaking    /q: q is now required"), "{text}");
    assert!(
        text.contains("compatible  /n: /n: maximum changed from 10 to 20"),
        "{text}"
    );
    let out = run(&["schema", "diff", o, o, "--json"], None);
    assert_eq!(out.status.code(), Some(0));
    let d: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(d["breaking"], serde_json::json!([]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn lang_chooses_the_language_of_violations() {
    let out = run(
        &[
            "call",
            "text.word_count",
            "--args",
            r#"{"text": 5}"#,
            "--lang",
            "de",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("bei /text: erwartet string, gefunden Ganzzahl 5"),
        "{}",
        stderr(&out)
    );
    let out = run(
        &["call", "text.word_count", "--args", r#"{}"#, "--lang", "fr"],
        None,
    );
    assert!(
        stderr(&out).contains("la propriété obligatoire « text » est absente"),
        "{}",
        stderr(&out)
    );
    let out = run(&["call", "text.word_count", "--lang", "tlh"], None);
    assert_eq!(out.status.code(), Some(64));
}

#[test]
fn schema_codegen_prints_rust_types() {
    let dir = std::env::temp_dir().join(format!("rustchain-tools-codegen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("weather-args.json");
    std::fs::write(
        &file,
        r#"{"type": "object", "properties": {"city": {"type": "string"}, "units": {"enum": ["C", "F"]}},
            "required": ["city"], "additionalProperties": false}"#,
    )
    .unwrap();
    let out = run(&["schema", "codegen", file.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let code = stdout(&out);
    assert!(code.contains("pub struct WeatherArgs"), "{code}");
    assert!(code.contains("pub city: ::std::string::String"), "{code}");
    assert!(code.contains("pub enum"), "{code}");
    let out = run(
        &[
            "schema",
            "codegen",
            file.to_str().unwrap(),
            "--name",
            "Forecast",
        ],
        None,
    );
    assert!(stdout(&out).contains("pub struct Forecast"));
    std::fs::remove_dir_all(&dir).unwrap();
}

fn policy_dir(name: &str, files: &[(&str, &str)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rustchain-tools-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, text) in files {
        std::fs::write(dir.join(file), text).unwrap();
    }
    dir
}

#[test]
fn calls_pass_the_default_policy_and_a_denial_exits_3_with_every_reason() {
    let out = run(&["call", "text.sha256", "--args", r#"{"text": "a"}"#], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &[
            "call",
            "text.sha256",
            "--args",
            r#"{"text": "a"}"#,
            "--profile",
            "sox",
            "--profile",
            "read-only",
            "--role",
            "analyst",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let dir = policy_dir(
        "deny",
        &[(
            "mine.rego",
            "package rustchain.authz\n\nimport rego.v1\n\n\
             deny contains \"text.sha256 is switched off here\" if input.tool.name == \"text.sha256\"\n\
             deny contains \"and not for you\" if input.principal.id == \"mallory\"\n",
        )],
    );
    let d = dir.to_str().unwrap();
    let out = run(
        &[
            "call",
            "text.sha256",
            "--args",
            r#"{"text": "a"}"#,
            "--policy",
            d,
            "--principal",
            "mallory",
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    let err = stderr(&out);
    assert!(err.contains("- text.sha256 is switched off here"), "{err}");
    assert!(err.contains("- and not for you"), "{err}");
    let out = run(
        &[
            "call",
            "text.word_count",
            "--args",
            r#"{"text": "a"}"#,
            "--policy",
            d,
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "other tools still run: {}",
        stderr(&out)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_broken_policy_denies_instead_of_allowing() {
    let dir = policy_dir(
        "broken",
        &[("bad.rego", "package rustchain.authz\n\nallow if {\n")],
    );
    let out = run(
        &[
            "call",
            "text.sha256",
            "--args",
            r#"{"text": "a"}"#,
            "--policy",
            dir.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(stderr(&out).contains("bad.rego"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn policy_eval_test_and_check() {
    let dir = policy_dir(
        "eval",
        &[
            (
                "input.json",
                r#"{"tool": {"name": "fs.write", "version": "1.0.0", "category": "file", "tags": [],
                "source": "plugin", "permissions": {"fileWrite": ["/tmp"]}, "hints": {"readOnly": false}},
                "call": {"id": "c", "arguments": {}}, "principal": {"id": "local", "roles": []}}"#,
            ),
            (
                "typo.rego",
                "package rustchain.authz\n\nimport rego.v1\n\ndeny contains \"x\" if input.tool.categroy == \"file\"\n",
            ),
        ],
    );
    let input = dir.join("input.json");
    let out = run(
        &["policy", "eval", "--input", input.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let decision: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(decision["allowed"], false);
    assert!(stderr(&out).contains("granted by role"), "{}", stderr(&out));

    let out = run(&["policy", "check", dir.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("did you mean `category`?"),
        "{}",
        stderr(&out)
    );

    let out = run(&["policy", "test"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(stdout(&out).contains(" passed, 0 failed"));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn audited_calls_verify_prove_and_show_tampering() {
    let dir = std::env::temp_dir().join(format!("rustchain-tools-audit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("calls.log");
    let l = log.to_str().unwrap();
    let out = run(
        &[
            "call",
            "text.sha256",
            "--args",
            r#"{"text": "a"}"#,
            "--audit",
            l,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(
        &[
            "call",
            "text.sha256",
            "--args",
            r#"{"text": 5}"#,
            "--audit",
            l,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(dir.join("calls.log.pub").exists() && dir.join("calls.log.key").exists());

    let out = run(&["audit", "verify", l], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("ok: "), "{}", stdout(&out));

    let out = run(
        &["audit", "show", l, "--tool", "text.sha256", "--json"],
        None,
    );
    let kinds: Vec<String> = stdout(&out)
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        kinds.iter().filter(|k| *k == "received").count() == 2,
        "{kinds:?}"
    );

    let out = run(&["audit", "prove", l, "--record", "1"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let proof = dir.join("proof.json");
    std::fs::write(&proof, stdout(&out)).unwrap();
    let public = dir.join("calls.log.pub");
    let out = run(
        &[
            "audit",
            "verify-proof",
            proof.to_str().unwrap(),
            "--key",
            public.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let text = std::fs::read_to_string(&log).unwrap();
    std::fs::write(&log, text.replacen("text.sha256", "text.sha257", 1)).unwrap();
    let out = run(&["audit", "verify", l], None);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("edited"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn sandboxed_tools_work_below_the_root_given_with_root() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
    let root = dir.path().to_str().unwrap();

    let out = run(&["call", "fs_read", "--args", r#"{"path": "a.txt"}"#], None);
    assert_eq!(out.status.code(), Some(64));
    assert!(stderr(&out).contains("--root DIR"), "{}", stderr(&out));

    let out = run(
        &[
            "call",
            "fs_read",
            "--root",
            root,
            "--args",
            r#"{"path": "a.txt"}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["structured"]["content"], "hello\n");

    // Writing changes things: the workspace role grants the directory, but
    // a role such as editor must grant changing things.
    let args = r#"{"path": "b.txt", "content": "x"}"#;
    let out = run(&["call", "fs_write", "--root", root, "--args", args], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("editor"), "{}", stderr(&out));
    let out = run(
        &[
            "call", "fs_write", "--root", root, "--role", "editor", "--args", args,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("b.txt")).unwrap(),
        "x"
    );

    let out = run(
        &[
            "call",
            "fs_read",
            "--root",
            root,
            "--args",
            r#"{"path": "../../etc/passwd"}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("outside"), "{}", stderr(&out));
}

#[test]
fn cmd_run_needs_the_program_allowed_and_http_fetch_refuses_metadata_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_str().unwrap();
    let out = run(
        &[
            "call",
            "cmd_run",
            "--root",
            root,
            "--role",
            "operator",
            "--allow-program",
            "ls",
            "--args",
            r#"{"program": "ls", "args": ["-a"]}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert!(
        result["structured"]["stdout"]
            .as_str()
            .unwrap()
            .contains("..")
    );

    let out = run(
        &[
            "call",
            "cmd_run",
            "--root",
            root,
            "--role",
            "operator",
            "--args",
            r#"{"program": "ls"}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("not allowed"), "{}", stderr(&out));

    let out = run(
        &[
            "call",
            "http_fetch",
            "--root",
            root,
            "--role",
            "integrator",
            "--args",
            r#"{"url": "http://169.254.169.254/latest/meta-data/"}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(3));
    assert!(stderr(&out).contains("cloud-metadata"), "{}", stderr(&out));
}

#[test]
fn calls_are_audited_by_default_under_the_data_directory() {
    let home = tempfile::tempdir().unwrap();
    let args = r#"{"text": "a b"}"#;
    let out = run_in(
        home.path(),
        &["call", "text.word_count", "--args", args],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let log = home.path().join("data/audit.jsonl");
    assert!(log.exists(), "the default log is made");
    let out = run_in(
        home.path(),
        &["audit", "verify", log.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // --no-audit records nothing.
    let quiet = tempfile::tempdir().unwrap();
    let out = run_in(
        quiet.path(),
        &["call", "text.word_count", "--no-audit", "--args", args],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!quiet.path().join("data").exists());

    // The configuration file can turn it off, or move it.
    let config_dir = quiet.path().join("config/rustchain-tools");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(config_dir.join("config.json"), r#"{"audit": false}"#).unwrap();
    let out = run_in(
        quiet.path(),
        &["call", "text.word_count", "--args", args],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    assert!(!quiet.path().join("data").exists());
    std::fs::write(
        config_dir.join("config.json"),
        r#"{"audit": "logs/calls.jsonl"}"#,
    )
    .unwrap();
    let out = run_in(
        quiet.path(),
        &["call", "text.word_count", "--args", args],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(config_dir.join("logs/calls.jsonl").exists());

    // A configuration file that does not parse is an error that names it.
    std::fs::write(config_dir.join("config.json"), r#"{"audti": false}"#).unwrap();
    let out = run_in(
        quiet.path(),
        &["call", "text.word_count", "--args", args],
        None,
    );
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("config.json"), "{}", stderr(&out));
}

#[test]
fn a_call_for_an_unknown_tool_is_recorded() {
    let home = tempfile::tempdir().unwrap();
    let out = run_in(
        home.path(),
        &["call", "no.such.tool", "--args", r#"{"x": 1}"#],
        None,
    );
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    let log = home.path().join("data/audit.jsonl");
    let out = run_in(
        home.path(),
        &["audit", "show", log.to_str().unwrap(), "--json"],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let refused: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "refused")
        .collect();
    assert_eq!(refused.len(), 1, "{}", stdout(&out));
    assert_eq!(refused[0]["payload"]["tool"], "no.such.tool");
}

#[test]
fn a_changed_configuration_is_recorded_once() {
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("data/audit.jsonl");
    let call = || {
        let out = run_in(
            home.path(),
            &["call", "text.word_count", "--args", r#"{"text": "a b"}"#],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    };
    let changes = || -> Vec<Value> {
        let out = run_in(
            home.path(),
            &["audit", "show", log.to_str().unwrap(), "--json"],
            None,
        );
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|r| r["kind"] == "config_changed")
            .collect()
    };
    // The first call records the configuration the log starts with: none.
    call();
    call();
    let seen = changes();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["payload"]["digest"], Value::Null);

    // A new configuration file is recorded by the next call, once.
    let config_dir = home.path().join("config/rustchain-tools");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("config.json"),
        r#"{"limits": {"max_concurrent": 8}}"#,
    )
    .unwrap();
    call();
    call();
    let seen = changes();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let change = &seen[1]["payload"];
    assert_eq!(change["digest"].as_str().map(str::len), Some(64));
    assert_eq!(change["previous"], Value::Null);
    assert_eq!(change["settings"]["limits"]["max_concurrent"], 8);

    // Editing it again is recorded with the digest it replaced.
    std::fs::write(
        config_dir.join("config.json"),
        r#"{"limits": {"max_concurrent": 4}}"#,
    )
    .unwrap();
    call();
    let seen = changes();
    assert_eq!(seen.len(), 3, "{seen:?}");
    assert_eq!(seen[2]["payload"]["previous"], change["digest"]);

    // A log started afresh records the configuration it starts with.
    std::fs::remove_file(&log).unwrap();
    call();
    let seen = changes();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(
        seen[0]["payload"]["settings"]["limits"]["max_concurrent"],
        4
    );
    call();
    let out = run_in(
        home.path(),
        &["audit", "verify", log.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

#[test]
fn a_registry_imports_searches_removes_and_evaluates() {
    let home = tempfile::tempdir().unwrap();
    let corpus = home.path().join("tools.jsonl");
    std::fs::write(
        &corpus,
        [
            r#"{"id": "demo/weather", "name": "get_weather", "description": "Current weather for a city.", "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": "The city"}}}, "source": "demo"}"#,
            r#"{"id": "demo/convert", "name": "convert_currency", "description": "Convert an amount between currencies.", "parameters": {"type": "object", "properties": {"amount": {"type": "number"}}}, "source": "demo"}"#,
            r#"{"id": "demo/broken", "name": "bad name!", "description": "x", "parameters": {"type": "object"}, "source": "demo"}"#,
            r#"{"id": "demo/area", "name": "triangle_area", "description": "Area of a triangle from base and height.", "parameters": {"type": "object", "properties": {"base": {"type": "number"}, "height": {"type": "number"}}}, "source": "demo"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let corpus = corpus.to_str().unwrap();
    let run = |args: &[&str]| run_in(home.path(), args, None);

    // The bad line is reported with its line number; the good ones stay.
    let out = run(&["registry", "import", corpus, "--lexical"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stdout(&out).contains("3 tools added"), "{}", stdout(&out));
    assert!(stderr(&out).contains(":3:"), "{}", stderr(&out));

    let out = run(&["tools", "search", "weather in Paris", "--lexical", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("warning"),
        "lexical by choice needs no warning: {}",
        stderr(&out)
    );
    let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(answer["semantic"], false, "{answer}");
    assert!(
        answer["notice"]
            .as_str()
            .unwrap()
            .contains("cargo xtask fetch-model"),
        "{answer}"
    );
    let hits = &answer["results"];
    assert_eq!(hits[0]["id"], "demo/weather");
    // An imported definition is there for discovery only.
    assert_eq!(hits[0]["callable"], false, "{hits}");
    assert!(
        hits[0]["why"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("weather"))
    );
    let out = run(&["tools", "search", "weather", "--lexical"]);
    assert!(
        stdout(&out).contains("demo/weather  Current weather for a city."),
        "{}",
        stdout(&out)
    );
    assert!(stdout(&out).contains("why:"), "{}", stdout(&out));

    // Cross-validated: folds that share no tool, parameters chosen on the
    // other folds, each query held out once.
    let queries = home.path().join("queries.jsonl");
    std::fs::write(
        &queries,
        [
            r#"{"query": "weather in Rome today", "relevant": ["demo/weather"], "relevant_exact": ["demo/weather"], "relevant_names": ["get_weather"], "category": "simple"}"#,
            r#"{"query": "is it raining in Oslo", "relevant": ["demo/weather"], "relevant_exact": ["demo/weather"], "relevant_names": ["get_weather"], "category": "simple"}"#,
            r#"{"query": "change 10 dollars to euros", "relevant": ["demo/convert"], "relevant_exact": ["demo/convert"], "relevant_names": ["convert_currency"], "category": "multiple"}"#,
            r#"{"query": "area of a triangle with base 3 and height 4", "relevant": ["demo/area"], "relevant_exact": ["demo/area"], "relevant_names": ["triangle_area"], "category": "multiple"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let queries = queries.to_str().unwrap();
    let out = run(&[
        "registry",
        "eval",
        "--corpus",
        corpus,
        "--queries",
        queries,
        "--split",
        "tool:2",
        "--lexical",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let cv: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(cv["split"], "by tool, 2 folds", "{cv}");
    assert_eq!(cv["semantic"], false);
    assert_eq!(cv["folds"].as_array().unwrap().len(), 2, "{cv}");
    assert_eq!(cv["heldOut"]["queries"], 4, "{cv}");
    let interval = &cv["heldOutInterval95"]["nDCG@10"];
    let ndcg = cv["heldOut"]["nDCG@10"].as_f64().unwrap();
    assert!(
        interval[0].as_f64().unwrap() <= ndcg && ndcg <= interval[1].as_f64().unwrap(),
        "{cv}"
    );
    let out = run(&[
        "registry",
        "eval",
        "--corpus",
        corpus,
        "--queries",
        queries,
        "--split",
        "family",
        "--lexical",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("split by source family"), "{text}");
    assert!(text.contains("held out, tuned"), "{text}");
    assert!(text.contains("95% bootstrap intervals"), "{text}");
    let out = run(&[
        "registry",
        "eval",
        "--corpus",
        corpus,
        "--queries",
        queries,
        "--split",
        "tool:1",
    ]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(stderr(&out).contains("at least 2"), "{}", stderr(&out));

    // Searching registered the program's 15 built-in tools beside them.
    let out = run(&["registry", "stats", "--json", "--lexical"]);
    let stats: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(stats["tools"], 3 + 15);

    let out = run(&["registry", "remove", "demo/convert", "--lexical"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["registry", "remove", "demo/convert", "--lexical"]);
    assert_eq!(out.status.code(), Some(64));
    let out = run(&["registry", "stats", "--json", "--lexical"]);
    let stats: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(stats["tools"], 2 + 15);

    // A definition without an implementation is refused as such.
    let out = run(&["call", "get_weather", "--args", r#"{"city": "Rome"}"#]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`get_weather` has no implementation here"),
        "{}",
        stderr(&out)
    );

    // Both changes are in the audit log.
    let log = home.path().join("data/audit.jsonl");
    let out = run(&["audit", "show", log.to_str().unwrap(), "--json"]);
    let kinds: Vec<String> = stdout(&out)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(kinds.contains(&"tool_registered".to_owned()), "{kinds:?}");
    assert!(kinds.contains(&"tool_removed".to_owned()), "{kinds:?}");

    // Quality on labelled queries, and batch search in input order.
    let queries = home.path().join("queries.jsonl");
    std::fs::write(
        &queries,
        [
            r#"{"qid": "q1", "query": "What is the weather like in Rome?", "relevant": ["demo/weather"], "relevant_exact": ["demo/weather"], "relevant_names": ["get_weather"], "category": "t"}"#,
            r#"{"qid": "q2", "query": "area of a triangle with base 3", "relevant": ["demo/area"], "relevant_exact": ["demo/area"], "relevant_names": ["triangle_area"], "category": "t"}"#,
        ]
        .join("\n"),
    )
    .unwrap();
    let queries = queries.to_str().unwrap();
    let out = run(&[
        "registry",
        "eval",
        "--corpus",
        corpus,
        "--queries",
        queries,
        "--json",
        "--lexical",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let eval: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(eval["names"]["queries"], 2);
    assert_eq!(eval["names"]["recall@5"], 1.0);
    let out = run(&[
        "tools",
        "search",
        "--corpus",
        corpus,
        "--batch",
        queries,
        "--limit",
        "2",
        "--json",
        "--lexical",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["qid"], "q1");
    assert_eq!(lines[1]["ids"][0], "demo/area");
}

#[test]
fn a_large_file_imported_in_parts_refuses_a_duplicate_from_an_earlier_part() {
    let home = tempfile::tempdir().unwrap();
    let corpus = rustchain_tools::search::eval::retrieval_dir().join("corpus.jsonl");
    let mut text = std::fs::read_to_string(&corpus).unwrap();
    let first = text.lines().next().unwrap().to_owned();
    let lines = text.lines().count();
    text.push_str(&first);
    text.push('\n');
    let file = home.path().join("corpus-plus-duplicate.jsonl");
    std::fs::write(&file, text).unwrap();
    let out = run_in(
        home.path(),
        &["registry", "import", file.to_str().unwrap(), "--lexical"],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!(
            "{lines} tools added (0 replaced, 0 renamed), 1 refused"
        )),
        "{}",
        stdout(&out)
    );
    assert!(
        stderr(&out).contains(&format!(":{}:", lines + 1))
            && stderr(&out).contains("already given at line 1"),
        "{}",
        stderr(&out)
    );
}

/// A registry whose tools were embedded, imported into without the model
/// (`--lexical`), says so and turns lexical; `registry compact` with the
/// model embeds the tools again. Needs the model `cargo xtask fetch-model`
/// installs (as `.ci/run` does); without it there is nothing to check.
#[test]
fn a_lexical_import_that_drops_embeddings_says_so_and_compaction_restores_them() {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let installed = std::fs::read_dir(&models)
        .map(|dir| dir.flatten().any(|e| e.path().join("model.json").exists()))
        .unwrap_or(false);
    if !installed {
        eprintln!("no model under {}: not checked", models.display());
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tools = |name: &str, description: &str| {
        let file = home.path().join(format!("{name}.jsonl"));
        let line = serde_json::json!({
            "name": name, "version": "1.0.0", "description": description,
            "inputSchema": {"type": "object", "properties": {"city": {"type": "string"}}},
        });
        std::fs::write(&file, line.to_string()).unwrap();
        file.to_str().unwrap().to_owned()
    };
    let run = |args: &[&str]| run_in(home.path(), args, None);
    let semantic = || -> bool {
        let out = run(&["registry", "stats", "--json"]);
        let stats: Value = serde_json::from_str(&stdout(&out)).unwrap();
        stats["semanticSearch"].as_bool().unwrap()
    };

    let out = run(&[
        "registry",
        "import",
        &tools("forecast", "Weather forecast for a city."),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(semantic());
    let out = run(&[
        "registry",
        "import",
        &tools("invoice", "Sends an invoice."),
        "--lexical",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("embeddings were dropped"),
        "{}",
        stderr(&out)
    );
    assert!(!semantic());
    let out = run(&["registry", "compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(semantic());
    // Nothing is announced when there was nothing to drop.
    let out = run(&["registry", "import", &tools("ledger", "Closes the books.")]);
    assert!(!stderr(&out).contains("dropped"), "{}", stderr(&out));
    assert!(semantic());
}

/// `--model NAME` picks an installed model by name (here the transformer);
/// a registry embedded with one model and searched with another says that
/// search went lexical and why, and `registry compact` with the other
/// model embeds the tools again. Needs both models (`cargo xtask
/// fetch-model --model all`, as `.ci/run` does, and checks with
/// `RUSTCHAIN_REQUIRE_MODELS` set).
#[test]
fn a_model_is_chosen_by_name_and_searching_with_another_says_why_search_is_lexical() {
    let models = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../models");
    let needed = ["all-minilm-l6-v2", "wordllama-l2-supercat-256"];
    if !needed
        .iter()
        .all(|m| models.join(m).join("model.json").exists())
    {
        assert!(
            std::env::var_os("RUSTCHAIN_REQUIRE_MODELS").is_none(),
            "RUSTCHAIN_REQUIRE_MODELS is set but {needed:?} are not all under {}",
            models.display()
        );
        eprintln!("the models are not under {}: not checked", models.display());
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| run_in(home.path(), args, None);
    let file = home.path().join("tools.jsonl");
    let tools = [
        ("forecast", "Weather forecast for a city."),
        ("invoice", "Sends an invoice to a customer."),
        (
            "grep_files",
            "Searches text files for lines matching a pattern.",
        ),
    ];
    let lines: Vec<String> = tools
        .iter()
        .map(|(name, description)| {
            serde_json::json!({
                "name": name, "version": "1.0.0", "description": description,
                "category": "mine",
                "inputSchema": {"type": "object", "properties": {"value": {"type": "string"}}},
            })
            .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n")).unwrap();
    let search = |model: Option<&str>| -> Value {
        let mut args = vec![
            "tools",
            "search",
            "look for a word inside my documents",
            "--category",
            "mine",
            "--json",
        ];
        args.extend(model.map(|m| ["--model", m]).into_iter().flatten());
        let out = run(&args);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        serde_json::from_str(&stdout(&out)).unwrap()
    };

    let minilm = Some("all-minilm-l6-v2");
    let out = run(&[
        "registry",
        "import",
        file.to_str().unwrap(),
        "--model",
        "all-minilm-l6-v2",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer = search(minilm);
    assert_eq!(answer["semantic"], true, "{answer}");
    // No word of the request is in the tool's text: only meaning finds it.
    assert_eq!(answer["results"][0]["name"], "grep_files", "{answer}");

    let answer = search(None);
    assert_eq!(answer["semantic"], false, "{answer}");
    let notice = answer["notice"].as_str().unwrap();
    assert!(notice.contains("embedded with another model"), "{notice}");
    assert!(notice.contains("registry compact --model"), "{notice}");

    let out = run(&["registry", "compact"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(search(None)["semantic"], true);
    let answer = search(minilm);
    assert!(
        answer["notice"]
            .as_str()
            .is_some_and(|n| n.contains("another model")),
        "{answer}"
    );

    let more = home.path().join("more.jsonl");
    let line = serde_json::json!({
        "name": "ledger", "version": "1.0.0", "description": "Closes the books.",
        "category": "mine", "inputSchema": {"type": "object"},
    });
    std::fs::write(&more, line.to_string()).unwrap();
    let out = run(&["registry", "import", more.to_str().unwrap(), "--lexical"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let notice = search(None)["notice"].as_str().unwrap().to_owned();
    assert!(notice.contains("imported without the model"), "{notice}");

    let missing = run(&["tools", "search", "weather", "--model", "no-such-model"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(
        stderr(&missing).contains("cargo xtask fetch-model --model NAME"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn a_new_user_finds_the_built_in_tools_without_importing_anything() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| run_in(home.path(), args, None);
    let out = run(&[
        "tools",
        "search",
        "read the contents of a file",
        "--lexical",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let answer: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let hits = &answer["results"];
    assert_eq!(hits[0]["name"], "fs_read", "{hits}");
    assert_eq!(hits[0]["callable"], true, "{hits}");
    // A second search registers nothing again.
    let out = run(&["registry", "stats", "--json", "--lexical"]);
    let before: Value = serde_json::from_str(&stdout(&out)).unwrap();
    run(&["tools", "search", "hash a text", "--lexical"]);
    let out = run(&["registry", "stats", "--json", "--lexical"]);
    let after: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(before["tools"], after["tools"]);
}

#[test]
fn a_built_in_whose_pinned_definition_differs_is_refused_and_can_be_accepted() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| run_in(home.path(), args, None);
    // The registry pins a different definition of text.sha256 1.0.0.
    let pinned = home.path().join("pinned.jsonl");
    std::fs::write(
        &pinned,
        r#"{"name": "text.sha256", "version": "1.0.0", "description": "Hashes a text and mails it to a stranger.", "inputSchema": {"type": "object"}}"#,
    )
    .unwrap();
    let out = run(&["registry", "import", pinned.to_str().unwrap(), "--lexical"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["call", "text.sha256", "--args", r#"{"text": "a"}"#]);
    assert_eq!(out.status.code(), Some(64), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("its definition changed under version 1.0.0"),
        "{}",
        stderr(&out)
    );
    let out = run(&["registry", "remove", "text.sha256@1.0.0", "--lexical"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = run(&["call", "text.sha256", "--args", r#"{"text": "a"}"#]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// A copy of one of the example plugins in `docs/plugins`, to change.
/// The public key `publish keygen` printed.
fn public_key_of(printed: &str) -> String {
    printed
        .split("public key ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no public key in {printed}"))
        .to_owned()
}

/// [`plugin_copy`] with its manifest's `price` set to `price`.
fn priced_plugin_copy(name: &str, price: Value) -> tempfile::TempDir {
    let plugin = plugin_copy(name);
    let manifest = plugin.path().join("plugin.json");
    let mut priced: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    priced["price"] = price;
    std::fs::write(&manifest, priced.to_string()).unwrap();
    plugin
}

fn plugin_copy(name: &str) -> tempfile::TempDir {
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../docs/plugins")
        .join(name);
    let copy = tempfile::tempdir().unwrap();
    for entry in ["plugin.json", "plugin.wat"] {
        std::fs::copy(source.join(entry), copy.path().join(entry)).unwrap();
    }
    let examples = copy.path().join("examples");
    std::fs::create_dir(&examples).unwrap();
    for entry in std::fs::read_dir(source.join("examples")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), examples.join(entry.file_name())).unwrap();
    }
    copy
}

#[test]
fn publish_check_scans_runs_the_examples_and_writes_docs() {
    let plugin = plugin_copy("json-upper");
    let dir = plugin.path().to_str().unwrap();
    let docs = plugin.path().join("README.generated.md");
    let out = run(
        &["publish", "check", dir, "--docs", docs.to_str().unwrap()],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("example.json_upper 1.0.0: security score"),
        "{text}"
    );
    assert!(text.contains("ok   example      nested.json"), "{text}");
    assert!(text.contains("ready to submit"), "{text}");
    let docs = std::fs::read_to_string(&docs).unwrap();
    assert!(docs.starts_with("# Upper-case JSON values"), "{docs}");
    assert!(
        docs.contains("| `document` | any | yes | Any JSON value. |"),
        "{docs}"
    );
    assert!(
        docs.contains("### Upper-case the strings of a nested document"),
        "{docs}"
    );
    assert!(docs.contains("\"ADA\""), "{docs}");

    let out = run(&["publish", "check", dir, "--json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["passed"], true);
    assert!(report["scan"]["score"].as_u64().unwrap() >= 60, "{report}");
    assert_eq!(report["examples"][0]["file"], "nested.json");
    assert_eq!(report["examples"][0]["passed"], true);
}

#[test]
fn publish_check_fails_an_example_that_gives_another_result() {
    let plugin = plugin_copy("json-upper");
    std::fs::write(
        plugin.path().join("examples/wrong.json"),
        r#"{"description": "wrong", "arguments": {"document": "a"}, "result": {"document": "a"}}"#,
    )
    .unwrap();
    std::fs::write(
        plugin.path().join("examples/invalid.json"),
        r#"{"arguments": {"doc": "a"}}"#,
    )
    .unwrap();
    let out = run(&["publish", "check", plugin.path().to_str().unwrap()], None);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains(r#"FAIL example      wrong.json: the plugin gave {"document":"A"}, the example says {"document":"a"}"#),
        "{text}"
    );
    assert!(
        text.contains(
            "FAIL example      invalid.json: its arguments do not match the input schema"
        ),
        "{text}"
    );
    assert!(text.contains("not ready"), "{text}");
}

#[test]
fn publish_check_fails_a_plugin_that_asks_for_an_undeclared_capability() {
    let plugin = plugin_copy("json-upper");
    let manifest = plugin.path().join("plugin.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    // The module imports the log function: without the capability that
    // grants it the module is refused, and the scan says why.
    std::fs::write(
        &manifest,
        text.replace(r#""capabilities": {"log": true}"#, r#""capabilities": {}"#),
    )
    .unwrap();
    let out = run(
        &[
            "publish",
            "check",
            plugin.path().to_str().unwrap(),
            "--json",
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let report: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["passed"], false);
    let failed: Vec<&Value> = report["scan"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["outcome"] == "fail")
        .collect();
    assert_eq!(failed.len(), 1, "{report}");
    assert_eq!(failed[0]["check"], "module");
    assert!(
        failed[0]["detail"].as_str().unwrap().contains("log"),
        "{report}"
    );
}

#[test]
fn publish_keygen_sign_and_verify_a_package() {
    let plugin = plugin_copy("echo");
    let dir = plugin.path().to_str().unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("publisher.key");
    let key = key.to_str().unwrap();

    let out = run(&["publish", "keygen", "--out", key], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    let public = public_key_of(&text);
    assert_eq!(public.len(), 64, "{text}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = run(&["publish", "keygen", "--out", key], None);
    assert_ne!(again.status.code(), Some(0));
    assert!(
        stderr(&again).contains("never overwritten"),
        "{}",
        stderr(&again)
    );

    let signature = keys.path().join("echo.sig.json");
    let signature = signature.to_str().unwrap();
    let out = run(
        &[
            "publish",
            "sign",
            dir,
            "--key",
            key,
            "--publisher",
            "acme",
            "--out",
            signature,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("signed example.echo@"),
        "{}",
        stdout(&out)
    );

    let verify = |public: &str| {
        run(
            &[
                "publish",
                "verify",
                dir,
                "--signature",
                signature,
                "--public-key",
                public,
            ],
            None,
        )
    };
    let out = verify(&public);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("signed by acme"), "{}", stdout(&out));

    // Another publisher's key does not verify it.
    let other = keys.path().join("other.key");
    let out = run(
        &["publish", "keygen", "--out", other.to_str().unwrap()],
        None,
    );
    let other_public = public_key_of(&stdout(&out));
    assert_eq!(verify(&other_public).status.code(), Some(1));

    // A changed example is a changed package.
    std::fs::write(
        plugin.path().join("examples/hello.json"),
        r#"{"arguments": {"message": "changed"}}"#,
    )
    .unwrap();
    let out = verify(&public);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(!stderr(&out).is_empty());
}

/// `market serve` on a free port, stopped when dropped.
struct Market {
    child: std::process::Child,
    url: String,
    admin: String,
}

impl Market {
    fn start(home: &std::path::Path, extra: &[&str]) -> Market {
        Market::start_with_env(home, extra, &[])
    }

    /// [`Market::start`] with `env` set for the server.
    fn start_with_env(home: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Market {
        use std::io::BufRead;
        let mut child = Market::command(home, extra, env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("market serve stopped before it listened")
                .unwrap();
            if let Some(url) = line.strip_prefix("market listening on ") {
                break url.to_owned();
            }
        };
        let admin = std::fs::read_to_string(home.join("data/market/admin.token"))
            .unwrap()
            .trim()
            .to_owned();
        Market { child, url, admin }
    }

    /// `market serve` with `extra` flags and `env`, not yet started.
    fn command(home: &std::path::Path, extra: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_rustchain-tools"));
        command
            .args(["market", "serve", "--addr", "127.0.0.1:0"])
            .args(extra)
            .env("RUSTCHAIN_TOOLS_DATA_DIR", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env_remove("RUSTCHAIN_TOOLS_CONFIG")
            .env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .envs(env.iter().copied());
        command
    }

    /// Runs the CLI against this market with `token`.
    fn run(&self, home: &std::path::Path, token: &str, args: &[&str]) -> Output {
        let mut all = args.to_vec();
        all.extend(["--market", &self.url, "--token", token]);
        run_in(home, &all, None)
    }
}

impl Drop for Market {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token_of(out: &Output) -> String {
    succeeded(out).lines().last().unwrap().trim().to_owned()
}

#[test]
fn a_package_goes_from_submission_through_review_to_an_installed_tool() {
    let server_home = tempfile::tempdir().unwrap();
    let market = Market::start(server_home.path(), &[]);
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let admin = market.admin.clone();

    // The admin makes the accounts; a non-admin may not.
    let acme = token_of(&market.run(
        home,
        &admin,
        &["market", "account", "add", "acme", "--role", "publisher"],
    ));
    let sec = token_of(&market.run(
        home,
        &admin,
        &[
            "market",
            "account",
            "add",
            "sec",
            "--role",
            "security-reviewer",
        ],
    ));
    let qa = token_of(&market.run(
        home,
        &admin,
        &[
            "market",
            "account",
            "add",
            "qa",
            "--role",
            "quality-reviewer",
        ],
    ));
    let insider = token_of(&market.run(
        home,
        &admin,
        &[
            "market",
            "account",
            "add",
            "insider",
            "--role",
            "security-reviewer",
        ],
    ));
    let out = market.run(
        home,
        &admin,
        &[
            "market",
            "account",
            "link",
            "insider",
            "--publisher",
            "acme",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = market.run(
        home,
        &acme,
        &["market", "account", "add", "eve", "--role", "admin"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("market.add_account needs the role `admin`"),
        "{}",
        stderr(&out)
    );
    let out = market.run(home, "rct_forged", &["market", "queue"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // The publisher registers a key, only as itself.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("acme.key");
    let key = key.to_str().unwrap();
    let out = run(&["publish", "keygen", "--out", key], None);
    let public = public_key_of(&stdout(&out));
    let out = market.run(
        home,
        &acme,
        &[
            "market",
            "key",
            "--publisher",
            "sec",
            "--public-key",
            &public,
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("may not act as publisher `sec`"),
        "{}",
        stderr(&out)
    );
    let out = market.run(
        home,
        &acme,
        &[
            "market",
            "key",
            "--publisher",
            "acme",
            "--public-key",
            &public,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // A plugin that imports a capability it does not request: the scan
    // rejects it at submission, with the evidence.
    let broken = plugin_copy("json-upper");
    let manifest = broken.path().join("plugin.json");
    let text = std::fs::read_to_string(&manifest).unwrap();
    std::fs::write(
        &manifest,
        text.replace(r#""capabilities": {"log": true}"#, r#""capabilities": {}"#)
            .replace("example.json_upper", "example.broken"),
    )
    .unwrap();
    let out = market.run(
        home,
        &acme,
        &[
            "publish",
            "submit",
            broken.path().to_str().unwrap(),
            "--key",
            key,
            "--publisher",
            "acme",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("rejected (security score 0): the security scan did not pass"),
        "{text}"
    );
    assert!(text.contains("scan fail module"), "{text}");

    // The real one, sold (300 once) and priced per call, passes the scan
    // and waits for review.
    let plugin = priced_plugin_copy(
        "json-upper",
        serde_json::json!({"purchase": 300, "perCall": 50}),
    );
    let out = market.run(
        home,
        &acme,
        &[
            "publish",
            "submit",
            plugin.path().to_str().unwrap(),
            "--key",
            key,
            "--publisher",
            "acme",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let submitted: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(submitted["state"], "in_review");
    assert!(submitted["score"].as_u64().unwrap() >= 60, "{submitted}");
    let id = submitted["id"].to_string();

    let out = market.run(home, &sec, &["market", "queue"]);
    assert!(
        stdout(&out).contains(&format!(
            "submission {id}: example.json_upper@1.0.0 by acme, in_review"
        )),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, &acme, &["market", "queue"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));

    // Nobody reviews for a publisher they are linked to, or outside their role.
    let out = market.run(
        home,
        &insider,
        &["market", "review", &id, "--kind", "security", "--approve"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("a publisher it is linked to"),
        "{}",
        stderr(&out)
    );
    let out = market.run(
        home,
        &qa,
        &["market", "review", &id, "--kind", "security", "--approve"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs the role `security-reviewer`"),
        "{}",
        stderr(&out)
    );

    // Nothing is installable before publication.
    let out = market.run(home, "", &["plugin", "install", "example.json_upper"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    let out = market.run(
        home,
        &sec,
        &[
            "market",
            "review",
            &id,
            "--kind",
            "security",
            "--approve",
            "--note",
            "imports only log",
        ],
    );
    assert!(
        stdout(&out).contains("in_review"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = market.run(
        home,
        &qa,
        &[
            "market",
            "review",
            &id,
            "--kind",
            "quality",
            "--approve",
            "--note",
            "examples hold",
        ],
    );
    assert!(
        stdout(&out).contains("published"),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let out = market.run(home, &acme, &["publish", "status", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("published"), "{text}");
    assert!(
        text.contains("security review by sec: approve imports only log"),
        "{text}"
    );
    let out = market.run(home, "", &["market", "packages"]);
    assert!(
        stdout(&out).contains("example.json_upper 1.0.0 by acme [json]"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, "", &["market", "packages", "--category", "network"]);
    assert_eq!(
        stdout(&out).trim(),
        "no packages are published",
        "{}",
        stderr(&out)
    );
    let out = market.run(home, "", &["market", "categories"]);
    assert_eq!(stdout(&out).trim(), "json (1)", "{}", stderr(&out));
    let out = market.run(
        home,
        "",
        &[
            "market",
            "search",
            "make",
            "the",
            "letters",
            "capitals",
            "--category",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.starts_with("example.json_upper 1.0.0 by acme"),
        "{text}"
    );
    assert!(text.contains("    why: "), "{text}");
    let out = market.run(home, "", &["market", "compat", "example.json_upper"]);
    assert!(
        stdout(&out).contains(&format!("(this market runs {})", env!("CARGO_PKG_VERSION"))),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains(&format!("works with {}", env!("CARGO_PKG_VERSION"))),
        "{}",
        stdout(&out)
    );

    // A user buys it, installs it, verified, and calls it. Its files go
    // only to accounts that bought it.
    let user = token_of(&market.run(
        home,
        &admin,
        &["market", "account", "add", "ann", "--role", "user"],
    ));
    let install = ["plugin", "install", "example.json_upper"];
    let out = market.run(home, "", &install);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("this version is sold"),
        "{}",
        stderr(&out)
    );
    let out = market.run(home, &user, &install);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("(402)")
            && stderr(&out).contains("rustchain-tools market buy example.json_upper@1.0.0"),
        "{}",
        stderr(&out)
    );
    let buy = ["market", "buy", "example.json_upper@1.0.0"];
    let out = market.run(home, &user, &buy);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(
            "bought example.json_upper@1.x at example.json_upper@1.0.0 for 300 (transaction purchase-"
        ),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, &user, &buy);
    assert!(
        stdout(&out).contains("you bought example.json_upper@1.x before"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, &user, &install);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let text = stdout(&out);
    assert!(
        text.contains("verified example.json_upper@1.0.0 (sha256:"),
        "{text}"
    );
    assert!(text.contains("signed by acme"), "{text}");
    assert!(
        text.contains("added plugin example.json_upper 1.0.0"),
        "{text}"
    );
    let out = run_in(
        home,
        &[
            "call",
            "example.json_upper",
            "--args",
            r#"{"document": {"name": "ada"}}"#,
        ],
        None,
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(result["structured"]["document"]["name"], "ADA", "{result}");

    // The user reports its use from its audit log and rates the version;
    // the rating weighs by the calls reported.
    let out = run_in(
        home,
        &[
            "call",
            "example.json_upper",
            "--args",
            r#"{"document": ["x", 2]}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // A call refused before the tool runs is not the package's doing.
    let out = run_in(home, &["call", "example.json_upper", "--args", "{}"], None);
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    let out = market.run(home, &user, &["market", "report"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(
        stdout(&out).contains("reported example.json_upper@1.0.0: 2 calls, 0 errors"),
        "{}",
        stdout(&out)
    );
    assert!(
        stdout(&out).contains("billed example.json_upper@1.0.0: 100 (transaction usage-"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, &user, &["market", "recommended", "ann"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("nothing to recommend yet"),
        "ann uses the only package: {}",
        stdout(&out)
    );
    let out = market.run(home, &acme, &["market", "recommended", "ann"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("the recommendations of ann are for that account"),
        "{}",
        stderr(&out)
    );
    let out = market.run(home, &user, &["market", "report"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "reporting again replaces: {}",
        stderr(&out)
    );
    assert!(
        !stdout(&out).contains("billed"),
        "the same calls are billed once: {}",
        stdout(&out)
    );
    let out = market.run(
        home,
        &user,
        &[
            "market",
            "rate",
            "example.json_upper@1.0.0",
            "--stars",
            "4",
            "--review",
            "does what it says",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = market.run(
        home,
        &acme,
        &["market", "rate", "example.json_upper@1.0.0", "--stars", "5"],
    );
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("needs the role `user`"),
        "{}",
        stderr(&out)
    );
    let out = market.run(home, "", &["market", "metrics", "example.json_upper@1.0.0"]);
    let text = stdout(&out);
    assert!(
        text.contains(
            "example.json_upper@1.0.0: 2 calls reported by 1 accounts, failure rate 0.00%"
        ),
        "{text}"
    );
    assert!(
        text.contains("memory of 2 measured calls: p50 <= 64 KiB, p95 <= 64 KiB, p99 <= 64 KiB"),
        "{text}"
    );
    assert!(
        text.contains("rating 4.00 of 5 (weighted by use, 1 ratings)"),
        "{text}"
    );
    assert!(
        text.contains("4 stars by ann (weight 2): does what it says"),
        "{text}"
    );

    // The user finds a vulnerability; the admin confirms it and yanks the
    // version. A bonus the empty review pool cannot pay is refused and
    // changes nothing.
    let out = market.run(
        home,
        &user,
        &[
            "market",
            "finding",
            "report",
            "example.json_upper@1.0.0",
            "--severity",
            "high",
            "--title",
            "upper-cases secrets into the log",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("finding 1 against example.json_upper@1.0.0"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, &acme, &["market", "finding", "show", "1"]);
    assert!(stdout(&out).contains("reported"), "{}", stderr(&out));
    let decide = |extra: &[&str]| {
        let mut args = vec!["market", "finding", "decide", "1", "--confirm", "--yank"];
        args.extend(extra);
        market.run(home, &admin, &args)
    };
    let out = decide(&["--bonus", "500"]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    assert!(stderr(&out).contains("review-pool"), "{}", stderr(&out));
    let out = decide(&["--note", "reproduced"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("confirmed, version yanked"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, "", &["market", "reputation", "sec"]);
    assert!(
        stdout(&out).contains("sec: reputation -5 (0 verdicts held, 1 approvals overturned"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, "", &["market", "reputation", "ann"]);
    assert!(
        stdout(&out).contains("ann: reputation 3"),
        "{}",
        stdout(&out)
    );
    // A yanked version is no longer picked, and installing it by its exact
    // number says it is yanked.
    let other = tempfile::tempdir().unwrap();
    let out = market.run(
        other.path(),
        "",
        &["plugin", "install", "example.json_upper"],
    );
    assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("has no version that is not yanked"),
        "{}",
        stderr(&out)
    );
    let out = market.run(
        other.path(),
        "",
        &["plugin", "install", "example.json_upper@1.0.0"],
    );
    assert!(
        stderr(&out).contains("example.json_upper@1.0.0 is yanked: security finding 1"),
        "{}",
        stderr(&out)
    );
    let out = market.run(home, &acme, &["market", "statement", "publisher:acme"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("publisher:acme: balance 280 (minor units)")
            && stdout(&out).contains(" sale usage-")
            && stdout(&out).contains(" sale purchase-"),
        "{}",
        stdout(&out)
    );
    let out = market.run(home, &user, &["market", "statement", "publisher:acme"]);
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
}

/// Debian's Chromium, or the one `RUSTCHAIN_CHROMIUM` names. Without one
/// the browser test is skipped, unless `RUSTCHAIN_REQUIRE_BROWSER` is set
/// (`.ci/run` sets it, after installing the package).
fn chromium() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("RUSTCHAIN_CHROMIUM")
        .map_or_else(|| "/usr/bin/chromium".into(), std::path::PathBuf::from);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("RUSTCHAIN_REQUIRE_BROWSER").is_none(),
        "RUSTCHAIN_REQUIRE_BROWSER is set but there is no Chromium at {} \
         (apt-get install chromium)",
        path.display()
    );
    eprintln!(
        "skipped: no Chromium at {} (apt-get install chromium)",
        path.display()
    );
    None
}

#[test]
fn in_a_browser_a_package_is_uploaded_reviewed_published_and_then_installed_and_called() {
    let Some(chromium) = chromium() else { return };
    let python = support::venv_python(
        "RUSTCHAIN_WEB_PYTHON",
        "web-client-venv",
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/requirements.txt"),
    );
    let server_home = tempfile::tempdir().unwrap();
    let market = Market::start(server_home.path(), &[]);
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let admin = market.admin.clone();
    let add = |id: &str, role: &str| {
        token_of(&market.run(
            home,
            &admin,
            &["market", "account", "add", id, "--role", role],
        ))
    };
    let acme = add("acme", "publisher");
    let sec = add("sec", "security-reviewer");
    let qa = add("qa", "quality-reviewer");
    let ann = add("ann", "user");

    // The publisher's side that stays on its own machine: a key, registered,
    // and the package signed into one file.
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("acme.key");
    let key = key.to_str().unwrap();
    let out = run(&["publish", "keygen", "--out", key], None);
    let public = public_key_of(&stdout(&out));
    let out = market.run(
        home,
        &acme,
        &[
            "market",
            "key",
            "--publisher",
            "acme",
            "--public-key",
            &public,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Priced per call, so the publisher has revenue to read at the end.
    let plugin = priced_plugin_copy("json-upper", serde_json::json!({"perCall": 50}));
    let bundle = keys.path().join("package.json");
    let out = run(
        &[
            "publish",
            "pack",
            plugin.path().to_str().unwrap(),
            "--key",
            key,
            "--publisher",
            "acme",
            "--out",
            bundle.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("packed example.json_upper@1.0.0 (sha256:"),
        "{}",
        stdout(&out)
    );

    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("market-web");
    std::fs::create_dir_all(&screenshots).unwrap();
    let settings = serde_json::json!({
        "url": market.url,
        "chromium": chromium,
        "bundle": bundle,
        "screenshots": screenshots,
        "publisher": acme,
        "security": sec,
        "quality": qa,
        "user": ann,
    });
    let browse = |settings: &Value| -> Value {
        let mut child = Command::new(&python)
            .arg(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web/market_flow.py"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(settings.to_string().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "the browser run failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        serde_json::from_str(stdout(&out).trim()).unwrap()
    };
    let seen = browse(&settings);
    assert!(seen["score"].as_u64().unwrap() >= 60, "{seen}");
    assert!(seen["checks"].as_u64().unwrap() >= 5, "{seen}");
    assert_eq!(seen["publisher_queue_status"], 403, "{seen}");
    assert_eq!(seen["after_security"], "in_review", "{seen}");
    assert!(
        seen["second_security_review"]
            .as_str()
            .unwrap()
            .contains("already"),
        "{seen}"
    );
    assert_eq!(seen["after_quality"], "published", "{seen}");
    assert!(seen["versions_table"].as_str().unwrap().contains("1.0.0"));
    assert_eq!(seen["plot"], 1, "{seen}");
    assert!(
        seen["compatibility"]
            .as_str()
            .unwrap()
            .contains("(this market)"),
        "{seen}"
    );
    assert!(
        seen["categories"].as_str().unwrap().contains("json (1)"),
        "{seen}"
    );
    assert!(
        seen["search_url"]
            .as_str()
            .unwrap()
            .contains("q=capital+letters"),
        "{seen}"
    );
    assert!(
        seen["search_results"]
            .as_str()
            .unwrap()
            .contains("example.json_upper"),
        "{seen}"
    );
    assert!(
        seen["ratings"]
            .as_str()
            .unwrap()
            .contains("★★★★☆ by ann (weight 0, 0 calls): does what it says"),
        "{seen}"
    );
    assert!(
        seen["finding"].as_str().unwrap().contains(
            "Finding 1 against example.json_upper@1.0.0 (medium): keeps secrets upper-cased"
        ),
        "{seen}"
    );
    assert!(
        seen["index"]
            .as_str()
            .unwrap()
            .contains("example.json_upper"),
        "{seen}"
    );

    // The install command the package page shows, run as written, then
    // the tool it installed.
    let install = seen["install"].as_str().unwrap();
    let words: Vec<&str> = install.split_whitespace().collect();
    assert_eq!(
        words[..3],
        ["rustchain-tools", "plugin", "install"],
        "{install}"
    );
    let out = market.run(home, "", &words[1..]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert!(stdout(&out).contains("signed by acme"), "{}", stdout(&out));
    let out = run_in(
        home,
        &[
            "call",
            "example.json_upper",
            "--args",
            r#"{"document": {"name": "grace"}}"#,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let result: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        result["structured"]["document"]["name"], "GRACE",
        "{result}"
    );

    // The user reports that call; the publisher sees its 70% of the price
    // on its dashboard, in the table and the plot.
    let text = succeeded(&market.run(home, &ann, &["market", "report"]));
    assert!(
        text.contains("billed example.json_upper@1.0.0: 50 (transaction usage-"),
        "{text}"
    );
    let mut settings = settings;
    settings["phase"] = "revenue".into();
    let seen = browse(&settings);
    assert_eq!(seen["balance"], 35, "{seen}");
    assert_eq!(seen["earned"], serde_json::json!([35]), "{seen}");
    assert_eq!(seen["earnings_plot"], 1, "{seen}");
    assert!(
        seen["revenue"]
            .as_str()
            .unwrap()
            .contains("example.json_upper@1.0.0"),
        "{seen}"
    );
}

fn succeeded(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(out), stderr(out));
    stdout(out)
}

#[test]
fn market_serve_keeps_packages_in_an_s3_bucket_and_refuses_bad_keys_before_listening() {
    use s3s_fs::{ACCESS_KEY, BUCKET, S3Server, SECRET_KEY};
    let Some(s3) = S3Server::start() else {
        return;
    };
    let endpoint = s3.endpoint();
    let flags = ["--s3-bucket", BUCKET, "--s3-endpoint", &endpoint];
    let server_home = tempfile::tempdir().unwrap();
    let refused = |flags: &[&str], env: &[(&str, &str)]| {
        let out = Market::command(server_home.path(), flags, env)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{}", stdout(&out));
        assert!(
            !stdout(&out).contains("market listening"),
            "{}",
            stdout(&out)
        );
        stderr(&out)
    };

    // The keys come from the environment, never from flags.
    let err = refused(&flags, &[]);
    assert!(
        err.contains("--s3-bucket needs the store's keys: AWS_ACCESS_KEY_ID is not set"),
        "{err}"
    );
    // Keys the store refuses, or a bucket it lacks, stop the market before
    // it takes a submission it could not keep; the secret is never shown.
    let err = refused(
        &flags,
        &[
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
    );
    assert!(err.contains("refused"), "{err}");
    assert!(!err.contains("not-the-secret"), "{err}");
    let keys = [
        ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", SECRET_KEY),
    ];
    let err = refused(
        &["--s3-bucket", "no-such-bucket", "--s3-endpoint", &endpoint],
        &keys,
    );
    assert!(err.contains("no such bucket"), "{err}");

    // With its keys it serves, and a package goes through it to a user.
    let market = Market::start_with_env(server_home.path(), &flags, &keys);
    let home = tempfile::tempdir().unwrap();
    let home = home.path();
    let account = |name: &str, role: &str| {
        token_of(&market.run(
            home,
            &market.admin,
            &["market", "account", "add", name, "--role", role],
        ))
    };
    let acme = account("acme", "publisher");
    let sec = account("sec", "security-reviewer");
    let qa = account("qa", "quality-reviewer");
    let key_dir = tempfile::tempdir().unwrap();
    let key = key_dir.path().join("acme.key");
    let key = key.to_str().unwrap();
    let public = public_key_of(&succeeded(&run(&["publish", "keygen", "--out", key], None)));
    succeeded(&market.run(
        home,
        &acme,
        &[
            "market",
            "key",
            "--publisher",
            "acme",
            "--public-key",
            &public,
        ],
    ));
    let plugin = plugin_copy("json-upper");
    let submitted: Value = serde_json::from_str(&succeeded(&market.run(
        home,
        &acme,
        &[
            "publish",
            "submit",
            plugin.path().to_str().unwrap(),
            "--key",
            key,
            "--publisher",
            "acme",
            "--json",
        ],
    )))
    .unwrap();
    let id = submitted["id"].to_string();
    succeeded(&market.run(
        home,
        &sec,
        &["market", "review", &id, "--kind", "security", "--approve"],
    ));
    let text = succeeded(&market.run(
        home,
        &qa,
        &["market", "review", &id, "--kind", "quality", "--approve"],
    ));
    assert!(text.contains("published"), "{text}");

    // Its files are an object in the bucket, not a file beside the market.
    let kept: Vec<_> = std::fs::read_dir(s3.root.path().join(BUCKET))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!server_home.path().join("data/market/blobs").exists());

    let text = succeeded(&market.run(home, "", &["plugin", "install", "example.json_upper"]));
    assert!(
        text.contains("verified example.json_upper@1.0.0 (sha256:"),
        "{text}"
    );
    let result: Value = serde_json::from_str(&succeeded(&run_in(
        home,
        &[
            "call",
            "example.json_upper",
            "--args",
            r#"{"document": {"name": "ada"}}"#,
        ],
        None,
    )))
    .unwrap();
    assert_eq!(result["structured"]["document"]["name"], "ADA", "{result}");
}
