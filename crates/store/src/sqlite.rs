//! The embedded SQLite backend: one file in `data_dir`, WAL journal, full sync.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::migrate::{apply, Migration, SQLITE_MIGRATIONS};
use crate::{Store, StoreError, StoreFuture, StoreReason};

/// The store's own migrations are versioned under this component name.
const COMPONENT: &str = "store";

/// The database file's name inside `data_dir`.
pub const DB_FILE: &str = "portcullis.db";

/// The embedded store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
    gateway_id: String,
}

impl SqliteStore {
    /// Opens (creating if needed) the store in `data_dir` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, StoreError> {
        Self::open_with(data_dir, SQLITE_MIGRATIONS).await
    }

    pub(crate) async fn open_with(data_dir: &Path, migrations: &[Migration]) -> Result<Self, StoreError> {
        create_private_dir(data_dir)?;
        let path = data_dir.join(DB_FILE);
        let url = format!("sqlite://{}", path.display());
        let options = SqliteConnectOptions::from_str(&url)
            .map_err(|e| StoreError::db(StoreReason::Open, "parsing the database path", e))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::db(StoreReason::Open, &format!("opening {}", path.display()), e))?;
        {
            let mut conn = pool
                .acquire()
                .await
                .map_err(|e| StoreError::db(StoreReason::Open, "acquiring a connection", e))?;
            apply(&mut conn, COMPONENT, migrations).await?;
        }
        let gateway_id = ensure_gateway_id(&pool).await?;
        Ok(SqliteStore { pool, path, gateway_id })
    }

    /// Applies another crate's migrations, versioned under its own `component` name
    /// (e.g. `"access"`, `"audit"`). Call once at start, before using its tables.
    pub async fn migrate(&self, component: &str, migrations: &[Migration]) -> Result<i64, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(|e| StoreError::db(StoreReason::Migration, "acquiring a connection", e))?;
        apply(&mut conn, component, migrations).await
    }

    /// The connection pool, for the crates that own tables in this database.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

pub(crate) fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let open_err =
        |e: std::io::Error| StoreError::new(StoreReason::Open, format!("creating {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(open_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(open_err)?;
    }
    Ok(())
}

async fn ensure_gateway_id(pool: &SqlitePool) -> Result<String, StoreError> {
    let fresh = uuid::Uuid::new_v4().to_string();
    sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('gateway_id', ?)")
        .bind(&fresh)
        .execute(pool)
        .await
        .map_err(|e| StoreError::db(StoreReason::Open, "recording the gateway id", e))?;
    let row = sqlx::query("SELECT value FROM meta WHERE key = 'gateway_id'")
        .fetch_one(pool)
        .await
        .map_err(|e| StoreError::db(StoreReason::Open, "reading the gateway id", e))?;
    Ok(row.get(0))
}

impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn health(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let now = time::OffsetDateTime::now_utc().unix_timestamp().to_string();
            sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES ('health_checked_at', ?)")
                .bind(now)
                .execute(&self.pool)
                .await
                .map_err(|e| StoreError::db(StoreReason::Unavailable, "writing a health record", e))?;
            Ok(())
        })
    }

    fn schema_version(&self) -> StoreFuture<'_, i64> {
        Box::pin(async move {
            let row = sqlx::query(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations WHERE component = 'store'",
            )
            .fetch_one(&self.pool)
            .await
            .map_err(|e| StoreError::db(StoreReason::Unavailable, "reading the schema version", e))?;
            Ok(row.get(0))
        })
    }

    fn gateway_id(&self) -> &str {
        &self.gateway_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_migrates_and_keeps_its_identity() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!(store.schema_version().await.unwrap(), 1);
        store.health().await.unwrap();
        let id = store.gateway_id().to_owned();
        drop(store);
        let again = SqliteStore::open(dir.path()).await.unwrap();
        assert_eq!(again.gateway_id(), id, "the gateway id survives a restart");
        let mode: String = sqlx::query("PRAGMA journal_mode").fetch_one(again.pool()).await.unwrap().get(0);
        assert_eq!(mode, "wal");
    }

    #[tokio::test]
    async fn refuses_a_database_from_a_newer_binary() {
        let dir = tempfile::tempdir().unwrap();
        let extra = [
            SQLITE_MIGRATIONS[0],
            Migration { version: 2, name: "future", sql: "CREATE TABLE future (x INTEGER) STRICT;" },
        ];
        SqliteStore::open_with(dir.path(), &extra).await.unwrap();
        let err = SqliteStore::open(dir.path()).await.unwrap_err();
        assert_eq!(err.reason, StoreReason::Migration);
        assert!(err.detail.contains("newer than this binary"), "{}", err.detail);
    }

    #[tokio::test]
    async fn refuses_an_edited_migration() {
        let dir = tempfile::tempdir().unwrap();
        let edited = [Migration {
            version: 1,
            name: "meta",
            sql: "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);",
        }];
        SqliteStore::open_with(dir.path(), &edited).await.unwrap();
        let err = SqliteStore::open(dir.path()).await.unwrap_err();
        assert!(err.detail.contains("differs"), "{}", err.detail);
    }

    #[tokio::test]
    async fn closed_store_fails_health() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        store.pool().close().await;
        let err = store.health().await.unwrap_err();
        assert_eq!(err.reason, StoreReason::Unavailable);
    }

    #[tokio::test]
    async fn components_version_their_own_tables() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let access = [Migration {
            version: 1,
            name: "grants",
            sql: "CREATE TABLE grants (id TEXT PRIMARY KEY) STRICT;",
        }];
        assert_eq!(store.migrate("access", &access).await.unwrap(), 1);
        assert_eq!(store.migrate("access", &access).await.unwrap(), 1, "applying again is a no-op");
        assert_eq!(store.schema_version().await.unwrap(), 1, "the store's own version is separate");
        sqlx::query("INSERT INTO grants (id) VALUES ('g1')").execute(store.pool()).await.unwrap();
    }
}
