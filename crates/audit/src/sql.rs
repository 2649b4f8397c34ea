//! The writer's inserts, on either backend.

use sqlx::QueryBuilder;

use crate::db::{with_tx, Tx};
use crate::writer::Row;
use crate::{AuditError, AuditReason};

/// Rows per INSERT statement (13 parameters each, under SQLite's 32,766 and
/// PostgreSQL's 65,535).
const ROWS_PER_STATEMENT: usize = 256;

/// Blob rows per statement (5 parameters each).
const BLOBS_PER_STATEMENT: usize = 128;

const INSERT_EVENTS: &str = "INSERT INTO audit_events (stream, seq, id, at_us, kind, grant_id, principal, \
                             connection, status, blob_bytes, body, prev_hash, hash) ";

fn unavailable(context: &str, e: sqlx::Error) -> AuditError {
    AuditError::db(AuditReason::StoreUnavailable, context, e)
}

pub(crate) async fn insert_rows(tx: &mut Tx, stream: &str, rows: &[Row<'_>]) -> Result<(), AuditError> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        with_tx!(tx, |t| {
            let mut qb = QueryBuilder::new(INSERT_EVENTS);
            qb.push_values(chunk, |mut b, r| {
                b.push_bind(stream)
                    .push_bind(r.seq)
                    .push_bind(r.id.as_str())
                    .push_bind(r.at_us)
                    .push_bind(r.derived.kind)
                    .push_bind(r.derived.grant_id.as_deref())
                    .push_bind(r.derived.principal.as_deref())
                    .push_bind(r.derived.connection.as_deref())
                    .push_bind(r.derived.status)
                    .push_bind(r.blob_bytes)
                    .push_bind(r.body)
                    .push_bind(r.prev_hash.as_str())
                    .push_bind(r.hash.as_str());
            });
            qb.build().execute(&mut **t).await.map(drop)
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
