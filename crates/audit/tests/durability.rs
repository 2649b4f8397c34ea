//! Nothing acknowledged is lost (kill -9), and a failing store makes `append` fail
//! closed at once and recovers without a restart.

mod common;

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{with_pool, Backend};
use futures_util::FutureExt;
use portcullis_audit::{verify, AuditConfig, AuditLog, AuditReason, VerifyOptions};
use portcullis_store::{PgStore, SqliteStore, StoreHandle};
use sqlx::{Connection, PgConnection, SqliteConnection};

const CHILD_ENV: &str = "PORTCULLIS_AUDIT_KILL9_DIR";
/// Set for a PostgreSQL child: the URL selecting the test's schema.
const CHILD_PG_ENV: &str = "PORTCULLIS_AUDIT_KILL9_PG";

/// Not a test on its own: the child process of `acknowledged_events_survive_kill_9`.
/// It appends from many tasks as fast as it can and prints each acknowledged id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "helper process, started by acknowledged_events_survive_kill_9"]
async fn kill9_child() {
    let Ok(dir) = std::env::var(CHILD_ENV) else { return };
    let dir = std::path::Path::new(&dir);
    let store: StoreHandle = match std::env::var(CHILD_PG_ENV) {
        Ok(url) => PgStore::connect(&url, dir).await.unwrap().into(),
        Err(_) => SqliteStore::open(dir).await.unwrap().into(),
    };
    let log = AuditLog::open(&store, AuditConfig { checkpoint_every: 500, ..AuditConfig::default() })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..32 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0.. {
                let n = t * 1_000_000 + i;
                let body = format!("body {n}").into_bytes();
                let event = common::request("g-kill", "agent-7", n, portcullis_audit::now_us(), Some(&body));
                let id = log.append_with_bodies(event, vec![body]).await.unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "acked {} {}", id.id, id.seq).unwrap();
                out.flush().unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test]
async fn acknowledged_events_survive_kill_9() {
    for backend in common::backends() {
        kill_9(backend).await;
    }
}

async fn kill_9(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let schema = match backend {
        Backend::Postgres => Some(common::Schema::create().await),
        Backend::Sqlite => None,
    };
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["kill9_child", "--exact", "--ignored", "--nocapture", "--test-threads=1"]);
    command.env(CHILD_ENV, dir.path());
    if let Some(schema) = &schema {
        command.env(CHILD_PG_ENV, schema.url());
    }
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut acked = Vec::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(rest) = line.strip_prefix("acked ") {
                if let Some((id, _)) = rest.split_once(' ') {
                    acked.push(id.to_owned());
                }
            }
        }
        acked
    });
    // Let it run under load, then kill -9 while appends are in flight.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let rows = count_events(dir.path(), schema.as_ref()).await;
        if rows >= 3_000 {
            break;
        }
        assert!(Instant::now() < deadline, "the child appended only {rows} events");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let acked = reader.join().unwrap();
    assert!(acked.len() >= 1_000, "only {} acknowledged", acked.len());

    let store = common::open_store(backend, dir.path(), schema.as_ref()).await;
    let stored: HashSet<String> =
        with_pool!(store.pool(), |p| sqlx::query_scalar("SELECT id FROM audit_events").fetch_all(p).await)
            .unwrap()
            .into_iter()
            .collect();
    let lost: Vec<&String> = acked.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged events lost, e.g. {:?}", lost.len(), lost.first());
    let trusted = portcullis_audit::read_public_key(dir.path()).unwrap();
    let report = verify(store.pool(), &VerifyOptions { trusted_keys: vec![trusted] }).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);

    // The chain continues after a restart.
    let log = AuditLog::open(&store, AuditConfig::default()).await.unwrap();
    let next = log.append(common::auth("agent-7", true)).await.unwrap();
    assert_eq!(next.seq as usize, stored.len() + 1);
    log.shutdown().await;
    assert!(verify(store.pool(), &VerifyOptions::default()).await.unwrap().ok);
}

async fn count_events(dir: &std::path::Path, schema: Option<&common::Schema>) -> i64 {
    if let Some(schema) = schema {
        let options = portcullis_store::pg_options(&schema.url()).unwrap();
        let Ok(mut conn) = sqlx::PgConnection::connect_with(&options).await else { return 0 };
        return sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
            .fetch_one(&mut conn)
            .await
            .unwrap_or(0);
    }
    let url = format!("sqlite://{}?mode=ro", dir.join(portcullis_store::DB_FILE).display());
    let Ok(mut conn) = SqliteConnection::connect(&url).await else { return 0 };
    sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(&mut conn).await.unwrap_or(0)
}

/// Another connection holding the audit table's write lock makes the store refuse
/// writes: `append` fails (and keeps failing at once) until the lock is gone, then the log
/// recovers on its own and the chain stays intact.
#[tokio::test]
async fn a_locked_store_fails_closed_and_recovers_without_restart() {
    for backend in common::backends() {
        locked_store(backend).await;
    }
}

