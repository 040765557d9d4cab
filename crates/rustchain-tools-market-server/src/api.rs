//! The JSON API's handlers: authenticate, ask the policy, act on the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::{get, post};
use rustchain_tools_market::package::{BundleFile, write_dir};
use rustchain_tools_market::{
    MarketAccount, MarketError, PackageBundle, PublisherKey, Purchase, ReviewKind, ScanOutcome,
    Submission, SubmissionState, Transaction, UsageReport, Verdict, VersionRecord,
};
use rustchain_tools_plugins::MANIFEST_FILE;
use rustchain_tools_plugins::scan::scan;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::{Inner, ServerError, discovery, trust, web};

type Shared = State<Arc<Inner>>;
type Answer<T> = Result<Json<T>, ServerError>;

/// Usage reports in one request, one per package version.
const MAX_REPORTS: usize = 1_000;

/// A package's bundle is at most 64 MiB of files, base64-encoded.
const MAX_BODY_BYTES: usize = 90 << 20;

pub(crate) fn router(inner: Arc<Inner>) -> Router {
    Router::new()
        .route("/", get(web::index))
        .route("/packages/{name}", get(web::package))
        .route("/login", get(web::login_page).post(web::login))
        .route("/logout", post(web::logout))
        .route("/dashboard", get(web::dashboard))
        .route("/submit", post(web::submit))
        .route("/queue", get(web::queue))
        .route("/submissions/{id}", get(web::submission))
        .route("/submissions/{id}/reviews", post(web::review))
        .route("/packages/{name}/{version}/ratings", post(web::rate))
        .route("/packages/{name}/{version}/purchase", post(web::purchase))
        .route(
            "/packages/{name}/{version}/findings",
            post(web::report_finding),
        )
        .route("/api/v1/accounts", post(add_account))
        .route("/api/v1/accounts/{id}/links", post(link_account))
        .route("/api/v1/publishers/{id}/keys", post(add_key).get(keys))
        .route("/api/v1/submissions", post(submit))
        .route("/api/v1/submissions/{id}", get(submission))
        .route("/api/v1/submissions/{id}/reviews", post(review))
        .route(
            "/api/v1/publishers/{id}/submissions",
            get(publisher_submissions),
        )
        .route("/api/v1/queue", get(queue))
        .route("/api/v1/packages", get(discovery::packages))
        .route("/api/v1/categories", get(discovery::categories))
        .route("/api/v1/featured", get(discovery::featured))
        .route("/api/v1/packages/{name}", get(versions))
        .route("/api/v1/packages/{name}/related", get(discovery::related))
        .route(
            "/api/v1/packages/{name}/compatibility",
            get(discovery::version_compatibility),
        )
        .route(
            "/api/v1/accounts/{id}/recommendations",
            get(discovery::recommendations),
        )
        .route("/api/v1/packages/{name}/{version}", get(download))
        .route("/api/v1/packages/{name}/{version}/metrics", get(metrics))
        .route("/api/v1/packages/{name}/{version}/ratings", post(rate))
        .route("/api/v1/packages/{name}/{version}/purchase", post(purchase))
        .route("/api/v1/usage", post(report_usage))
        .route(
            "/api/v1/packages/{name}/{version}/findings",
            post(trust::report_finding).get(trust::version_findings),
        )
        .route("/api/v1/packages/{name}/{version}/yank", post(trust::yank))
        .route("/api/v1/findings", get(trust::findings))
        .route("/api/v1/findings/{id}", get(trust::finding))
        .route(
            "/api/v1/findings/{id}/decision",
            post(trust::decide_finding),
        )
        .route("/api/v1/accounts/{id}/reputation", get(trust::reputation))
        .route("/api/v1/statements/{account}", get(trust::statement))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(inner)
}

async fn purchase(
    State(inner): Shared,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> Result<(StatusCode, Json<Purchase>), ServerError> {
    let account = inner.bearer_account(&headers).await?;
    let bought = inner.purchase(&account, &name, &version).await?;
    let status = if bought.new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(bought)))
}

