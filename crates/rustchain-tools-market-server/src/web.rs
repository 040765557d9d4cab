//! The market's web pages, rendered on the server. Public: the published
//! packages and each package's page (versions, security scores as a plot,
//! reported use with a latency plot, ratings, checks and reviews; a signed-in
//! user's rating form). Signed in (`/login` with an API token, then a
//! session cookie): the dashboard with a publisher's submissions and the
//! upload form, the review queue, and each submission with its review form.
//! Every form post must come from these pages (`session::same_origin`), and
//! every action goes through the same policy decisions as the API. Every
//! value from the store is escaped.
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::Form;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use rustchain_tools_market::usage::LATENCY_BUCKETS_US;
use rustchain_tools_market::{
    Account, Finding, MarketAccount, MarketError, PackageBundle, Prices, RevenueShare, ReviewKind,
    ReviewRules, Submission, SubmissionState, Verdict, VersionMetrics, VersionRecord,
};
use serde::Deserialize;

use crate::api::{NewReview, latest, submission_id};
use crate::session::same_origin;
use crate::{Inner, ServerError};

mod discovery;
mod trust;

pub(crate) use discovery::index;
pub(crate) use trust::report_finding;

type Shared = State<Arc<Inner>>;

/// A request the pages refuse, shown as a page: the same reasons the API
/// gives, and a way to sign in where that is what is missing.
pub(crate) struct PageError(ServerError);

impl<E: Into<ServerError>> From<E> for PageError {
    fn from(e: E) -> PageError {
        PageError(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(error = %self.0, "market page failed");
        }
        let mut body = format!(
            "<h1>{}</h1><p class=\"fail\" id=\"error\">{}</p>",
            status.canonical_reason().unwrap_or("Error"),
            escape(&self.0.to_string())
        );
        if status == StatusCode::UNAUTHORIZED {
            body.push_str("<p><a href=\"/login\">Sign in</a></p>");
        }
        (status, page("Error", None, &body)).into_response()
    }
}

type PageResult = Result<Response, PageError>;

impl Inner {
    /// The account of the request's web session.
    async fn session_account(&self, headers: &HeaderMap) -> Result<MarketAccount, ServerError> {
        let token = self
            .sessions
            .token(headers)
            .ok_or(ServerError::Unauthorized("sign in first"))?;
        self.store
            .account_for_token(&token)
            .await?
            .ok_or(ServerError::Unauthorized(
                "the account of this session no longer exists",
            ))
    }
}

fn is_reviewer(account: &MarketAccount) -> bool {
    account
        .roles
        .iter()
        .any(|r| r == "security-reviewer" || r == "quality-reviewer" || r == "admin")
}

fn has_role(account: &MarketAccount, role: &str) -> bool {
    account.roles.iter().any(|r| r == role || r == "admin")
}

fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn page(title: &str, account: Option<&MarketAccount>, body: &str) -> Html<String> {
    let nav = match account {
        Some(a) => format!(
            "<a href=\"/dashboard\">Dashboard</a> · <a href=\"/queue\">Review queue</a> · \
             signed in as <b id=\"account\">{}</b> \
             <form method=\"post\" action=\"/logout\" style=\"display:inline\">\
             <button>Sign out</button></form>",
            escape(&a.id)
        ),
        None => "<a href=\"/login\">Sign in</a>".to_owned(),
    };
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{} · RustChain Tools market</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}\
         table{{border-collapse:collapse}}td,th{{padding:.3rem .8rem;border-bottom:1px solid #ddd;text-align:left}}\
         .pass{{color:#070}}.warn{{color:#a60}}.fail{{color:#b00}}</style></head>\
         <body><nav><a href=\"/\">RustChain Tools market</a> · {nav}</nav>{body}</body></html>\n",
        escape(title)
    ))
}

fn text(value: &serde_json::Value) -> String {
    escape(value.as_str().unwrap_or_default())
}

/// The security score of each version as a bar, out of 100.
fn score_plot(published: &[&Submission]) -> String {
    const BAR: usize = 28;
    let width = 40 + published.len() * (BAR + 12);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"security score per version\" width=\"{width}\" height=\"150\" \
         viewBox=\"0 0 {width} 150\"><line x1=\"30\" y1=\"110\" x2=\"{width}\" y2=\"110\" stroke=\"#999\"/>\
         <text x=\"0\" y=\"14\" font-size=\"10\">100</text><text x=\"0\" y=\"110\" font-size=\"10\">0</text>"
    );
    for (i, s) in published.iter().enumerate() {
        let x = 40 + i * (BAR + 12);
        let height = s.score.min(100) as usize;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{BAR}\" height=\"{height}\" fill=\"#3a7\">\
             <title>{} scored {}</title></rect>\
             <text x=\"{x}\" y=\"125\" font-size=\"10\">{}</text>\
             <text x=\"{x}\" y=\"{}\" font-size=\"10\">{}</text>",
            110 - height,
            escape(&s.package.version),
            s.score,
            escape(&s.package.version),
            105 - height,
            s.score,
        );
    }
    svg.push_str("</svg>");
    svg
}

