//! Flow control (a slow reader holds the connector back) and cancellation both ways.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use portcullis_tunnel::{handler_fn, BoxError, TunnelHandler, PINS_FILE};
use support::*;
use tokio::sync::oneshot;

const WAIT: Duration = Duration::from_secs(5);
/// What may sit between a producer and a reader that stopped: the receiver's 1 MiB stream
/// window plus a chunk (measured: exactly 1 MiB + 16 KiB), with slack.
const BOUND: u64 = 2 * 1024 * 1024;

type Dropped = Arc<Mutex<Option<oneshot::Receiver<()>>>>;

/// Answers with an endless body; records how much it produced and when it is dropped.
fn endless_handler(produced: Arc<AtomicU64>, dropped: Dropped) -> Arc<dyn TunnelHandler> {
    handler_fn(move |_, _req: Request<hyper::body::Incoming>| {
        let (tx, rx) = oneshot::channel();
        *dropped.lock().unwrap() = Some(rx);
        let body = Endless {
            chunk: Bytes::from(vec![b'z'; 16 * 1024]),
            produced: Arc::clone(&produced),
            _dropped: DropSignal(Some(tx)),
        };
        Box::pin(async move { Response::new(body.boxed_unsync()) })
    })
}

/// Waits until `produced` stops moving (the producer is blocked), then returns it.
async fn settled(produced: &AtomicU64) -> u64 {
    let deadline = Instant::now() + WAIT;
    let mut last = produced.load(Ordering::SeqCst);
    let mut still = 0;
    while still < 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
        let now = produced.load(Ordering::SeqCst);
        still = if now == last { still + 1 } else { 0 };
        last = now;
    }
    last
}

#[tokio::test]
async fn a_slow_reader_holds_the_connector_back_with_bounded_buffering() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let produced = Arc::new(AtomicU64::new(0));
    let dropped: Dropped = Arc::default();
    let handler = endless_handler(Arc::clone(&produced), Arc::clone(&dropped));
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["blob"]), handler);
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let mut body = gw.pool.send("blob", request("/big", full(""))).await.unwrap().into_body();
    let mut consumed = 0u64;
    // Read 64 MiB slowly: never more than BOUND ahead of the reader.
    while consumed < 64 * 1024 * 1024 {
        let chunk = body.frame().await.unwrap().unwrap().into_data().unwrap();
        consumed += chunk.len() as u64;
        let ahead = produced.load(Ordering::SeqCst) - consumed;
        assert!(ahead <= BOUND, "the connector ran {ahead} bytes ahead of the reader");
        if consumed % (4 * 1024 * 1024) < chunk.len() as u64 {
            tokio::task::yield_now().await;
        }
    }
    // Stop reading: the producer stops too, within the bound.
    let parked = settled(&produced).await;
    assert!(parked - consumed <= BOUND, "{} bytes buffered for a stalled reader", parked - consumed);
    // Resume: it flows again.
    for _ in 0..200 {
        body.frame().await.unwrap().unwrap().into_data().unwrap();
    }
    assert!(produced.load(Ordering::SeqCst) > parked);
}

#[tokio::test]
async fn dropping_the_response_body_drops_the_connectors_body() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let produced = Arc::new(AtomicU64::new(0));
    let dropped: Dropped = Arc::default();
    let handler = endless_handler(Arc::clone(&produced), Arc::clone(&dropped));
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["blob"]), handler);
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let mut body = gw.pool.send("blob", request("/big", full(""))).await.unwrap().into_body();
    body.frame().await.unwrap().unwrap();
    let signal = dropped.lock().unwrap().take().unwrap();
    drop(body);
    tokio::time::timeout(WAIT, signal).await.expect("the connector's body was dropped").unwrap();
    // The tunnel is fine afterwards.
    let echo_probe = gw.pool.send("blob", request("/again", full(""))).await.unwrap();
    assert_eq!(echo_probe.status(), 200);
}

