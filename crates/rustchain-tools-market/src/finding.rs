//! Security findings against published versions, and the reputation that
//! reviewers earn or lose by them.
//!
//! An account with the `user` or `security-reviewer` role reports a
//! finding against a published version ([`NewFinding`]); a version's
//! publisher, and accounts linked to it, may not (a publisher yanks its own
//! versions). A report is seen only by its reporter, the publisher and the
//! market's reviewers until an admin decides it ([`Decision`]): a
//! confirmed finding may pay its reporter a bonus from the review pool (a
//! `review_bonus` entry in the ledger, kept in the same database
//! transaction as the decision) and may yank the version, and it enters
//! the version's public vulnerability history. Nobody decides a finding
//! they reported or one against a package of their own.
//!
//! **Reputation** is counted from every verdict a reviewer gave
//! ([`verdict_held`]) and the findings they reported:
//!
//! | what | points |
//! | --- | --- |
//! | a verdict that held | +[`HELD_POINTS`] |
//! | an approval of a version with a confirmed finding | −[`OVERTURNED_POINTS`] |
//! | a confirmed finding reported | +[`FINDING_POINTS`] |
//!
//! An approval holds when the version was published and has no confirmed
//! finding; a rejection holds when the submission was rejected, or when
//! the version was published anyway and a finding against it was
//! confirmed. Other verdicts (an approval outvoted by a rejection, a
//! rejection of a version that stayed clean, a verdict on a submission
//! still in review) count nothing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::MarketError;
use crate::ledger::MAX_AMOUNT;
use crate::review::{SubmissionState, Verdict, text_form};

/// Points for a verdict that held.
pub const HELD_POINTS: i64 = 1;

/// Points lost for approving a version that has a confirmed finding: one
/// missed vulnerability outweighs several routine verdicts.
pub const OVERTURNED_POINTS: i64 = 5;

/// Points for reporting a finding that was confirmed.
pub const FINDING_POINTS: i64 = 3;

/// The longest title of a finding, in characters.
pub const MAX_TITLE_CHARS: usize = 200;

/// The longest detail of a finding or note on a decision, in bytes.
pub const MAX_DETAIL_BYTES: usize = 20_000;

/// How bad a finding is, as its reporter sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Little harm, hard to reach.
    Low,
    /// Harm within what the plugin was granted.
    Medium,
    /// Escapes what the plugin was granted, or leaks data.
    High,
    /// Easy to exploit and severe.
    Critical,
}

/// Where a finding stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// Reported, not yet decided.
    Reported,
    /// Confirmed by an admin: part of the version's public history.
    Confirmed,
    /// Not a vulnerability, as an admin decided.
    Dismissed,
}

/// An admin's verdict on a finding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingVerdict {
    /// It is a vulnerability.
    Confirm,
    /// It is not.
    Dismiss,
}

text_form!(
    Severity,
    Severity::Low => "low",
    Severity::Medium => "medium",
    Severity::High => "high",
    Severity::Critical => "critical"
);
text_form!(
    FindingState,
    FindingState::Reported => "reported",
    FindingState::Confirmed => "confirmed",
    FindingState::Dismissed => "dismissed"
);
text_form!(
    FindingVerdict,
    FindingVerdict::Confirm => "confirm",
    FindingVerdict::Dismiss => "dismiss"
);

/// A finding as its reporter sends it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewFinding {
    /// How bad it is.
    pub severity: Severity,
    /// One line: what is wrong.
    pub title: String,
    /// How to reproduce it and what it allows.
    #[serde(default)]
    pub detail: String,
}

