//! Where policies come from: the shipped files, directories, and modules
//! given in memory; and the checks every module passes before it is used.

use std::path::{Path, PathBuf};

use regorus::unstable::{Lexer, Rule, RuleHead, TokenKind};
use regorus::{Engine, Source};

use crate::{InputFinding, PolicyError, input};

/// The policies shipped with the crate, as `(path, text)`; the paths are
/// those of `policies/` in the crate, prefixed with `<shipped>/`.
pub const SHIPPED: &[(&str, &str)] = &[
    ("<shipped>/lib.rego", include_str!("../policies/lib.rego")),
    (
        "<shipped>/default.rego",
        include_str!("../policies/default.rego"),
    ),
    (
        "<shipped>/grants.json",
        include_str!("../policies/grants.json"),
    ),
    (
        "<shipped>/profiles/sox.rego",
        include_str!("../policies/profiles/sox.rego"),
    ),
    (
        "<shipped>/profiles/sox.json",
        include_str!("../policies/profiles/sox.json"),
    ),
    (
        "<shipped>/profiles/read_only.rego",
        include_str!("../policies/profiles/read_only.rego"),
    ),
    (
        "<shipped>/default_test.rego",
        include_str!("../policies/default_test.rego"),
    ),
    (
        "<shipped>/profiles/sox_test.rego",
        include_str!("../policies/profiles/sox_test.rego"),
    ),
    (
        "<shipped>/profiles/read_only_test.rego",
        include_str!("../policies/profiles/read_only_test.rego"),
    ),
    (
        "<shipped>/lib_test.rego",
        include_str!("../policies/lib_test.rego"),
    ),
];

/// Files of the default policy proper (dropped by `without_default_policy`).
pub(crate) const DEFAULT_POLICY_FILES: &[&str] = &[
    "<shipped>/default.rego",
    "<shipped>/grants.json",
    "<shipped>/default_test.rego",
];

/// What a source file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Rego,
    RegoTest,
    Data,
}

/// One source file, read.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub name: String,
    pub text: String,
    pub kind: Kind,
}

impl SourceFile {
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        let name = name.into();
        let kind = if name.ends_with(".json") {
            Kind::Data
        } else if name.ends_with("_test.rego") {
            Kind::RegoTest
        } else {
            Kind::Rego
        };
        SourceFile {
            name,
            text: text.into(),
            kind,
        }
    }
}

/// Every `.rego` and `.json` file below `dir`, sorted by path so that loading
/// is the same on every machine.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<SourceFile>, PolicyError> {
    let mut paths = Vec::new();
    collect(dir, &mut paths)?;
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(|e| read_error(&path, &e))?;
            Ok(SourceFile::new(path.display().to_string(), text))
        })
        .collect()
}

/// A digest of what loading `dirs` would read: every `.rego` and `.json`
/// file's path and content. A directory or file that cannot be read goes
/// into the digest as its error, so it too counts as a change once, not on
/// every poll.
pub(crate) fn fingerprint(dirs: &[PathBuf]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    let mut part = |bytes: &[u8]| {
        // Lengths first, so that no two different lists hash alike.
        hash.update((bytes.len() as u64).to_le_bytes());
        hash.update(bytes);
    };
    for dir in dirs {
        let mut paths = Vec::new();
        if let Err(e) = collect(dir, &mut paths) {
            part(e.to_string().as_bytes());
            continue;
        }
        paths.sort();
        for path in paths {
            part(path.as_os_str().as_encoded_bytes());
            match std::fs::read(&path) {
                Ok(bytes) => part(&bytes),
                Err(e) => part(e.to_string().as_bytes()),
            }
        }
    }
    hash.finalize().into()
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|e| read_error(dir, &e))?;
    for entry in entries {
        let path = entry.map_err(|e| read_error(dir, &e))?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|ext| ext == "rego" || ext == "json")
        {
            out.push(path);
        }
    }
    Ok(())
}

fn read_error(path: &Path, e: &std::io::Error) -> PolicyError {
    PolicyError::Read {
        path: path.to_owned(),
        message: e.to_string(),
    }
}

/// Adds `file` to `engine`, refusing syntax errors; returns its package
/// without the `data.` prefix.
pub(crate) fn add_module(engine: &mut Engine, file: &SourceFile) -> Result<String, PolicyError> {
    let package = engine
        .add_policy(file.name.clone(), file.text.clone())
        .map_err(|e| PolicyError::Syntax {
            file: file.name.clone(),
            message: e.to_string(),
        })?;
    Ok(package.strip_prefix("data.").unwrap_or(&package).to_owned())
}

