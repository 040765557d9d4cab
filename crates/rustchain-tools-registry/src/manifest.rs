//! The tool manifest: MCP's tool definition plus RustChain's fields.

use std::fmt;

pub use rustchain_tools_core::Permissions;
use rustchain_tools_schema::CompiledSchema;
use semver::Version;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::schema_check::check_schema;

/// A tool definition as the registry stores it: the MCP tool definition
/// (`name`, `title`, `description`, `inputSchema`, `outputSchema`,
/// `annotations`) plus `version`, `category`, `tags`, declared `permissions`
/// and an optional external `id` (such as a corpus id).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// The tool's name (MCP rule: 1 to 128 characters of `A-Z a-z 0-9 _ - .`).
    pub name: String,
    /// A semantic version.
    pub version: Version,
    /// A short human-readable title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// What the tool does, for the model that chooses it.
    #[serde(default)]
    pub description: String,
    /// The JSON Schema of the arguments (an object schema).
    pub input_schema: Value,
    /// The JSON Schema of the structured result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<Value>,
    /// MCP behaviour hints.
    #[serde(default, skip_serializing_if = "Annotations::is_empty")]
    pub annotations: Annotations,
    /// The category, such as `text`, `file`, `network`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Tags for discovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// What the tool declares it may touch.
    #[serde(default, skip_serializing_if = "Permissions::is_empty")]
    pub permissions: Permissions,
    /// An external identifier (a corpus id such as `bfcl/get_weather~1a2b3c4d`),
    /// kept and given back in results.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Where the definition comes from (free text, such as `bfcl`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Manifest {
    /// A manifest with the given name, version, description and input schema,
    /// and nothing else.
    pub fn new(
        name: impl Into<String>,
        version: Version,
        description: impl Into<String>,
        input_schema: Value,
    ) -> Self {
        Manifest {
            name: name.into(),
            version,
            title: None,
            description: description.into(),
            input_schema,
            output_schema: None,
            annotations: Annotations::default(),
            category: None,
            tags: Vec::new(),
            permissions: Permissions::default(),
            id: None,
            source: None,
        }
    }

    /// The key the registry files this manifest under.
    pub fn key(&self) -> ToolKey {
        ToolKey {
            name: self.name.clone(),
            version: self.version.clone(),
            id: self.id.clone(),
        }
    }

    /// A digest of what a model reads of the tool and what it may be called
    /// with: name, version, title, description, both schemas and the
    /// annotations, as `sha256:` and 64 hex digits over their canonical JSON
    /// (keys sorted, no spaces). Where a tool comes from, its category, tags
    /// and declared permissions (which follow local configuration, such as
    /// a sandbox root) are left out. Two manifests with the same name and
    /// version but different digests are a definition changed under a
    /// version already published.
    pub fn definition_digest(&self) -> String {
        let definition = serde_json::json!({
            "name": self.name,
            "version": self.version.to_string(),
            "title": self.title,
            "description": self.description,
            "inputSchema": self.input_schema,
            "outputSchema": self.output_schema,
            "annotations": self.annotations,
        });
        let mut text = Vec::with_capacity(1024);
        canonical_json(&definition, &mut text);
        let digest = Sha256::digest(&text);
        let mut out = String::with_capacity(71);
        out.push_str("sha256:");
        for byte in digest {
            out.push_str(&format!("{byte:02x}"));
        }
        out
    }

    /// Checks the name rule, that the input schema describes an object, and
    /// that both schemas are well-formed JSON Schema; says what is wrong.
    /// Validators are not compiled here but on the tool's first use.
    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        CompiledSchema::check_input_object(&self.input_schema)
            .map_err(|e| format!("inputSchema: {e}"))?;
        check_schema(&self.input_schema).map_err(|e| format!("inputSchema: {e}"))?;
        if let Some(output) = &self.output_schema {
            check_schema(output).map_err(|e| format!("outputSchema: {e}"))?;
        }
        Ok(())
    }
}

/// MCP tool annotations (behaviour hints); absent hints take MCP's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    /// A human-readable title given in the annotations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// The tool does not change its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only_hint: Option<bool>,
    /// The tool may destroy or overwrite data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destructive_hint: Option<bool>,
    /// Calling it again with the same arguments has no further effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotent_hint: Option<bool>,
    /// The tool reaches an open world.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_world_hint: Option<bool>,
}

impl Annotations {
    /// True when no hint is given.
    pub fn is_empty(&self) -> bool {
        *self == Annotations::default()
    }
}

/// The terms a permission filter matches: each kind declared (`fileRead`,
/// `fileWrite`, `network`, `commands`) and each `kind:value`
/// (`network:api.github.com`).
pub(crate) fn permission_terms(permissions: &Permissions) -> Vec<String> {
    let mut terms = Vec::new();
    for (kind, values) in [
        ("fileRead", &permissions.file_read),
        ("fileWrite", &permissions.file_write),
        ("network", &permissions.network),
        ("commands", &permissions.commands),
    ] {
        if !values.is_empty() {
            terms.push(kind.to_owned());
        }
        terms.extend(values.iter().map(|v| format!("{kind}:{v}")));
    }
    terms.sort();
    terms.dedup();
    terms
}

