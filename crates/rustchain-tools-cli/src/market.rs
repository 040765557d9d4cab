//! `market serve|account|key|queue|review|report|rate|metrics` (and
//! `finding|reputation|yank|statement`, in [`crate::findings`]; `search`,
//! `packages` and the other discovery commands, in [`crate::browse`]):
//! running the market, and its clients' side for admins, reviewers and
//! users. [`MarketClient`] is
//! also what `publish submit|status` and `plugin install` talk through.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use rustchain_tools_market::{MarketStore, ReviewRules, Submission};
use rustchain_tools_market_server::{
    BlobStore, FsBlobStore, MarketServer, S3BlobStore, S3Location, market_policy,
};
use serde_json::{Value, json};

use crate::exit;
use crate::plugin::{config, host, root};
use crate::settings::Settings;

/// Where the market is and who is asking.
#[derive(Debug, Clone, clap::Args)]
pub struct MarketFlags {
    /// The market's address.
    #[arg(
        long = "market",
        global = true,
        env = "RUSTCHAIN_MARKET_URL",
        default_value = "http://127.0.0.1:8700",
        value_name = "URL"
    )]
    pub url: String,
    /// Your API token (from `market account add`).
    #[arg(
        long,
        global = true,
        env = "RUSTCHAIN_MARKET_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub token: Option<String>,
}

/// `market`.
#[derive(Debug, clap::Args)]
pub struct MarketArgs {
    #[command(flatten)]
    flags: MarketFlags,
    #[command(subcommand)]
    command: MarketCommand,
}

