//! `market finding|reputation|yank|statement`: security findings against
//! published versions and what follows from them, on the client's side.

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};

use crate::market::{MarketClient, MarketRefusal, name_version};

/// `market finding` subcommands.
#[derive(Debug, Subcommand)]
pub enum FindingCommand {
    /// Report a security finding against a published version (users and
    /// security reviewers; not its publisher). It stays private to you, the
    /// publisher and security reviewers until an admin decides it.
    Report {
        /// NAME@VERSION.
        package: String,
        /// low, medium, high or critical.
        #[arg(long)]
        severity: String,
        /// One line: what is wrong.
        #[arg(long)]
        title: String,
        /// How to reproduce it and what it allows.
        #[arg(long, default_value = "")]
        detail: String,
    },
    /// Every finding (security reviewers).
    List {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// One finding (its reporter, the publisher, security reviewers).
    Show {
        /// The finding's number.
        id: i64,
    },
    /// Confirm or dismiss a finding (admin). A confirmation can pay the
    /// reporter a bonus from the review pool and yank the version.
    Decide {
        /// The finding's number.
        id: i64,
        /// It is a vulnerability.
        #[arg(long, conflicts_with = "dismiss", required_unless_present = "dismiss")]
        confirm: bool,
        /// It is not.
        #[arg(long)]
        dismiss: bool,
        /// The reporter's bonus, in minor units (cents).
        #[arg(long, default_value_t = 0, requires = "confirm")]
        bonus: i64,
        /// Yank the version.
        #[arg(long, requires = "confirm")]
        yank: bool,
        /// Why, for the reporter and the publisher.
        #[arg(long, default_value = "")]
        note: String,
    },
}

type Answer = Result<Result<(), MarketRefusal>>;

/// One line about a finding.
fn finding_line(f: &Value) -> String {
    let mut line = format!(
        "finding {} against {}@{}: {} ({}), reported by {}, {}",
        f["id"],
        f["name"].as_str().unwrap_or_default(),
        f["version"].as_str().unwrap_or_default(),
        f["title"].as_str().unwrap_or_default(),
        f["severity"].as_str().unwrap_or_default(),
        f["reporter"].as_str().unwrap_or_default(),
        f["state"].as_str().unwrap_or_default(),
    );
    if f["bonus"].as_i64().unwrap_or(0) > 0 {
        line.push_str(&format!(", bonus {}", f["bonus"]));
    }
    if f["yanked"].as_bool() == Some(true) {
        line.push_str(", version yanked");
    }
    line
}

/// `market finding ...`.
pub fn finding(client: &MarketClient, command: &FindingCommand) -> Answer {
    Ok(match command {
        FindingCommand::Report {
            package,
            severity,
            title,
            detail,
        } => {
            let (name, version) = name_version(package)?;
            client
                .post(
                    &format!("/api/v1/packages/{name}/{version}/findings"),
                    &json!({"severity": severity, "title": title, "detail": detail}),
                )?
                .map(|f| println!("{}", finding_line(&f)))
        }
        FindingCommand::List { json } => client.get("/api/v1/findings")?.map(|v| {
            if *json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return;
            }
            let list = v.as_array().cloned().unwrap_or_default();
            if list.is_empty() {
                println!("no findings");
            }
            for f in &list {
                println!("{}", finding_line(f));
            }
        }),
        FindingCommand::Show { id } => client.get(&format!("/api/v1/findings/{id}"))?.map(|f| {
            println!("{}", finding_line(&f));
            for key in ["detail", "note"] {
                if let Some(text) = f[key].as_str().filter(|t| !t.is_empty()) {
                    println!("{key}: {text}");
                }
            }
        }),
        FindingCommand::Decide {
            id,
            confirm,
            bonus,
            yank,
            note,
            ..
        } => {
            let verdict = if *confirm { "confirm" } else { "dismiss" };
            client
                .post(
                    &format!("/api/v1/findings/{id}/decision"),
                    &json!({"verdict": verdict, "bonus": bonus, "yank": yank, "note": note}),
                )?
                .map(|f| println!("{}", finding_line(&f)))
        }
    })
}

/// `market reputation ACCOUNT`.
pub fn reputation(client: &MarketClient, account: &str, json: bool) -> Answer {
    Ok(client
        .get(&format!("/api/v1/accounts/{account}/reputation"))?
        .map(|r| {
            if json {
                println!("{}", serde_json::to_string_pretty(&r).unwrap_or_default());
                return;
            }
            println!(
                "{account}: reputation {} ({} verdicts held, {} approvals overturned by a \
                 confirmed finding, {} confirmed findings reported)",
                r["score"], r["held"], r["overturned"], r["confirmed_findings"]
            );
        }))
}

/// `market yank NAME@VERSION --reason`.
pub fn yank(client: &MarketClient, package: &str, reason: &str) -> Answer {
    let (name, version) = name_version(package)?;
    Ok(client
        .post(
            &format!("/api/v1/packages/{name}/{version}/yank"),
            &json!({"reason": reason}),
        )?
        .map(|v| {
            println!(
                "{package} is yanked: {}",
                v["yanked"]["reason"].as_str().unwrap_or(reason)
            );
        }))
}

/// `market statement ACCOUNT`.
pub fn statement(client: &MarketClient, account: &str, json: bool) -> Answer {
    Ok(client
        .get(&format!("/api/v1/statements/{account}"))?
        .map(|s| {
            if json {
                println!("{}", serde_json::to_string_pretty(&s).unwrap_or_default());
                return;
            }
            println!("{account}: balance {} (minor units)", s["balance"]);
            for line in s["lines"].as_array().into_iter().flatten() {
                println!(
                    "  #{} {} {}: {:+} → {}",
                    line["seq"],
                    line["kind"].as_str().unwrap_or_default(),
                    line["id"].as_str().unwrap_or_default(),
                    line["amount"].as_i64().unwrap_or(0),
                    line["balance"]
                );
            }
        }))
}