impl Inner {
    /// Whether the request's account may download `record`, a sold
    /// version: the policy's `market.download_sold`, told whether the
    /// account bought it. Refused only for want of a purchase (the policy
    /// would allow a buyer), the answer is 402 with the price and a version
    /// to buy.
    pub(crate) async fn may_download_sold(
        &self,
        headers: &HeaderMap,
        record: &VersionRecord,
    ) -> Result<(), ServerError> {
        let package = &record.package;
        let account = self.bearer_account(headers).await.map_err(|e| match e {
            ServerError::Unauthorized(_) => ServerError::Unauthorized(
                "this version is sold: downloading it needs the API token of an account that \
                 bought it (Authorization: Bearer rct_...)",
            ),
            other => other,
        })?;
        let purchased = self
            .store
            .purchase_of(&account.id, &package.name, &package.version)
            .await?
            .is_some();
        let arguments = |purchased: bool| {
            json!({
                "package": format!("{}@{}", package.name, package.version),
                "publisher": package.publisher,
                "purchased": purchased,
            })
        };
        let asked = self.authorize(&account, "market.download_sold", arguments(purchased));
        if purchased || asked.is_ok() {
            return asked;
        }
        if self
            .authorize(&account, "market.download_sold", arguments(true))
            .is_err()
        {
            return asked;
        }
        Err(ServerError::PaymentRequired {
            account: account.id,
            package: format!("{}@{}", package.name, package.version),
            price: record.prices().purchase,
            buy: self.version_to_buy(record).await?,
        })
    }

    /// The version whose purchase opens `record`: itself unless it is
    /// yanked, else the newest sold version of its major version that is
    /// not.
    async fn version_to_buy(&self, record: &VersionRecord) -> Result<Option<String>, ServerError> {
        let package = &record.package;
        if record.yanked.is_none() {
            return Ok(Some(package.version.clone()));
        }
        let major = |version: &str| semver::Version::parse(version).ok().map(|v| v.major);
        let wanted = major(&package.version);
        Ok(self
            .store
            .versions(&package.name)
            .await?
            .iter()
            .filter(|v| v.yanked.is_none() && v.prices().purchase > 0)
            .filter_map(|v| semver::Version::parse(&v.package.version).ok())
            .filter(|v| wanted.is_some() && Some(v.major) == wanted)
            .max()
            .map(|v| v.to_string()))
    }

    /// The account of the request's `Authorization: Bearer` token.
    pub(crate) async fn bearer_account(
        &self,
        headers: &HeaderMap,
    ) -> Result<MarketAccount, ServerError> {
        let token = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(ServerError::Unauthorized(
                "this needs an API token: Authorization: Bearer rct_...",
            ))?;
        self.store
            .account_for_token(token.trim())
            .await?
            .ok_or(ServerError::Unauthorized(
                "the API token is not one the market knows",
            ))
    }

    /// Asks the market policy whether `account` may do `action` on
    /// `arguments`; a broken policy denies.
    pub(crate) fn authorize(
        &self,
        account: &MarketAccount,
        action: &str,
        arguments: Value,
    ) -> Result<(), ServerError> {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let input = json!({
            "tool": {"name": action, "category": "market"},
            "principal": {"id": account.id, "roles": account.roles},
            "call": {
                "id": format!("market-{}", CALLS.fetch_add(1, Ordering::Relaxed)),
                "arguments": arguments,
            },
        });
        let decision = self.policy.decide_input(&input);
        if decision.allowed {
            return Ok(());
        }
        Err(ServerError::Denied {
            account: account.id.clone(),
            action: action.to_owned(),
            reasons: decision.reasons(),
        })
    }

    pub(crate) async fn authorized(
        &self,
        headers: &HeaderMap,
        action: &str,
        arguments: Value,
    ) -> Result<MarketAccount, ServerError> {
        let account = self.bearer_account(headers).await?;
        self.authorize(&account, action, arguments)?;
        Ok(account)
    }
}

