//! The store's suite, run the same on SQLite and on a real PostgreSQL
//! server that the test starts: the ledger matches the in-memory ledger
//! transaction by transaction, concurrent writers record each transaction
//! once, versions are immutable and signed, and data survives a reopen.

mod discovery;
mod findings;
mod postgres;
mod purchases;

use std::future::Future;
use std::pin::Pin;

use rustchain_tools_market::ledger::Recorded;
use rustchain_tools_market::package::{SigningKey, generate_key};
use rustchain_tools_market::{
    Account, Backend, Ledger, MarketAccount, MarketError, MarketStore, PackageDigest, PackageFile,
    PublisherKey, RevenueShare, ReviewKind, ReviewRules, ScanOutcome, SignedPackage,
    SubmissionState, Transaction, Verdict,
};
use rustchain_tools_market::{CallOutcome, UsageReport};
use serde_json::json;

/// Makes fresh, empty stores on one engine.
trait Stores {
    fn fresh(&mut self) -> Pin<Box<dyn Future<Output = (MarketStore, String)> + '_>>;
}

struct SqliteStores {
    dir: tempfile::TempDir,
    n: usize,
}

impl Stores for SqliteStores {
    fn fresh(&mut self) -> Pin<Box<dyn Future<Output = (MarketStore, String)> + '_>> {
        self.n += 1;
        let path = self.dir.path().join(format!("market-{}.db", self.n));
        Box::pin(async move {
            let url = format!("sqlite://{}?mode=rwc", path.display());
            (MarketStore::open(&url).await.unwrap(), url)
        })
    }
}

struct PostgresStores {
    server: postgres::Postgres,
    n: usize,
}

