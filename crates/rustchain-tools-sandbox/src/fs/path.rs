//! The path rules, checked on the string before the disk is touched.
//!
//! cap-std already refuses every escape at open time; these rules exist so
//! that the obvious attempts get a precise error naming the rule, and so that
//! Windows forms, which are ordinary file names on Linux, never reach a
//! platform where they would mean something else.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::SandboxError;

/// The longest path accepted, in bytes (Linux's `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// Which path rule a refused path broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PathRule {
    /// The path is the empty string (use `.` for the root).
    Empty,
    /// The path holds a NUL byte.
    NulByte,
    /// The path is longer than [`MAX_PATH_BYTES`].
    TooLong,
    /// The path starts with `/`.
    Absolute,
    /// A component is `..`.
    ParentDir,
    /// The path holds a backslash (Windows separators and UNC paths).
    Backslash,
    /// The path starts with a Windows drive such as `C:`.
    WindowsDrive,
}

impl fmt::Display for PathRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the path is empty (use \".\" for the root)",
            Self::NulByte => "paths may not hold a NUL byte",
            Self::TooLong => "the path is longer than 4096 bytes",
            Self::Absolute => "paths are relative to the sandbox root and may not start with '/'",
            Self::ParentDir => "paths may not hold a '..' component",
            Self::Backslash => "paths use '/' as separator and may not hold a backslash",
            Self::WindowsDrive => "paths may not start with a Windows drive such as \"C:\"",
        })
    }
}

/// A path checked against the rules: relative, normal components only.
///
/// `.` and empty components (`a//b`, a trailing `/`) are dropped, so the root
/// is the path with no components.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RelPath {
    components: Vec<String>,
}

impl RelPath {
    /// Checks `raw` against every rule, in a fixed order, and normalizes it.
    pub(crate) fn parse(raw: &str) -> Result<Self, SandboxError> {
        let refuse = |rule| {
            Err(SandboxError::PathRefused {
                path: raw.to_owned(),
                rule,
            })
        };
        if raw.is_empty() {
            return refuse(PathRule::Empty);
        }
        if raw.contains('\0') {
            return refuse(PathRule::NulByte);
        }
        if raw.len() > MAX_PATH_BYTES {
            return refuse(PathRule::TooLong);
        }
        if raw.starts_with('/') {
            return refuse(PathRule::Absolute);
        }
        if raw.contains('\\') {
            return refuse(PathRule::Backslash);
        }
        let bytes = raw.as_bytes();
        if bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':' {
            return refuse(PathRule::WindowsDrive);
        }
        let mut components = Vec::new();
        for part in raw.split('/') {
            match part {
                "" | "." => {}
                ".." => return refuse(PathRule::ParentDir),
                name => components.push(name.to_owned()),
            }
        }
        Ok(Self { components })
    }

    /// Whether this is the root.
    pub(crate) fn is_root(&self) -> bool {
        self.components.is_empty()
    }

    /// The path to hand to cap-std: `.` for the root.
    pub(crate) fn to_path(&self) -> PathBuf {
        if self.is_root() {
            PathBuf::from(".")
        } else {
            PathBuf::from(self.components.join("/"))
        }
    }

    /// The normalized form reported back: `a/b`, or the empty string for the root.
    pub(crate) fn display(&self) -> String {
        self.components.join("/")
    }

    /// The parent and the last component, or `None` for the root.
    pub(crate) fn split_last(&self) -> Option<(Self, &str)> {
        let (last, parent) = self.components.split_last()?;
        Some((
            Self {
                components: parent.to_vec(),
            },
            last,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(raw: &str) -> Option<PathRule> {
        match RelPath::parse(raw) {
            Ok(_) => None,
            Err(SandboxError::PathRefused { rule, path }) => {
                assert_eq!(path, raw, "the error names the path as given");
                Some(rule)
            }
            Err(other) => panic!("unexpected error {other}"),
        }
    }

    #[test]
    fn refuses_each_rule() {
        assert_eq!(rule(""), Some(PathRule::Empty));
        assert_eq!(rule("a\0b"), Some(PathRule::NulByte));
        assert_eq!(
            rule(&"a".repeat(MAX_PATH_BYTES + 1)),
            Some(PathRule::TooLong)
        );
        assert_eq!(rule("/etc/passwd"), Some(PathRule::Absolute));
        assert_eq!(rule("//server/share"), Some(PathRule::Absolute));
        assert_eq!(rule(".."), Some(PathRule::ParentDir));
        assert_eq!(rule("../secret"), Some(PathRule::ParentDir));
        assert_eq!(rule("a/../../secret"), Some(PathRule::ParentDir));
        assert_eq!(rule("a/.."), Some(PathRule::ParentDir));
        assert_eq!(rule("a/b/../c"), Some(PathRule::ParentDir));
        assert_eq!(rule("..\\secret"), Some(PathRule::Backslash));
        assert_eq!(rule("\\\\server\\share"), Some(PathRule::Backslash));
        assert_eq!(rule("C:\\Windows"), Some(PathRule::Backslash));
        assert_eq!(rule("C:secret"), Some(PathRule::WindowsDrive));
        assert_eq!(rule("c:/secret"), Some(PathRule::WindowsDrive));
    }

    #[test]
    fn accepts_and_normalizes_relative_paths() {
        let p = RelPath::parse("./a//b/./c/").unwrap();
        assert_eq!(p.display(), "a/b/c");
        assert_eq!(p.to_path(), PathBuf::from("a/b/c"));
        let (parent, last) = p.split_last().unwrap();
        assert_eq!(parent.display(), "a/b");
        assert_eq!(last, "c");
    }

    #[test]
    fn dot_forms_are_the_root() {
        for raw in [".", "./", "./.", ".//."] {
            let p = RelPath::parse(raw).unwrap();
            assert!(p.is_root(), "{raw}");
            assert_eq!(p.to_path(), PathBuf::from("."));
            assert!(p.split_last().is_none());
        }
    }

    #[test]
    fn odd_names_that_are_not_traversal_stay_names() {
        for raw in [
            "%2e%2e%2fsecret",
            "%252e%252e%252f",
            "...",
            "..a",
            "a..",
            "\u{FFFD}\u{FFFD}",
            "ab:c",
            "1:x",
        ] {
            let p = RelPath::parse(raw).unwrap();
            assert_eq!(p.display(), raw);
        }
    }

    #[test]
    fn exactly_max_length_is_accepted() {
        assert!(RelPath::parse(&"a".repeat(MAX_PATH_BYTES)).is_ok());
    }
}
