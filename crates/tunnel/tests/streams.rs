//! Many concurrent streams with bodies both ways, and a raw duplex byte stream.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use portcullis_tunnel::{TunnelError, PINS_FILE, RAW_STREAM_HEADER};
use support::*;

const WAIT: Duration = Duration::from_secs(5);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_with_bodies_both_ways() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm", "blob"]), echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let mut tasks = Vec::new();
    for i in 0..200u32 {
        let pool = gw.pool.clone();
        tasks.push(tokio::spawn(async move {
            // Bodies of different sizes, some larger than one stream window.
            let size = 1 + (i as usize * 7919) % (3 * 1024 * 1024 / if i % 20 == 0 { 1 } else { 64 });
            let body: Vec<u8> = (0..size).map(|b| (b as u32 ^ i) as u8).collect();
            let connection = if i % 2 == 0 { "arm" } else { "blob" };
            let response =
                pool.send(connection, request(&format!("/item/{i}"), full(body.clone()))).await.unwrap();
            assert_eq!(response.headers()["x-connection"], connection);
            assert_eq!(response.headers()["x-path"], format!("/item/{i}").as_str());
            assert_eq!(response.headers()["x-saw-connection-header"], "false");
            let got = collect(response.into_body()).await.unwrap();
            assert!(got == body, "stream {i}: {} bytes back for {} sent", got.len(), body.len());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let status = gw.pool.status();
    assert_eq!(status[0].requests_served, 200);
    assert_eq!(status[0].connections, vec!["arm".to_owned(), "blob".to_owned()]);
}

#[tokio::test]
async fn a_connection_nobody_serves_is_refused_without_a_tunnel_round_trip() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm"]), echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;
    let err = gw.pool.send("blob", request("/", full("x"))).await.unwrap_err();
    assert!(matches!(&err, TunnelError::NoConnector { connection } if connection == "blob"), "{err:?}");
    // A caller cannot smuggle another connection name in the header: the pool overwrites it.
    let mut req = request("/", full("x"));
    req.headers_mut().insert(portcullis_tunnel::CONNECTION_HEADER, "blob".parse().unwrap());
    let response = gw.pool.send("arm", req).await.unwrap();
    assert_eq!(response.headers()["x-connection"], "arm");
}

#[tokio::test]
async fn a_raw_byte_stream_is_full_duplex() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["pg"]), echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let (tx, body) = channel_body();
    let mut req = request("/", body);
    req.headers_mut().insert(RAW_STREAM_HEADER, "1".parse().unwrap());
    // The response head arrives while the request body is still open.
    let response = gw.pool.send("pg", req).await.unwrap();
    let mut echoed = response.into_body();
    for round in 0..50u32 {
        let message = Bytes::from(format!("message {round}: {}", "x".repeat(round as usize * 100)));
        tx.send(Ok(message.clone())).await.unwrap();
        // Each message comes back before the next is sent: a conversation, not a batch.
        let mut got = Vec::new();
        while got.len() < message.len() {
            let frame = echoed.frame().await.unwrap().unwrap();
            got.extend_from_slice(&frame.into_data().unwrap());
        }
        assert_eq!(got, message);
    }
    drop(tx);
    // Closing our side ends theirs (possibly after an empty end-of-stream data frame).
    loop {
        match echoed.frame().await {
            None => break,
            Some(Ok(frame)) => assert!(frame.data_ref().is_some_and(|d| d.is_empty()), "{frame:?}"),
            Some(Err(e)) => panic!("the stream failed instead of ending: {e}"),
        }
    }
}

#[tokio::test]
async fn a_connector_only_gets_the_connections_the_gateway_allows_it() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        &pki,
        dir.path().join(PINS_FILE),
        &[TOKEN],
        "127.0.0.1:0".parse().unwrap(),
        |c| {
            let allowed = [("edge-1".to_owned(), vec!["arm".to_owned()])];
            c.allowed_connections = Some(allowed.into_iter().collect());
        },
    )
    .await;
    // edge-1 claims "blob" too; the gateway's config says it serves only "arm".
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm", "blob"]), echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;
    assert_eq!(gw.pool.status()[0].connections, vec!["arm".to_owned()]);
    let err = gw.pool.send("blob", request("/", full("secret"))).await.unwrap_err();
    assert!(matches!(err, TunnelError::NoConnector { .. }), "{err:?}");
    assert!(gw.pool.send("arm", request("/", full("x"))).await.is_ok());
}

#[tokio::test]
async fn one_connector_can_keep_several_tunnels_and_enrolls_once() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let mut config = gw.connector(&pki, "edge-1", key(), &["arm"]);
    config.tunnels = 3;
    let _c = spawn_connector(config, echo_handler());
    // The first tunnel spends the token; the others are admitted by the pinned key.
    gw.wait_tunnels("edge-1", 3, WAIT).await;
    for i in 0..30 {
        let response = gw.pool.send("arm", request("/", full(format!("r{i}")))).await.unwrap();
        assert_eq!(collect(response.into_body()).await.unwrap(), format!("r{i}"));
    }
    assert_eq!(gw.pool.status()[0].requests_served, 30);
}
