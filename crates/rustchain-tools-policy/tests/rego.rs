//! The Rego unit tests shipped in `policies/`, the typo check (also through
//! local aliases), and the property that no arguments make the read-only
//! profile allow a writer.

use proptest::prelude::*;
use rustchain_tools_policy::{
    PolicyConfig, PolicyEngine, PolicyError, check_policy_dir, run_policy_tests,
};
use serde_json::{Value, json};

#[test]
fn the_shipped_rego_tests_pass() {
    let report = run_policy_tests(&PolicyConfig::new().with_shipped_tests()).unwrap();
    let failures: Vec<_> = report.failures().collect();
    assert!(failures.is_empty(), "{failures:#?}");
    for package in [
        "data.rustchain.authz_test.",
        "data.rustchain.profiles.sox_test.",
        "data.rustchain.profiles.read_only_test.",
        "data.rustchain.lib_test.",
    ] {
        assert!(
            report.outcomes.iter().any(|o| o.rule.starts_with(package)),
            "no tests from {package}: {:?}",
            report.outcomes
        );
    }
}

#[test]
fn a_failing_rego_test_is_reported() {
    let config = PolicyConfig::new().file(
        "mine_test.rego",
        "package mine_test\nimport rego.v1\nimport data.rustchain.authz\n\
         test_writer_allowed if authz.allow with input as {\"tool\": {\"category\": \"file\"}}\n\
         test_ok if true\n",
    );
    let report = run_policy_tests(&config).unwrap();
    assert!(!report.passed());
    let failed: Vec<_> = report.failures().map(|o| o.rule.as_str()).collect();
    assert_eq!(failed, vec!["data.mine_test.test_writer_allowed"]);
}

