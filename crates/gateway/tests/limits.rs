//! Limits answer with the right status, and slow or large agents are cut off.

mod common;

use std::time::Duration;

use common::{gateway, raw, status_of, Upstream};
use tokio::io::AsyncWriteExt;

const LIMITS: &str = "[limits]\nmax_request_body = \"64KiB\"\nmax_uri_len = 1024\nmax_headers = 20\n\
                      max_header_bytes = \"16KiB\"\nbody_timeout = \"300ms\"\nheader_timeout = \"500ms\"\n";

#[tokio::test]
async fn oversize_requests_get_413_414_431() {
    let up = Upstream::start().await;
    let h = gateway(&up, LIMITS).await;
    let client = reqwest::Client::new();

    let resp = client.post(h.url("/up/echo")).body(vec![0u8; 65 * 1024]).send().await.unwrap();
    assert_eq!(resp.status(), 413, "declared length over the limit");

    // A chunked body that grows past the limit is cut off while streaming.
    let stream = futures_util::stream::iter((0..40).map(|_| Ok::<_, std::io::Error>(vec![1u8; 4096])));
    let resp = client.post(h.url("/up/echo")).body(reqwest::Body::wrap_stream(stream)).send().await.unwrap();
    assert_eq!(resp.status(), 413, "streamed body over the limit");

    let long = format!("/up/{}", "a".repeat(2000));
    assert_eq!(client.get(h.url(&long)).send().await.unwrap().status(), 414);

    let mut req = client.get(h.url("/up/echo"));
    for i in 0..30 {
        req = req.header(format!("x-h{i}"), "v");
    }
    assert_eq!(req.send().await.unwrap().status(), 431, "too many headers");
    let big = "v".repeat(20 * 1024);
    let resp = raw(
        h.gateway.data_addr(),
        format!("GET /up/echo HTTP/1.1\r\nHost: gw\r\nX-Big: {big}\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(status_of(&resp), 431, "header bytes over the limit");

    let ok = client.post(h.url("/up/echo")).body(vec![0u8; 60 * 1024]).send().await.unwrap();
    assert_eq!(ok.status(), 200, "within limits passes");
    let forwarded: Vec<_> = up.received().into_iter().filter(|s| s.method == "POST").collect();
    assert!(forwarded.iter().all(|s| s.body_len <= 64 * 1024), "no oversize body was delivered whole");
    h.gateway.shutdown().await;
}

#[tokio::test]
async fn stalled_body_gets_408_and_slow_headers_are_dropped() {
    let up = Upstream::start().await;
    let h = gateway(&up, LIMITS).await;
    let addr = h.gateway.data_addr();

    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"POST /up/echo HTTP/1.1\r\nHost: gw\r\nContent-Length: 100\r\n\r\nonly-part").await.unwrap();
    let mut out = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if out.windows(4).any(|w| w == b"\r\n\r\n") {
                        break;
                    }
                }
            }
        }
    })
    .await;
    assert!(read.is_ok(), "the gateway answered a stalled body instead of waiting forever");
    assert_eq!(status_of(&String::from_utf8_lossy(&out)), 408);

    // Slowloris: a head that never completes is closed after header_timeout.
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(b"GET /up/echo HTTP/1.1\r\nHost: gw\r\n").await.unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1024];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow head does not hold the connection past its timeout");
    h.gateway.shutdown().await;
}
