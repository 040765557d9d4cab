use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::Value;

/// The JSON Schema (2020-12) of a tool's parameters type, as deserialization
/// sees it: fields with defaults are optional.
pub fn derive_input_schema<T: JsonSchema + ?Sized>() -> Value {
    SchemaSettings::draft2020_12()
        .for_deserialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

/// The JSON Schema (2020-12) of a tool's output type, as serialization
/// produces it.
pub fn derive_output_schema<T: JsonSchema + ?Sized>() -> Value {
    SchemaSettings::draft2020_12()
        .for_serialize()
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, JsonSchema)]
    #[allow(dead_code)] // only the derived schema is inspected
    struct Params {
        /// The text to search.
        text: String,
        #[serde(default)]
        limit: Option<u32>,
    }

    #[test]
    fn derives_a_2020_12_object_schema_with_required_fields() {
        let schema = derive_input_schema::<Params>();
        assert_eq!(
            schema["$schema"],
            "https://json-schema.org/draft/2020-12/schema"
        );
        assert_eq!(schema["type"], "object");
        assert_eq!(schema["required"], serde_json::json!(["text"]));
        assert_eq!(
            schema["properties"]["text"]["description"],
            "The text to search."
        );
    }
}
