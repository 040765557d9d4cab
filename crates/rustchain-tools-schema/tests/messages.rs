//! Messages in every language: complete, well-formed, and used.

use rustchain_tools_schema::{CompiledSchema, Language, message_errors, message_ids};
use serde_json::json;

#[test]
fn every_message_exists_in_every_language() {
    let english = message_ids(Language::English);
    assert!(english.len() > 30, "{english:?}");
    for language in Language::ALL {
        let mut ids = message_ids(language);
        let mut expected = english.clone();
        ids.sort();
        expected.sort();
        assert_eq!(ids, expected, "{language} differs from English");
        let mut unique = ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "{language} defines an id twice");
    }
}

#[test]
fn every_message_formats_without_errors() {
    for language in Language::ALL {
        assert_eq!(message_errors(language), Vec::<String>::new());
    }
}

#[test]
fn validation_speaks_the_language_asked_for() {
    let schema = CompiledSchema::compile(&json!({
        "type": "object",
        "properties": {"n": {"type": "integer", "maximum": 5}, "p": {"type": "string", "format": "relative-path"}},
        "required": ["q"]
    }))
    .unwrap();
    let value = json!({"n": 9, "p": "../x"});
    let messages = |language| {
        let mut m: Vec<String> = schema
            .validate_in(&value, language)
            .unwrap_err()
            .into_iter()
            .map(|v| v.message)
            .collect();
        m.sort();
        m
    };
    assert_eq!(
        messages(Language::German),
        [
            "bei /n: 9 ist größer als das Maximum 5",
            "bei /p: \"../x\" ist kein gültiges relative-path: erwartet wird ein relativer Pfad: kein führendes / oder \\, kein Laufwerksbuchstabe, kein ..-Segment, kein NUL-Byte",
            "bei /q: die Pflichteigenschaft \"q\" fehlt",
        ]
    );
    let french = messages(Language::French);
    assert!(
        french.contains(&"à /n: 9 est supérieur au maximum de 5".to_owned()),
        "{french:?}"
    );
    assert!(
        messages(Language::English)
            .contains(&"at /q: the required property \"q\" is missing".to_owned())
    );
}

#[test]
fn languages_parse_from_codes_and_tags() {
    assert_eq!("de".parse::<Language>().unwrap(), Language::German);
    assert_eq!("fr-CA".parse::<Language>().unwrap(), Language::French);
    assert_eq!("EN_us".parse::<Language>().unwrap(), Language::English);
    let err = "xx".parse::<Language>().unwrap_err();
    assert!(err.contains("en, de, fr"), "{err}");
}
