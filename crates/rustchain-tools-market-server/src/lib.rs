//! The RustChain Tools marketplace over HTTP: publishers submit signed
//! packages, each submission runs the automated security scan in the real
//! sandbox, reviewers approve or reject it, and an approved version is
//! published for anyone to download and verify (a sold version, one with
//! `price.purchase`, for the accounts that bought it).
//!
//! Every action that changes something, and every private read, names an
//! account by its API token (`Authorization: Bearer rct_…`) and needs an
//! allow from the market's Rego policy (`policies/market.rego`, on the
//! policy layer's engine): the policy decides which role may do what, the
//! store refuses conflicts of interest. Reading published packages needs
//! no token, except the files of a sold version.
//!
//! | method and path | who | what |
//! | --- | --- | --- |
//! | `POST /api/v1/accounts` | admin | `{"id", "roles"}` → the account and its token |
//! | `POST /api/v1/accounts/{id}/links` | admin | `{"publisher"}`: the account may not review it |
//! | `POST /api/v1/publishers/{id}/keys` | that publisher | `{"publicKey"}` (hex) |
//! | `GET /api/v1/publishers/{id}/keys` | anyone | the registered public keys |
//! | `POST /api/v1/submissions` | publisher | a [`PackageBundle`] → the submission, scanned |
//! | `GET /api/v1/submissions/{id}` | its publisher, reviewers | the submission, scan and reviews |
//! | `GET /api/v1/queue` | reviewers | the submissions in review |
//! | `POST /api/v1/submissions/{id}/reviews` | reviewers | `{"kind", "verdict", "note"}` |
//! | `GET /api/v1/packages` | anyone | the published packages; `?category=` filters, `?q=` searches (then `{"semantic", "notice", "results"}`, each result with `why`), `?limit=` |
//! | `GET /api/v1/categories` | anyone | each category with its number of packages |
//! | `GET /api/v1/featured` | anyone | `{"rule", "packages"}`: placement earned by quality, each with the figures that `earned` it |
//! | `GET /api/v1/packages/{name}` | anyone | its versions |
//! | `GET /api/v1/packages/{name}/related` | anyone | `usedTogether`: the packages its users also use |
//! | `GET /api/v1/packages/{name}/compatibility` | anyone | each version against framework versions |
//! | `GET /api/v1/accounts/{id}/recommendations` | that account | `{"basis", "packages"}`: from its use, or the most used |
//! | `GET /api/v1/packages/{name}/{version}` | anyone; for a sold version, an account that bought it (`market.download_sold`), its publisher, admins | the version as a [`PackageBundle`]; else 401, or 402 with `price` and the `purchase` route to use |
//! | `POST /api/v1/packages/{name}/{version}/purchase` | users | buys the package for its major version at this version's price: 201 with the purchase, or 200 with the earlier one (`new: false`) |
//! | `GET /api/v1/publishers/{id}/submissions` | that publisher | its submissions, newest last |
//! | `GET /api/v1/packages/{name}/{version}/metrics` | anyone | reported use, latency percentiles, ratings |
//! | `POST /api/v1/packages/{name}/{version}/ratings` | users | `{"stars", "review"}` |
//! | `POST /api/v1/usage` | users | `[UsageReport]` counted from the caller's audit log; answers with the sales it `billed` for priced versions |
//! | `POST /api/v1/packages/{name}/{version}/findings` | users, security reviewers | `{"severity", "title", "detail"}`: a security finding |
//! | `GET /api/v1/packages/{name}/{version}/findings` | anyone | its confirmed findings |
//! | `GET /api/v1/findings` | security reviewers | every finding |
//! | `GET /api/v1/findings/{id}` | its reporter, the publisher, security reviewers | one finding |
//! | `POST /api/v1/findings/{id}/decision` | admin | `{"verdict", "bonus", "yank", "note"}`: confirm (paying the bonus from the review pool) or dismiss |
//! | `GET /api/v1/accounts/{id}/reputation` | anyone | a reviewer's reputation and what it is made of |
//! | `POST /api/v1/packages/{name}/{version}/yank` | its publisher | `{"reason"}` |
//! | `GET /api/v1/statements/{account}` | that account | what the ledger moved on `publisher:ID`, `reviewer:ID` or `customer:ID` |
//! | `GET /` | anyone | web page: search box, categories, featured packages, the published packages (`?q=`, `?category=`) |
//! | `GET /packages/{name}` | anyone | web page: versions, compatibility, security scores and latencies (plots), use, ratings, packages used together, checks, reviews |
//! | `GET`, `POST /login`; `POST /logout` | anyone | sign in with an API token (a session cookie) |
//! | `GET /dashboard` | signed in | a user's recommendations; a publisher's submissions, upload form and revenue; the queue's size |
//! | `POST /submit` | publisher | upload a package file from `publish pack` |
//! | `GET /queue` | reviewers | web page: the submissions in review |
//! | `GET /submissions/{id}`, `POST …/reviews` | its publisher, reviewers | the submission and the review form |
//! | `POST /packages/{name}/{version}/ratings` | users | the package page's rating form |
//! | `POST /packages/{name}/{version}/purchase` | users | the package page's Buy button |
//! | `POST /packages/{name}/{version}/findings` | users, security reviewers | the package page's form for a security finding |
//!
//! The web pages act through the same policy decisions as the API; their
//! form posts must come from the market's own pages (their `Origin`), and
//! the session cookie is `HttpOnly` and `SameSite=Strict`.
//!
//! [`PackageBundle`]: rustchain_tools_market::PackageBundle
#![deny(missing_docs)]

