//! Accounts, submissions and reviews in the store. A review runs in one
//! database transaction that first touches its submission's row, so two
//! verdicts on one submission are serialized on both engines and the one
//! that completes the approvals publishes the version exactly once.

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{MarketStore, check_name_version, insert_version, now, store_error, version};
use crate::MarketError;
use crate::package::{PackageFile, SignedPackage};
use crate::review::{
    MarketAccount, ROLES, Review, ReviewKind, ReviewRules, Submission, SubmissionState, Verdict,
};

/// What a submission carries besides its package: the scan's outcome.
#[derive(Clone, Debug)]
pub struct ScanOutcome {
    /// Whether the scan passed.
    pub passed: bool,
    /// Its score, out of 100.
    pub score: u32,
    /// Its report, as JSON.
    pub report: serde_json::Value,
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn check_account(account: &MarketAccount) -> Result<(), MarketError> {
    let bad = |reason: String| MarketError::InvalidMarketAccount {
        id: account.id.clone(),
        reason,
    };
    let id = &account.id;
    if id.is_empty()
        || id.len() > 64
        || !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(bad(
            "an id is 1 to 64 ASCII letters, digits, `_`, `-` or `.`".to_owned(),
        ));
    }
    if account.roles.is_empty() {
        return Err(bad(format!("give it a role: {}", ROLES.join(", "))));
    }
    if let Some(role) = account.roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(bad(format!(
            "`{role}` is not a role; the roles are {}",
            ROLES.join(", ")
        )));
    }
    Ok(())
}

const SUBMISSION_COLUMNS: &str = "SELECT s.id, s.name, s.version, s.publisher, s.digest, \
     s.key_id, s.signature, s.manifest, s.state, s.reason, s.score, s.scan, s.submitted_at, \
     s.decided_at FROM submissions s";

impl MarketStore {
    /// Adds an account with `roles` and returns its API token, which is
    /// shown only now (the store keeps its SHA-256). An account with the
    /// `publisher` role is also the publisher of that id.
    pub async fn add_account(&self, account: &MarketAccount) -> Result<String, MarketError> {
        check_account(account)?;
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|e| MarketError::InvalidMarketAccount {
            id: account.id.clone(),
            reason: format!("no randomness for its token: {e}"),
        })?;
        let token = format!("rct_{}", hex::encode(secret));
        let roles = serde_json::to_string(&account.roles).unwrap_or_default();
        let mut db = self.begin_write().await?;
        let done = sqlx::query(
            "INSERT INTO accounts (id, roles, token_sha256, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&account.id)
        .bind(&roles)
        .bind(token_digest(&token))
        .bind(now())
        .execute(&mut *db)
        .await
        .map_err(store_error("add an account"))?;
        if done.rows_affected() == 0 {
            return Err(MarketError::InvalidMarketAccount {
                id: account.id.clone(),
                reason: "an account of that id exists".to_owned(),
            });
        }
        if account.roles.iter().any(|r| r == "publisher") {
            sqlx::query(
                "INSERT INTO publishers (id, display_name, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO NOTHING",
            )
            .bind(&account.id)
            .bind(&account.id)
            .bind(now())
            .execute(&mut *db)
            .await
            .map_err(store_error("add a publisher"))?;
        }
        db.commit().await.map_err(store_error("commit"))?;
        Ok(token)
    }

