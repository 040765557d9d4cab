//! Argument limits on JSON text (before parsing) and on parsed values.

use proptest::prelude::*;
use rustchain_tools_schema::{ArgumentLimits, Language};

const EN: Language = Language::English;
use serde_json::{Value, json};

fn limits(max_bytes: usize, max_depth: usize, max_string_chars: usize) -> ArgumentLimits {
    ArgumentLimits {
        max_bytes,
        max_depth,
        max_string_chars,
    }
}

#[test]
fn text_past_each_limit_is_refused_naming_the_limit() {
    let l = limits(100, 3, 5);
    let v = l
        .check_text(&format!("{{\"a\": \"{}\"}}", "x".repeat(200)), EN)
        .unwrap_err();
    assert_eq!(v.keyword, "maxBytes");
    assert!(
        v.message.contains("more than the limit of 100 bytes"),
        "{}",
        v.message
    );

    let v = l.check_text(r#"{"a": [[{"b": 1}]]}"#, EN).unwrap_err();
    assert_eq!(v.keyword, "maxDepth");
    assert!(
        v.message
            .contains("deeper than the limit of 3 levels (at byte 8)"),
        "{}",
        v.message
    );

    let v = l.check_text(r#"{"a": "toolong"}"#, EN).unwrap_err();
    assert_eq!(v.keyword, "maxStringChars");

    assert!(
        l.check_text(r#"{"a": [["ok"]], "b": "{[[[[", "c": "\"\"\""}"#, EN)
            .is_ok()
    );
    assert!(
        l.check_text("{\"é\": \"ééééé\"}", EN).is_ok(),
        "characters, not bytes"
    );
}

#[test]
fn values_past_a_limit_are_refused_at_their_pointer() {
    let l = limits(1 << 20, 3, 5);
    let v = l.check_value(&json!({"a": [{"b": [1]}]}), EN).unwrap_err();
    assert_eq!(
        (v.pointer.as_str(), v.keyword.as_str()),
        ("/a/0/b", "maxDepth")
    );
    let v = l
        .check_value(&json!({"a": ["ok", "way too long"]}), EN)
        .unwrap_err();
    assert_eq!(
        (v.pointer.as_str(), v.keyword.as_str()),
        ("/a/1", "maxStringChars")
    );
    assert_eq!(v.actual, json!(12));
    let v = l
        .check_value(&json!({"a/b~c": 1, "long key!": 2}), EN)
        .unwrap_err();
    assert_eq!(v.pointer, "/long key!");
    assert!(l.check_value(&json!({"a": [["ok"]]}), EN).is_ok());
}

#[test]
fn defaults_allow_ordinary_arguments() {
    let args = json!({"query": "rust", "limit": 10, "nested": {"list": [1, 2, {"x": "y"}]}});
    assert!(ArgumentLimits::default().check_value(&args, EN).is_ok());
    assert!(
        ArgumentLimits::default()
            .check_text(&args.to_string(), EN)
            .is_ok()
    );
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i32>().prop_map(Value::from),
        "[a-z\"\\\\/{}\\[\\] é]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(6, 48, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z{\\[]{0,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    /// The scan of the text and the walk of the parsed value agree on depth
    /// and string length, whatever brackets and quotes the strings hold.
    #[test]
    fn text_and_value_checks_agree(value in json_value(), depth in 1usize..6, chars in 0usize..10) {
        let l = limits(usize::MAX, depth, chars);
        let text = serde_json::to_string(&value).unwrap();
        prop_assert_eq!(l.check_text(&text, EN).is_ok(), l.check_value(&value, EN).is_ok(), "{}", text);
    }
}
