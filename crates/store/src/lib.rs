//! The gateway's durable store.
//!
//! One [`Store`] trait, one small module per backend. SQLite in WAL mode inside
//! `data_dir` is the embedded default ([`SqliteStore`]); PostgreSQL ([`PgStore`]) serves
//! several gateway replicas sharing one database. [`StoreHandle`] holds either, so
//! callers keep one type; [`PoolRef`] borrows either pool for read-side queries. Schema changes are versioned migrations
//! embedded in the binary ([`migrate`]); a database written by a newer Portcullis, or
//! one whose applied migrations were edited, is refused at start.
//!
//! This crate owns tables and transactions. It must not know about HTTP, principals or
//! policy: the crates that own those concepts define the records they store.

mod error;
mod handle;
mod migrate;
mod postgres;
mod sqlite;

use std::future::Future;
use std::pin::Pin;

pub use error::{StoreError, StoreReason};
pub use handle::{is_postgres_url, PoolRef, StoreHandle};
pub use migrate::{Migration, PG_MIGRATIONS, SQLITE_MIGRATIONS};
pub use postgres::{pg_options, pg_pool, PgStore, GATEWAY_ID_FILE};
pub use sqlite::{SqliteStore, DB_FILE};
/// The pool types, so callers need not depend on sqlx to name them.
pub use sqlx::{PgPool, SqlitePool};

/// A boxed future, so `Store` can be used as `Arc<dyn Store>`.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// The operations every backend provides.
pub trait Store: Send + Sync + 'static {
    /// The backend's name, for logs and `/readyz` (`"sqlite"`, `"postgres"`).
    fn backend(&self) -> &'static str;

    /// Proves the store accepts a write right now (the gateway refuses traffic when it
    /// does not: fail closed).
    fn health(&self) -> StoreFuture<'_, ()>;

    /// The highest migration version applied.
    fn schema_version(&self) -> StoreFuture<'_, i64>;

    /// This data directory's stable gateway id, created with the database.
    fn gateway_id(&self) -> &str;
}