    /// Whether any account exists (a fresh market has none).
    pub async fn has_accounts(&self) -> Result<bool, MarketError> {
        let row = sqlx::query("SELECT id FROM accounts LIMIT 1")
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error("read the accounts"))?;
        Ok(row.is_some())
    }

    /// The account an API token belongs to, if any.
    pub async fn account_for_token(
        &self,
        token: &str,
    ) -> Result<Option<MarketAccount>, MarketError> {
        let row = sqlx::query("SELECT id, roles FROM accounts WHERE token_sha256 = $1")
            .bind(token_digest(token))
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error("read an account"))?;
        let Some(row) = row else { return Ok(None) };
        let read = store_error("read an account");
        let id: String = row.try_get(0).map_err(read)?;
        let roles: String = row.try_get(1).map_err(store_error("read an account"))?;
        let roles = serde_json::from_str(&roles).map_err(|_| MarketError::Damaged {
            detail: format!("account {id} has damaged roles"),
        })?;
        Ok(Some(MarketAccount { id, roles }))
    }

    /// Links `account` to `publisher`: it may no longer review that
    /// publisher's packages.
    pub async fn link_account(&self, account: &str, publisher: &str) -> Result<(), MarketError> {
        let mut db = self.begin_write().await?;
        super::require_publisher(&mut db, publisher).await?;
        require_account(&mut db, account).await?;
        sqlx::query(
            "INSERT INTO account_links (account, publisher) VALUES ($1, $2) \
             ON CONFLICT (account, publisher) DO NOTHING",
        )
        .bind(account)
        .bind(publisher)
        .execute(&mut *db)
        .await
        .map_err(store_error("link an account"))?;
        db.commit().await.map_err(store_error("commit"))
    }

    /// Submits a package version with the outcome of its security scan.
    /// The signature must verify against the publisher's registered keys
    /// and the files against its digest, and the version must be one that
    /// could be published (its name free or the publisher's, its number
    /// not taken by other contents). A failed scan rejects it at once; a
    /// passed one puts it in review. Submitting the same package again
    /// while it is in review returns that submission.
    pub async fn submit(
        &self,
        package: &SignedPackage,
        manifest: &serde_json::Value,
        files: &[PackageFile],
        scan: &ScanOutcome,
    ) -> Result<Submission, MarketError> {
        check_name_version(package, manifest)?;
        let keys = self.keys(&package.publisher).await?;
        package.verify(&keys, Some(files))?;
        let mut db = self.begin_write().await?;
        let id: i64 =
            sqlx::query("UPDATE submission_head SET seq = seq + 1 WHERE id = 1 RETURNING seq")
                .fetch_one(&mut *db)
                .await
                .map_err(store_error("number a submission"))?
                .try_get(0)
                .map_err(store_error("number a submission"))?;
        let owner: Option<String> = sqlx::query("SELECT publisher FROM packages WHERE name = $1")
            .bind(&package.name)
            .fetch_optional(&mut *db)
            .await
            .map_err(store_error("read a package"))?
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(store_error("read a package"))?;
        if let Some(owner) = owner.filter(|o| *o != package.publisher) {
            return Err(MarketError::NameTaken {
                name: package.name.clone(),
                publisher: owner,
            });
        }
        if let Some(existing) = version(&mut db, &package.name, &package.version).await? {
            return Err(MarketError::VersionExists {
                name: package.name.clone(),
                version: package.version.clone(),
                digest: existing.package.digest.to_string(),
            });
        }
        let pending = sqlx::query(&format!(
            "{SUBMISSION_COLUMNS} WHERE s.name = $1 AND s.version = $2 AND s.digest = $3 \
             AND s.state = 'in_review'"
        ))
        .bind(&package.name)
        .bind(&package.version)
        .bind(package.digest.to_string())
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a submission"))?;
        if let Some(row) = pending {
            let mut submission = submission_row(&row)?;
            submission.reviews = reviews(&mut db, submission.id).await?;
            return Ok(submission);
        }
        let (state, reason, decided_at) = if scan.passed {
            (SubmissionState::InReview, None, None)
        } else {
            (
                SubmissionState::Rejected,
                Some(format!(
                    "the security scan did not pass (score {} of 100)",
                    scan.score
                )),
                Some(now()),
            )
        };
        sqlx::query(
            "INSERT INTO submissions (id, name, version, publisher, digest, key_id, signature, \
             manifest, state, reason, score, scan, submitted_at, decided_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(id)
        .bind(&package.name)
        .bind(&package.version)
        .bind(&package.publisher)
        .bind(package.digest.to_string())
        .bind(&package.key_id)
        .bind(&package.signature)
        .bind(manifest.to_string())
        .bind(state.as_str())
        .bind(reason)
        .bind(i64::from(scan.score))
        .bind(scan.report.to_string())
        .bind(now())
        .bind(decided_at)
        .execute(&mut *db)
        .await
        .map_err(store_error("add a submission"))?;
        db.commit().await.map_err(store_error("commit"))?;
        self.submission(id).await
    }

    /// One submission with its reviews.
    pub async fn submission(&self, id: i64) -> Result<Submission, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        submission(&mut db, id).await
    }

    /// The submissions in `state` (all when `None`) of `publisher` (every
    /// publisher's when `None`), oldest first: the review queue is
    /// `submissions(Some(SubmissionState::InReview), None)`.
    pub async fn submissions(
        &self,
        state: Option<SubmissionState>,
        publisher: Option<&str>,
    ) -> Result<Vec<Submission>, MarketError> {
        let mut db = self.pool.acquire().await.map_err(store_error("connect"))?;
        let rows = sqlx::query(&format!(
            "{SUBMISSION_COLUMNS} WHERE ($1 = '' OR s.state = $1) AND ($2 = '' OR s.publisher = $2) \
             ORDER BY s.id"
        ))
        .bind(state.map_or("", |s| s.as_str()))
        .bind(publisher.unwrap_or(""))
        .fetch_all(&mut *db)
        .await
        .map_err(store_error("read the submissions"))?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut submission = submission_row(row)?;
            submission.reviews = reviews(&mut db, submission.id).await?;
            out.push(submission);
        }
        Ok(out)
    }

    /// Records `reviewer`'s verdict of `kind` on submission `id`. A
    /// rejection rejects it; the approval that completes what `rules` asks
    /// for publishes it as a version. The store refuses a reviewer who is
    /// its publisher or linked to it, a second verdict of the same kind by
    /// the same reviewer, a reviewer whose reputation is below
    /// `rules.min_reputation`, and a submission no longer in review; whether the
    /// reviewer holds the role for `kind` is the caller's policy decision.
    pub async fn review(
        &self,
        id: i64,
        reviewer: &str,
        kind: ReviewKind,
        verdict: Verdict,
        note: &str,
        rules: &ReviewRules,
    ) -> Result<Submission, MarketError> {
        let mut db = self.begin_write().await?;
        let touched = sqlx::query("UPDATE submissions SET state = state WHERE id = $1")
            .bind(id)
            .execute(&mut *db)
            .await
            .map_err(store_error("take a submission"))?;
        if touched.rows_affected() == 0 {
            return Err(MarketError::UnknownSubmission { id });
        }
        require_account(&mut db, reviewer).await?;
        let mut current = submission(&mut db, id).await?;
        if current.state != SubmissionState::InReview {
            return Err(MarketError::SubmissionClosed {
                id,
                state: current.state,
            });
        }
        let publisher = current.package.publisher.clone();
        let conflict = |why| MarketError::ConflictOfInterest {
            id,
            reviewer: reviewer.to_owned(),
            publisher: publisher.clone(),
            why,
        };
        if reviewer == publisher {
            return Err(conflict("its own package"));
        }
        if linked(&mut db, reviewer, &publisher).await? {
            return Err(conflict("a publisher it is linked to"));
        }
        if current
            .reviews
            .iter()
            .any(|r| r.reviewer == reviewer && r.kind == kind)
        {
            return Err(MarketError::AlreadyReviewed {
                id,
                reviewer: reviewer.to_owned(),
                kind,
            });
        }
        let reputation = super::findings::reputation(&mut db, reviewer).await?.score;
        if reputation < rules.min_reputation {
            return Err(MarketError::ReputationTooLow {
                id,
                reviewer: reviewer.to_owned(),
                reputation,
                needed: rules.min_reputation,
            });
        }
        let at = now();
        sqlx::query(
            "INSERT INTO reviews (submission, reviewer, kind, verdict, note, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(reviewer)
        .bind(kind.as_str())
        .bind(verdict.as_str())
        .bind(note)
        .bind(at)
        .execute(&mut *db)
        .await
        .map_err(store_error("add a review"))?;
        current.reviews.push(Review {
            reviewer: reviewer.to_owned(),
            kind,
            verdict,
            note: note.to_owned(),
            at,
        });
        let decided = if verdict == Verdict::Reject {
            Some((
                SubmissionState::Rejected,
                Some(format!("rejected in {kind} review by {reviewer}: {note}")),
            ))
        } else if [ReviewKind::Security, ReviewKind::Quality]
            .into_iter()
            .all(|k| current.approvals(k) >= rules.needed(k))
        {
            insert_version(&mut db, &current.package, &current.manifest).await?;
            Some((SubmissionState::Published, None))
        } else {
            None
        };
        if let Some((state, reason)) = decided {
            sqlx::query(
                "UPDATE submissions SET state = $1, reason = $2, decided_at = $3 WHERE id = $4",
            )
            .bind(state.as_str())
            .bind(reason)
            .bind(at)
            .bind(id)
            .execute(&mut *db)
            .await
            .map_err(store_error("decide a submission"))?;
        }
        db.commit().await.map_err(store_error("commit"))?;
        self.submission(id).await
    }

    /// The names of the packages with a published version, sorted.
    pub async fn package_names(&self) -> Result<Vec<String>, MarketError> {
        let rows = sqlx::query("SELECT DISTINCT name FROM package_versions ORDER BY name")
            .fetch_all(&self.pool)
            .await
            .map_err(store_error("read the packages"))?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(store_error("read the packages")))
            .collect()
    }
}

