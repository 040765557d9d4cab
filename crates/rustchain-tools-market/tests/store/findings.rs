//! Findings against published versions: who may report and decide them,
//! the bonus paid with the decision (or not at all), the yank, and the
//! reputation that follows.

use rustchain_tools_market::{
    Account, Decision, FindingState, FindingVerdict, MarketError, MarketStore, NewFinding,
    RevenueShare, ReviewKind, ReviewRules, Severity, SubmissionState, Transaction, Verdict,
};
use serde_json::json;

use super::{account, files, market_with_reviewers, scan, signed};

async fn verdict(store: &MarketStore, id: i64, reviewer: &str, kind: ReviewKind, verdict: Verdict) {
    store
        .review(id, reviewer, kind, verdict, "", &ReviewRules::default())
        .await
        .unwrap();
}

fn new_finding(severity: Severity, title: &str) -> NewFinding {
    NewFinding {
        severity,
        title: title.into(),
        detail: "call it with {\"path\": \"../\"}".into(),
    }
}

fn decision(verdict: FindingVerdict, bonus: i64, yank: bool) -> Decision {
    Decision {
        verdict,
        bonus,
        yank,
        note: "reproduced".into(),
    }
}

pub(super) async fn findings_pay_bonuses_and_move_reputation(store: &MarketStore) {
    let acme = market_with_reviewers(store).await;
    store.add_account(&account("u1", &["user"])).await.unwrap();
    store
        .add_account(&account("root", &["admin"]))
        .await
        .unwrap();

    // echo 1.0.0 is approved by sec1 and qa1 and published; 2.0.0 is
    // rejected by sec2.
    let good = signed(&acme, "acme", "echo", "1.0.0", b"one");
    let manifest = json!({"name": "echo", "version": "1.0.0"});
    let s1 = store
        .submit(&good, &manifest, &files(b"one"), &scan(true, 90))
        .await
        .unwrap();
    verdict(store, s1.id, "sec1", ReviewKind::Security, Verdict::Approve).await;
    verdict(store, s1.id, "qa1", ReviewKind::Quality, Verdict::Approve).await;
    assert_eq!(
        store.submission(s1.id).await.unwrap().state,
        SubmissionState::Published
    );
    let bad = signed(&acme, "acme", "echo", "2.0.0", b"two");
    let s2 = store
        .submit(
            &bad,
            &json!({"name": "echo", "version": "2.0.0"}),
            &files(b"two"),
            &scan(true, 90),
        )
        .await
        .unwrap();
    verdict(store, s2.id, "sec2", ReviewKind::Security, Verdict::Reject).await;
    for (who, score) in [("sec1", 1), ("qa1", 1), ("sec2", 1), ("u1", 0)] {
        assert_eq!(store.reputation(who).await.unwrap().score, score, "{who}");
    }

    // Reports: not by the publisher or an account linked to it, only
    // against a version the market has, and with a title.
    let found = store
        .report_finding(
            "u1",
            "echo",
            "1.0.0",
            &new_finding(Severity::High, "reads ../"),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            found.state,
            found.publisher.as_str(),
            found.reporter.as_str()
        ),
        (FindingState::Reported, "acme", "u1")
    );
    for (who, why) in [
        ("acme", "it is its publisher"),
        ("insider", "it is linked to its publisher"),
    ] {
        let err = store
            .report_finding(who, "echo", "1.0.0", &new_finding(Severity::Low, "x"))
            .await
            .unwrap_err();
        assert!(
            matches!(err, MarketError::OwnPackage { .. }) && err.to_string().contains(why),
            "{err}"
        );
    }
    let err = store
        .report_finding("u1", "echo", "9.0.0", &new_finding(Severity::Low, "x"))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::UnknownVersion { .. }), "{err}");
    let err = store
        .report_finding("u1", "echo", "1.0.0", &new_finding(Severity::Low, " "))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::InvalidFinding { .. }), "{err}");

    // Decisions: not by the reporter or an insider; a bonus the pool
    // cannot pay refuses the whole decision and changes nothing.
    for (who, why) in [("u1", "it reported it"), ("insider", "linked")] {
        let err = store
            .decide_finding(found.id, who, &decision(FindingVerdict::Confirm, 0, false))
            .await
            .unwrap_err();
        assert!(err.to_string().contains(why), "{err}");
    }
    store
        .record(Transaction::Sale {
            id: "order-1".into(),
            customer: "u1".into(),
            publisher: "acme".into(),
            package: "echo@1.0.0".into(),
            amount: 10_000,
            share: RevenueShare::STANDARD,
        })
        .await
        .unwrap();
    assert_eq!(store.balance(&Account::ReviewPool).await.unwrap(), 1_000);
    let err = store
        .decide_finding(
            found.id,
            "root",
            &decision(FindingVerdict::Confirm, 5_000, true),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketError::InsufficientFunds { .. }),
        "{err}"
    );
    assert_eq!(
        store.finding(found.id).await.unwrap().state,
        FindingState::Reported
    );
    assert!(
        store
            .version("echo", "1.0.0")
            .await
            .unwrap()
            .unwrap()
            .yanked
            .is_none()
    );
    assert_eq!(store.balance(&Account::ReviewPool).await.unwrap(), 1_000);

    // A confirmation pays the bonus and yanks the version, once.
    let decided = store
        .decide_finding(
            found.id,
            "root",
            &decision(FindingVerdict::Confirm, 600, true),
        )
        .await
        .unwrap();
    assert_eq!(
        (
            decided.state,
            decided.bonus,
            decided.yanked,
            decided.decided_by.as_deref()
        ),
        (FindingState::Confirmed, 600, true, Some("root"))
    );
    let yanked = store.version("echo", "1.0.0").await.unwrap().unwrap();
    assert!(
        yanked
            .yanked
            .as_ref()
            .unwrap()
            .reason
            .contains("security finding"),
        "{yanked:?}"
    );
    assert_eq!(
        store
            .balance(&Account::Reviewer("u1".into()))
            .await
            .unwrap(),
        600
    );
    assert_eq!(store.balance(&Account::ReviewPool).await.unwrap(), 400);
    let err = store
        .decide_finding(
            found.id,
            "root",
            &decision(FindingVerdict::Dismiss, 0, false),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::FindingClosed { .. }), "{err}");
    store.verify_ledger().await.unwrap();

    // A dismissal pays nothing; asking it to is refused.
    let weak = store
        .report_finding("sec2", "echo", "1.0.0", &new_finding(Severity::Low, "slow"))
        .await
        .unwrap();
    let err = store
        .decide_finding(
            weak.id,
            "root",
            &decision(FindingVerdict::Dismiss, 10, false),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, MarketError::InvalidFinding { .. }), "{err}");
    store
        .decide_finding(
            weak.id,
            "root",
            &decision(FindingVerdict::Dismiss, 0, false),
        )
        .await
        .unwrap();
    let err = store
        .decide_finding(99, "root", &decision(FindingVerdict::Dismiss, 0, false))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketError::UnknownFinding { id: 99 }),
        "{err}"
    );

    // The approvals of the vulnerable version are overturned; the finder
    // gains, the dismissed report counts nothing.
    let sec1 = store.reputation("sec1").await.unwrap();
    assert_eq!((sec1.held, sec1.overturned, sec1.score), (0, 1, -5));
    assert_eq!(store.reputation("qa1").await.unwrap().score, -5);
    let sec2 = store.reputation("sec2").await.unwrap();
    assert_eq!((sec2.held, sec2.confirmed_findings, sec2.score), (1, 0, 1));
    let u1 = store.reputation("u1").await.unwrap();
    assert_eq!((u1.confirmed_findings, u1.score), (1, 3));

    let confirmed = store
        .findings(Some(FindingState::Confirmed), Some("echo"))
        .await
        .unwrap();
    assert_eq!(
        confirmed.iter().map(|f| f.id).collect::<Vec<_>>(),
        [found.id]
    );
    assert_eq!(store.findings(None, None).await.unwrap().len(), 2);
    assert!(
        store
            .findings(None, Some("other"))
            .await
            .unwrap()
            .is_empty()
    );

    // Below the market's least reputation a reviewer gives no verdict;
    // a market that asks less lets it.
    let three = signed(&acme, "acme", "echo", "3.0.0", b"three");
    let s3 = store
        .submit(
            &three,
            &json!({"name": "echo", "version": "3.0.0"}),
            &files(b"three"),
            &scan(true, 90),
        )
        .await
        .unwrap();
    let review = |reviewer: &'static str, kind, min_reputation| {
        let rules = ReviewRules {
            min_reputation,
            ..ReviewRules::default()
        };
        async move {
            store
                .review(s3.id, reviewer, kind, Verdict::Approve, "", &rules)
                .await
        }
    };
    let err = review("sec1", ReviewKind::Security, 0).await.unwrap_err();
    assert!(
        matches!(
            &err,
            MarketError::ReputationTooLow {
                reputation: -5,
                needed: 0,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("its reputation is -5"), "{err}");
    assert!(store.submission(s3.id).await.unwrap().reviews.is_empty());
    review("sec2", ReviewKind::Security, 0).await.unwrap();
    let err = review("qa1", ReviewKind::Quality, 0).await.unwrap_err();
    assert!(matches!(err, MarketError::ReputationTooLow { .. }), "{err}");
    let s = review("qa1", ReviewKind::Quality, -5).await.unwrap();
    assert_eq!(s.state, SubmissionState::Published);
    // That approval held, so far: qa1 climbs back by one.
    assert_eq!(store.reputation("qa1").await.unwrap().score, -4);
}
