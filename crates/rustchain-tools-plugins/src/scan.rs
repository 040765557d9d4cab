//! The automated security scan a plugin passes before publication.
//!
//! It checks the manifest, the module (size, imports against the requested
//! capabilities, the ABI's exports: the same load-time checks that
//! installing makes), the declared limits and the schemas (exported to
//! every provider format), then runs a fuzz run through the real sandbox:
//! inputs generated from the input schema and mutations of them, each a
//! call in a fresh instance under the plugin's limits, counting what each
//! came to.
//!
//! # Score
//!
//! A plugin **cannot pass** if its manifest cannot be read, its module is
//! refused (an import its capabilities do not cover, a missing export, too
//! large), or any *valid* input (one its input schema accepts) traps, runs
//! out of time, hits the memory limit, replies outside the ABI, or returns
//! a result outside its output schema. Its score is then 0.
//!
//! Otherwise the score starts at 100 and loses:
//! - 30 if no valid input could be generated (nothing vouches for it);
//! - up to 30 in proportion to the invalid inputs that crashed or hung it
//!   (trapped, timed out, hit the memory limit, replied outside the ABI;
//!   the pipeline refuses such inputs before they reach it, so this
//!   measures robustness, not exposure);
//! - 5 for each provider format that cannot express the schemas or changes
//!   what they mean (a renamed tool name, which calls map back, does not
//!   count), at most 20;
//! - 10 for the `fetch` capability and 5 for `readFiles` (what it can reach);
//! - 5 for each capability requested but not imported (least privilege);
//! - 5 if it declares no time or memory limit of its own.
//!
//! It passes with a score of 60 or more.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use rustchain_tools_core::{ToolContext, ToolExecutor};
use rustchain_tools_sandbox::SandboxError;
use rustchain_tools_sandbox::wasm::HostFunction;
use rustchain_tools_schema::CompiledSchema;
use rustchain_tools_schema::export::{ExportOptions, Format, export};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::generate::Generator;
use crate::{MANIFEST_FILE, PluginCall, PluginHost, PluginManifest, PluginTool};

/// The score a plugin needs to pass.
pub const PASSING_SCORE: u8 = 60;

/// How much a scan tries.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// How many distinct valid inputs to generate and run.
    pub valid_inputs: usize,
    /// The generator's seed: the same seed gives the same inputs.
    pub seed: u64,
    /// After this many timeouts in one kind of input, the rest of that kind
    /// is not run (each costs the plugin's whole time limit).
    pub max_timeouts: usize,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            valid_inputs: 48,
            seed: 0x5eed_5ca9,
            max_timeouts: 3,
        }
    }
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckOutcome {
    /// It holds.
    Pass,
    /// It holds with a reservation that lowers the score.
    Warn,
    /// It does not hold: the plugin cannot pass.
    Fail,
}

/// One check and its evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCheck {
    /// What was checked: `manifest`, `module`, `capabilities`, `limits`,
    /// `schema`, `fuzz`.
    pub check: String,
    /// Its outcome.
    pub outcome: CheckOutcome,
    /// What was seen.
    pub detail: String,
}

/// What the calls of one kind of input came to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallCounts {
    /// Calls made.
    pub calls: usize,
    /// Results that match the output schema.
    pub ok: usize,
    /// `{"error": ...}` replies: the plugin refused the input itself.
    pub plugin_errors: usize,
    /// Traps.
    pub traps: usize,
    /// Calls stopped at the time limit.
    pub timeouts: usize,
    /// Calls that hit the memory limit.
    pub memory_limit_hits: usize,
    /// Replies outside the ABI.
    pub malformed_replies: usize,
    /// Results outside the output schema.
    pub output_mismatches: usize,
    /// Calls that could not run (no free instance, a host failure).
    pub not_run: usize,
    /// Inputs left out after too many timeouts.
    pub skipped: usize,
}

impl CallCounts {
    /// Calls that crashed or hung the plugin: traps, timeouts, memory
    /// limit hits, replies outside the ABI.
    pub fn crashes(&self) -> usize {
        self.traps + self.timeouts + self.memory_limit_hits + self.malformed_replies
    }