/// Refuses a package RustChain does not read.
pub(crate) fn check_package(file: &SourceFile, package: &str) -> Result<(), PolicyError> {
    let ok = package == "rustchain.authz"
        || package == "rustchain.lib"
        || package.starts_with("rustchain.lib.")
        || package
            .strip_prefix("rustchain.profiles.")
            .is_some_and(|p| !p.is_empty() && !p.contains('.'));
    if ok {
        return Ok(());
    }
    Err(PolicyError::WrongPackage {
        file: file.name.clone(),
        line: package_line(&file.text),
        package: package.to_owned(),
    })
}

/// The line of the `package` declaration (1 when it cannot be found).
fn package_line(text: &str) -> u32 {
    text.lines()
        .position(|l| l.trim_start().starts_with("package "))
        .and_then(|i| u32::try_from(i + 1).ok())
        .unwrap_or(1)
}

/// Every `input.` reference in `file` that the documented input never has,
/// also through a local alias: in a rule body, `t := input.tool` (or
/// `t = input.tool`) makes `t.categroy` a reference to `input.tool.categroy`
/// until the block that binds `t` closes.
pub(crate) fn unknown_input_fields(file: &SourceFile) -> Result<Vec<InputFinding>, PolicyError> {
    Ok(scan_input(file)?.findings)
}

/// What a module reads of the input.
pub(crate) struct InputScan {
    /// References the documented input never has.
    pub findings: Vec<InputFinding>,
    /// Every path below `input` the module reads, as far as the tokens
    /// show: a reference through a dynamic step (`input.call.arguments[k]`),
    /// an iteration or a function argument ends where the static steps end,
    /// so it stands for everything below.
    pub paths: Vec<Vec<String>>,
}

/// Reads the `input` references of `file` (see [`InputScan`]).
pub(crate) fn scan_input(file: &SourceFile) -> Result<InputScan, PolicyError> {
    let syntax = |e: &dyn std::fmt::Display| PolicyError::Syntax {
        file: file.name.clone(),
        message: e.to_string(),
    };
    let source =
        Source::from_contents(file.name.clone(), file.text.clone()).map_err(|e| syntax(&e))?;
    let mut lexer = Lexer::new(&source);
    let mut tokens = Vec::new();
    loop {
        let token = lexer.next_token().map_err(|e| syntax(&e))?;
        if token.0 == TokenKind::Eof {
            break;
        }
        tokens.push(token);
    }
    let mut paths = Vec::new();
    let findings = References { tokens: &tokens }.scan(&file.name, &mut paths);
    Ok(InputScan { findings, paths })
}

/// Builtins whose value is not a function of the input and the data: a
/// decision that may call one cannot be reused for an equal input.
const NONDETERMINISTIC: &[&str] = &[
    "time.now_ns",
    "rand.",
    "uuid.",
    "http.send",
    "opa.runtime",
    "net.lookup_ip_addr",
    "crypto.x509.parse_and_verify",
];

/// Whether `file` may call a builtin whose value varies from call to call.
pub(crate) fn calls_nondeterministic(file: &SourceFile) -> bool {
    NONDETERMINISTIC.iter().any(|name| file.text.contains(name))
}

/// A local variable bound in a rule body: to an input path (`Some`), or to
/// anything else (`None`), which hides an outer alias of the same name.
struct Alias {
    name: String,
    path: Option<Vec<String>>,
    /// How many brackets were open where it was bound: it lives until then.
    depth: usize,
}

struct References<'a> {
    tokens: &'a [regorus::unstable::Token],
}

