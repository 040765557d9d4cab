// Generated from a JSON Schema by rustchain-tools (typify); do not edit by hand.
///MCP behaviour hints.
#[derive(
    ::schemars::JsonSchema, ::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default,
)]
#[serde(deny_unknown_fields)]
pub struct Annotations {
    #[serde(
        rename = "destructiveHint",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub destructive_hint: ::std::option::Option<bool>,
    #[serde(
        rename = "idempotentHint",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub idempotent_hint: ::std::option::Option<bool>,
    #[serde(
        rename = "openWorldHint",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub open_world_hint: ::std::option::Option<bool>,
    #[serde(
        rename = "readOnlyHint",
        skip_serializing_if = "::std::option::Option::is_none"
    )]
    pub read_only_hint: ::std::option::Option<bool>,
}
///What the tool may touch.
#[derive(
    ::schemars::JsonSchema, ::serde::Deserialize, ::serde::Serialize, Clone, Debug, Default,
)]
#[serde(deny_unknown_fields)]
pub struct Permissions {
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub commands: ::std::vec::Vec<::std::string::String>,
    #[serde(
        rename = "fileRead",
        default,
        skip_serializing_if = "::std::vec::Vec::is_empty"
    )]
    pub file_read: ::std::vec::Vec<::std::string::String>,
    #[serde(
        rename = "fileWrite",
        default,
        skip_serializing_if = "::std::vec::Vec::is_empty"
    )]
    pub file_write: ::std::vec::Vec<::std::string::String>,
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub network: ::std::vec::Vec<::std::string::String>,
}
///A tool described by a manifest: the MCP tool definition plus RustChain's version, category, tags and declared permissions.
#[derive(::schemars::JsonSchema, ::serde::Deserialize, ::serde::Serialize, Clone, Debug)]
#[serde(deny_unknown_fields)]
pub struct ToolManifest {
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub annotations: ::std::option::Option<Annotations>,
    ///The category, such as text, file, network.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub category: ::std::option::Option<::std::string::String>,
    ///What the tool does, for the model that chooses it.
    pub description: ::std::string::String,
    ///The JSON Schema of the arguments.
    #[serde(rename = "inputSchema")]
    pub input_schema: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    ///The tool's name (MCP rule: 1 to 128 of A-Z a-z 0-9 _ - .).
    pub name: ::std::string::String,
    ///The JSON Schema of the structured result.
    #[serde(
        rename = "outputSchema",
        default,
        skip_serializing_if = "::serde_json::Map::is_empty"
    )]
    pub output_schema: ::serde_json::Map<::std::string::String, ::serde_json::Value>,
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub permissions: ::std::option::Option<Permissions>,
    ///Where the tool comes from.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub source: ::std::option::Option<ToolManifestSource>,
    ///Tags for discovery.
    #[serde(default, skip_serializing_if = "::std::vec::Vec::is_empty")]
    pub tags: ::std::vec::Vec<::std::string::String>,
    ///A short human-readable title.
    #[serde(skip_serializing_if = "::std::option::Option::is_none")]
    pub title: ::std::option::Option<::std::string::String>,
    ///A semantic version.
    pub version: ::std::string::String,
}
///Where the tool comes from.
#[derive(
    ::schemars::JsonSchema,
    ::serde::Deserialize,
    ::serde::Serialize,
    Clone,
    Copy,
    Debug,
    Eq,
    Hash,
    Ord,
    PartialEq,
    PartialOrd,
)]
pub enum ToolManifestSource {
    #[serde(rename = "builtin")]
    Builtin,
    #[serde(rename = "manifest")]
    Manifest,
    #[serde(rename = "wasm")]
    Wasm,
}
impl ::std::fmt::Display for ToolManifestSource {
    fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
        match *self {
            Self::Builtin => f.write_str("builtin"),
            Self::Manifest => f.write_str("manifest"),
            Self::Wasm => f.write_str("wasm"),
        }
    }
}
impl ::std::str::FromStr for ToolManifestSource {
    type Err = self::error::ConversionError;
    fn from_str(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        match value {
            "builtin" => Ok(Self::Builtin),
            "manifest" => Ok(Self::Manifest),
            "wasm" => Ok(Self::Wasm),
            _ => Err("invalid value".into()),
        }
    }
}
impl ::std::convert::TryFrom<&str> for ToolManifestSource {
    type Error = self::error::ConversionError;
    fn try_from(value: &str) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
impl ::std::convert::TryFrom<::std::string::String> for ToolManifestSource {
    type Error = self::error::ConversionError;
    fn try_from(
        value: ::std::string::String,
    ) -> ::std::result::Result<Self, self::error::ConversionError> {
        value.parse()
    }
}
/// Error types.
pub mod error {
    /// Error from a `TryFrom` or `FromStr` implementation.
    pub struct ConversionError(::std::borrow::Cow<'static, str>);
    impl ::std::error::Error for ConversionError {}
    impl ::std::fmt::Display for ConversionError {
        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Display::fmt(&self.0, f)
        }
    }
    impl ::std::fmt::Debug for ConversionError {
        fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> Result<(), ::std::fmt::Error> {
            ::std::fmt::Debug::fmt(&self.0, f)
        }
    }
    impl From<&'static str> for ConversionError {
        fn from(value: &'static str) -> Self {
            Self(value.into())
        }
    }
    impl From<String> for ConversionError {
        fn from(value: String) -> Self {
            Self(value.into())
        }
    }
}