/// A second connection that holds the write lock the writer needs, in an open
/// transaction: SQLite's database lock, PostgreSQL's lock on `audit_events`.
enum Locker {
    Sqlite(SqliteConnection),
    Postgres(PgConnection),
}

impl Locker {
    async fn take(env: &common::Env) -> Locker {
        match env.backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", env.dir.path().join(portcullis_store::DB_FILE).display());
                let mut conn = SqliteConnection::connect(&url).await.unwrap();
                sqlx::raw_sql("BEGIN EXCLUSIVE; INSERT INTO meta (key, value) VALUES ('locked', '1');")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Locker::Sqlite(conn)
            }
            Backend::Postgres => {
                let url = env.schema.as_ref().unwrap().url();
                let mut conn =
                    PgConnection::connect_with(&portcullis_store::pg_options(&url).unwrap()).await.unwrap();
                sqlx::raw_sql("BEGIN; LOCK TABLE audit_events IN ACCESS EXCLUSIVE MODE;")
                    .execute(&mut conn)
                    .await
                    .unwrap();
                Locker::Postgres(conn)
            }
        }
    }

    async fn release(self) {
        match self {
            Locker::Sqlite(mut c) => sqlx::raw_sql("ROLLBACK").execute(&mut c).await.map(drop),
            Locker::Postgres(mut c) => sqlx::raw_sql("ROLLBACK").execute(&mut c).await.map(drop),
        }
        .unwrap();
    }
}

async fn locked_store(backend: Backend) {
    let config = AuditConfig { queue_capacity: 4, ..AuditConfig::default() };
    let env = common::open_on(backend, config).await;
    common::fill(&env.log, "g1", 3).await;
    let locker = Locker::take(&env).await;

    // The first append waits for the lock (SQLite's busy timeout, PostgreSQL's
    // lock_timeout), then fails.
    let log = env.log.clone();
    let blocked = tokio::spawn(async move { log.append(common::auth("agent-7", true)).await });
    // While the writer is stuck, the bounded queue fills and then appends fail at once.
    let mut full = None;
    for _ in 0..20 {
        match tokio::time::timeout(Duration::from_millis(50), env.log.append(common::auth("agent-7", true)))
            .await
        {
            Err(_) => continue, // queued behind the stuck batch
            Ok(Ok(id)) => panic!("{backend:?}: committed {id:?} while the store was locked"),
            Ok(Err(e)) => {
                full = Some(e);
                break;
            }
        }
    }
    let full = full.unwrap_or_else(|| panic!("{backend:?}: the queue never filled"));
    assert_eq!(full.reason, AuditReason::QueueFull, "{backend:?}: {full}");
    assert!(env.log.status().queued <= 4);

    let err = blocked.await.unwrap().unwrap_err();
    assert_eq!(err.reason, AuditReason::StoreUnavailable, "{backend:?}: {err}");
    assert!(!env.log.healthy());
    let status = env.log.status();
    assert_eq!(status.reason, Some(AuditReason::StoreUnavailable));
    // Refused at once: the first poll of `append` already returns the refusal, without
    // queuing the event or waiting for the lock.
    let again = env
        .log
        .append(common::auth("agent-7", true))
        .now_or_never()
        .expect("a failing store must refuse at once, not wait for the lock")
        .unwrap_err();
    assert_eq!(again.reason, AuditReason::StoreUnavailable);

    locker.release().await;
    let log = env.log.clone();
    common::poll_until("recovery", Duration::from_secs(30), move || log.healthy()).await;
    let id = env.log.append(common::auth("agent-7", true)).await.unwrap();
    assert_eq!(id.seq, 4, "{backend:?}: nothing refused was recorded, and the chain continues");
    env.log.shutdown().await;
    let report = verify(env.store.pool(), &VerifyOptions::default()).await.unwrap();
    assert!(report.ok, "{backend:?}: {:?}", report.problems);
}

#[tokio::test]
async fn bodies_are_stored_once() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        let body = br#"{"value":[{"name":"rg-1"}]}"#.to_vec();
        for n in 0..3 {
            env.log
                .append_with_bodies(
                    common::response("g1", n, portcullis_audit::now_us(), 200, &body),
                    vec![body.clone()],
                )
                .await
                .unwrap();
        }
        assert_eq!(env.count("SELECT COUNT(*) FROM audit_blobs").await, 1);
        let sha = portcullis_audit::BodyRef::of(&body).sha256;
        assert_eq!(portcullis_audit::read_body(env.store.pool(), &sha).await.unwrap(), Some(body));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_body_in_one_batch_is_stored_once() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        let body = vec![b'x'; 64 * 1024];
        let mut tasks = Vec::new();
        for n in 0..32 {
            let (log, body) = (env.log.clone(), body.clone());
            tasks.push(tokio::spawn(async move {
                let event = common::response("g1", n, portcullis_audit::now_us(), 200, &body);
                log.append_with_bodies(event, vec![body]).await.unwrap().seq
            }));
        }
        let mut newest = 0;
        for t in tasks {
            newest = newest.max(t.await.unwrap());
        }
        let rows: Vec<(i64, i64)> =
            with_pool!(env.pool(), |p| sqlx::query_as("SELECT size, last_seq FROM audit_blobs")
                .fetch_all(p)
                .await)
            .unwrap();
        assert_eq!(rows, [(64 * 1024, newest)], "one copy, remembered by the newest event that refers to it");
        assert!(verify(env.store.pool(), &VerifyOptions::default()).await.unwrap().ok);
    }
}

