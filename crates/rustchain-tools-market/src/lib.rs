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
#![deny(missing_docs)]

mod error;
pub mod ledger;
pub mod package;

pub use error::MarketError;
pub use ledger::{Account, Entry, Ledger, Posting, RevenueShare, Split, Transaction};
pub use package::{PackageDigest, PackageFile, PublisherKey, SignedPackage};
