//! The revenue ledger: double-entry, in integer minor units, idempotent by
//! transaction id.
//!
//! Every [`Transaction`] becomes one [`Entry`] whose [`Posting`]s add up to
//! zero, so the balances of all accounts together are always zero and no
//! cent is created or lost. Money paid by a customer shows as a negative
//! customer balance; what the publisher, the platform and the review pool
//! earned shows as their positive balances; what left the ledger to a bank
//! account shows on [`Account::PaidOut`].
//!
//! # The rounding rule
//!
//! A sale of `amount` minor units is split by a [`RevenueShare`] in basis
//! points. The platform's and the review pool's shares are each rounded
//! down to the minor unit; the publisher receives the rest. The three parts
//! therefore always add up to the amount, and rounding never favours the
//! platform: on a sale of 9 cents at 70/20/10 the platform gets 1, the pool
//! 0, the publisher 8.
//!
//! A refund of `r` after `R` of the same sale was already refunded takes
//! back from each account the difference between the split of `R + r` and
//! the split of `R`, by the share the sale was made at. A sale refunded in
//! full, in any number of parts, returns to the customer exactly what each
//! account received from it. (Because each part is rounded down on its
//! own, a one-cent step can move a cent between the publisher and the
//! others; the totals stay exact.) A refund after a payout or a bonus can
//! leave a publisher's or the pool's balance negative: money owed back,
//! settled by later sales.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::MarketError;

/// The most one transaction may move: 10^15 minor units (ten trillion
/// dollars), far beyond a real payment and far below `i64` overflow.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000_000;

/// The longest transaction or account id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Basis points in a whole (100%).
const WHOLE_BPS: u32 = 10_000;

/// An account in the ledger.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Account {
    /// A principal who pays for calls or purchases.
    Customer(String),
    /// A publisher of packages.
    Publisher(String),
    /// A security or quality reviewer, paid bonuses from the review pool.
    Reviewer(String),
    /// The platform's share.
    Platform,
    /// The curation and security review pool.
    ReviewPool,
    /// Money paid out of the ledger (to a publisher's or reviewer's bank).
    PaidOut,
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Account::Customer(id) => write!(f, "customer:{id}"),
            Account::Publisher(id) => write!(f, "publisher:{id}"),
            Account::Reviewer(id) => write!(f, "reviewer:{id}"),
            Account::Platform => f.write_str("platform"),
            Account::ReviewPool => f.write_str("review-pool"),
            Account::PaidOut => f.write_str("paid-out"),
        }
    }
}

impl FromStr for Account {
    type Err = MarketError;

    fn from_str(s: &str) -> Result<Account, MarketError> {
        let account = match s.split_once(':') {
            Some(("customer", id)) => Account::Customer(id.to_owned()),
            Some(("publisher", id)) => Account::Publisher(id.to_owned()),
            Some(("reviewer", id)) => Account::Reviewer(id.to_owned()),
            None if s == "platform" => Account::Platform,
            None if s == "review-pool" => Account::ReviewPool,
            None if s == "paid-out" => Account::PaidOut,
            _ => {
                return Err(MarketError::InvalidAccount {
                    account: s.to_owned(),
                    reason: "expected customer:ID, publisher:ID, reviewer:ID, platform, \
                             review-pool or paid-out"
                        .to_owned(),
                });
            }
        };
        account.check()?;
        Ok(account)
    }
}

impl TryFrom<String> for Account {
    type Error = MarketError;

    fn try_from(s: String) -> Result<Account, MarketError> {
        s.parse()
    }
}

impl From<Account> for String {
    fn from(account: Account) -> String {
        account.to_string()
    }
}

impl Account {
    pub(crate) fn check(&self) -> Result<(), MarketError> {
        match self {
            Account::Customer(id) | Account::Publisher(id) | Account::Reviewer(id) => check_id(id)
                .map_err(|reason| MarketError::InvalidAccount {
                    account: self.to_string(),
                    reason,
                }),
            _ => Ok(()),
        }
    }
}

/// How a sale is divided, in basis points (1/100 of a percent) that add up
/// to 10,000.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevenueShare {
    /// The publisher's share.
    pub publisher_bps: u16,
    /// The platform's share.
    pub platform_bps: u16,
    /// The curation and security review pool's share.
    pub review_bps: u16,
}

