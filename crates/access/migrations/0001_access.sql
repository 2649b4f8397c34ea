CREATE TABLE access_requests (
    id TEXT PRIMARY KEY,
    principal_key TEXT NOT NULL,
    principal TEXT NOT NULL,          -- JSON Actor
    identities TEXT NOT NULL,         -- JSON array, for the self-approval rule
    connection TEXT NOT NULL,
    level TEXT NOT NULL,
    duration_secs INTEGER NOT NULL,
    reason TEXT NOT NULL,
    ticket TEXT,
    state TEXT NOT NULL,
    version INTEGER NOT NULL,
    required_approvals INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,      -- when a pending request expires
    decision TEXT,                    -- JSON Decision
    grant_id TEXT
) STRICT;
CREATE INDEX access_requests_state ON access_requests (state, expires_ms);
CREATE INDEX access_requests_principal ON access_requests (principal_key);
CREATE INDEX access_requests_connection ON access_requests (connection);

CREATE TABLE access_approvals (
    request_id TEXT NOT NULL REFERENCES access_requests (id),
    approver_key TEXT NOT NULL,
    approver TEXT NOT NULL,           -- JSON Actor
    identities TEXT NOT NULL,         -- JSON array: one person counts once
    groups TEXT NOT NULL,             -- JSON array, for distinct-group approvals
    comment TEXT,
    policies TEXT NOT NULL,           -- JSON array
    at_ms INTEGER NOT NULL,
    PRIMARY KEY (request_id, approver_key)
) STRICT;

CREATE TABLE grants (
    id TEXT PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES access_requests (id),
    principal_key TEXT NOT NULL,
    connection TEXT NOT NULL,
    level TEXT NOT NULL,
    state TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,
    revoked TEXT                      -- JSON Decision
) STRICT;
CREATE INDEX grants_state ON grants (state, expires_ms);

CREATE TABLE access_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    event TEXT NOT NULL
) STRICT;
