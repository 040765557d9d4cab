//! The market's revenue ledger: recording sales and refunds in memory (the
//! rules alone) and in the SQLite store (the rules, the database and the
//! disk).

use rustchain_tools_market::{Ledger, MarketStore, RevenueShare, Transaction};

/// Sale `n`: one of a few customers buys from one of a few publishers.
pub fn sale(n: u64) -> Transaction {
    Transaction::Sale {
        id: format!("sale-{n}"),
        customer: format!("customer-{}", n % 64),
        publisher: format!("publisher-{}", n % 16),
        package: "example.echo@1.0.0".to_owned(),
        amount: 999 + (n % 1_000) as i64,
        share: if n.is_multiple_of(4) {
            RevenueShare::HIGHLY_RATED
        } else {
            RevenueShare::STANDARD
        },
    }
}

/// A partial refund of sale `n`.
pub fn refund(n: u64) -> Transaction {
    Transaction::Refund {
        id: format!("refund-{n}"),
        sale: format!("sale-{n}"),
        amount: 333,
    }
}

/// Records sales `from..from + count` in `ledger`, refunding every tenth.
pub fn record_in_memory(ledger: &mut Ledger, from: u64, count: u64) {
    for n in from..from + count {
        ledger.record(sale(n)).expect("a valid sale");
        if n.is_multiple_of(10) {
            ledger.record(refund(n)).expect("a valid refund");
        }
    }
}

/// Records sales `from..from + count` in `store` from `writers` concurrent
/// tasks, each waiting for its commit before the next.
pub async fn record_in_store(store: &MarketStore, from: u64, count: u64, writers: u64) {
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = store.clone();
            tokio::spawn(async move {
                let mut n = from + w;
                while n < from + count {
                    store.record(sale(n)).await.expect("a valid sale");
                    n += writers;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("a writer");
    }
}