pub(crate) async fn package(
    State(inner): Shared,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    let account = inner.session_account(&headers).await.ok();
    let versions: Vec<VersionRecord> = inner.store.versions(&name).await?;
    let Some(newest) = latest(&versions).or(versions.last()) else {
        return Err(MarketError::UnknownVersion {
            name,
            version: "*".to_owned(),
        }
        .into());
    };
    let publisher = newest.package.publisher.clone();
    let submissions = inner
        .store
        .submissions(Some(SubmissionState::Published), Some(&publisher))
        .await?;
    let published: Vec<&Submission> = submissions
        .iter()
        .filter(|s| s.package.name == name)
        .collect();

    let mut body = format!(
        "<h1>{}</h1><p>{}</p><p>by {} · category {} · framework {}</p>",
        escape(&name),
        text(&newest.manifest["description"]),
        escape(&publisher),
        text(&newest.manifest["category"]),
        text(&newest.manifest["framework"]),
    );
    let _ = write!(
        body,
        "<p>Install: <code id=\"install\">rustchain-tools plugin install {}</code></p>",
        escape(&name)
    );
    buy_form(&inner, account.as_ref(), &versions, &mut body).await?;
    body.push_str(
        "<h2>Versions</h2><table><tr><th>version</th><th>price</th><th>digest</th>\
         <th>status</th></tr>",
    );
    for v in versions.iter().rev() {
        let status = match &v.yanked {
            Some(y) => format!("<span class=\"warn\">yanked: {}</span>", escape(&y.reason)),
            None => "published".to_owned(),
        };
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{status}</td></tr>",
            escape(&v.package.version),
            price_text(v.prices()),
            escape(&v.package.digest.to_string()),
        );
    }
    body.push_str("</table>");
    discovery::compatibility_table(&mut body, &versions);
    security_history(&mut body, &inner.vulnerability_history(&name).await?);
    if !published.is_empty() {
        body.push_str("<h2>Security score</h2>");
        body.push_str(&score_plot(&published));
        body.push_str(
            "<p>Out of 100, from the automated scan at submission: load checks, schema lint \
             for every provider format and a fuzz run in the sandbox; each deduction is listed \
             below.</p>",
        );
    }
    if let (Some(a), Some(rated)) = (&account, latest(&versions))
        && has_role(a, "user")
    {
        let _ = write!(
            body,
            "<h2>Rate {n}@{v}</h2><form method=\"post\" action=\"/packages/{n}/{v}/ratings\">\
             <label>Stars <select name=\"stars\"><option>5</option><option>4</option>\
             <option>3</option><option>2</option><option>1</option></select></label> \
             <label>Review <textarea name=\"review\" rows=\"2\" cols=\"60\"></textarea></label> \
             <button>Rate</button></form><p>Your rating weighs by the calls you have reported \
             (<code>rustchain-tools market report</code>); a new one replaces your last.</p>",
            n = escape(&rated.package.name),
            v = escape(&rated.package.version),
        );
    }
    if let (Some(a), Some(newest)) = (&account, latest(&versions))
        && trust::may_report(a)
    {
        trust::finding_form(&mut body, &newest.package.name, &newest.package.version);
    }
    body.push_str("<h2>Use and ratings</h2>");
    for v in versions.iter().rev() {
        let metrics = inner
            .store
            .metrics(&v.package.name, &v.package.version)
            .await?;
        use_and_ratings(&mut body, &metrics);
    }
    body.push_str(USE_EXPLAINED);
    discovery::used_together(&inner, &name, &mut body).await?;
    body.push_str("<h2>Security scans</h2>");
    let reputations = trust::reputations(&inner, &published).await?;
    for s in published.iter().rev() {
        let _ = write!(
            body,
            "<h3>{} · score {}</h3>",
            escape(&s.package.version),
            s.score
        );
        checks_and_reviews(&mut body, s, &reputations);
    }
    Ok(page(&name, account.as_ref(), &body).into_response())
}

