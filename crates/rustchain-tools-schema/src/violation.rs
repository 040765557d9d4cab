use std::fmt;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::messages::{Language, text};

/// Longest string kept whole in [`Violation::actual`]; longer ones are cut so
/// an error never echoes a huge argument back to a model.
const MAX_ACTUAL_STRING: usize = 120;
/// Longest serialized array or object kept whole in [`Violation::actual`].
const MAX_ACTUAL_JSON: usize = 240;

/// One way in which a value breaks its schema.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Violation {
    /// JSON pointer (RFC 6901) of the offending value in the arguments; for a
    /// missing required property, the pointer the property should have.
    pub pointer: String,
    /// The schema keyword that failed, such as `type`, `required`, `maximum`.
    pub keyword: String,
    /// What the schema asks for: a type name, a limit, the allowed values.
    pub expected: Value,
    /// What was found (shortened when large); `null` for a missing property.
    pub actual: Value,
    /// A sentence that says what is wrong and where, for a person or a model.
    pub message: String,
}

impl Violation {
    /// A violation with a message built from its parts; for custom rules.
    pub fn new(
        pointer: impl Into<String>,
        keyword: impl Into<String>,
        expected: Value,
        actual: Value,
        problem: impl fmt::Display,
    ) -> Self {
        Self::localized(
            pointer,
            keyword,
            expected,
            actual,
            Language::English,
            problem,
        )
    }

    /// Like [`new`](Self::new), with the location written in `language`.
    pub(crate) fn localized(
        pointer: impl Into<String>,
        keyword: impl Into<String>,
        expected: Value,
        actual: Value,
        language: Language,
        problem: impl fmt::Display,
    ) -> Self {
        let pointer = pointer.into();
        let message = format!("{}: {problem}", location(&pointer, language));
        Violation {
            pointer,
            keyword: keyword.into(),
            expected,
            actual: shorten(&actual),
            message,
        }
    }

