//! `publish check|keygen|sign|pack|verify|submit|status`: the publisher's side
//! of the marketplace.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::Subcommand;
use rustchain_tools::plugins::examples::{markdown, read_examples, run_examples};
use rustchain_tools::plugins::scan::{CheckOutcome, ScanOptions, scan};
use rustchain_tools::plugins::{MANIFEST_FILE, PluginManifest};
use rustchain_tools_market::package::{
    SigningKey, generate_key, read_dir, secret_key_from_hex, secret_key_to_hex,
};
use rustchain_tools_market::{
    PackageBundle, PackageDigest, PublisherKey, ReviewKind, SignedPackage, Submission,
    SubmissionState,
};
use serde_json::json;

use crate::exit;
use crate::market::{MarketClient, MarketFlags, submission_line, write_secret};
use crate::plugin::{config, host, root};

/// `publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The configuration file whose `[plugins]` section to use (default:
    /// ./rustchain.toml when there is one).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    market: MarketFlags,
    #[command(subcommand)]
    command: PublishCommand,
}

/// `publish` subcommands.
#[derive(Debug, Subcommand)]
pub enum PublishCommand {
    /// Check a plugin before submitting it: the security scan (manifest,
    /// module imports against capabilities, limits, schemas exported to
    /// every provider, a fuzz run in the sandbox), its examples
    /// (examples/*.json) run against it, and its docs generated. Exits 1
    /// when it would not pass.
    Check {
        /// The plugin directory.
        dir: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Write the generated Markdown docs to FILE.
        #[arg(long, value_name = "FILE")]
        docs: Option<PathBuf>,
    },
    /// Make an Ed25519 signing key: the secret goes to FILE (readable by
    /// you only), the public key, to register with the market, is printed.
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a package directory as PUBLISHER: prints (or writes) the
    /// signature of its name, version and content digest.
    Sign {
        /// The plugin directory.
        dir: PathBuf,
        /// The secret key file from `publish keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Your publisher id in the market.
        #[arg(long)]
        publisher: String,
        /// Write the signature to FILE instead of printing it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Sign a package directory and write it as one file (the package's
    /// files and signature, as JSON): what `publish submit` sends, and what
    /// the market's dashboard page uploads.
    Pack {
        /// The plugin directory.
        dir: PathBuf,
        /// The secret key file from `publish keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Your publisher id in the market.
        #[arg(long)]
        publisher: String,
        /// Where to write the package.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a package directory and submit it to the market (your
    /// publisher token): the market verifies it, runs the security scan
    /// and puts it in review, or rejects it with the scan's evidence.
    Submit {
        /// The plugin directory.
        dir: PathBuf,
        /// The secret key file from `publish keygen`.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Your publisher id in the market.
        #[arg(long)]
        publisher: String,
        /// Print the submission as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a submission stands: its state, scan score and reviews.
    Status {
        /// The submission's number.
        id: i64,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Verify a package directory against a signature and a public key.
    Verify {
        /// The plugin directory.
        dir: PathBuf,
        /// The signature file from `publish sign`.
        #[arg(long, value_name = "FILE")]
        signature: PathBuf,
        /// The publisher's public key (64 hex digits).
        #[arg(long, value_name = "HEX")]
        public_key: String,
    },
}

/// `publish ...`.
pub fn run(args: &PublishArgs) -> Result<u8> {
    match &args.command {
        PublishCommand::Check { dir, json, docs } => check(args, dir, *json, docs.as_deref()),
        PublishCommand::Keygen { out } => keygen(out),
        PublishCommand::Submit {
            dir,
            key,
            publisher,
            json,
        } => {
            let bundle = pack(dir, key, publisher)?;
            let client = MarketClient::new(&args.market)?;
            show_submission(client.post("/api/v1/submissions", &bundle)?, *json)
        }
        PublishCommand::Pack {
            dir,
            key,
            publisher,
            out,
        } => {
            let bundle = pack(dir, key, publisher)?;
            std::fs::write(out, serde_json::to_vec(&bundle)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let package = &bundle.package;
            println!(
                "packed {}@{} ({}) signed by {publisher}: {}",
                package.name,
                package.version,
                package.digest,
                out.display()
            );
            Ok(exit::SUCCESS)
        }
        PublishCommand::Status { id, json } => {
            let client = MarketClient::new(&args.market)?;
            show_submission(client.get(&format!("/api/v1/submissions/{id}"))?, *json)
        }
        PublishCommand::Sign {
            dir,
            key,
            publisher,
            out,
        } => {
            let signed = sign(dir, key, publisher)?;
            let text = serde_json::to_string_pretty(&signed)? + "\n";
            match out {
                Some(out) => {
                    std::fs::write(out, text)
                        .with_context(|| format!("cannot write {}", out.display()))?;
                    println!(
                        "signed {}@{} ({}) as {publisher}: {}",
                        signed.name,
                        signed.version,
                        signed.digest,
                        out.display()
                    );
                }
                None => print!("{text}"),
            }
            Ok(exit::SUCCESS)
        }
        PublishCommand::Verify {
            dir,
            signature,
            public_key,
        } => {
            let text = std::fs::read_to_string(signature)
                .with_context(|| format!("cannot read {}", signature.display()))?;
            let signed: SignedPackage = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a package signature", signature.display()))?;
            let key = PublisherKey::from_hex(&signed.publisher, public_key)?;
            let files = read_dir(dir)?;
            match signed.verify(&[key], Some(&files)) {
                Ok(()) => {
                    println!(
                        "verified {}@{} ({}) signed by {}",
                        signed.name, signed.version, signed.digest, signed.publisher
                    );
                    Ok(exit::SUCCESS)
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    Ok(exit::TOOL_FAILED)
                }
            }
        }
    }
}

fn check(args: &PublishArgs, dir: &Path, json: bool, docs: Option<&Path>) -> Result<u8> {
    let loaded = config(args.config.as_deref())?;
    let host = host(&loaded, &root(&loaded))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(scan(&host, dir, &ScanOptions::default()));
    // Examples and docs need a plugin that loads; the scan said why not.
    let mut docs_written = false;
    let (examples, runs) = match PluginManifest::read(&dir.join(MANIFEST_FILE))
        .ok()
        .and_then(|m| host.load(&m, dir).ok().map(|tool| (m, tool)))
    {
        Some((manifest, tool)) => {
            let examples = read_examples(dir)?;
            let runs = runtime.block_on(run_examples(&tool, &examples));
            if let Some(docs) = docs {
                std::fs::write(docs, markdown(&manifest, &examples))
                    .with_context(|| format!("cannot write {}", docs.display()))?;
                docs_written = true;
            }
            (examples, runs)
        }
        None => (Vec::new(), Vec::new()),
    };
    let examples_pass = runs.iter().all(|r| r.passed);
    let passed = report.passed && examples_pass;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "passed": passed,
                "scan": report,
                "examples": runs,
            }))?
        );
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "{} {}: security score {} of 100, scan {} in {} ms",
            if report.plugin.is_empty() {
                dir.display().to_string()
            } else {
                report.plugin.clone()
            },
            report.version,
            report.score,
            if report.passed { "passed" } else { "FAILED" },
            report.took_ms
        )?;
        for c in &report.checks {
            let mark = match c.outcome {
                CheckOutcome::Pass => "ok  ",
                CheckOutcome::Warn => "warn",
                CheckOutcome::Fail => "FAIL",
            };
            writeln!(out, "  {mark} {:12} {}", c.check, c.detail)?;
        }
        for finding in report.findings.iter().filter(|f| f.valid_input).take(5) {
            writeln!(
                out,
                "  valid input {} -> {}",
                finding.input, finding.outcome
            )?;
        }
        if examples.is_empty()
            && report
                .checks
                .iter()
                .all(|c| c.outcome != CheckOutcome::Fail)
        {
            writeln!(
                out,
                "  warn examples     none in examples/*.json (add some: they are run and shown in the docs)"
            )?;
        }
        for run in &runs {
            match &run.problem {
                None => writeln!(out, "  ok   example      {}", run.file)?,
                Some(problem) => writeln!(out, "  FAIL example      {}: {problem}", run.file)?,
            }
        }
        if let Some(docs) = docs.filter(|_| docs_written) {
            writeln!(out, "  docs written to {}", docs.display())?;
        }
        writeln!(
            out,
            "{}",
            if passed {
                "ready to submit"
            } else {
                "not ready: fix what is marked FAIL"
            }
        )?;
    }
    Ok(if passed {
        exit::SUCCESS
    } else {
        exit::TOOL_FAILED
    })
}