/// What a version costs, as its manifest's `price` says.
fn price_text(prices: Prices) -> String {
    let part = |price: u64, unit: &str| (price > 0).then(|| format!("{price} {unit}"));
    let parts: Vec<String> = [
        part(prices.purchase, "to buy"),
        part(prices.per_call, "per call"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if parts.is_empty() {
        "free".to_owned()
    } else {
        parts.join(", ")
    }
}

/// For a package whose newest version is sold: whether the signed-in
/// account bought it, or a form that buys it.
async fn buy_form(
    inner: &Inner,
    account: Option<&MarketAccount>,
    versions: &[VersionRecord],
    body: &mut String,
) -> Result<(), ServerError> {
    let Some(newest) = latest(versions) else {
        return Ok(());
    };
    let price = newest.prices().purchase;
    if price == 0 {
        return Ok(());
    }
    let package = &newest.package;
    let _ = write!(
        body,
        "<p>This package is sold: <strong>{price}</strong> (minor units) once per account, \
         before its first download.</p>"
    );
    let Some(account) = account else {
        return Ok(());
    };
    if let Some(bought) = inner
        .store
        .purchase_of(&account.id, &package.name, &package.version)
        .await?
    {
        let _ = write!(
            body,
            "<p id=\"bought\">You bought it ({} for {}).</p>",
            escape(&bought.package),
            bought.amount
        );
    } else if has_role(account, "user") && account.id != package.publisher {
        let _ = write!(
            body,
            "<form method=\"post\" action=\"/packages/{n}/{v}/purchase\"><button id=\"buy\">Buy \
             {n} for {price}</button></form>",
            n = escape(&package.name),
            v = escape(&package.version),
        );
    }
    Ok(())
}

/// The confirmed findings against a package, newest first.
fn security_history(body: &mut String, history: &[Finding]) {
    body.push_str("<h2>Security history</h2>");
    if history.is_empty() {
        body.push_str("<p>No confirmed security findings.</p>");
    } else {
        body.push_str(
            "<table class=\"findings\"><tr><th>finding</th><th>version</th><th>severity</th>\
             <th>what</th><th>found by</th><th>version yanked</th></tr>",
        );
        for f in history.iter().rev() {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td><td class=\"warn\">{}</td><td>{}</td><td>{}</td>\
                 <td>{}</td></tr>",
                f.id,
                escape(&f.version),
                f.severity,
                escape(&f.title),
                escape(&f.reporter),
                if f.yanked { "yes" } else { "no" },
            );
        }
        body.push_str("</table>");
    }
    body.push_str(
        "<p class=\"explained\">Findings are reported by users and security reviewers \
         (<code>rustchain-tools market finding report</code>) and listed here once an admin \
         confirms them; a confirmed finding lowers the reputation of every reviewer who \
         approved that version.</p>",
    );
}

const USE_EXPLAINED: &str = "<p class=\"explained\">How these are computed: each user's \
     installation counts the calls of a version in its own audit log (whose hash chain \
     <code>rustchain-tools market report</code> verifies before sending) and reports the \
     totals; a new report replaces that account's last one. Calls, failures (errors, timeouts, \
     limit hits) and the latency and memory histograms are the sums over the accounts; a \
     percentile is the upper bound of the histogram bucket it falls in. Memory is the most \
     linear memory a WASM plugin's instance held during a call, as the sandbox measured it and \
     the call's audit record says, over the calls whose records have it. The rating is the mean of the stars \
     weighted by each rater's reported calls of that version (weight 1 + log<sub>2</sub> \
     calls, rounded down; a rater with no reported calls is shown but weighs 0). The market \
     cannot see users' logs, so reports are what authenticated accounts say.</p>";

/// At most `bytes`, in KiB or MiB (bucket bounds are powers of two).
fn bytes(bytes: Option<u64>) -> String {
    match bytes {
        None => "–".to_owned(),
        Some(b) if b >= 1 << 20 => format!("≤ {} MiB", b >> 20),
        Some(b) => format!("≤ {} KiB", b >> 10),
    }
}

fn microseconds(us: Option<u64>) -> String {
    match us {
        None => "–".to_owned(),
        Some(us) if us >= 1_000_000 => format!("≤ {} s", us as f64 / 1e6),
        Some(us) if us >= 1_000 => format!("≤ {} ms", us as f64 / 1e3),
        Some(us) => format!("≤ {us} µs"),
    }
}

/// A version's reported use, its latency histogram and its ratings.
fn use_and_ratings(body: &mut String, m: &VersionMetrics) {
    let version = escape(&m.version);
    let _ = write!(body, "<h3 id=\"use-{version}\">{version}</h3>");
    if m.calls == 0 && m.ratings.is_empty() {
        body.push_str("<p>No use reported and no ratings yet.</p>");
        return;
    }
    let rating = match m.weighted_rating() {
        Some(r) => format!("{r:.2} of 5"),
        None => "–".to_owned(),
    };
    let _ = write!(
        body,
        "<table class=\"metrics\"><tr><th>calls</th><th>failure rate</th><th>timeouts</th>\
         <th>limit hits</th><th>p50</th><th>p95</th><th>p99</th><th>memory p50</th>\
         <th>memory p99</th><th>reported by</th>\
         <th>rating</th></tr><tr><td class=\"calls\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}</td><td class=\"memory\">{}</td><td>{}</td>\
         <td>{} accounts</td><td class=\"rating\">{rating} ({} ratings)</td></tr></table>",
        m.calls,
        m.failure_rate()
            .map_or("–".to_owned(), |r| format!("{:.2}%", r * 100.0)),
        m.timeouts,
        m.limit_hits,
        microseconds(m.latency_us(0.50)),
        microseconds(m.latency_us(0.95)),
        microseconds(m.latency_us(0.99)),
        bytes(m.memory_bytes(0.50)),
        bytes(m.memory_bytes(0.99)),
        m.reporters,
        m.ratings.len(),
    );
    if m.calls > 0 {
        body.push_str(&latency_plot(m));
    }
    if !m.ratings.is_empty() {
        body.push_str("<ul class=\"ratings\">");
        for r in &m.ratings {
            let _ = write!(
                body,
                "<li>{}{} by {} (weight {}, {} calls){}</li>",
                "★".repeat(usize::from(r.stars)),
                "☆".repeat(5usize.saturating_sub(usize::from(r.stars))),
                escape(&r.account),
                r.weight,
                r.calls,
                if r.review.is_empty() {
                    String::new()
                } else {
                    format!(": {}", escape(&r.review))
                },
            );
        }
        body.push_str("</ul>");
    }
}

/// Calls per latency bucket, as bars scaled to the largest.
fn latency_plot(m: &VersionMetrics) -> String {
    const BAR: usize = 22;
    let most = m.latency.iter().copied().max().unwrap_or(0).max(1);
    let width = 10 + m.latency.len() * (BAR + 4);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"calls per latency, version {}\" width=\"{width}\" \
         height=\"130\" viewBox=\"0 0 {width} 130\">",
        escape(&m.version)
    );
    for (i, n) in m.latency.iter().enumerate() {
        let x = 10 + i * (BAR + 4);
        let height = (*n as f64 / most as f64 * 90.0).round() as u64;
        let label = LATENCY_BUCKETS_US.get(i).map_or("more".to_owned(), |b| {
            microseconds(Some(*b)).replace("≤ ", "")
        });
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{BAR}\" height=\"{height}\" fill=\"#47a\">\
             <title>{n} calls up to {label}</title></rect>\
             <text x=\"{x}\" y=\"112\" font-size=\"7\">{label}</text>",
            100 - height,
        );
    }
    svg.push_str("<text x=\"10\" y=\"126\" font-size=\"9\">calls per latency bucket</text></svg>");
    svg
}

