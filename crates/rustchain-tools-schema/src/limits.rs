//! Limits on the size and shape of arguments, checked before the schema (and,
//! for JSON text, before parsing), so a hostile call cannot make validation
//! itself expensive.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    Violation,
    messages::{Language, text},
    violation::escape_pointer_token,
};

/// Which limit a value passed.
enum Passed {
    Depth,
    StringChars(usize),
}

/// A limit passed somewhere below; the path is gathered on the way up, so
/// the walk of a value within its limits builds no pointer at all.
struct Failure {
    kind: Passed,
    /// Reference tokens, innermost first.
    path: Vec<String>,
}

impl Failure {
    fn new(kind: Passed) -> Box<Failure> {
        Box::new(Failure {
            kind,
            path: Vec::new(),
        })
    }

    fn within(mut self: Box<Self>, token: String) -> Box<Failure> {
        self.path.push(token);
        self
    }
}

/// How large and deep a tool's arguments may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ArgumentLimits {
    /// Most bytes of the arguments as JSON text.
    pub max_bytes: usize,
    /// Most nesting of arrays and objects; the arguments object itself is 1.
    pub max_depth: usize,
    /// Most characters in one string (keys included).
    pub max_string_chars: usize,
}

impl Default for ArgumentLimits {
    /// 1 MiB, 32 levels, 256 Ki characters.
    fn default() -> Self {
        ArgumentLimits {
            max_bytes: 1 << 20,
            max_depth: 32,
            max_string_chars: 256 << 10,
        }
    }
}

impl ArgumentLimits {
    /// Checks JSON text before it is parsed: its size, its nesting and the
    /// length of its strings, found by a scan that allocates nothing. A
    /// violation names the limit and the byte offset where it was passed.
    pub fn check_text(&self, json: &str, language: Language) -> Result<(), Box<Violation>> {
        if json.len() > self.max_bytes {
            return Err(Box::new(self.too_many_bytes(json.len(), language)));
        }
        let mut depth = 0usize;
        let mut in_string = false;
        let mut escaped = false;
        let mut chars = 0usize;
        for (offset, c) in json.char_indices() {
            if in_string {
                if escaped {
                    escaped = false;
                    // \uXXXX: the four hex digits that follow are one character
                    // with the backslash; counting them too only errs strict.
                } else if c == '\\' {
                    escaped = true;
                    chars += 1;
                } else if c == '"' {
                    in_string = false;
                } else {
                    chars += 1;
                }
                if chars > self.max_string_chars {
                    return Err(Box::new(self.string_too_long(
                        Some(offset),
                        "",
                        chars,
                        language,
                    )));
                }
                continue;
            }
            match c {
                '"' => {
                    in_string = true;
                    chars = 0;
                }
                '{' | '[' => {
                    depth += 1;
                    if depth > self.max_depth {
                        return Err(Box::new(self.too_deep(Some(offset), "", language)));
                    }
                }
                '}' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        Ok(())
    }

    /// Checks arguments already parsed: nesting and string lengths, with the
    /// JSON pointer of the first value past a limit. Allocates nothing unless
    /// a limit is passed.
    pub fn check_value(&self, value: &Value, language: Language) -> Result<(), Box<Violation>> {
        self.walk(value, 1).map_err(|failure| {
            let pointer: String = failure
                .path
                .iter()
                .rev()
                .map(|segment| format!("/{}", escape_pointer_token(segment)))
                .collect();
            Box::new(match failure.kind {
                Passed::Depth => self.too_deep(None, &pointer, language),
                Passed::StringChars(chars) => self.string_too_long(None, &pointer, chars, language),
            })
        })
    }

    fn walk(&self, value: &Value, depth: usize) -> Result<(), Box<Failure>> {
        match value {
            Value::String(s) => self.check_string(s),
            Value::Array(items) => {
                self.check_depth(depth)?;
                for (i, item) in items.iter().enumerate() {
                    self.walk(item, depth + 1)
                        .map_err(|f| f.within(i.to_string()))?;
                }
                Ok(())
            }
            Value::Object(map) => {
                self.check_depth(depth)?;
                for (key, item) in map {
                    self.check_string(key)
                        .and_then(|()| self.walk(item, depth + 1))
                        .map_err(|f| f.within(key.clone()))?;
                }
                Ok(())
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => Ok(()),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), Box<Failure>> {
        if depth > self.max_depth {
            return Err(Failure::new(Passed::Depth));
        }
        Ok(())
    }

    fn check_string(&self, s: &str) -> Result<(), Box<Failure>> {
        // Bytes bound characters from above: count only when it could matter.
        if s.len() > self.max_string_chars {
            let chars = s.chars().count();
            if chars > self.max_string_chars {
                return Err(Failure::new(Passed::StringChars(chars)));
            }
        }
        Ok(())
    }

    fn too_many_bytes(&self, bytes: usize, language: Language) -> Violation {
        Violation::localized(
            "",
            "maxBytes",
            json!(self.max_bytes),
            json!(bytes),
            language,
            text(
                language,
                "max-bytes",
                &[
                    ("bytes", &bytes.to_string()),
                    ("limit", &self.max_bytes.to_string()),
                ],
            ),
        )
    }

    fn too_deep(&self, offset: Option<usize>, pointer: &str, language: Language) -> Violation {
        let problem = text(
            language,
            "max-depth",
            &[("limit", &self.max_depth.to_string())],
        );
        Violation::localized(
            pointer,
            "maxDepth",
            json!(self.max_depth),
            json!(self.max_depth + 1),
            language,
            with_offset(problem, offset, language),
        )
    }

    fn string_too_long(
        &self,
        offset: Option<usize>,
        pointer: &str,
        chars: usize,
        language: Language,
    ) -> Violation {
        let problem = text(
            language,
            "max-string-chars",
            &[("limit", &self.max_string_chars.to_string())],
        );
        Violation::localized(
            pointer,
            "maxStringChars",
            json!(self.max_string_chars),
            json!(chars),
            language,
            with_offset(problem, offset, language),
        )
    }
}

/// The problem, with where in the text it was found when that is known.
fn with_offset(problem: String, offset: Option<usize>, language: Language) -> String {
    match offset {
        Some(offset) => format!(
            "{problem} ({})",
            text(language, "at-byte", &[("offset", &offset.to_string())])
        ),
        None => problem,
    }
}
