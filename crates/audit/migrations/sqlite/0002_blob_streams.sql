-- Bodies are kept per stream, as on PostgreSQL where several gateways share a database:
-- a gateway's retention then removes only bodies its own events referred to.
CREATE TABLE audit_blobs_v2 (
    stream TEXT NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    content BLOB NOT NULL,
    last_seq INTEGER NOT NULL,
    PRIMARY KEY (stream, hash)
) STRICT;
INSERT INTO audit_blobs_v2 (stream, hash, size, content, last_seq)
    SELECT (SELECT value FROM meta WHERE key = 'gateway_id'), hash, size, content, last_seq FROM audit_blobs;
DROP TABLE audit_blobs;
ALTER TABLE audit_blobs_v2 RENAME TO audit_blobs;
