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

/// Bodies are evidence: the request body the guardrails read, the response as the agent
/// received it (masked), and — only for the auditor — the response before masking,
/// sealed to the auditor's key so the gateway cannot read it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_recorded_masked_and_sealed_for_the_auditor() {
    use portcullis_audit::{AuditEvent, AuditorKey, EventDetail};
    let up = Upstream::start().await;
    let (identity, recipient) = portcullis_audit::generate_auditor_key();
    let extra = format!(
        "[audit]\nauditor_recipient = \"{recipient}\"\nrecord_body_bytes = \"64KiB\"\n\
         [[connections]]\nname = \"arm\"\nkind = \"azure-arm\"\nupstream = \"{}\"\n",
        up.url()
    );
    let h = gateway(&up, &extra).await;
    let path = "/arm/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/listKeys?api-version=2023-01-01";
    let resp =
        reqwest::Client::new().post(h.url(path)).body(r#"{"probe":"request-body-7"}"#).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let seen_by_agent = resp.text().await.unwrap();
    assert!(!seen_by_agent.contains(common::ACCOUNT_KEY), "the agent got the key: {seen_by_agent}");

    let store = h.gateway.store();
    h.gateway.shutdown().await;
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT body FROM audit_events WHERE kind IN ('request', 'response') ORDER BY seq",
    )
    .fetch_all(store.pool())
    .await
    .unwrap();
    let events: Vec<AuditEvent> = rows.iter().map(|r| serde_json::from_str(r).unwrap()).collect();
    let request = events
        .iter()
        .find_map(|e| match &e.detail {
            EventDetail::Request(r) => r.body.clone(),
            _ => None,
        })
        .expect("the request body was recorded");
    let body = portcullis_audit::read_body(store.pool(), &request.sha256).await.unwrap().unwrap();
    assert_eq!(body, br#"{"probe":"request-body-7"}"#);

    let (response, sealed) = events
        .iter()
        .find_map(|e| match &e.detail {
            EventDetail::Response(r) => Some((r.body.clone()?, e.sealed.clone())),
            _ => None,
        })
        .expect("the response body was recorded");
    let masked = portcullis_audit::read_body(store.pool(), &response.sha256).await.unwrap().unwrap();
    assert_eq!(String::from_utf8(masked).unwrap(), seen_by_agent, "the body as the agent received it");
    assert_eq!(sealed.len(), 1, "one sealed copy for the auditor");
    assert_eq!(sealed[0].recipient, recipient);
    let ciphertext = portcullis_audit::read_body(store.pool(), &sealed[0].sha256).await.unwrap().unwrap();
    let plain = AuditorKey::parse(&identity).unwrap().open(&ciphertext).unwrap();
    assert!(String::from_utf8(plain).unwrap().contains(common::ACCOUNT_KEY), "the auditor sees the original");
    let everything: Vec<u8> = sqlx::query_scalar::<_, Vec<u8>>("SELECT content FROM audit_blobs")
        .fetch_all(store.pool())
        .await
        .unwrap()
        .concat();
    let stored = format!("{}{}", String::from_utf8_lossy(&everything), rows.concat());
    assert!(!stored.contains(common::ACCOUNT_KEY), "the key is stored in the clear somewhere");
}

/// `audit.database_url`: the same gateway records into PostgreSQL (its own hash chain in a
/// shared database), and the log verifies there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_can_live_in_postgresql() {
    let Ok(base) = std::env::var("PORTCULLIS_TEST_DATABASE_URL") else {
        println!("SKIPPED: PORTCULLIS_TEST_DATABASE_URL is not set, PostgreSQL audit test not run");
        return;
    };
    let admin = portcullis_store::pg_pool(portcullis_store::pg_options(&base).unwrap()).await.unwrap();
    let schema = format!("gw_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
    let url = format!("{base}?options=-csearch_path%3D{schema}");

    let up = Upstream::start().await;
    let h = gateway(&up, &format!("[audit]\ndatabase_url = \"{url}\"\n")).await;
    let client = reqwest::Client::new();
    for i in 0..3 {
        let resp = client.post(h.url(&format!("/up/echo?i={i}"))).body("hello").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        resp.bytes().await.unwrap();
    }
    let sqlite_events: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_events")
        .fetch_one(h.gateway.store().pool())
        .await
        .unwrap_or(0);
    h.gateway.shutdown().await;

    let pool = portcullis_store::pg_pool(portcullis_store::pg_options(&url).unwrap()).await.unwrap();
    let events: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM audit_events WHERE kind IN ('request', 'response')")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(events, 6, "a request and a response event per call, in PostgreSQL");
    assert_eq!(sqlite_events, 0, "nothing went to the SQLite audit tables");
    let key = portcullis_audit::read_public_key(&h.dir.path().join("data")).unwrap();
    let report = verify(&pool, &VerifyOptions { trusted_keys: vec![key] }).await.unwrap();
    assert!(report.ok, "{:?}", report.problems);
    pool.close().await;
    sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await.unwrap();
}

/// A request body that streams to the target uninspected (no guardrails on the
/// connection) cannot be in the request event, which is durable before the first byte
/// leaves; its first `record_body_bytes` are recorded with the response event instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_request_body_is_recorded_with_the_response() {
    use portcullis_audit::{AuditEvent, EventDetail};
    let up = Upstream::start().await;
    let h = gateway(&up, "[audit]\nrecord_body_bytes = \"64KiB\"\n").await;
    let sent: Vec<u8> = (0..100 * 1024).map(|i| b'a' + (i % 26) as u8).collect();
    let resp = reqwest::Client::new().post(h.url("/up/echo")).body(sent.clone()).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let echo: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(echo["body_len"], 100 * 1024, "the whole body reached the target");

    let store = h.gateway.store();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let recorded = loop {
        let responses = common::audit_events(&store, "response").await;
        if let Some(r) = responses.first() {
            break serde_json::from_value::<AuditEvent>(r.clone()).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "the response event was recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let EventDetail::Response(response) = recorded.detail else { panic!("{recorded:?}") };
    let request_body = response.request_body.expect("the streamed request body was recorded");
    let stored = portcullis_audit::read_body(store.pool(), &request_body.sha256).await.unwrap().unwrap();
    assert_eq!(stored, &sent[..64 * 1024], "its first record_body_bytes, byte for byte");
    let requests = common::audit_events(&store, "request").await;
    assert!(requests[0].get("body").is_none_or(|b| b.is_null()), "nothing claimed before forwarding");
    h.gateway.shutdown().await;
}
