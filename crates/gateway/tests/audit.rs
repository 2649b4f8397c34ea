//! Step 7 through the real gateway: every forwarded request is durably recorded first and
//! the log verifies; when the audit store cannot take a write, traffic is refused with 503
//! and nothing reaches the target (fail closed), and it recovers without a restart.

mod common;

use std::time::Duration;

use common::{gateway, Upstream};
use portcullis_audit::{verify, VerifyOptions};
use sqlx::Connection;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_requests_are_recorded_and_the_log_verifies() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let client = reqwest::Client::new();
    for i in 0..5 {
        let resp = client.get(h.url(&format!("/up/echo?i={i}"))).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("x-portcullis-request-id"));
        resp.bytes().await.unwrap();
    }
    let store = h.gateway.store();
    h.gateway.shutdown().await;
    let key = portcullis_audit::read_public_key(&h.dir.path().join("data")).unwrap();
    let report = verify(store.pool(), &VerifyOptions { trusted_keys: vec![key] }).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events").fetch_one(store.pool()).await.unwrap();
    assert!(events >= 10, "a request and a response event per call: {events}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_audit_store_refuses_traffic_and_recovers() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let client = reqwest::Client::new();
    assert_eq!(client.get(h.url("/up/echo")).send().await.unwrap().status(), 200);
    let before = up.received().len();

    // Another writer holds the database's write lock: the audit log cannot commit.
    let db = h.dir.path().join("data").join("portcullis.db");
    let mut blocker = sqlx::SqliteConnection::connect(&format!("sqlite://{}", db.display())).await.unwrap();
    sqlx::query("BEGIN IMMEDIATE").execute(&mut blocker).await.unwrap();

    let resp = client.get(h.url("/up/echo")).timeout(Duration::from_secs(30)).send().await.unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "audit_unavailable");
    let ready = client.get(h.control("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 503, "readiness says so too");
    assert_eq!(up.received().len(), before, "nothing was forwarded unrecorded");

    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    drop(blocker);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let status = client.get(h.url("/up/echo")).send().await.unwrap().status();
        if status == 200 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the gateway recovered without a restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    h.gateway.shutdown().await;
}
