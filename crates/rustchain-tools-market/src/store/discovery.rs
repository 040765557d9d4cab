//! What usage reports say about which packages go together: the packages
//! the same accounts use, for a package page and for an account's
//! recommendations. An account uses a package when it reported at least
//! one call of any of its versions.

use sqlx::Row;

use super::{MarketStore, store_error};
use crate::MarketError;
use crate::usage::UsedBy;

/// At most this many packages in one answer.
const MAX_LIMIT: usize = 100;

impl MarketStore {
    /// The packages used by the accounts that use `name`, most shared
    /// accounts first (then by name).
    pub async fn used_together(
        &self,
        name: &str,
        limit: usize,
    ) -> Result<Vec<UsedBy>, MarketError> {
        let rows = sqlx::query(
            "SELECT other.name, COUNT(DISTINCT other.account) AS accounts \
             FROM usage_reports mine JOIN usage_reports other \
             ON other.account = mine.account AND other.name <> mine.name \
             WHERE mine.name = $1 AND mine.calls > 0 AND other.calls > 0 \
             GROUP BY other.name ORDER BY accounts DESC, other.name LIMIT $2",
        )
        .bind(name)
        .bind(bounded(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the packages used together"))?;
        used_by(&rows, "read the packages used together")
    }

    /// The packages that `account` does not use, used by the accounts that
    /// share a package with it: each counted by how many such accounts use
    /// it, most first (then by name).
    pub async fn recommended_for(
        &self,
        account: &str,
        limit: usize,
    ) -> Result<Vec<UsedBy>, MarketError> {
        let rows = sqlx::query(
            "SELECT other.name, COUNT(DISTINCT other.account) AS accounts \
             FROM usage_reports mine \
             JOIN usage_reports peer ON peer.name = mine.name AND peer.account <> mine.account \
             JOIN usage_reports other ON other.account = peer.account \
             WHERE mine.account = $1 AND mine.calls > 0 AND peer.calls > 0 AND other.calls > 0 \
             AND other.name NOT IN (SELECT name FROM usage_reports WHERE account = $1) \
             GROUP BY other.name ORDER BY accounts DESC, other.name LIMIT $2",
        )
        .bind(account)
        .bind(bounded(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the recommendations"))?;
        used_by(&rows, "read the recommendations")
    }

    /// The packages `account` has reported calls of, by name.
    pub async fn used_by(&self, account: &str) -> Result<Vec<String>, MarketError> {
        let rows = sqlx::query(
            "SELECT DISTINCT name FROM usage_reports WHERE account = $1 AND calls > 0 ORDER BY name",
        )
        .bind(account)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read an account's packages"))?;
        rows.iter()
            .map(|row| {
                row.try_get(0)
                    .map_err(store_error("read an account's packages"))
            })
            .collect()
    }

    /// The packages used by the most accounts, most first (then by name):
    /// what to suggest to an account with no use yet.
    pub async fn most_used(&self, limit: usize) -> Result<Vec<UsedBy>, MarketError> {
        let rows = sqlx::query(
            "SELECT name, COUNT(DISTINCT account) AS accounts FROM usage_reports \
             WHERE calls > 0 GROUP BY name ORDER BY accounts DESC, name LIMIT $1",
        )
        .bind(bounded(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the most used packages"))?;
        used_by(&rows, "read the most used packages")
    }
}

fn bounded(limit: usize) -> i64 {
    limit.min(MAX_LIMIT) as i64
}

fn used_by(
    rows: &[sqlx::any::AnyRow],
    operation: &'static str,
) -> Result<Vec<UsedBy>, MarketError> {
    rows.iter()
        .map(|row| {
            Ok(UsedBy {
                name: row.try_get(0).map_err(store_error(operation))?,
                accounts: u64::try_from(row.try_get::<i64, _>(1).map_err(store_error(operation))?)
                    .unwrap_or(0),
            })
        })
        .collect()
}
