//! Submissions and their review: the path of a package version from its
//! upload to publication. A submission that passes the automated security
//! scan waits for community review; it is published when it has the
//! approvals [`ReviewRules`] asks for of each kind, and rejected by any
//! rejecting verdict. Who may give which verdict is the policy layer's
//! decision (the market server asks it); that nobody reviews a package of
//! their own, or of a publisher they are linked to, or with a reputation
//! below [`ReviewRules::min_reputation`], the store enforces.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::package::SignedPackage;

/// What a reviewer vouches for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewKind {
    /// The code and its capabilities are safe to run.
    Security,
    /// The tool does what its description and examples say, well.
    Quality,
}

/// A reviewer's verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Publish it (once the other approvals are in).
    Approve,
    /// Do not publish it.
    Reject,
}

/// Where a submission stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubmissionState {
    /// Passed the scan; waiting for reviews.
    InReview,
    /// Failed the scan or was rejected by a reviewer.
    Rejected,
    /// Approved and published as a version.
    Published,
}

/// How many approvals of each kind publish a submission (each at least 1),
/// and the reputation a reviewer needs to give a verdict at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRules {
    /// Security approvals needed.
    pub security: u32,
    /// Quality approvals needed.
    pub quality: u32,
    /// The least [reputation](crate::finding) a reviewer needs for a
    /// verdict. At the default, 0, a reviewer starts able to review and
    /// loses it once approvals of vulnerable versions outweigh the verdicts
    /// that held; confirmed findings it reports earn it back.
    pub min_reputation: i64,
}

impl Default for ReviewRules {
    /// One security and one quality approval, from reviewers whose
    /// reputation is not below 0.
    fn default() -> Self {
        ReviewRules {
            security: 1,
            quality: 1,
            min_reputation: 0,
        }
    }
}

impl ReviewRules {
    /// The approvals `kind` needs.
    pub fn needed(&self, kind: ReviewKind) -> u32 {
        match kind {
            ReviewKind::Security => self.security.max(1),
            ReviewKind::Quality => self.quality.max(1),
        }
    }
}

/// One reviewer's verdict on a submission.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// The reviewer's account.
    pub reviewer: String,
    /// What it vouches for.
    pub kind: ReviewKind,
    /// The verdict.
    pub verdict: Verdict,
    /// What the reviewer wrote.
    pub note: String,
    /// When, in seconds since 1970.
    pub at: i64,
}

/// A package version submitted to the market, with its scan and reviews.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// Its number, given by the store.
    pub id: i64,
    /// The signed name, version and digest.
    pub package: SignedPackage,
    /// The plugin's manifest.
    pub manifest: serde_json::Value,
    /// Where it stands.
    pub state: SubmissionState,
    /// Why it was rejected, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The security scan's score, out of 100.
    pub score: u32,
    /// The security scan's report.
    pub scan: serde_json::Value,
    /// When it was submitted, in seconds since 1970.
    pub submitted_at: i64,
    /// When it was published or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    /// Its reviews, oldest first.
    pub reviews: Vec<Review>,
}

impl Submission {
    /// The approvals of `kind` it has.
    pub fn approvals(&self, kind: ReviewKind) -> u32 {
        self.reviews
            .iter()
            .filter(|r| r.kind == kind && r.verdict == Verdict::Approve)
            .count() as u32
    }
}

/// The roles an account can hold; the policy decides what each may do.
pub const ROLES: [&str; 5] = [
    "publisher",
    "security-reviewer",
    "quality-reviewer",
    "user",
    "admin",
];

/// A market account: who a token belongs to and what roles it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketAccount {
    /// Its id (for a publisher, the publisher id).
    pub id: String,
    /// Its roles, from [`ROLES`].
    pub roles: Vec<String>,
}

macro_rules! text_form {
    ($type:ty, $($variant:path => $text:literal),+) => {
        impl $type {
            /// Its name, as stored and in the API.
            pub fn as_str(&self) -> &'static str {
                match self { $($variant => $text),+ }
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $type {
            type Err = String;

            fn from_str(text: &str) -> Result<Self, String> {
                match text {
                    $($text => Ok($variant),)+
                    _ => Err(format!(
                        "`{text}` is not one of {}",
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

pub(crate) use text_form;

text_form!(ReviewKind, ReviewKind::Security => "security", ReviewKind::Quality => "quality");
text_form!(Verdict, Verdict::Approve => "approve", Verdict::Reject => "reject");
text_form!(
    SubmissionState,
    SubmissionState::InReview => "in_review",
    SubmissionState::Rejected => "rejected",
    SubmissionState::Published => "published"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_unknown_ones_are_refused() {
        for state in [
            SubmissionState::InReview,
            SubmissionState::Rejected,
            SubmissionState::Published,
        ] {
            assert_eq!(state.as_str().parse::<SubmissionState>(), Ok(state));
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::json!(state.as_str())
            );
        }
        assert_eq!(
            "maybe".parse::<Verdict>(),
            Err("`maybe` is not one of approve, reject".to_owned())
        );
    }

    #[test]
    fn rules_need_at_least_one_approval_of_each_kind() {
        let rules = ReviewRules {
            security: 0,
            quality: 3,
            ..ReviewRules::default()
        };
        assert_eq!(rules.needed(ReviewKind::Security), 1);
        assert_eq!(rules.needed(ReviewKind::Quality), 3);
    }
}