/// A submission's scan checks and reviews, as lists.
/// The scan's checks and the reviews, each reviewer with its reputation
/// (from `reputations`) as a reviewer.
fn checks_and_reviews(body: &mut String, s: &Submission, reputations: &HashMap<String, i64>) {
    body.push_str("<ul class=\"checks\">");
    for check in s.scan["checks"].as_array().into_iter().flatten() {
        let outcome = check["outcome"].as_str().unwrap_or_default();
        let _ = write!(
            body,
            "<li class=\"{}\">{} {}: {}</li>",
            escape(outcome),
            escape(outcome),
            text(&check["check"]),
            text(&check["detail"]),
        );
    }
    body.push_str("</ul><p>Reviews:</p><ul class=\"reviews\">");
    if s.reviews.is_empty() {
        body.push_str("<li>none yet</li>");
    }
    for r in &s.reviews {
        let _ = write!(
            body,
            "<li>{} review by {} (reputation {}): {} {}</li>",
            r.kind,
            escape(&r.reviewer),
            reputations
                .get(&r.reviewer)
                .map_or("–".to_owned(), i64::to_string),
            r.verdict,
            escape(&r.note)
        );
    }
    body.push_str("</ul>");
}

pub(crate) async fn login_page(State(inner): Shared, headers: HeaderMap) -> PageResult {
    if inner.session_account(&headers).await.is_ok() {
        return Ok(see_other("/dashboard"));
    }
    Ok(page("Sign in", None, &login_form("")).into_response())
}

