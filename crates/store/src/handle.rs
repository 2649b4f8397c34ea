//! One type for callers that work with either backend.

use std::path::Path;

use sqlx::{PgPool, SqlitePool};

use crate::{Migration, PgStore, SqliteStore, Store, StoreError, StoreFuture};

/// Either backend, chosen at start from the configuration.
#[derive(Debug, Clone)]
pub enum StoreHandle {
    /// The embedded SQLite file in `data_dir`.
    Sqlite(SqliteStore),
    /// A PostgreSQL database shared by several gateways.
    Postgres(PgStore),
}

/// A borrowed pool of either backend: what the read-side functions (verify, sessions,
/// export) take, so they also run without a gateway identity (the CLI).
#[derive(Debug, Clone, Copy)]
pub enum PoolRef<'a> {
    /// SQLite.
    Sqlite(&'a SqlitePool),
    /// PostgreSQL.
    Postgres(&'a PgPool),
}

/// True when `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl StoreHandle {
    /// Opens the store: PostgreSQL when `url` is a `postgres://` URL, otherwise the
    /// SQLite file in `data_dir`. `data_dir` also keeps the gateway's id and keys.
    pub async fn open(url: Option<&str>, data_dir: &Path) -> Result<Self, StoreError> {
        match url {
            Some(url) if is_postgres_url(url) => {
                Ok(StoreHandle::Postgres(PgStore::connect(url, data_dir).await?))
            }
            Some(other) => Err(StoreError::new(
                crate::StoreReason::Open,
                format!("unsupported store URL {other:?}: use postgres://… or leave it out for SQLite"),
            )),
            None => Ok(StoreHandle::Sqlite(SqliteStore::open(data_dir).await?)),
        }
    }

    /// Applies a component's migrations: `sqlite` or `postgres`, whichever this store is.
    pub async fn migrate(
        &self,
        component: &str,
        sqlite: &[Migration],
        postgres: &[Migration],
    ) -> Result<i64, StoreError> {
        match self {
            StoreHandle::Sqlite(s) => s.migrate(component, sqlite).await,
            StoreHandle::Postgres(p) => p.migrate(component, postgres).await,
        }
    }

    /// The pool.
    pub fn pool(&self) -> PoolRef<'_> {
        match self {
            StoreHandle::Sqlite(s) => PoolRef::Sqlite(s.pool()),
            StoreHandle::Postgres(p) => PoolRef::Postgres(p.pool()),
        }
    }

    /// The gateway's own directory (keys; for SQLite also the database file).
    pub fn data_dir(&self) -> &Path {
        match self {
            StoreHandle::Sqlite(s) => s.path().parent().unwrap_or(Path::new(".")),
            StoreHandle::Postgres(p) => p.data_dir(),
        }
    }

    /// Closes the pool (tests use it to make the store unavailable).
    pub async fn close(&self) {
        match self {
            StoreHandle::Sqlite(s) => s.pool().close().await,
            StoreHandle::Postgres(p) => p.pool().close().await,
        }
    }
}

impl Store for StoreHandle {
    fn backend(&self) -> &'static str {
        match self {
            StoreHandle::Sqlite(s) => s.backend(),
            StoreHandle::Postgres(p) => p.backend(),
        }
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        match self {
            StoreHandle::Sqlite(s) => s.health(),
            StoreHandle::Postgres(p) => p.health(),
        }
    }

    fn schema_version(&self) -> StoreFuture<'_, i64> {
        match self {
            StoreHandle::Sqlite(s) => s.schema_version(),
            StoreHandle::Postgres(p) => p.schema_version(),
        }
    }

    fn gateway_id(&self) -> &str {
        match self {
            StoreHandle::Sqlite(s) => s.gateway_id(),
            StoreHandle::Postgres(p) => p.gateway_id(),
        }
    }
}

impl From<SqliteStore> for StoreHandle {
    fn from(s: SqliteStore) -> Self {
        StoreHandle::Sqlite(s)
    }
}

impl From<&SqliteStore> for StoreHandle {
    fn from(s: &SqliteStore) -> Self {
        StoreHandle::Sqlite(s.clone())
    }
}

impl From<PgStore> for StoreHandle {
    fn from(p: PgStore) -> Self {
        StoreHandle::Postgres(p)
    }
}

impl From<&PgStore> for StoreHandle {
    fn from(p: &PgStore) -> Self {
        StoreHandle::Postgres(p.clone())
    }
}

impl From<&StoreHandle> for StoreHandle {
    fn from(h: &StoreHandle) -> Self {
        h.clone()
    }
}

impl<'a> From<&'a SqlitePool> for PoolRef<'a> {
    fn from(p: &'a SqlitePool) -> Self {
        PoolRef::Sqlite(p)
    }
}

impl<'a> From<&'a PgPool> for PoolRef<'a> {
    fn from(p: &'a PgPool) -> Self {
        PoolRef::Postgres(p)
    }
}

impl<'a> From<&'a StoreHandle> for PoolRef<'a> {
    fn from(h: &'a StoreHandle) -> Self {
        h.pool()
    }
}

impl<'a> From<&'a SqliteStore> for PoolRef<'a> {
    fn from(s: &'a SqliteStore) -> Self {
        PoolRef::Sqlite(s.pool())
    }
}

impl<'a> From<&'a PgStore> for PoolRef<'a> {
    fn from(p: &'a PgStore) -> Self {
        PoolRef::Postgres(p.pool())
    }
}
