//! Shared helpers: a store and log on each available backend, and realistic events.
//!
//! [`backends`] yields SQLite always and PostgreSQL when `PORTCULLIS_TEST_DATABASE_URL`
//! is set (it prints, visibly, that PostgreSQL was skipped when not). A PostgreSQL env
//! lives in a schema of its own, dropped when the env is dropped (even on panic).
#![allow(dead_code, unreachable_pub, unused_macros, unused_imports)]

use std::time::{Duration, Instant};

use portcullis_audit::{
    AuditConfig, AuditEvent, AuditLog, BodyRef, EventDetail, Header, Outcome, RequestRecord, ResponseRecord,
};
use portcullis_store::{pg_options, pg_pool, PgStore, PoolRef, SqliteStore, StoreHandle};
use serde_json::json;
use sqlx::Executor;

/// Runs `$body` with `$p` bound to the env's concrete pool (`&SqlitePool` or `&PgPool`).
macro_rules! with_pool {
    ($pool:expr, |$p:ident| $body:expr) => {
        match $pool {
            portcullis_store::PoolRef::Sqlite($p) => $body,
            portcullis_store::PoolRef::Postgres($p) => $body,
        }
    };
}
pub(crate) use with_pool;

pub const DATABASE_URL_ENV: &str = "PORTCULLIS_TEST_DATABASE_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The backends to run a test on.
pub fn backends() -> Vec<Backend> {
    if std::env::var(DATABASE_URL_ENV).is_ok() {
        vec![Backend::Sqlite, Backend::Postgres]
    } else {
        println!("SKIPPED on PostgreSQL: {DATABASE_URL_ENV} is not set; running on SQLite only");
        vec![Backend::Sqlite]
    }
}

/// A schema of its own in the test database, dropped on drop.
pub struct Schema {
    pub url: String,
    pub name: String,
}

impl Schema {
    pub async fn create() -> Schema {
        let url = std::env::var(DATABASE_URL_ENV).unwrap();
        let name = format!("audit_{}", uuid::Uuid::new_v4().simple());
        let pool = pg_pool(pg_options(&url).unwrap()).await.unwrap();
        pool.execute(format!("CREATE SCHEMA {name}").as_str()).await.unwrap();
        pool.close().await;
        Schema { url, name }
    }

    /// A URL selecting this schema (for the CLI and child processes).
    pub fn url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                let pool = pg_pool(pg_options(&url).unwrap()).await.unwrap();
                pool.execute(format!("DROP SCHEMA IF EXISTS {name} CASCADE").as_str()).await.unwrap();
                pool.close().await;
            });
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop schema {}", self.name);
        }
    }
}

pub struct Env {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pub store: StoreHandle,
    pub log: AuditLog,
    pub schema: Option<Schema>,
}

impl Env {
    pub fn pool(&self) -> PoolRef<'_> {
        self.store.pool()
    }

    /// Runs one SQL statement (no parameters) on the env's database.
    pub async fn exec(&self, sql: &str) {
        with_pool!(self.pool(), |p| sqlx::raw_sql(sql).execute(p).await.map(drop)).unwrap();
    }

    pub async fn count(&self, sql: &str) -> i64 {
        with_pool!(self.pool(), |p| sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await).unwrap()
    }

    /// A second handle on the same store (as after a restart).
    pub async fn reopen_store(&self) -> StoreHandle {
        open_store(self.backend, self.dir.path(), self.schema.as_ref()).await
    }
}

pub async fn open_store(backend: Backend, dir: &std::path::Path, schema: Option<&Schema>) -> StoreHandle {
    match backend {
        Backend::Sqlite => SqliteStore::open(dir).await.unwrap().into(),
        Backend::Postgres => {
            let schema = schema.unwrap();
            let options = pg_options(&schema.url).unwrap().options([("search_path", schema.name.as_str())]);
            PgStore::connect_with(options, dir).await.unwrap().into()
        }
    }
}

pub async fn open_on(backend: Backend, config: AuditConfig) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let schema = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(Schema::create().await),
    };
    let store = open_store(backend, dir.path(), schema.as_ref()).await;
    let log = AuditLog::open(&store, config).await.unwrap();
    Env { backend, dir, store, log, schema }
}

/// SQLite only (for the tests that are about SQLite itself).
pub async fn open(config: AuditConfig) -> Env {
    open_on(Backend::Sqlite, config).await
}

pub fn principal(subject: &str) -> serde_json::Value {
    json!({"issuer": "https://login.example/tenant", "subject": subject, "display_name": format!("{subject} (agent)")})
}

pub fn request(grant: &str, who: &str, n: usize, at_us: i64, body: Option<&[u8]>) -> AuditEvent {
    AuditEvent::at(
        at_us,
        EventDetail::Request(RequestRecord {
            request_id: format!("{grant}-req-{n}"),
            principal: principal(who),
            delegation: vec![json!({"subject": "alice@example.com"})],
            grant_id: Some(grant.to_owned()),
            review_id: None,
            connection: "arm".into(),
            method: if body.is_some() { "PUT".into() } else { "GET".into() },
            target: format!("/subscriptions/0000/resourceGroups/rg-{n}?api-version=2022-09-01"),
            headers: vec![Header { name: "accept".into(), value: "application/json".into() }],
            body: body.map(BodyRef::of),
        }),
    )
}

pub fn response(grant: &str, n: usize, at_us: i64, status: u16, body: &[u8]) -> AuditEvent {
    AuditEvent::at(
        at_us,
        EventDetail::Response(ResponseRecord {
            request_id: format!("{grant}-req-{n}"),
            grant_id: Some(grant.to_owned()),
            connection: "arm".into(),
            status,
            headers: vec![Header { name: "content-type".into(), value: "application/json".into() }],
            body: Some(BodyRef::of(body)),
            mask_counts: [("azure_storage_key".to_owned(), 1)].into_iter().collect(),
            bytes: body.len() as u64,
            duration_us: 12_000,
            request_body: None,
        }),
    )
}

pub fn auth(who: &str, ok: bool) -> AuditEvent {
    AuditEvent::now(EventDetail::Authentication {
        outcome: if ok { Outcome::Success } else { Outcome::Failure },
        method: "grant_token".into(),
        principal: Some(principal(who)),
        reason: (!ok).then(|| "token_expired".into()),
        remote: Some("127.0.0.1".into()),
    })
}

/// Appends `n` requests with small bodies under one grant; returns nothing but fails loudly.
pub async fn fill(log: &AuditLog, grant: &str, n: usize) {
    for i in 0..n {
        let body = format!("{{\"location\":\"westeurope\",\"n\":{i}}}").into_bytes();
        let event = request(grant, "agent-7", i, portcullis_audit::now_us(), Some(&body));
        log.append_with_bodies(event, vec![body]).await.unwrap();
    }
}

pub async fn poll_until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !f() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
