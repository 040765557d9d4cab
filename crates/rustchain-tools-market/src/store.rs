//! The marketplace's database: SQLite embedded by default, PostgreSQL for
//! deployments that outgrow one machine, one schema and one set of
//! migrations (`migrations/`) through sqlx's Any driver.
//!
//! The ledger here follows the same rules as [`Ledger`](crate::Ledger):
//! each recording runs in one database transaction that first takes the
//! ledger's head row, so writers are serialized on both engines, a refused
//! transaction rolls back whole, and a replayed one changes nothing.

use std::borrow::Cow;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sqlx::AnyPool;
use sqlx::Row;
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::ledger::{
    Entry, Facts, Needs, Posting, Recorded, SaleState, Statement, needs, plan, verify_entries,
};
use crate::package::{PublisherKey, SignedPackage};
use crate::{Account, MarketError, RevenueShare, Transaction};

mod discovery;
mod findings;
mod purchases;
mod submissions;
mod usage;

pub use purchases::Purchase;
pub use submissions::ScanOutcome;

/// Which database engine a store runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite, in one file.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// A package version as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VersionRecord {
    /// The signed name, version and digest.
    pub package: SignedPackage,
    /// The plugin's manifest, as JSON.
    pub manifest: serde_json::Value,
    /// When it was added, in seconds since 1970.
    pub added_at: i64,
    /// When and why it was yanked, if it was.
    pub yanked: Option<Yanked>,
}

impl VersionRecord {
    /// What its manifest says it costs.
    pub fn prices(&self) -> Prices {
        Prices::of(&self.manifest)
    }
}

/// What a version costs, in minor units, as its manifest's `price` says;
/// 0 for a part it leaves out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prices {
    /// `price.perCall`: one call, billed from usage reports.
    pub per_call: u64,
    /// `price.purchase`: the package, bought once per account and major
    /// version before its first download.
    pub purchase: u64,
}

impl Prices {
    /// The prices in a plugin manifest (as JSON).
    pub fn of(manifest: &serde_json::Value) -> Prices {
        let part = |key: &str| manifest["price"][key].as_u64().unwrap_or(0);
        Prices {
            per_call: part("perCall"),
            purchase: part("purchase"),
        }
    }
}

/// A yanked version: still there for those who pinned it, never offered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Yanked {
    /// When, in seconds since 1970.
    pub at: i64,
    /// Why.
    pub reason: String,
}

/// What a publisher earned from one package version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Earnings {
    /// `name@version`, as its sales name it.
    pub package: String,
    /// How many sales.
    pub sales: u64,
    /// The publisher's part of them less its part of their refunds, in
    /// minor units.
    pub earned: i64,
}

/// The marketplace's database.
#[derive(Clone, Debug)]
pub struct MarketStore {
    pool: AnyPool,
    backend: Backend,
}