fn login_form(error: &str) -> String {
    let error = if error.is_empty() {
        String::new()
    } else {
        format!("<p class=\"fail\" id=\"error\">{}</p>", escape(error))
    };
    format!(
        "<h1>Sign in</h1>{error}<form method=\"post\" action=\"/login\">\
         <label>API token <input type=\"password\" name=\"token\" autocomplete=\"off\" required \
         size=\"70\"></label> <button>Sign in</button></form>\
         <p>An admin makes your account and its token: \
         <code>rustchain-tools market account add ID --role ROLE</code>.</p>"
    )
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

pub(crate) async fn login(
    State(inner): Shared,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let token = form.token.trim();
    if inner.store.account_for_token(token).await?.is_none() {
        let body = login_form("That API token is not one the market knows.");
        return Ok((StatusCode::UNAUTHORIZED, page("Sign in", None, &body)).into_response());
    }
    let cookie = inner.sessions.start(token)?;
    Ok(([(header::SET_COOKIE, cookie)], see_other("/dashboard")).into_response())
}

pub(crate) async fn logout(State(inner): Shared, headers: HeaderMap) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let cookie = inner.sessions.end(&headers);
    Ok(([(header::SET_COOKIE, cookie)], see_other("/")).into_response())
}

/// Where a submission stands, as a word with a class for its colour.
fn state_cell(s: &Submission) -> String {
    let class = match s.state {
        SubmissionState::InReview => "warn",
        SubmissionState::Rejected => "fail",
        SubmissionState::Published => "pass",
    };
    format!("<span class=\"{class} state\">{}</span>", s.state)
}

fn submission_row(s: &Submission, rules: &ReviewRules) -> String {
    format!(
        "<tr><td><a href=\"/submissions/{id}\">{id}</a></td><td>{}@{}</td><td>{}</td>\
         <td>{}</td><td>{}</td><td>{}/{} security, {}/{} quality</td><td>{}</td></tr>",
        escape(&s.package.name),
        escape(&s.package.version),
        escape(&s.package.publisher),
        state_cell(s),
        s.score,
        s.approvals(ReviewKind::Security),
        rules.security,
        s.approvals(ReviewKind::Quality),
        rules.quality,
        escape(s.reason.as_deref().unwrap_or_default()),
        id = s.id,
    )
}

