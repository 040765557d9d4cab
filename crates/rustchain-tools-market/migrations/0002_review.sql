-- Accounts, submissions and their reviews. Portable SQL, as in 0001.

-- Who may use the market's API: an API token (kept as its SHA-256 only)
-- and roles (JSON array: publisher, security-reviewer, quality-reviewer,
-- user, admin) that the policy reads.
CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    roles TEXT NOT NULL,
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL
);

-- An account linked to a publisher (works for it, owns it): it may not
-- review that publisher's packages.
CREATE TABLE account_links (
    account TEXT NOT NULL REFERENCES accounts (id),
    publisher TEXT NOT NULL REFERENCES publishers (id),
    PRIMARY KEY (account, publisher)
);

-- One row: the last submission's number, taken as the ledger's head is.
CREATE TABLE submission_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO submission_head (id, seq) VALUES (1, 0);

CREATE TABLE submissions (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    publisher TEXT NOT NULL REFERENCES publishers (id),
    digest TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES publisher_keys (key_id),
    signature TEXT NOT NULL,
    manifest TEXT NOT NULL,
    -- in_review, rejected or published
    state TEXT NOT NULL,
    reason TEXT,
    score BIGINT NOT NULL,
    -- The security scan's report, as JSON.
    scan TEXT NOT NULL,
    submitted_at BIGINT NOT NULL,
    decided_at BIGINT
);
CREATE INDEX submissions_by_state ON submissions (state, id);

-- One verdict per reviewer and kind; never changed.
CREATE TABLE reviews (
    submission BIGINT NOT NULL REFERENCES submissions (id),
    reviewer TEXT NOT NULL REFERENCES accounts (id),
    kind TEXT NOT NULL,
    verdict TEXT NOT NULL,
    note TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (submission, reviewer, kind)
);
