//! Text utilities (feature `text`).

use rustchain_tools_core::{
    BehaviorHints, Tool, ToolContext, ToolError, ToolInfo, ToolSource, Violation, async_trait,
};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fmt::Write as _;

use crate::register;

const VERSION: &str = "1.0.0";
/// Most compiled-program size a regex may reach, so a hostile pattern cannot
/// take the process's memory.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn info(name: &str, title: &str, description: &str) -> ToolInfo {
    ToolInfo::new(name, VERSION)
        .source(ToolSource::Builtin)
        .title(title)
        .description(description)
        .category("text")
        .tags(["text"])
        .hints(BehaviorHints::PURE)
}

/// `text.word_count`: counts words, lines, characters and bytes.
pub struct WordCount;

/// Arguments of [`WordCount`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WordCountParams {
    /// The text to count.
    pub text: String,
}

/// Result of [`WordCount`].
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct WordCountOutput {
    /// Runs of non-whitespace characters.
    pub words: usize,
    /// Lines, counting a last line without a newline.
    pub lines: usize,
    /// Unicode scalar values.
    pub characters: usize,
    /// UTF-8 bytes.
    pub bytes: usize,
}

#[async_trait]
impl Tool for WordCount {
    type Params = WordCountParams;
    type Output = WordCountOutput;

    fn info(&self) -> ToolInfo {
        info(
            "text.word_count",
            "Word count",
            "Counts the words, lines, characters and bytes of a text.",
        )
    }

    async fn run(&self, p: WordCountParams, _: &ToolContext) -> Result<WordCountOutput, ToolError> {
        Ok(WordCountOutput {
            words: p.text.split_whitespace().count(),
            lines: p.text.lines().count(),
            characters: p.text.chars().count(),
            bytes: p.text.len(),
        })
    }
}
register!("text", WordCount);

/// `text.transform_case`: converts a text to another letter case.
pub struct TransformCase;

/// The cases [`TransformCase`] converts to.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Case {
    /// `HELLO WORLD`
    Upper,
    /// `hello world`
    Lower,
    /// `Hello World`
    Title,
    /// `hello_world`
    Snake,
    /// `hello-world`
    Kebab,
    /// `helloWorld`
    Camel,
}

/// Arguments of [`TransformCase`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransformCaseParams {
    /// The text to convert.
    pub text: String,
    /// The case to convert to.
    pub case: Case,
}

/// Result of [`TransformCase`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct TextOutput {
    /// The converted text.
    pub text: String,
}

/// The words of `text` for case conversion: split on anything that is not a
/// letter or digit, and where a lower-case letter meets an upper-case one.
fn words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in text.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_numeric();
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first
            .to_uppercase()
            .chain(chars.flat_map(char::to_lowercase))
            .collect()
    })
}

fn transform(text: &str, case: Case) -> String {
    let joined = |sep: &str| {
        words(text)
            .iter()
            .map(|w| w.to_lowercase())
            .collect::<Vec<_>>()
            .join(sep)
    };
    match case {
        Case::Upper => text.to_uppercase(),
        Case::Lower => text.to_lowercase(),
        Case::Title => words(text)
            .iter()
            .map(|w| capitalize(w))
            .collect::<Vec<_>>()
            .join(" "),
        Case::Snake => joined("_"),
        Case::Kebab => joined("-"),
        Case::Camel => words(text)
            .iter()
            .enumerate()
            .map(|(i, w)| {
                if i == 0 {
                    w.to_lowercase()
                } else {
                    capitalize(w)
                }
            })
            .collect(),
    }
}

#[async_trait]
impl Tool for TransformCase {
    type Params = TransformCaseParams;
    type Output = TextOutput;

    fn info(&self) -> ToolInfo {
        info(
            "text.transform_case",
            "Transform case",
            "Converts a text to upper, lower, title, snake_case, kebab-case or camelCase.",
        )
    }

    async fn run(&self, p: TransformCaseParams, _: &ToolContext) -> Result<TextOutput, ToolError> {
        Ok(TextOutput {
            text: transform(&p.text, p.case),
        })
    }
}
register!("text", TransformCase);

/// `text.sha256`: the SHA-256 digest of a text.
pub struct Sha256Digest;

/// Arguments of [`Sha256Digest`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Sha256Params {
    /// The text to hash, as UTF-8.
    pub text: String,
}