async fn require_account(db: &mut sqlx::AnyConnection, id: &str) -> Result<(), MarketError> {
    let found = sqlx::query("SELECT id FROM accounts WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read an account"))?;
    if found.is_none() {
        return Err(MarketError::InvalidMarketAccount {
            id: id.to_owned(),
            reason: "no such account".to_owned(),
        });
    }
    Ok(())
}

async fn submission(db: &mut sqlx::AnyConnection, id: i64) -> Result<Submission, MarketError> {
    let row = sqlx::query(&format!("{SUBMISSION_COLUMNS} WHERE s.id = $1"))
        .bind(id)
        .fetch_optional(&mut *db)
        .await
        .map_err(store_error("read a submission"))?
        .ok_or(MarketError::UnknownSubmission { id })?;
    let mut submission = submission_row(&row)?;
    submission.reviews = reviews(db, id).await?;
    Ok(submission)
}

async fn reviews(db: &mut sqlx::AnyConnection, id: i64) -> Result<Vec<Review>, MarketError> {
    let rows = sqlx::query(
        "SELECT reviewer, kind, verdict, note, at FROM reviews WHERE submission = $1 \
         ORDER BY at, reviewer, kind",
    )
    .bind(id)
    .fetch_all(&mut *db)
    .await
    .map_err(store_error("read the reviews"))?;
    rows.iter()
        .map(|row| {
            let read = |e| MarketError::Store {
                operation: "read the reviews",
                source: e,
            };
            let damaged = |what: &str| MarketError::Damaged {
                detail: format!("a review of submission {id} has a damaged {what}"),
            };
            Ok(Review {
                reviewer: row.try_get(0).map_err(read)?,
                kind: row
                    .try_get::<String, _>(1)
                    .map_err(read)?
                    .parse()
                    .map_err(|_| damaged("kind"))?,
                verdict: row
                    .try_get::<String, _>(2)
                    .map_err(read)?
                    .parse()
                    .map_err(|_| damaged("verdict"))?,
                note: row.try_get(3).map_err(read)?,
                at: row.try_get(4).map_err(read)?,
            })
        })
        .collect()
}