fn store_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> MarketError {
    move |source| MarketError::Store { operation, source }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn migrator() -> Migrator {
    let migration = |version, description: &'static str, sql: &'static str| {
        Migration::new(
            version,
            description.into(),
            MigrationType::Simple,
            sql.into(),
            false,
        )
    };
    Migrator {
        migrations: Cow::Owned(vec![
            migration(1, "market", include_str!("../migrations/0001_market.sql")),
            migration(2, "review", include_str!("../migrations/0002_review.sql")),
            migration(3, "usage", include_str!("../migrations/0003_usage.sql")),
            migration(
                4,
                "findings",
                include_str!("../migrations/0004_findings.sql"),
            ),
            migration(5, "memory", include_str!("../migrations/0005_memory.sql")),
            migration(
                6,
                "usage by name",
                include_str!("../migrations/0006_usage_by_name.sql"),
            ),
        ]),
        ..Migrator::DEFAULT
    }
}

impl MarketStore {
    /// Opens the store at `url` (`sqlite://PATH?mode=rwc` or
    /// `postgres://USER@HOST:PORT/DB`) and brings its schema up to date.
    pub async fn open(url: &str) -> Result<MarketStore, MarketError> {
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(MarketError::InvalidStoreUrl {
                url: url.to_owned(),
            });
        };
        sqlx::any::install_default_drivers();
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                // One writer at a time either way; a few readers beside it.
                Backend::Sqlite => 4,
                Backend::Postgres => 16,
            })
            .connect(url)
            .await
            .map_err(store_error("connect"))?;
        if backend == Backend::Sqlite {
            // Readers do not block the one writer; set once, kept in the file.
            sqlx::query("PRAGMA journal_mode = WAL")
                .execute(&pool)
                .await
                .map_err(store_error("set the journal mode"))?;
        }
        migrator()
            .run(&pool)
            .await
            .map_err(|source| MarketError::Migrate { source })?;
        Ok(MarketStore { pool, backend })
    }

    /// Opens (creating it if needed) the SQLite store in the file `path`.
    pub async fn open_sqlite(path: &Path) -> Result<MarketStore, MarketError> {
        MarketStore::open(&format!("sqlite://{}?mode=rwc", path.display())).await
    }

    /// The engine this store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Begins a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a transaction that reads first
    /// cannot wait for a writer when it comes to write, and fails with
    /// "database is locked" instead; this one waits its turn.
    pub(crate) async fn begin_write(
        &self,
    ) -> Result<sqlx::Transaction<'static, sqlx::Any>, MarketError> {
        let begun = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Backend::Postgres => self.pool.begin().await,
        };
        begun.map_err(store_error("begin"))
    }

    /// Records `txn`, or returns its earlier entry if the same transaction
    /// was recorded before. On an error nothing changes.
    pub async fn record(&self, txn: Transaction) -> Result<Recorded, MarketError> {
        txn.check()?;
        let body = serde_json::to_string(&txn).map_err(|e| MarketError::InvalidTransaction {
            id: txn.id().to_owned(),
            reason: e.to_string(),
        })?;
        let mut db = self.begin_write().await?;
        let recorded = record_in(&mut db, &txn, &body).await?;
        match recorded {
            Recorded::Again(_) => db.rollback().await.map_err(store_error("rollback"))?,
            Recorded::New(_) => db.commit().await.map_err(store_error("commit"))?,
        }
        Ok(recorded)
    }

    /// An account's balance (zero if nothing moved on it).
    pub async fn balance(&self, account: &Account) -> Result<i64, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        balance(&mut db, account).await
    }

    /// The entry recorded for transaction `id`.
    pub async fn entry(&self, id: &str) -> Result<Option<Entry>, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        entry_by_id(&mut db, id).await
    }

    /// An account's statement, oldest first.
    pub async fn statement(&self, account: &Account) -> Result<Statement, MarketError> {
        let rows = sqlx::query(
            "SELECT p.seq, e.txn_id, e.kind, p.amount FROM ledger_postings p \
             JOIN ledger_entries e ON e.seq = p.seq \
             WHERE p.account = $1 ORDER BY p.seq, p.position",
        )
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read a statement"))?;
        let lines = rows
            .iter()
            .map(|row| {
                Ok((
                    row.try_get::<i64, _>(0)? as u64,
                    row.try_get::<String, _>(1)?,
                    row.try_get::<String, _>(2)?,
                    row.try_get::<i64, _>(3)?,
                ))
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(store_error("read a statement"))?;
        Ok(Statement::from_postings(account.clone(), lines))
    }

    /// What `publisher` earned per package version: its part of each sale,
    /// less its part of the refunds, in ledger order of first sale.
    pub async fn earnings(&self, publisher: &str) -> Result<Vec<Earnings>, MarketError> {
        let account = Account::Publisher(publisher.to_owned());
        account.check()?;
        let rows = sqlx::query(
            "SELECT p.seq, p.amount, e.body FROM ledger_postings p \
             JOIN ledger_entries e ON e.seq = p.seq \
             WHERE p.account = $1 ORDER BY p.seq, p.position",
        )
        .bind(account.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the earnings"))?;
        let mut out: Vec<Earnings> = Vec::new();
        let mut package_of_sale = std::collections::HashMap::new();
        for row in &rows {
            let read = || store_error("read the earnings");
            let seq: i64 = row.try_get(0).map_err(read())?;
            let amount: i64 = row.try_get(1).map_err(read())?;
            let body: String = row.try_get(2).map_err(read())?;
            let (package, sale) = match parse_body(&body, seq as u64)? {
                Transaction::Sale { id, package, .. } => {
                    package_of_sale.insert(id, package.clone());
                    (package, true)
                }
                Transaction::Refund { sale, .. } => match package_of_sale.get(&sale) {
                    Some(package) => (package.clone(), false),
                    None => continue,
                },
                Transaction::ReviewBonus { .. } | Transaction::Payout { .. } => continue,
            };
            let at = match out.iter().position(|e| e.package == package) {
                Some(at) => at,
                None => {
                    out.push(Earnings {
                        package,
                        sales: 0,
                        earned: 0,
                    });
                    out.len() - 1
                }
            };
            out[at].sales += u64::from(sale);
            out[at].earned += amount;
        }
        Ok(out)
    }

    /// Every account that has moved, with its balance.
    pub async fn balances(&self) -> Result<Vec<(Account, i64)>, MarketError> {
        let rows = sqlx::query("SELECT account, balance FROM ledger_balances ORDER BY account")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error("read the balances"))?;
        rows.iter()
            .map(|row| {
                let account: String = row.try_get(0).map_err(store_error("read the balances"))?;
                let balance: i64 = row.try_get(1).map_err(store_error("read the balances"))?;
                Ok((account.parse()?, balance))
            })
            .collect()
    }

    /// Reads the whole ledger and checks the books: every entry adds up to
    /// zero and the stored balances are the sums of their postings.
    pub async fn verify_ledger(&self) -> Result<(), MarketError> {
        let rows = sqlx::query(
            "SELECT e.seq, e.body, p.account, p.amount FROM ledger_entries e \
             LEFT JOIN ledger_postings p ON p.seq = e.seq ORDER BY e.seq, p.position",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the ledger"))?;
        let mut entries: Vec<Entry> = Vec::new();
        for row in &rows {
            let seq = row
                .try_get::<i64, _>(0)
                .map_err(store_error("read the ledger"))? as u64;
            if entries.last().is_none_or(|e| e.seq != seq) {
                let body: String = row.try_get(1).map_err(store_error("read the ledger"))?;
                entries.push(Entry {
                    seq,
                    transaction: parse_body(&body, seq)?,
                    postings: Vec::new(),
                });
            }
            let account: Option<String> = row.try_get(2).map_err(store_error("read the ledger"))?;
            if let (Some(account), Some(entry)) = (account, entries.last_mut()) {
                entry.postings.push(Posting {
                    account: account.parse()?,
                    amount: row.try_get(3).map_err(store_error("read the ledger"))?,
                });
            }
        }
        let balances = self.balances().await?;
        verify_entries(&entries, balances.iter().map(|(a, b)| (a, *b)))
    }

    /// Registers a publisher account; registering it again with the same
    /// name changes nothing.
    pub async fn add_publisher(&self, id: &str, display_name: &str) -> Result<(), MarketError> {
        sqlx::query(
            "INSERT INTO publishers (id, display_name, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(id)
        .bind(display_name)
        .bind(now())
        .execute(&self.pool)
        .await
        .map_err(store_error("add a publisher"))?;
        Ok(())
    }

    /// Registers a signing key to its publisher.
    pub async fn add_key(&self, key: &PublisherKey) -> Result<(), MarketError> {
        let mut db = self.begin_write().await?;
        require_publisher(&mut db, &key.publisher).await?;
        let owner: Option<String> =
            sqlx::query("SELECT publisher FROM publisher_keys WHERE key_id = $1")
                .bind(key.key_id())
                .fetch_optional(&mut *db)
                .await
                .map_err(store_error("read a key"))?
                .map(|row| row.try_get(0))
                .transpose()
                .map_err(store_error("read a key"))?;
        match owner {
            Some(owner) if owner == key.publisher => return Ok(()),
            Some(owner) => {
                return Err(MarketError::KeyTaken {
                    key_id: key.key_id(),
                    publisher: owner,
                });
            }
            None => {}
        }
        sqlx::query(
            "INSERT INTO publisher_keys (key_id, publisher, public_key, added_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(key.key_id())
        .bind(&key.publisher)
        .bind(key.to_hex())
        .bind(now())
        .execute(&mut *db)
        .await
        .map_err(store_error("add a key"))?;
        db.commit().await.map_err(store_error("commit"))
    }

    /// The keys registered to `publisher`.
    pub async fn keys(&self, publisher: &str) -> Result<Vec<PublisherKey>, MarketError> {
        let rows = sqlx::query(
            "SELECT public_key FROM publisher_keys WHERE publisher = $1 ORDER BY added_at, key_id",
        )
        .bind(publisher)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the keys"))?;
        rows.iter()
            .map(|row| {
                let text: String = row.try_get(0).map_err(store_error("read the keys"))?;
                PublisherKey::from_hex(publisher, &text)
            })
            .collect()
    }

    /// Adds a package version after checking its signature against the
    /// publisher's registered keys. The first version of a name makes its
    /// publisher the name's owner; a version, once added, is never
    /// rewritten: adding the same one again changes nothing, adding other
    /// contents under its number is refused.
    pub async fn add_version(
        &self,
        package: &SignedPackage,
        manifest: &serde_json::Value,
    ) -> Result<(), MarketError> {
        check_name_version(package, manifest)?;
        let keys = self.keys(&package.publisher).await?;
        package.verify(&keys, None)?;
        let mut db = self.begin_write().await?;
        insert_version(&mut db, package, manifest).await?;
        db.commit().await.map_err(store_error("commit"))
    }

    /// Yanks a version: it stays readable, marked, and is no longer
    /// offered. Yanking it again keeps the first reason.
    pub async fn yank_version(
        &self,
        name: &str,
        version: &str,
        reason: &str,
    ) -> Result<(), MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        yank_in(&mut db, name, version, reason).await
    }

    /// One version of a package.
    pub async fn version(
        &self,
        name: &str,
        version_: &str,
    ) -> Result<Option<VersionRecord>, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        version(&mut db, name, version_).await
    }

    /// Every version of a package, oldest first.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionRecord>, MarketError> {
        let rows = sqlx::query(&format!(
            "{VERSION_COLUMNS} WHERE v.name = $1 ORDER BY v.added_at, v.version"
        ))
        .bind(name)
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the versions"))?;
        rows.iter().map(version_record).collect()
    }

    /// Every version of every package, by name, oldest first.
    pub async fn all_versions(&self) -> Result<Vec<VersionRecord>, MarketError> {
        let rows = sqlx::query(&format!(
            "{VERSION_COLUMNS} ORDER BY v.name, v.added_at, v.version"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error("read the versions"))?;
        rows.iter().map(version_record).collect()
    }

    /// A value that changes whenever a version is added or yanked (and
    /// only then), so that what is built from the versions can be kept
    /// until it does: versions are never rewritten nor unyanked.
    pub async fn versions_changed(&self) -> Result<[i64; 3], MarketError> {
        let row = sqlx::query(
            "SELECT COUNT(*), COUNT(yanked_at), COALESCE(MAX(added_at), 0) FROM package_versions",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(store_error("count the versions"))?;
        let read = |i| {
            row.try_get::<i64, _>(i)
                .map_err(store_error("count the versions"))
        };
        Ok([read(0)?, read(1)?, read(2)?])
    }
}

/// Adds a verified version inside the transaction `db`: takes the name for
/// its publisher if it is new, and changes nothing if the same version is
/// there already.
async fn insert_version(
    db: &mut sqlx::AnyConnection,
    package: &SignedPackage,
    manifest: &serde_json::Value,
) -> Result<(), MarketError> {
    let owner: Option<String> = sqlx::query("SELECT publisher FROM packages WHERE name = $1")
        .bind(&package.name)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a package"))?
        .map(|row| row.try_get(0))
        .transpose()
        .map_err(store_error("read a package"))?;
    match owner {
        Some(owner) if owner != package.publisher => {
            return Err(MarketError::NameTaken {
                name: package.name.clone(),
                publisher: owner,
            });
        }
        Some(_) => {}
        None => {
            sqlx::query("INSERT INTO packages (name, publisher, created_at) VALUES ($1, $2, $3)")
                .bind(&package.name)
                .bind(&package.publisher)
                .bind(now())
                .execute(&mut *db)
                .await
                .map_err(store_error("add a package"))?;
        }
    }
    if let Some(existing) = version(&mut *db, &package.name, &package.version).await? {
        if existing.package.digest == package.digest {
            return Ok(());
        }
        return Err(MarketError::VersionExists {
            name: package.name.clone(),
            version: package.version.clone(),
            digest: existing.package.digest.to_string(),
        });
    }
    sqlx::query(
        "INSERT INTO package_versions (name, version, digest, key_id, signature, manifest, \
             added_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&package.name)
    .bind(&package.version)
    .bind(package.digest.to_string())
    .bind(&package.key_id)
    .bind(&package.signature)
    .bind(manifest.to_string())
    .bind(now())
    .execute(&mut *db)
    .await
    .map_err(store_error("add a version"))?;
    Ok(())
}

/// A package name is a tool name (ASCII letters, digits, `_`, `-`, `.`; at
/// most 128), its version a semantic version, and a manifest that names
/// them names the same.
fn check_name_version(
    package: &SignedPackage,
    manifest: &serde_json::Value,
) -> Result<(), MarketError> {
    let bad = |reason: String| MarketError::InvalidPackage {
        path: format!("{}@{}", package.name, package.version),
        reason,
    };
    let name = &package.name;
    if name.is_empty()
        || name.len() > 128
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(bad(
            "name: must be 1 to 128 ASCII letters, digits, `_`, `-` or `.`".to_owned(),
        ));
    }
    semver::Version::parse(&package.version)
        .map_err(|e| bad(format!("version: not a semantic version: {e}")))?;
    for field in ["name", "version"] {
        let signed = if field == "name" {
            name
        } else {
            &package.version
        };
        if let Some(value) = manifest.get(field)
            && value.as_str() != Some(signed.as_str())
        {
            return Err(bad(format!(
                "manifest: `{field}` is {value}, the signed package says `{signed}`"
            )));
        }
    }
    Ok(())
}

const VERSION_COLUMNS: &str = "SELECT v.name, v.version, v.digest, k.publisher, v.key_id, \
     v.signature, v.manifest, v.added_at, v.yanked_at, v.yank_reason \
     FROM package_versions v JOIN publisher_keys k ON k.key_id = v.key_id";

async fn version(
    db: &mut sqlx::AnyConnection,
    name: &str,
    version: &str,
) -> Result<Option<VersionRecord>, MarketError> {
    sqlx::query(&format!(
        "{VERSION_COLUMNS} WHERE v.name = $1 AND v.version = $2"
    ))
    .bind(name)
    .bind(version)
    .fetch_optional(&mut *db)
    .await
    .map_err(store_error("read a version"))?
    .as_ref()
    .map(version_record)
    .transpose()
}

fn version_record(row: &AnyRow) -> Result<VersionRecord, MarketError> {
    let read = store_error("read a version");
    let fields = (|| {
        Ok::<_, sqlx::Error>((
            row.try_get::<String, _>(0)?,
            row.try_get::<String, _>(1)?,
            row.try_get::<String, _>(2)?,
            row.try_get::<String, _>(3)?,
            row.try_get::<String, _>(4)?,
            row.try_get::<String, _>(5)?,
            row.try_get::<String, _>(6)?,
            row.try_get::<i64, _>(7)?,
            row.try_get::<Option<i64>, _>(8)?,
            row.try_get::<Option<String>, _>(9)?,
        ))
    })()
    .map_err(read)?;
    let (name, version, digest, publisher, key_id, signature, manifest, added_at, yanked_at, why) =
        fields;
    let damaged = |what: &str| MarketError::Damaged {
        detail: format!("version {name}@{version} has a damaged {what}"),
    };
    Ok(VersionRecord {
        package: SignedPackage {
            digest: digest.parse().map_err(|_| damaged("digest"))?,
            name: name.clone(),
            version: version.clone(),
            publisher,
            key_id,
            signature,
        },
        manifest: serde_json::from_str(&manifest).map_err(|_| damaged("manifest"))?,
        added_at,
        yanked: yanked_at.map(|at| Yanked {
            at,
            reason: why.unwrap_or_default(),
        }),
    })
}

async fn require_publisher(
    db: &mut sqlx::AnyConnection,
    publisher: &str,
) -> Result<(), MarketError> {
    let found = sqlx::query("SELECT id FROM publishers WHERE id = $1")
        .bind(publisher)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a publisher"))?;
    if found.is_none() {
        return Err(MarketError::UnknownPublisher {
            publisher: publisher.to_owned(),
        });
    }
    Ok(())
}

async fn balance(db: &mut sqlx::AnyConnection, account: &Account) -> Result<i64, MarketError> {
    let row = sqlx::query("SELECT balance FROM ledger_balances WHERE account = $1")
        .bind(account.to_string())
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a balance"))?;
    match row {
        Some(row) => row.try_get(0).map_err(store_error("read a balance")),
        None => Ok(0),
    }
}

async fn sale_state(
    db: &mut sqlx::AnyConnection,
    sale: &str,
) -> Result<Option<SaleState>, MarketError> {
    let row = sqlx::query(
        "SELECT customer, publisher, amount, publisher_bps, platform_bps, review_bps, refunded \
         FROM ledger_sales WHERE txn_id = $1",
    )
    .bind(sale)
    .fetch_optional(&mut *db)
    .await
    .map_err(store_error("read a sale"))?;
    let Some(row) = row else { return Ok(None) };
    let read = |e| MarketError::Store {
        operation: "read a sale",
        source: e,
    };
    let bps = |i: usize| -> Result<u16, MarketError> {
        let v: i64 = row.try_get(i).map_err(read)?;
        u16::try_from(v).map_err(|_| MarketError::Damaged {
            detail: format!("sale {sale} has a share of {v} basis points"),
        })
    };
    Ok(Some(SaleState {
        customer: row.try_get(0).map_err(read)?,
        publisher: row.try_get(1).map_err(read)?,
        amount: row.try_get(2).map_err(read)?,
        share: RevenueShare {
            publisher_bps: bps(3)?,
            platform_bps: bps(4)?,
            review_bps: bps(5)?,
        },
        refunded: row.try_get(6).map_err(read)?,
    }))
}

async fn entry_by_id(db: &mut sqlx::AnyConnection, id: &str) -> Result<Option<Entry>, MarketError> {
    let row = sqlx::query("SELECT seq, body FROM ledger_entries WHERE txn_id = $1")
        .bind(id)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read an entry"))?;
    let Some(row) = row else { return Ok(None) };
    let seq: i64 = row.try_get(0).map_err(store_error("read an entry"))?;
    let body: String = row.try_get(1).map_err(store_error("read an entry"))?;
    let rows =
        sqlx::query("SELECT account, amount FROM ledger_postings WHERE seq = $1 ORDER BY position")
            .bind(seq)
            .fetch_all(&mut *db)
            .await
            .map_err(store_error("read an entry"))?;
    let mut postings = Vec::with_capacity(rows.len());
    for row in &rows {
        let account: String = row.try_get(0).map_err(store_error("read an entry"))?;
        postings.push(Posting {
            account: account.parse()?,
            amount: row.try_get(1).map_err(store_error("read an entry"))?,
        });
    }
    Ok(Some(Entry {
        seq: seq as u64,
        transaction: parse_body(&body, seq as u64)?,
        postings,
    }))
}

fn parse_body(body: &str, seq: u64) -> Result<Transaction, MarketError> {
    serde_json::from_str(body).map_err(|e| MarketError::Damaged {
        detail: format!("entry {seq} cannot be read: {e}"),
    })
}

/// Records `txn` (checked, and `body` its JSON) inside the transaction
/// `db`, which the caller commits; an earlier entry of the same id is
/// returned as [`Recorded::Again`] and the caller rolls back.
async fn record_in(
    db: &mut sqlx::AnyConnection,
    txn: &Transaction,
    body: &str,
) -> Result<Recorded, MarketError> {
    let seq: i64 = sqlx::query("UPDATE ledger_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
        .fetch_one(&mut *db)
        .await
        .map_err(store_error("take the ledger head"))?
        .try_get(0)
        .map_err(store_error("take the ledger head"))?;

    if let Some(earlier) = entry_by_id(&mut *db, txn.id()).await? {
        if earlier.transaction != *txn {
            return Err(MarketError::TransactionConflict {
                id: txn.id().to_owned(),
            });
        }
        return Ok(Recorded::Again(earlier));
    }

    let facts = match needs(txn) {
        Needs::Nothing => Facts::None,
        Needs::Sale(sale) => Facts::Sale(sale_state(&mut *db, sale).await?),
        Needs::Balance(account) => Facts::Balance(balance(&mut *db, &account).await?),
    };
    let postings = plan(txn, facts)?;
    let mut balances = Vec::with_capacity(postings.len());
    for posting in &postings {
        let new = balance(&mut *db, &posting.account)
            .await?
            .checked_add(posting.amount)
            .ok_or_else(|| MarketError::Overflow {
                id: txn.id().to_owned(),
                account: posting.account.clone(),
            })?;
        balances.push(new);
    }

    sqlx::query(
        "INSERT INTO ledger_entries (seq, txn_id, kind, body, recorded_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(seq)
    .bind(txn.id())
    .bind(txn.kind())
    .bind(body)
    .bind(now())
    .execute(&mut *db)
    .await
    .map_err(store_error("insert the entry"))?;
    for (position, (posting, new)) in postings.iter().zip(balances).enumerate() {
        let account = posting.account.to_string();
        sqlx::query(
            "INSERT INTO ledger_postings (seq, position, account, amount) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(seq)
        .bind(position as i64)
        .bind(&account)
        .bind(posting.amount)
        .execute(&mut *db)
        .await
        .map_err(store_error("insert a posting"))?;
        sqlx::query(
            "INSERT INTO ledger_balances (account, balance) VALUES ($1, $2) \
             ON CONFLICT (account) DO UPDATE SET balance = excluded.balance",
        )
        .bind(&account)
        .bind(new)
        .execute(&mut *db)
        .await
        .map_err(store_error("update a balance"))?;
    }
    match txn {
        Transaction::Sale {
            id,
            customer,
            publisher,
            amount,
            share,
            ..
        } => {
            sqlx::query(
                "INSERT INTO ledger_sales (txn_id, customer, publisher, amount, \
                 publisher_bps, platform_bps, review_bps, refunded) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 0)",
            )
            .bind(id)
            .bind(customer)
            .bind(publisher)
            .bind(*amount)
            .bind(i64::from(share.publisher_bps))
            .bind(i64::from(share.platform_bps))
            .bind(i64::from(share.review_bps))
            .execute(&mut *db)
            .await
            .map_err(store_error("insert the sale"))?;
        }
        Transaction::Refund { sale, amount, .. } => {
            sqlx::query("UPDATE ledger_sales SET refunded = refunded + $1 WHERE txn_id = $2")
                .bind(*amount)
                .bind(sale)
                .execute(&mut *db)
                .await
                .map_err(store_error("update the sale"))?;
        }
        Transaction::ReviewBonus { .. } | Transaction::Payout { .. } => {}
    }
    Ok(Recorded::New(Entry {
        seq: seq as u64,
        transaction: txn.clone(),
        postings,
    }))
}

/// Yanks a version inside `db` (see [`MarketStore::yank_version`]).
async fn yank_in(
    db: &mut sqlx::AnyConnection,
    name: &str,
    version_: &str,
    reason: &str,
) -> Result<(), MarketError> {
    let done = sqlx::query(
        "UPDATE package_versions SET yanked_at = $1, yank_reason = $2 \
         WHERE name = $3 AND version = $4 AND yanked_at IS NULL",
    )
    .bind(now())
    .bind(reason)
    .bind(name)
    .bind(version_)
    .execute(&mut *db)
    .await
    .map_err(store_error("yank a version"))?;
    if done.rows_affected() == 0 && version(db, name, version_).await?.is_none() {
        return Err(MarketError::UnknownVersion {
            name: name.to_owned(),
            version: version_.to_owned(),
        });
    }
    Ok(())
}