/// What the quality threshold for the higher publisher share looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QualityRecord {
    /// How many users rated the tool.
    pub ratings: u64,
    /// The sum of their ratings, each 1 to 5 stars.
    pub rating_stars: u64,
    /// Calls recorded in the audit log.
    pub calls: u64,
    /// Of those, calls that failed or timed out.
    pub failed_calls: u64,
}

impl RevenueShare {
    /// 70% publisher, 20% platform, 10% curation and security review.
    pub const STANDARD: RevenueShare = RevenueShare {
        publisher_bps: 7_000,
        platform_bps: 2_000,
        review_bps: 1_000,
    };

    /// 80% publisher, 10% platform, 10% review: for highly rated tools.
    pub const HIGHLY_RATED: RevenueShare = RevenueShare {
        publisher_bps: 8_000,
        platform_bps: 1_000,
        review_bps: 1_000,
    };

    /// Ratings a tool needs before it can earn [`HIGHLY_RATED`](Self::HIGHLY_RATED).
    pub const MIN_RATINGS: u64 = 20;
    /// Calls a tool needs before its reliability counts.
    pub const MIN_CALLS: u64 = 1_000;

    /// The share a tool earns: [`HIGHLY_RATED`](Self::HIGHLY_RATED) with at
    /// least 20 ratings averaging 4.5 stars or more and at least 1,000
    /// calls of which at most 1% failed; [`STANDARD`](Self::STANDARD)
    /// otherwise.
    pub fn for_quality(quality: &QualityRecord) -> RevenueShare {
        let well_rated = quality.ratings >= Self::MIN_RATINGS
            && u128::from(quality.rating_stars) * 2 >= u128::from(quality.ratings) * 9;
        let reliable = quality.calls >= Self::MIN_CALLS
            && u128::from(quality.failed_calls) * 100 <= u128::from(quality.calls);
        if well_rated && reliable {
            Self::HIGHLY_RATED
        } else {
            Self::STANDARD
        }
    }

    /// Splits `amount` (at least zero) by the rounding rule in the module
    /// documentation.
    pub fn split(&self, amount: i64) -> Split {
        let part = |bps: u16| {
            // amount ≤ MAX_AMOUNT and bps ≤ 10,000: the product fits in i128
            // and the quotient is at most the amount.
            (i128::from(amount) * i128::from(bps) / i128::from(WHOLE_BPS)) as i64
        };
        let platform = part(self.platform_bps);
        let review = part(self.review_bps);
        Split {
            publisher: amount - platform - review,
            platform,
            review,
        }
    }

    fn check(&self) -> Result<(), String> {
        let total = u32::from(self.publisher_bps)
            + u32::from(self.platform_bps)
            + u32::from(self.review_bps);
        if total != WHOLE_BPS {
            return Err(format!(
                "share: publisher {} + platform {} + review {} basis points is {total}, not 10000",
                self.publisher_bps, self.platform_bps, self.review_bps
            ));
        }
        Ok(())
    }
}

/// A sale's amount divided by a [`RevenueShare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Split {
    /// To the publisher.
    pub publisher: i64,
    /// To the platform.
    pub platform: i64,
    /// To the review pool.
    pub review: i64,
}

/// Something that moves money; its `id` makes it idempotent: recording the
/// same transaction twice records it once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Transaction {
    /// A paid call or purchase of a package.
    Sale {
        /// The transaction id.
        id: String,
        /// Who pays.
        customer: String,
        /// Who published the package.
        publisher: String,
        /// The package (and version) sold.
        package: String,
        /// The price in minor units.
        amount: i64,
        /// How it is divided.
        share: RevenueShare,
    },
    /// Money returned to the customer of an earlier sale.
    Refund {
        /// The transaction id.
        id: String,
        /// The sale's transaction id.
        sale: String,
        /// How much, in minor units; at most what is left unrefunded.
        amount: i64,
    },
    /// A bonus from the review pool for a confirmed security finding.
    ReviewBonus {
        /// The transaction id.
        id: String,
        /// Who found it.
        reviewer: String,
        /// The finding (an advisory id or a package version).
        finding: String,
        /// How much, in minor units; at most the pool's balance.
        amount: i64,
    },
    /// Money paid out of the ledger to an account's owner.
    Payout {
        /// The transaction id.
        id: String,
        /// A publisher, reviewer or the platform.
        account: Account,
        /// How much, in minor units; at most the account's balance.
        amount: i64,
    },
}

