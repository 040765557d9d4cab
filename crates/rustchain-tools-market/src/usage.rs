//! Quality metrics from real use: each user's installation counts the calls
//! of a package version in its audit log ([`UsageReport`]), the market keeps
//! each account's latest report and the ratings users give, and
//! [`VersionMetrics`] adds them up per version, saying how each figure is
//! computed.

use serde::{Deserialize, Serialize};

use crate::MarketError;
use crate::ledger::QualityRecord;

/// The upper bounds, in microseconds, of the latency buckets a report
/// counts calls in; one more bucket holds the calls slower than the last.
pub const LATENCY_BUCKETS_US: [u64; 16] = [
    100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000,
    1_000_000, 2_500_000, 5_000_000, 10_000_000,
];

/// The upper bounds, in bytes, of the memory buckets a report counts
/// measured calls in (powers of two from one 64 KiB WASM page); one more
/// bucket holds the calls that held more than the last.
pub const MEMORY_BUCKETS_BYTES: [u64; 12] = [
    64 << 10,
    128 << 10,
    256 << 10,
    512 << 10,
    1 << 20,
    2 << 20,
    4 << 20,
    8 << 20,
    16 << 20,
    32 << 20,
    64 << 20,
    256 << 20,
];

/// The longest written review, in characters.
pub const MAX_REVIEW_CHARS: usize = 4_000;

/// A package and how many accounts back suggesting it: those that use it
/// beside the package or account it is suggested for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsedBy {
    /// The package's name.
    pub name: String,
    /// How many accounts.
    pub accounts: u64,
}

/// How a call ended, as its audit record says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallOutcome {
    /// It returned a result that is not an error.
    Ok,
    /// It returned an error result, or the tool failed.
    Error,
    /// It ran past its deadline.
    TimedOut,
    /// A resource limit (memory, fuel, output size) stopped it.
    LimitHit,
}

/// One account's calls of one package version, from its audit log since
/// the log began: a later report replaces the earlier one, so reporting
/// twice counts nothing twice.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UsageReport {
    /// The package.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Calls that ran.
    pub calls: u64,
    /// Of those, calls that ended in an error.
    pub errors: u64,
    /// Of those, calls that timed out.
    pub timeouts: u64,
    /// Of those, calls a resource limit stopped.
    pub limit_hits: u64,
    /// Calls per latency bucket ([`LATENCY_BUCKETS_US`], then the rest).
    pub latency: Vec<u64>,
    /// The hash of the last audit record counted, so that the report can
    /// be checked against the log it came from.
    pub log_head: String,
    /// Calls per memory bucket ([`MEMORY_BUCKETS_BYTES`], then the rest),
    /// of the calls whose record says how much memory the tool held; empty
    /// when none does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub memory: Vec<u64>,
}

impl UsageReport {
    /// An empty report for `name@version`.
    pub fn new(name: &str, version: &str) -> UsageReport {
        UsageReport {
            name: name.to_owned(),
            version: version.to_owned(),
            calls: 0,
            errors: 0,
            timeouts: 0,
            limit_hits: 0,
            latency: vec![0; LATENCY_BUCKETS_US.len() + 1],
            log_head: String::new(),
            memory: Vec::new(),
        }
    }

    /// Counts the memory one of the recorded calls held, in bytes.
    pub fn record_memory(&mut self, bytes: u64) {
        if self.memory.is_empty() {
            self.memory = vec![0; MEMORY_BUCKETS_BYTES.len() + 1];
        }
        let bucket = MEMORY_BUCKETS_BYTES
            .iter()
            .position(|&bound| bytes <= bound)
            .unwrap_or(MEMORY_BUCKETS_BYTES.len());
        if let Some(count) = self.memory.get_mut(bucket) {
            *count += 1;
        }
    }

