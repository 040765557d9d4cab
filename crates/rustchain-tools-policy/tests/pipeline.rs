//! The policy layer in a real pipeline: allowed calls, denials with every
//! reason, obligations, and broken policies failing closed.

mod common;

use std::time::Duration;

use common::{call, denied, runtime};
use rustchain_tools_core::ToolError;
use rustchain_tools_policy::{DEFAULT_DENY, PolicyConfig};
use serde_json::json;

#[tokio::test]
async fn the_local_principal_runs_harmless_tools_and_the_decision_travels_on() {
    let (rt, seen) = runtime(&PolicyConfig::new());
    let result = rt
        .call(call(
            "text.word_count",
            json!({"text": "to be or not"}),
            &[],
        ))
        .await
        .expect("a harmless tool runs by default");
    assert_eq!(result.structured, Some(json!(4)));
    let seen = seen.0.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].allowed);
}

#[tokio::test]
async fn writing_is_denied_by_default_and_the_denial_names_the_roles_that_grant_it() {
    let (rt, seen) = runtime(&PolicyConfig::new());
    let reasons = denied(
        rt.call(call(
            "files.write",
            json!({"path": "/tmp/a", "content": "x"}),
            &[],
        ))
        .await,
    );
    let all = reasons.join("\n");
    assert!(
        all.contains("writing `/tmp` is not granted; granted by role admin, editor, operator"),
        "{all}"
    );
    assert!(all.contains("tools that change things"), "{all}");
    assert!(all.contains("principal `local` has reader"), "{all}");
    assert!(
        seen.0.lock().unwrap().is_empty(),
        "a denied call goes no further"
    );
}

