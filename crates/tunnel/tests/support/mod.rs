//! Shared test harness: a gateway tunnel listener and connectors on loopback, port 0.
#![allow(dead_code, unreachable_pub)]

pub mod bodies;
pub mod relay;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use http_body_util::BodyExt;
use portcullis_tunnel::{
    client_tls_from_ca_pem, handler_fn, server_tls_from_pem, ConnectorKey, ConnectorPool, TunnelClient,
    TunnelClientConfig, TunnelError, TunnelHandler, TunnelServer, TunnelServerConfig,
};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

pub use bodies::*;

pub const TOKEN: &str = "enroll-me-once";

/// A self-signed certificate for `gateway.test`, its key, and a client TLS config trusting it.
pub struct Pki {
    pub cert_pem: String,
    pub key_pem: String,
    pub client: Arc<rustls::ClientConfig>,
}

impl Pki {
    pub fn new() -> Self {
        let certified = rcgen::generate_simple_self_signed(vec!["gateway.test".to_owned()]).unwrap();
        let cert_pem = certified.cert.pem();
        let key_pem = certified.signing_key.serialize_pem();
        let client = client_tls_from_ca_pem(cert_pem.as_bytes()).unwrap();
        Pki { cert_pem, key_pem, client }
    }
}

/// A running tunnel listener.
pub struct Gateway {
    pub server: TunnelServer,
    pub pool: ConnectorPool,
    pub addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Gateway {
    pub async fn start(pki: &Pki, pins: PathBuf, tokens: &[&str]) -> Self {
        Self::start_on(pki, pins, tokens, "127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(pki: &Pki, pins: PathBuf, tokens: &[&str], addr: SocketAddr) -> Self {
        Self::start_with(pki, pins, tokens, addr, |_| {}).await
    }

    pub async fn start_with(
        pki: &Pki,
        pins: PathBuf,
        tokens: &[&str],
        addr: SocketAddr,
        adjust: impl FnOnce(&mut TunnelServerConfig),
    ) -> Self {
        let tls = server_tls_from_pem(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes()).unwrap();
        let mut config = TunnelServerConfig::new(tls, pins);
        config.enrollment_tokens = tokens.iter().map(|t| (*t).to_owned()).collect();
        adjust(&mut config);
        let server = TunnelServer::new(config).unwrap();
        let listener = TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let pool = server.pool();
        let s = server.clone();
        let task = tokio::spawn(async move { s.serve(listener).await.unwrap() });
        Gateway { server, pool, addr, task }
    }

    /// Shuts down and waits until the listener is closed.
    pub async fn stop(self) {
        self.server.shutdown();
        self.task.await.unwrap();
    }

    pub fn connector(
        &self,
        pki: &Pki,
        name: &str,
        key: Arc<ConnectorKey>,
        connections: &[&str],
    ) -> TunnelClientConfig {
        let mut config = TunnelClientConfig::new(
            self.addr.to_string(),
            "gateway.test".to_owned(),
            Arc::clone(&pki.client),
            name.to_owned(),
            key,
        );
        config.version = "test-1.0".to_owned();
        config.connections = connections.iter().map(|c| (*c).to_owned()).collect();
        config.enrollment_token = Some(TOKEN.to_owned());
        config
    }

    /// Waits (with a deadline) until `name` has `tunnels` live tunnels.
    pub async fn wait_tunnels(&self, name: &str, tunnels: usize, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let now = self.pool.status().into_iter().find(|s| s.name == name).map_or(0, |s| s.tunnels);
            if now == tunnels {
                return;
            }
            assert!(Instant::now() < deadline, "{name}: {now} tunnels, wanted {tunnels} within {within:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Runs a connector in a task; aborting the task kills it (its socket closes).
pub fn spawn_connector(
    config: TunnelClientConfig,
    handler: Arc<dyn TunnelHandler>,
) -> JoinHandle<Result<Infallible, TunnelError>> {
    tokio::spawn(TunnelClient::run(config, handler))
}

pub fn key() -> Arc<ConnectorKey> {
    Arc::new(ConnectorKey::generate().unwrap())
}

/// Echoes the request body back as the response body, streaming, with the connection
/// name and path in headers.
pub fn echo_handler() -> Arc<dyn TunnelHandler> {
    handler_fn(|connection, req: Request<hyper::body::Incoming>| {
        Box::pin(async move {
            let path = req.uri().path().to_owned();
            let leaked = req.headers().contains_key(portcullis_tunnel::CONNECTION_HEADER);
            let body = req.into_body().map_err(|e| Box::new(e) as portcullis_tunnel::BoxError).boxed_unsync();
            Response::builder()
                .header("x-connection", connection)
                .header("x-path", path)
                .header("x-saw-connection-header", leaked.to_string())
                .body(body)
                .unwrap()
        })
    })
}

pub fn request(path: &str, body: portcullis_tunnel::BoxBody) -> Request<portcullis_tunnel::BoxBody> {
    Request::builder().method("POST").uri(path).body(body).unwrap()
}

/// Collects a whole body.
pub async fn collect(body: hyper::body::Incoming) -> Result<bytes::Bytes, hyper::Error> {
    Ok(body.collect().await?.to_bytes())
}
