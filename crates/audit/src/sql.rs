//! The writer's inserts, on either backend.

use sqlx::{Postgres, QueryBuilder, Sqlite, Transaction};

use crate::db::{with_tx, Tx};
use crate::writer::Row;
use crate::{AuditError, AuditReason};

/// Rows per SQLite INSERT statement (13 parameters each, under SQLite's 32,766).
const ROWS_PER_STATEMENT: usize = 256;

/// Parameters per event row.
const EVENT_COLUMNS: usize = 13;

/// Blob rows per statement (5 parameters each).
const BLOBS_PER_STATEMENT: usize = 128;

/// The event table and its columns, in the order both inserts bind them.
macro_rules! events_columns {
    () => {
        "audit_events (stream, seq, id, at_us, kind, grant_id, principal, connection, status, \
         blob_bytes, body, prev_hash, hash)"
    };
}

/// PostgreSQL takes a whole batch as one array per column: one statement, prepared once,
/// whatever the batch's size, and one round trip.
const INSERT_EVENTS_PG: &str = concat!(
    "INSERT INTO ",
    events_columns!(),
    " SELECT $1, * FROM UNNEST($2::int8[], $3::text[], $4::int8[], $5::text[], $6::text[], \
     $7::text[], $8::text[], $9::int8[], $10::int8[], $11::text[], $12::text[], $13::text[])"
);

fn unavailable(context: &str, e: sqlx::Error) -> AuditError {
    AuditError::db(AuditReason::StoreUnavailable, context, e)
}

/// The multi-row SQLite INSERT for `rows` events.
///
/// The parameters are anonymous (`?`): sqlx looks each numbered one up by its index, and
/// SQLite finds a name by scanning the list of names, which for a 256-row statement is
/// quadratic. And it is `INSERT OR FAIL`: with the default (`ABORT`) a multi-row
/// statement inside a transaction keeps a statement journal, a copy of every page it
/// touches, so that a failing row can undo just that statement. The writer never keeps a
/// transaction whose statement failed (the batch is refused and the transaction rolled
/// back), so that copy was pure cost.
fn insert_events_sqlite(rows: usize) -> String {
    let mut sql = String::with_capacity(100 + rows * (EVENT_COLUMNS * 2 + 2));
    sql.push_str(concat!("INSERT OR FAIL INTO ", events_columns!(), " VALUES "));
    for row in 0..rows {
        sql.push_str(if row > 0 { ",(?" } else { "(?" });
        for _ in 1..EVENT_COLUMNS {
            sql.push_str(",?");
        }
        sql.push(')');
    }
    sql
}

/// The statement text for a chunk, built once for full chunks.
fn events_sql_sqlite(rows: usize) -> std::borrow::Cow<'static, str> {
    static FULL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    if rows == ROWS_PER_STATEMENT {
        std::borrow::Cow::Borrowed(FULL.get_or_init(|| insert_events_sqlite(ROWS_PER_STATEMENT)))
    } else {
        std::borrow::Cow::Owned(insert_events_sqlite(rows))
    }
}

/// Inserts the chained rows. Their strings move into the statements' arguments instead of
/// being copied there.
pub(crate) async fn insert_rows(tx: &mut Tx, stream: &str, rows: Vec<Row>) -> Result<(), AuditError> {
    match tx {
        Tx::Sqlite(t) => insert_rows_sqlite(t, stream, rows).await,
        Tx::Postgres(t) => insert_rows_pg(t, stream, rows).await,
    }
    .map_err(|e| unavailable("inserting audit events", e))
}

async fn insert_rows_sqlite(
    t: &mut Transaction<'static, Sqlite>,
    stream: &str,
    rows: Vec<Row>,
) -> Result<(), sqlx::Error> {
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Row> = rows.by_ref().take(ROWS_PER_STATEMENT).collect();
        let sql = events_sql_sqlite(chunk.len());
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
        query.execute(&mut **t).await?;
    }
    Ok(())
}

async fn insert_rows_pg(
    t: &mut Transaction<'static, Postgres>,
    stream: &str,
    rows: Vec<Row>,
) -> Result<(), sqlx::Error> {
    let n = rows.len();
    let (mut seq, mut id, mut at_us, mut kind) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut grant_id, mut principal, mut connection, mut status) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut blob_bytes, mut body, mut prev_hash, mut hash) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for r in rows {
        seq.push(r.seq);
        id.push(r.id);
        at_us.push(r.at_us);
        kind.push(r.derived.kind);
        grant_id.push(r.derived.grant_id);
        principal.push(r.derived.principal);
        connection.push(r.derived.connection);
        status.push(r.derived.status);
        blob_bytes.push(r.blob_bytes);
        body.push(r.body);
        prev_hash.push(r.prev_hash);
        hash.push(r.hash);
    }
    sqlx::query(INSERT_EVENTS_PG)
        .bind(stream)
        .bind(seq)
        .bind(id)
        .bind(at_us)
        .bind(kind)
        .bind(grant_id)
        .bind(principal)
        .bind(connection)
        .bind(status)
        .bind(blob_bytes)
        .bind(body)
        .bind(prev_hash)
        .bind(hash)
        .execute(&mut **t)
        .await
        .map(drop)
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
