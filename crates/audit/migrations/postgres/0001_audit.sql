-- The audit tables on PostgreSQL: the same columns and meaning as on SQLite (see
-- migrations/sqlite), with several streams (one per gateway) in one database.
CREATE TABLE audit_events (
    stream TEXT NOT NULL,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    kind TEXT NOT NULL,
    grant_id TEXT,
    principal TEXT,
    connection TEXT,
    status BIGINT,
    blob_bytes BIGINT NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
);
CREATE INDEX audit_events_grant ON audit_events (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX audit_events_at ON audit_events (at_us);

CREATE TABLE audit_checkpoints (
    stream TEXT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
);

CREATE TABLE audit_keys (
    stream TEXT NOT NULL,
    public_key TEXT NOT NULL,
    recorded_at_us BIGINT NOT NULL,
    PRIMARY KEY (stream, public_key)
);

CREATE TABLE audit_blobs (
    stream TEXT NOT NULL,
    hash TEXT NOT NULL,
    size BIGINT NOT NULL,
    content BYTEA NOT NULL,
    last_seq BIGINT NOT NULL,
    PRIMARY KEY (stream, hash)
);
