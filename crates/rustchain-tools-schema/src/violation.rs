use std::fmt;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

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
        let pointer = pointer.into();
        let message = format!("{}: {problem}", location(&pointer));
        Violation {
            pointer,
            keyword: keyword.into(),
            expected,
            actual: shorten(&actual),
            message,
        }
    }

    /// The violations of one error reported by the validator; `schema` is the
    /// root schema, used to name the properties allowed where an unexpected
    /// one was found.
    pub(crate) fn from_validation_error(
        error: &jsonschema::ValidationError<'_>,
        schema: &Value,
    ) -> Vec<Violation> {
        let pointer = error.instance_path().as_str();
        let instance = error.instance().as_ref();
        let keyword = error.kind().keyword();
        let one = |expected: Value, problem: String| {
            vec![Violation::new(
                pointer,
                keyword,
                expected,
                instance.clone(),
                problem,
            )]
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
                        .join(" or "),
                    other => other.as_str().unwrap_or_default().to_owned(),
                };
                one(
                    expected,
                    format!("expected {names}, found {}", describe(instance)),
                )
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                vec![Violation::new(
                    format!("{pointer}/{}", escape_pointer_token(name)),
                    keyword,
                    property.clone(),
                    Value::Null,
                    format!("the required property \"{name}\" is missing"),
                )]
            }
            ValidationErrorKind::AdditionalProperties { unexpected }
            | ValidationErrorKind::UnevaluatedProperties { unexpected } => {
                let allowed = allowed_properties(schema, error.schema_path().as_str());
                unexpected
                    .iter()
                    .map(|name| {
                        let hint = if allowed.is_empty() {
                            "remove it".to_owned()
                        } else {
                            format!("the allowed properties are {}", allowed.join(", "))
                        };
                        Violation::new(
                            format!("{pointer}/{}", escape_pointer_token(name)),
                            keyword,
                            Value::Array(
                                allowed.iter().map(|p| Value::String(p.clone())).collect(),
                            ),
                            instance.get(name).cloned().unwrap_or(Value::Null),
                            format!("the property \"{name}\" is not allowed; {hint}"),
                        )
                    })
                    .collect()
            }
            ValidationErrorKind::Minimum { limit } => one(
                limit.clone(),
                format!("{instance} is less than the minimum of {limit}"),
            ),
            ValidationErrorKind::Maximum { limit } => one(
                limit.clone(),
                format!("{instance} is greater than the maximum of {limit}"),
            ),
            ValidationErrorKind::ExclusiveMinimum { limit } => one(
                limit.clone(),
                format!("{instance} must be greater than {limit}"),
            ),
            ValidationErrorKind::ExclusiveMaximum { limit } => one(
                limit.clone(),
                format!("{instance} must be less than {limit}"),
            ),
            ValidationErrorKind::MultipleOf { multiple_of } => one(
                Value::from(*multiple_of),
                format!("{instance} is not a multiple of {multiple_of}"),
            ),
            ValidationErrorKind::MinLength { limit } => one(
                Value::from(*limit),
                format!(
                    "the string has {} characters, fewer than the minimum of {limit}",
                    char_count(instance)
                ),
            ),
            ValidationErrorKind::MaxLength { limit } => one(
                Value::from(*limit),
                format!(
                    "the string has {} characters, more than the maximum of {limit}",
                    char_count(instance)
                ),
            ),
            ValidationErrorKind::MinItems { limit } => one(
                Value::from(*limit),
                format!(
                    "the array has {} items, fewer than the minimum of {limit}",
                    len(instance)
                ),
            ),
            ValidationErrorKind::MaxItems { limit } => one(
                Value::from(*limit),
                format!(
                    "the array has {} items, more than the maximum of {limit}",
                    len(instance)
                ),
            ),
            ValidationErrorKind::MinProperties { limit } => one(
                Value::from(*limit),
                format!(
                    "the object has {} properties, fewer than the minimum of {limit}",
                    len(instance)
                ),
            ),
            ValidationErrorKind::MaxProperties { limit } => one(
                Value::from(*limit),
                format!(
                    "the object has {} properties, more than the maximum of {limit}",
                    len(instance)
                ),
            ),
            ValidationErrorKind::Enum { options } => one(
                (**options).clone(),
                format!("{} is not one of {}", shorten(instance), list(options)),
            ),
            ValidationErrorKind::Constant { expected_value } => one(
                (**expected_value).clone(),
                format!("the value must be exactly {expected_value}"),
            ),
            ValidationErrorKind::Pattern { pattern } => one(
                Value::String(pattern.clone()),
                format!("{} does not match the pattern {pattern}", shorten(instance)),
            ),
            ValidationErrorKind::Format { format } => one(
                Value::String(format.clone()),
                format!("{} is not a valid {format}", shorten(instance)),
            ),
            ValidationErrorKind::UniqueItems => one(
                Value::Bool(true),
                "the array contains duplicate items; every item must be unique".to_owned(),
            ),
            ValidationErrorKind::FalseSchema => one(
                Value::Bool(false),
                "no value is allowed here; remove it".to_owned(),
            ),
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                let reasons: Vec<String> = context
                    .iter()
                    .enumerate()
                    .filter_map(|(i, errors)| {
                        errors.first().map(|e| {
                            let sub = Violation::from_validation_error(e, schema);
                            let text = sub
                                .first()
                                .map_or_else(|| e.to_string(), |v| v.message.clone());
                            format!("option {}: {text}", i + 1)
                        })
                    })
                    .collect();
                one(
                    Value::from(context.len()),
                    format!(
                        "the value matches none of the {} allowed alternatives ({})",
                        context.len(),
                        reasons.join("; ")
                    ),
                )
            }
            ValidationErrorKind::OneOfMultipleValid { context } => one(
                Value::from(1),
                format!(
                    "the value matches more than one of the {} alternatives, but must match exactly one",
                    context.len()
                ),
            ),
            ValidationErrorKind::Not { schema: not } => one(
                not.clone(),
                format!("the value must not match the schema {not}"),
            ),
            ValidationErrorKind::PropertyNames { error: inner } => one(
                Value::Null,
                format!("a property name is not allowed: {inner}"),
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

fn location(pointer: &str) -> String {
    if pointer.is_empty() {
        "at the top level".to_owned()
    } else {
        format!("at {pointer}")
    }
}

/// Escapes one reference token of a JSON pointer (RFC 6901, section 3).
fn escape_pointer_token(token: &str) -> String {
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

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) if n.is_i64() || n.is_u64() => format!("integer {n}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => format!("string {}", shorten(value)),
        Value::Array(items) => format!("an array of {} items", items.len()),
        Value::Object(map) => format!("an object with {} properties", map.len()),
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
