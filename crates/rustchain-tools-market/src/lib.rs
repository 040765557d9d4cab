//! The RustChain Tools marketplace's domain: what a community package is
//! and how money moves when it is used.
//!
//! - [`package`]: a package is a WASM plugin with its manifest, docs and
//!   examples, addressed by the SHA-256 of its files ([`PackageDigest`])
//!   and signed by its publisher with Ed25519 ([`SignedPackage`]).
//! - [`ledger`]: a double-entry ledger in integer minor units. Each paid
//!   call or purchase is split between the publisher, the platform and the
//!   curation and security review pool ([`RevenueShare`]) by a rounding
//!   rule that always adds up to the cent; refunds, review bonuses and
//!   payouts are entries of their own, and every entry is idempotent by
//!   its transaction id.
//! - [`MarketStore`]: the database behind the marketplace, SQLite embedded
//!   by default and PostgreSQL for larger deployments, with one schema and
//!   one set of migrations; it keeps the ledger by the same rules and the
//!   packages' signed, immutable versions.
//! - [`review`]: submissions, from the security scan's verdict through
//!   community review to publication, and the accounts that review them.
//! - [`finding`]: security findings against published versions, review
//!   bonuses for confirmed ones, and reviewers' reputation.
//! - [`usage`]: quality metrics from real use, counted from users' audit
//!   logs, and ratings weighted by that use.
//!
//! ```
//! use rustchain_tools_market::{Account, Ledger, RevenueShare, Transaction};
//!
//! let mut ledger = Ledger::new();
//! ledger.record(Transaction::Sale {
//!     id: "order-1".into(),
//!     customer: "alice".into(),
//!     publisher: "acme".into(),
//!     package: "acme.echo@1.0.0".into(),
//!     amount: 999, // $9.99
//!     share: RevenueShare::STANDARD,
//! })?;
//! ledger.record(Transaction::Refund { id: "refund-1".into(), sale: "order-1".into(), amount: 333 })?;
//! assert_eq!(ledger.balance(&Account::Publisher("acme".into())), 467);
//! assert_eq!(ledger.balance(&Account::Platform), 133);
//! assert_eq!(ledger.balance(&Account::ReviewPool), 66);
//! ledger.verify()?;
//! # Ok::<(), rustchain_tools_market::MarketError>(())
//! ```
#![deny(missing_docs)]

mod error;
pub mod finding;
pub mod ledger;
pub mod package;
pub mod review;
mod store;
pub mod usage;

pub use error::MarketError;
pub use finding::{
    Decision, Finding, FindingState, FindingVerdict, NewFinding, Reputation, Severity,
};
pub use ledger::{Account, Entry, Ledger, Posting, RevenueShare, Split, Transaction};
pub use package::{PackageBundle, PackageDigest, PackageFile, PublisherKey, SignedPackage};
pub use review::{
    MarketAccount, Review, ReviewKind, ReviewRules, Submission, SubmissionState, Verdict,
};
pub use store::{
    Backend, Earnings, MarketStore, Prices, Purchase, ScanOutcome, VersionRecord, Yanked,
};
pub use usage::{CallOutcome, Rating, UsageReport, UsedBy, VersionMetrics};
