//! The ledger's properties: for any sequence of sales, refunds, bonuses,
//! payouts and replays, every entry and the books as a whole balance, no
//! cent is created or lost, a refused transaction changes nothing, and a
//! sale refunded in full leaves every account as it was before the sale.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rustchain_tools_market::ledger::{MAX_AMOUNT, Recorded};
use rustchain_tools_market::{Account, Ledger, MarketError, RevenueShare, Transaction};

#[derive(Clone, Debug)]
enum Op {
    Sale {
        customer: u8,
        publisher: u8,
        amount: i64,
        share: RevenueShare,
    },
    Refund {
        sale: usize,
        amount: i64,
    },
    Bonus {
        reviewer: u8,
        amount: i64,
    },
    Payout {
        publisher: u8,
        amount: i64,
    },
    Replay {
        index: usize,
    },
    Conflict {
        index: usize,
    },
}

fn share() -> impl Strategy<Value = RevenueShare> {
    prop_oneof![
        Just(RevenueShare::STANDARD),
        Just(RevenueShare::HIGHLY_RATED),
        (0u16..=10_000)
            .prop_flat_map(|p| (Just(p), 0..=10_000 - p))
            .prop_map(|(platform_bps, review_bps)| RevenueShare {
                publisher_bps: 10_000 - platform_bps - review_bps,
                platform_bps,
                review_bps,
            }),
    ]
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![1i64..20, 1i64..100_000, Just(MAX_AMOUNT)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..3, 0u8..3, amount(), share()).prop_map(|(customer, publisher, amount, share)| Op::Sale {
            customer,
            publisher,
            amount,
            share
        }),
        3 => (any::<usize>(), amount()).prop_map(|(sale, amount)| Op::Refund { sale, amount }),
        1 => (0u8..2, amount()).prop_map(|(reviewer, amount)| Op::Bonus { reviewer, amount }),
        1 => (0u8..3, amount()).prop_map(|(publisher, amount)| Op::Payout { publisher, amount }),
        1 => any::<usize>().prop_map(|index| Op::Replay { index }),
        1 => any::<usize>().prop_map(|index| Op::Conflict { index }),
    ]
}