impl References<'_> {
    fn text(&self, i: usize) -> Option<&str> {
        self.tokens.get(i).map(|t| t.1.text())
    }

    fn kind(&self, i: usize) -> Option<TokenKind> {
        self.tokens.get(i).map(|t| t.0.clone())
    }

    fn is_ident(&self, i: usize) -> bool {
        self.kind(i) == Some(TokenKind::Ident)
    }

    /// `.field` and `["field"]` steps from token `j` on; returns them and
    /// the index of the first token after them.
    fn steps(&self, mut j: usize) -> (Vec<String>, usize) {
        let mut path = Vec::new();
        loop {
            if self.text(j) == Some(".") && self.is_ident(j + 1) {
                path.push(self.text(j + 1).unwrap_or_default().to_owned());
                j += 2;
            } else if self.text(j) == Some("[")
                && matches!(
                    self.kind(j + 1),
                    Some(TokenKind::String | TokenKind::RawString)
                )
                && self.text(j + 2) == Some("]")
            {
                let key = self.text(j + 1).unwrap_or_default();
                path.push(key.trim_matches(|c| c == '"' || c == '`').to_owned());
                j += 3;
            } else {
                return (path, j);
            }
        }
    }

    /// Token `end` closes the expression that started the statement: the
    /// line ends there, or a `;` or `}` follows.
    fn statement_ends(&self, end: usize) -> bool {
        match (
            self.tokens.get(end),
            end.checked_sub(1).and_then(|i| self.tokens.get(i)),
        ) {
            (None, _) => true,
            (Some(next), Some(last)) => {
                next.1.line > last.1.line || matches!(next.1.text(), ";" | "}")
            }
            (Some(_), None) => false,
        }
    }

    /// The names that the `some` or `every` at token `keyword` binds
    /// (`some k, v in ...`).
    fn bound_after(&self, keyword: usize) -> Vec<&str> {
        let mut names = Vec::new();
        let mut k = keyword + 1;
        while self.is_ident(k) && self.text(k) != Some("in") {
            names.extend(self.text(k));
            k += if self.text(k + 1) == Some(",") { 2 } else { 1 };
        }
        names
    }

    /// The names `some`, `every` and `:=` bind in the comprehension that
    /// opens at token `open`; none when it is not a comprehension.
    fn comprehension_bindings(&self, open: usize) -> Vec<&str> {
        let mut names = Vec::new();
        let mut comprehension = false;
        let mut depth = 0usize;
        for j in open + 1..self.tokens.len() {
            match self.text(j) {
                Some("{" | "[" | "(") => depth += 1,
                Some("}" | "]" | ")") if depth == 0 => break,
                Some("}" | "]" | ")") => depth -= 1,
                Some("|") if depth == 0 => comprehension = true,
                Some("some" | "every") => names.extend(self.bound_after(j)),
                Some(":=") if self.is_ident(j - 1) => names.extend(self.text(j - 1)),
                _ => {}
            }
        }
        if comprehension { names } else { Vec::new() }
    }

    fn scan(&self, file: &str, paths: &mut Vec<Vec<String>>) -> Vec<InputFinding> {
        let mut findings = Vec::new();
        let mut aliases: Vec<Alias> = Vec::new();
        let mut depth = 0usize;
        for (i, token) in self.tokens.iter().enumerate() {
            match token.1.text() {
                "{" | "[" | "(" => {
                    depth += 1;
                    // A comprehension's term comes before the body that
                    // binds its variables: hide those names in all of it.
                    for name in self.comprehension_bindings(i) {
                        shadow(&mut aliases, Some(name), depth);
                    }
                }
                "}" | "]" | ")" => {
                    depth = depth.saturating_sub(1);
                    aliases.retain(|a| a.depth <= depth);
                }
                _ => {}
            }
            // `x.input` is a field named input, not the input document.
            let after_dot = i > 0 && self.text(i - 1) == Some(".");
            if token.0 != TokenKind::Ident || after_dot {
                continue;
            }
            let name = token.1.text();
            // Variables that `some` and `every` bind hide aliases of their names.
            if matches!(name, "some" | "every") {
                for bound in self.bound_after(i) {
                    aliases.push(Alias {
                        name: bound.to_owned(),
                        path: None,
                        depth,
                    });
                }
                continue;
            }
            let (base, alias) = if name == "input" {
                (Vec::new(), None)
            } else {
                match aliases.iter().rev().find(|a| a.name == name) {
                    Some(Alias {
                        path: Some(path), ..
                    }) => (path.clone(), Some(name)),
                    _ => (Vec::new(), None),
                }
            };
            let binds = depth > 0
                && i >= 2
                && matches!(self.text(i - 1), Some(":=" | "="))
                && self.is_ident(i - 2)
                && (i < 3 || self.text(i - 3) != Some("."));
            if name != "input" && alias.is_none() {
                if binds {
                    // Bound to something that is not an input path.
                    shadow(&mut aliases, self.text(i - 2), depth);
                }
                continue;
            }
            let (steps, end) = self.steps(i + 1);
            let mut path = base.clone();
            path.extend(steps.iter().cloned());
            paths.push(path.clone());
            let valid = match input::check_path(&path) {
                Ok(()) => true,
                Err(message) => {
                    let (reference, message) = match alias {
                        None => (format!("input.{}", path.join(".")), message),
                        Some(alias) => (
                            std::iter::once(alias.to_owned())
                                .chain(steps.iter().cloned())
                                .collect::<Vec<_>>()
                                .join("."),
                            format!("`{alias}` is `input.{}` here: {message}", base.join(".")),
                        ),
                    };
                    findings.push(InputFinding {
                        file: file.to_owned(),
                        line: token.1.line,
                        col: token.1.col,
                        reference,
                        message,
                    });
                    false
                }
            };
            if binds {
                let target = self.text(i - 2).unwrap_or_default().to_owned();
                if valid && self.statement_ends(end) {
                    aliases.push(Alias {
                        name: target,
                        path: Some(path),
                        depth,
                    });
                } else {
                    shadow(&mut aliases, Some(&target), depth);
                }
            }
        }
        findings
    }
}