/// The store refuses audit writes (a trigger stands in for a read-only or broken
/// database): `append` fails closed, `status()` says why, and once the store accepts
/// writes again the log recovers without a restart and the chain stays intact.
#[tokio::test]
async fn a_refusing_store_fails_closed_and_recovers_without_restart() {
    for backend in common::backends() {
        let config = AuditConfig { retry_interval: Duration::from_millis(50), ..AuditConfig::default() };
        let env = common::open_on(backend, config).await;
        common::fill(&env.log, "g1", 3).await;
        let (refuse, allow) = match backend {
            Backend::Sqlite => (
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'store down'); END;",
                "DROP TRIGGER refuse;",
            ),
            Backend::Postgres => (
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'store down'; END $$; \
                 CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse();",
                "DROP TRIGGER refuse ON audit_events;",
            ),
        };
        env.exec(refuse).await;
        let err = env.log.append(common::auth("agent-7", true)).await.unwrap_err();
        assert_eq!(err.reason, AuditReason::StoreUnavailable, "{backend:?}: {err}");
        let status = env.log.status();
        assert!(!status.healthy);
        assert_eq!(status.reason, Some(AuditReason::StoreUnavailable));
        // The writer keeps probing, and the probe fails for the same reason: still refused.
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!env.log.healthy(), "{backend:?}: the probe must fail while the store refuses writes");
        let again = env.log.append(common::auth("agent-7", true)).await.unwrap_err();
        assert_eq!(again.reason, AuditReason::StoreUnavailable);

        env.exec(allow).await;
        let log = env.log.clone();
        common::poll_until("recovery", Duration::from_secs(30), move || log.healthy()).await;
        let id = env.log.append(common::auth("agent-7", true)).await.unwrap();
        assert_eq!(id.seq, 4, "{backend:?}: nothing refused was recorded, and the chain continues");
        env.log.shutdown().await;
        let report = verify(env.store.pool(), &VerifyOptions::default()).await.unwrap();
        assert!(report.ok, "{:?}", report.problems);
    }
}

/// A closed pool (the store is gone for good) fails appends closed.
#[tokio::test]
async fn a_closed_store_fails_closed() {
    for backend in common::backends() {
        let env = common::open_on(backend, AuditConfig::default()).await;
        common::fill(&env.log, "g1", 2).await;
        env.store.close().await;
        let err = env.log.append(common::auth("agent-7", true)).await.unwrap_err();
        assert_eq!(err.reason, AuditReason::StoreUnavailable, "{backend:?}");
        assert!(!env.log.status().healthy);
    }
}

/// A deferred event (a response's record) waits at most `defer_for` for company, and
/// rides along at once with the next event somebody waits on; either way it is committed
/// and chained before it is acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deferred_events_join_the_next_waited_for_commit() {
    for backend in common::backends() {
        let config = portcullis_audit::AuditConfig {
            defer_for: std::time::Duration::from_secs(600),
            ..portcullis_audit::AuditConfig::default()
        };
        let env = common::open_on(backend, config).await;
        let log = &env.log;
        // The first poll queues it (and then waits for the acknowledgement).
        let mut deferred = Box::pin(log.append_deferred(
            common::response("g", 1, 1, 200, b"ok"),
            vec![b"ok".to_vec()],
            Vec::new(),
        ));
        assert!(futures_util::poll!(&mut deferred).is_pending());
        common::poll_until("the writer took the deferred event", Duration::from_secs(30), || {
            log.status().queued == 0
        })
        .await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            futures_util::poll!(&mut deferred).is_pending(),
            "{backend:?}: a lone deferred event waits for company"
        );
        // A waited-for event arrives: both commit together, long before 600 s.
        let waited = log.append(common::request("g", "agent", 2, 2, None)).await.unwrap();
        let deferred = tokio::time::timeout(Duration::from_secs(60), deferred)
            .await
            .expect("the deferred event rode along")
            .unwrap();
        assert_eq!((deferred.seq, waited.seq), (1, 2), "{backend:?}");
        let report = portcullis_audit::verify(env.store.pool(), &Default::default()).await.unwrap();
        assert!(report.ok, "{backend:?}: {:?}", report.problems);

        // With the default (2 ms) a lone deferred event is committed on its own.
        let quick = common::open_on(backend, portcullis_audit::AuditConfig::default()).await;
        let id = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            quick.log.append_deferred(common::response("g", 1, 1, 200, b"ok"), Vec::new(), Vec::new()),
        )
        .await
        .expect("a lone deferred event is committed after defer_for")
        .unwrap();
        assert_eq!(id.seq, 1);
        env.log.shutdown().await;
        quick.log.shutdown().await;
    }
}