impl Transaction {
    /// The transaction id.
    pub fn id(&self) -> &str {
        match self {
            Transaction::Sale { id, .. }
            | Transaction::Refund { id, .. }
            | Transaction::ReviewBonus { id, .. }
            | Transaction::Payout { id, .. } => id,
        }
    }

    /// The kind, as statements show it: `sale`, `refund`, `review_bonus`
    /// or `payout`.
    pub fn kind(&self) -> &'static str {
        match self {
            Transaction::Sale { .. } => "sale",
            Transaction::Refund { .. } => "refund",
            Transaction::ReviewBonus { .. } => "review_bonus",
            Transaction::Payout { .. } => "payout",
        }
    }

    fn amount(&self) -> i64 {
        match self {
            Transaction::Sale { amount, .. }
            | Transaction::Refund { amount, .. }
            | Transaction::ReviewBonus { amount, .. }
            | Transaction::Payout { amount, .. } => *amount,
        }
    }

    /// The rules that need nothing but the transaction itself.
    pub(crate) fn check(&self) -> Result<(), MarketError> {
        let invalid = |reason: String| MarketError::InvalidTransaction {
            id: self.id().to_owned(),
            reason,
        };
        check_id(self.id()).map_err(|r| invalid(format!("id: {r}")))?;
        let amount = self.amount();
        if amount <= 0 || amount > MAX_AMOUNT {
            return Err(invalid(format!(
                "amount: {amount} minor units is not between 1 and {MAX_AMOUNT}"
            )));
        }
        match self {
            Transaction::Sale {
                customer,
                publisher,
                package,
                share,
                ..
            } => {
                check_id(customer).map_err(|r| invalid(format!("customer: {r}")))?;
                check_id(publisher).map_err(|r| invalid(format!("publisher: {r}")))?;
                check_id(package).map_err(|r| invalid(format!("package: {r}")))?;
                share.check().map_err(invalid)?;
            }
            Transaction::Refund { sale, .. } => {
                check_id(sale).map_err(|r| invalid(format!("sale: {r}")))?;
            }
            Transaction::ReviewBonus {
                reviewer, finding, ..
            } => {
                check_id(reviewer).map_err(|r| invalid(format!("reviewer: {r}")))?;
                check_id(finding).map_err(|r| invalid(format!("finding: {r}")))?;
            }
            Transaction::Payout { account, .. } => {
                account.check()?;
                if !matches!(
                    account,
                    Account::Publisher(_) | Account::Reviewer(_) | Account::Platform
                ) {
                    return Err(invalid(format!(
                        "account: {account} cannot be paid out; only publishers, \
                         reviewers and the platform can"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// An id: 1 to 128 bytes, no control characters.
fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() || id.len() > MAX_ID_LEN {
        return Err(format!(
            "`{}` must be 1 to {MAX_ID_LEN} bytes long",
            id.escape_debug()
        ));
    }
    if id.chars().any(char::is_control) {
        return Err(format!(
            "`{}` must not contain control characters",
            id.escape_debug()
        ));
    }
    Ok(())
}

/// One side of an entry: an account and the signed amount it moves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Posting {
    /// The account.
    pub account: Account,
    /// Minor units: positive credits the account, negative debits it.
    pub amount: i64,
}

/// A recorded transaction and its postings, which add up to zero.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Its place in the ledger, from 1.
    pub seq: u64,
    /// The transaction.
    pub transaction: Transaction,
    /// The postings.
    pub postings: Vec<Posting>,
}

/// What an earlier sale left, for planning a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SaleState {
    pub customer: String,
    pub publisher: String,
    pub amount: i64,
    pub share: RevenueShare,
    pub refunded: i64,
}

/// The facts a transaction's postings depend on, read from wherever the
/// ledger is kept.
pub(crate) enum Facts {
    /// A sale needs none.
    None,
    /// A refund needs its sale (`None`: there is no such sale).
    Sale(Option<SaleState>),
    /// A bonus or payout needs the balance it is paid from.
    Balance(i64),
}

/// The postings of a checked transaction, or why it cannot be recorded.
pub(crate) fn plan(txn: &Transaction, facts: Facts) -> Result<Vec<Posting>, MarketError> {
    // A share rounded to nothing moves nothing: no zero postings.
    plan_all(txn, facts).map(|mut postings| {
        postings.retain(|p| p.amount != 0);
        postings
    })
}

fn plan_all(txn: &Transaction, facts: Facts) -> Result<Vec<Posting>, MarketError> {
    let posting = |account: Account, amount: i64| Posting { account, amount };
    match (txn, facts) {
        (
            Transaction::Sale {
                customer,
                publisher,
                amount,
                share,
                ..
            },
            Facts::None,
        ) => {
            let split = share.split(*amount);
            Ok(vec![
                posting(Account::Customer(customer.clone()), -amount),
                posting(Account::Publisher(publisher.clone()), split.publisher),
                posting(Account::Platform, split.platform),
                posting(Account::ReviewPool, split.review),
            ])
        }
        (Transaction::Refund { id, sale, amount }, Facts::Sale(state)) => {
            let Some(state) = state else {
                return Err(MarketError::UnknownSale {
                    refund: id.clone(),
                    sale: sale.clone(),
                });
            };
            let remaining = state.amount - state.refunded;
            if *amount > remaining {
                return Err(MarketError::RefundExceedsSale {
                    refund: id.clone(),
                    sale: sale.clone(),
                    requested: *amount,
                    remaining,
                });
            }
            let before = state.share.split(state.refunded);
            let after = state.share.split(state.refunded + amount);
            Ok(vec![
                posting(Account::Customer(state.customer), *amount),
                posting(
                    Account::Publisher(state.publisher),
                    before.publisher - after.publisher,
                ),
                posting(Account::Platform, before.platform - after.platform),
                posting(Account::ReviewPool, before.review - after.review),
            ])
        }
        (
            Transaction::ReviewBonus {
                id,
                reviewer,
                amount,
                ..
            },
            Facts::Balance(pool),
        ) => {
            if *amount > pool {
                return Err(MarketError::InsufficientFunds {
                    id: id.clone(),
                    account: Account::ReviewPool,
                    balance: pool,
                    requested: *amount,
                });
            }
            Ok(vec![
                posting(Account::ReviewPool, -amount),
                posting(Account::Reviewer(reviewer.clone()), *amount),
            ])
        }
        (
            Transaction::Payout {
                id,
                account,
                amount,
            },
            Facts::Balance(balance),
        ) => {
            if *amount > balance {
                return Err(MarketError::InsufficientFunds {
                    id: id.clone(),
                    account: account.clone(),
                    balance,
                    requested: *amount,
                });
            }
            Ok(vec![
                posting(account.clone(), -amount),
                posting(Account::PaidOut, *amount),
            ])
        }
        _ => unreachable!("facts are read by the transaction's kind"),
    }
}

/// Which facts `txn` needs: the sale it refunds or the account it pays from.
pub(crate) enum Needs<'a> {
    Nothing,
    Sale(&'a str),
    Balance(Account),
}

pub(crate) fn needs(txn: &Transaction) -> Needs<'_> {
    match txn {
        Transaction::Sale { .. } => Needs::Nothing,
        Transaction::Refund { sale, .. } => Needs::Sale(sale),
        Transaction::ReviewBonus { .. } => Needs::Balance(Account::ReviewPool),
        Transaction::Payout { account, .. } => Needs::Balance(account.clone()),
    }
}

/// What [`Ledger::record`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recorded {
    /// The transaction was new and is now recorded.
    New(Entry),
    /// The same transaction was recorded before; nothing changed.
    Again(Entry),
}

impl Recorded {
    /// The entry, new or earlier.
    pub fn entry(&self) -> &Entry {
        match self {
            Recorded::New(entry) | Recorded::Again(entry) => entry,
        }
    }
}

/// One line of an account's statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatementLine {
    /// The entry's place in the ledger.
    pub seq: u64,
    /// The transaction id.
    pub id: String,
    /// `sale`, `refund`, `review_bonus` or `payout`.
    pub kind: String,
    /// What this entry moved on the account.
    pub amount: i64,
    /// The account's balance after it.
    pub balance: i64,
}

