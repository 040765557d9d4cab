//! The API of trust after publication: security findings and their
//! decisions (with the reporter's bonus), reviewers' reputation, yanking a
//! version, and statements of what the ledger moved on an account.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use rustchain_tools_market::ledger::Statement;
use rustchain_tools_market::{
    Account, Decision, Finding, FindingState, MarketAccount, MarketError, NewFinding, Reputation,
};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::api::body;
use crate::{Inner, ServerError};

type Shared = State<Arc<Inner>>;
type Answer<T> = Result<Json<T>, ServerError>;

impl Inner {
    /// Finding `id`, for its reporter, the package's publisher, security
    /// reviewers and admins.
    pub(crate) async fn finding(
        &self,
        account: &MarketAccount,
        id: i64,
    ) -> Result<Finding, ServerError> {
        let finding = self.store.finding(id).await?;
        self.authorize(
            account,
            "market.finding",
            json!({"id": id, "reporter": finding.reporter, "publisher": finding.publisher}),
        )?;
        Ok(finding)
    }

    /// Reports `account`'s finding against `name@version`, if the policy
    /// allows it.
    pub(crate) async fn report_finding(
        &self,
        account: &MarketAccount,
        name: &str,
        version: &str,
        new: &NewFinding,
    ) -> Result<Finding, ServerError> {
        self.authorize(
            account,
            "market.report_finding",
            json!({"name": name, "version": version, "severity": new.severity}),
        )?;
        let finding = self
            .store
            .report_finding(&account.id, name, version, new)
            .await?;
        tracing::info!(id = finding.id, package = %finding.package(), reporter = %account.id, "finding reported");
        Ok(finding)
    }

    /// The confirmed findings against package `name`: its public
    /// vulnerability history.
    pub(crate) async fn vulnerability_history(
        &self,
        name: &str,
    ) -> Result<Vec<Finding>, ServerError> {
        Ok(self
            .store
            .findings(Some(FindingState::Confirmed), Some(name))
            .await?)
    }
}

pub(crate) async fn report_finding(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Result<(StatusCode, Json<Finding>), ServerError> {
    let new: NewFinding = body(&bytes)?;
    let account = inner.bearer_account(&headers).await?;
    let finding = inner
        .report_finding(&account, &name, &version, &new)
        .await?;
    Ok((StatusCode::CREATED, Json(finding)))
}

pub(crate) async fn version_findings(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
) -> Answer<Vec<Finding>> {
    inner
        .store
        .version(&name, &version)
        .await?
        .ok_or_else(|| MarketError::UnknownVersion {
            name: name.clone(),
            version: version.clone(),
        })?;
    let mut history = inner.vulnerability_history(&name).await?;
    history.retain(|f| f.version == version);
    Ok(Json(history))
}

pub(crate) async fn findings(State(inner): Shared, headers: HeaderMap) -> Answer<Vec<Finding>> {
    inner
        .authorized(&headers, "market.findings", json!({}))
        .await?;
    Ok(Json(inner.store.findings(None, None).await?))
}

fn finding_id(text: &str) -> Result<i64, ServerError> {
    text.parse()
        .map_err(|_| ServerError::BadRequest(format!("`{text}` is not a finding number")))
}

pub(crate) async fn finding(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Answer<Finding> {
    let account = inner.bearer_account(&headers).await?;
    Ok(Json(inner.finding(&account, finding_id(&id)?).await?))
}

pub(crate) async fn decide_finding(
    State(inner): Shared,
    Path(id): Path<String>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer<Finding> {
    let id = finding_id(&id)?;
    let decision: Decision = body(&bytes)?;
    let account = inner
        .authorized(
            &headers,
            "market.decide_finding",
            json!({"id": id, "verdict": decision.verdict, "bonus": decision.bonus}),
        )
        .await?;
    let finding = inner
        .store
        .decide_finding(id, &account.id, &decision)
        .await?;
    tracing::info!(id, state = %finding.state, bonus = finding.bonus, yanked = finding.yanked, "finding decided");
    Ok(Json(finding))
}

pub(crate) async fn reputation(
    State(inner): Shared,
    Path(account): Path<String>,
) -> Answer<Reputation> {
    Ok(Json(inner.store.reputation(&account).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewYank {
    reason: String,
}

pub(crate) async fn yank(
    State(inner): Shared,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Bytes,
) -> Answer<Value> {
    let new: NewYank = body(&bytes)?;
    let reason = new.reason.trim();
    if reason.is_empty() || reason.len() > 1_000 {
        return Err(ServerError::BadRequest(
            "give the reason for the yank, 1 to 1000 bytes: users see it".to_owned(),
        ));
    }
    let record =
        inner
            .store
            .version(&name, &version)
            .await?
            .ok_or_else(|| MarketError::UnknownVersion {
                name: name.clone(),
                version: version.clone(),
            })?;
    inner
        .authorized(
            &headers,
            "market.yank",
            json!({"name": name, "version": version, "publisher": record.package.publisher}),
        )
        .await?;
    inner.store.yank_version(&name, &version, reason).await?;
    let record = inner.store.version(&name, &version).await?;
    Ok(Json(json!({
        "package": format!("{name}@{version}"),
        "yanked": record.and_then(|r| r.yanked).map(|y| json!({"at": y.at, "reason": y.reason})),
    })))
}

pub(crate) async fn statement(
    State(inner): Shared,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Answer<Statement> {
    let parsed: Account = account.parse()?;
    let owner = match &parsed {
        Account::Customer(id) | Account::Publisher(id) | Account::Reviewer(id) => Some(id.clone()),
        _ => None,
    };
    inner
        .authorized(
            &headers,
            "market.statement",
            json!({"account": account, "owner": owner}),
        )
        .await?;
    Ok(Json(inner.store.statement(&parsed).await?))
}
