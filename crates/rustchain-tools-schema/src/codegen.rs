//! Rust types generated from JSON Schema, with `typify` (feature `codegen`).

use serde_json::Value;
use typify::{TypeSpace, TypeSpaceSettings};

use crate::{SchemaError, export::to_draft07};

/// The first line of every generated file.
pub const GENERATED_HEADER: &str =
    "// Generated from a JSON Schema by rustchain-tools (typify); do not edit by hand.\n";

/// Rust source for the types of `schema`: serde (de)serializable and deriving
/// `schemars::JsonSchema`, the root type named by the schema's `title` or
/// else `root_name`.
pub fn rust_types(schema: &Value, root_name: &str) -> Result<String, SchemaError> {
    let invalid = |reason: String| SchemaError::Invalid {
        location: String::new(),
        reason,
    };
    // typify reads draft-07 (`definitions`); 2020-12 `$defs` are moved there.
    let mut schema = to_draft07(schema)?;
    if let Value::Object(map) = &mut schema {
        map.entry("title")
            .or_insert_with(|| Value::String(root_name.to_owned()));
    }
    let root: schemars08::schema::RootSchema = serde_json::from_value(schema).map_err(|e| {
        invalid(format!(
            "the schema cannot be read for code generation: {e}"
        ))
    })?;
    let mut settings = TypeSpaceSettings::default();
    settings
        .with_struct_builder(false)
        .with_derive("::schemars::JsonSchema".to_owned());
    let mut space = TypeSpace::new(&settings);
    space
        .add_root_schema(root)
        .map_err(|e| invalid(format!("no Rust types can be generated: {e}")))?;
    let file: syn::File = syn::parse2(space.to_stream())
        .map_err(|e| invalid(format!("the generated code does not parse: {e}")))?;
    Ok(format!(
        "{GENERATED_HEADER}{}",
        prettyplease::unparse(&file)
    ))
}
