//! Reused decisions are the decisions: for any sequence of calls, an engine
//! that reuses decisions decides exactly as one that evaluates every call,
//! and reuse turns itself off for policies that read what varies per call.

use std::sync::Arc;

use proptest::prelude::*;
use rustchain_tools_core::{
    BehaviorHints, Permissions, Principal, RegisteredTool, ToolCall, ToolContext, ToolError,
    ToolExecutor, ToolInfo, ToolMetadata, ToolOutput, ToolRequest, async_trait,
};
use rustchain_tools_policy::{PolicyConfig, PolicyEngine};
use serde_json::{Value, json};

struct Described(ToolMetadata);

#[async_trait]
impl ToolExecutor for Described {
    fn metadata(&self) -> &ToolMetadata {
        &self.0
    }
    async fn execute(&self, _: Value, _: ToolContext) -> Result<ToolOutput, ToolError> {
        Ok(ToolOutput::text(""))
    }
}

fn tool(
    name: &str,
    category: &str,
    permissions: Permissions,
    hints: BehaviorHints,
) -> Arc<RegisteredTool> {
    let info = ToolInfo::new(name, "1.0.0")
        .category(category)
        .permissions(permissions)
        .hints(hints);
    let metadata = ToolMetadata::new(info, json!({"type": "object"}), None).unwrap();
    Arc::new(RegisteredTool::new(Arc::new(Described(metadata))).unwrap())
}

/// A harmless tool, a file reader, a writer, a fetcher and a runner.
fn tools() -> Vec<Arc<RegisteredTool>> {
    let writing = BehaviorHints {
        read_only: false,
        destructive: true,
        idempotent: false,
        open_world: false,
    };
    vec![
        tool(
            "text.sha256",
            "text",
            Permissions::default(),
            BehaviorHints::PURE,
        ),
        tool(
            "fs_read",
            "file",
            Permissions {
                file_read: vec!["/srv/data".into()],
                ..Permissions::default()
            },
            BehaviorHints::PURE,
        ),
        tool(
            "fs_write",
            "file",
            Permissions {
                file_write: vec!["/srv/approved".into(), "/tmp".into()],
                ..Permissions::default()
            },
            writing,
        ),
        tool(
            "http_fetch",
            "network",
            Permissions {
                network: vec!["*".into()],
                ..Permissions::default()
            },
            BehaviorHints {
                open_world: true,
                ..BehaviorHints::PURE
            },
        ),
        tool(
            "cmd_run",
            "process",
            Permissions {
                commands: vec!["*".into()],
                ..Permissions::default()
            },
            BehaviorHints {
                open_world: true,
                ..writing
            },
        ),
    ]
}

fn argument() -> impl Strategy<Value = (String, Value)> {
    prop_oneof![
        prop::sample::select(vec![
            "/srv/data/a",
            "/srv/approved/b",
            "/tmp/../etc/x",
            "rel/c",
            "/etc/passwd"
        ])
        .prop_map(|p| ("path".to_owned(), json!(p))),
        prop::sample::select(vec![
            "https://api.corp/x",
            "http://x.internal:8080/",
            "https://example.com",
            "ftp://h",
            "nonsense"
        ])
        .prop_map(|u| ("url".to_owned(), json!(u))),
        prop::sample::select(vec!["git", "ls", "rm", "sleep"])
            .prop_map(|p| ("program".to_owned(), json!(p))),
        prop::sample::select(vec!["password", "Token", "text", "api_key"])
            .prop_map(|k| (k.to_owned(), json!("v"))),
        Just(("path".to_owned(), json!(5))),
    ]
}

fn principal() -> impl Strategy<Value = Principal> {
    (
        prop::sample::select(vec!["local", "alice", "stranger"]),
        prop::sample::subsequence(
            vec!["reader", "analyst", "editor", "integrator", "operator"],
            0..3,
        ),
    )
        .prop_map(|(id, roles)| Principal {
            id: id.to_owned(),
            roles: roles.into_iter().map(str::to_owned).collect(),
        })
}

/// A call: which tool, by whom, with which arguments.
type Call = (usize, Principal, Vec<(String, Value)>);

fn calls() -> impl Strategy<Value = Vec<Call>> {
    prop::collection::vec(
        (
            0..5usize,
            principal(),
            prop::collection::vec(argument(), 0..3),
        ),
        1..40,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    #[test]
    fn reused_decisions_equal_evaluated_ones(calls in calls(), sox in any::<bool>()) {
        let mut config = PolicyConfig::new();
        if sox {
            config = config.profile("sox");
        }
        let reusing = PolicyEngine::load(&config).unwrap();
        prop_assert!(reusing.reuses_decisions());
        let evaluating = PolicyEngine::load(&config.reuse_decisions(false)).unwrap();
        prop_assert!(!evaluating.reuses_decisions());
        let tools = tools();
        // Each call twice, so that the second one is answered from the cache.
        for (tool, principal, arguments) in calls.iter().chain(calls.iter()) {
            let arguments: serde_json::Map<String, Value> = arguments.iter().cloned().collect();
            let call = ToolCall::new(tools[*tool].metadata().name().as_str(), Value::Object(arguments))
                .with_principal(principal.clone());
            let request = ToolRequest::new(call, tools[*tool].clone());
            prop_assert_eq!(reusing.decide(&request), evaluating.decide(&request));
        }
        let (hits, _) = reusing.cache_counters();
        prop_assert!(hits >= calls.len() as u64);
    }
}

#[test]
fn policies_that_read_the_call_id_or_the_clock_are_evaluated_every_time() {
    for rule in [
        "deny contains \"odd\" if endswith(input.call.id, \"1\")",
        "deny contains \"late\" if time.now_ns() > 0",
        "deny contains \"all\" if count(input) > 100",
    ] {
        let text = format!("package rustchain.authz\n\nimport rego.v1\n\n{rule}\n");
        let engine = PolicyEngine::load(&PolicyConfig::new().file("extra.rego", text)).unwrap();
        assert!(!engine.reuses_decisions(), "{rule}");
    }
    // Reading the arguments whole keeps reuse, keyed by all of them.
    let text = "package rustchain.authz\n\nimport rego.v1\n\ndeny contains \"many\" if count(input.call.arguments) > 3\n";
    let engine = PolicyEngine::load(&PolicyConfig::new().file("extra.rego", text)).unwrap();
    assert!(engine.reuses_decisions());
    let tool = &tools()[0];
    let decide = |arguments: Value| {
        engine
            .decide(&ToolRequest::new(
                ToolCall::new("text.sha256", arguments),
                tool.clone(),
            ))
            .allowed
    };
    assert!(decide(json!({"a": 1})));
    assert!(!decide(json!({"a": 1, "b": 2, "c": 3, "d": 4})));
    assert!(decide(json!({"a": 1})));
}