/// Everything that moved on one account, oldest first.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// The account.
    pub account: Account,
    /// The lines.
    pub lines: Vec<StatementLine>,
    /// The balance after the last line.
    pub balance: i64,
}

impl Statement {
    /// A statement from an account's postings in ledger order: `(seq, id,
    /// kind, amount)`.
    pub(crate) fn from_postings(
        account: Account,
        postings: impl IntoIterator<Item = (u64, String, String, i64)>,
    ) -> Statement {
        let mut balance = 0i64;
        let lines = postings
            .into_iter()
            .map(|(seq, id, kind, amount)| {
                balance += amount;
                StatementLine {
                    seq,
                    id,
                    kind,
                    amount,
                    balance,
                }
            })
            .collect();
        Statement {
            account,
            lines,
            balance,
        }
    }
}

/// A ledger in memory: the rules, for tests and for embedding; the
/// marketplace's store keeps the same entries in its database.
#[derive(Clone, Debug, Default)]
pub struct Ledger {
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
    balances: BTreeMap<Account, i64>,
    sales: HashMap<String, SaleState>,
}

impl Ledger {
    /// An empty ledger.
    pub fn new() -> Ledger {
        Ledger::default()
    }

    /// Records `txn`, or returns its earlier entry if the same transaction
    /// was recorded before. On an error nothing changes.
    pub fn record(&mut self, txn: Transaction) -> Result<Recorded, MarketError> {
        txn.check()?;
        if let Some(&index) = self.by_id.get(txn.id()) {
            let earlier = &self.entries[index];
            if earlier.transaction != txn {
                return Err(MarketError::TransactionConflict {
                    id: txn.id().to_owned(),
                });
            }
            return Ok(Recorded::Again(earlier.clone()));
        }
        let facts = match needs(&txn) {
            Needs::Nothing => Facts::None,
            Needs::Sale(sale) => Facts::Sale(self.sales.get(sale).cloned()),
            Needs::Balance(account) => Facts::Balance(self.balance(&account)),
        };
        let postings = plan(&txn, facts)?;
        let mut balances = Vec::with_capacity(postings.len());
        for posting in &postings {
            let balance = self
                .balance(&posting.account)
                .checked_add(posting.amount)
                .ok_or_else(|| MarketError::Overflow {
                    id: txn.id().to_owned(),
                    account: posting.account.clone(),
                })?;
            balances.push(balance);
        }
        for (posting, balance) in postings.iter().zip(balances) {
            self.balances.insert(posting.account.clone(), balance);
        }
        match &txn {
            Transaction::Sale {
                id,
                customer,
                publisher,
                amount,
                share,
                ..
            } => {
                self.sales.insert(
                    id.clone(),
                    SaleState {
                        customer: customer.clone(),
                        publisher: publisher.clone(),
                        amount: *amount,
                        share: *share,
                        refunded: 0,
                    },
                );
            }
            Transaction::Refund { sale, amount, .. } => {
                if let Some(state) = self.sales.get_mut(sale) {
                    state.refunded += amount;
                }
            }
            Transaction::ReviewBonus { .. } | Transaction::Payout { .. } => {}
        }
        let entry = Entry {
            seq: self.entries.len() as u64 + 1,
            transaction: txn,
            postings,
        };
        self.by_id
            .insert(entry.transaction.id().to_owned(), self.entries.len());
        self.entries.push(entry.clone());
        Ok(Recorded::New(entry))
    }