impl Stores for PostgresStores {
    fn fresh(&mut self) -> Pin<Box<dyn Future<Output = (MarketStore, String)> + '_>> {
        self.n += 1;
        let name = format!("market_{}", self.n);
        Box::pin(async move {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut admin = sqlx::AnyConnection::connect(&self.server.url("postgres"))
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap();
            admin.close().await.unwrap();
            let url = self.server.url(&name);
            (MarketStore::open(&url).await.unwrap(), url)
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_on_sqlite() {
    let mut stores = SqliteStores {
        dir: tempfile::tempdir().unwrap(),
        n: 0,
    };
    suite(&mut stores, Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_suite_on_postgres() {
    let Some(server) = postgres::Postgres::start() else {
        return;
    };
    let mut stores = PostgresStores { server, n: 0 };
    suite(&mut stores, Backend::Postgres).await;
}

async fn suite(stores: &mut dyn Stores, backend: Backend) {
    let (store, _) = stores.fresh().await;
    assert_eq!(store.backend(), backend);
    ledger_matches_the_model(&store).await;
    let (store, _) = stores.fresh().await;
    concurrent_writers_record_each_transaction_once(&store).await;
    let (store, url) = stores.fresh().await;
    versions_are_signed_and_immutable(&store).await;
    data_survives_a_reopen(store, &url).await;
    let (store, _) = stores.fresh().await;
    submissions_are_reviewed_then_published(&store).await;
    let (store, _) = stores.fresh().await;
    concurrent_approvals_publish_once(&store).await;
    let (store, _) = stores.fresh().await;
    usage_and_ratings_make_the_metrics(&store).await;
    let (store, _) = stores.fresh().await;
    findings::findings_pay_bonuses_and_move_reputation(&store).await;
    let (store, _) = stores.fresh().await;
    reported_calls_of_a_priced_version_are_billed(&store).await;
    let (store, _) = stores.fresh().await;
    purchases::a_package_is_bought_once_per_major_version_and_a_refund_ends_it(&store).await;
    let (store, _) = stores.fresh().await;
    discovery::usage_patterns_make_recommendations(&store).await;
}

/// A deterministic stream of transactions, replays and conflicts, recorded
/// in the store and in the in-memory ledger: the outcome of each and the
/// final books must agree.
async fn ledger_matches_the_model(store: &MarketStore) {
    let mut model = Ledger::new();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let mut sent: Vec<Transaction> = Vec::new();
    let mut sales: Vec<String> = Vec::new();
    for n in 0..300 {
        let id = format!("t{n}");
        let amount = [1, 7, 9, 10, 99, 1_000, 123_457][next(7) as usize];
        let txn = match next(10) {
            0..=3 => Transaction::Sale {
                id,
                customer: format!("c{}", next(3)),
                publisher: format!("p{}", next(3)),
                package: "echo@1.0.0".into(),
                amount,
                share: if next(2) == 0 {
                    RevenueShare::STANDARD
                } else {
                    RevenueShare::HIGHLY_RATED
                },
            },
            4..=6 if !sales.is_empty() => Transaction::Refund {
                id,
                sale: sales[next(sales.len() as u64) as usize].clone(),
                amount,
            },
            7 => Transaction::ReviewBonus {
                id,
                reviewer: format!("r{}", next(2)),
                finding: "RCT-2026-1".into(),
                amount,
            },
            8 => Transaction::Payout {
                id,
                account: Account::Publisher(format!("p{}", next(3))),
                amount,
            },
            _ if !sent.is_empty() => {
                let mut txn = sent[next(sent.len() as u64) as usize].clone();
                if next(2) == 0
                    && let Transaction::Sale { amount, .. } | Transaction::Refund { amount, .. } =
                        &mut txn
                {
                    *amount += 1;
                }
                txn
            }
            _ => continue,
        };
        let expected = model.record(txn.clone());
        let got = store.record(txn.clone()).await;
        match (&expected, &got) {
            (Ok(Recorded::New(a)), Ok(Recorded::New(b)))
            | (Ok(Recorded::Again(a)), Ok(Recorded::Again(b))) => {
                assert_eq!(a, b, "transaction {n}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "transaction {n}"),
            _ => panic!("transaction {n}: the model gave {expected:?}, the store {got:?}"),
        }
        if let Ok(Recorded::New(entry)) = &expected {
            if let Transaction::Sale { id, .. } = &entry.transaction {
                sales.push(id.clone());
            }
            sent.push(entry.transaction.clone());
        }
    }
    let model_balances: Vec<(Account, i64)> =
        model.balances().map(|(a, b)| (a.clone(), b)).collect();
    let mut store_balances = store.balances().await.unwrap();
    store_balances.sort();
    assert_eq!(store_balances, model_balances);
    store.verify_ledger().await.unwrap();
    for account in [
        Account::Publisher("p0".into()),
        Account::ReviewPool,
        Account::Customer("c1".into()),
    ] {
        assert_eq!(
            store.statement(&account).await.unwrap(),
            model.statement(&account)
        );
    }
    assert!(
        sent.len() > 100,
        "the stream recorded {} entries",
        sent.len()
    );
}

/// Eight writers record overlapping transactions at once: each id is
/// recorded exactly once and the books balance.
async fn concurrent_writers_record_each_transaction_once(store: &MarketStore) {
    let writers = (0..8).map(|w| {
        let store = store.clone();
        tokio::spawn(async move {
            let mut new = 0;
            for i in 0..25 {
                // Writers w and w+1 share half their ids.
                let id = format!("s{}", (w / 2) * 25 + i);
                let sale = Transaction::Sale {
                    id,
                    customer: "alice".into(),
                    publisher: "acme".into(),
                    package: "echo@1.0.0".into(),
                    amount: 100,
                    share: RevenueShare::STANDARD,
                };
                if let Recorded::New(_) = store.record(sale).await.unwrap() {
                    new += 1;
                }
            }
            new
        })
    });
    let mut new = 0;
    for writer in writers {
        new += writer.await.unwrap();
    }
    assert_eq!(new, 100);
    assert_eq!(
        store
            .balance(&Account::Customer("alice".into()))
            .await
            .unwrap(),
        -10_000
    );
    assert_eq!(
        store
            .balance(&Account::Publisher("acme".into()))
            .await
            .unwrap(),
        7_000
    );
    assert_eq!(store.balance(&Account::Platform).await.unwrap(), 2_000);
    store.verify_ledger().await.unwrap();
    let entry = store.entry("s99").await.unwrap().unwrap();
    assert!((1..=100).contains(&entry.seq), "seq {}", entry.seq);
}

fn files(module: &[u8]) -> Vec<PackageFile> {
    vec![
        PackageFile {
            path: "plugin.json".into(),
            bytes: br#"{"name":"echo","version":"1.0.0"}"#.to_vec(),
        },
        PackageFile {
            path: "echo.wasm".into(),
            bytes: module.to_vec(),
        },
    ]
}

fn signed(
    key: &SigningKey,
    publisher: &str,
    name: &str,
    version: &str,
    module: &[u8],
) -> SignedPackage {
    let digest = PackageDigest::of(&files(module)).unwrap();
    SignedPackage::sign(key, publisher, name, version, digest)
}

async fn versions_are_signed_and_immutable(store: &MarketStore) {
    let acme = generate_key().unwrap();
    let mallory = generate_key().unwrap();
    let manifest = json!({"name": "echo", "version": "1.0.0"});
    let v1 = signed(&acme, "acme", "echo", "1.0.0", b"one");

    // No publisher, then no key: refused.
    let err = store.add_version(&v1, &manifest).await.unwrap_err();
    assert!(err.to_string().contains("is not registered"), "{err}");
    let key = PublisherKey {
        publisher: "acme".into(),
        key: acme.verifying_key(),
    };
    let err = store.add_key(&key).await.unwrap_err();
    assert!(matches!(err, MarketError::UnknownPublisher { .. }), "{err}");
    store.add_publisher("acme", "Acme Tools").await.unwrap();
    store.add_publisher("mallory", "Mallory").await.unwrap();
    store.add_key(&key).await.unwrap();
    store.add_key(&key).await.unwrap();
    let err = store
        .add_key(&PublisherKey {
            publisher: "mallory".into(),
            key: acme.verifying_key(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::KeyTaken { .. }), "{err}");
    store
        .add_key(&PublisherKey {
            publisher: "mallory".into(),
            key: mallory.verifying_key(),
        })
        .await
        .unwrap();

    store.add_version(&v1, &manifest).await.unwrap();
    // The same version again is a no-op; other contents are refused.
    store.add_version(&v1, &manifest).await.unwrap();
    let rewrite = signed(&acme, "acme", "echo", "1.0.0", b"two");
    let err = store.add_version(&rewrite, &manifest).await.unwrap_err();
    assert!(matches!(err, MarketError::VersionExists { .. }), "{err}");
    // Another publisher cannot take the name, even with a valid signature.
    let squat = signed(&mallory, "mallory", "echo", "1.0.1", b"evil");
    let err = store
        .add_version(&squat, &json!({"name": "echo", "version": "1.0.1"}))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::NameTaken { .. }), "{err}");
    // A signature made with someone else's key, claimed as acme's.
    let mut forged = signed(&mallory, "mallory", "echo", "1.0.2", b"evil");
    forged.publisher = "acme".into();
    let err = store.add_version(&forged, &json!({})).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("not registered to publisher `acme`"),
        "{err}"
    );
    // A manifest that disagrees with the signed name, and a bad version.
    let v2 = signed(&acme, "acme", "echo", "1.1.0", b"three");
    let err = store
        .add_version(&v2, &json!({"name": "other"}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("manifest: `name`"), "{err}");
    let bad = signed(&acme, "acme", "echo", "latest", b"three");
    let err = store.add_version(&bad, &json!({})).await.unwrap_err();
    assert!(err.to_string().contains("not a semantic version"), "{err}");
    store
        .add_version(&v2, &json!({"name": "echo", "version": "1.1.0"}))
        .await
        .unwrap();

    store
        .yank_version("echo", "1.0.0", "reads the wrong file")
        .await
        .unwrap();
    store.yank_version("echo", "1.0.0", "again").await.unwrap();
    let err = store.yank_version("echo", "9.9.9", "no").await.unwrap_err();
    assert!(matches!(err, MarketError::UnknownVersion { .. }), "{err}");

    let versions = store.versions("echo").await.unwrap();
    assert_eq!(versions.len(), 2);
    let first = &versions
        .iter()
        .find(|v| v.package.version == "1.0.0")
        .unwrap();
    assert_eq!(first.package, v1);
    assert_eq!(
        first.yanked.as_ref().unwrap().reason,
        "reads the wrong file"
    );
    // What the store hands back still verifies against the files.
    first
        .package
        .verify(&store.keys("acme").await.unwrap(), Some(&files(b"one")))
        .unwrap();
}

async fn data_survives_a_reopen(store: MarketStore, url: &str) {
    store
        .record(Transaction::Sale {
            id: "kept".into(),
            customer: "alice".into(),
            publisher: "acme".into(),
            package: "echo@1.1.0".into(),
            amount: 500,
            share: RevenueShare::STANDARD,
        })
        .await
        .unwrap();
    drop(store);
    let store = MarketStore::open(url).await.unwrap();
    assert!(store.entry("kept").await.unwrap().is_some());
    assert_eq!(store.versions("echo").await.unwrap().len(), 2);
    store.verify_ledger().await.unwrap();
}

#[tokio::test]
async fn an_unknown_url_is_refused() {
    let err = MarketStore::open("mysql://localhost/market")
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::InvalidStoreUrl { .. }), "{err}");
}

fn account(id: &str, roles: &[&str]) -> MarketAccount {
    MarketAccount {
        id: id.into(),
        roles: roles.iter().map(|r| r.to_string()).collect(),
    }
}

fn scan(passed: bool, score: u32) -> ScanOutcome {
    ScanOutcome {
        passed,
        score,
        report: json!({"score": score, "checks": []}),
    }
}

/// A publisher with a registered key, and reviewers of each kind.
async fn market_with_reviewers(store: &MarketStore) -> SigningKey {
    let acme = generate_key().unwrap();
    let token = store
        .add_account(&account("acme", &["publisher"]))
        .await
        .unwrap();
    assert!(token.starts_with("rct_") && token.len() == 68, "{token}");
    assert_eq!(
        store.account_for_token(&token).await.unwrap(),
        Some(account("acme", &["publisher"]))
    );
    assert_eq!(store.account_for_token("rct_wrong").await.unwrap(), None);
    store
        .add_key(&PublisherKey {
            publisher: "acme".into(),
            key: acme.verifying_key(),
        })
        .await
        .unwrap();
    for (id, roles) in [
        ("sec1", &["security-reviewer"][..]),
        ("sec2", &["security-reviewer"]),
        ("qa1", &["quality-reviewer"]),
        ("qa2", &["quality-reviewer"]),
        ("insider", &["security-reviewer", "quality-reviewer"]),
    ] {
        store.add_account(&account(id, roles)).await.unwrap();
    }
    store.link_account("insider", "acme").await.unwrap();
    acme
}

async fn submissions_are_reviewed_then_published(store: &MarketStore) {
    // Accounts: a role that does not exist and a taken id are refused.
    let err = store
        .add_account(&account("eve", &["root"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("`root` is not a role"), "{err}");
    let acme = market_with_reviewers(store).await;
    let err = store
        .add_account(&account("sec1", &["user"]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("exists"), "{err}");

    let manifest = json!({"name": "echo", "version": "1.0.0"});
    let v1 = signed(&acme, "acme", "echo", "1.0.0", b"one");

    // Files that are not the signed ones are refused before anything is kept.
    let err = store
        .submit(&v1, &manifest, &files(b"two"), &scan(true, 90))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::Verification { .. }), "{err}");
    assert!(store.submissions(None, None).await.unwrap().is_empty());

    // A failed scan rejects at once.
    let failed = store
        .submit(&v1, &manifest, &files(b"one"), &scan(false, 40))
        .await
        .unwrap();
    assert_eq!(failed.state, SubmissionState::Rejected);
    assert_eq!(
        failed.reason.as_deref(),
        Some("the security scan did not pass (score 40 of 100)")
    );
    let err = store
        .review(
            failed.id,
            "sec1",
            ReviewKind::Security,
            Verdict::Approve,
            "",
            &ReviewRules::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::SubmissionClosed { .. }), "{err}");

    // A passed scan waits for review; submitting it again returns it.
    let submitted = store
        .submit(&v1, &manifest, &files(b"one"), &scan(true, 90))
        .await
        .unwrap();
    assert_eq!(submitted.state, SubmissionState::InReview);
    assert_eq!(submitted.score, 90);
    assert_eq!(submitted.scan["score"], 90);
    let again = store
        .submit(&v1, &manifest, &files(b"one"), &scan(true, 90))
        .await
        .unwrap();
    assert_eq!(again.id, submitted.id);
    let queue = store
        .submissions(Some(SubmissionState::InReview), None)
        .await
        .unwrap();
    assert_eq!(
        queue.iter().map(|s| s.id).collect::<Vec<_>>(),
        [submitted.id]
    );
    assert_eq!(
        store.submissions(None, Some("acme")).await.unwrap().len(),
        2
    );
    assert!(
        store
            .submissions(None, Some("other"))
            .await
            .unwrap()
            .is_empty()
    );

    let rules = ReviewRules {
        security: 2,
        quality: 1,
        ..ReviewRules::default()
    };
    let review = |reviewer: &'static str, kind, verdict| {
        store.review(
            submitted.id,
            reviewer,
            kind,
            verdict,
            "looked at it",
            &rules,
        )
    };
    // The publisher and an account linked to it may not review it.
    let err = review("acme", ReviewKind::Security, Verdict::Approve)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("its own package"), "{err}");
    let err = review("insider", ReviewKind::Quality, Verdict::Approve)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("linked to"), "{err}");
    let err = review("nobody", ReviewKind::Quality, Verdict::Approve)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no such account"), "{err}");
    let err = store
        .review(
            999,
            "sec1",
            ReviewKind::Security,
            Verdict::Approve,
            "",
            &rules,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketError::UnknownSubmission { id: 999 }),
        "{err}"
    );

