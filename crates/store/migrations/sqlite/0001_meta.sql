-- Facts about this gateway's data directory: its stable id and when it was created.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
) STRICT;