    /// An account's balance (zero if nothing moved on it).
    pub fn balance(&self, account: &Account) -> i64 {
        self.balances.get(account).copied().unwrap_or(0)
    }

    /// Every account that has moved, with its balance.
    pub fn balances(&self) -> impl Iterator<Item = (&Account, i64)> {
        self.balances.iter().map(|(a, b)| (a, *b))
    }

    /// The entries, oldest first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// The entry recorded for transaction `id`.
    pub fn entry(&self, id: &str) -> Option<&Entry> {
        self.by_id.get(id).map(|&i| &self.entries[i])
    }

    /// How much of sale `id` has been refunded, if it is a sale.
    pub fn refunded(&self, sale: &str) -> Option<i64> {
        self.sales.get(sale).map(|s| s.refunded)
    }

    /// An account's statement.
    pub fn statement(&self, account: &Account) -> Statement {
        Statement::from_postings(
            account.clone(),
            self.entries.iter().flat_map(|entry| {
                entry
                    .postings
                    .iter()
                    .filter(|p| &p.account == account)
                    .map(|p| {
                        (
                            entry.seq,
                            entry.transaction.id().to_owned(),
                            entry.transaction.kind().to_owned(),
                            p.amount,
                        )
                    })
            }),
        )
    }

    /// Checks the books: every entry adds up to zero and the balances are
    /// the sums of their postings.
    pub fn verify(&self) -> Result<(), MarketError> {
        verify_entries(&self.entries, self.balances())
    }
}

