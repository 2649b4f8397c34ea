//! The writer's inserts, on either backend.

use sqlx::QueryBuilder;

use crate::db::{with_tx, Tx};
use crate::writer::Row;
use crate::{AuditError, AuditReason};

/// Rows per INSERT statement (13 parameters each, under SQLite's 32,766 and
/// PostgreSQL's 65,535).
const ROWS_PER_STATEMENT: usize = 256;

/// Parameters per event row.
const EVENT_COLUMNS: usize = 13;

/// Blob rows per statement (5 parameters each).
const BLOBS_PER_STATEMENT: usize = 128;

fn unavailable(context: &str, e: sqlx::Error) -> AuditError {
    AuditError::db(AuditReason::StoreUnavailable, context, e)
}

/// The multi-row INSERT for `rows` events.
///
/// On SQLite the parameters are anonymous (`?`): sqlx looks each named one up by its
/// index, and SQLite finds a name by scanning the list of names, which for a 256-row
/// statement is quadratic. And it is `INSERT OR FAIL`: with the default (`ABORT`) a
/// multi-row statement inside a transaction keeps a statement journal, a copy of every
/// page it touches, so that a failing row can undo just that statement. The writer never
/// keeps a transaction whose statement failed (the batch is refused and the transaction
/// rolled back), so that copy was pure cost. PostgreSQL has neither the clause nor the
/// journal.
fn insert_events_sql(rows: usize, sqlite: bool) -> String {
    use std::fmt::Write;
    let mut sql = String::with_capacity(200 + rows * EVENT_COLUMNS * 6);
    sql.push_str(if sqlite { "INSERT OR FAIL" } else { "INSERT" });
    sql.push_str(
        " INTO audit_events (stream, seq, id, at_us, kind, grant_id, principal, connection, status, \
         blob_bytes, body, prev_hash, hash) VALUES ",
    );
    for row in 0..rows {
        sql.push_str(if row > 0 { ",(" } else { "(" });
        for column in 0..EVENT_COLUMNS {
            if column > 0 {
                sql.push(',');
            }
            if sqlite {
                sql.push('?');
            } else {
                let _ = write!(sql, "${}", row * EVENT_COLUMNS + column + 1);
            }
        }
        sql.push(')');
    }
    sql
}

/// The statement text for a chunk, built once per size and backend for full chunks.
fn events_sql(rows: usize, sqlite: bool) -> std::borrow::Cow<'static, str> {
    static FULL: std::sync::OnceLock<[String; 2]> = std::sync::OnceLock::new();
    if rows == ROWS_PER_STATEMENT {
        let full = FULL.get_or_init(|| {
            [insert_events_sql(ROWS_PER_STATEMENT, true), insert_events_sql(ROWS_PER_STATEMENT, false)]
        });
        std::borrow::Cow::Borrowed(&full[usize::from(!sqlite)])
    } else {
        std::borrow::Cow::Owned(insert_events_sql(rows, sqlite))
    }
}

/// Inserts the chained rows, in order. The rows' strings move into the statements'
/// arguments instead of being copied there.
pub(crate) async fn insert_rows(tx: &mut Tx, stream: &str, rows: Vec<Row>) -> Result<(), AuditError> {
    let sqlite = matches!(tx, Tx::Sqlite(_));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Row> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        with_tx!(tx, |t| {
            let sql = events_sql(chunk.len(), sqlite);
            let mut query = sqlx::query(&sql);
            for r in chunk {
                query = query
                    .bind(stream)
                    .bind(r.seq)
                    .bind(r.id)
                    .bind(r.at_us)
                    .bind(r.derived.kind)
                    .bind(r.derived.grant_id)
                    .bind(r.derived.principal)
                    .bind(r.derived.connection)
                    .bind(r.derived.status)
                    .bind(r.blob_bytes)
                    .bind(r.body)
                    .bind(r.prev_hash)
                    .bind(r.hash);
            }
            query.execute(&mut **t).await.map(drop)
        })
        .map_err(|e| unavailable("inserting audit events", e))?;
    }
    Ok(())
}

/// Stores each body once per stream, remembering the newest event that refers to it.
/// `blobs` must not repeat a hash.
pub(crate) async fn insert_blobs(
    tx: &mut Tx,
    stream: &str,
    blobs: &[(&str, &[u8], i64)],
) -> Result<(), AuditError> {
    for chunk in blobs.chunks(BLOBS_PER_STATEMENT) {
        with_tx!(tx, |t| {
            let mut qb =
                QueryBuilder::new("INSERT INTO audit_blobs (stream, hash, size, content, last_seq) ");
            qb.push_values(chunk, |mut b, (hash, bytes, seq)| {
                b.push_bind(stream)
                    .push_bind(*hash)
                    .push_bind(bytes.len() as i64)
                    .push_bind(*bytes)
                    .push_bind(*seq);
            });
            qb.push(
                " ON CONFLICT (stream, hash) DO UPDATE SET last_seq = CASE \
                 WHEN excluded.last_seq > audit_blobs.last_seq THEN excluded.last_seq \
                 ELSE audit_blobs.last_seq END",
            );
            qb.build().execute(&mut **t).await.map(drop)
        })
        .map_err(|e| unavailable("storing bodies", e))?;
    }
    Ok(())
}

pub(crate) async fn insert_checkpoint(
    tx: &mut Tx,
    stream: &str,
    seq: i64,
    hash: &str,
    at_us: i64,
    public_key: &str,
    signature: &str,
) -> Result<(), AuditError> {
    with_tx!(tx, |t| sqlx::query(
        "INSERT INTO audit_checkpoints (stream, seq, hash, at_us, public_key, signature) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(stream)
    .bind(seq)
    .bind(hash)
    .bind(at_us)
    .bind(public_key)
    .bind(signature)
    .execute(&mut **t)
    .await
    .map(drop))
    .map_err(|e| unavailable("writing a checkpoint", e))
}
