//! Enrollment, key pinning, refusals and revocation.

mod support;

use std::time::Duration;

use portcullis_tunnel::{ConnectorEvent, ConnectorKey, RefusalCode, TunnelClient, TunnelError, PINS_FILE};
use support::*;

const WAIT: Duration = Duration::from_secs(5);

fn refusal(result: Result<(), TunnelError>) -> RefusalCode {
    match result {
        Err(TunnelError::Refused { code, .. }) => code,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn enrolls_once_then_reconnects_with_the_pinned_key_only() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let mut events = gw.pool.subscribe();

    // The connector keeps its key in a file it generates on first start.
    let key_path = dir.path().join("connector.key");
    let stored = std::sync::Arc::new(ConnectorKey::load_or_create(&key_path).unwrap());
    let config = gw.connector(&pki, "edge-1", stored, &["arm"]);
    let first = spawn_connector(config.clone(), echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;
    match events.recv().await.unwrap() {
        ConnectorEvent::Connected { name, enrolled, version, connections, .. } => {
            assert_eq!((name.as_str(), enrolled, version.as_str()), ("edge-1", true, "test-1.0"));
            assert_eq!(connections, vec!["arm".to_owned()]);
        }
        other => panic!("unexpected {other:?}"),
    }
    first.abort();
    gw.wait_tunnels("edge-1", 0, WAIT).await;

    // A restarted connector (key reloaded from its file, no token any more) is let in.
    let mut again = config.clone();
    again.key = std::sync::Arc::new(ConnectorKey::load_or_create(&key_path).unwrap());
    again.enrollment_token = None;
    let second = spawn_connector(again, echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;
    let status = gw.pool.status();
    assert_eq!(status.len(), 1);
    assert!(status[0].connected && !status[0].revoked);
    assert_eq!(status[0].version.as_deref(), Some("test-1.0"));
    second.abort();

    // The pin survives a gateway restart; a different key under the same name is refused.
    gw.stop().await;
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let status = gw.pool.status();
    assert_eq!((status[0].name.as_str(), status[0].connected), ("edge-1", false));
    let mut impostor = gw.connector(&pki, "edge-1", key(), &["arm"]);
    assert_eq!(refusal(TunnelClient::serve_once(&impostor, echo_handler()).await), RefusalCode::KeyMismatch);
    impostor.enrollment_token = None;
    assert_eq!(refusal(TunnelClient::serve_once(&impostor, echo_handler()).await), RefusalCode::KeyMismatch);
}

#[tokio::test]
async fn wrong_missing_and_replayed_tokens_are_refused() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let mut events = gw.pool.subscribe();

    let mut wrong = gw.connector(&pki, "edge-1", key(), &["arm"]);
    wrong.enrollment_token = Some("not-the-token".to_owned());
    assert_eq!(refusal(TunnelClient::serve_once(&wrong, echo_handler()).await), RefusalCode::BadToken);
    match events.recv().await.unwrap() {
        ConnectorEvent::Refused { name, code, .. } => {
            assert_eq!((name.as_deref(), code), (Some("edge-1"), RefusalCode::BadToken));
        }
        other => panic!("unexpected {other:?}"),
    }
    wrong.enrollment_token = None;
    assert_eq!(
        refusal(TunnelClient::serve_once(&wrong, echo_handler()).await),
        RefusalCode::UnknownConnector
    );

    let good = gw.connector(&pki, "edge-1", key(), &["arm"]);
    let task = spawn_connector(good, echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    // The same token again, from another connector: spent.
    let replay = gw.connector(&pki, "edge-2", key(), &["arm"]);
    assert_eq!(refusal(TunnelClient::serve_once(&replay, echo_handler()).await), RefusalCode::TokenUsed);
    // `run` gives up on a permanent refusal instead of hammering the gateway.
    match TunnelClient::run(replay, echo_handler()).await {
        Err(TunnelError::Refused { code: RefusalCode::TokenUsed, .. }) => {}
        other => panic!("expected TokenUsed, got {other:?}"),
    }
    // Still spent after a gateway restart.
    task.abort();
    gw.stop().await;
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let replay = gw.connector(&pki, "edge-3", key(), &["arm"]);
    assert_eq!(refusal(TunnelClient::serve_once(&replay, echo_handler()).await), RefusalCode::TokenUsed);
}

#[tokio::test]
async fn revocation_closes_the_tunnel_and_refuses_the_key() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let config = gw.connector(&pki, "edge-1", key(), &["arm"]);
    let task = spawn_connector(config, echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    assert!(gw.server.revoke("edge-1").unwrap());
    // The connector is cut off, redials, is refused as revoked, and stops.
    match tokio::time::timeout(WAIT, task).await.unwrap().unwrap() {
        Err(TunnelError::Refused { code: RefusalCode::Revoked, .. }) => {}
        other => panic!("expected Revoked, got {other:?}"),
    }
    let status = gw.pool.status();
    assert!(status[0].revoked && !status[0].connected);
    let err = gw.pool.send("arm", request("/x", full("hi"))).await.unwrap_err();
    assert!(matches!(err, TunnelError::NoConnector { .. }), "{err:?}");
}

#[tokio::test]
async fn a_plain_tcp_peer_gets_no_tunnel() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    // A non-TLS peer gets nothing (the handshake fails; no event, no tunnel).
    let mut plain = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut plain, b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
    let mut buf = [0u8; 64];
    let n = tokio::io::AsyncReadExt::read(&mut plain, &mut buf).await.unwrap_or(0);
    assert!(!buf[..n].starts_with(b"HTTP/"), "the tunnel listener never speaks plain HTTP");
    assert!(gw.pool.status().is_empty());
}
