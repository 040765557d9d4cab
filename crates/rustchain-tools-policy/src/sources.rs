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

/// Every `input.` reference in `file` that the documented input never has.
pub(crate) fn unknown_input_fields(file: &SourceFile) -> Result<Vec<InputFinding>, PolicyError> {
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
    let text = |i: usize| tokens.get(i).map(|t| t.1.text());
    let kind = |i: usize| tokens.get(i).map(|t| t.0.clone());
    let mut findings = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        // `x.input` is a field named input, not the input document.
        let after_dot = i > 0 && text(i - 1) == Some(".");
        if token.0 != TokenKind::Ident || token.1.text() != "input" || after_dot {
            continue;
        }
        let mut path = Vec::new();
        let mut j = i + 1;
        loop {
            if text(j) == Some(".") && kind(j + 1) == Some(TokenKind::Ident) {
                path.push(text(j + 1).unwrap_or_default().to_owned());
                j += 2;
            } else if text(j) == Some("[")
                && matches!(kind(j + 1), Some(TokenKind::String | TokenKind::RawString))
                && text(j + 2) == Some("]")
            {
                let key = text(j + 1).unwrap_or_default();
                path.push(key.trim_matches(|c| c == '"' || c == '`').to_owned());
                j += 3;
            } else {
                break;
            }
        }
        if let Err(message) = input::check_path(&path) {
            findings.push(InputFinding {
                file: file.name.clone(),
                line: token.1.line,
                col: token.1.col,
                reference: format!("input.{}", path.join(".")),
                message,
            });
        }
    }
    Ok(findings)
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