fn submission_row(row: &AnyRow) -> Result<Submission, MarketError> {
    let read = |e| MarketError::Store {
        operation: "read a submission",
        source: e,
    };
    let id: i64 = row.try_get(0).map_err(read)?;
    let damaged = |what: &str| MarketError::Damaged {
        detail: format!("submission {id} has a damaged {what}"),
    };
    let text = |i: usize| row.try_get::<String, _>(i).map_err(read);
    Ok(Submission {
        id,
        package: SignedPackage {
            name: text(1)?,
            version: text(2)?,
            publisher: text(3)?,
            digest: text(4)?.parse().map_err(|_| damaged("digest"))?,
            key_id: text(5)?,
            signature: text(6)?,
        },
        manifest: serde_json::from_str(&text(7)?).map_err(|_| damaged("manifest"))?,
        state: text(8)?.parse().map_err(|_| damaged("state"))?,
        reason: row.try_get(9).map_err(read)?,
        score: u32::try_from(row.try_get::<i64, _>(10).map_err(read)?)
            .map_err(|_| damaged("score"))?,
        scan: serde_json::from_str(&text(11)?).map_err(|_| damaged("scan report"))?,
        submitted_at: row.try_get(12).map_err(read)?,
        decided_at: row.try_get(13).map_err(read)?,
        reviews: Vec::new(),
    })
}

/// Whether `account` is linked to `publisher` (and so may neither review
/// nor rate its packages).
pub(super) async fn linked(
    db: &mut sqlx::AnyConnection,
    account: &str,
    publisher: &str,
) -> Result<bool, MarketError> {
    let row = sqlx::query("SELECT 1 FROM account_links WHERE account = $1 AND publisher = $2")
        .bind(account)
        .bind(publisher)
        .fetch_optional(db)
        .await
        .map_err(store_error("read the account links"))?;
    Ok(row.is_some())
}