/// `market` subcommands.
#[derive(Debug, Subcommand)]
pub enum MarketCommand {
    /// Serve the market's HTTP API. A fresh market makes an `admin` account
    /// and writes its token to market/admin.token in the data directory.
    Serve {
        /// Where to listen.
        #[arg(long, default_value = "127.0.0.1:8700", value_name = "ADDR")]
        addr: String,
        /// The database: sqlite://PATH?mode=rwc or postgres://... (default:
        /// market/market.db in the data directory).
        #[arg(long, value_name = "URL")]
        db: Option<String>,
        /// Where packages' files are kept (default: market/blobs in the
        /// data directory).
        #[arg(long, value_name = "DIR")]
        blobs: Option<PathBuf>,
        /// Keep packages' files in this bucket of an S3-compatible store
        /// instead, signing with the keys in AWS_ACCESS_KEY_ID and
        /// AWS_SECRET_ACCESS_KEY.
        #[arg(long, value_name = "BUCKET", conflicts_with = "blobs")]
        s3_bucket: Option<String>,
        /// The S3-compatible store's endpoint (default: AWS S3 in the
        /// region, https://s3.REGION.amazonaws.com).
        #[arg(long, value_name = "URL", requires = "s3_bucket")]
        s3_endpoint: Option<String>,
        /// The region requests are signed for (default: AWS_REGION, else
        /// us-east-1).
        #[arg(long, value_name = "REGION", requires = "s3_bucket")]
        s3_region: Option<String>,
        /// A directory of Rego files to use instead of the shipped market
        /// policy.
        #[arg(long, value_name = "DIR")]
        policy: Option<PathBuf>,
        /// Security approvals a submission needs.
        #[arg(long, default_value_t = 1)]
        security_approvals: u32,
        /// Quality approvals a submission needs.
        #[arg(long, default_value_t = 1)]
        quality_approvals: u32,
        /// The least reputation a reviewer needs for a verdict (reviewers
        /// start at 0; an approval of a version later found vulnerable
        /// costs 5).
        #[arg(long, default_value_t = 0, allow_negative_numbers = true)]
        min_reputation: i64,
        /// The configuration file whose `[plugins]` section the scan uses.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The embedding model for package search, a directory or an
        /// installed model's name (default: the installed default model, if
        /// any; without one search is lexical).
        #[arg(long, value_name = "DIR|NAME")]
        model: Option<String>,
        /// Search packages by words only, even if a model is installed.
        #[arg(long, conflicts_with = "model")]
        lexical: bool,
    },
    /// Manage accounts (admin).
    #[command(subcommand)]
    Account(AccountCommand),
    /// Register a publisher's signing key (the publisher's token).
    Key {
        /// The publisher.
        #[arg(long)]
        publisher: String,
        /// The public key from `publish keygen` (64 hex digits).
        #[arg(long, value_name = "HEX")]
        public_key: String,
    },
    /// The submissions waiting for review (reviewers).
    Queue {
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Approve or reject a submission (reviewers).
    Review {
        /// The submission's number.
        id: i64,
        /// What you vouch for: security or quality.
        #[arg(long)]
        kind: String,
        /// Approve it.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        /// Reject it.
        #[arg(long)]
        reject: bool,
        /// Your note.
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Search and browse the published packages.
    #[command(flatten)]
    Browse(crate::browse::BrowseCommand),
    /// Report your use of installed market packages: their calls in your
    /// audit log (verified first), per version, with errors, timeouts and
    /// latencies; nothing else from the log leaves the machine. A report
    /// counts the whole log and replaces your last one (needs the `user`
    /// role).
    Report {
        /// The audit log (default: the one `call` records to).
        #[arg(long, value_name = "FILE")]
        audit: Option<String>,
        /// The configuration file whose `[plugins]` section lists what is
        /// installed.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
    /// Rate a package version you use, 1 to 5 stars with an optional
    /// written review; your rating weighs by the calls you reported (needs
    /// the `user` role).
    Rate {
        /// NAME@VERSION.
        package: String,
        /// 1 to 5.
        #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
        stars: u8,
        /// What you would tell other users.
        #[arg(long, default_value = "")]
        review: String,
    },
    /// Buy a package whose version has a purchase price (`price.purchase`
    /// in its manifest): once per account, at that version's price; then
    /// `plugin install` with your token downloads it (needs the `user`
    /// role).
    Buy {
        /// NAME@VERSION.
        package: String,
    },
    /// A version's quality metrics: reported calls, failure rate, latency
    /// percentiles, ratings.
    Metrics {
        /// NAME@VERSION.
        package: String,
        /// Print them as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Security findings: report one, list or show them, decide one (admin).
    #[command(subcommand)]
    Finding(crate::findings::FindingCommand),
    /// An account's reputation as a reviewer: verdicts that held, approvals
    /// overturned by a confirmed finding, confirmed findings it reported.
    Reputation {
        /// The account.
        account: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Yank a version you published: it stays readable, marked with the
    /// reason, and `plugin install NAME` no longer picks it.
    Yank {
        /// NAME@VERSION.
        package: String,
        /// Why, for its users.
        #[arg(long)]
        reason: String,
    },
    /// What the ledger moved on your account: publisher:ID, reviewer:ID or
    /// customer:ID.
    Statement {
        /// The ledger account.
        account: String,
        /// Print it as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `market account` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Add an account; prints its API token (shown only once).
    Add {
        /// Its id (a publisher's id is its publisher name).
        id: String,
        /// A role: publisher, security-reviewer, quality-reviewer, user,
        /// admin (repeat for more).
        #[arg(long = "role", required = true)]
        roles: Vec<String>,
    },
    /// Link an account to a publisher: it may no longer review that
    /// publisher's packages.
    Link {
        /// The account.
        id: String,
        /// The publisher.
        #[arg(long)]
        publisher: String,
    },
}

/// A refusal or failure the market answered with.
#[derive(Debug)]
pub struct MarketRefusal {
    /// The HTTP status.
    pub status: u16,
    /// What it said.
    pub message: String,
}

impl MarketRefusal {
    /// The exit code: 3 when the market denied it, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if (401..=403).contains(&self.status) {
            exit::DENIED
        } else {
            exit::TOOL_FAILED
        }
    }

    /// Prints it on stderr and gives the exit code.
    pub fn report(&self) -> u8 {
        eprintln!(
            "error: the market refused it ({}): {}",
            self.status, self.message
        );
        self.exit_code()
    }
}

/// A client of the market's JSON API.
pub struct MarketClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl MarketClient {
    /// A client for the market `flags` name.
    pub fn new(flags: &MarketFlags) -> Result<MarketClient> {
        let tls = rustchain_tools::sandbox::net::tls_client_config()?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .user_agent(concat!("rustchain-tools/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(MarketClient {
            base: flags.url.trim_end_matches('/').to_owned(),
            token: flags.token.clone(),
            http,
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?,
        })
    }

    /// GETs `path`.
    pub fn get(&self, path: &str) -> Result<Result<Value, MarketRefusal>> {
        self.send(self.http.get(format!("{}{path}", self.base)))
    }

    /// POSTs `body` as JSON to `path`.
    pub fn post(
        &self,
        path: &str,
        body: &impl serde::Serialize,
    ) -> Result<Result<Value, MarketRefusal>> {
        let body = serde_json::to_vec(body)?;
        self.send(
            self.http
                .post(format!("{}{path}", self.base))
                .header("content-type", "application/json")
                .body(body),
        )
    }

    /// POSTs to `path` with no body: for actions named by the path alone.
    pub fn post_empty(&self, path: &str) -> Result<Result<Value, MarketRefusal>> {
        self.send(self.http.post(format!("{}{path}", self.base)))
    }

    fn send(&self, mut request: reqwest::RequestBuilder) -> Result<Result<Value, MarketRefusal>> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        self.runtime.block_on(async {
            let response = request
                .send()
                .await
                .with_context(|| format!("cannot reach the market at {}", self.base))?;
            let status = response.status().as_u16();
            let bytes = response.bytes().await?;
            let value: Value = serde_json::from_slice(&bytes).with_context(|| {
                format!(
                    "the market at {} answered {status} with something that is not JSON",
                    self.base
                )
            })?;
            if (200..300).contains(&status) {
                return Ok(Ok(value));
            }
            let mut message = value["error"]
                .as_str()
                .unwrap_or("no reason given")
                .to_owned();
            if let Some(reasons) = value["reasons"].as_array()
                && reasons.len() > 1
            {
                message = reasons
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join("; ");
            }
            Ok(Err(MarketRefusal { status, message }))
        })
    }
}

/// One line about a submission: its number, package, state and score.
pub fn submission_line(s: &Submission) -> String {
    let mut line = format!(
        "submission {}: {}@{} by {}, {} (security score {})",
        s.id, s.package.name, s.package.version, s.package.publisher, s.state, s.score
    );
    if let Some(reason) = &s.reason {
        line.push_str(&format!(": {reason}"));
    }
    line
}

/// `market ...`.
pub fn run(args: &MarketArgs, settings: &Settings) -> Result<u8> {
    if let MarketCommand::Serve {
        addr,
        db,
        blobs,
        s3_bucket,
        s3_endpoint,
        s3_region,
        policy,
        security_approvals,
        quality_approvals,
        min_reputation,
        config: config_file,
        model,
        lexical,
    } = &args.command
    {
        let rules = ReviewRules {
            security: (*security_approvals).max(1),
            quality: (*quality_approvals).max(1),
            min_reputation: *min_reputation,
        };
        let model = crate::discovery::embedding_model(settings, model.as_deref(), *lexical)?;
        return serve(
            settings,
            Served {
                addr,
                db: db.as_deref(),
                blobs: match s3_bucket {
                    Some(bucket) => Blobs::S3(s3_location(
                        bucket,
                        s3_endpoint.as_deref(),
                        s3_region.as_deref(),
                    )?),
                    None => Blobs::Dir(blobs.as_deref()),
                },
                policy: policy.as_deref(),
                rules,
                config_file: config_file.as_deref(),
                model,
            },
        );
    }
    let client = MarketClient::new(&args.flags)?;
    let answer = match &args.command {
        MarketCommand::Serve { .. } => unreachable!("served above"),
        MarketCommand::Account(AccountCommand::Add { id, roles }) => client
            .post("/api/v1/accounts", &json!({"id": id, "roles": roles}))?
            .map(|v| {
                println!(
                    "account {} ({}) added; its API token, shown only now:",
                    id,
                    roles.join(", ")
                );
                println!("{}", v["token"].as_str().unwrap_or_default());
            }),
        MarketCommand::Account(AccountCommand::Link { id, publisher }) => client
            .post(
                &format!("/api/v1/accounts/{id}/links"),
                &json!({"publisher": publisher}),
            )?
            .map(|_| println!("{id} is linked to {publisher}: it may not review its packages")),
        MarketCommand::Key {
            publisher,
            public_key,
        } => client
            .post(
                &format!("/api/v1/publishers/{publisher}/keys"),
                &json!({"publicKey": public_key}),
            )?
            .map(|v| {
                println!(
                    "key {} registered to {publisher}",
                    v["keyId"].as_str().unwrap_or_default()
                );
            }),
        MarketCommand::Queue { json } => client.get("/api/v1/queue")?.map(|v| {
            if *json {
                println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                return;
            }
            let queue: Vec<Submission> = serde_json::from_value(v).unwrap_or_default();
            if queue.is_empty() {
                println!("nothing waits for review");
            }
            for s in &queue {
                println!(
                    "{} [{} security, {} quality approvals]",
                    submission_line(s),
                    s.approvals(rustchain_tools_market::ReviewKind::Security),
                    s.approvals(rustchain_tools_market::ReviewKind::Quality)
                );
            }
        }),
        MarketCommand::Review {
            id,
            kind,
            approve,
            note,
            ..
        } => {
            let verdict = if *approve { "approve" } else { "reject" };
            client
                .post(
                    &format!("/api/v1/submissions/{id}/reviews"),
                    &json!({"kind": kind, "verdict": verdict, "note": note}),
                )?
                .map(|v| match serde_json::from_value::<Submission>(v) {
                    Ok(s) => println!("{}", submission_line(&s)),
                    Err(e) => println!("reviewed (the answer could not be read: {e})"),
                })
        }
        MarketCommand::Report { audit, config } => {
            return report(&client, settings, audit.as_deref(), config.as_deref());
        }
        MarketCommand::Rate {
            package,
            stars,
            review,
        } => {
            let (name, version) = name_version(package)?;
            client
                .post(
                    &format!("/api/v1/packages/{name}/{version}/ratings"),
                    &json!({"stars": stars, "review": review}),
                )?
                .map(|_| println!("rated {name}@{version}: {stars} stars"))
        }
        MarketCommand::Buy { package } => {
            let (name, version) = name_version(package)?;
            client
                .post_empty(&format!("/api/v1/packages/{name}/{version}/purchase"))?
                .map(|v| {
                    let bought = v["package"].as_str().unwrap_or("?");
                    let covers = v["covers"].as_str().unwrap_or("?");
                    if v["new"] == true {
                        println!(
                            "bought {covers} at {bought} for {} (transaction {})",
                            v["amount"],
                            v["transaction"].as_str().unwrap_or("?")
                        );
                    } else {
                        println!(
                            "you bought {covers} before, at {bought} for {}",
                            v["amount"]
                        );
                    }
                })
        }
        MarketCommand::Metrics { package, json } => {
            let (name, version) = name_version(package)?;
            client
                .get(&format!("/api/v1/packages/{name}/{version}/metrics"))?
                .map(|v| {
                    if *json {
                        println!("{}", serde_json::to_string_pretty(&v).unwrap_or_default());
                    } else {
                        print_metrics(&v);
                    }
                })
        }
        MarketCommand::Finding(command) => crate::findings::finding(&client, command)?,
        MarketCommand::Reputation { account, json } => {
            crate::findings::reputation(&client, account, *json)?
        }
        MarketCommand::Yank { package, reason } => crate::findings::yank(&client, package, reason)?,
        MarketCommand::Statement { account, json } => {
            crate::findings::statement(&client, account, *json)?
        }
        MarketCommand::Browse(command) => crate::browse::browse(&client, command)?,
    };
    Ok(match answer {
        Ok(()) => exit::SUCCESS,
        Err(refusal) => refusal.report(),
    })
}

pub(crate) fn name_version(package: &str) -> Result<(&str, &str)> {
    package
        .split_once('@')
        .filter(|(name, version)| !name.is_empty() && !version.is_empty())
        .with_context(|| format!("`{package}` is not NAME@VERSION"))
}

fn print_metrics(v: &Value) {
    let computed = &v["computed"];
    let us = |key: &str| match computed["latencyUs"][key].as_u64() {
        Some(us) => format!("<= {us} us"),
        None => "-".to_owned(),
    };
    println!(
        "{}@{}: {} calls reported by {} accounts, failure rate {}, p50 {}, p95 {}, p99 {}",
        v["name"].as_str().unwrap_or_default(),
        v["version"].as_str().unwrap_or_default(),
        v["calls"],
        v["reporters"],
        computed["failureRate"]
            .as_f64()
            .map_or("-".to_owned(), |r| format!("{:.2}%", r * 100.0)),
        us("p50"),
        us("p95"),
        us("p99"),
    );
    let memory = &computed["memoryBytes"];
    let kib = |key: &str| match memory[key].as_u64() {
        Some(bytes) => format!("<= {} KiB", bytes >> 10),
        None => "-".to_owned(),
    };
    if memory["measuredCalls"].as_u64().unwrap_or(0) > 0 {
        println!(
            "memory of {} measured calls: p50 {}, p95 {}, p99 {}",
            memory["measuredCalls"],
            kib("p50"),
            kib("p95"),
            kib("p99")
        );
    }
    let ratings = v["ratings"].as_array().cloned().unwrap_or_default();
    match computed["weightedRating"].as_f64() {
        Some(r) => println!(
            "rating {r:.2} of 5 (weighted by use, {} ratings)",
            ratings.len()
        ),
        None => println!(
            "no rating from an account with reported use ({} ratings)",
            ratings.len()
        ),
    }
    for r in ratings {
        println!(
            "  {} stars by {} (weight {}): {}",
            r["stars"],
            r["account"].as_str().unwrap_or_default(),
            r["weight"],
            r["review"].as_str().unwrap_or_default()
        );
    }
}

/// `market report`.
fn report(
    client: &MarketClient,
    settings: &Settings,
    audit: Option<&str>,
    config_file: Option<&Path>,
) -> Result<u8> {
    let loaded = config(config_file)?;
    let dir = rustchain_tools::plugins::PluginDir::new(rustchain_tools_mcp::plugin_dir(&loaded)?);
    let names: std::collections::HashSet<String> = dir
        .list()?
        .into_iter()
        .filter_map(Result::ok)
        .map(|p| p.manifest.name.to_string())
        .collect();
    let Some(log) = settings.audit_log(audit, false) else {
        bail!("the audit log is turned off in the configuration, so there is no use to report");
    };
    let mut reports = Vec::new();
    for report in crate::usage::reports_from_log(&log, &names)? {
        let path = format!(
            "/api/v1/packages/{}/{}/metrics",
            report.name, report.version
        );
        match client.get(&path)? {
            Ok(_) => reports.push(report),
            Err(refusal) if refusal.status == 404 => println!(
                "{}@{}: not in this market, not reported",
                report.name, report.version
            ),
            Err(refusal) => return Ok(refusal.report()),
        }
    }
    if reports.is_empty() {
        println!("no calls of market packages in {}", log.display());
        return Ok(exit::SUCCESS);
    }
    let answer = match client.post("/api/v1/usage", &reports)? {
        Ok(answer) => answer,
        Err(refusal) => return Ok(refusal.report()),
    };
    for r in &reports {
        println!(
            "reported {}@{}: {} calls, {} errors, {} timeouts, {} limit hits",
            r.name, r.version, r.calls, r.errors, r.timeouts, r.limit_hits
        );
    }
    for sale in answer["billed"].as_array().into_iter().flatten() {
        println!(
            "billed {}: {} (transaction {})",
            sale["package"].as_str().unwrap_or("?"),
            sale["amount"],
            sale["transaction"].as_str().unwrap_or("?")
        );
    }
    Ok(exit::SUCCESS)
}

/// Where `market serve` keeps packages' files.
enum Blobs<'a> {
    /// A directory (default: market/blobs in the data directory).
    Dir(Option<&'a Path>),
    /// A bucket of an S3-compatible store.
    S3(S3Location),
}

/// The bucket of `--s3-bucket`, with the keys from the environment (never
/// from flags, which other users of the machine can read).
fn s3_location(bucket: &str, endpoint: Option<&str>, region: Option<&str>) -> Result<S3Location> {
    let key = |name: &str| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .with_context(|| format!("--s3-bucket needs the store's keys: {name} is not set"))
    };
    let region = region
        .map(str::to_owned)
        .or_else(|| std::env::var("AWS_REGION").ok().filter(|r| !r.is_empty()))
        .unwrap_or_else(|| "us-east-1".to_owned());
    Ok(S3Location {
        endpoint: endpoint.map_or_else(
            || format!("https://s3.{region}.amazonaws.com"),
            str::to_owned,
        ),
        bucket: bucket.to_owned(),
        region,
        access_key: key("AWS_ACCESS_KEY_ID")?,
        secret_key: key("AWS_SECRET_ACCESS_KEY")?,
    })
}

/// What `market serve` serves with.
struct Served<'a> {
    addr: &'a str,
    db: Option<&'a str>,
    blobs: Blobs<'a>,
    policy: Option<&'a Path>,
    rules: ReviewRules,
    config_file: Option<&'a Path>,
    model: Option<Arc<rustchain_tools::registry::EmbeddingModel>>,
}

fn serve(settings: &Settings, served: Served<'_>) -> Result<u8> {
    let Served {
        addr,
        db,
        blobs,
        policy,
        rules,
        config_file,
        model,
    } = served;
    let home = settings.data_dir.join("market");
    std::fs::create_dir_all(&home).with_context(|| format!("cannot create {}", home.display()))?;
    let db = match db {
        Some(url) => url.to_owned(),
        None => format!("sqlite://{}?mode=rwc", home.join("market.db").display()),
    };
    let policy = market_policy(policy)?;
    let loaded = config(config_file)?;
    let host = host(&loaded, &root(&loaded))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let blobs: Box<dyn BlobStore> = match blobs {
            Blobs::Dir(dir) => Box::new(FsBlobStore::new(
                dir.map_or_else(|| home.join("blobs"), Path::to_path_buf),
            )?),
            Blobs::S3(location) => {
                let (endpoint, bucket) = (location.endpoint.clone(), location.bucket.clone());
                let s3 = S3BlobStore::new(location)?;
                // Refused keys or a missing bucket stop the market before
                // it takes a submission it could not keep.
                s3.check().await?;
                println!("packages are kept in bucket {bucket} of {endpoint}");
                Box::new(s3)
            }
        };
        let store = MarketStore::open(&db).await?;
        let server = MarketServer::new(store, blobs, policy, host, rules);
        match &model {
            Some(model) => println!("package search is semantic, with {}", model.name()),
            None => println!(
                "package search is lexical: no embedding model is installed \
                 (`cargo xtask fetch-model` installs it)"
            ),
        }
        server.set_search_model(model);
        if let Some(token) = server.bootstrap_admin().await? {
            let path = home.join("admin.token");
            write_secret(&path, &token)?;
            println!("a fresh market: the admin token is in {}", path.display());
        }
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        println!("market listening on http://{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        server
            .serve(listener, async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(exit::SUCCESS)
    })
}

/// Writes `text` to a new file readable by its owner only.
pub(crate) fn write_secret(path: &Path, text: &str) -> Result<()> {
    if path.exists() {
        bail!("{} exists; a secret is never overwritten", path.display());
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    writeln!(file, "{text}")?;
    Ok(())
}