    /// The violations of one error reported by the validator, in `language`;
    /// `schema` is the root schema, used to name the properties allowed where
    /// an unexpected one was found.
    pub(crate) fn from_validation_error(
        error: &jsonschema::ValidationError<'_>,
        schema: &Value,
        language: Language,
    ) -> Vec<Violation> {
        let pointer = error.instance_path().as_str();
        let instance = error.instance().as_ref();
        let keyword = error.kind().keyword();
        let t = |id: &str, args: &[(&str, &str)]| text(language, id, args);
        let one = |expected: Value, problem: String| {
            vec![Violation::localized(
                pointer,
                keyword,
                expected,
                instance.clone(),
                language,
                problem,
            )]
        };
        let value = shorten(instance).to_string();
        let count_args = |id: &str, count: usize, limit: u64| {
            t(
                id,
                &[("count", &count.to_string()), ("limit", &limit.to_string())],
            )
        };
        match error.kind() {
            ValidationErrorKind::Type { kind } => {
                let expected = match kind {
                    TypeKind::Single(t) => Value::String(t.to_string()),
                    TypeKind::Multiple(set) => {
                        Value::Array(set.iter().map(|t| Value::String(t.to_string())).collect())
                    }
                };
                let names = match &expected {
                    Value::Array(items) => items
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" | "),
                    other => other.as_str().unwrap_or_default().to_owned(),
                };
                let found = describe(instance, language);
                one(
                    expected,
                    t("type", &[("expected", &names), ("found", &found)]),
                )
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                vec![Violation::localized(
                    format!("{pointer}/{}", escape_pointer_token(name)),
                    keyword,
                    property.clone(),
                    Value::Null,
                    language,
                    t("required", &[("name", name)]),
                )]
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let allowed = allowed_properties(schema, error.schema_path().as_str());
                unexpected
                    .iter()
                    .map(|name| {
                        let problem = if allowed.is_empty() {
                            t("additional-property", &[("name", name)])
                        } else {
                            t(
                                "additional-property-allowed",
                                &[("name", name), ("allowed", &allowed.join(", "))],
                            )
                        };
                        Violation::localized(
                            format!("{pointer}/{}", escape_pointer_token(name)),
                            keyword,
                            Value::Array(
                                allowed.iter().map(|p| Value::String(p.clone())).collect(),
                            ),
                            instance.get(name).cloned().unwrap_or(Value::Null),
                            language,
                            problem,
                        )
                    })
                    .collect()
            }
            ValidationErrorKind::Minimum { limit } => one(
                limit.clone(),
                t(
                    "minimum",
                    &[("value", &value), ("limit", &limit.to_string())],
                ),
            ),
            ValidationErrorKind::Maximum { limit } => one(
                limit.clone(),
                t(
                    "maximum",
                    &[("value", &value), ("limit", &limit.to_string())],
                ),
            ),
            ValidationErrorKind::ExclusiveMinimum { limit } => one(
                limit.clone(),
                t(
                    "exclusive-minimum",
                    &[("value", &value), ("limit", &limit.to_string())],
                ),
            ),
            ValidationErrorKind::ExclusiveMaximum { limit } => one(
                limit.clone(),
                t(
                    "exclusive-maximum",
                    &[("value", &value), ("limit", &limit.to_string())],
                ),
            ),
            ValidationErrorKind::MultipleOf { multiple_of } => one(
                Value::from(*multiple_of),
                t(
                    "multiple-of",
                    &[("value", &value), ("limit", &multiple_of.to_string())],
                ),
            ),
            ValidationErrorKind::MinLength { limit } => one(
                Value::from(*limit),
                count_args("min-length", char_count(instance), *limit),
            ),
            ValidationErrorKind::MaxLength { limit } => one(
                Value::from(*limit),
                count_args("max-length", char_count(instance), *limit),
            ),
            ValidationErrorKind::MinItems { limit } => one(
                Value::from(*limit),
                count_args("min-items", len(instance), *limit),
            ),
            ValidationErrorKind::MaxItems { limit } => one(
                Value::from(*limit),
                count_args("max-items", len(instance), *limit),
            ),
            ValidationErrorKind::MinProperties { limit } => one(
                Value::from(*limit),
                count_args("min-properties", len(instance), *limit),
            ),
            ValidationErrorKind::MaxProperties { limit } => one(
                Value::from(*limit),
                count_args("max-properties", len(instance), *limit),
            ),
            ValidationErrorKind::Enum { options } => one(
                (**options).clone(),
                t("enum", &[("value", &value), ("options", &list(options))]),
            ),
            ValidationErrorKind::Constant { expected_value } => one(
                (**expected_value).clone(),
                t("const", &[("expected", &expected_value.to_string())]),
            ),
            ValidationErrorKind::Pattern { pattern } => one(
                Value::String(pattern.clone()),
                t("pattern", &[("value", &value), ("pattern", pattern)]),
            ),
            ValidationErrorKind::Format { format } => one(
                Value::String(format.clone()),
                t("format", &[("value", &value), ("format", format)]),
            ),
            ValidationErrorKind::UniqueItems => one(Value::Bool(true), t("unique-items", &[])),
            ValidationErrorKind::FalseSchema => one(Value::Bool(false), t("false-schema", &[])),
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                let reasons: Vec<String> = context
                    .iter()
                    .enumerate()
                    .filter_map(|(i, errors)| {
                        errors.first().map(|e| {
                            let sub = Violation::from_validation_error(e, schema, language);
                            let reason = sub
                                .first()
                                .map_or_else(|| e.to_string(), |v| v.message.clone());
                            t(
                                "any-of-option",
                                &[("number", &(i + 1).to_string()), ("reason", &reason)],
                            )
                        })
                    })
                    .collect();
                one(
                    Value::from(context.len()),
                    t(
                        "any-of",
                        &[
                            ("count", &context.len().to_string()),
                            ("reasons", &reasons.join("; ")),
                        ],
                    ),
                )
            }
            ValidationErrorKind::OneOfMultipleValid { context } => one(
                Value::from(1),
                t("one-of-multiple", &[("count", &context.len().to_string())]),
            ),
            ValidationErrorKind::Not { schema: not } => {
                one(not.clone(), t("not", &[("schema", &not.to_string())]))
            }
            ValidationErrorKind::PropertyNames { error: inner } => one(
                Value::Null,
                t("property-names", &[("reason", &inner.to_string())]),
            ),
            _ => one(Value::Null, error.to_string()),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

fn location(pointer: &str, language: Language) -> String {
    if pointer.is_empty() {
        text(language, "at-top-level", &[])
    } else {
        text(language, "at", &[("pointer", pointer)])
    }
}

/// Escapes one reference token of a JSON pointer (RFC 6901, section 3).
pub(crate) fn escape_pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// The names under `properties` of the schema object that holds the failing
/// `additionalProperties` keyword, when the schema path leads to one.
fn allowed_properties(schema: &Value, schema_path: &str) -> Vec<String> {
    let parent = schema_path
        .rsplit_once('/')
        .map_or("", |(parent, _keyword)| parent);
    schema
        .pointer(parent)
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|props| props.keys().cloned().collect())
        .unwrap_or_default()
}

