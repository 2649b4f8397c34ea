//! The webhook sink against a local receiver on port 0: signed JSON Lines of committed
//! events; a slow or failing receiver never blocks appends, and drops are counted.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use common::Backend;
use portcullis_audit::{signature_valid, AuditConfig, WebhookConfig, SIGNATURE_HEADER};
use serde_json::Value;

const SECRET: &[u8] = b"webhook-test-secret";

#[derive(Clone, Copy)]
enum Mode {
    Accept,
    Fail,
    Hang,
}

/// Starts a receiver; returns its URL and what it received (body, signature valid).
async fn receiver(mode: Mode) -> (String, Arc<Mutex<Vec<(String, bool)>>>) {
    let got: Arc<Mutex<Vec<(String, bool)>>> = Arc::default();
    let sink = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |headers: HeaderMap, body: Bytes| {
            let sink = sink.clone();
            async move {
                let signature = headers.get(SIGNATURE_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
                let valid = signature_valid(SECRET, &body, signature);
                sink.lock().unwrap().push((String::from_utf8_lossy(&body).into_owned(), valid));
                match mode {
                    Mode::Accept => StatusCode::NO_CONTENT,
                    Mode::Fail => StatusCode::INTERNAL_SERVER_ERROR,
                    Mode::Hang => {
                        std::future::pending::<()>().await;
                        StatusCode::OK
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, got)
}

#[tokio::test]
async fn committed_events_are_posted_signed_in_order() {
    for backend in common::backends() {
        posted_in_order(backend).await;
    }
}

async fn posted_in_order(backend: Backend) {
    let (url, got) = receiver(Mode::Accept).await;
    let config = AuditConfig { webhook: Some(WebhookConfig::new(url, SECRET)), ..AuditConfig::default() };
    let env = common::open_on(backend, config).await;
    common::fill(&env.log, "g1", 25).await;
    let received = got.clone();
    common::poll_until("25 events delivered", Duration::from_secs(30), move || {
        received.lock().unwrap().iter().map(|(b, _)| b.lines().count()).sum::<usize>() == 25
    })
    .await;
    let posts = got.lock().unwrap().clone();
    assert!(posts.iter().all(|(_, valid)| *valid), "every POST is signed with the shared secret");
    let lines: Vec<Value> =
        posts.iter().flat_map(|(b, _)| b.lines().map(|l| serde_json::from_str(l).unwrap())).collect();
    let seqs: Vec<i64> = lines.iter().map(|l| l["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, (1..=25).collect::<Vec<_>>(), "{backend:?}");
    assert_eq!(lines[0]["stream"], env.log.stream());
    assert_eq!(lines[3]["event"]["type"], "request");
    assert_eq!(lines[3]["event"]["request_id"], "g1-req-3");
    let stats = env.log.status().webhook.unwrap();
    assert_eq!((stats.sent, stats.dropped), (25, 0));
}

#[tokio::test]
async fn a_hanging_receiver_never_blocks_appends_and_drops_are_counted() {
    for backend in common::backends() {
        hanging_receiver(backend).await;
    }
}

async fn hanging_receiver(backend: Backend) {
    let (url, _got) = receiver(Mode::Hang).await;
    let mut hook = WebhookConfig::new(url, SECRET);
    hook.queue_capacity = 2;
    hook.max_batch = 1;
    hook.timeout = Duration::from_secs(60);
    let env = common::open_on(backend, AuditConfig { webhook: Some(hook), ..AuditConfig::default() }).await;
    // Every append commits although the receiver holds the first POST forever.
    common::fill(&env.log, "g1", 10).await;
    let stats = env.log.status().webhook.unwrap();
    // At most one event is in flight and two queued: the other seven are dropped.
    assert!(stats.dropped >= 7, "{backend:?}: {stats:?}");
    assert_eq!(stats.sent, 0);
}

#[tokio::test]
async fn a_refusing_receiver_is_retried_then_counted_as_dropped() {
    for backend in common::backends() {
        refusing_receiver(backend).await;
    }
}

async fn refusing_receiver(backend: Backend) {
    let (url, got) = receiver(Mode::Fail).await;
    let mut hook = WebhookConfig::new(url, SECRET);
    hook.attempts = 2;
    let env = common::open_on(backend, AuditConfig { webhook: Some(hook), ..AuditConfig::default() }).await;
    env.log.append(common::auth("agent-7", true)).await.unwrap();
    let log = env.log.clone();
    common::poll_until("the batch dropped", Duration::from_secs(30), move || {
        log.status().webhook.is_some_and(|s| s.dropped == 1)
    })
    .await;
    let stats = env.log.status().webhook.unwrap();
    assert_eq!((stats.sent, stats.failed_posts), (0, 2), "{backend:?}");
    assert_eq!(got.lock().unwrap().len(), 2, "the same batch, posted twice");
}
