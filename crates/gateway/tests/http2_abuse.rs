//! Hostile HTTP/2 agents: the stream limit is announced and enforced, and a rapid-reset
//! flood (CVE-2023-44487) gets the connection closed while the gateway keeps serving.

mod common;

use std::time::Duration;

use common::{gateway, Upstream};
use http::Request;

async fn h2_client(
    addr: std::net::SocketAddr,
) -> (h2::client::SendRequest<bytes::Bytes>, tokio::task::JoinHandle<Result<(), h2::Error>>) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    let driver = tokio::spawn(conn);
    (send, driver)
}

#[tokio::test]
async fn concurrent_stream_limit_is_announced() {
    let up = Upstream::start().await;
    let h = gateway(&up, "[limits]\nh2_max_concurrent_streams = 7\n").await;
    let tcp = tokio::net::TcpStream::connect(h.gateway.data_addr()).await.unwrap();
    let (send, mut conn) = h2::client::handshake(tcp).await.unwrap();
    // Drive the connection until the server's SETTINGS arrive.
    let mut send = send;
    let req = Request::get(format!("http://{}/up/echo", h.gateway.data_addr())).body(()).unwrap();
    let (resp, _) = send.send_request(req, true).unwrap();
    let resp = tokio::select! {
        r = resp => r.unwrap(),
        c = &mut conn => panic!("the connection ended early: {c:?}"),
    };
    assert_eq!(resp.status(), 200);
    assert_eq!(conn.max_concurrent_send_streams(), 7, "the agent is told the stream limit");
    // Close our side; an idle agent that never reads GOAWAY would hold shutdown for the
    // whole grace period.
    drop((send, conn));
    h.gateway.shutdown().await;
}

#[tokio::test]
async fn rapid_reset_flood_closes_the_connection_and_the_gateway_keeps_serving() {
    let up = Upstream::start().await;
    let h = gateway(&up, "[limits]\nh2_max_pending_reset_streams = 20\n").await;
    let addr = h.gateway.data_addr();
    let (mut send, driver) = h2_client(addr).await;
    let mut refused = false;
    for _ in 0..5_000 {
        let req = Request::get(format!("http://{addr}/up/slow?ms=2000")).body(()).unwrap();
        match send.send_request(req, true) {
            Ok((_resp, mut stream)) => stream.send_reset(h2::Reason::CANCEL),
            Err(_) => {
                refused = true;
                break;
            }
        }
        if driver.is_finished() {
            refused = true;
            break;
        }
        tokio::task::yield_now().await;
    }
    let ended = tokio::time::timeout(Duration::from_secs(5), driver).await;
    assert!(refused || ended.is_ok(), "the flooding connection was closed");
    // Far fewer requests reached the upstream than were opened.
    assert!(up.received().len() < 1_000, "{} requests reached the upstream", up.received().len());
    // The gateway still serves everyone else.
    let resp = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap()
        .get(h.url("/up/echo"))
        .send()
        .await;
    assert_eq!(resp.unwrap().status(), 200);
    h.gateway.shutdown().await;
}
