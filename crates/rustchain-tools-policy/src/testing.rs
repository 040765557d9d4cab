//! Running the Rego unit tests (`test_` rules) of a set of policies, as
//! `opa test` does, and checking a directory without loading it for use.

use std::path::Path;

use regorus::Value;
use serde::Serialize;

use crate::{
    PolicyConfig, PolicyError,
    engine::load_sources,
    sources::{self, Kind},
};

/// The outcome of one `test_` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TestOutcome {
    /// `data.PACKAGE.test_NAME`.
    pub rule: String,
    /// The rule evaluated to `true`.
    pub passed: bool,
    /// Why it failed (false, undefined, or the evaluation error).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Every test rule's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TestReport {
    /// One entry per `test_` rule, sorted by rule.
    pub outcomes: Vec<TestOutcome>,
}

impl TestReport {
    /// True when there were tests and all passed.
    pub fn passed(&self) -> bool {
        !self.outcomes.is_empty() && self.outcomes.iter().all(|o| o.passed)
    }

    /// The failed tests.
    pub fn failures(&self) -> impl Iterator<Item = &TestOutcome> {
        self.outcomes.iter().filter(|o| !o.passed)
    }
}

/// Loads the policies `config` names together with their `*_test.rego`
/// modules and evaluates every rule whose name starts with `test_`.
pub fn run_policy_tests(config: &PolicyConfig) -> Result<TestReport, PolicyError> {
    let files = config.sources()?;
    let mut loaded = load_sources(&files, true)?;
    let rules = sources::declared_rules(&mut loaded.engine);
    let mut outcomes = Vec::new();
    for (package, name) in rules {
        if !name.starts_with("test_") {
            continue;
        }
        let rule = format!("data.{package}.{name}");
        let (passed, message) = match loaded.engine.eval_rule(rule.clone()) {
            Ok(Value::Bool(true)) => (true, None),
            Ok(Value::Undefined) => (false, Some("undefined (a condition failed)".to_owned())),
            Ok(other) => (false, Some(format!("yielded {other}"))),
            Err(e) => (false, Some(e.to_string())),
        };
        outcomes.push(TestOutcome {
            rule,
            passed,
            message,
        });
    }
    outcomes.sort_by(|a, b| a.rule.cmp(&b.rule));
    Ok(TestReport { outcomes })
}

/// What `policy check DIR` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The files checked.
    pub files: Vec<String>,
    /// Every problem, each one that loading would refuse.
    pub problems: Vec<PolicyError>,
}

/// Checks every `.rego` and `.json` file below `dir` as loading would, but
/// reports every problem rather than the first: syntax errors, packages
/// RustChain does not read, input fields the documented input never has,
/// data documents that are not JSON objects. Test modules are checked too
/// (their package is free). Fails only when `dir` cannot be read.
pub fn check_policy_dir(dir: &Path) -> Result<CheckReport, PolicyError> {
    let files = sources::read_dir(dir)?;
    let mut report = CheckReport {
        files: files.iter().map(|f| f.name.clone()).collect(),
        problems: Vec::new(),
    };
    for file in &files {
        let problem = match file.kind {
            Kind::Data => serde_json::from_str::<serde_json::Value>(&file.text)
                .map_err(|e| e.to_string())
                .and_then(|v| {
                    if v.is_object() {
                        Ok(())
                    } else {
                        Err("a data document must be a JSON object".to_owned())
                    }
                })
                .err()
                .map(|message| PolicyError::Data {
                    file: file.name.clone(),
                    message,
                }),
            Kind::Rego | Kind::RegoTest => {
                let mut engine = regorus::Engine::new();
                match sources::add_module(&mut engine, file) {
                    Err(e) => Some(e),
                    Ok(package) => {
                        match sources::unknown_input_fields(file) {
                            Ok(findings) if !findings.is_empty() => report
                                .problems
                                .push(PolicyError::UnknownInputFields { findings }),
                            Ok(_) => {}
                            Err(e) => report.problems.push(e),
                        }
                        if file.kind == Kind::Rego {
                            sources::check_package(file, &package).err()
                        } else {
                            None
                        }
                    }
                }
            }
        };
        report.problems.extend(problem);
    }
    Ok(report)
}