impl NewFinding {
    /// Refuses an empty or too long title and a too long detail.
    pub fn check(&self, package: &str) -> Result<(), MarketError> {
        let bad = |reason: String| MarketError::InvalidFinding {
            package: package.to_owned(),
            reason,
        };
        let chars = self.title.trim().chars().count();
        if chars == 0 {
            return Err(bad("give it a title: one line on what is wrong".to_owned()));
        }
        if chars > MAX_TITLE_CHARS {
            return Err(bad(format!(
                "the title has {chars} characters; at most {MAX_TITLE_CHARS}"
            )));
        }
        if self.title.contains(['\n', '\r']) {
            return Err(bad("the title is one line".to_owned()));
        }
        check_text(&self.detail, "detail").map_err(bad)
    }
}

/// An admin's decision on a finding.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decision {
    /// Confirm or dismiss.
    pub verdict: FindingVerdict,
    /// The reporter's bonus from the review pool, in minor units (only for
    /// a confirmed finding; at most the pool's balance).
    #[serde(default)]
    pub bonus: i64,
    /// Yank the version (only for a confirmed finding).
    #[serde(default)]
    pub yank: bool,
    /// Why, for the reporter and the publisher.
    #[serde(default)]
    pub note: String,
}

impl Decision {
    /// Refuses a negative or too large bonus, and a bonus or yank on a
    /// dismissal.
    pub fn check(&self, package: &str) -> Result<(), MarketError> {
        let bad = |reason: String| MarketError::InvalidFinding {
            package: package.to_owned(),
            reason,
        };
        if !(0..=MAX_AMOUNT).contains(&self.bonus) {
            return Err(bad(format!(
                "a bonus of {} is outside 0..={MAX_AMOUNT} minor units",
                self.bonus
            )));
        }
        if self.verdict == FindingVerdict::Dismiss && (self.bonus > 0 || self.yank) {
            return Err(bad(
                "a dismissed finding pays no bonus and yanks nothing".to_owned()
            ));
        }
        check_text(&self.note, "note").map_err(bad)
    }
}

fn check_text(text: &str, what: &str) -> Result<(), String> {
    if text.len() > MAX_DETAIL_BYTES {
        return Err(format!(
            "the {what} has {} bytes; at most {MAX_DETAIL_BYTES}",
            text.len()
        ));
    }
    Ok(())
}

/// A finding against a published version, as the store keeps it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// Its number, given by the store.
    pub id: i64,
    /// The package.
    pub name: String,
    /// The version.
    pub version: String,
    /// The package's publisher.
    pub publisher: String,
    /// Who reported it.
    pub reporter: String,
    /// How bad it is.
    pub severity: Severity,
    /// One line: what is wrong.
    pub title: String,
    /// How to reproduce it and what it allows.
    pub detail: String,
    /// Where it stands.
    pub state: FindingState,
    /// The bonus paid to its reporter, in minor units.
    pub bonus: i64,
    /// Whether the decision yanked the version.
    pub yanked: bool,
    /// The decision's note.
    pub note: String,
    /// When it was reported, in seconds since 1970.
    pub reported_at: i64,
    /// When it was decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// Who decided it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
}

impl Finding {
    /// `name@version`.
    pub fn package(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    /// The ledger transaction id of its bonus: one per finding, so a
    /// bonus is never paid twice.
    pub fn bonus_transaction(id: i64) -> String {
        format!("finding-{id}")
    }
}

/// Whether a verdict held, by the rules in the [module docs](self):
/// `Some(true)` held, `Some(false)` overturned, `None` counts nothing.
pub fn verdict_held(verdict: Verdict, outcome: SubmissionState, vulnerable: bool) -> Option<bool> {
    match (verdict, outcome) {
        (Verdict::Approve, SubmissionState::Published) => Some(!vulnerable),
        (Verdict::Reject, SubmissionState::Rejected) => Some(true),
        (Verdict::Reject, SubmissionState::Published) if vulnerable => Some(true),
        _ => None,
    }
}

/// A reviewer's reputation and what it is made of.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reputation {
    /// The account.
    pub account: String,
    /// Verdicts that held.
    pub held: u64,
    /// Approvals of versions that have a confirmed finding.
    pub overturned: u64,
    /// Findings it reported that were confirmed.
    pub confirmed_findings: u64,
    /// `held × HELD_POINTS + confirmed_findings × FINDING_POINTS −
    /// overturned × OVERTURNED_POINTS`.
    pub score: i64,
}

