//! Connector death, gateway restart, load spread across connectors.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use portcullis_tunnel::{handler_fn, ConnectorEvent, TunnelError, PINS_FILE};
use support::*;

const WAIT: Duration = Duration::from_secs(5);

/// Sends one chunk, then nothing, forever.
fn trickle_handler() -> Arc<dyn portcullis_tunnel::TunnelHandler> {
    handler_fn(|_, _req: Request<hyper::body::Incoming>| {
        Box::pin(async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let _ = tx.send(Ok(Bytes::from_static(b"first chunk"))).await;
                tx.closed().await;
            });
            Response::new(body)
        })
    })
}

#[tokio::test]
async fn connector_killed_mid_stream_fails_the_stream_within_a_second() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let connector = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm"]), trickle_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let mut body = gw.pool.send("arm", request("/", full(""))).await.unwrap().into_body();
    let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
    assert_eq!(first, "first chunk");
    connector.abort();
    let next = tokio::time::timeout(Duration::from_secs(1), body.frame()).await;
    match next {
        Ok(Some(Err(_))) => {}
        other => panic!("expected a body error within 1 s, got {other:?}"),
    }
    // And a new request fails at once with a clean "no connector" instead of hanging.
    let err = tokio::time::timeout(Duration::from_secs(1), async {
        loop {
            match gw.pool.send("arm", request("/", full(""))).await {
                Err(TunnelError::NoConnector { .. }) => return,
                Err(TunnelError::ConnectorLost(_)) => continue,
                other => panic!("unexpected {other:?}"),
            }
        }
    })
    .await;
    assert!(err.is_ok(), "the dead tunnel left the pool within 1 s");
}

#[tokio::test]
async fn a_silently_dead_path_is_caught_by_heartbeats() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start_with(
        &pki,
        dir.path().join(PINS_FILE),
        &[TOKEN],
        "127.0.0.1:0".parse().unwrap(),
        |c| {
            c.keepalive_interval = Duration::from_millis(200);
            c.keepalive_timeout = Duration::from_millis(300);
        },
    )
    .await;
    let relay = support::relay::Relay::start(gw.addr).await;
    let mut config = gw.connector(&pki, "edge-1", key(), &["arm"]);
    config.gateway = relay.addr.to_string();
    let _c = spawn_connector(config, trickle_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let mut body = gw.pool.send("arm", request("/", full(""))).await.unwrap().into_body();
    body.frame().await.unwrap().unwrap();
    relay.freeze();
    // No FIN, no RST: only the unanswered PING can tell. The stream fails instead of hanging.
    match tokio::time::timeout(WAIT, body.frame()).await {
        Ok(Some(Err(_))) => {}
        other => panic!("expected the stream to fail once heartbeats stopped, got {other:?}"),
    }
    gw.wait_tunnels("edge-1", 0, WAIT).await;
}

#[tokio::test]
async fn connector_reconnects_within_two_seconds_of_a_gateway_restart() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let addr = gw.addr;
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm"]), echo_handler());
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    gw.stop().await;
    // Down for a while, so the connector's backoff has grown.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let gw = Gateway::start_on(&pki, dir.path().join(PINS_FILE), &[], addr).await;
    gw.wait_tunnels("edge-1", 1, Duration::from_secs(2)).await;
    let response = gw.pool.send("arm", request("/after", full("ok"))).await.unwrap();
    assert_eq!(collect(response.into_body()).await.unwrap(), "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_two_connectors_dies_under_load_and_later_requests_all_succeed() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN, "token-b"]).await;
    let mut events = gw.pool.subscribe();
    let a = spawn_connector(gw.connector(&pki, "edge-a", key(), &["arm"]), echo_handler());
    let mut b_config = gw.connector(&pki, "edge-b", key(), &["arm"]);
    b_config.enrollment_token = Some("token-b".to_owned());
    let _b = spawn_connector(b_config, echo_handler());
    gw.wait_tunnels("edge-a", 1, WAIT).await;
    gw.wait_tunnels("edge-b", 1, WAIT).await;

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for w in 0..8 {
        let (pool, stop, done) = (gw.pool.clone(), Arc::clone(&stop), Arc::clone(&done));
        workers.push(tokio::spawn(async move {
            let mut outcomes: Vec<(Instant, bool)> = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let started = Instant::now();
                let body = format!("worker {w} request {}", outcomes.len());
                let ok = match pool.send("arm", request("/", full(body.clone()))).await {
                    Ok(response) => collect(response.into_body()).await.is_ok_and(|b| b == body.as_bytes()),
                    Err(_) => false,
                };
                outcomes.push((started, ok));
                done.fetch_add(1, Ordering::SeqCst);
            }
            outcomes
        }));
    }
    let wait_done = |at_least: u64| {
        let done = Arc::clone(&done);
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while done.load(Ordering::SeqCst) < at_least {
                assert!(Instant::now() < deadline, "load stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_done(200).await;
    a.abort();
    let noticed = loop {
        if let ConnectorEvent::Disconnected { name, .. } = events.recv().await.unwrap() {
            assert_eq!(name, "edge-a");
            break Instant::now();
        }
    };
    let before = done.load(Ordering::SeqCst);
    wait_done(before + 400).await;
    stop.store(true, Ordering::SeqCst);

    let mut after_ok = 0;
    for worker in workers {
        for (started, ok) in worker.await.unwrap() {
            if started > noticed {
                assert!(ok, "a request started after the death was noticed failed");
                after_ok += 1;
            }
        }
    }
    assert!(after_ok >= 300, "{after_ok} requests after the death");
    let status = gw.pool.status();
    let b = status.iter().find(|s| s.name == "edge-b").unwrap();
    let a = status.iter().find(|s| s.name == "edge-a").unwrap();
    assert!(b.connected && !a.connected && a.last_seen.is_some());
    assert!(a.requests_served > 0 && b.requests_served > 0, "load was spread: {status:?}");
}