fn shadow(aliases: &mut Vec<Alias>, name: Option<&str>, depth: usize) {
    if let Some(name) = name {
        aliases.push(Alias {
            name: name.to_owned(),
            path: None,
            depth,
        });
    }
}

/// The names of the rules each loaded module declares, by package (without
/// `data.`): what the missing-rule check and the test runner read.
pub(crate) fn declared_rules(engine: &mut Engine) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for module in engine.get_modules() {
        let package = module.package.refr.span().text().to_owned();
        for rule in &module.policy {
            let head = match rule.as_ref() {
                Rule::Spec { head, .. } => match head {
                    RuleHead::Compr { refr, .. }
                    | RuleHead::Set { refr, .. }
                    | RuleHead::Func { refr, .. } => refr.span().text(),
                },
                Rule::Default { refr, .. } => refr.span().text(),
            };
            // `obligations.redact` or `deny[x]`: the rule's name is the first part.
            let name = head
                .split(['.', '['])
                .next()
                .unwrap_or(head)
                .trim()
                .to_owned();
            out.push((package.clone(), name));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// The rules, by package, that some definition declares otherwise than as
/// `NAME contains x` (a default, a complete or function rule, a nested
/// reference): those may be undefined, while a rule declared only by
/// `contains` is at least the empty set.
pub(crate) fn maybe_undefined_rules(engine: &mut Engine) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for module in engine.get_modules() {
        let package = module.package.refr.span().text().to_owned();
        for rule in &module.policy {
            let (head, plain_set) = match rule.as_ref() {
                Rule::Spec { head, .. } => match head {
                    RuleHead::Set { refr, key, .. } => {
                        let text = refr.span().text();
                        (text, key.is_some() && !text.contains(['.', '[']))
                    }
                    RuleHead::Compr { refr, .. } | RuleHead::Func { refr, .. } => {
                        (refr.span().text(), false)
                    }
                },
                Rule::Default { refr, .. } => (refr.span().text(), false),
            };
            if !plain_set {
                let name = head.split(['.', '[']).next().unwrap_or(head).trim();
                out.push((package.clone(), name.to_owned()));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn findings(text: &str) -> Vec<InputFinding> {
        unknown_input_fields(&SourceFile::new("p.rego", text)).unwrap()
    }

    #[test]
    fn a_typo_through_an_alias_is_found_with_its_line() {
        let found = findings(
            "package rustchain.authz\nimport rego.v1\n\nallow if {\n\tt := input.tool\n\tt.categroy == \"text\"\n}\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].line, 6);
        assert_eq!(found[0].reference, "t.categroy");
        assert!(
            found[0].message.contains("`t` is `input.tool` here")
                && found[0].message.contains("did you mean `category`"),
            "{}",
            found[0].message
        );
    }

    #[test]
    fn aliases_of_aliases_and_string_keys_are_followed() {
        let found = findings(
            "package p\nimport rego.v1\nallow if {\n\tt = input.tool\n\th := t.hints\n\th[\"readonly\"]\n\th.openWorld\n}\n",
        );
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].reference, "h.readonly");
        assert_eq!(found[0].line, 6);
    }

    #[test]
    fn an_alias_ends_with_its_block_and_rebinding_hides_it() {
        for text in [
            // Another rule's `t` is not this alias.
            "package p\nimport rego.v1\na if {\n\tt := input.tool\n\tt.name\n}\nb if {\n\tt := {\"x\": 1}\n\tt.x\n}\n",
            // A comprehension's own `t`.
            "package p\nimport rego.v1\na if {\n\tt := input.tool\n\txs := [t.x | some t in [{\"x\": 1}]]\n\tt.name\n}\n",
            // Open parts of the input take any field.
            "package p\nimport rego.v1\na if {\n\targs := input.call.arguments\n\targs.whatever.below\n}\n",
            // Not a plain alias: the expression goes on.
            "package p\nimport rego.v1\na if {\n\tn := input.tool.name\n\tm := n\n\tcount(m) > 0\n}\n",
        ] {
            assert_eq!(findings(text), Vec::new(), "{text}");
        }
    }

    #[test]
    fn a_field_of_a_leaf_through_an_alias_is_found() {
        let found =
            findings("package p\nimport rego.v1\na if {\n\tn := input.tool.name\n\tn.first\n}\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].message.contains("is a string"),
            "{}",
            found[0].message
        );
    }
}
