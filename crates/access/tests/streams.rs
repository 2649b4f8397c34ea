//! Revocation ends a long streaming response in flight, as the gateway's data path will
//! use it: step 4 looks the grant up, the body stream selects on `ActiveGrant::ended`.

mod common;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::*;
use portcullis_access::AccessService;
use serde_json::json;

/// A toy data path: one chunk every 50 ms for as long as the caller's grant lasts.
async fn data_path(service: AccessService, principal_key: String) -> axum::response::Response {
    let Some(grant) = service.active(&principal_key, "prod") else {
        let body = service.access_required("prod").unwrap_or_default();
        return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
    };
    let chunks = futures_util::stream::unfold((grant, 0u64), |(grant, n)| async move {
        tokio::select! {
            () = grant.ended() => None,
            () = tokio::time::sleep(Duration::from_millis(50)) => {
                Some((Ok::<_, std::io::Error>(format!("chunk {n}\n")), (grant, n + 1)))
            }
        }
    });
    axum::body::Body::from_stream(chunks).into_response()
}

#[tokio::test]
async fn revoking_ends_an_in_flight_stream_within_a_second() {
    let h = start(config(&[("prod", connection(&["read"], 1))]), POLICIES).await;
    h.add("bot", agent("bot", &["agents"]));
    h.add("bob", person("bob", &["ops"]));
    let key = format!("{ISS}#sub-bot");
    let service = h.service.clone();
    let app = axum::Router::new()
        .route("/prod/stream", axum::routing::get(move || data_path(service.clone(), key.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let data = format!("http://{}/prod/stream", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // No grant: 403 telling the agent how to ask.
    let r = h.http.get(&data).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "access_required");
    assert_eq!(body["error"]["levels"], json!(["read"]));

    let id = h.request("bot", "prod", "read", "15m").await.body["id"].as_str().unwrap().to_string();
    let grant = h.approve("bob", &id, json!({})).await.body["grant_id"].as_str().unwrap().to_string();
    let mut stream = h.http.get(&data).send().await.unwrap();
    assert_eq!(stream.status(), 200);
    for _ in 0..3 {
        assert!(stream.chunk().await.unwrap().is_some(), "the stream flows while the grant is active");
    }
    let revoked_at = Instant::now();
    let r = h.call(Some("bob"), "POST", &format!("/api/v1/grants/{grant}/revoke"), Some(json!({}))).await;
    assert_eq!(r.body["state"], "revoked");
    let ended = tokio::time::timeout(Duration::from_secs(1), async {
        while stream.chunk().await.unwrap().is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the stream still flows {:?} after revocation", revoked_at.elapsed());
    assert_eq!(h.http.get(&data).send().await.unwrap().status(), 403, "the next request is refused");
}
