-- The gateways writing to this database (several replicas share it). Each keeps its id
-- in its own data_dir; `last_seen_at` is rewritten by every health check, which proves
-- that the database accepts writes.
CREATE TABLE gateways (
    id TEXT PRIMARY KEY NOT NULL,
    first_seen_at TEXT NOT NULL,
    last_seen_at TEXT NOT NULL
);
