//! Webhooks: signed, retried, shaped for Slack and Teams, sent to a local receiver.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use common::*;
use portcullis_access::webhook::{verify, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use portcullis_access::{WebhookConfig, WebhookFormat};
use serde_json::{json, Value};

type Seen = Arc<Mutex<Vec<(String, HeaderMap, Vec<u8>)>>>;

/// A receiver on 127.0.0.1:0 that refuses the first delivery to `/flaky`.
async fn receiver() -> (String, Seen) {
    let seen: Seen = Arc::default();
    let record = seen.clone();
    let app = axum::Router::new().route(
        "/{kind}",
        axum::routing::post(
            move |axum::extract::Path(kind): axum::extract::Path<String>,
                  headers: HeaderMap,
                  body: axum::body::Bytes| {
                let record = record.clone();
                async move {
                    let mut seen = record.lock().unwrap();
                    let first = !seen.iter().any(|(k, _, _)| k == &kind);
                    seen.push((kind.clone(), headers, body.to_vec()));
                    if kind == "flaky" && first {
                        StatusCode::INTERNAL_SERVER_ERROR
                    } else {
                        StatusCode::OK
                    }
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (base, seen)
}

fn hook(base: &str, path: &str, format: WebhookFormat) -> WebhookConfig {
    WebhookConfig {
        url: format!("{base}/{path}").parse().unwrap(),
        format,
        secret: "s3cret".into(),
        attempts: 3,
        backoff: Duration::from_millis(50),
    }
}

async fn wait_for(seen: &Seen, n: usize) -> Vec<(String, HeaderMap, Vec<u8>)> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = seen.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "only {} deliveries: {:?}",
            got.len(),
            got.iter().map(|g| &g.0).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn signed_notifications_on_request_and_decision() {
    let (base, seen) = receiver().await;
    let mut cfg = config(&[("prod", connection(&["read"], 1))]);
    cfg.webhooks = vec![
        hook(&base, "generic", WebhookFormat::Generic),
        hook(&base, "slack", WebhookFormat::Slack),
        hook(&base, "teams", WebhookFormat::Teams),
        hook(&base, "flaky", WebhookFormat::Generic),
    ];
    let h = start(cfg, POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    // 3 deliveries + the flaky one twice (refused, then retried).
    let got = wait_for(&seen, 5).await;
    for (kind, headers, body) in &got {
        let ts: i64 = headers[TIMESTAMP_HEADER].to_str().unwrap().parse().unwrap();
        let sig = headers[SIGNATURE_HEADER].to_str().unwrap();
        assert!(verify("s3cret", ts, body, sig), "{kind}: signature verifies");
        assert!(!verify("wrong", ts, body, sig), "{kind}: another secret does not");
        assert!((ts - now()).abs() < 60);
    }
    let body = |kind: &str| -> Value {
        serde_json::from_slice(&got.iter().find(|g| g.0 == kind).unwrap().2).unwrap()
    };
    let generic = body("generic");
    assert_eq!(generic["event"], "requested");
    assert_eq!(generic["request"]["id"], id.as_str());
    assert_eq!(generic["approve_url"], format!("{}/api/v1/access-requests/{id}/approve", h.base));
    let slack = body("slack");
    assert!(slack["text"].as_str().unwrap().contains("incident INC-1"));
    let button = &slack["blocks"][2]["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["url"], format!("{}/api/v1/access-requests/{id}", h.base));
    let teams = body("teams");
    assert_eq!(teams["@type"], "MessageCard");
    assert_eq!(
        teams["potentialAction"][0]["targets"][0]["uri"],
        format!("{}/api/v1/access-requests/{id}", h.base)
    );
    assert_eq!(got.iter().filter(|g| g.0 == "flaky").count(), 2, "retried after a 500");

    h.approve("bob", &id, json!({})).await;
    let got = wait_for(&seen, 9).await;
    let decided: Vec<Value> =
        got.iter().filter(|g| g.0 == "generic").map(|g| serde_json::from_slice(&g.2).unwrap()).collect();
    assert_eq!(decided.last().unwrap()["event"], "approved");
    assert_eq!(decided.last().unwrap()["request"]["state"], "approved");
}