/// Reads a JSON body, saying where it is wrong.
pub(crate) fn body<T: DeserializeOwned>(bytes: &Bytes) -> Result<T, ServerError> {
    serde_json::from_slice(bytes).map_err(|e| {
        ServerError::BadRequest(format!("the request body is not what it should be: {e}"))
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewAccount {
    id: String,
    roles: Vec<String>,
}

async fn add_account(
    State(inner): Shared,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Value>), ServerError> {
    let new: NewAccount = body(&bytes)?;
    inner
        .authorized(
            &headers,
            "market.add_account",
            json!({"id": new.id, "roles": new.roles}),
        )
        .await?;
    let account = MarketAccount {
        id: new.id,
        roles: new.roles,
    };
    let token = inner.store.add_account(&account).await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"id": account.id, "roles": account.roles, "token": token})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewLink {
    publisher: String,
}

async fn link_account(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer<Value> {
    let link: NewLink = body(&bytes)?;
    inner
        .authorized(
            &headers,
            "market.link_account",
            json!({"id": id, "publisher": link.publisher}),
        )
        .await?;
    inner.store.link_account(&id, &link.publisher).await?;
    Ok(Json(json!({"account": id, "publisher": link.publisher})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct NewKey {
    public_key: String,
}

async fn add_key(
    State(inner): Shared,
    Path(publisher): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer<Value> {
    let new: NewKey = body(&bytes)?;
    inner
        .authorized(&headers, "market.add_key", json!({"publisher": publisher}))
        .await?;
    let key = PublisherKey::from_hex(&publisher, &new.public_key)?;
    inner.store.add_key(&key).await?;
    Ok(Json(json!({"publisher": publisher, "keyId": key.key_id()})))
}

async fn keys(State(inner): Shared, Path(publisher): Path<String>) -> Answer<Value> {
    let keys = inner.store.keys(&publisher).await?;
    Ok(Json(json!({
        "publisher": publisher,
        "keys": keys.iter().map(PublisherKey::to_hex).collect::<Vec<_>>(),
    })))
}

async fn submit(
    State(inner): Shared,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Submission>), ServerError> {
    let account = inner.bearer_account(&headers).await?;
    let bundle: PackageBundle = body(&bytes)?;
    let submission = inner.submit(&account, &bundle).await?;
    Ok((StatusCode::CREATED, Json(submission)))
}

pub(crate) fn submission_id(text: &str) -> Result<i64, ServerError> {
    text.parse()
        .map_err(|_| ServerError::BadRequest(format!("`{text}` is not a submission number")))
}

async fn submission(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer<Submission> {
    let account = inner.bearer_account(&headers).await?;
    Ok(Json(inner.submission(&account, submission_id(&id)?).await?))
}

async fn publisher_submissions(
    State(inner): Shared,
    Path(publisher): Path<String>,
    headers: HeaderMap,
) -> Answer<Vec<Submission>> {
    let account = inner.bearer_account(&headers).await?;
    Ok(Json(inner.submissions_of(&account, &publisher).await?))
}

async fn queue(State(inner): Shared, headers: HeaderMap) -> Answer<Vec<Submission>> {
    let account = inner.bearer_account(&headers).await?;
    Ok(Json(inner.queue(&account).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct NewReview {
    pub(crate) kind: ReviewKind,
    pub(crate) verdict: Verdict,
    #[serde(default)]
    pub(crate) note: String,
}

async fn review(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer<Submission> {
    let account = inner.bearer_account(&headers).await?;
    let id = submission_id(&id)?;
    let new: NewReview = body(&bytes)?;
    Ok(Json(inner.review(&account, id, &new).await?))
}

/// The actions behind both the API and the web pages, for an account
/// already authenticated (by token or by a web session): each asks the
/// policy first.
impl Inner {
    /// Verifies, scans, keeps and records a submission.
    pub(crate) async fn submit(
        &self,
        account: &MarketAccount,
        bundle: &PackageBundle,
    ) -> Result<Submission, ServerError> {
        let package = &bundle.package;
        self.authorize(
            account,
            "market.submit",
            json!({"publisher": package.publisher, "name": package.name, "version": package.version}),
        )?;
        let files = bundle.files()?;
        // Verified before anything is kept or run: only a publisher's own,
        // signed files reach the scan and the blob store.
        let keys = self.store.keys(&package.publisher).await?;
        package.verify(&keys, Some(&files))?;
        let manifest_bytes = files
            .iter()
            .find(|f| f.path == MANIFEST_FILE)
            .map(|f| &f.bytes)
            .ok_or_else(|| MarketError::InvalidPackage {
                path: MANIFEST_FILE.to_owned(),
                reason: "is missing: a package is a plugin directory".to_owned(),
            })?;
        let manifest: Value =
            serde_json::from_slice(manifest_bytes).map_err(|e| MarketError::InvalidPackage {
                path: MANIFEST_FILE.to_owned(),
                reason: format!("is not JSON: {e}"),
            })?;
        let dir = tempfile::tempdir().map_err(|e| ServerError::Blob {
            operation: "unpack a submission",
            reason: e.to_string(),
        })?;
        write_dir(dir.path(), &files)?;
        let report = scan(&self.host, dir.path(), &self.scan).await;
        let contents = serde_json::to_vec(&bundle.files).map_err(|e| ServerError::Blob {
            operation: "encode a package",
            reason: e.to_string(),
        })?;
        self.blobs.put(&package.digest, &contents).await?;
        let outcome = ScanOutcome {
            passed: report.passed,
            score: u32::from(report.score),
            report: serde_json::to_value(&report).unwrap_or(Value::Null),
        };
        let submission = self
            .store
            .submit(package, &manifest, &files, &outcome)
            .await?;
        tracing::info!(
            id = submission.id,
            package = %format!("{}@{}", package.name, package.version),
            score = report.score,
            state = %submission.state,
            "submission scanned"
        );
        Ok(submission)
    }

    /// Submission `id`, for its publisher or a reviewer.
    pub(crate) async fn submission(
        &self,
        account: &MarketAccount,
        id: i64,
    ) -> Result<Submission, ServerError> {
        let submission = self.store.submission(id).await?;
        self.authorize(
            account,
            "market.submission",
            json!({"id": submission.id, "publisher": submission.package.publisher}),
        )?;
        Ok(submission)
    }

    /// Every submission of `publisher`, for that publisher.
    pub(crate) async fn submissions_of(
        &self,
        account: &MarketAccount,
        publisher: &str,
    ) -> Result<Vec<Submission>, ServerError> {
        self.authorize(
            account,
            "market.submissions",
            json!({"publisher": publisher}),
        )?;
        Ok(self.store.submissions(None, Some(publisher)).await?)
    }

    /// The submissions in review, for reviewers.
    pub(crate) async fn queue(
        &self,
        account: &MarketAccount,
    ) -> Result<Vec<Submission>, ServerError> {
        self.authorize(account, "market.queue", json!({}))?;
        Ok(self
            .store
            .submissions(Some(SubmissionState::InReview), None)
            .await?)
    }

    /// Buys the package `name` for `account` at `version`'s price.
    pub(crate) async fn purchase(
        &self,
        account: &MarketAccount,
        name: &str,
        version: &str,
    ) -> Result<Purchase, ServerError> {
        self.authorize(
            account,
            "market.purchase",
            json!({"name": name, "version": version}),
        )?;
        Ok(self.store.purchase(&account.id, name, version).await?)
    }

    /// Keeps `account`'s rating of `name@version`.
    pub(crate) async fn rate(
        &self,
        account: &MarketAccount,
        name: &str,
        version: &str,
        stars: u8,
        review: &str,
    ) -> Result<(), ServerError> {
        self.authorize(
            account,
            "market.rate",
            json!({"name": name, "version": version, "stars": stars}),
        )?;
        Ok(self
            .store
            .rate(&account.id, name, version, stars, review)
            .await?)
    }

    /// Records `account`'s review of submission `id`.
    pub(crate) async fn review(
        &self,
        account: &MarketAccount,
        id: i64,
        new: &NewReview,
    ) -> Result<Submission, ServerError> {
        self.authorize(
            account,
            &format!("market.review.{}", new.kind),
            json!({"id": id, "verdict": new.verdict}),
        )?;
        Ok(self
            .store
            .review(
                id,
                &account.id,
                new.kind,
                new.verdict,
                &new.note,
                &self.rules,
            )
            .await?)
    }
}

/// The highest version not yanked.
pub(crate) fn latest(versions: &[VersionRecord]) -> Option<&VersionRecord> {
    versions
        .iter()
        .filter(|v| v.yanked.is_none())
        .max_by_key(|v| semver::Version::parse(&v.package.version).ok())
}

async fn versions(State(inner): Shared, Path(name): Path<String>) -> Answer<Vec<VersionRecord>> {
    let versions = inner.store.versions(&name).await?;
    if versions.is_empty() {
        return Err(ServerError::Market(MarketError::UnknownVersion {
            name,
            version: "*".to_owned(),
        }));
    }
    Ok(Json(versions))
}

async fn metrics(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
) -> Answer<Value> {
    inner
        .store
        .version(&name, &version)
        .await?
        .ok_or_else(|| MarketError::UnknownVersion {
            name: name.clone(),
            version: version.clone(),
        })?;
    let metrics = inner.store.metrics(&name, &version).await?;
    let mut body = serde_json::to_value(&metrics).unwrap_or(Value::Null);
    body["computed"] = json!({
        "failureRate": metrics.failure_rate(),
        "latencyUs": {
            "p50": metrics.latency_us(0.50),
            "p95": metrics.latency_us(0.95),
            "p99": metrics.latency_us(0.99),
        },
        "memoryBytes": {
            "measuredCalls": metrics.memory_measured(),
            "p50": metrics.memory_bytes(0.50),
            "p95": metrics.memory_bytes(0.95),
            "p99": metrics.memory_bytes(0.99),
        },
        "weightedRating": metrics.weighted_rating(),
        "revenueShare": rustchain_tools_market::RevenueShare::for_quality(&metrics.quality()),
    });
    Ok(Json(body))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewRating {
    stars: u8,
    #[serde(default)]
    review: String,
}

async fn rate(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer<Value> {
    let account = inner.bearer_account(&headers).await?;
    let new: NewRating = body(&bytes)?;
    inner
        .rate(&account, &name, &version, new.stars, &new.review)
        .await?;
    Ok(Json(
        json!({"account": account.id, "package": format!("{name}@{version}"), "stars": new.stars}),
    ))
}

async fn report_usage(State(inner): Shared, headers: HeaderMap, bytes: Bytes) -> Answer<Value> {
    let reports: Vec<UsageReport> = body(&bytes)?;
    if reports.len() > MAX_REPORTS {
        return Err(ServerError::BadRequest(format!(
            "{} usage reports in one request; at most {MAX_REPORTS}",
            reports.len()
        )));
    }
    // All are checked before any is kept.
    for report in &reports {
        report.check()?;
    }
    let account = inner
        .authorized(
            &headers,
            "market.report_usage",
            json!({"packages": reports.iter().map(|r| format!("{}@{}", r.name, r.version)).collect::<Vec<_>>()}),
        )
        .await?;
    let mut billed = Vec::new();
    for report in &reports {
        if let Some(Transaction::Sale {
            id,
            package,
            amount,
            ..
        }) = inner.store.report_usage(&account.id, report).await?
        {
            billed.push(json!({"transaction": id, "package": package, "amount": amount}));
        }
    }
    Ok(Json(
        json!({"account": account.id, "reports": reports.len(), "billed": billed}),
    ))
}

async fn download(
    State(inner): Shared,
    headers: HeaderMap,
    Path((name, version)): Path<(String, String)>,
) -> Answer<PackageBundle> {
    let record = inner
        .store
        .version(&name, &version)
        .await?
        .ok_or(MarketError::UnknownVersion { name, version })?;
    if record.prices().purchase > 0 {
        inner.may_download_sold(&headers, &record).await?;
    }
    let bytes = inner
        .blobs
        .get(&record.package.digest)
        .await?
        .ok_or_else(|| ServerError::Blob {
            operation: "find a published package",
            reason: format!("nothing is kept under {}", record.package.digest),
        })?;
    let files: Vec<BundleFile> = serde_json::from_slice(&bytes).map_err(|e| ServerError::Blob {
        operation: "read a published package",
        reason: e.to_string(),
    })?;
    Ok(Json(PackageBundle {
        package: record.package,
        files,
    }))
}