fn keygen(out: &Path) -> Result<u8> {
    let key = generate_key()?;
    write_secret(out, &secret_key_to_hex(&key))?;
    let public = PublisherKey {
        publisher: String::new(),
        key: key.verifying_key(),
    };
    println!(
        "secret key written to {} (keep it; it is not shown again)",
        out.display()
    );
    println!(
        "public key {} (key id {})",
        public.to_hex(),
        public.key_id()
    );
    Ok(exit::SUCCESS)
}

/// `dir`'s files, signed as `publisher` with the key in `key`.
fn pack(dir: &Path, key: &Path, publisher: &str) -> Result<PackageBundle> {
    Ok(PackageBundle::new(
        sign(dir, key, publisher)?,
        &read_dir(dir)?,
    ))
}

/// The signature of `dir`'s name, version and digest as `publisher`.
fn sign(dir: &Path, key: &Path, publisher: &str) -> Result<SignedPackage> {
    let key = read_key(key)?;
    let (manifest, digest) = digest(dir)?;
    Ok(SignedPackage::sign(
        &key,
        publisher,
        &manifest.name,
        &manifest.version.to_string(),
        digest,
    ))
}

fn read_key(path: &Path) -> Result<SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    secret_key_from_hex(&text)
        .with_context(|| format!("{} is not a key from `publish keygen`", path.display()))
}