const SUBMISSION_HEADER: &str = "<tr><th>#</th><th>package</th><th>publisher</th><th>state</th>\
     <th>security score</th><th>approvals</th><th>reason</th></tr>";

pub(crate) async fn dashboard(State(inner): Shared, headers: HeaderMap) -> PageResult {
    let account = match inner.session_account(&headers).await {
        Ok(account) => account,
        Err(ServerError::Unauthorized(_)) => return Ok(see_other("/login")),
        Err(e) => return Err(e.into()),
    };
    let mut body = format!(
        "<h1>Dashboard</h1><p>Roles: {}.</p>",
        escape(&account.roles.join(", "))
    );
    if has_role(&account, "publisher") {
        let _ = write!(
            body,
            "<h2>Submit a package</h2>\
             <form method=\"post\" action=\"/submit\" enctype=\"multipart/form-data\">\
             <input type=\"file\" name=\"bundle\" accept=\".json,application/json\" required> \
             <button>Submit for review</button></form>\
             <p>The file is a signed package: \
             <code>rustchain-tools publish pack DIR --key KEY --publisher {} --out package.json</code>. \
             The market checks its signature, runs the security scan and puts it in review.</p>",
            escape(&account.id)
        );
        let mine = inner.submissions_of(&account, &account.id).await?;
        body.push_str("<h2>Your submissions</h2>");
        if mine.is_empty() {
            body.push_str("<p>None yet.</p>");
        } else {
            let _ = write!(body, "<table id=\"submissions\">{SUBMISSION_HEADER}");
            for s in mine.iter().rev() {
                body.push_str(&submission_row(s, &inner.rules));
            }
            body.push_str("</table>");
        }
    }
    if has_role(&account, "publisher") {
        revenue_and_use(&inner, &account.id, &mut body).await?;
    }
    if has_role(&account, "user") {
        discovery::recommended(&inner, &account.id, &mut body).await?;
    }
    if is_reviewer(&account) {
        let waiting = inner.queue(&account).await?.len();
        let _ = write!(
            body,
            "<h2>Reviews</h2><p><a href=\"/queue\">The review queue</a>: {waiting} waiting.</p>"
        );
    }
    Ok(page("Dashboard", Some(&account), &body).into_response())
}

/// A publisher's earnings and its versions' use: the balance, what each
/// version earned (as a plot), its price, calls and share, and the last
/// ledger lines.
async fn revenue_and_use(
    inner: &Inner,
    publisher: &str,
    body: &mut String,
) -> Result<(), ServerError> {
    let statement = inner
        .store
        .statement(&Account::Publisher(publisher.to_owned()))
        .await?;
    let earnings = inner.store.earnings(publisher).await?;
    let _ = write!(
        body,
        "<h2>Revenue and use</h2><p>Balance: <strong id=\"balance\">{}</strong> (minor units).</p>",
        statement.balance
    );
    let mut rows = String::new();
    for s in inner
        .store
        .submissions(Some(SubmissionState::Published), Some(publisher))
        .await?
        .iter()
        .rev()
    {
        let (name, version) = (&s.package.name, &s.package.version);
        let m = inner.store.metrics(name, version).await?;
        let package = format!("{name}@{version}");
        let earned = earnings.iter().find(|e| e.package == package);
        let share = RevenueShare::for_quality(&m.quality());
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}%</td>\
             <td>{}</td><td class=\"earned\">{}</td></tr>",
            escape(&package),
            price_text(Prices::of(&s.manifest)),
            m.calls,
            m.failure_rate()
                .map_or("–".to_owned(), |r| format!("{:.2}%", r * 100.0)),
            m.weighted_rating()
                .map_or("–".to_owned(), |r| format!("{r:.2}")),
            share.publisher_bps / 100,
            earned.map_or(0, |e| e.sales),
            earned.map_or(0, |e| e.earned),
        );
    }
    if rows.is_empty() {
        body.push_str("<p>Nothing published yet.</p>");
        return Ok(());
    }
    let bars: Vec<(String, i64)> = earnings
        .iter()
        .map(|e| (e.package.clone(), e.earned))
        .collect();
    if !bars.is_empty() {
        body.push_str(&earnings_plot(&bars));
    }
    let _ = write!(
        body,
        "<table id=\"revenue\"><tr><th>version</th><th>price</th><th>calls reported</th>\
         <th>failure rate</th><th>rating</th><th>your share</th><th>sales</th>\
         <th>earned</th></tr>{rows}</table>\
         <p class=\"explained\">A priced version bills each user for the calls its usage \
         reports add; each sale is split 70% to you, 20% to the platform and 10% to the \
         review pool, or 80% to you once the version's reported use and ratings reach the \
         quality threshold. Earned is your part of the sales less your part of refunds.</p>"
    );
    body.push_str("<h3>Last ledger lines</h3><table><tr><th>#</th><th>kind</th><th>transaction</th><th>amount</th><th>balance</th></tr>");
    for line in statement.lines.iter().rev().take(10) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{:+}</td><td>{}</td></tr>",
            line.seq,
            escape(&line.kind),
            escape(&line.id),
            line.amount,
            line.balance
        );
    }
    body.push_str("</table>");
    Ok(())
}

