//! Every built-in tool through a real pipeline.

use rustchain_tools_core::{Runtime, ToolCall, ToolError, ToolSource, ValidationLayer};
use serde_json::{Value, json};

fn runtime() -> Runtime {
    let mut builder = Runtime::builder();
    for tool in rustchain_tools_builtins::all().unwrap() {
        builder = builder.executor(tool);
    }
    builder.layer(ValidationLayer::new()).build().unwrap()
}

async fn call(name: &str, args: Value) -> Result<Value, ToolError> {
    let result = runtime().call(ToolCall::new(name, args)).await?;
    Ok(result.structured.unwrap())
}

#[test]
fn every_group_registers_itself_without_a_list() {
    assert_eq!(rustchain_tools_builtins::groups(), ["json", "text"]);
    let names: Vec<String> = runtime()
        .tools()
        .iter()
        .map(|t| t.metadata().name().to_string())
        .collect();
    assert_eq!(
        names,
        [
            "json.format",
            "json.merge_patch",
            "json.query",
            "json.validate",
            "text.regex_find",
            "text.sha256",
            "text.transform_case",
            "text.word_count",
        ]
    );
    for tool in runtime().tools().iter() {
        let m = tool.metadata();
        assert!(
            !m.description().is_empty(),
            "{} has no description",
            m.name()
        );
        assert!(m.hints().read_only, "{} is a harmless built-in", m.name());
        assert_eq!(m.source(), ToolSource::Builtin, "{}", m.name());
        assert!(m.permissions().is_empty());
    }
    assert_eq!(rustchain_tools_builtins::group("text").unwrap().len(), 4);
}

#[tokio::test]
async fn word_count() {
    assert_eq!(
        call("text.word_count", json!({"text": "one two\nthree é"}))
            .await
            .unwrap(),
        json!({"words": 4, "lines": 2, "characters": 15, "bytes": 16})
    );
}

#[tokio::test]
async fn transform_case_refuses_an_unknown_case_listing_the_allowed_ones() {
    assert_eq!(
        call(
            "text.transform_case",
            json!({"text": "Hello world", "case": "snake"})
        )
        .await
        .unwrap(),
        json!({"text": "hello_world"})
    );
    let err = call("text.transform_case", json!({"text": "x", "case": "shout"}))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(message.contains("at /case:"), "{message}");
    assert!(message.contains("\"camel\""), "{message}");
}

#[tokio::test]
async fn sha256_of_a_known_text() {
    assert_eq!(
        call("text.sha256", json!({"text": "abc"})).await.unwrap()["sha256"],
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[tokio::test]
async fn regex_find_with_groups_limit_and_a_bad_pattern() {
    let out = call(
        "text.regex_find",
        json!({"pattern": r"(\w+)@(\w+)?", "text": "a@b c@ d@e", "limit": 2}),
    )
    .await
    .unwrap();
    assert_eq!(
        out,
        json!({"matches": [
            {"start": 0, "end": 3, "text": "a@b", "groups": ["a", "b"]},
            {"start": 4, "end": 6, "text": "c@", "groups": ["c", null]}
        ], "truncated": true})
    );
    let err = call("text.regex_find", json!({"pattern": "(", "text": "x"}))
        .await
        .unwrap_err();
    let ToolError::InvalidArguments { violations, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(violations[0].pointer, "/pattern");
    assert!(
        violations[0]
            .message
            .contains("not a valid regular expression")
    );
}

#[tokio::test]
async fn json_query_finds_and_misses() {
    let doc = json!({"items": [{"name": "a"}, {"name": "b"}]});
    assert_eq!(
        call(
            "json.query",
            json!({"document": doc, "pointer": "/items/1/name"})
        )
        .await
        .unwrap(),
        json!({"found": true, "value": "b"})
    );
    assert_eq!(
        call(
            "json.query",
            json!({"document": doc, "pointer": "/items/9"})
        )
        .await
        .unwrap(),
        json!({"found": false, "value": null})
    );
    for bad in ["items", "/a~2", "/a~"] {
        let err = call("json.query", json!({"document": doc, "pointer": bad}))
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("does not match the pattern"),
            "{err}"
        );
    }
    let keyed = json!({"a/b\nc~": 1});
    assert_eq!(
        call(
            "json.query",
            json!({"document": keyed, "pointer": "/a~1b\nc~0"})
        )
        .await
        .unwrap(),
        json!({"found": true, "value": 1})
    );
}

#[tokio::test]
async fn json_format_pretty_compact_and_broken() {
    assert_eq!(
        call(
            "json.format",
            json!({"text": "{\"b\":1,\"a\":[1,2]}", "indent": 0})
        )
        .await
        .unwrap()["text"],
        "{\"a\":[1,2],\"b\":1}"
    );
    assert_eq!(
        call("json.format", json!({"text": "{\"a\":1}"}))
            .await
            .unwrap()["text"],
        "{\n  \"a\": 1\n}"
    );
    let err = call("json.format", json!({"text": "{\"a\":"}))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("at /text: the text is not valid JSON"),
        "{err}"
    );
}

#[tokio::test]
async fn json_validate_lists_violations_and_refuses_a_broken_schema() {
    let out = call(
        "json.validate",
        json!({"schema": {"type": "object", "required": ["id"]}, "document": {}}),
    )
    .await
    .unwrap();
    assert_eq!(out["valid"], false);
    assert_eq!(out["violations"][0]["pointer"], "/id");
    let err = call(
        "json.validate",
        json!({"schema": {"type": 5}, "document": {}}),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("at /schema"), "{err}");
}

#[tokio::test]
async fn json_merge_patch() {
    assert_eq!(
        call(
            "json.merge_patch",
            json!({"target": {"a": 1, "b": {"c": 2}}, "patch": {"a": null, "b": {"d": 3}}})
        )
        .await
        .unwrap(),
        json!({"result": {"b": {"c": 2, "d": 3}}})
    );
}