fn snapshot(ledger: &Ledger) -> (usize, BTreeMap<Account, i64>) {
    (
        ledger.entries().len(),
        ledger.balances().map(|(a, b)| (a.clone(), b)).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_sequence_balances(ops in prop::collection::vec(op(), 1..60)) {
        let mut ledger = Ledger::new();
        let mut sent: Vec<Transaction> = Vec::new();
        let mut sales: Vec<String> = Vec::new();
        // What customers paid, less what they got back: every cent of it
        // must be on the other accounts.
        let mut paid_in: i128 = 0;
        for (n, op) in ops.into_iter().enumerate() {
            let id = format!("t{n}");
            let txn = match op {
                Op::Sale { customer, publisher, amount, share } => Transaction::Sale {
                    id,
                    customer: format!("c{customer}"),
                    publisher: format!("p{publisher}"),
                    package: "echo@1.0.0".into(),
                    amount,
                    share,
                },
                Op::Refund { sale, amount } => Transaction::Refund {
                    id,
                    sale: if sales.is_empty() { "none".into() } else { sales[sale % sales.len()].clone() },
                    amount,
                },
                Op::Bonus { reviewer, amount } => Transaction::ReviewBonus {
                    id,
                    reviewer: format!("r{reviewer}"),
                    finding: "RCT-1".into(),
                    amount,
                },
                Op::Payout { publisher, amount } => Transaction::Payout {
                    id,
                    account: Account::Publisher(format!("p{publisher}")),
                    amount,
                },
                Op::Replay { index } if !sent.is_empty() => sent[index % sent.len()].clone(),
                Op::Conflict { index } if !sent.is_empty() => {
                    let mut txn = sent[index % sent.len()].clone();
                    match &mut txn {
                        Transaction::Sale { amount, .. }
                        | Transaction::Refund { amount, .. }
                        | Transaction::ReviewBonus { amount, .. }
                        | Transaction::Payout { amount, .. } => *amount = *amount % MAX_AMOUNT + 1,
                    }
                    txn
                }
                Op::Replay { .. } | Op::Conflict { .. } => continue,
            };
            let before = snapshot(&ledger);
            match ledger.record(txn.clone()) {
                Ok(Recorded::New(entry)) => {
                    let total: i128 = entry.postings.iter().map(|p| i128::from(p.amount)).sum();
                    prop_assert_eq!(total, 0);
                    match &txn {
                        Transaction::Sale { id, amount, .. } => {
                            sales.push(id.clone());
                            paid_in += i128::from(*amount);
                        }
                        Transaction::Refund { amount, .. } => paid_in -= i128::from(*amount),
                        _ => {}
                    }
                    sent.push(txn);
                }
                Ok(Recorded::Again(entry)) => {
                    prop_assert_eq!(&entry.transaction, &txn);
                    prop_assert_eq!(snapshot(&ledger), before);
                }
                Err(e) => {
                    prop_assert!(matches!(
                        e,
                        MarketError::UnknownSale { .. }
                            | MarketError::RefundExceedsSale { .. }
                            | MarketError::InsufficientFunds { .. }
                            | MarketError::TransactionConflict { .. }
                            | MarketError::Overflow { .. }
                    ), "unexpected refusal: {e}");
                    prop_assert_eq!(snapshot(&ledger), before);
                }
            }
            ledger.verify().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut customers: i128 = 0;
            let mut others: i128 = 0;
            for (account, balance) in ledger.balances() {
                match account {
                    Account::Customer(_) => customers += i128::from(balance),
                    _ => {
                        prop_assert!(balance >= 0 || matches!(account, Account::Publisher(_) | Account::ReviewPool),
                            "{account} went negative: {balance}");
                        others += i128::from(balance);
                    }
                }
            }
            prop_assert_eq!(customers, -paid_in);
            prop_assert_eq!(others, paid_in);
        }
        // A sale refunded in full left nothing behind on any account.
        for sale in &sales {
            let entry = ledger.entry(sale).unwrap();
            let Transaction::Sale { amount, .. } = &entry.transaction else { unreachable!() };
            if ledger.refunded(sale) != Some(*amount) {
                continue;
            }
            let mut net: BTreeMap<Account, i64> = BTreeMap::new();
            for e in ledger.entries() {
                let of_sale = match &e.transaction {
                    Transaction::Sale { id, .. } => id == sale,
                    Transaction::Refund { sale: s, .. } => s == sale,
                    _ => false,
                };
                if of_sale {
                    for p in &e.postings {
                        *net.entry(p.account.clone()).or_default() += p.amount;
                    }
                }
            }
            prop_assert!(net.values().all(|&v| v == 0), "sale {sale} left {net:?}");
        }
    }

    #[test]
    fn a_split_adds_up_to_the_cent(amount in 0..=MAX_AMOUNT, share in share()) {
        let split = share.split(amount);
        prop_assert_eq!(split.publisher + split.platform + split.review, amount);
        prop_assert!(split.platform >= 0 && split.review >= 0 && split.publisher >= 0);
        // Rounding only ever favours the publisher, by less than a cent
        // per rounded share.
        let exact = |bps: u16| i128::from(amount) * i128::from(bps);
        prop_assert!(i128::from(split.platform) * 10_000 <= exact(share.platform_bps));
        prop_assert!(i128::from(split.review) * 10_000 <= exact(share.review_bps));
        prop_assert!(i128::from(split.publisher) * 10_000 >= exact(share.publisher_bps));
        prop_assert!(i128::from(split.publisher) * 10_000 < exact(share.publisher_bps) + 20_000);
    }
}

#[test]
fn a_sale_then_partial_refunds_and_a_payout() {
    let mut ledger = Ledger::new();
    ledger
        .record(Transaction::Sale {
            id: "s1".into(),
            customer: "alice".into(),
            publisher: "acme".into(),
            package: "echo@1.0.0".into(),
            amount: 1_000,
            share: RevenueShare::STANDARD,
        })
        .unwrap();
    assert_eq!(ledger.balance(&Account::Publisher("acme".into())), 700);
    assert_eq!(ledger.balance(&Account::Platform), 200);
    assert_eq!(ledger.balance(&Account::ReviewPool), 100);
    assert_eq!(ledger.balance(&Account::Customer("alice".into())), -1_000);

    let refund = |id: &str, amount| Transaction::Refund {
        id: id.into(),
        sale: "s1".into(),
        amount,
    };
    ledger.record(refund("r1", 250)).unwrap();
    let err = ledger.record(refund("r2", 751)).unwrap_err();
    assert!(err.to_string().contains("only 750 of sale `s1`"), "{err}");
    ledger.record(refund("r2", 750)).unwrap();
    for account in [
        Account::Publisher("acme".into()),
        Account::Platform,
        Account::ReviewPool,
        Account::Customer("alice".into()),
    ] {
        assert_eq!(ledger.balance(&account), 0, "{account}");
    }

    let err = ledger
        .record(Transaction::Payout {
            id: "p1".into(),
            account: Account::Publisher("acme".into()),
            amount: 1,
        })
        .unwrap_err();
    assert!(err.to_string().contains("holds 0"), "{err}");

    let statement = ledger.statement(&Account::Publisher("acme".into()));
    let lines: Vec<(&str, i64, i64)> = statement
        .lines
        .iter()
        .map(|l| (l.id.as_str(), l.amount, l.balance))
        .collect();
    assert_eq!(
        lines,
        [("s1", 700, 700), ("r1", -175, 525), ("r2", -525, 0)]
    );
}

#[test]
fn a_reused_id_with_other_contents_is_refused() {
    let mut ledger = Ledger::new();
    let sale = |amount| Transaction::Sale {
        id: "s1".into(),
        customer: "alice".into(),
        publisher: "acme".into(),
        package: "echo@1.0.0".into(),
        amount,
        share: RevenueShare::STANDARD,
    };
    assert!(matches!(
        ledger.record(sale(100)).unwrap(),
        Recorded::New(_)
    ));
    assert!(matches!(
        ledger.record(sale(100)).unwrap(),
        Recorded::Again(_)
    ));
    let err = ledger.record(sale(101)).unwrap_err();
    assert!(
        matches!(err, MarketError::TransactionConflict { .. }),
        "{err}"
    );
    assert_eq!(ledger.entries().len(), 1);
}

#[test]
fn bad_transactions_name_the_field() {
    let mut ledger = Ledger::new();
    let cases = [
        (
            Transaction::Sale {
                id: "s".into(),
                customer: "alice".into(),
                publisher: "acme".into(),
                package: "echo".into(),
                amount: 0,
                share: RevenueShare::STANDARD,
            },
            "amount: 0 minor units",
        ),
        (
            Transaction::Sale {
                id: "s".into(),
                customer: "".into(),
                publisher: "acme".into(),
                package: "echo".into(),
                amount: 5,
                share: RevenueShare::STANDARD,
            },
            "customer: ``",
        ),
        (
            Transaction::Sale {
                id: "s".into(),
                customer: "a".into(),
                publisher: "acme".into(),
                package: "echo".into(),
                amount: 5,
                share: RevenueShare {
                    publisher_bps: 9_000,
                    platform_bps: 2_000,
                    review_bps: 1_000,
                },
            },
            "is 12000, not 10000",
        ),
        (
            Transaction::Payout {
                id: "p".into(),
                account: Account::Customer("alice".into()),
                amount: 5,
            },
            "customer:alice cannot be paid out",
        ),
        (
            Transaction::Refund {
                id: "r".into(),
                sale: "nope".into(),
                amount: 5,
            },
            "`nope`, which is not a recorded sale",
        ),
    ];
    for (txn, expected) in cases {
        let err = ledger.record(txn).unwrap_err().to_string();
        assert!(err.contains(expected), "{err} should contain {expected}");
    }
    assert!(ledger.entries().is_empty());
}
