//! `market search|packages|categories|featured|related|recommended|compat`:
//! finding packages in the market, on the client's side.

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

use crate::market::{MarketClient, MarketRefusal};

/// The discovery subcommands of `market`.
#[derive(Debug, Subcommand)]
pub enum BrowseCommand {
    /// Search the published packages: semantic where the market has an
    /// embedding model, lexical otherwise (and it says so).
    Search {
        /// What the tool should do, in your words.
        #[arg(required = true)]
        query: Vec<String>,
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print the answer as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The published packages, by name.
    Packages {
        /// Only this category.
        #[arg(long)]
        category: Option<String>,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The categories, with how many packages each has.
    Categories,
    /// The packages whose quality earned featured placement, with the
    /// figures that earned it.
    Featured,
    /// The packages the users of a package also use.
    Related {
        /// The package's name.
        name: String,
    },
    /// What an account might use next, from its reported use (that
    /// account's token).
    Recommended {
        /// The account.
        account: String,
    },
    /// Which versions of a package work with which framework versions.
    Compat {
        /// The package's name.
        name: String,
    },
}

fn query(pairs: &[(&str, Option<&str>)]) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs {
        if let Some(value) = value {
            query.append_pair(key, value);
        }
    }
    let query = query.finish();
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_default()
}

fn listing_line(p: &Value) -> String {
    format!(
        "{} {} by {} [{}]  {}",
        text(p, "name"),
        text(p, "latest"),
        text(p, "publisher"),
        text(p, "category"),
        text(p, "description")
    )
}

fn print_pretty(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// Runs a discovery command.
pub fn browse(client: &MarketClient, command: &BrowseCommand) -> Result<Result<(), MarketRefusal>> {
    Ok(match command {
        BrowseCommand::Search {
            query: words,
            category,
            limit,
            json,
        } => {
            let limit = limit.to_string();
            let path = format!(
                "/api/v1/packages{}",
                query(&[
                    ("q", Some(&words.join(" "))),
                    ("category", category.as_deref()),
                    ("limit", Some(&limit)),
                ])
            );
            client.get(&path)?.map(|v| {
                if let Some(notice) = v["notice"].as_str() {
                    eprintln!("warning: {notice}");
                }
                if *json {
                    return print_pretty(&v);
                }
                let results = v["results"].as_array().cloned().unwrap_or_default();
                if results.is_empty() {
                    println!("no package matches");
                }
                for p in &results {
                    println!("{}", listing_line(p));
                    let why: Vec<&str> = p["why"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .collect();
                    if !why.is_empty() {
                        println!("    why: {}", why.join("; "));
                    }
                }
            })
        }
        BrowseCommand::Packages { category, json } => {
            let path = format!(
                "/api/v1/packages{}",
                query(&[("category", category.as_deref())])
            );
            client.get(&path)?.map(|v| {
                if *json {
                    return print_pretty(&v);
                }
                let list = v.as_array().cloned().unwrap_or_default();
                if list.is_empty() {
                    println!("no packages are published");
                }
                for p in &list {
                    println!("{}", listing_line(p));
                }
            })
        }
        BrowseCommand::Categories => client.get("/api/v1/categories")?.map(|v| {
            for c in v.as_array().into_iter().flatten() {
                println!("{} ({})", text(c, "category"), c["packages"]);
            }
        }),
        BrowseCommand::Featured => client.get("/api/v1/featured")?.map(|v| {
            let packages = v["packages"].as_array().cloned().unwrap_or_default();
            if packages.is_empty() {
                println!("no package is featured");
            }
            for p in &packages {
                let earned = &p["earned"];
                println!(
                    "{}: {:.2} stars from {} users, {} calls, security score {}",
                    listing_line(p),
                    earned["weightedRating"].as_f64().unwrap_or_default(),
                    earned["ratings"],
                    earned["calls"],
                    earned["securityScore"]
                );
            }
            println!("featured when {}", text(&v, "rule"));
        }),
        BrowseCommand::Related { name } => client
            .get(&format!("/api/v1/packages/{name}/related"))?
            .map(|v| {
                let used = v["usedTogether"].as_array().cloned().unwrap_or_default();
                if used.is_empty() {
                    println!("no reported use links {name} to other packages yet");
                }
                for p in &used {
                    println!(
                        "{} (used by {} of its accounts)",
                        listing_line(p),
                        p["accounts"]
                    );
                }
            }),
        BrowseCommand::Recommended { account } => client
            .get(&format!("/api/v1/accounts/{account}/recommendations"))?
            .map(|v| {
                let packages = v["packages"].as_array().cloned().unwrap_or_default();
                if packages.is_empty() {
                    println!("nothing to recommend yet");
                } else if v["basis"] == "popular" {
                    println!(
                        "{account} has reported no use that others share: the most used packages"
                    );
                }
                for p in &packages {
                    println!("{} ({} accounts)", listing_line(p), p["accounts"]);
                }
            }),
        BrowseCommand::Compat { name } => client
            .get(&format!("/api/v1/packages/{name}/compatibility"))?
            .map(|v| {
                let frameworks: Vec<&str> = v["frameworks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                println!(
                    "framework versions: {} (this market runs {})",
                    frameworks.join(", "),
                    text(&v, "running")
                );
                for row in v["versions"].as_array().into_iter().flatten() {
                    let works: Vec<&str> = frameworks
                        .iter()
                        .zip(row["works"].as_array().into_iter().flatten())
                        .filter(|(_, w)| w.as_bool() == Some(true))
                        .map(|(f, _)| *f)
                        .collect();
                    println!(
                        "{name}@{}{} ({}): works with {}",
                        text(row, "version"),
                        if row["yanked"] == true {
                            " (yanked)"
                        } else {
                            ""
                        },
                        text(row, "range"),
                        if works.is_empty() {
                            "none of them".to_owned()
                        } else {
                            works.join(", ")
                        }
                    );
                }
            }),
    })
}
