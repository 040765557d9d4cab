//! Usage reports and ratings in the store, and the metrics made of them.

use sha2::{Digest, Sha256};
use sqlx::Row;

use super::submissions::linked;
use super::{MarketStore, VersionRecord, now, record_in, store_error, version};
use crate::MarketError;
use crate::ledger::{MAX_AMOUNT, Recorded, RevenueShare, Transaction};
use crate::usage::{Rating, UsageReport, VersionMetrics, check_rating, usage_weight};

/// Counts above `i64::MAX` cannot be stored; no real log reaches them.
fn stored(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

fn count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl MarketStore {
    /// Keeps `account`'s report of its use of a published version, in
    /// place of its last one. Refuses a report that does not add up, one
    /// for a version the market does not have, and one that counts fewer
    /// calls than the last.
    ///
    /// A version whose manifest has a price (`price.perCall`, minor units)
    /// bills the calls this report adds to the last one: a sale from
    /// `account` to its publisher, split by the share the version's quality
    /// earns before this report, in the same database transaction as the
    /// report. Returns that sale, if there was one.
    pub async fn report_usage(
        &self,
        account: &str,
        report: &UsageReport,
    ) -> Result<Option<Transaction>, MarketError> {
        report.check()?;
        let package = format!("{}@{}", report.name, report.version);
        let share = RevenueShare::for_quality(
            &self.metrics(&report.name, &report.version).await?.quality(),
        );
        let mut db = self.begin_write().await?;
        let record = known_version(&mut db, &report.name, &report.version).await?;
        let before = sqlx::query(
            "SELECT calls FROM usage_reports WHERE account = $1 AND name = $2 AND version = $3",
        )
        .bind(account)
        .bind(&report.name)
        .bind(&report.version)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a usage report"))?;
        let before = match before {
            Some(row) => count(row.try_get(0).map_err(store_error("read a usage report"))?),
            None => 0,
        };
        if report.calls < before {
            return Err(MarketError::UsageWentBack {
                package,
                calls: report.calls,
                before,
            });
        }
        let sale = bill(account, &record, &package, before, report.calls, share)?;
        if let Some(sale) = &sale {
            sale.check()?;
            let body = serde_json::to_string(sale).unwrap_or_default();
            if let Recorded::Again(_) = record_in(&mut db, sale, &body).await? {
                return Err(MarketError::Damaged {
                    detail: format!("the calls of {account} on {package} were billed before"),
                });
            }
        }
        let latency = serde_json::to_string(&report.latency).unwrap_or_default();
        let memory = serde_json::to_string(&report.memory).unwrap_or_default();
        sqlx::query(
            "INSERT INTO usage_reports (account, name, version, calls, errors, timeouts, \
             limit_hits, latency, log_head, reported_at, memory) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (account, name, version) DO UPDATE SET calls = excluded.calls, \
             errors = excluded.errors, timeouts = excluded.timeouts, \
             limit_hits = excluded.limit_hits, latency = excluded.latency, \
             log_head = excluded.log_head, reported_at = excluded.reported_at, \
             memory = excluded.memory",
        )
        .bind(account)
        .bind(&report.name)
        .bind(&report.version)
        .bind(stored(report.calls))
        .bind(stored(report.errors))
        .bind(stored(report.timeouts))
        .bind(stored(report.limit_hits))
        .bind(latency)
        .bind(&report.log_head)
        .bind(now())
        .bind(memory)
        .execute(&mut *db)
        .await
        .map_err(store_error("keep a usage report"))?;
        db.commit().await.map_err(store_error("commit"))?;
        Ok(sale)
    }

    /// Keeps `account`'s rating of a published version (1 to 5 stars and
    /// a written review, maybe empty) in place of its last one. Its
    /// publisher and accounts linked to it may not rate it.
    pub async fn rate(
        &self,
        account: &str,
        name: &str,
        version_: &str,
        stars: u8,
        review: &str,
    ) -> Result<(), MarketError> {
        let package = format!("{name}@{version_}");
        check_rating(&package, stars, review)?;
        let mut db = self.begin_write().await?;
        let record = known_version(&mut db, name, version_).await?;
        let own = |why| MarketError::OwnPackage {
            account: account.to_owned(),
            action: "rate",
            package: package.clone(),
            why,
        };
        if record.package.publisher == account {
            return Err(own("it is its publisher"));
        }
        if linked(&mut db, account, &record.package.publisher).await? {
            return Err(own("it is linked to its publisher"));
        }
        sqlx::query(
            "INSERT INTO ratings (account, name, version, stars, review, at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (account, name, version) DO UPDATE SET stars = excluded.stars, \
             review = excluded.review, at = excluded.at",
        )
        .bind(account)
        .bind(name)
        .bind(version_)
        .bind(i64::from(stars))
        .bind(review)
        .bind(now())
        .execute(&mut *db)
        .await
        .map_err(store_error("keep a rating"))?;
        db.commit().await.map_err(store_error("commit"))
    }

    /// What real use says of a version: the reports added up, and the
    /// ratings with the weight each account's reported calls give it.
    pub async fn metrics(&self, name: &str, version_: &str) -> Result<VersionMetrics, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        let mut metrics = VersionMetrics::empty(name, version_);
        let read = || store_error("read the usage reports");
        let rows = sqlx::query(
            "SELECT account, calls, errors, timeouts, limit_hits, latency, log_head, memory \
             FROM usage_reports WHERE name = $1 AND version = $2 ORDER BY account",
        )
        .bind(name)
        .bind(version_)
        .fetch_all(&mut *db)
        .await
        .map_err(read())?;
        let mut calls_of = std::collections::HashMap::new();
        for row in &rows {
            let account: String = row.try_get(0).map_err(read())?;
            let latency: String = row.try_get(5).map_err(read())?;
            let memory: String = row.try_get(7).map_err(read())?;
            let damaged = || MarketError::Damaged {
                detail: format!("the usage report of {account} for {name}@{version_}"),
            };
            let report = UsageReport {
                name: name.to_owned(),
                version: version_.to_owned(),
                calls: count(row.try_get(1).map_err(read())?),
                errors: count(row.try_get(2).map_err(read())?),
                timeouts: count(row.try_get(3).map_err(read())?),
                limit_hits: count(row.try_get(4).map_err(read())?),
                latency: serde_json::from_str(&latency).map_err(|_| damaged())?,
                log_head: row.try_get(6).map_err(read())?,
                memory: serde_json::from_str(&memory).map_err(|_| damaged())?,
            };
            metrics.add(&report);
            calls_of.insert(account, report.calls);
        }
        let read = || store_error("read the ratings");
        let rows = sqlx::query(
            "SELECT account, stars, review, at FROM ratings WHERE name = $1 AND version = $2 \
             ORDER BY at DESC, account",
        )
        .bind(name)
        .bind(version_)
        .fetch_all(&mut *db)
        .await
        .map_err(read())?;
        for row in &rows {
            let account: String = row.try_get(0).map_err(read())?;
            let stars: i64 = row.try_get(1).map_err(read())?;
            let calls = calls_of.get(&account).copied().unwrap_or(0);
            metrics.ratings.push(Rating {
                stars: u8::try_from(stars).unwrap_or(0),
                review: row.try_get(2).map_err(read())?,
                at: row.try_get(3).map_err(read())?,
                calls,
                weight: usage_weight(calls),
                account,
            });
        }
        Ok(metrics)
    }
}