/// What each version earned, as bars scaled to the largest, each labelled
/// with its version and amount; a slot is as wide as its label, so long
/// package names stay readable.
fn earnings_plot(bars: &[(String, i64)]) -> String {
    const BAR: usize = 40;
    // About the advance of one 8-point character.
    const CHAR: usize = 5;
    let most = bars.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let slot = |package: &str| (package.chars().count() * CHAR).max(BAR) + 20;
    let width = (20 + bars.iter().map(|(p, _)| slot(p)).sum::<usize>()).max(160);
    let mut svg = format!(
        "<svg role=\"img\" aria-label=\"earnings per version\" width=\"{width}\" height=\"150\" \
         viewBox=\"0 0 {width} 150\">"
    );
    let mut x = 20;
    for (package, earned) in bars {
        // 95 high at most, so the amount above the tallest bar stays inside.
        let height = (earned.max(&0) * 95 / most) as usize;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"{BAR}\" height=\"{height}\" fill=\"#3a7\">\
             <title>{} earned {earned}</title></rect>\
             <text x=\"{x}\" y=\"{}\" font-size=\"10\">{earned}</text>\
             <text x=\"{x}\" y=\"128\" font-size=\"8\">{}</text>",
            115 - height,
            escape(package),
            111 - height,
            escape(package),
        );
        x += slot(package);
    }
    svg.push_str("<text x=\"20\" y=\"144\" font-size=\"9\">earned per version</text></svg>");
    svg
}

pub(crate) async fn submit(
    State(inner): Shared,
    headers: HeaderMap,
    mut form: Multipart,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let account = inner.session_account(&headers).await?;
    let mut bundle = None;
    while let Some(field) = form
        .next_field()
        .await
        .map_err(|e| ServerError::BadRequest(format!("the upload cannot be read: {e}")))?
    {
        if field.name() == Some("bundle") {
            let bytes = field
                .bytes()
                .await
                .map_err(|e| ServerError::BadRequest(format!("the upload cannot be read: {e}")))?;
            bundle = Some(bytes);
        }
    }
    let bytes = bundle.ok_or_else(|| {
        ServerError::BadRequest("the form has no file in its `bundle` field".to_owned())
    })?;
    let bundle: PackageBundle = serde_json::from_slice(&bytes).map_err(|e| {
        ServerError::BadRequest(format!(
            "the file is not a package from `rustchain-tools publish pack`: {e}"
        ))
    })?;
    let submission = inner.submit(&account, &bundle).await?;
    Ok(see_other(&format!("/submissions/{}", submission.id)))
}