/// How a registered tool is identified: its name and version, and its
/// external id when it has one (two corpus tools may share name and version
/// but never id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ToolKey {
    /// The tool's name.
    pub name: String,
    /// The tool's version.
    pub version: Version,
    /// The external id, when the tool came with one.
    pub id: Option<String>,
}

impl fmt::Display for ToolKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.id {
            Some(id) => f.write_str(id),
            None => write!(f, "{}@{}", self.name, self.version),
        }
    }
}

/// Checks MCP's tool name rule: 1 to 128 characters of `A-Z a-z 0-9 _ - .`.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the name is empty (a tool name needs 1 to 128 characters)".to_owned());
    }
    let chars = name.chars().count();
    if chars > 128 {
        return Err(format!("the name has {chars} characters, more than 128"));
    }
    match name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        Some(c) => Err(format!(
            "the name `{name}` contains {c:?}; only A-Z a-z 0-9 _ - . are allowed"
        )),
        None => Ok(()),
    }
}

/// Makes a name follow the MCP rule: every other character becomes `_` and
/// the name is cut to 128 characters (an empty name stays empty and fails).
pub fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .take(128)
        .collect()
}

/// Writes `value` as JSON with object keys sorted at every level and no
/// whitespace, so that equal values give equal bytes whatever order their
/// members came in.
fn canonical_json(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push(b'{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                // Writing a string or a number into memory cannot fail.
                let _ = serde_json::to_writer(&mut *out, key);
                out.push(b':');
                canonical_json(&map[key], out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                canonical_json(item, out);
            }
            out.push(b']');
        }
        scalar => {
            let _ = serde_json::to_writer(&mut *out, scalar);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn names_follow_the_mcp_rule() {
        assert!(check_name("math.factorial").is_ok());
        assert!(check_name("get-weather_2").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("repos/get").unwrap_err().contains("'/'"));
        assert!(check_name(&"a".repeat(129)).is_err());
        assert!(check_name(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn check_reports_a_schema_that_does_not_compile() {
        let m = Manifest::new("t", Version::new(1, 0, 0), "d", json!({"type": "string"}));
        assert!(m.check().unwrap_err().contains("inputSchema"));
        let m = Manifest::new(
            "t",
            Version::new(1, 0, 0),
            "d",
            json!({"type": "object", "properties": {"a": {"type": 5}}}),
        );
        assert!(m.check().is_err());
    }

    #[test]
    fn permission_terms_name_kind_and_value() {
        let p = Permissions {
            network: vec!["api.github.com".into()],
            ..Permissions::default()
        };
        assert_eq!(permission_terms(&p), ["network", "network:api.github.com"]);
    }

    #[test]
    fn key_shows_the_external_id_when_present() {
        let mut m = Manifest::new("a", Version::new(1, 2, 3), "", json!({"type": "object"}));
        assert_eq!(m.key().to_string(), "a@1.2.3");
        m.id = Some("bfcl/a~0011aabb".into());
        assert_eq!(m.key().to_string(), "bfcl/a~0011aabb");
    }

    #[test]
    fn the_definition_digest_follows_what_a_model_reads_only() {
        let m = Manifest::new(
            "t",
            Version::new(1, 0, 0),
            "Does t.",
            json!({"type": "object", "properties": {"a": {"type": "string"}, "b": {}}}),
        );
        let digest = m.definition_digest();
        assert!(
            digest.starts_with("sha256:") && digest.len() == 71,
            "{digest}"
        );
        // Key order, category, tags, permissions and source do not count.
        let mut same = m.clone();
        same.input_schema =
            json!({"properties": {"b": {}, "a": {"type": "string"}}, "type": "object"});
        same.category = Some("text".into());
        same.tags = vec!["x".into()];
        same.permissions.file_read = vec!["/srv".into()];
        assert_eq!(same.definition_digest(), digest);
        // The description, a schema, a hint or the version do.
        let mut changed = m.clone();
        changed.description = "Does t, and sends your files away.".into();
        assert_ne!(changed.definition_digest(), digest);
        let mut changed = m.clone();
        changed.annotations.read_only_hint = Some(true);
        assert_ne!(changed.definition_digest(), digest);
        let mut changed = m;
        changed.version = Version::new(1, 0, 1);
        assert_ne!(changed.definition_digest(), digest);
    }

    proptest! {
        #[test]
        fn sanitized_names_pass_the_rule(name in "\\PC{1,200}") {
            prop_assert!(check_name(&sanitize_name(&name)).is_ok());
        }

        #[test]
        fn valid_names_are_kept(name in "[A-Za-z0-9_.-]{1,128}") {
            prop_assert!(check_name(&name).is_ok());
            prop_assert_eq!(sanitize_name(&name), name);
        }
    }
}
