-- The hash-chained event log. One chain ("stream") per gateway id; `seq` starts at 1.
-- `kind`, `grant_id`, `principal`, `connection` and `status` are derived from `body` for
-- queries (`blob_bytes` sums the sizes of the bodies it refers to, for retention by size);
-- verify checks that they still match it. `id` (a UUIDv7 the writer generates) has no index:
-- every index costs inserts on the hot path, and lookups go by (stream, seq) or grant.
CREATE TABLE audit_events (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    kind TEXT NOT NULL,
    grant_id TEXT,
    principal TEXT,
    connection TEXT,
    status INTEGER,
    blob_bytes INTEGER NOT NULL,
    body TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
) STRICT;
CREATE INDEX audit_events_grant ON audit_events (grant_id, seq) WHERE grant_id IS NOT NULL;
CREATE INDEX audit_events_at ON audit_events (at_us);

-- Ed25519-signed checkpoints: "the chain of `stream` up to `seq` ends in `hash`".
CREATE TABLE audit_checkpoints (
    stream TEXT NOT NULL,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    public_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (stream, seq)
) STRICT;

-- The public keys each gateway signed with, so verify can check checkpoints.
CREATE TABLE audit_keys (
    stream TEXT NOT NULL,
    public_key TEXT NOT NULL,
    recorded_at_us INTEGER NOT NULL,
    PRIMARY KEY (stream, public_key)
) STRICT;

-- Bodies, stored once per content hash. `last_seq` is the newest event referring to it,
-- so retention can drop blobs nobody refers to any more.
CREATE TABLE audit_blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    last_seq INTEGER NOT NULL
) STRICT;
