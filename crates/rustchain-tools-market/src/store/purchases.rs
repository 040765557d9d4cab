//! Purchases: a package bought once per account and major version, sold
//! by the market itself.

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
    /// The versions it opens: `name@MAJOR.x` (the bought version alone if
    /// its number is not semver).
    pub covers: String,
    /// What it cost, in minor units.
    pub amount: i64,
    /// Whether this request bought it; false when it was bought before.
    pub new: bool,
}

/// The versions one purchase of `name@version` opens: its major version
/// (`1.x`, or `0.x`), so a new major version is sold anew.
fn covers(name: &str, version: &str) -> String {
    match semver::Version::parse(version) {
        Ok(v) => format!("{name}@{}.x", v.major),
        Err(_) => format!("{name}@{version}"),
    }
}

/// The sale id of `account`'s purchase of `covers`: deterministic, so a
/// second purchase of the same versions is a replay, not a second sale.
/// `attempt` counts the earlier purchases of them that were refunded in
/// full.
fn purchase_id(account: &str, covers: &str, attempt: u32) -> String {
    let digest = Sha256::digest(format!("{account}\n{covers}\n{attempt}"));
    format!("purchase-{}", &hex::encode(digest)[..40])
}

/// What the ledger holds of `account`'s purchases of some versions.
enum Held {
    /// A purchase that stands.
    Bought(Purchase),
    /// None that stands; the next purchase is this attempt.
    Not(u32),
}

impl MarketStore {
    /// Buys `name@version_` for `account` at its purchase price
    /// (`price.purchase` in its manifest, minor units): a sale from
    /// `account` to the publisher, split by the share the version's quality
    /// earns, recorded once. The purchase opens every version of the same
    /// major version (see [`Purchase::covers`]); buying one of them again
    /// records nothing and answers with the first purchase.
    ///
    /// Refuses an unknown version, a yanked one, one without a purchase
    /// price, and the package's own publisher, who needs no purchase. Like a
    /// billed call, the price is owed by the account: the ledger records it
    /// as the account's debt.
    pub async fn purchase(
        &self,
        account: &str,
        name: &str,
        version_: &str,
    ) -> Result<Purchase, MarketError> {
        let package = format!("{name}@{version_}");
        let covers = covers(name, version_);
        let share = RevenueShare::for_quality(&self.metrics(name, version_).await?.quality());
        let mut db = self.begin_write().await?;
        let record = known_version(&mut db, name, version_).await?;
        let not_for_sale = |reason: String| MarketError::NotForSale {
            package: package.clone(),
            reason,
        };
        if let Some(yanked) = &record.yanked {
            return Err(not_for_sale(format!("it was yanked: {}", yanked.reason)));
        }
        let price = record.prices().purchase;
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
        let attempt = match held(&mut db, account, &covers).await? {
            Held::Bought(earlier) => return Ok(earlier),
            Held::Not(attempt) => attempt,
        };
        let amount =
            i64::try_from(price).map_err(|_| not_for_sale("its price is out of range".into()))?;
        let sale = Transaction::Sale {
            id: purchase_id(account, &covers, attempt),
            customer: account.to_owned(),
            publisher: record.package.publisher.clone(),
            package: package.clone(),
            amount,
            share,
        };
        sale.check()?;
        let body = serde_json::to_string(&sale).unwrap_or_default();
        match record_in(&mut db, &sale, &body).await {
            Ok(Recorded::New(_)) => {
                db.commit().await.map_err(store_error("commit"))?;
                Ok(Purchase {
                    transaction: sale.id().to_owned(),
                    package,
                    covers,
                    amount,
                    new: true,
                })
            }
            // On PostgreSQL another request of the account may have bought
            // them since `held` looked, maybe at another version of the
            // same major: the deterministic id finds it, and it stands.
            Ok(Recorded::Again(_)) | Err(MarketError::TransactionConflict { .. }) => {
                drop(db);
                let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
                match held(&mut db, account, &covers).await? {
                    Held::Bought(earlier) => Ok(earlier),
                    Held::Not(_) => Err(MarketError::Damaged {
                        detail: format!("the purchase of {covers} by {account} vanished"),
                    }),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// `account`'s purchase that opens `name@version_`, if it bought one
    /// and it was not refunded in full.
    pub async fn purchase_of(
        &self,
        account: &str,
        name: &str,
        version_: &str,
    ) -> Result<Option<Purchase>, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        Ok(
            match held(&mut db, account, &covers(name, version_)).await? {
                Held::Bought(purchase) => Some(purchase),
                Held::Not(_) => None,
            },
        )
    }
}

async fn held(
    db: &mut sqlx::AnyConnection,
    account: &str,
    covers: &str,
) -> Result<Held, MarketError> {
    let read = || store_error("read a purchase");
    // One lookup by id, and one more for each purchase of the same
    // versions that was refunded in full (rare: only admins refund).
    for attempt in 0..u32::MAX {
        let id = purchase_id(account, covers, attempt);
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
            covers: covers.to_owned(),
            amount,
            new: false,
        }));
    }
    Err(MarketError::Damaged {
        detail: format!("{account} has more refunded purchases of {covers} than can be counted"),
    })
}
