-- The marketplace's schema, the same for SQLite and PostgreSQL: only
-- BIGINT and TEXT columns, no engine-specific types or functions.

-- One row: the last entry's sequence number. Every recording transaction
-- updates it first, which serializes writers on both engines.
CREATE TABLE ledger_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO ledger_head (id, seq) VALUES (1, 0);

CREATE TABLE ledger_entries (
    seq BIGINT PRIMARY KEY,
    txn_id TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    -- The transaction as JSON: a replay is compared with it.
    body TEXT NOT NULL,
    recorded_at BIGINT NOT NULL
);

CREATE TABLE ledger_postings (
    seq BIGINT NOT NULL REFERENCES ledger_entries (seq),
    position BIGINT NOT NULL,
    account TEXT NOT NULL,
    amount BIGINT NOT NULL,
    PRIMARY KEY (seq, position)
);
CREATE INDEX ledger_postings_by_account ON ledger_postings (account, seq);

CREATE TABLE ledger_balances (
    account TEXT PRIMARY KEY,
    balance BIGINT NOT NULL
);

CREATE TABLE ledger_sales (
    txn_id TEXT PRIMARY KEY REFERENCES ledger_entries (txn_id),
    customer TEXT NOT NULL,
    publisher TEXT NOT NULL,
    amount BIGINT NOT NULL,
    publisher_bps BIGINT NOT NULL,
    platform_bps BIGINT NOT NULL,
    review_bps BIGINT NOT NULL,
    refunded BIGINT NOT NULL
);

CREATE TABLE publishers (
    id TEXT PRIMARY KEY,
    display_name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE publisher_keys (
    key_id TEXT PRIMARY KEY,
    publisher TEXT NOT NULL REFERENCES publishers (id),
    public_key TEXT NOT NULL,
    added_at BIGINT NOT NULL
);

-- Who owns a package name: the publisher of its first version.
CREATE TABLE packages (
    name TEXT PRIMARY KEY,
    publisher TEXT NOT NULL REFERENCES publishers (id),
    created_at BIGINT NOT NULL
);

-- Versions are immutable: rows are inserted and yanked, never rewritten.
CREATE TABLE package_versions (
    name TEXT NOT NULL REFERENCES packages (name),
    version TEXT NOT NULL,
    digest TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES publisher_keys (key_id),
    signature TEXT NOT NULL,
    manifest TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    yanked_at BIGINT,
    yank_reason TEXT,
    PRIMARY KEY (name, version)
);