fn describe(value: &Value, language: Language) -> String {
    let t = |id: &str, key: &str, arg: String| text(language, id, &[(key, &arg)]);
    match value {
        Value::Null => text(language, "found-null", &[]),
        Value::Bool(b) => t("found-boolean", "value", b.to_string()),
        Value::Number(n) if n.is_i64() || n.is_u64() => t("found-integer", "value", n.to_string()),
        Value::Number(n) => t("found-number", "value", n.to_string()),
        Value::String(_) => t("found-string", "value", shorten(value).to_string()),
        Value::Array(items) => t("found-array", "count", items.len().to_string()),
        Value::Object(map) => t("found-object", "count", map.len().to_string()),
    }
}

fn char_count(value: &Value) -> usize {
    value.as_str().map_or(0, |s| s.chars().count())
}

fn len(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::Object(map) => map.len(),
        _ => 0,
    }
}

fn list(options: &Value) -> String {
    match options {
        Value::Array(items) => items
            .iter()
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", "),
        other => other.to_string(),
    }
}

/// The value, with long strings cut and large containers replaced by a
/// string that says what they were.
fn shorten(value: &Value) -> Value {
    match value {
        Value::String(s) if s.chars().count() > MAX_ACTUAL_STRING => {
            let head: String = s.chars().take(MAX_ACTUAL_STRING).collect();
            let rest = s.chars().count() - MAX_ACTUAL_STRING;
            Value::String(format!("{head}… ({rest} more characters)"))
        }
        Value::Array(items) if value.to_string().len() > MAX_ACTUAL_JSON => {
            Value::String(format!("<an array of {} items>", items.len()))
        }
        Value::Object(map) if value.to_string().len() > MAX_ACTUAL_JSON => {
            Value::String(format!("<an object with {} properties>", map.len()))
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pointer_tokens_are_escaped() {
        assert_eq!(escape_pointer_token("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn long_strings_are_shortened() {
        let long = "x".repeat(500);
        let short = shorten(&json!(long));
        let text = short.as_str().unwrap();
        assert!(text.ends_with("(380 more characters)"), "{text}");
    }

    #[test]
    fn custom_violations_name_their_location() {
        let v = Violation::new(
            "/end",
            "x-after",
            json!("/start"),
            json!(1),
            "must come after start",
        );
        assert_eq!(v.message, "at /end: must come after start");
        let root = Violation::new("", "x-rule", Value::Null, Value::Null, "bad");
        assert_eq!(root.message, "at the top level: bad");
    }
}