/// The sale for the calls from `before` to `calls` of a priced version;
/// none for a free version or no new calls. Its id is derived from what it
/// bills, so the same calls can never be billed twice.
fn bill(
    account: &str,
    record: &VersionRecord,
    package: &str,
    before: u64,
    calls: u64,
    share: RevenueShare,
) -> Result<Option<Transaction>, MarketError> {
    let price = record.prices().per_call;
    let new_calls = calls - before;
    if price == 0 || new_calls == 0 {
        return Ok(None);
    }
    let amount = new_calls
        .checked_mul(price)
        .and_then(|a| i64::try_from(a).ok())
        .filter(|a| *a <= MAX_AMOUNT)
        .ok_or_else(|| MarketError::InvalidUsage {
            package: package.to_owned(),
            reason: format!("{new_calls} new calls at {price} each exceed what one sale may be"),
        })?;
    let digest = Sha256::digest(format!("{account}\n{package}\n{before}\n{calls}"));
    Ok(Some(Transaction::Sale {
        id: format!("usage-{}", &hex::encode(digest)[..40]),
        customer: account.to_owned(),
        publisher: record.package.publisher.clone(),
        package: package.to_owned(),
        amount,
        share,
    }))
}

pub(super) async fn known_version(
    db: &mut sqlx::AnyConnection,
    name: &str,
    version_: &str,
) -> Result<VersionRecord, MarketError> {
    version(db, name, version_)
        .await?
        .ok_or_else(|| MarketError::UnknownVersion {
            name: name.to_owned(),
            version: version_.to_owned(),
        })
}
