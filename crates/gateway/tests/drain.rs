//! Graceful shutdown: in-flight requests finish, new connections are refused.

mod common;

use std::time::Duration;

use common::{gateway, Upstream};

#[tokio::test]
async fn shutdown_drains_in_flight_requests() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let url = h.url("/up/slow?ms=700");
    let addr = h.gateway.data_addr();
    let in_flight = tokio::spawn(async move { reqwest::get(url).await.map(|r| r.status().as_u16()) });
    // Wait until the request has reached the upstream, then stop the gateway.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while up.received().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "request never reached the upstream");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopping = tokio::spawn(h.gateway.shutdown());
    assert_eq!(in_flight.await.unwrap().unwrap(), 200, "the in-flight request completed");
    stopping.await.unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no new connections after shutdown");
}