    /// Crashes and results outside the output schema: on a valid input,
    /// each is a broken contract.
    pub fn failures(&self) -> usize {
        self.crashes() + self.output_mismatches
    }
}

/// One input that made the plugin fail, kept as evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Whether the input schema accepts the input.
    pub valid_input: bool,
    /// The input, cut at 512 bytes.
    pub input: String,
    /// What happened.
    pub outcome: String,
}

/// What a scan found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanReport {
    /// The plugin's name (empty if its manifest could not be read).
    pub plugin: String,
    /// Its version.
    pub version: String,
    /// Whether it may go on to review.
    pub passed: bool,
    /// The security score, 0 to 100 (see the module documentation).
    pub score: u8,
    /// The checks.
    pub checks: Vec<ScanCheck>,
    /// Calls with inputs the input schema accepts.
    pub valid: CallCounts,
    /// Calls with inputs it refuses (mutations).
    pub invalid: CallCounts,
    /// Inputs that made the plugin fail, at most 20.
    pub findings: Vec<Finding>,
    /// How long the scan took, in milliseconds.
    pub took_ms: u64,
}

const MAX_FINDINGS: usize = 20;

/// Scans the plugin in `dir` on `host`.
pub async fn scan(host: &PluginHost, dir: &Path, options: &ScanOptions) -> ScanReport {
    let started = Instant::now();
    let mut report = ScanReport {
        plugin: String::new(),
        version: String::new(),
        passed: false,
        score: 0,
        checks: Vec::new(),
        valid: CallCounts::default(),
        invalid: CallCounts::default(),
        findings: Vec::new(),
        took_ms: 0,
    };

    let manifest = match PluginManifest::read(&dir.join(MANIFEST_FILE)) {
        Ok(manifest) => manifest,
        Err(e) => {
            check(&mut report, "manifest", CheckOutcome::Fail, e.to_string());
            report.took_ms = started.elapsed().as_millis() as u64;
            return report;
        }
    };
    report.plugin = manifest.name.clone();
    report.version = manifest.version.to_string();
    check(
        &mut report,
        "manifest",
        CheckOutcome::Pass,
        format!("{MANIFEST_FILE} reads and checks"),
    );

    let size = std::fs::metadata(dir.join(&manifest.module)).map_or(0, |m| m.len());
    let tool = match host.load(&manifest, dir) {
        Ok(tool) => tool,
        Err(e) => {
            check(&mut report, "module", CheckOutcome::Fail, e.to_string());
            report.took_ms = started.elapsed().as_millis() as u64;
            return report;
        }
    };
    check(
        &mut report,
        "module",
        CheckOutcome::Pass,
        format!(
            "{size} bytes (the limit is {}); imports only the host functions its \
             capabilities request; exports the ABI",
            host.engine().config().max_module_bytes
        ),
    );

    let mut penalty: u32 = 0;
    let requested = tool.requested();
    let imported = tool.imports();
    let unused: Vec<&str> = requested
        .iter()
        .filter(|f| !imported.contains(f))
        .map(|f| f.capability())
        .collect();
    let exposure: u32 = requested
        .iter()
        .map(|f| match f {
            HostFunction::Fetch => 10,
            HostFunction::ReadFile => 5,
            _ => 0,
        })
        .sum();
    penalty += exposure + 5 * unused.len() as u32;
    let reach = if requested.is_empty() {
        "no capabilities: it reaches nothing outside its instance".to_owned()
    } else {
        format!(
            "requests {}",
            requested
                .iter()
                .map(|f| f.capability())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if unused.is_empty() {
        check(&mut report, "capabilities", CheckOutcome::Pass, reach);
    } else {
        check(
            &mut report,
            "capabilities",
            CheckOutcome::Warn,
            format!(
                "{reach}; requested but never imported: {} (drop them from the manifest)",
                unused.join(", ")
            ),
        );
    }

    let limits = &manifest.limits;
    if limits.timeout_ms.is_none() || limits.memory_mib.is_none() {
        penalty += 5;
        check(
            &mut report,
            "limits",
            CheckOutcome::Warn,
            format!(
                "declares {}; the host's defaults apply to what is missing (declare both)",
                match (limits.timeout_ms, limits.memory_mib) {
                    (Some(ms), None) => format!("timeoutMs {ms} but no memoryMib"),
                    (None, Some(mib)) => format!("memoryMib {mib} but no timeoutMs"),
                    _ => "neither timeoutMs nor memoryMib".to_owned(),
                }
            ),
        );
    } else {
        check(
            &mut report,
            "limits",
            CheckOutcome::Pass,
            format!(
                "timeoutMs {}, memoryMib {}",
                limits.timeout_ms.unwrap_or_default(),
                limits.memory_mib.unwrap_or_default()
            ),
        );
    }

    let lint = lint_schemas(&tool);
    penalty += (5 * lint.len() as u32).min(20);
    if lint.is_empty() {
        check(
            &mut report,
            "schema",
            CheckOutcome::Pass,
            "exports faithfully to MCP, OpenAI, OpenAI strict, Anthropic and Gemini".to_owned(),
        );
    } else {
        check(&mut report, "schema", CheckOutcome::Warn, lint.join("; "));
    }

    let metadata = tool.metadata();
    let validator =
        match CompiledSchema::compile_input(metadata.shared_input_schema(), metadata.formats()) {
            Ok(validator) => validator,
            Err(e) => {
                check(&mut report, "schema", CheckOutcome::Fail, e.to_string());
                report.took_ms = started.elapsed().as_millis() as u64;
                return report;
            }
        };
    let (valid, invalid, generated, attempts) =
        inputs(&validator, metadata.input_schema(), options);
    let mut timeouts = 0;
    for input in &valid {
        run_one(
            &tool,
            input,
            true,
            &mut report.valid,
            &mut report.findings,
            &mut timeouts,
            options,
        )
        .await;
    }
    let mut timeouts = 0;
    for input in &invalid {
        run_one(
            &tool,
            input,
            false,
            &mut report.invalid,
            &mut report.findings,
            &mut timeouts,
            options,
        )
        .await;
    }

    let hard = report.valid.failures() > 0;
    let fuzz_detail = format!(
        "{} valid inputs ({generated} generated in {attempts} tries, the rest valid \
         mutations) and {} invalid ones; valid: {} ok, {} plugin errors, {} failures; \
         invalid: {} crashes, {} results outside the output schema",
        valid.len(),
        invalid.len(),
        report.valid.ok,
        report.valid.plugin_errors,
        report.valid.failures(),
        report.invalid.crashes(),
        report.invalid.output_mismatches
    );
    if hard {
        check(
            &mut report,
            "fuzz",
            CheckOutcome::Fail,
            format!("{fuzz_detail}: a valid input crashed, hung or broke the output contract"),
        );
    } else if valid.is_empty() {
        penalty += 30;
        check(
            &mut report,
            "fuzz",
            CheckOutcome::Warn,
            format!(
                "{fuzz_detail}: no generated input satisfied the input schema, so nothing \
                 vouches for it"
            ),
        );
    } else if report.invalid.crashes() > 0 {
        check(&mut report, "fuzz", CheckOutcome::Warn, fuzz_detail);
    } else {
        check(&mut report, "fuzz", CheckOutcome::Pass, fuzz_detail);
    }
    if report.invalid.calls > 0 {
        penalty += (30 * report.invalid.crashes() as u32).div_ceil(report.invalid.calls as u32);
    }

    let failed = report
        .checks
        .iter()
        .any(|c| c.outcome == CheckOutcome::Fail);
    report.score = if failed {
        0
    } else {
        100u32.saturating_sub(penalty) as u8
    };
    report.passed = !failed && report.score >= PASSING_SCORE;
    report.took_ms = started.elapsed().as_millis() as u64;
    report
}

fn check(report: &mut ScanReport, name: &str, outcome: CheckOutcome, detail: String) {
    report.checks.push(ScanCheck {
        check: name.to_owned(),
        outcome,
        detail,
    });
}

/// Warnings from exporting the definition to every provider format.
fn lint_schemas(tool: &PluginTool) -> Vec<String> {
    let definition = tool.metadata().definition();
    let mut warnings = Vec::new();
    for (format, name) in [
        (Format::Mcp, "MCP"),
        (Format::Openai, "OpenAI"),
        (Format::OpenaiStrict, "OpenAI strict"),
        (Format::Anthropic, "Anthropic"),
        (Format::Gemini, "Gemini"),
    ] {
        match export(&definition, ExportOptions::new(format)) {
            Err(e) => warnings.push(format!("{name} cannot express it: {e}")),
            Ok(exported) => {
                // A renamed tool name is mapped back on calls: no change of meaning.
                let changes: Vec<_> = exported
                    .changes
                    .iter()
                    .filter(|c| c.pointer != "name")
                    .collect();
                if let Some(first) = changes.first() {
                    let at = if first.pointer.is_empty() {
                        "/"
                    } else {
                        &first.pointer
                    };
                    warnings.push(format!(
                        "{name} changes what the schema means in {} place(s), first at {at}: {}",
                        changes.len(),
                        first.what
                    ));
                }
            }
        }
    }
    warnings
}

/// Distinct valid inputs, invalid mutations, how many of the valid ones
/// were generated (not mutated) and in how many tries.
fn inputs(
    validator: &CompiledSchema,
    schema: &Value,
    options: &ScanOptions,
) -> (Vec<Value>, Vec<Value>, usize, usize) {
    let mut generator = Generator::new(options.seed);
    let mut seen = HashSet::new();
    let mut valid = Vec::new();
    let mut attempts = 0;
    while valid.len() < options.valid_inputs && attempts < options.valid_inputs * 4 {
        attempts += 1;
        let value = generator.value(schema);
        if validator.is_valid(&value) && seen.insert(value.to_string()) {
            valid.push(value);
        }
    }
    let generated = valid.len();
    let mut invalid = Vec::new();
    let bases: Vec<Value> = if valid.is_empty() {
        vec![Value::Object(Default::default())]
    } else {
        valid.iter().take(4).cloned().collect()
    };
    for base in &bases {
        for mutated in generator.mutations(base) {
            if !seen.insert(mutated.to_string()) {
                continue;
            }
            // A mutation the schema still accepts is a valid input like any.
            if validator.is_valid(&mutated) {
                valid.push(mutated);
            } else {
                invalid.push(mutated);
            }
        }
    }
    (valid, invalid, generated, attempts)
}

async fn run_one(
    tool: &PluginTool,
    input: &Value,
    valid_input: bool,
    counts: &mut CallCounts,
    findings: &mut Vec<Finding>,
    timeouts: &mut usize,
    options: &ScanOptions,
) {
    if *timeouts >= options.max_timeouts {
        counts.skipped += 1;
        return;
    }
    counts.calls += 1;
    let context = ToolContext::new(format!("scan-{}", counts.calls));
    let outcome = match tool.run(input.clone(), &context).await {
        PluginCall::Ok(_) => {
            counts.ok += 1;
            return;
        }
        PluginCall::Error(_) => {
            counts.plugin_errors += 1;
            return;
        }
        PluginCall::OutputMismatch(reasons) => {
            counts.output_mismatches += 1;
            format!("result outside the output schema: {}", reasons.join("; "))
        }
        PluginCall::HostFailure(e) => {
            counts.not_run += 1;
            format!("not run: {e}")
        }
        PluginCall::Stopped(e) => {
            match &e {
                SandboxError::WasmTrap { .. } => counts.traps += 1,
                SandboxError::WasmTimedOut { .. } => {
                    counts.timeouts += 1;
                    *timeouts += 1;
                }
                SandboxError::WasmMemoryExceeded { .. } => counts.memory_limit_hits += 1,
                SandboxError::WasmBadOutput { .. } => counts.malformed_replies += 1,
                _ => counts.not_run += 1,
            }
            e.to_string()
        }
    };
    if findings.len() < MAX_FINDINGS {
        let mut text = input.to_string();
        if text.len() > 512 {
            let mut cut = 512;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push('…');
        }
        findings.push(Finding {
            valid_input,
            input: text,
            outcome,
        });
    }
}
