//! The one error type of the market crate.

use thiserror::Error;

use crate::ledger::Account;

/// Why a ledger transaction or a package was refused; each message names
/// the transaction, account or file and what was wrong.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum MarketError {
    /// The transaction breaks a rule on its own (an amount, an id, a share).
    #[error("transaction `{id}` is invalid: {reason}")]
    InvalidTransaction {
        /// The transaction id.
        id: String,
        /// What is wrong, with the field.
        reason: String,
    },
    /// An account name cannot be read.
    #[error("account `{account}` is invalid: {reason}")]
    InvalidAccount {
        /// The account as given.
        account: String,
        /// What is wrong.
        reason: String,
    },
    /// A different transaction was already recorded under this id.
    #[error(
        "transaction `{id}` was already recorded with different contents; \
         use a new id for a new transaction"
    )]
    TransactionConflict {
        /// The transaction id.
        id: String,
    },
    /// A refund names a sale the ledger does not have.
    #[error("refund `{refund}` names sale `{sale}`, which is not a recorded sale")]
    UnknownSale {
        /// The refund's id.
        refund: String,
        /// The sale it names.
        sale: String,
    },
    /// A refund asks for more than is left of its sale.
    #[error(
        "refund `{refund}` asks for {requested} minor units, but only {remaining} \
         of sale `{sale}` are left to refund"
    )]
    RefundExceedsSale {
        /// The refund's id.
        refund: String,
        /// The sale.
        sale: String,
        /// The refund's amount.
        requested: i64,
        /// What is left unrefunded.
        remaining: i64,
    },
    /// A bonus or payout asks for more than the account holds.
    #[error(
        "transaction `{id}` needs {requested} minor units from {account}, \
         which holds {balance}"
    )]
    InsufficientFunds {
        /// The transaction id.
        id: String,
        /// The account paid from.
        account: Account,
        /// Its balance.
        balance: i64,
        /// The amount asked for.
        requested: i64,
    },
    /// A balance would leave the range of 64-bit minor units.
    #[error("transaction `{id}` would overflow the balance of {account}")]
    Overflow {
        /// The transaction id.
        id: String,
        /// The account.
        account: Account,
    },
    /// The store holds something that cannot be read back (only from a
    /// damaged or hand-edited database).
    #[error("the store is damaged: {detail}")]
    Damaged {
        /// What cannot be read, and where.
        detail: String,
    },
    /// The books do not add up (only from a damaged store).
    #[error("the ledger does not balance: {detail}")]
    Unbalanced {
        /// Which entry or account is off.
        detail: String,
    },
    /// A package's files break a rule (a path, a size, a file type).
    #[error("package {path}: {reason}")]
    InvalidPackage {
        /// The file or directory.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// A package's signature does not verify or its files do not match it.
    #[error("package `{package}` fails verification: {reason}")]
    Verification {
        /// The package and version.
        package: String,
        /// What did not match.
        reason: String,
    },
    /// The store URL names no supported database.
    #[error("store URL `{url}` is neither sqlite:PATH nor postgres://...")]
    InvalidStoreUrl {
        /// The URL as given.
        url: String,
    },
    /// The database failed or could not be reached.
    #[error("the market store could not {operation}: {source}")]
    Store {
        /// What the store was doing.
        operation: &'static str,
        /// The database's error.
        source: sqlx::Error,
    },
    /// The schema could not be brought up to date.
    #[error("the market store's schema could not be migrated: {source}")]
    Migrate {
        /// The migration's error.
        source: sqlx::migrate::MigrateError,
    },
    /// No publisher account has this id.
    #[error("publisher `{publisher}` is not registered")]
    UnknownPublisher {
        /// The id.
        publisher: String,
    },
    /// The key is already registered to another publisher.
    #[error("key {key_id} is already registered to publisher `{publisher}`")]
    KeyTaken {
        /// The key's id.
        key_id: String,
        /// Its owner.
        publisher: String,
    },
    /// The package name belongs to another publisher.
    #[error("package name `{name}` belongs to publisher `{publisher}`")]
    NameTaken {
        /// The name.
        name: String,
        /// Its owner.
        publisher: String,
    },
    /// The version exists with other contents; versions are immutable.
    #[error(
        "{name}@{version} already exists with digest {digest}; versions are never \
         rewritten, publish a new version (or yank this one)"
    )]
    VersionExists {
        /// The package.
        name: String,
        /// The version.
        version: String,
        /// The digest it has.
        digest: String,
    },
    /// No such package version.
    #[error("{name}@{version} is not in the market")]
    UnknownVersion {
        /// The package.
        name: String,
        /// The version.
        version: String,
    },
    /// No submission has this number.
    #[error("submission {id} does not exist")]
    UnknownSubmission {
        /// The number.
        id: i64,
    },
    /// The submission was already published or rejected.
    #[error("submission {id} is {state}; only a submission in review takes reviews")]
    SubmissionClosed {
        /// The number.
        id: i64,
        /// Where it stands.
        state: crate::review::SubmissionState,
    },
    /// The reviewer is the publisher or linked to it.
    #[error(
        "`{reviewer}` may not review submission {id}: it is a package of `{publisher}`, \
         {why}"
    )]
    ConflictOfInterest {
        /// The submission.
        id: i64,
        /// The reviewer.
        reviewer: String,
        /// The package's publisher.
        publisher: String,
        /// The reviewer's own package, or how they are linked.
        why: &'static str,
    },
    /// The reviewer's reputation is below what the market's rules ask of a
    /// verdict.
    #[error(
        "`{reviewer}` may not review submission {id}: its reputation is {reputation}, \
         and a verdict needs at least {needed} (confirmed findings it reports raise it)"
    )]
    ReputationTooLow {
        /// The submission.
        id: i64,
        /// The reviewer.
        reviewer: String,
        /// Its reputation now.
        reputation: i64,
        /// What the rules ask.
        needed: i64,
    },
    /// The reviewer already gave a verdict of this kind.
    #[error("`{reviewer}` already gave a {kind} verdict on submission {id}; verdicts are final")]
    AlreadyReviewed {
        /// The submission.
        id: i64,
        /// The reviewer.
        reviewer: String,
        /// The kind of review.
        kind: crate::review::ReviewKind,
    },
    /// An account id or role cannot be used.
    #[error("market account `{id}`: {reason}")]
    InvalidMarketAccount {
        /// The account id.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A usage report whose counts do not add up.
    #[error("usage report for {package}: {reason}")]
    InvalidUsage {
        /// The package version.
        package: String,
        /// What is wrong.
        reason: String,
    },
    /// A rating outside what a rating may be.
    #[error("rating of {package}: {reason}")]
    InvalidRating {
        /// The package version.
        package: String,
        /// What is wrong.
        reason: String,
    },
    /// A publisher (or an account linked to it) rating its own package or
    /// reporting a finding against it, or an account deciding on a finding
    /// it reported or whose package it is.
    #[error("`{account}` may not {action} {package}: {why}")]
    OwnPackage {
        /// The account.
        account: String,
        /// What it may not do.
        action: &'static str,
        /// The package version.
        package: String,
        /// It is the publisher, or linked to it.
        why: &'static str,
    },
    /// A version that cannot be bought.
    #[error("{package} is not for sale: {reason}")]
    NotForSale {
        /// The package version.
        package: String,
        /// Why not.
        reason: String,
    },
    /// A usage report counting fewer calls than the account's last one.
    #[error(
        "usage report for {package} counts {calls} calls, fewer than the {before} reported before; \
         a report counts the whole audit log"
    )]
    UsageWentBack {
        /// The package version.
        package: String,
        /// Calls in this report.
        calls: u64,
        /// Calls in the last one.
        before: u64,
    },
    /// A finding report or decision that cannot be kept as it is.
    #[error("finding against {package}: {reason}")]
    InvalidFinding {
        /// The package version.
        package: String,
        /// What is wrong.
        reason: String,
    },
    /// No finding has this number.
    #[error("finding {id} does not exist")]
    UnknownFinding {
        /// The number asked for.
        id: i64,
    },
    /// A finding that was decided already.
    #[error("finding {id} is {state}; a decision is final")]
    FindingClosed {
        /// The finding.
        id: i64,
        /// Its decision.
        state: crate::finding::FindingState,
    },
}
