-- Reviews: approvals of one exact request that a guardrail held (DESIGN.md, invariant 4).
CREATE TABLE reviews (
    id TEXT PRIMARY KEY,
    principal_key TEXT NOT NULL,
    principal TEXT NOT NULL,          -- JSON Actor
    identities TEXT NOT NULL,         -- JSON array, for the self-approval rule
    connection TEXT NOT NULL,
    grant_id TEXT,
    level TEXT NOT NULL,
    binding TEXT NOT NULL,            -- rb1:… digest of method, canonical target, api-version, body hash
    method TEXT NOT NULL,
    target TEXT NOT NULL,
    api_version TEXT,
    body_sha256 TEXT,
    rule TEXT,
    action TEXT,
    resource TEXT,
    summary TEXT NOT NULL,
    state TEXT NOT NULL,              -- pending | approved | denied | used | expired
    version INTEGER NOT NULL,
    created_ms INTEGER NOT NULL,
    expires_ms INTEGER NOT NULL,      -- pending: decision deadline; approved: use deadline
    decision TEXT,                    -- JSON Decision
    used_ms INTEGER,
    used_by_request TEXT
) STRICT;
CREATE INDEX reviews_binding ON reviews (principal_key, binding, created_ms);
CREATE INDEX reviews_state ON reviews (state, expires_ms);