impl Reputation {
    /// No verdicts and no findings yet.
    pub fn new(account: &str) -> Reputation {
        Reputation {
            account: account.to_owned(),
            ..Reputation::default()
        }
    }

    /// Counts one verdict by [`verdict_held`].
    pub fn add_verdict(&mut self, verdict: Verdict, outcome: SubmissionState, vulnerable: bool) {
        match verdict_held(verdict, outcome, vulnerable) {
            Some(true) => self.held += 1,
            Some(false) => self.overturned += 1,
            None => {}
        }
        self.rescore();
    }

    /// Counts `n` confirmed findings reported.
    pub fn add_findings(&mut self, n: u64) {
        self.confirmed_findings += n;
        self.rescore();
    }

    fn rescore(&mut self) {
        let points = |n: u64, each: i64| i64::try_from(n).unwrap_or(i64::MAX).saturating_mul(each);
        self.score = points(self.held, HELD_POINTS)
            .saturating_add(points(self.confirmed_findings, FINDING_POINTS))
            .saturating_sub(points(self.overturned, OVERTURNED_POINTS));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_hold_or_are_overturned_by_the_rules() {
        use SubmissionState::*;
        use Verdict::*;
        assert_eq!(verdict_held(Approve, Published, false), Some(true));
        assert_eq!(verdict_held(Approve, Published, true), Some(false));
        assert_eq!(verdict_held(Reject, Rejected, false), Some(true));
        assert_eq!(verdict_held(Reject, Published, true), Some(true));
        assert_eq!(verdict_held(Reject, Published, false), None);
        assert_eq!(verdict_held(Approve, Rejected, false), None);
        assert_eq!(verdict_held(Approve, InReview, false), None);
    }

    #[test]
    fn one_missed_vulnerability_outweighs_routine_verdicts() {
        let mut r = Reputation::new("sec1");
        for _ in 0..3 {
            r.add_verdict(Verdict::Approve, SubmissionState::Published, false);
        }
        assert_eq!(r.score, 3);
        r.add_verdict(Verdict::Approve, SubmissionState::Published, true);
        assert_eq!((r.held, r.overturned, r.score), (3, 1, -2));
        r.add_findings(2);
        assert_eq!(r.score, 4);
    }

    #[test]
    fn reports_and_decisions_are_checked() {
        let finding = |title: &str, detail: &str| NewFinding {
            severity: Severity::High,
            title: title.to_owned(),
            detail: detail.to_owned(),
        };
        assert!(
            finding("reads outside its directory", "")
                .check("p@1")
                .is_ok()
        );
        for (bad, why) in [
            (finding("  ", ""), "give it a title"),
            (finding(&"x".repeat(201), ""), "201 characters"),
            (finding("a\nb", ""), "one line"),
            (finding("t", &"d".repeat(20_001)), "20001 bytes"),
        ] {
            let err = bad.check("p@1").unwrap_err().to_string();
            assert!(err.contains(why) && err.contains("p@1"), "{err}");
        }
        let decision = |verdict, bonus, yank| Decision {
            verdict,
            bonus,
            yank,
            note: String::new(),
        };
        assert!(
            decision(FindingVerdict::Confirm, 500, true)
                .check("p@1")
                .is_ok()
        );
        for bad in [
            decision(FindingVerdict::Confirm, -1, false),
            decision(FindingVerdict::Dismiss, 1, false),
            decision(FindingVerdict::Dismiss, 0, true),
        ] {
            assert!(bad.check("p@1").is_err(), "{bad:?}");
        }
        assert_eq!("critical".parse::<Severity>(), Ok(Severity::Critical));
        assert!("urgent".parse::<Severity>().is_err());
    }
}
