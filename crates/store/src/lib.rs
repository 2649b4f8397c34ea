//! The durable store: the Store trait, SQLite (embedded) backend, migrations.