mod api;
mod blobs;
mod discovery;
mod error;
mod s3;
mod session;
mod trust;
mod web;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use rustchain_tools_market::{MarketAccount, MarketStore, ReviewRules};
use rustchain_tools_plugins::PluginHost;
use rustchain_tools_plugins::scan::ScanOptions;
use rustchain_tools_policy::{PolicyConfig, PolicyEngine};
use rustchain_tools_search::EmbeddingModel;
use tokio::net::TcpListener;

pub use blobs::{BlobStore, FsBlobStore, S3BlobStore, S3Location};
pub use discovery::FEATURED_MIN_SCORE;
pub use error::ServerError;

/// The shipped market policy.
pub const MARKET_POLICY: &str = include_str!("../policies/market.rego");

/// Loads the market policy: the shipped one, or the `.rego` files in
/// `dir` instead.
pub fn market_policy(dir: Option<&Path>) -> Result<PolicyEngine, ServerError> {
    let config = PolicyConfig::new().without_default_policy();
    let config = match dir {
        Some(dir) => config.policy_dir(dir),
        None => config.file("market.rego", MARKET_POLICY),
    };
    Ok(PolicyEngine::load(&config)?)
}

/// The market's HTTP service.
#[derive(Clone)]
pub struct MarketServer {
    inner: Arc<Inner>,
}

struct Inner {
    store: MarketStore,
    blobs: Box<dyn BlobStore>,
    policy: PolicyEngine,
    host: PluginHost,
    rules: ReviewRules,
    scan: ScanOptions,
    sessions: session::Sessions,
    discovery: discovery::Discovery,
}

impl MarketServer {
    /// A market on `store`, keeping packages in `blobs`, deciding with
    /// `policy`, scanning submissions on `host`, publishing by `rules`.
    pub fn new(
        store: MarketStore,
        blobs: impl BlobStore,
        policy: PolicyEngine,
        host: PluginHost,
        rules: ReviewRules,
    ) -> MarketServer {
        MarketServer {
            inner: Arc::new(Inner {
                store,
                blobs: Box::new(blobs),
                policy,
                host,
                rules,
                scan: ScanOptions::default(),
                sessions: session::Sessions::default(),
                discovery: discovery::Discovery::default(),
            }),
        }
    }

    /// Searches the published packages with `model` (semantic and lexical,
    /// fused), or lexically only with none, which is the default; each
    /// search answer says which it was.
    pub fn set_search_model(&self, model: Option<Arc<EmbeddingModel>>) {
        self.inner.discovery.set_model(model);
    }

    /// The store it serves.
    pub fn store(&self) -> &MarketStore {
        &self.inner.store
    }

    /// Creates the `admin` account if the market has no accounts yet and
    /// returns its token (shown only this once).
    pub async fn bootstrap_admin(&self) -> Result<Option<String>, ServerError> {
        if self.inner.store.has_accounts().await? {
            return Ok(None);
        }
        let token = self
            .inner
            .store
            .add_account(&MarketAccount {
                id: "admin".to_owned(),
                roles: vec!["admin".to_owned()],
            })
            .await?;
        Ok(Some(token))
    }

    /// The routes. [`MarketServer::serve`] serves them with the
    /// connection handling every RustChain Tools server has.
    pub fn router(&self) -> axum::Router {
        api::router(Arc::clone(&self.inner))
    }

    /// Serves the market on `listener` until `shutdown` completes, through
    /// [`rustchain_tools_http::serve`]: replies go out at once, and a
    /// refusal that leaves a request's body unread (a body over its limit)
    /// says `Connection: close`.
    pub async fn serve<F>(&self, listener: TcpListener, shutdown: F) -> std::io::Result<()>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        rustchain_tools_http::serve(listener, self.router(), shutdown).await
    }
}
