//! Shared helpers: a store and log in a temporary data_dir, and realistic events.
#![allow(dead_code, unreachable_pub)]

use std::time::{Duration, Instant};

use portcullis_audit::{
    AuditConfig, AuditEvent, AuditLog, BodyRef, EventDetail, Header, Outcome, RequestRecord, ResponseRecord,
};
use portcullis_store::SqliteStore;
use serde_json::json;

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: SqliteStore,
    pub log: AuditLog,
}

pub async fn open(config: AuditConfig) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let log = AuditLog::open(&store, config).await.unwrap();
    Env { dir, store, log }
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
