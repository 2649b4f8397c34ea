//! Versioned schema migrations, embedded in the binary.
//!
//! Each migration runs once, in its own transaction, and is remembered with a checksum
//! of its SQL in `schema_migrations`. On start the store refuses a database that has a
//! version this binary does not know (written by a newer Portcullis) or whose recorded
//! checksum differs (a migration was edited after release).

use sqlx::{Connection, SqliteConnection};

use crate::{StoreError, StoreReason};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Strictly increasing, starting at 1.
    pub version: i64,
    /// Short name, for logs.
    pub name: &'static str,
    /// The SQL, possibly several statements.
    pub sql: &'static str,
}

/// The SQLite migrations, in order.
pub const SQLITE_MIGRATIONS: &[Migration] =
    &[Migration { version: 1, name: "meta", sql: include_str!("../migrations/sqlite/0001_meta.sql") }];

/// The PostgreSQL migrations, in order.
pub const PG_MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "gateways",
    sql: include_str!("../migrations/postgres/0001_gateways.sql"),
}];

pub(crate) fn checksum(sql: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, sql.as_bytes()))
}

pub(crate) fn fail(context: &str, err: sqlx::Error) -> StoreError {
    StoreError::db(StoreReason::Migration, context, err)
}

/// Applies every migration of `component` not yet applied. Returns the component's
/// resulting schema version. Each crate that owns tables (the store itself, access,
/// audit, …) versions them as its own component.
pub(crate) async fn apply(
    conn: &mut SqliteConnection,
    component: &str,
    migrations: &[Migration],
) -> Result<i64, StoreError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             component TEXT NOT NULL,
             version INTEGER NOT NULL,
             name TEXT NOT NULL,
             checksum TEXT NOT NULL,
             applied_at TEXT NOT NULL,
             PRIMARY KEY (component, version)
         ) STRICT",
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| fail("creating schema_migrations", e))?;
    let applied = read_applied(&mut *conn, component).await?;
    let start = check_applied(component, migrations, &applied)?;
    let mut version = start;
    for m in migrations.iter().filter(|m| m.version > start) {
        let mut tx = conn.begin().await.map_err(|e| fail("beginning a migration", e))?;
        sqlx::raw_sql(m.sql).execute(&mut *tx).await.map_err(|e| fail(m.name, e))?;
        record(&mut tx, component, m).await?;
        tx.commit().await.map_err(|e| fail("committing a migration", e))?;
        tracing::info!(component, version = m.version, name = m.name, "applied migration");
        version = m.version;
    }
    Ok(version)
}

/// The (version, checksum) pairs recorded for `component`, in order.
async fn read_applied(
    conn: &mut SqliteConnection,
    component: &str,
) -> Result<Vec<(i64, String)>, StoreError> {
    sqlx::query_as("SELECT version, checksum FROM schema_migrations WHERE component = $1 ORDER BY version")
        .bind(component)
        .fetch_all(conn)
        .await
        .map_err(|e| fail("reading schema_migrations", e))
}

async fn record(conn: &mut SqliteConnection, component: &str, m: &Migration) -> Result<(), StoreError> {
    sqlx::query(RECORD_SQL)
        .bind(component)
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m.sql))
        .bind(now_rfc3339())
        .execute(conn)
        .await
        .map_err(|e| fail("recording a migration", e))?;
    Ok(())
}

/// Records one applied migration (both backends).
pub(crate) const RECORD_SQL: &str =
    "INSERT INTO schema_migrations (component, version, name, checksum, applied_at) VALUES ($1, $2, $3, $4, $5)";

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Refuses a database with an unknown or edited migration; returns the version applied.
pub(crate) fn check_applied(
    component: &str,
    migrations: &[Migration],
    applied: &[(i64, String)],
) -> Result<i64, StoreError> {
    let known_max = migrations.last().map(|m| m.version).unwrap_or(0);
    for (version, sum) in applied {
        let version = *version;
        match migrations.iter().find(|m| m.version == version) {
            None if version > known_max => {
                return Err(StoreError::new(
                    StoreReason::Migration,
                    format!(
                    "the database has schema version {version}, newer than this binary knows ({known_max}); \
                         use a newer portcullis or another data_dir"
                ),
                ))
            }
            None => {
                return Err(StoreError::new(
                    StoreReason::Migration,
                    format!(
                    "the database records {component} migration {version}, which this binary does not have"
                ),
                ))
            }
            Some(m) if checksum(m.sql) != *sum => {
                return Err(StoreError::new(
                    StoreReason::Migration,
                    format!(
                        "{component} migration {version} ({}) differs from the one applied to this database",
                        m.name
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    Ok(applied.iter().map(|r| r.0).max().unwrap_or(0))
}
