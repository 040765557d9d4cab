//! Formats of our own and stricter versions of standard ones: what a tool's
//! arguments may name when they point at files or at the network.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::messages::{Language, text};

/// The name of the format for paths relative to a tool's root.
pub const RELATIVE_PATH: &str = "relative-path";

/// How the formats that guard files and the network are checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FormatOptions {
    /// The schemes a `format: uri` (or `uri-reference` with a scheme) may
    /// have, lower case. Default: `http`, `https`.
    pub uri_schemes: Vec<String>,
}

impl Default for FormatOptions {
    fn default() -> Self {
        FormatOptions {
            uri_schemes: vec!["http".to_owned(), "https".to_owned()],
        }
    }
}

impl FormatOptions {
    /// Registers the formats with a jsonschema builder.
    pub(crate) fn apply<'a>(
        &self,
        options: jsonschema::ValidationOptions<'a>,
    ) -> jsonschema::ValidationOptions<'a> {
        let schemes: Arc<[String]> = self
            .uri_schemes
            .iter()
            .map(|s| s.to_ascii_lowercase())
            .collect();
        options
            .with_format(RELATIVE_PATH, is_relative_path)
            .with_format("uri", move |s: &str| is_uri_with_scheme(s, &schemes))
    }

    /// What a value of `format` must be, for a violation's message.
    pub(crate) fn explain(&self, format: &str, language: Language) -> Option<String> {
        match format {
            RELATIVE_PATH => Some(text(language, "why-relative-path", &[])),
            "uri" => Some(text(
                language,
                "why-uri",
                &[("schemes", &self.uri_schemes.join(", "))],
            )),
            _ => None,
        }
    }
}

/// A path that stays below the directory it is resolved against, whatever
/// the platform: not absolute, no drive or UNC prefix, no `..` segment (also
/// when percent-encoded), no NUL byte, not empty.
pub fn is_relative_path(path: &str) -> bool {
    if path.is_empty() || path.contains('\0') {
        return false;
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return false;
    }
    let bytes = path.as_bytes();
    if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
        return false;
    }
    path.split(['/', '\\']).all(|segment| {
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded != ".."
            && !decoded.contains("%00")
            && !decoded.contains("%2f")
            && !decoded.contains("%5c")
    })
}

/// An absolute URI (RFC 3986) whose scheme is in `schemes`.
pub fn is_uri_with_scheme(uri: &str, schemes: &[String]) -> bool {
    let Ok(parsed) = fluent_uri::Uri::parse(uri) else {
        return false;
    };
    let scheme = parsed.scheme().as_str().to_ascii_lowercase();
    schemes.contains(&scheme)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn relative_paths() {
        for ok in [
            "a.txt",
            "dir/file",
            "dir\\file",
            "./a",
            "a/./b",
            "..a",
            "a..",
            "é/ü",
        ] {
            assert!(is_relative_path(ok), "{ok}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "\\\\server\\share",
            "C:\\x",
            "c:/x",
            "../x",
            "a/../../x",
            "a\\..\\x",
            "%2e%2e/x",
            "a/%2E%2E",
            "a\0b",
            "..",
            "a/%2f..",
            "%00",
        ] {
            assert!(!is_relative_path(bad), "{bad:?}");
        }
    }

    #[test]
    fn uris_with_allowed_schemes() {
        let schemes = FormatOptions::default().uri_schemes;
        assert!(is_uri_with_scheme("https://example.com/a?b#c", &schemes));
        assert!(is_uri_with_scheme("HTTP://example.com", &schemes));
        for bad in [
            "file:///etc/passwd",
            "javascript:alert(1)",
            "gopher://x",
            "example.com",
            "",
            "http://exa mple.com",
        ] {
            assert!(!is_uri_with_scheme(bad, &schemes), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn no_accepted_path_has_a_parent_segment_or_root(path in "[a-zA-Z0-9./\\\\:%\\x00]{0,16}") {
            if is_relative_path(&path) {
                prop_assert!(!path.starts_with('/') && !path.starts_with('\\'));
                prop_assert!(!path.contains('\0'));
                prop_assert!(path.split(['/', '\\']).all(|s| s != ".."));
                prop_assert!(!std::path::Path::new(&path).is_absolute());
            }
        }
    }
}
