//! The trust parts of the pages: the form that reports a security finding
//! and what answers it, and reviewers' reputation beside their verdicts.

use std::collections::HashMap;
use std::fmt::Write as _;

use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rustchain_tools_market::{MarketAccount, NewFinding, Submission};

use super::{PageResult, Shared, escape, has_role, page};
use crate::session::same_origin;
use crate::{Inner, ServerError};

/// Whether `account` may report findings (the policy decides; this only
/// spares others a form they cannot use).
pub(super) fn may_report(account: &MarketAccount) -> bool {
    has_role(account, "user") || has_role(account, "security-reviewer")
}

/// The package page's form for reporting a finding against `name@version`.
pub(super) fn finding_form(body: &mut String, name: &str, version: &str) {
    let _ = write!(
        body,
        "<h2>Report a security finding in {n}@{v}</h2>\
         <form method=\"post\" action=\"/packages/{n}/{v}/findings\" id=\"finding-form\">\
         <label>Severity <select name=\"severity\"><option>low</option><option>medium</option>\
         <option selected>high</option><option>critical</option></select></label> \
         <label>Title <input name=\"title\" size=\"50\" required></label><br>\
         <label>How to reproduce it <textarea name=\"detail\" rows=\"3\" cols=\"70\"></textarea>\
         </label> <button>Report</button></form><p>A finding stays private to you, the \
         publisher and security reviewers until an admin decides it; a confirmed one joins the \
         security history and may earn you a bonus.</p>",
        n = escape(name),
        v = escape(version),
    );
}

pub(crate) async fn report_finding(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    form: Result<Form<NewFinding>, FormRejection>,
) -> PageResult {
    if !same_origin(&headers) {
        return Err(ServerError::CrossSite.into());
    }
    let account = inner.session_account(&headers).await?;
    let Form(new) = form.map_err(|e| ServerError::BadRequest(e.body_text()))?;
    let finding = inner
        .report_finding(&account, &name, &version, &new)
        .await?;
    let body = format!(
        "<h1>Finding {id} reported</h1><p id=\"reported\">Finding {id} against \
         {package} ({severity}): {title}.</p><p>It stays private to you, the publisher and \
         security reviewers until an admin decides it.</p>\
         <p><a href=\"/packages/{n}\">Back to {n}</a></p>",
        id = finding.id,
        package = escape(&finding.package()),
        severity = finding.severity,
        title = escape(&finding.title),
        n = escape(&name),
    );
    Ok((
        StatusCode::CREATED,
        page("Finding reported", Some(&account), &body),
    )
        .into_response())
}

/// The reputation of every reviewer of `submissions`.
pub(super) async fn reputations(
    inner: &Inner,
    submissions: &[&Submission],
) -> Result<HashMap<String, i64>, ServerError> {
    let mut scores = HashMap::new();
    for s in submissions {
        for r in &s.reviews {
            if !scores.contains_key(&r.reviewer) {
                let reputation = inner.store.reputation(&r.reviewer).await?;
                scores.insert(r.reviewer.clone(), reputation.score);
            }
        }
    }
    Ok(scores)
}