/// Checks that every entry adds up to zero and that `balances` are the
/// sums of the entries' postings.
pub(crate) fn verify_entries<'a>(
    entries: &[Entry],
    balances: impl IntoIterator<Item = (&'a Account, i64)>,
) -> Result<(), MarketError> {
    let mut sums: BTreeMap<&Account, i128> = BTreeMap::new();
    for entry in entries {
        let total: i128 = entry.postings.iter().map(|p| i128::from(p.amount)).sum();
        if total != 0 {
            return Err(MarketError::Unbalanced {
                detail: format!(
                    "entry {} ({}) adds up to {total}, not 0",
                    entry.seq,
                    entry.transaction.id()
                ),
            });
        }
        for p in &entry.postings {
            *sums.entry(&p.account).or_default() += i128::from(p.amount);
        }
    }
    let mut seen = 0;
    for (account, balance) in balances {
        seen += 1;
        let sum = sums.get(account).copied().unwrap_or(0);
        if sum != i128::from(balance) {
            return Err(MarketError::Unbalanced {
                detail: format!("{account} has balance {balance}, its postings add up to {sum}"),
            });
        }
    }
    if seen != sums.len() {
        return Err(MarketError::Unbalanced {
            detail: format!(
                "{} accounts have postings, {seen} have balances",
                sums.len()
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_rounds_the_platform_and_pool_down() {
        let s = RevenueShare::STANDARD.split(9);
        assert_eq!((s.publisher, s.platform, s.review), (8, 1, 0));
        let s = RevenueShare::STANDARD.split(1_000);
        assert_eq!((s.publisher, s.platform, s.review), (700, 200, 100));
        let s = RevenueShare::HIGHLY_RATED.split(MAX_AMOUNT);
        assert_eq!(s.publisher + s.platform + s.review, MAX_AMOUNT);
    }

    #[test]
    fn the_higher_share_needs_ratings_and_reliability() {
        let mut q = QualityRecord {
            ratings: 20,
            rating_stars: 90,
            calls: 1_000,
            failed_calls: 10,
        };
        assert_eq!(RevenueShare::for_quality(&q), RevenueShare::HIGHLY_RATED);
        q.failed_calls = 11;
        assert_eq!(RevenueShare::for_quality(&q), RevenueShare::STANDARD);
        q.failed_calls = 0;
        q.rating_stars = 89;
        assert_eq!(RevenueShare::for_quality(&q), RevenueShare::STANDARD);
        q.ratings = 19;
        q.rating_stars = 95;
        assert_eq!(RevenueShare::for_quality(&q), RevenueShare::STANDARD);
        assert_eq!(
            RevenueShare::for_quality(&QualityRecord::default()),
            RevenueShare::STANDARD
        );
    }

    #[test]
    fn accounts_round_trip_through_text() {
        for account in [
            Account::Customer("alice".into()),
            Account::Publisher("acme:tools".into()),
            Account::Reviewer("bob".into()),
            Account::Platform,
            Account::ReviewPool,
            Account::PaidOut,
        ] {
            assert_eq!(account.to_string().parse::<Account>().unwrap(), account);
        }
        assert!("customer:".parse::<Account>().is_err());
        assert!("bank".parse::<Account>().is_err());
    }
}