pub(crate) async fn queue(State(inner): Shared, headers: HeaderMap) -> PageResult {
    let account = inner.session_account(&headers).await?;
    let waiting = inner.queue(&account).await?;
    let mut body = String::from("<h1>Review queue</h1>");
    if waiting.is_empty() {
        body.push_str("<p>Nothing is waiting for review.</p>");
    } else {
        let _ = write!(body, "<table id=\"queue\">{SUBMISSION_HEADER}");
        for s in &waiting {
            body.push_str(&submission_row(s, &inner.rules));
        }
        body.push_str("</table>");
    }
    Ok(page("Review queue", Some(&account), &body).into_response())
}

pub(crate) async fn submission(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> PageResult {
    let account = inner.session_account(&headers).await?;
    let s = inner.submission(&account, submission_id(&id)?).await?;
    let mut body = format!(
        "<h1>Submission {}: {}@{}</h1><p>by {} · digest <code>{}</code></p>\
         <p>State: {} · security score <b id=\"score\">{}</b> · approvals {}/{} security, \
         {}/{} quality</p>",
        s.id,
        escape(&s.package.name),
        escape(&s.package.version),
        escape(&s.package.publisher),
        escape(&s.package.digest.to_string()),
        state_cell(&s),
        s.score,
        s.approvals(ReviewKind::Security),
        inner.rules.security,
        s.approvals(ReviewKind::Quality),
        inner.rules.quality,
    );
    if let Some(reason) = &s.reason {
        let _ = write!(body, "<p class=\"fail\">{}</p>", escape(reason));
    }
    if s.state == SubmissionState::Published {
        let _ = write!(
            body,
            "<p><a href=\"/packages/{n}\">The published package {n}</a></p>",
            n = escape(&s.package.name)
        );
    }
    body.push_str("<h2>Security scan</h2>");
    let reputations = trust::reputations(&inner, &[&s]).await?;
    checks_and_reviews(&mut body, &s, &reputations);
    let kinds: Vec<ReviewKind> = [ReviewKind::Security, ReviewKind::Quality]
        .into_iter()
        .filter(|k| has_role(&account, &format!("{k}-reviewer")))
        .collect();
    if s.state == SubmissionState::InReview && !kinds.is_empty() {
        let _ = write!(
            body,
            "<h2>Your review</h2><form method=\"post\" action=\"/submissions/{}/reviews\">\
             <label>Kind <select name=\"kind\">",
            s.id
        );
        for k in kinds {
            let _ = write!(body, "<option value=\"{k}\">{k}</option>");
        }
        body.push_str(
            "</select></label> \
             <label><input type=\"radio\" name=\"verdict\" value=\"approve\" required> approve</label> \
             <label><input type=\"radio\" name=\"verdict\" value=\"reject\"> reject</label><br>\
             <label>Note <textarea name=\"note\" rows=\"3\" cols=\"60\"></textarea></label><br>\
             <button>Record review</button></form>\
             <p>A verdict is final; one rejection rejects the submission.</p>",
        );
    }
    Ok(page(&format!("Submission {}", s.id), Some(&account), &body).into_response())
}

#[derive(Deserialize)]
pub(crate) struct RatingForm {
    stars: u8,
    #[serde(default)]
    review: String,
}

pub(crate) async fn rate(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    Form(form): Form<RatingForm>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let account = inner.session_account(&headers).await?;
    inner
        .rate(&account, &name, &version, form.stars, &form.review)
        .await?;
    Ok(see_other(&format!("/packages/{name}#use-{version}")))
}

#[derive(Deserialize)]
pub(crate) struct ReviewForm {
    kind: ReviewKind,
    verdict: Verdict,
    #[serde(default)]
    note: String,
}

pub(crate) async fn purchase(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let account = inner.session_account(&headers).await?;
    inner.purchase(&account, &name, &version).await?;
    Ok(see_other(&format!("/packages/{name}#bought")))
}

pub(crate) async fn review(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<ReviewForm>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let account = inner.session_account(&headers).await?;
    let id = submission_id(&id)?;
    let new = NewReview {
        kind: form.kind,
        verdict: form.verdict,
        note: form.note,
    };
    inner.review(&account, id, &new).await?;
    Ok(see_other(&format!("/submissions/{id}")))
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