    /// Counts one call that took `elapsed_us`.
    pub fn record(&mut self, outcome: CallOutcome, elapsed_us: u64) {
        self.calls += 1;
        match outcome {
            CallOutcome::Ok => {}
            CallOutcome::Error => self.errors += 1,
            CallOutcome::TimedOut => self.timeouts += 1,
            CallOutcome::LimitHit => self.limit_hits += 1,
        }
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|&bound| elapsed_us <= bound)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        if let Some(count) = self.latency.get_mut(bucket) {
            *count += 1;
        }
    }

    /// Refuses a report whose counts do not add up.
    pub fn check(&self) -> Result<(), MarketError> {
        let wrong = |reason: String| MarketError::InvalidUsage {
            package: format!("{}@{}", self.name, self.version),
            reason,
        };
        if self.latency.len() != LATENCY_BUCKETS_US.len() + 1 {
            return Err(wrong(format!(
                "latency has {} buckets, not {}",
                self.latency.len(),
                LATENCY_BUCKETS_US.len() + 1
            )));
        }
        let bucketed = self
            .latency
            .iter()
            .try_fold(0u64, |sum, n| sum.checked_add(*n));
        if bucketed != Some(self.calls) {
            return Err(wrong(format!(
                "latency buckets count {bucketed:?} calls, the report {}",
                self.calls
            )));
        }
        if !self.memory.is_empty() {
            if self.memory.len() != MEMORY_BUCKETS_BYTES.len() + 1 {
                return Err(wrong(format!(
                    "memory has {} buckets, not {}",
                    self.memory.len(),
                    MEMORY_BUCKETS_BYTES.len() + 1
                )));
            }
            let measured = self
                .memory
                .iter()
                .try_fold(0u64, |sum, n| sum.checked_add(*n));
            if measured.is_none_or(|measured| measured > self.calls) {
                return Err(wrong(format!(
                    "memory buckets count {measured:?} calls, more than the report's {}",
                    self.calls
                )));
            }
        }
        let failed = self
            .errors
            .checked_add(self.timeouts)
            .and_then(|n| n.checked_add(self.limit_hits));
        if failed.is_none_or(|failed| failed > self.calls) {
            return Err(wrong(format!(
                "errors, timeouts and limit hits add up to more than its {} calls",
                self.calls
            )));
        }
        if self.log_head.len() > 128 {
            return Err(wrong("logHead is longer than 128 characters".to_owned()));
        }
        Ok(())
    }
}

/// A user's rating of a version, with the weight its usage gives it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rating {
    /// Who rated.
    pub account: String,
    /// 1 to 5.
    pub stars: u8,
    /// What they wrote (may be empty).
    pub review: String,
    /// When, in seconds since 1970.
    pub at: i64,
    /// The calls of this version the account has reported.
    pub calls: u64,
    /// [`usage_weight`] of those calls.
    pub weight: u64,
}

/// How much a rating counts: 0 without reported use, else 1 + the base-2
/// logarithm of the calls, rounded down (1 call: 1, 1,000 calls: 10, a
/// million: 20), so heavy users count more without one account outweighing
/// everyone.
pub fn usage_weight(calls: u64) -> u64 {
    u64::from(u64::BITS - calls.leading_zeros())
}

/// What the market knows of a version from real use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionMetrics {
    /// The package.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Accounts that reported use.
    pub reporters: u64,
    /// Calls, summed over the reports.
    pub calls: u64,
    /// Of those, calls that ended in an error.
    pub errors: u64,
    /// Of those, calls that timed out.
    pub timeouts: u64,
    /// Of those, calls a resource limit stopped.
    pub limit_hits: u64,
    /// Calls per latency bucket, summed over the reports.
    pub latency: Vec<u64>,
    /// Measured calls per memory bucket, summed over the reports.
    pub memory: Vec<u64>,
    /// The ratings, newest first.
    pub ratings: Vec<Rating>,
}

impl VersionMetrics {
    /// Nothing reported yet.
    pub fn empty(name: &str, version: &str) -> VersionMetrics {
        VersionMetrics {
            name: name.to_owned(),
            version: version.to_owned(),
            reporters: 0,
            calls: 0,
            errors: 0,
            timeouts: 0,
            limit_hits: 0,
            latency: vec![0; LATENCY_BUCKETS_US.len() + 1],
            memory: vec![0; MEMORY_BUCKETS_BYTES.len() + 1],
            ratings: Vec::new(),
        }
    }

    /// Adds one account's report.
    pub fn add(&mut self, report: &UsageReport) {
        self.reporters += 1;
        self.calls = self.calls.saturating_add(report.calls);
        self.errors = self.errors.saturating_add(report.errors);
        self.timeouts = self.timeouts.saturating_add(report.timeouts);
        self.limit_hits = self.limit_hits.saturating_add(report.limit_hits);
        for (sum, n) in self.latency.iter_mut().zip(&report.latency) {
            *sum = sum.saturating_add(*n);
        }
        for (sum, n) in self.memory.iter_mut().zip(&report.memory) {
            *sum = sum.saturating_add(*n);
        }
    }

    /// The latency within which a fraction `quantile` of the calls ended,
    /// as the upper bound of the bucket that reaches it (None without
    /// calls, or when it lies in the open-ended last bucket).
    pub fn latency_us(&self, quantile: f64) -> Option<u64> {
        bucket_quantile(&self.latency, &LATENCY_BUCKETS_US, quantile)
    }

