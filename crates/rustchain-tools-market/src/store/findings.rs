//! Security findings in the store: reports, decisions (with the reporter's
//! bonus in the ledger and the yank in the same database transaction) and
//! the reputation counted from them.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::submissions::linked;
use super::usage::known_version;
use super::{MarketStore, now, record_in, store_error, yank_in};
use crate::MarketError;
use crate::finding::{
    Decision, Finding, FindingState, FindingVerdict, NewFinding, Reputation, Severity,
};
use crate::ledger::{Recorded, Transaction};

const FINDING_COLUMNS: &str = "SELECT f.id, f.name, f.version, p.publisher, f.reporter, \
     f.severity, f.title, f.detail, f.state, f.bonus, f.yanked, f.note, f.reported_at, \
     f.decided_at, f.decided_by FROM findings f JOIN packages p ON p.name = f.name";

impl MarketStore {
    /// Keeps `reporter`'s finding against a published version. The
    /// version's publisher and accounts linked to it may not report one;
    /// whether `reporter` holds a role that may is the caller's policy
    /// decision.
    pub async fn report_finding(
        &self,
        reporter: &str,
        name: &str,
        version_: &str,
        new: &NewFinding,
    ) -> Result<Finding, MarketError> {
        let package = format!("{name}@{version_}");
        new.check(&package)?;
        let mut db = self.begin_write().await?;
        let record = known_version(&mut db, name, version_).await?;
        let publisher = &record.package.publisher;
        if let Some(why) = own(&mut db, reporter, publisher).await? {
            return Err(MarketError::OwnPackage {
                account: reporter.to_owned(),
                action: "report a finding against",
                package,
                why,
            });
        }
        let id: i64 =
            sqlx::query("UPDATE finding_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
                .fetch_one(&mut *db)
                .await
                .map_err(store_error("number a finding"))?
                .try_get(0)
                .map_err(store_error("number a finding"))?;
        sqlx::query(
            "INSERT INTO findings (id, name, version, reporter, severity, title, detail, state, \
             bonus, yanked, note, reported_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, '', $9)",
        )
        .bind(id)
        .bind(name)
        .bind(version_)
        .bind(reporter)
        .bind(new.severity.as_str())
        .bind(new.title.trim())
        .bind(&new.detail)
        .bind(FindingState::Reported.as_str())
        .bind(now())
        .execute(&mut *db)
        .await
        .map_err(store_error("keep a finding"))?;
        db.commit().await.map_err(store_error("commit"))?;
        self.finding(id).await
    }

    /// Finding `id`.
    pub async fn finding(&self, id: i64) -> Result<Finding, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        finding(&mut db, id).await
    }

    /// The findings in `state` (all when `None`) against package `name`
    /// (every package's when `None`), oldest first.
    pub async fn findings(
        &self,
        state: Option<FindingState>,
        name: Option<&str>,
    ) -> Result<Vec<Finding>, MarketError> {
        let rows = sqlx::query(&format!(
            "{FINDING_COLUMNS} WHERE ($1 = '' OR f.state = $1) AND ($2 = '' OR f.name = $2) \
             ORDER BY f.id"
        ))
        .bind(state.map_or("", |s| s.as_str()))
        .bind(name.unwrap_or(""))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the findings"))?;
        rows.iter().map(finding_row).collect()
    }

    /// Records `decider`'s decision on finding `id`, once: a confirmation
    /// pays the reporter's bonus from the review pool and yanks the version
    /// if asked, all in one database transaction, so a bonus the pool
    /// cannot pay leaves the finding undecided. Nobody decides a finding
    /// they reported, or one against a package they publish or are linked
    /// to; whether `decider` may decide at all is the caller's policy
    /// decision.
    pub async fn decide_finding(
        &self,
        id: i64,
        decider: &str,
        decision: &Decision,
    ) -> Result<Finding, MarketError> {
        let mut db = self.begin_write().await?;
        // Touching the row first serializes two decisions on it.
        sqlx::query("UPDATE findings SET note = note WHERE id = $1")
            .bind(id)
            .execute(&mut *db)
            .await
            .map_err(store_error("take a finding"))?;
        let found = finding(&mut db, id).await?;
        let package = found.package();
        decision.check(&package)?;
        if found.state != FindingState::Reported {
            return Err(MarketError::FindingClosed {
                id,
                state: found.state,
            });
        }
        let why = if found.reporter == decider {
            Some("it reported it")
        } else {
            own(&mut db, decider, &found.publisher).await?
        };
        if let Some(why) = why {
            return Err(MarketError::OwnPackage {
                account: decider.to_owned(),
                action: "decide a finding against",
                package,
                why,
            });
        }
        let confirmed = decision.verdict == FindingVerdict::Confirm;
        if confirmed && decision.bonus > 0 {
            let bonus = Transaction::ReviewBonus {
                id: Finding::bonus_transaction(id),
                reviewer: found.reporter.clone(),
                finding: format!("finding {id} on {package}"),
                amount: decision.bonus,
            };
            bonus.check()?;
            let body = serde_json::to_string(&bonus).unwrap_or_default();
            if let Recorded::Again(_) = record_in(&mut db, &bonus, &body).await? {
                return Err(MarketError::Damaged {
                    detail: format!("the bonus of finding {id} was paid before it was decided"),
                });
            }
        }
        if confirmed && decision.yank {
            let reason = format!("security finding {id}: {}", found.title);
            yank_in(&mut db, &found.name, &found.version, &reason).await?;
        }
        let state = if confirmed {
            FindingState::Confirmed
        } else {
            FindingState::Dismissed
        };
        sqlx::query(
            "UPDATE findings SET state = $1, bonus = $2, yanked = $3, note = $4, \
             decided_at = $5, decided_by = $6 WHERE id = $7",
        )
        .bind(state.as_str())
        .bind(decision.bonus)
        .bind(i64::from(confirmed && decision.yank))
        .bind(&decision.note)
        .bind(now())
        .bind(decider)
        .bind(id)
        .execute(&mut *db)
        .await
        .map_err(store_error("decide a finding"))?;
        db.commit().await.map_err(store_error("commit"))?;
        self.finding(id).await
    }

