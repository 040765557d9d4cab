-- Use reported from users' audit logs, and ratings. Portable SQL, as in 0001.

-- Each account's latest report per package version. A report counts the
-- account's whole audit log, so a new one replaces the last (and may not
-- count fewer calls).
CREATE TABLE usage_reports (
    account TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    calls BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    timeouts BIGINT NOT NULL,
    limit_hits BIGINT NOT NULL,
    -- Calls per latency bucket, as a JSON array.
    latency TEXT NOT NULL,
    -- The hash of the last audit record the report counted.
    log_head TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    PRIMARY KEY (account, name, version)
);

-- One rating per account and version; a new one replaces it.
CREATE TABLE ratings (
    account TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    stars BIGINT NOT NULL,
    review TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (account, name, version)
);