/// The manifest and content digest of the package in `dir`.
fn digest(dir: &Path) -> Result<(PluginManifest, PackageDigest)> {
    let manifest = PluginManifest::read(&dir.join(MANIFEST_FILE))?;
    let files = read_dir(dir)?;
    Ok((manifest, PackageDigest::of(&files)?))
}

/// Prints a submission the market answered with; exits 1 when it was
/// rejected.
fn show_submission(
    answer: Result<serde_json::Value, crate::market::MarketRefusal>,
    json: bool,
) -> Result<u8> {
    let value = match answer {
        Ok(value) => value,
        Err(refusal) => return Ok(refusal.report()),
    };
    let submission: Submission =
        serde_json::from_value(value).context("the market's answer is not a submission")?;
    if json {
        println!("{}", serde_json::to_string_pretty(&submission)?);
    } else {
        println!("{}", submission_line(&submission));
        for kind in [ReviewKind::Security, ReviewKind::Quality] {
            println!("  {kind} approvals: {}", submission.approvals(kind));
        }
        for review in &submission.reviews {
            println!(
                "  {} review by {}: {} {}",
                review.kind, review.reviewer, review.verdict, review.note
            );
        }
        if submission.state == SubmissionState::Rejected
            && let Some(checks) = submission.scan["checks"].as_array()
        {
            for check in checks.iter().filter(|c| c["outcome"] != "pass") {
                println!(
                    "  scan {} {}: {}",
                    check["outcome"].as_str().unwrap_or_default(),
                    check["check"].as_str().unwrap_or_default(),
                    check["detail"].as_str().unwrap_or_default()
                );
            }
        }
    }
    Ok(if submission.state == SubmissionState::Rejected {
        exit::TOOL_FAILED
    } else {
        exit::SUCCESS
    })
}