#[tokio::test]
async fn dropping_the_request_before_the_answer_drops_the_handler() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    let (started_tx, started_rx) = oneshot::channel::<oneshot::Receiver<()>>();
    let started_tx = Arc::new(Mutex::new(Some(started_tx)));
    let handler = handler_fn(move |_, _req: Request<hyper::body::Incoming>| {
        let (drop_tx, drop_rx) = oneshot::channel();
        if let Some(tx) = started_tx.lock().unwrap().take() {
            let _ = tx.send(drop_rx);
        }
        Box::pin(async move {
            let _guard = DropSignal(Some(drop_tx));
            std::future::pending::<()>().await;
            Response::new(full(""))
        })
    });
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm"]), handler);
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let pool = gw.pool.clone();
    let pending = tokio::spawn(async move { pool.send("arm", request("/slow", full(""))).await });
    let handler_dropped = tokio::time::timeout(WAIT, started_rx).await.unwrap().unwrap();
    pending.abort();
    tokio::time::timeout(WAIT, handler_dropped).await.expect("the handler future was dropped").unwrap();
}

#[tokio::test]
async fn a_connector_side_failure_mid_body_reaches_the_gateway_as_an_error() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    // The handler fails its body once the gateway has read the first chunk (a reset may
    // discard data still in flight, so the test waits for it to be read).
    let (read_tx, read_rx) = oneshot::channel::<()>();
    let read_rx = Arc::new(Mutex::new(Some(read_rx)));
    let handler = handler_fn(move |_, _req: Request<hyper::body::Incoming>| {
        let read_rx = read_rx.lock().unwrap().take();
        Box::pin(async move {
            let (tx, body) = channel_body();
            tokio::spawn(async move {
                let _ = tx.send(Ok(Bytes::from_static(b"partial"))).await;
                if let Some(read) = read_rx {
                    let _ = read.await;
                }
                let _ = tx.send(Err(BoxError::from("upstream went away"))).await;
            });
            Response::new(body)
        })
    });
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["arm"]), handler);
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let mut body = gw.pool.send("arm", request("/", full(""))).await.unwrap().into_body();
    assert_eq!(body.frame().await.unwrap().unwrap().into_data().unwrap(), "partial");
    read_tx.send(()).unwrap();
    let end = tokio::time::timeout(WAIT, body.frame()).await.expect("no hang");
    assert!(matches!(end, Some(Err(_))), "a truncated body must not look complete: {end:?}");
}

#[tokio::test]
async fn a_connector_that_does_not_read_holds_back_the_upload() {
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let gw = Gateway::start(&pki, dir.path().join(PINS_FILE), &[TOKEN]).await;
    // The handler answers at once but never reads the request body (a stalled upstream).
    let parked: Arc<Mutex<Vec<Request<hyper::body::Incoming>>>> = Arc::default();
    let keep = Arc::clone(&parked);
    let handler = handler_fn(move |_, req: Request<hyper::body::Incoming>| {
        keep.lock().unwrap().push(req);
        Box::pin(async move { Response::new(full("accepted")) })
    });
    let _c = spawn_connector(gw.connector(&pki, "edge-1", key(), &["blob"]), handler);
    gw.wait_tunnels("edge-1", 1, WAIT).await;

    let produced = Arc::new(AtomicU64::new(0));
    let (tx, _dropped) = oneshot::channel();
    let upload = Endless {
        chunk: Bytes::from(vec![b'u'; 16 * 1024]),
        produced: Arc::clone(&produced),
        _dropped: DropSignal(Some(tx)),
    };
    let response = gw.pool.send("blob", request("/upload", upload.boxed_unsync())).await.unwrap();
    assert_eq!(response.status(), 200);
    let sent = settled(&produced).await;
    assert!(sent > 0, "the upload started");
    assert!(sent <= BOUND, "{sent} bytes of upload buffered for a connector that reads nothing");
    assert_eq!(parked.lock().unwrap().len(), 1);
}
