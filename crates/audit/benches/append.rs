//! Sustained durable events per second on SQLite and PostgreSQL with group commit.
//!
//! `producers` tasks append concurrently (as the gateway's request tasks do); each
//! `append` returns only after its batch is committed (SQLite `synchronous=FULL`,
//! PostgreSQL `synchronous_commit=on`). Divan's item counter reports events/s. The
//! PostgreSQL benches run in a fresh schema of the database named by
//! `PORTCULLIS_TEST_DATABASE_URL`, and are skipped (with a note) when it is unset.
//!
//! `cargo bench -p portcullis-audit --bench append`

use divan::counter::ItemsCount;
use divan::Bencher;
use portcullis_audit::{AuditConfig, AuditEvent, AuditLog, EventDetail, RequestRecord};
use portcullis_store::{pg_options, pg_pool, PgStore, SqliteStore, StoreHandle};

fn main() {
    divan::main();
}

/// Events appended per measured iteration.
const EVENTS: usize = 20_000;

fn request(i: usize) -> AuditEvent {
    AuditEvent::now(EventDetail::Request(RequestRecord {
        request_id: format!("req-{i}"),
        principal: serde_json::json!({"issuer": "https://idp.example", "subject": "agent-7", "display_name": "ci agent"}),
        delegation: vec![],
        grant_id: Some(format!("grant-{}", i % 16)),
        review_id: None,
        connection: "arm".into(),
        method: "GET".into(),
        target: format!("/subscriptions/0000/resourceGroups/rg-{i}?api-version=2022-09-01"),
        headers: vec![],
        body: None,
    }))
}

/// A PostgreSQL bench schema, dropped after the bench.
struct Schema {
    admin: sqlx::PgPool,
    name: String,
}

type Setup = (tokio::runtime::Runtime, tempfile::TempDir, AuditLog, Option<Schema>);

fn setup(postgres: bool) -> Option<Setup> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().ok()?;
    let dir = tempfile::tempdir().ok()?;
    let (log, schema) = rt
        .block_on(async {
            let mut schema = None;
            let store: StoreHandle = if postgres {
                let Ok(url) = std::env::var("PORTCULLIS_TEST_DATABASE_URL") else {
                    eprintln!("SKIPPED: PORTCULLIS_TEST_DATABASE_URL is not set, no PostgreSQL bench");
                    return Err(String::new());
                };
                let schema_name = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let admin = pg_pool(pg_options(&url).map_err(|e| e.detail)?).await.map_err(|e| e.detail)?;
                sqlx::query(&format!("CREATE SCHEMA {schema_name}"))
                    .execute(&admin)
                    .await
                    .map_err(|e| e.to_string())?;
                let options =
                    pg_options(&url).map_err(|e| e.detail)?.options([("search_path", schema_name.as_str())]);
                let store = PgStore::connect_with(options, dir.path()).await.map_err(|e| e.detail)?;
                schema = Some(Schema { admin, name: schema_name });
                store.into()
            } else {
                SqliteStore::open(dir.path()).await.map_err(|e| e.detail)?.into()
            };
            let log = AuditLog::open(&store, AuditConfig::default()).await.map_err(|e| e.detail)?;
            Ok::<_, String>((log, schema))
        })
        .ok()?;
    Some((rt, dir, log, schema))
}

fn finish(rt: &tokio::runtime::Runtime, log: &AuditLog, schema: Option<Schema>) {
    rt.block_on(async {
        log.shutdown().await;
        if let Some(s) = schema {
            let _ = sqlx::query(&format!("DROP SCHEMA {} CASCADE", s.name)).execute(&s.admin).await;
        }
    });
}

/// Throughput on SQLite: `producers` concurrent tasks, `EVENTS` durable appends per
/// iteration.
#[divan::bench(args = [64, 1024], sample_count = 5, sample_size = 1)]
fn durable_appends(bencher: Bencher, producers: usize) {
    throughput(bencher, producers, false);
}

/// Throughput on PostgreSQL (same load).
#[divan::bench(args = [64, 1024], sample_count = 5, sample_size = 1)]
fn durable_appends_postgres(bencher: Bencher, producers: usize) {
    throughput(bencher, producers, true);
}

fn throughput(bencher: Bencher, producers: usize, postgres: bool) {
    let Some((rt, _dir, log, schema)) = setup(postgres) else { return };
    bencher.counter(ItemsCount::new(EVENTS)).bench_local(|| {
        rt.block_on(async {
            let mut tasks = Vec::with_capacity(producers);
            for p in 0..producers {
                let log = log.clone();
                tasks.push(tokio::spawn(async move {
                    let mut i = p;
                    while i < EVENTS {
                        if log.append(request(i)).await.is_err() {
                            return false;
                        }
                        i += producers;
                    }
                    true
                }));
            }
            for t in tasks {
                assert!(matches!(t.await, Ok(true)), "an append failed");
            }
        })
    });
    finish(&rt, &log, schema);
}

/// Latency one append adds when the log is otherwise idle: one transaction and its fsync
/// (the latency a proxied request pays for its request event).
#[divan::bench(sample_count = 200, sample_size = 1)]
fn one_append_idle(bencher: Bencher) {
    idle(bencher, false);
}

/// The same on PostgreSQL (one round trip and the server's WAL flush).
#[divan::bench(sample_count = 200, sample_size = 1)]
fn one_append_idle_postgres(bencher: Bencher) {
    idle(bencher, true);
}

fn idle(bencher: Bencher, postgres: bool) {
    let Some((rt, _dir, log, schema)) = setup(postgres) else { return };
    let mut i = 0;
    bencher.bench_local(|| {
        i += 1;
        assert!(rt.block_on(log.append(request(i))).is_ok(), "an append failed");
    });
    finish(&rt, &log, schema);
}