    // Two security approvals and one quality approval publish it.
    let s = review("sec1", ReviewKind::Security, Verdict::Approve)
        .await
        .unwrap();
    assert_eq!(s.state, SubmissionState::InReview);
    let err = review("sec1", ReviewKind::Security, Verdict::Approve)
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::AlreadyReviewed { .. }), "{err}");
    let s = review("qa1", ReviewKind::Quality, Verdict::Approve)
        .await
        .unwrap();
    assert_eq!(s.state, SubmissionState::InReview);
    assert_eq!(store.version("echo", "1.0.0").await.unwrap(), None);
    let s = review("sec2", ReviewKind::Security, Verdict::Approve)
        .await
        .unwrap();
    assert_eq!(s.state, SubmissionState::Published);
    assert!(s.decided_at.is_some());
    assert_eq!(s.reviews.len(), 3);
    let published = store.version("echo", "1.0.0").await.unwrap().unwrap();
    assert_eq!(published.package, v1);
    assert_eq!(store.package_names().await.unwrap(), ["echo"]);
    let err = review("qa2", ReviewKind::Quality, Verdict::Approve)
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::SubmissionClosed { .. }), "{err}");

    // A published version cannot be submitted again with other contents.
    let other = signed(&acme, "acme", "echo", "1.0.0", b"other");
    let err = store
        .submit(&other, &manifest, &files(b"other"), &scan(true, 90))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::VersionExists { .. }), "{err}");

    // A rejection by any reviewer rejects, with the reviewer's reason.
    let v2 = signed(&acme, "acme", "echo", "2.0.0", b"two");
    let manifest2 = json!({"name": "echo", "version": "2.0.0"});
    let s = store
        .submit(&v2, &manifest2, &files(b"two"), &scan(true, 80))
        .await
        .unwrap();
    let s = store
        .review(
            s.id,
            "qa2",
            ReviewKind::Quality,
            Verdict::Reject,
            "the examples fail",
            &rules,
        )
        .await
        .unwrap();
    assert_eq!(s.state, SubmissionState::Rejected);
    assert_eq!(
        s.reason.as_deref(),
        Some("rejected in quality review by qa2: the examples fail")
    );
    assert_eq!(store.version("echo", "2.0.0").await.unwrap(), None);
}

