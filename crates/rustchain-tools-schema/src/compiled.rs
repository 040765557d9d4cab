use std::{fmt, sync::Arc};

use jsonschema::{Draft, Validator};
use serde_json::Value;

use crate::{
    FormatOptions, SchemaError, Violation,
    messages::{Language, text},
};

/// A JSON Schema compiled into a validator, ready to check many values.
///
/// Compile once (when a tool is registered), validate on every call. The
/// draft comes from `$schema` and defaults to 2020-12; formats are checked,
/// with `relative-path` added and `uri` restricted to allowed schemes (see
/// [`FormatOptions`]); nothing is fetched over the network or from files.
#[derive(Clone)]
pub struct CompiledSchema {
    schema: Arc<Value>,
    validator: Validator,
    formats: Arc<FormatOptions>,
}

impl CompiledSchema {
    /// Compiles `schema`, or says why it is not a usable JSON Schema.
    pub fn compile(schema: &Value) -> Result<Self, SchemaError> {
        Self::compile_shared(Arc::new(schema.clone()))
    }

    /// Compiles a schema that is shared with its owner (a tool's metadata),
    /// keeping no second copy of it.
    pub fn compile_shared(schema: Arc<Value>) -> Result<Self, SchemaError> {
        Self::compile_with(schema, &FormatOptions::default())
    }

    /// Compiles a shared schema with the given format options.
    pub fn compile_with(schema: Arc<Value>, formats: &FormatOptions) -> Result<Self, SchemaError> {
        let validator = formats
            .apply(jsonschema::options())
            .with_draft(declared_draft(&schema).unwrap_or(Draft::Draft202012))
            .should_validate_formats(true)
            .build(&schema)
            .map_err(|e| SchemaError::Invalid {
                location: e.instance_path().as_str().to_owned(),
                reason: e.to_string(),
            })?;
        Ok(CompiledSchema {
            schema,
            validator,
            formats: Arc::new(formats.clone()),
        })
    }

    /// Compiles the input schema of a tool, which must describe an object.
    pub fn compile_input(schema: Arc<Value>, formats: &FormatOptions) -> Result<Self, SchemaError> {
        Self::check_input_object(&schema)?;
        Self::compile_with(schema, formats)
    }

    /// Checks, without compiling, that a tool's input schema describes an
    /// object (`"type": "object"` at its root), as [`Self::compile_input`]
    /// requires.
    ///
    /// ```
    /// use rustchain_tools_schema::{CompiledSchema, SchemaError};
    ///
    /// assert!(CompiledSchema::check_input_object(&serde_json::json!({"type": "object"})).is_ok());
    /// let refused = CompiledSchema::check_input_object(&serde_json::json!({"type": "string"}));
    /// assert!(matches!(refused, Err(SchemaError::NotAnObject { found }) if found == "\"string\""));
    /// ```
    pub fn check_input_object(schema: &Value) -> Result<(), SchemaError> {
        match schema.get("type") {
            Some(Value::String(t)) if t == "object" => Ok(()),
            other => Err(SchemaError::NotAnObject {
                found: other.map_or_else(|| "no type".to_owned(), Value::to_string),
            }),
        }
    }

    /// The schema this validator was compiled from.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Whether `value` satisfies the schema; the fast path.
    pub fn is_valid(&self, value: &Value) -> bool {
        self.validator.is_valid(value)
    }

    /// Checks `value`, returning every violation when it is invalid, with
    /// messages in English.
    pub fn validate(&self, value: &Value) -> Result<(), Vec<Violation>> {
        self.validate_in(value, Language::English)
    }

    /// Checks `value`, with messages in `language`.
    pub fn validate_in(&self, value: &Value, language: Language) -> Result<(), Vec<Violation>> {
        if self.validator.is_valid(value) {
            return Ok(());
        }
        let violations: Vec<Violation> = self
            .validator
            .iter_errors(value)
            .flat_map(|e| Violation::from_validation_error(&e, &self.schema, language))
            .map(|v| self.explain_format(v, language))
            .collect();
        if violations.is_empty() {
            // is_valid and iter_errors disagreeing would be a validator bug;
            // an invalid value must never pass silently.
            return Err(vec![Violation::new(
                "",
                "schema",
                Value::Null,
                Value::Null,
                "the value does not match the schema",
            )]);
        }
        Err(violations)
    }

    /// Says what a value of our own formats must be.
    fn explain_format(&self, violation: Violation, language: Language) -> Violation {
        let format = violation.expected.as_str().unwrap_or_default();
        let why = match (
            violation.keyword.as_str(),
            self.formats.explain(format, language),
        ) {
            ("format", Some(why)) => why,
            _ => return violation,
        };
        let problem = text(
            language,
            "format-explained",
            &[
                ("value", &violation.actual.to_string()),
                ("format", format),
                ("why", &why),
            ],
        );
        Violation::localized(
            violation.pointer,
            violation.keyword,
            violation.expected,
            violation.actual,
            language,
            problem,
        )
    }
}

impl fmt::Debug for CompiledSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledSchema")
            .field("schema", &self.schema)
            .finish_non_exhaustive()
    }
}

fn declared_draft(schema: &Value) -> Option<Draft> {
    let uri = schema.get("$schema")?.as_str()?;
    let uri = uri.trim_end_matches('#');
    Some(
        match uri
            .trim_start_matches("https://")
            .trim_start_matches("http://")
        {
            "json-schema.org/draft-04/schema" => Draft::Draft4,
            "json-schema.org/draft-06/schema" => Draft::Draft6,
            "json-schema.org/draft-07/schema" => Draft::Draft7,
            "json-schema.org/draft/2019-09/schema" => Draft::Draft201909,
            _ => Draft::Draft202012,
        },
    )
}
