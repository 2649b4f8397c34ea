//! Sustained durable events per second on SQLite with group commit.
//!
//! `producers` tasks append concurrently (as the gateway's request tasks do); each
//! `append` returns only after its batch is committed with `synchronous=FULL`. Divan's
//! item counter reports events/s.
//!
//! `cargo bench -p portcullis-audit --bench append`

use divan::counter::ItemsCount;
use divan::Bencher;
use portcullis_audit::{AuditConfig, AuditEvent, AuditLog, EventDetail, RequestRecord};
use portcullis_store::SqliteStore;

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

fn setup() -> Option<(tokio::runtime::Runtime, tempfile::TempDir, AuditLog)> {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().ok()?;
    let dir = tempfile::tempdir().ok()?;
    let log = rt
        .block_on(async {
            let store = SqliteStore::open(dir.path()).await.map_err(|e| e.detail)?;
            AuditLog::open(&store, AuditConfig::default()).await.map_err(|e| e.detail)
        })
        .ok()?;
    Some((rt, dir, log))
}

/// Throughput: `producers` concurrent tasks, `EVENTS` durable appends per iteration.
#[divan::bench(args = [64, 1024], sample_count = 5, sample_size = 1)]
fn durable_appends(bencher: Bencher, producers: usize) {
    let Some((rt, _dir, log)) = setup() else { return };
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
    rt.block_on(log.shutdown());
}

/// Latency one append adds when the log is otherwise idle: one transaction and its fsync
/// (the latency a proxied request pays for its request event).
#[divan::bench(sample_count = 200, sample_size = 1)]
fn one_append_idle(bencher: Bencher) {
    let Some((rt, _dir, log)) = setup() else { return };
    let mut i = 0;
    bencher.bench_local(|| {
        i += 1;
        assert!(rt.block_on(log.append(request(i))).is_ok(), "an append failed");
    });
    rt.block_on(log.shutdown());
}