    /// Calls whose record said how much memory the tool held.
    pub fn memory_measured(&self) -> u64 {
        self.memory.iter().fold(0, |sum, n| sum.saturating_add(*n))
    }

    /// The memory within which a fraction `quantile` of the measured calls
    /// stayed, as the upper bound of the bucket that reaches it (None
    /// without measured calls, or in the open-ended last bucket).
    pub fn memory_bytes(&self, quantile: f64) -> Option<u64> {
        bucket_quantile(&self.memory, &MEMORY_BUCKETS_BYTES, quantile)
    }

    /// Calls that did not end well (errors, timeouts, limit hits), per
    /// call.
    pub fn failure_rate(&self) -> Option<f64> {
        let failed = self.errors + self.timeouts + self.limit_hits;
        (self.calls > 0).then(|| failed as f64 / self.calls as f64)
    }

    /// The usage-weighted mean of the ratings: Σ stars × weight / Σ weight,
    /// over the ratings whose accounts reported use (None when none did).
    pub fn weighted_rating(&self) -> Option<f64> {
        let (stars, weights) = self.ratings.iter().fold((0u64, 0u64), |(s, w), r| {
            (s + u64::from(r.stars) * r.weight, w + r.weight)
        });
        (weights > 0).then(|| stars as f64 / weights as f64)
    }

    /// What the revenue share's quality threshold reads: the ratings of
    /// accounts with reported use, at their weighted mean, and the calls
    /// with the ones that failed.
    pub fn quality(&self) -> QualityRecord {
        let counted = self.ratings.iter().filter(|r| r.weight > 0).count() as u64;
        let (stars, weights) = self.ratings.iter().fold((0u128, 0u128), |(s, w), r| {
            (
                s + u128::from(r.stars) * u128::from(r.weight),
                w + u128::from(r.weight),
            )
        });
        let rating_stars = (stars * u128::from(counted))
            .checked_div(weights)
            .map_or(0, |s| u64::try_from(s).unwrap_or(u64::MAX));
        QualityRecord {
            ratings: counted,
            rating_stars,
            calls: self.calls,
            failed_calls: self.errors + self.timeouts + self.limit_hits,
        }
    }
}

/// The upper bound of the bucket in which a fraction `quantile` of the
/// counted calls is reached.
fn bucket_quantile(counts: &[u64], bounds: &[u64], quantile: f64) -> Option<u64> {
    let total = counts.iter().fold(0u64, |sum, n| sum.saturating_add(*n));
    if total == 0 {
        return None;
    }
    let needed = ((total as f64) * quantile).ceil().max(1.0) as u64;
    let mut seen = 0u64;
    for (i, n) in counts.iter().enumerate() {
        seen = seen.saturating_add(*n);
        if seen >= needed {
            return bounds.get(i).copied();
        }
    }
    None
}

