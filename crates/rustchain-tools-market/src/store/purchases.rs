//! Purchases: a package bought once per account, sold by the market itself.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;

use super::usage::known_version;
use super::{MarketStore, record_in, store_error};
use crate::MarketError;
use crate::ledger::{Recorded, RevenueShare, Transaction};

/// An account's purchase of a package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    /// The sale in the ledger.
    pub transaction: String,
    /// The version it was bought at (`name@version`).
    pub package: String,
    /// What it cost, in minor units.
    pub amount: i64,
    /// Whether this request bought it; false when it was bought before.
    pub new: bool,
}

/// The sale id of `account`'s purchase of `name`: one per account and
/// package, whatever version it was bought at, so buying again is a replay.
/// `attempt` counts the earlier purchases that were refunded in full.
fn purchase_id(account: &str, name: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{account}\n{name}\n{attempt}"));
    format!("purchase-{}", &hex::encode(digest)[..40])
}

/// What the ledger holds of `account`'s purchases of `name`.
enum Held {
    /// A purchase that stands.
    Bought(Purchase),
    /// None that stands; the next purchase is this attempt.
    Not(u32),
}

impl MarketStore {
    /// Buys `name` for `account` at the purchase price of `version_`
    /// (`price.purchase` in its manifest, minor units): a sale from
    /// `account` to the publisher, split by the share the version's quality
    /// earns, recorded once. Buying a package again records nothing and
    /// answers with the first purchase.
    ///
    /// Refuses a version that has no purchase price or is yanked, and the
    /// package's own publisher, who needs no purchase.
    pub async fn purchase(
        &self,
        account: &str,
        name: &str,
        version_: &str,
    ) -> Result<Purchase, MarketError> {
        let package = format!("{name}@{version_}");
        let attempt = match self.held(account, name).await? {
            Held::Bought(earlier) => return Ok(earlier),
            Held::Not(attempt) => attempt,
        };
        let share = RevenueShare::for_quality(&self.metrics(name, version_).await?.quality());
        let mut db = self.pool.begin().await.map_err(store_error("begin"))?;
        let record = known_version(&mut db, name, version_).await?;
        let not_for_sale = |reason: String| MarketError::NotForSale {
            package: package.clone(),
            reason,
        };
        if let Some(yanked) = &record.yanked {
            return Err(not_for_sale(format!("it was yanked: {}", yanked.reason)));
        }
        let price = record.manifest["price"]["purchase"].as_u64().unwrap_or(0);
        if price == 0 {
            return Err(not_for_sale(
                "its manifest sets no `price.purchase`; it is free to download".into(),
            ));
        }
        if record.package.publisher == account {
            return Err(MarketError::OwnPackage {
                account: account.to_owned(),
                action: "buy",
                package,
                why: "it is its publisher",
            });
        }
        let amount =
            i64::try_from(price).map_err(|_| not_for_sale("its price is out of range".into()))?;
        let sale = Transaction::Sale {
            id: purchase_id(account, name, attempt),
            customer: account.to_owned(),
            publisher: record.package.publisher.clone(),
            package: package.clone(),
            amount,
            share,
        };
        sale.check()?;
        let body = serde_json::to_string(&sale).unwrap_or_default();
        let new = matches!(record_in(&mut db, &sale, &body).await?, Recorded::New(_));
        db.commit().await.map_err(store_error("commit"))?;
        if !new {
            // Bought at the same moment by another request of the account.
            return self
                .purchase_of(account, name)
                .await?
                .ok_or_else(|| MarketError::Damaged {
                    detail: format!("the purchase of {name} by {account} vanished"),
                });
        }
        Ok(Purchase {
            transaction: sale.id().to_owned(),
            package,
            amount,
            new: true,
        })
    }

    /// `account`'s purchase of `name`, if it bought it and was not refunded
    /// in full.
    pub async fn purchase_of(
        &self,
        account: &str,
        name: &str,
    ) -> Result<Option<Purchase>, MarketError> {
        Ok(match self.held(account, name).await? {
            Held::Bought(purchase) => Some(purchase),
            Held::Not(_) => None,
        })
    }

    async fn held(&self, account: &str, name: &str) -> Result<Held, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        let read = || store_error("read a purchase");
        // Refunded purchases are rare: each one is an attempt to pass over.
        for attempt in 0..u32::MAX {
            let id = purchase_id(account, name, attempt);
            let row = sqlx::query(
                "SELECT s.amount, s.refunded, e.body FROM ledger_sales s \
                 JOIN ledger_entries e ON e.txn_id = s.txn_id WHERE s.txn_id = $1",
            )
            .bind(&id)
            .fetch_optional(&mut *db)
            .await
            .map_err(read())?;
            let Some(row) = row else {
                return Ok(Held::Not(attempt));
            };
            let amount: i64 = row.try_get(0).map_err(read())?;
            let refunded: i64 = row.try_get(1).map_err(read())?;
            if refunded >= amount {
                continue;
            }
            let body: String = row.try_get(2).map_err(read())?;
            let Ok(Transaction::Sale { package, .. }) = serde_json::from_str(&body) else {
                return Err(MarketError::Damaged {
                    detail: format!("the ledger entry of purchase {id}"),
                });
            };
            return Ok(Held::Bought(Purchase {
                transaction: id,
                package,
                amount,
                new: false,
            }));
        }
        Err(MarketError::Damaged {
            detail: format!("{account} has more refunded purchases of {name} than can be counted"),
        })
    }
}