    /// `account`'s reputation, counted afresh from its verdicts and its
    /// findings (see [`crate::finding`] for the rules).
    pub async fn reputation(&self, account: &str) -> Result<Reputation, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        reputation(&mut db, account).await
    }
}

/// Why `account` counts as `publisher`'s own side, if it does.
async fn own(
    db: &mut sqlx::AnyConnection,
    account: &str,
    publisher: &str,
) -> Result<Option<&'static str>, MarketError> {
    if account == publisher {
        return Ok(Some("it is its publisher"));
    }
    if linked(db, account, publisher).await? {
        return Ok(Some("it is linked to its publisher"));
    }
    Ok(None)
}

async fn finding(db: &mut sqlx::AnyConnection, id: i64) -> Result<Finding, MarketError> {
    let row = sqlx::query(&format!("{FINDING_COLUMNS} WHERE f.id = $1"))
        .bind(id)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a finding"))?
        .ok_or(MarketError::UnknownFinding { id })?;
    finding_row(&row)
}

fn finding_row(row: &AnyRow) -> Result<Finding, MarketError> {
    let read = |e| MarketError::Store {
        operation: "read a finding",
        source: e,
    };
    let id: i64 = row.try_get(0).map_err(read)?;
    let damaged = |what: &str| MarketError::Damaged {
        detail: format!("finding {id} has a damaged {what}"),
    };
    let text = |i: usize| row.try_get::<String, _>(i).map_err(read);
    Ok(Finding {
        id,
        name: text(1)?,
        version: text(2)?,
        publisher: text(3)?,
        reporter: text(4)?,
        severity: text(5)?
            .parse::<Severity>()
            .map_err(|_| damaged("severity"))?,
        title: text(6)?,
        detail: text(7)?,
        state: text(8)?.parse().map_err(|_| damaged("state"))?,
        bonus: row.try_get(9).map_err(read)?,
        yanked: row.try_get::<i64, _>(10).map_err(read)? != 0,
        note: text(11)?,
        reported_at: row.try_get(12).map_err(read)?,
        decided_at: row.try_get(13).map_err(read)?,
        decided_by: row.try_get(14).map_err(read)?,
    })
}

/// `account`'s reputation on `db`, inside whatever transaction it is in.
pub(super) async fn reputation(
    db: &mut sqlx::AnyConnection,
    account: &str,
) -> Result<Reputation, MarketError> {
    let read = || store_error("read the verdicts");
    let rows = sqlx::query(
        "SELECT r.verdict, s.state, (SELECT COUNT(*) FROM findings f \
         WHERE f.name = s.name AND f.version = s.version AND f.state = 'confirmed') \
         FROM reviews r JOIN submissions s ON s.id = r.submission WHERE r.reviewer = $1",
    )
    .bind(account)
    .fetch_all(&mut *db)
    .await
    .map_err(read())?;
    let mut reputation = Reputation::new(account);
    for row in &rows {
        let damaged = || MarketError::Damaged {
            detail: format!("a verdict of `{account}` cannot be read"),
        };
        let verdict = row
            .try_get::<String, _>(0)
            .map_err(read())?
            .parse()
            .map_err(|_| damaged())?;
        let state = row
            .try_get::<String, _>(1)
            .map_err(read())?
            .parse()
            .map_err(|_| damaged())?;
        let confirmed: i64 = row.try_get(2).map_err(read())?;
        reputation.add_verdict(verdict, state, confirmed > 0);
    }
    let found: i64 =
        sqlx::query("SELECT COUNT(*) FROM findings WHERE reporter = $1 AND state = 'confirmed'")
            .bind(account)
            .fetch_one(&mut *db)
            .await
            .map_err(store_error("count the findings"))?
            .try_get(0)
            .map_err(store_error("count the findings"))?;
    reputation.add_findings(u64::try_from(found).unwrap_or(0));
    Ok(reputation)
}
