//! Usage patterns: the packages the same accounts use, recommendations for
//! an account from the accounts that share its packages, and the most used
//! packages for an account with no use yet.

use rustchain_tools_market::{CallOutcome, MarketStore, UsageReport, UsedBy};
use serde_json::json;

use super::{account, market_with_reviewers, signed};

fn used(pairs: &[(&str, u64)]) -> Vec<UsedBy> {
    pairs
        .iter()
        .map(|(name, accounts)| UsedBy {
            name: (*name).into(),
            accounts: *accounts,
        })
        .collect()
}

fn report(name: &str, calls: usize) -> UsageReport {
    let mut report = UsageReport::new(name, "1.0.0");
    for _ in 0..calls {
        report.record(CallOutcome::Ok, 100);
    }
    report
}

pub(super) async fn usage_patterns_make_recommendations(store: &MarketStore) {
    let acme = market_with_reviewers(store).await;
    for name in ["a", "b", "c", "d"] {
        let package = signed(&acme, "acme", name, "1.0.0", name.as_bytes());
        store
            .add_version(&package, &json!({"name": name, "version": "1.0.0"}))
            .await
            .unwrap();
    }
    // u4's report of d counts no calls: reported, but not used.
    assert_eq!(store.all_versions().await.unwrap().len(), 4);
    let before = store.versions_changed().await.unwrap();
    let uses: [(&str, &[(&str, usize)]); 4] = [
        ("u1", &[("a", 3), ("b", 1)]),
        ("u2", &[("a", 1), ("b", 2), ("c", 5)]),
        ("u3", &[("a", 7), ("d", 1)]),
        ("u4", &[("c", 2), ("d", 0)]),
    ];
    for (id, reports) in uses {
        store.add_account(&account(id, &["user"])).await.unwrap();
        for (name, calls) in reports {
            store.report_usage(id, &report(name, *calls)).await.unwrap();
        }
    }

    assert_eq!(
        store.used_together("a", 10).await.unwrap(),
        used(&[("b", 2), ("c", 1), ("d", 1)])
    );
    assert_eq!(
        store.used_together("d", 10).await.unwrap(),
        used(&[("a", 1)]),
        "u4 never called d"
    );
    assert_eq!(
        store.used_together("a", 1).await.unwrap(),
        used(&[("b", 2)])
    );
    assert!(store.used_together("zzz", 10).await.unwrap().is_empty());

    // u1 shares a with u2 and u3 and b with u2: u2 also uses c, u3 also d.
    assert_eq!(
        store.recommended_for("u1", 10).await.unwrap(),
        used(&[("c", 1), ("d", 1)])
    );
    // u4 shares c with u2 only; d, which it reported, is not suggested.
    assert_eq!(
        store.recommended_for("u4", 10).await.unwrap(),
        used(&[("a", 1), ("b", 1)])
    );
    assert_eq!(
        store.recommended_for("u2", 10).await.unwrap(),
        used(&[("d", 1)])
    );
    assert!(
        store
            .recommended_for("nobody", 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.used_by("u4").await.unwrap(), ["c"]);
    assert_eq!(
        store.most_used(10).await.unwrap(),
        used(&[("a", 3), ("b", 2), ("c", 2), ("d", 1)])
    );

    assert_eq!(
        store.versions_changed().await.unwrap(),
        before,
        "usage changes no version"
    );
    store.yank_version("d", "1.0.0", "broken").await.unwrap();
    assert_ne!(store.versions_changed().await.unwrap(), before);
}