#[tokio::test]
async fn a_role_grants_writes_under_its_paths_only() {
    let (rt, _) = runtime(&PolicyConfig::new());
    rt.call(call(
        "files.write",
        json!({"path": "/tmp/a", "content": "x"}),
        &["editor"],
    ))
    .await
    .expect("an editor writes below /tmp");
    let reasons = denied(
        rt.call(call(
            "files.write",
            json!({"path": "/etc/passwd", "content": "x"}),
            &["editor"],
        ))
        .await,
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("outside the paths the tool declares")),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn sox_denies_writes_outside_approved_paths_even_for_admins_with_every_reason() {
    let (rt, seen) = runtime(&PolicyConfig::new().profile("sox"));
    let reasons = denied(
        rt.call(call(
            "files.write",
            json!({"path": "/tmp/a", "content": "x"}),
            &["admin"],
        ))
        .await,
    );
    assert!(
        reasons.contains(&"sox: writing `/tmp/a` is outside the approved paths".to_owned()),
        "{reasons:?}"
    );
    assert!(
        reasons.contains(&"sox: writing `/tmp` is outside the approved paths".to_owned()),
        "{reasons:?}"
    );
    assert!(seen.0.lock().unwrap().is_empty());
    // A harmless call still runs under sox, bounded by its timeout.
    rt.call(call("text.word_count", json!({"text": "a"}), &[]))
        .await
        .expect("a harmless call runs under sox");
    let seen = seen.0.lock().unwrap();
    assert_eq!(seen[0].obligations.timeout, Some(Duration::from_secs(300)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_calls_decide_in_parallel() {
    let (rt, seen) = runtime(&PolicyConfig::new().profile("sox"));
    let tasks: Vec<_> = (0..64)
        .map(|i| {
            let rt = rt.clone();
            tokio::spawn(async move {
                let roles: &[&str] = if i % 2 == 0 { &[] } else { &["editor"] };
                rt.call(call(
                    "files.write",
                    json!({"path": "/srv/approved/x", "content": "x"}),
                    roles,
                ))
                .await
            })
        })
        .collect();
    for task in tasks {
        // sox refuses the tool's declared /tmp root whoever calls.
        let reasons = denied(task.await.unwrap());
        assert!(reasons.contains(&"sox: writing `/tmp` is outside the approved paths".to_owned()));
    }
    assert!(seen.0.lock().unwrap().is_empty());
}

#[tokio::test]
async fn read_only_denies_a_writer_whatever_the_role() {
    let (rt, _) = runtime(&PolicyConfig::new().profile("read-only"));
    let reasons = denied(
        rt.call(call(
            "files.write",
            json!({"path": "/tmp/a", "content": "x"}),
            &["admin"],
        ))
        .await,
    );
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("read-only: tool `files.write` declares writes")),
        "{reasons:?}"
    );
    rt.call(call("text.word_count", json!({"text": "a"}), &[]))
        .await
        .expect("a reader still runs under read-only");
}

#[tokio::test]
async fn obligations_redact_and_lower_the_deadline() {
    let config = PolicyConfig::new().file(
        "short.rego",
        "package rustchain.authz\nimport rego.v1\ntimeout_ms contains 30 if input.tool.name == \"test.slow\"\n",
    );
    let (rt, seen) = runtime(&config);
    let err = rt
        .call(call("test.slow", json!({"ms": 2000}), &[]))
        .await
        .unwrap_err();
    assert!(matches!(err, ToolError::TimedOut { .. }), "{err:?}");
    rt.call(call(
        "files.write",
        json!({"path": "/tmp/a", "content": "x", "password": "hunter2"}),
        &["editor"],
    ))
    .await
    .expect("allowed");
    let seen = seen.0.lock().unwrap();
    let last = seen.last().expect("a decision");
    assert_eq!(last.obligations.redact, vec!["/password"]);
    assert_eq!(seen[0].obligations.timeout, Some(Duration::from_millis(30)));
}

#[tokio::test]
async fn without_any_allow_the_call_is_denied_by_default() {
    let config = PolicyConfig::new().without_default_policy().file(
        "only_bob.rego",
        "package rustchain.authz\nimport rego.v1\nallow if input.principal.id == \"bob\"\n",
    );
    let (rt, _) = runtime(&config);
    let reasons = denied(
        rt.call(call("text.word_count", json!({"text": "a"}), &[]))
            .await,
    );
    assert_eq!(reasons, vec![DEFAULT_DENY]);
}

/// `input.tool.source` comes from the tool's metadata, not its name: a tool
/// named like a built-in is still a plugin unless it says otherwise.
#[tokio::test]
async fn a_name_alone_does_not_make_a_tool_builtin() {
    let config = PolicyConfig::new().without_default_policy().file(
        "builtins_only.rego",
        "package rustchain.authz\nimport rego.v1\nallow if input.tool.source == \"builtin\"\n",
    );
    let (rt, _) = runtime(&config);
    let reasons = denied(
        rt.call(call("text.word_count", json!({"text": "a"}), &[]))
            .await,
    );
    assert_eq!(reasons, vec![DEFAULT_DENY]);
}

/// Every kind of broken policy denies every call, saying why and where.
#[tokio::test]
async fn broken_policies_fail_closed_with_file_and_line() {
    let cases: &[(&str, &str, bool, &[&str])] = &[
        (
            "syntax.rego",
            "package rustchain.authz\nimport rego.v1\nallow if {\n",
            false,
            &["policy error", "syntax.rego:"],
        ),
        (
            "only_deny.rego",
            "package rustchain.authz\nimport rego.v1\ndeny contains \"x\" if false\n",
            true,
            &["no module declares the rule `data.rustchain.authz.allow`"],
        ),
        (
            "eval.rego",
            "package rustchain.authz\nimport rego.v1\nallow := true\n\ndeny contains \"n\" if to_number(input.call.id) > 0\n",
            true,
            &["evaluation failed", "eval.rego:5:"],
        ),
        (
            "string.rego",
            "package rustchain.authz\nimport rego.v1\nallow := \"yes\"\n",
            true,
            &["rule `allow` of package rustchain.authz yielded the string \"yes\", not a boolean"],
        ),
        (
            "wrong.rego",
            "package authz\nimport rego.v1\nallow := true\n",
            false,
            &["wrong.rego:1: package `authz` is not one RustChain reads"],
        ),
        (
            "typo.rego",
            "package rustchain.authz\nimport rego.v1\n\ndeny contains \"no\" if input.tool.categroy == \"file\"\n",
            false,
            &[
                "typo.rego:4:",
                "input.tool.categroy",
                "did you mean `category`",
            ],
        ),
    ];
    for (file, text, replace_default, needles) in cases {
        let mut config = PolicyConfig::new();
        if *replace_default {
            config = config.without_default_policy();
        }
        let (rt, _) = runtime(&config.file(*file, *text));
        let reasons = denied(
            rt.call(call("text.word_count", json!({"text": "a"}), &["admin"]))
                .await,
        );
        let all = reasons.join("\n");
        for needle in *needles {
            assert!(all.contains(needle), "{file}: {needle:?} not in {all}");
        }
    }
}

#[tokio::test]
async fn an_unknown_profile_denies_and_lists_the_known_ones() {
    let (rt, _) = runtime(&PolicyConfig::new().profile("hipaa"));
    let reasons = denied(
        rt.call(call("text.word_count", json!({"text": "a"}), &[]))
            .await,
    );
    assert!(
        reasons[0].contains("unknown compliance profile `hipaa` (known: read-only, sox)"),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_reload_applies_new_rules_and_a_broken_one_keeps_the_old() {
    use rustchain_tools_core::{DeadlineLayer, Runtime, ValidationLayer};
    use rustchain_tools_policy::{PolicyLayer, ReloadablePolicy};

    let dir = std::env::temp_dir().join(format!("rustchain-policy-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rule = dir.join("mine.rego");
    std::fs::write(&rule, "package rustchain.authz\nimport rego.v1\n").unwrap();
    let policy = ReloadablePolicy::load(PolicyConfig::new().policy_dir(&dir)).unwrap();
    let rt = Runtime::builder()
        .tool(common::WordCount)
        .layer(ValidationLayer::new())
        .layer(PolicyLayer::reloadable(policy.clone()))
        .layer(DeadlineLayer::new())
        .build()
        .unwrap();
    let word_count = || call("text.word_count", json!({"text": "a"}), &[]);
    rt.call(word_count())
        .await
        .expect("allowed before the reload");

    std::fs::write(
        &rule,
        "package rustchain.authz\nimport rego.v1\ndeny contains \"frozen\" if input.tool.category == \"text\"\n",
    )
    .unwrap();
    policy.reload().expect("the new rule loads");
    assert_eq!(denied(rt.call(word_count()).await), vec!["frozen"]);

    std::fs::write(&rule, "package rustchain.authz\nallow if {\n").unwrap();
    let err = policy.reload().unwrap_err();
    assert!(err.to_string().contains("mine.rego:"), "{err}");
    assert_eq!(policy.generation(), 1);
    assert_eq!(
        denied(rt.call(word_count()).await),
        vec!["frozen"],
        "the old policy stays"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The `tool` part of the input is kept per registered tool: a tool
/// registered anew under the same name (a plugin reloaded, say) is judged by
/// its own metadata, on the same thread and engine.
#[test]
fn each_registered_tool_is_judged_by_its_own_metadata() {
    use std::sync::Arc;

    use rustchain_tools_core::{RegisteredTool, ToolRequest, TypedTool};
    use rustchain_tools_policy::PolicyEngine;

    fn request<T: rustchain_tools_core::Tool>(tool: T) -> ToolRequest {
        let executor = Arc::new(TypedTool::new(tool).unwrap());
        let tool = Arc::new(RegisteredTool::new(executor).unwrap());
        ToolRequest::new(call("files.write", json!({"path": "/tmp/x"}), &[]), tool)
    }
    let engine = PolicyEngine::load(&PolicyConfig::new()).unwrap();
    let writer = request(common::WriteFile);
    let harmless = request(common::HarmlessWriteFile);
    for _ in 0..2 {
        assert!(!engine.decide(&writer).allowed);
        assert!(engine.decide(&harmless).allowed);
    }
}
