//! Purchases: a package bought once per account and major version, at the
//! price of the version bought, recorded by the market; refused when there
//! is nothing to sell; a full refund ends it.

use rustchain_tools_market::{Account, MarketError, MarketStore, Transaction};
use serde_json::json;

use super::{account, market_with_reviewers, signed};

pub(super) async fn a_package_is_bought_once_per_major_version_and_a_refund_ends_it(
    store: &MarketStore,
) {
    let acme = market_with_reviewers(store).await;
    for (version, price, body) in [
        ("1.0.0", json!({"purchase": 500}), b"one".as_slice()),
        ("1.1.0", json!({"purchase": 700, "perCall": 2}), b"two"),
        ("2.0.0", json!({"perCall": 2}), b"three"),
        ("2.1.0", json!({"purchase": 900}), b"four"),
    ] {
        store
            .add_version(
                &signed(&acme, "acme", "echo", version, body),
                &json!({"name": "echo", "version": version, "price": price}),
            )
            .await
            .unwrap();
    }
    store.add_account(&account("u1", &["user"])).await.unwrap();
    assert_eq!(
        store.purchase_of("u1", "echo", "1.0.0").await.unwrap(),
        None
    );

    let bought = store.purchase("u1", "echo", "1.0.0").await.unwrap();
    assert_eq!(
        (
            bought.package.as_str(),
            bought.covers.as_str(),
            bought.amount,
            bought.new
        ),
        ("echo@1.0.0", "echo@1.x", 500, true)
    );
    // Once per major version: buying another 1.x records nothing; it is
    // already open.
    let again = store.purchase("u1", "echo", "1.1.0").await.unwrap();
    assert_eq!(
        (
            again.transaction.as_str(),
            again.package.as_str(),
            again.new
        ),
        (bought.transaction.as_str(), "echo@1.0.0", false)
    );
    assert_eq!(
        store.purchase_of("u1", "echo", "1.1.0").await.unwrap(),
        Some(again.clone())
    );
    // A new major version is sold anew.
    assert_eq!(
        store.purchase_of("u1", "echo", "2.1.0").await.unwrap(),
        None
    );
    let second = store.purchase("u1", "echo", "2.1.0").await.unwrap();
    assert_eq!(
        (second.covers.as_str(), second.amount, second.new),
        ("echo@2.x", 900, true)
    );
    assert_ne!(second.transaction, bought.transaction);
    let customer = Account::Customer("u1".into());
    assert_eq!(store.balance(&customer).await.unwrap(), -1400);
    // 70% of each to the publisher: 350 + 630.
    assert_eq!(
        store
            .balance(&Account::Publisher("acme".into()))
            .await
            .unwrap(),
        980
    );

    // Two purchases of the same major version at once, at different
    // prices: one sale, and both answer with it.
    let (a, b) = tokio::join!(
        store.purchase("u3", "echo", "1.0.0"),
        store.purchase("u3", "echo", "1.1.0"),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.transaction, b.transaction);
    assert!(a.new ^ b.new, "{a:?} {b:?}");
    let u3 = store
        .statement(&Account::Customer("u3".into()))
        .await
        .unwrap();
    assert_eq!(u3.lines.len(), 1);

    // Nothing to sell: a version without a purchase price, an unknown one,
    // a yanked one, and the publisher's own package; an account that holds
    // a purchase is refused these too.
    for who in ["u1", "u2"] {
        let err = store.purchase(who, "echo", "2.0.0").await.unwrap_err();
        assert!(
            matches!(&err, MarketError::NotForSale { package, .. } if package == "echo@2.0.0"),
            "{err}"
        );
        assert!(err.to_string().contains("price.purchase"), "{err}");
        let err = store.purchase(who, "echo", "9.9.9").await.unwrap_err();
        assert!(matches!(err, MarketError::UnknownVersion { .. }), "{err}");
    }
    let err = store.purchase("acme", "echo", "1.0.0").await.unwrap_err();
    assert!(matches!(err, MarketError::OwnPackage { .. }), "{err}");
    store
        .yank_version("echo", "1.1.0", "superseded")
        .await
        .unwrap();
    let err = store.purchase("u2", "echo", "1.1.0").await.unwrap_err();
    assert!(err.to_string().contains("yanked: superseded"), "{err}");
    assert_eq!(
        store.purchase_of("u2", "echo", "1.0.0").await.unwrap(),
        None
    );
    assert_eq!(
        store.purchase_of("acme", "echo", "1.0.0").await.unwrap(),
        None
    );

    // A part refund leaves the purchase standing; a full one ends it, and
    // the account may buy again, as a new sale.
    let refund = |id: &str, amount| Transaction::Refund {
        id: id.into(),
        sale: bought.transaction.clone(),
        amount,
    };
    store.record(refund("refund-1", 100)).await.unwrap();
    assert!(
        store
            .purchase_of("u1", "echo", "1.0.0")
            .await
            .unwrap()
            .is_some()
    );
    store.record(refund("refund-2", 400)).await.unwrap();
    assert_eq!(
        store.purchase_of("u1", "echo", "1.0.0").await.unwrap(),
        None
    );
    let rebought = store.purchase("u1", "echo", "1.0.0").await.unwrap();
    assert!(rebought.new);
    assert_ne!(rebought.transaction, bought.transaction);
    assert_eq!(store.balance(&customer).await.unwrap(), -1400);
    store.verify_ledger().await.unwrap();
}
