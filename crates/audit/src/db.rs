//! Both backends with one body of SQL.
//!
//! Every query is written once, with `$1`-style parameters (which SQLite also accepts),
//! and only the types PostgreSQL and SQLite share (`BIGINT`/`INTEGER` as `i64`, text,
//! bytes). [`with_pool!`] and [`with_tx!`] expand a query once per backend, so each is
//! compiled against its own driver: no `Any` driver, no runtime SQL rewriting.

use portcullis_store::PoolRef;
use sqlx::{Postgres, Sqlite, Transaction};

use crate::{AuditError, AuditReason};

/// Runs `$body` with `$p` bound to the concrete pool (`&SqlitePool` or `&PgPool`).
macro_rules! with_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            portcullis_store::PoolRef::Sqlite($p) => $body,
            portcullis_store::PoolRef::Postgres($p) => $body,
        }
    };
}

/// Runs `$body` with `$t` bound to the concrete `&mut Transaction`.
macro_rules! with_tx {
    ($tx:expr, |$t:ident| $body:expr) => {
        match $tx {
            $crate::db::Tx::Sqlite($t) => $body,
            $crate::db::Tx::Postgres($t) => $body,
        }
    };
}

pub(crate) use {with_pool, with_tx};

/// An open transaction on either backend.
#[derive(Debug)]
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

fn unavailable(context: &str, e: sqlx::Error) -> AuditError {
    AuditError::db(AuditReason::StoreUnavailable, context, e)
}

impl Tx {
    /// Begins a write transaction. SQLite takes the write lock at once (`IMMEDIATE`), so
    /// a busy database fails here rather than at commit.
    pub(crate) async fn begin(pool: PoolRef<'_>) -> Result<Tx, AuditError> {
        let context = "beginning an audit transaction";
        match pool {
            PoolRef::Sqlite(p) => {
                Ok(Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await.map_err(|e| unavailable(context, e))?))
            }
            PoolRef::Postgres(p) => Ok(Tx::Postgres(p.begin().await.map_err(|e| unavailable(context, e))?)),
        }
    }

    /// Commits; the events in it are durable when this returns.
    pub(crate) async fn commit(self, context: &str) -> Result<(), AuditError> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
        .map_err(|e| unavailable(context, e))
    }
}