/// Reviewers approving at the same moment: the submission is published
/// once, and every verdict is kept.
async fn concurrent_approvals_publish_once(store: &MarketStore) {
    let acme = market_with_reviewers(store).await;
    for id in ["sec3", "sec4", "sec5"] {
        store
            .add_account(&account(id, &["security-reviewer"]))
            .await
            .unwrap();
    }
    let manifest = json!({"name": "echo", "version": "1.0.0"});
    let v1 = signed(&acme, "acme", "echo", "1.0.0", b"one");
    let s = store
        .submit(&v1, &manifest, &files(b"one"), &scan(true, 90))
        .await
        .unwrap();
    store
        .review(
            s.id,
            "qa1",
            ReviewKind::Quality,
            Verdict::Approve,
            "",
            &ReviewRules::default(),
        )
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for reviewer in ["sec1", "sec2", "sec3", "sec4", "sec5"] {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .review(
                    s.id,
                    reviewer,
                    ReviewKind::Security,
                    Verdict::Approve,
                    "",
                    &ReviewRules::default(),
                )
                .await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(MarketError::SubmissionClosed { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert!(accepted >= 1);
    let s = store.submission(s.id).await.unwrap();
    assert_eq!(s.state, SubmissionState::Published);
    assert_eq!(s.reviews.len(), accepted + 1);
    assert_eq!(store.versions("echo").await.unwrap().len(), 1);
}

async fn usage_and_ratings_make_the_metrics(store: &MarketStore) {
    let acme = market_with_reviewers(store).await;
    let v1 = signed(&acme, "acme", "echo", "1.0.0", b"one");
    store
        .add_version(&v1, &json!({"name": "echo", "version": "1.0.0"}))
        .await
        .unwrap();
    for id in ["u1", "u2", "u3"] {
        store.add_account(&account(id, &["user"])).await.unwrap();
    }
    let mut heavy = UsageReport::new("echo", "1.0.0");
    for _ in 0..990 {
        heavy.record(CallOutcome::Ok, 80);
        heavy.record_memory(65_536);
    }
    for _ in 0..10 {
        heavy.record(CallOutcome::Error, 3_000);
    }
    heavy.log_head = "ab".repeat(32);
    let mut light = UsageReport::new("echo", "1.0.0");
    light.record(CallOutcome::TimedOut, 30_000_000);

    // Reports of versions the market does not have, or that do not add
    // up, are refused.
    let mut unknown = light.clone();
    unknown.version = "9.9.9".into();
    let err = store.report_usage("u2", &unknown).await.unwrap_err();
    assert!(matches!(err, MarketError::UnknownVersion { .. }), "{err}");
    let mut broken = light.clone();
    broken.calls = 5;
    let err = store.report_usage("u2", &broken).await.unwrap_err();
    assert!(matches!(err, MarketError::InvalidUsage { .. }), "{err}");

    // A report replaces the account's last one: sending it twice counts
    // nothing twice, and one that counts fewer calls is refused.
    store.report_usage("u1", &heavy).await.unwrap();
    store.report_usage("u1", &heavy).await.unwrap();
    store.report_usage("u2", &light).await.unwrap();
    let err = store.report_usage("u1", &light).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("counts 1 calls, fewer than the 1000 reported before"),
        "{err}"
    );

    // Ratings: 1 to 5 stars, not by the publisher or accounts linked to it,
    // and a new one replaces the account's last.
    store.rate("u1", "echo", "1.0.0", 5, "solid").await.unwrap();
    store.rate("u2", "echo", "1.0.0", 1, "").await.unwrap();
    store
        .rate("u2", "echo", "1.0.0", 2, "timed out once")
        .await
        .unwrap();
    store
        .rate("u3", "echo", "1.0.0", 1, "never used it")
        .await
        .unwrap();
    for (who, why) in [
        ("acme", "it is its publisher"),
        ("insider", "it is linked to its publisher"),
    ] {
        let err = store.rate(who, "echo", "1.0.0", 5, "").await.unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    let err = store.rate("u3", "echo", "1.0.0", 0, "").await.unwrap_err();
    assert!(matches!(err, MarketError::InvalidRating { .. }), "{err}");
    let err = store.rate("u3", "echo", "2.0.0", 4, "").await.unwrap_err();
    assert!(matches!(err, MarketError::UnknownVersion { .. }), "{err}");

    let metrics = store.metrics("echo", "1.0.0").await.unwrap();
    assert_eq!(
        (
            metrics.reporters,
            metrics.calls,
            metrics.errors,
            metrics.timeouts
        ),
        (2, 1_001, 10, 1)
    );
    assert_eq!(metrics.latency_us(0.5), Some(100));
    assert_eq!(metrics.latency_us(0.995), Some(5_000));
    // Memory, from the calls whose records measured it.
    assert_eq!(metrics.memory_measured(), 990);
    assert_eq!(metrics.memory_bytes(0.99), Some(64 << 10));
    assert_eq!(metrics.ratings.len(), 3);
    let u2 = metrics.ratings.iter().find(|r| r.account == "u2").unwrap();
    assert_eq!(
        (u2.stars, u2.review.as_str(), u2.weight),
        (2, "timed out once", 1)
    );
    let u3 = metrics.ratings.iter().find(|r| r.account == "u3").unwrap();
    assert_eq!((u3.calls, u3.weight), (0, 0));
    // (5 × 10 + 2 × 1 + 1 × 0) / (10 + 1 + 0)
    let mean = metrics.weighted_rating().unwrap();
    assert!((mean - 52.0 / 11.0).abs() < 1e-9, "{mean}");
    let quality = metrics.quality();
    assert_eq!(
        (quality.ratings, quality.calls, quality.failed_calls),
        (2, 1_001, 11)
    );
    assert_eq!(
        store.metrics("echo", "2.0.0").await.unwrap().calls,
        0,
        "a version nobody used has no calls"
    );
}

/// A priced version bills the calls each report adds, once, in the
/// report's transaction; a free one bills nothing.
async fn reported_calls_of_a_priced_version_are_billed(store: &MarketStore) {
    let acme = market_with_reviewers(store).await;
    let paid = signed(&acme, "acme", "echo", "1.0.0", b"one");
    store
        .add_version(
            &paid,
            &json!({"name": "echo", "version": "1.0.0", "price": {"perCall": 3}}),
        )
        .await
        .unwrap();
    let free = signed(&acme, "acme", "echo", "1.1.0", b"two");
    store
        .add_version(&free, &json!({"name": "echo", "version": "1.1.0"}))
        .await
        .unwrap();
    store.add_account(&account("u1", &["user"])).await.unwrap();
    let report = |version: &str, calls: usize| {
        let mut r = UsageReport::new("echo", version);
        for _ in 0..calls {
            r.record(CallOutcome::Ok, 100);
        }
        r
    };

    let sale = store
        .report_usage("u1", &report("1.0.0", 10))
        .await
        .unwrap();
    let Some(Transaction::Sale {
        amount, customer, ..
    }) = sale
    else {
        panic!("no sale: {sale:?}");
    };
    assert_eq!((amount, customer.as_str()), (30, "u1"));
    // The same report again adds no calls and bills nothing; a later one
    // bills only the calls it adds.
    assert_eq!(
        store
            .report_usage("u1", &report("1.0.0", 10))
            .await
            .unwrap(),
        None
    );
    let sale = store
        .report_usage("u1", &report("1.0.0", 15))
        .await
        .unwrap();
    assert!(
        matches!(sale, Some(Transaction::Sale { amount: 15, .. })),
        "{sale:?}"
    );
    assert_eq!(
        store
            .report_usage("u1", &report("1.1.0", 50))
            .await
            .unwrap(),
        None
    );
    // A refused report bills nothing either.
    store
        .report_usage("u1", &report("1.0.0", 2))
        .await
        .unwrap_err();

    assert_eq!(
        store
            .balance(&Account::Customer("u1".into()))
            .await
            .unwrap(),
        -45
    );
    // 70% of each sale; the platform's 20% and the pool's 10% are rounded
    // down and the publisher gets the rest: 21 of 30, 11 of 15.
    let publisher = store
        .balance(&Account::Publisher("acme".into()))
        .await
        .unwrap();
    let platform = store.balance(&Account::Platform).await.unwrap();
    let pool = store.balance(&Account::ReviewPool).await.unwrap();
    assert_eq!(publisher + platform + pool, 45);
    assert_eq!(publisher, 21 + 11, "{publisher}");
    let statement = store
        .statement(&Account::Customer("u1".into()))
        .await
        .unwrap();
    assert_eq!(statement.lines.len(), 2);

    // Reports from two accounts at once are each kept and billed.
    store.add_account(&account("u2", &["user"])).await.unwrap();
    store.add_account(&account("u3", &["user"])).await.unwrap();
    let (of_two, of_three) = (report("1.0.0", 2), report("1.0.0", 3));
    let (two, three) = tokio::join!(
        store.report_usage("u2", &of_two),
        store.report_usage("u3", &of_three),
    );
    assert!(
        matches!(two, Ok(Some(Transaction::Sale { amount: 6, .. }))),
        "{two:?}"
    );
    assert!(
        matches!(three, Ok(Some(Transaction::Sale { amount: 9, .. }))),
        "{three:?}"
    );
    store.verify_ledger().await.unwrap();
}
