//! The PostgreSQL backend, for several gateway replicas sharing one database.
//!
//! Each replica keeps its own gateway id in a file of its own `data_dir` (beside its
//! signing key), so replicas writing to one database stay distinct streams. Migrations
//! run under a session advisory lock, so replicas starting together apply them once.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};

use crate::migrate::{check_applied, checksum, fail, now_rfc3339, Migration, PG_MIGRATIONS, RECORD_SQL};
use crate::{Store, StoreError, StoreFuture, StoreReason};

const COMPONENT: &str = "store";

/// The gateway id's file name inside `data_dir` (PostgreSQL only: with SQLite the id
/// lives in the database file).
pub const GATEWAY_ID_FILE: &str = "gateway-id";

/// Any constant: the advisory lock key that serializes migrations across replicas.
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
    data_dir: PathBuf,
    gateway_id: String,
}

/// Parses a `postgres://` URL (`?options=-csearch_path%3D…` selects a schema).
pub fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url)
        .map_err(|e| StoreError::db(StoreReason::Open, "parsing the database URL", e))
}

/// A connection pool without a gateway identity, for readers (`audit verify`, `sessions`).
pub async fn pg_pool(options: PgConnectOptions) -> Result<PgPool, StoreError> {
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::db(StoreReason::Open, "connecting to PostgreSQL", e))
}

impl PgStore {
    /// Connects to `url`, applies the store's migrations, and loads (or creates) this
    /// gateway's id in `data_dir`.
    pub async fn connect(url: &str, data_dir: &Path) -> Result<Self, StoreError> {
        Self::connect_with(pg_options(url)?, data_dir).await
    }

    /// As [`PgStore::connect`], with options already built (e.g. a test's `search_path`).
    pub async fn connect_with(options: PgConnectOptions, data_dir: &Path) -> Result<Self, StoreError> {
        crate::sqlite::create_private_dir(data_dir)?;
        let gateway_id = load_or_create_id(data_dir)?;
        // A writer waiting on a lock must fail (and fail closed) rather than hang.
        let pool = pg_pool(options.options([("lock_timeout", "5s")])).await?;
        let store = PgStore { pool, data_dir: data_dir.to_owned(), gateway_id };
        store.migrate(COMPONENT, PG_MIGRATIONS).await?;
        store.health().await.map_err(|e| StoreError::new(StoreReason::Open, e.detail))?;
        Ok(store)
    }

    /// Applies another crate's PostgreSQL migrations under its own `component` name.
    pub async fn migrate(&self, component: &str, migrations: &[Migration]) -> Result<i64, StoreError> {
        let mut conn = self.pool.acquire().await.map_err(|e| fail("acquiring a connection", e))?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await
            .map_err(|e| fail("locking migrations", e))?;
        let result = apply(&mut conn, component, migrations).await;
        let unlock =
            sqlx::query("SELECT pg_advisory_unlock($1)").bind(MIGRATION_LOCK).execute(&mut *conn).await;
        if unlock.is_err() {
            // The lock dies with the session: drop this connection rather than reuse it.
            conn.detach();
        }
        result
    }

    /// The connection pool, for the crates that own tables in this database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// This gateway's own directory (its id and keys).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }
}

async fn apply(
    conn: &mut PgConnection,
    component: &str,
    migrations: &[Migration],
) -> Result<i64, StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component TEXT NOT NULL,
             version BIGINT NOT NULL,
             name TEXT NOT NULL,
             checksum TEXT NOT NULL,
             applied_at TEXT NOT NULL,
             PRIMARY KEY (component, version)
         )",
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| fail("creating schema_migrations", e))?;
    let applied: Vec<(i64, String)> = sqlx::query_as(
        "SELECT version, checksum FROM schema_migrations WHERE component = $1 ORDER BY version",
    )
    .bind(component)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| fail("reading schema_migrations", e))?;
    let start = check_applied(component, migrations, &applied)?;
    let mut version = start;
    for m in migrations.iter().filter(|m| m.version > start) {
        let mut tx = conn.begin().await.map_err(|e| fail("beginning a migration", e))?;
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(|e| fail(m.name, e))?;
        sqlx::query(RECORD_SQL)
            .bind(component)
            .bind(m.version)
            .bind(m.name)
            .bind(checksum(m.sql))
            .bind(now_rfc3339())
            .execute(&mut *tx)
            .await
            .map_err(|e| fail("recording a migration", e))?;
        tx.commit().await.map_err(|e| fail("committing a migration", e))?;
        tracing::info!(component, version = m.version, name = m.name, "applied migration");
        version = m.version;
    }
    Ok(version)
}

fn load_or_create_id(data_dir: &Path) -> Result<String, StoreError> {
    let path = data_dir.join(GATEWAY_ID_FILE);
    let err = |doing: &str, e: std::io::Error| {
        StoreError::new(StoreReason::Open, format!("{doing} {}: {e}", path.display()))
    };
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            uuid::Uuid::parse_str(id).map_err(|e| {
                StoreError::new(
                    StoreReason::Open,
                    format!("{} does not hold a gateway id: {e}", path.display()),
                )
            })?;
            Ok(id.to_owned())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = uuid::Uuid::new_v4().to_string();
            std::fs::write(&path, format!("{id}\n")).map_err(|e| err("writing", e))?;
            Ok(id)
        }
        Err(e) => Err(err("reading", e)),
    }
}

impl Store for PgStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let now = now_rfc3339();
            sqlx::query(
                "INSERT INTO gateways (id, first_seen_at, last_seen_at) VALUES ($1, $2, $2) \
                 ON CONFLICT (id) DO UPDATE SET last_seen_at = excluded.last_seen_at",
            )
            .bind(&self.gateway_id)
            .bind(now)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::db(StoreReason::Unavailable, "writing a health record", e))?;
            Ok(())
        })
    }

    fn schema_version(&self) -> StoreFuture<'_, i64> {
        Box::pin(async move {
            sqlx::query_scalar(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = 'store'",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db(StoreReason::Unavailable, "reading the schema version", e))
        })
    }

    fn gateway_id(&self) -> &str {
        &self.gateway_id
    }
}
