//! Purchases: a package bought once per account, at the price of the
//! version bought, recorded by the market; refused when there is nothing to
//! sell; a full refund ends it.

use rustchain_tools_market::{Account, MarketError, MarketStore, Transaction};
use serde_json::json;

use super::{account, market_with_reviewers, signed};

pub(super) async fn a_package_is_bought_once_and_a_refund_ends_it(store: &MarketStore) {
    let acme = market_with_reviewers(store).await;
    for (version, price, body) in [
        ("1.0.0", json!({"purchase": 500}), b"one".as_slice()),
        ("1.1.0", json!({"purchase": 700, "perCall": 2}), b"two"),
        ("2.0.0", json!({"perCall": 2}), b"three"),
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
    assert_eq!(store.purchase_of("u1", "echo").await.unwrap(), None);

    let bought = store.purchase("u1", "echo", "1.0.0").await.unwrap();
    assert_eq!(
        (bought.package.as_str(), bought.amount, bought.new),
        ("echo@1.0.0", 500, true)
    );
    // Once per package: buying again, at any version, records nothing.
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
        store.purchase_of("u1", "echo").await.unwrap(),
        Some(again.clone())
    );
    let customer = Account::Customer("u1".into());
    assert_eq!(store.balance(&customer).await.unwrap(), -500);
    // 70% to the publisher, the platform's 20% and the pool's 10% exact.
    assert_eq!(
        store
            .balance(&Account::Publisher("acme".into()))
            .await
            .unwrap(),
        350
    );

    // Nothing to sell: a version without a purchase price, an unknown one,
    // a yanked one, and the publisher's own package.
    let err = store.purchase("u2", "echo", "2.0.0").await.unwrap_err();
    assert!(
        matches!(&err, MarketError::NotForSale { package, .. } if package == "echo@2.0.0"),
        "{err}"
    );
    assert!(err.to_string().contains("price.purchase"), "{err}");
    let err = store.purchase("u2", "echo", "9.9.9").await.unwrap_err();
    assert!(matches!(err, MarketError::UnknownVersion { .. }), "{err}");
    let err = store.purchase("acme", "echo", "1.0.0").await.unwrap_err();
    assert!(matches!(err, MarketError::OwnPackage { .. }), "{err}");
    store
        .yank_version("echo", "1.1.0", "superseded")
        .await
        .unwrap();
    let err = store.purchase("u2", "echo", "1.1.0").await.unwrap_err();
    assert!(err.to_string().contains("yanked: superseded"), "{err}");
    assert_eq!(store.purchase_of("u2", "echo").await.unwrap(), None);
    assert_eq!(store.purchase_of("acme", "echo").await.unwrap(), None);

    // A part refund leaves the purchase standing; a full one ends it, and
    // the account may buy the package again as a new sale.
    let refund = |id: &str, amount| Transaction::Refund {
        id: id.into(),
        sale: bought.transaction.clone(),
        amount,
    };
    store.record(refund("refund-1", 100)).await.unwrap();
    assert!(store.purchase_of("u1", "echo").await.unwrap().is_some());
    store.record(refund("refund-2", 400)).await.unwrap();
    assert_eq!(store.purchase_of("u1", "echo").await.unwrap(), None);
    let rebought = store.purchase("u1", "echo", "1.0.0").await.unwrap();
    assert!(rebought.new);
    assert_ne!(rebought.transaction, bought.transaction);
    assert_eq!(store.balance(&customer).await.unwrap(), -500);
    store.verify_ledger().await.unwrap();
}