/// Result of [`Sha256Digest`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct Sha256Output {
    /// The digest in lower-case hexadecimal.
    pub sha256: String,
}

#[async_trait]
impl Tool for Sha256Digest {
    type Params = Sha256Params;
    type Output = Sha256Output;

    fn info(&self) -> ToolInfo {
        info(
            "text.sha256",
            "SHA-256",
            "Computes the SHA-256 digest of a text (as UTF-8), in hexadecimal.",
        )
        .tags(["text", "hash", "crypto"])
    }

    async fn run(&self, p: Sha256Params, _: &ToolContext) -> Result<Sha256Output, ToolError> {
        let digest = Sha256::digest(p.text.as_bytes());
        Ok(Sha256Output {
            sha256: digest.iter().fold(String::with_capacity(64), |mut hex, b| {
                let _ = write!(hex, "{b:02x}");
                hex
            }),
        })
    }
}
register!("text", Sha256Digest);

/// `text.regex_find`: the matches of a regular expression in a text.
pub struct RegexFind;

/// Arguments of [`RegexFind`].
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegexFindParams {
    /// A regular expression in Rust `regex` syntax (no look-around or
    /// back-references; matching takes linear time).
    pub pattern: String,
    /// The text to search.
    pub text: String,
    /// The most matches to return.
    #[serde(default = "default_limit")]
    #[schemars(range(min = 1, max = 1000))]
    pub limit: usize,
}

fn default_limit() -> usize {
    100
}

/// One match of [`RegexFind`].
#[derive(Debug, Serialize, JsonSchema, PartialEq, Eq)]
pub struct RegexMatch {
    /// Byte offset where the match starts.
    pub start: usize,
    /// Byte offset where the match ends.
    pub end: usize,
    /// The matched text.
    pub text: String,
    /// The capture groups after the whole match; `null` for a group that
    /// took no part.
    pub groups: Vec<Option<String>>,
}

/// Result of [`RegexFind`].
#[derive(Debug, Serialize, JsonSchema)]
pub struct RegexFindOutput {
    /// The matches, in order.
    pub matches: Vec<RegexMatch>,
    /// There were more matches than `limit`.
    pub truncated: bool,
}

#[async_trait]
impl Tool for RegexFind {
    type Params = RegexFindParams;
    type Output = RegexFindOutput;

    fn info(&self) -> ToolInfo {
        info(
            "text.regex_find",
            "Regex find",
            "Finds the matches of a regular expression in a text, with their offsets and capture groups.",
        )
        .tags(["text", "regex", "search"])
    }

    async fn run(&self, p: RegexFindParams, _: &ToolContext) -> Result<RegexFindOutput, ToolError> {
        let regex = regex::RegexBuilder::new(&p.pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| ToolError::InvalidArguments {
                tool: "text.regex_find".to_owned(),
                violations: vec![Violation::new(
                    "/pattern",
                    "x-regex",
                    json!("a valid regular expression"),
                    Value::String(p.pattern.clone()),
                    format!("the pattern is not a valid regular expression: {e}"),
                )],
            })?;
        let mut matches = Vec::new();
        let mut truncated = false;
        for captures in regex.captures_iter(&p.text) {
            if matches.len() == p.limit {
                truncated = true;
                break;
            }
            let whole = captures.get(0).expect("group 0 is the whole match");
            matches.push(RegexMatch {
                start: whole.start(),
                end: whole.end(),
                text: whole.as_str().to_owned(),
                groups: captures
                    .iter()
                    .skip(1)
                    .map(|g| g.map(|m| m.as_str().to_owned()))
                    .collect(),
            });
        }
        Ok(RegexFindOutput { matches, truncated })
    }
}
register!("text", RegexFind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases() {
        let text = "parseHTTP response_code-now";
        assert_eq!(transform(text, Case::Snake), "parse_http_response_code_now");
        assert_eq!(transform(text, Case::Kebab), "parse-http-response-code-now");
        assert_eq!(transform(text, Case::Camel), "parseHttpResponseCodeNow");
        assert_eq!(transform(text, Case::Title), "Parse Http Response Code Now");
        assert_eq!(transform("ß straße", Case::Upper), "SS STRASSE");
        assert_eq!(transform("", Case::Camel), "");
    }
}
