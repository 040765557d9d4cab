-- Security findings against published versions. Portable SQL, as in 0001.

-- One row: the last finding's number, taken as the ledger's head is.
CREATE TABLE finding_head (
    id BIGINT PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO finding_head (id, seq) VALUES (1, 0);

CREATE TABLE findings (
    id BIGINT PRIMARY KEY,
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    reporter TEXT NOT NULL REFERENCES accounts (id),
    -- low, medium, high or critical
    severity TEXT NOT NULL,
    title TEXT NOT NULL,
    detail TEXT NOT NULL,
    -- reported, confirmed or dismissed; set once from reported
    state TEXT NOT NULL,
    -- The reporter's bonus in minor units, paid in the same transaction.
    bonus BIGINT NOT NULL,
    -- 1 when the decision yanked the version
    yanked BIGINT NOT NULL,
    note TEXT NOT NULL,
    reported_at BIGINT NOT NULL,
    decided_at BIGINT,
    decided_by TEXT REFERENCES accounts (id),
    FOREIGN KEY (name, version) REFERENCES package_versions (name, version)
);
CREATE INDEX findings_by_version ON findings (name, version, state);
CREATE INDEX findings_by_state ON findings (state, id);
CREATE INDEX findings_by_reporter ON findings (reporter, state);
