//! The one error type of the crate: why policies could not be loaded,
//! checked or tested.

use std::path::PathBuf;

use thiserror::Error;

/// Why a set of policies could not be loaded (a loaded engine never fails a
/// decision: it denies with the reason instead).
#[derive(Debug, Clone, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// A file or directory of policies could not be read.
    #[error("cannot read policy source {}: {message}", .path.display())]
    Read {
        /// The file or directory.
        path: PathBuf,
        /// What the operating system said.
        message: String,
    },
    /// A Rego module does not parse; the message names file, line and column.
    #[error("policy syntax error: {message}")]
    Syntax {
        /// The file as it was loaded.
        file: String,
        /// regorus's message, with file, line, column and the line itself.
        message: String,
    },
    /// A data document (JSON) does not parse or conflicts with another one.
    #[error("policy data error in {file}: {message}")]
    Data {
        /// The file as it was loaded.
        file: String,
        /// What is wrong with it.
        message: String,
    },
    /// A module declares a package RustChain does not read, so its rules
    /// would silently never apply.
    #[error(
        "{file}:{line}: package `{package}` is not one RustChain reads; use `rustchain.authz` \
         (rules that allow or deny), `rustchain.profiles.NAME` (a compliance profile) or \
         `rustchain.lib...` (helpers)"
    )]
    WrongPackage {
        /// The file as it was loaded.
        file: String,
        /// The line of its package declaration.
        line: u32,
        /// The package it declares, without `data.`.
        package: String,
    },
    /// A rule the decision needs is declared nowhere.
    #[error("no module declares the rule `{rule}`; {hint}")]
    MissingRule {
        /// The full path of the rule, such as `data.rustchain.authz.allow`.
        rule: String,
        /// What to add.
        hint: String,
    },
    /// A profile was asked for that no loaded module provides.
    #[error("unknown compliance profile `{profile}` (known: {})", .known.join(", "))]
    UnknownProfile {
        /// The profile asked for.
        profile: String,
        /// The profiles the loaded modules provide.
        known: Vec<String>,
    },
    /// Rules read fields of `input` that the documented input never has (a
    /// typo such as `input.tool.categroy`); such a rule would never match.
    #[error("policies read input fields that do not exist: {}", list(.findings))]
    UnknownInputFields {
        /// Every reference found, with file and line.
        findings: Vec<InputFinding>,
    },
    /// The thread that watches policy files could not be started.
    #[error("cannot watch the policy files: {message}")]
    Watch {
        /// What the operating system said.
        message: String,
    },
    /// regorus could not prepare the policies for evaluation.
    #[error("policies could not be prepared: {message}")]
    Prepare {
        /// regorus's message.
        message: String,
    },
}

/// A reference to an input field the documented input does not have.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputFinding {
    /// The file as it was loaded.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
    /// The reference as written, such as `input.tool.categroy`.
    pub reference: String,
    /// Why it cannot match and what exists instead.
    pub message: String,
}

impl std::fmt::Display for InputFinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: `{}`: {}",
            self.file, self.line, self.col, self.reference, self.message
        )
    }
}

fn list(findings: &[InputFinding]) -> String {
    findings
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