/// Refuses a rating outside 1 to 5 stars or a review that is too long.
pub(crate) fn check_rating(package: &str, stars: u8, review: &str) -> Result<(), MarketError> {
    let wrong = |reason: String| MarketError::InvalidRating {
        package: package.to_owned(),
        reason,
    };
    if !(1..=5).contains(&stars) {
        return Err(wrong(format!("{stars} stars: a rating is 1 to 5 stars")));
    }
    let chars = review.chars().count();
    if chars > MAX_REVIEW_CHARS {
        return Err(wrong(format!(
            "the review has {chars} characters, more than {MAX_REVIEW_CHARS}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn calls_land_in_their_latency_bucket_and_percentiles_read_them() {
        let mut report = UsageReport::new("a.b", "1.0.0");
        for _ in 0..90 {
            report.record(CallOutcome::Ok, 80);
        }
        for _ in 0..9 {
            report.record(CallOutcome::Error, 3_000);
        }
        report.record(CallOutcome::TimedOut, 60_000_000);
        report.check().unwrap();
        let mut metrics = VersionMetrics::empty("a.b", "1.0.0");
        metrics.add(&report);
        assert_eq!(metrics.latency_us(0.5), Some(100));
        assert_eq!(metrics.latency_us(0.95), Some(5_000));
        assert_eq!(metrics.latency_us(0.99), Some(5_000));
        assert_eq!(metrics.latency_us(1.0), None, "beyond the last bound");
        assert_eq!(metrics.failure_rate(), Some(0.1));
    }

    #[test]
    fn reports_that_do_not_add_up_are_refused() {
        let mut report = UsageReport::new("a.b", "1.0.0");
        report.record(CallOutcome::Ok, 10);
        report.calls = 2;
        let err = report.check().unwrap_err().to_string();
        assert!(
            err.contains("latency buckets count Some(1) calls, the report 2"),
            "{err}"
        );
        let mut report = UsageReport::new("a.b", "1.0.0");
        report.record(CallOutcome::Ok, 10);
        report.errors = 2;
        assert!(report.check().is_err());
        report.errors = u64::MAX;
        report.timeouts = 2;
        assert!(report.check().is_err());
        report.errors = 0;
        report.timeouts = 0;
        report.latency.pop();
        assert!(
            report
                .check()
                .unwrap_err()
                .to_string()
                .contains("16 buckets, not 17")
        );
    }

    #[test]
    fn measured_memory_lands_in_its_bucket_and_percentiles_read_it() {
        let mut report = UsageReport::new("a.b", "1.0.0");
        for bytes in [65_536, 65_536, 65_536, 200_000, 1 << 30] {
            report.record(CallOutcome::Ok, 80);
            report.record_memory(bytes);
        }
        // One call the log has no memory for.
        report.record(CallOutcome::Error, 80);
        report.check().unwrap();
        let mut metrics = VersionMetrics::empty("a.b", "1.0.0");
        metrics.add(&report);
        assert_eq!(metrics.memory_measured(), 5);
        assert_eq!(metrics.memory_bytes(0.5), Some(64 << 10));
        assert_eq!(metrics.memory_bytes(0.8), Some(256 << 10));
        assert_eq!(metrics.memory_bytes(1.0), None, "beyond the last bound");
        // A report from before memory was counted has no buckets.
        let old = UsageReport::new("a.b", "1.0.0");
        assert!(serde_json::to_value(&old).unwrap().get("memory").is_none());
        metrics.add(&old);
        assert_eq!(metrics.memory_measured(), 5);

        let mut wrong = report.clone();
        wrong.memory.pop();
        assert!(
            wrong
                .check()
                .unwrap_err()
                .to_string()
                .contains("12 buckets, not 13")
        );
        let mut wrong = report;
        wrong.memory[0] += 2;
        assert!(
            wrong
                .check()
                .unwrap_err()
                .to_string()
                .contains("more than the report's 6"),
            "more measured calls than calls"
        );
    }

    #[test]
    fn ratings_weigh_by_use_and_unused_ones_do_not_count() {
        assert_eq!(
            [0, 1, 2, 3, 1_000, 1 << 20].map(usage_weight),
            [0, 1, 2, 2, 10, 21]
        );
        let mut metrics = VersionMetrics::empty("a.b", "1.0.0");
        let rating = |stars, calls| Rating {
            account: format!("u{calls}"),
            stars,
            review: String::new(),
            at: 0,
            calls,
            weight: usage_weight(calls),
        };
        metrics.ratings = vec![rating(5, 1_000), rating(1, 1), rating(1, 0)];
        let mean = metrics.weighted_rating().unwrap();
        assert!((mean - 51.0 / 11.0).abs() < 1e-9, "{mean}");
        let quality = metrics.quality();
        assert_eq!((quality.ratings, quality.rating_stars), (2, 9));
    }

    #[test]
    fn a_rating_is_one_to_five_stars() {
        assert!(check_rating("a@1", 0, "").is_err());
        assert!(check_rating("a@1", 6, "").is_err());
        assert!(check_rating("a@1", 5, &"x".repeat(MAX_REVIEW_CHARS + 1)).is_err());
        check_rating("a@1", 3, "fine").unwrap();
    }

    proptest! {
        #[test]
        fn any_recorded_calls_make_a_report_that_checks(
            calls in proptest::collection::vec((0u8..4, 0u64..20_000_000), 0..200)
        ) {
            let mut report = UsageReport::new("a.b", "1.0.0");
            for (outcome, elapsed) in &calls {
                let outcome = [CallOutcome::Ok, CallOutcome::Error, CallOutcome::TimedOut,
                    CallOutcome::LimitHit][usize::from(*outcome)];
                report.record(outcome, *elapsed);
            }
            prop_assert!(report.check().is_ok());
            prop_assert_eq!(report.calls, calls.len() as u64);
            let mut metrics = VersionMetrics::empty("a.b", "1.0.0");
            metrics.add(&report);
            // Percentiles never go down as the quantile goes up.
            let p50 = metrics.latency_us(0.5).unwrap_or(u64::MAX);
            let p99 = metrics.latency_us(0.99).unwrap_or(u64::MAX);
            prop_assert!(p50 <= p99);
        }
    }
}