#[test]
fn check_finds_every_problem_in_a_directory() {
    let dir = std::env::temp_dir().join(format!("rustchain-policy-check-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("typo.rego"),
        "package rustchain.authz\nimport rego.v1\nallow if input.tool.categroy == \"text\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("wrong.rego"), "package authz\nallow := true\n").unwrap();
    std::fs::write(
        dir.join("ok.rego"),
        "package rustchain.authz\nimport rego.v1\nallow if input.principal.id == \"a\"\n",
    )
    .unwrap();
    std::fs::write(dir.join("data.json"), "[1]").unwrap();
    let report = check_policy_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(report.files.len(), 4);
    let all: Vec<String> = report.problems.iter().map(ToString::to_string).collect();
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(
        all.iter()
            .any(|p| p.contains("typo.rego:3:") && p.contains("did you mean `category`")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|p| p.contains("wrong.rego:1: package `authz`")),
        "{all:#?}"
    );
    assert!(all.iter().any(|p| p.contains("data.json")), "{all:#?}");
}

#[test]
fn loading_refuses_a_typo_through_an_alias_with_file_and_line() {
    let config = PolicyConfig::new().file(
        "mine.rego",
        "package rustchain.authz\nimport rego.v1\n\ndeny contains \"no\" if {\n\tt := input.tool\n\tt.categroy == \"file\"\n}\n",
    );
    let err = PolicyEngine::load(&config).unwrap_err();
    let PolicyError::UnknownInputFields { findings } = &err else {
        panic!("expected unknown input fields, got {err}");
    };
    assert_eq!(findings.len(), 1, "{err}");
    assert_eq!(
        (findings[0].file.as_str(), findings[0].line),
        ("mine.rego", 6)
    );
    let text = err.to_string();
    assert!(
        text.contains("mine.rego:6:") && text.contains("did you mean `category`"),
        "{text}"
    );
}

/// The objects of the documented input and their fields.
const OBJECTS: &[(&str, &[&str])] = &[
    (
        "tool",
        &[
            "name",
            "version",
            "category",
            "tags",
            "source",
            "permissions",
            "hints",
        ],
    ),
    (
        "tool.permissions",
        &["fileRead", "fileWrite", "network", "commands"],
    ),
    (
        "tool.hints",
        &["readOnly", "destructive", "idempotent", "openWorld"],
    ),
    ("call", &["id", "arguments"]),
    ("principal", &["id", "roles"]),
    ("environment", &["profiles", "labels"]),
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn through_an_alias_exactly_the_missing_fields_are_refused(
        object in 0..OBJECTS.len(),
        field in prop_oneof!["[a-zA-Z]{1,10}", (0..7usize).prop_map(|i| i.to_string())],
        known in any::<bool>(),
        assign in prop_oneof![Just(":="), Just("=")],
    ) {
        let (path, fields) = OBJECTS[object];
        let field = if known {
            fields[field.len() % fields.len()].to_owned()
        } else {
            field
        };
        // Digits and Rego keywords are no field names after a dot.
        const KEYWORDS: &[&str] = &[
            "as", "contains", "default", "else", "every", "false", "if", "import", "in",
            "not", "null", "package", "some", "true", "with",
        ];
        let field = if field.chars().all(|c| c.is_ascii_digit()) || KEYWORDS.contains(&field.as_str()) {
            format!("f{field}")
        } else {
            field
        };
        let text = format!(
            "package rustchain.authz\nimport rego.v1\n\ndeny contains \"x\" if {{\n\tv {assign} input.{path}\n\tv.{field} == 1\n}}\n"
        );
        let result = PolicyEngine::load(&PolicyConfig::new().file("p.rego", text.clone()));
        if fields.contains(&field.as_str()) {
            prop_assert!(result.is_ok(), "{text}: {:?}", result.err());
        } else {
            let refused = matches!(
                &result,
                Err(PolicyError::UnknownInputFields { findings })
                    if findings.len() == 1 && findings[0].line == 6
            );
            prop_assert!(refused, "{text}: {:?}", result.err());
        }
    }
}

fn writer(arguments: Value, roles: Vec<String>) -> Value {
    json!({
        "tool": {"name": "files.write", "version": "1.0.0", "category": "file", "tags": [], "source": "plugin",
                 "permissions": {"fileRead": [], "fileWrite": ["/tmp"], "network": [], "commands": []},
                 "hints": {"readOnly": false, "destructive": true, "idempotent": false, "openWorld": false}},
        "call": {"id": "c1", "arguments": arguments},
        "principal": {"id": "p", "roles": roles},
    })
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z/.:]{0,12}".prop_map(Value::from),
        Just(Value::from("/tmp/../etc")),
        Just(Value::from("https://x.internal/")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn no_arguments_make_read_only_allow_a_writer(
        args in prop::collection::btree_map(
            prop_oneof![Just("path".to_owned()), Just("url".to_owned()), Just("program".to_owned()), "[a-z]{1,8}"],
            json_value(),
            0..5,
        ),
        roles in prop::collection::vec(prop_oneof![Just("admin"), Just("editor"), Just("operator"), Just("reader")], 0..3),
    ) {
        thread_local! {
            static ENGINE: PolicyEngine = PolicyEngine::load(&PolicyConfig::new().profile("read-only")).unwrap();
        }
        let input = writer(Value::Object(args.into_iter().collect()), roles.into_iter().map(String::from).collect());
        let decision = ENGINE.with(|e| e.decide_input(&input));
        prop_assert!(!decision.allowed, "{decision:?}");
    }
}

#[test]
fn the_compiled_vm_agrees_with_the_interpreter_on_the_shipped_policies() {
    let interp = PolicyEngine::load(&PolicyConfig::new().profile("sox")).unwrap();
    let vm = PolicyEngine::load(&PolicyConfig::new().profile("sox").compiled_vm(true)).unwrap();
    assert_eq!(vm.vm_unavailable(), None);
    for (args, roles) in [
        (json!({"path": "/tmp/a"}), vec![]),
        (
            json!({"path": "/srv/approved/a", "password": "x"}),
            vec!["editor".to_owned()],
        ),
        (json!({"path": "/etc/a"}), vec!["admin".to_owned()]),
    ] {
        let input = writer(args, roles);
        assert_eq!(
            interp.decide_input(&input),
            vm.decide_input(&input),
            "{input}"
        );
    }
}
