//! The connector side: dial the gateway, authenticate, serve HTTP/2 on the tunnel,
//! reconnect with jittered backoff.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::backoff::Backoff;
use crate::keys::ConnectorKey;
use crate::wire::{
    read_frame, signed_message, write_frame, Hello, Verdict, CONNECTION_HEADER, EXPORTER_LABEL, PROTOCOL,
};
use crate::{BoxBody, RefusalCode, TunnelError};

/// What a handler returns.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Response<BoxBody>> + Send>>;

/// Answers requests arriving through the tunnel (the connector's inject-and-forward).
///
/// The future is dropped if the gateway cancels the stream; the response body is dropped
/// if the gateway stops reading it.
pub trait TunnelHandler: Send + Sync + 'static {
    /// Answers one request for `connection` (already checked to be one this connector announced).
    fn handle(&self, connection: String, req: Request<Incoming>) -> HandlerFuture;
}

struct HandlerFn<F>(F);

impl<F> TunnelHandler for HandlerFn<F>
where
    F: Fn(String, Request<Incoming>) -> HandlerFuture + Send + Sync + 'static,
{
    fn handle(&self, connection: String, req: Request<Incoming>) -> HandlerFuture {
        (self.0)(connection, req)
    }
}

/// Wraps a closure as a [`TunnelHandler`].
pub fn handler_fn<F>(f: F) -> Arc<dyn TunnelHandler>
where
    F: Fn(String, Request<Incoming>) -> HandlerFuture + Send + Sync + 'static,
{
    Arc::new(HandlerFn(f))
}

/// How a connector reaches and identifies itself to the gateway.
#[derive(Debug, Clone)]
pub struct TunnelClientConfig {
    /// The gateway's tunnel listener, `host:port`.
    pub gateway: String,
    /// The name on the gateway's tunnel certificate.
    pub server_name: String,
    /// TLS trusting the gateway's CA (see [`crate::client_tls_from_ca_pem`]).
    pub tls: Arc<rustls::ClientConfig>,
    /// This connector's name (what the gateway pins its key under).
    pub name: String,
    /// The version it announces.
    pub version: String,
    /// The connections it serves.
    pub connections: Vec<String>,
    /// Its identity key.
    pub key: Arc<ConnectorKey>,
    /// The enrollment token, needed only until the gateway has pinned the key.
    pub enrollment_token: Option<String>,
    /// Reconnect delays.
    pub backoff: Backoff,
    /// HTTP/2 PING interval towards the gateway.
    pub keepalive_interval: Duration,
    /// The tunnel is dropped (and redialled) if a PING is not answered within this.
    pub keepalive_timeout: Duration,
    /// Most concurrent requests the gateway may send on this tunnel.
    pub max_concurrent_streams: u32,
    /// HTTP/2 per-stream receive window (bounds what one slow request body can buffer).
    pub stream_window: u32,
    /// HTTP/2 per-tunnel receive window.
    pub connection_window: u32,
    /// How many tunnels to keep up side by side (default 1).
    pub tunnels: usize,
}

impl TunnelClientConfig {
    /// Defaults: PING every 10 s with a 10 s timeout, 1024 streams, 1 MiB / 8 MiB windows.
    pub fn new(
        gateway: String,
        server_name: String,
        tls: Arc<rustls::ClientConfig>,
        name: String,
        key: Arc<ConnectorKey>,
    ) -> Self {
        TunnelClientConfig {
            gateway,
            server_name,
            tls,
            name,
            version: String::new(),
            connections: Vec::new(),
            key,
            enrollment_token: None,
            backoff: Backoff::default(),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(10),
            max_concurrent_streams: 1024,
            stream_window: 1024 * 1024,
            connection_window: 8 * 1024 * 1024,
            tunnels: 1,
        }
    }
}

/// The connector's end of the tunnel.
#[derive(Debug)]
pub struct TunnelClient;

impl TunnelClient {
    /// Keeps a tunnel to the gateway up, forever: on any network failure it redials after a
    /// jittered, growing delay (reset once a tunnel was up). Returns only when the gateway
    /// refuses the connector for a reason retrying cannot fix (revoked, token spent, …).
    ///
    /// With `config.tunnels > 1` it keeps that many tunnels up side by side (each an
    /// independent TLS connection), so one tunnel's connection task is not the bottleneck
    /// on a busy multi-core connector.
    pub async fn run(
        config: TunnelClientConfig,
        handler: Arc<dyn TunnelHandler>,
    ) -> Result<Infallible, TunnelError> {
        if config.tunnels <= 1 {
            return Self::keep_up(&config, handler).await;
        }
        let each = (0..config.tunnels).map(|_| Box::pin(Self::keep_up(&config, Arc::clone(&handler))));
        // Every tunnel runs until a permanent refusal; the first one ends them all.
        futures_util::future::select_all(each).await.0
    }

    async fn keep_up(
        config: &TunnelClientConfig,
        handler: Arc<dyn TunnelHandler>,
    ) -> Result<Infallible, TunnelError> {
        let mut attempt = 0u32;
        loop {
            match Self::serve_once(config, Arc::clone(&handler)).await {
                Ok(()) => attempt = 0,
                Err(TunnelError::Refused { code, message }) if code.is_permanent() => {
                    tracing::error!(%code, %message, "the gateway refused this connector");
                    return Err(TunnelError::Refused { code, message });
                }
                Err(e) => tracing::warn!(error = %e, attempt, "could not reach the gateway"),
            }
            tokio::time::sleep(config.backoff.delay(attempt)).await;
            attempt = attempt.saturating_add(1);
        }
    }

    /// Connects once and serves until the tunnel closes. `Ok` means a tunnel was up.
    pub async fn serve_once(
        config: &TunnelClientConfig,
        handler: Arc<dyn TunnelHandler>,
    ) -> Result<(), TunnelError> {
        let tcp = TcpStream::connect(&config.gateway)
            .await
            .map_err(|e| TunnelError::Transport(format!("connecting to {}: {e}", config.gateway)))?;
        let _ = tcp.set_nodelay(true);
        let server_name = ServerName::try_from(config.server_name.clone())
            .map_err(|e| TunnelError::Config(format!("gateway server name {:?}: {e}", config.server_name)))?;
        let mut tls = TlsConnector::from(Arc::clone(&config.tls))
            .connect(server_name, tcp)
            .await
            .map_err(|e| TunnelError::Transport(format!("TLS to {}: {e}", config.gateway)))?;
        let exporter = tls
            .get_ref()
            .1
            .export_keying_material([0u8; 32], EXPORTER_LABEL, None)
            .map_err(|e| TunnelError::Transport(format!("TLS exporter: {e}")))?;
        let hello = Hello {
            protocol: PROTOCOL,
            name: config.name.clone(),
            version: config.version.clone(),
            connections: config.connections.clone(),
            public_key: config.key.public_hex(),
            signature: config.key.sign_hex(&signed_message(&exporter, &config.name)),
            enrollment_token: config.enrollment_token.clone(),
        };
        write_frame(&mut tls, &hello).await?;
        let verdict: Verdict = read_frame(&mut tls).await?;
        if !verdict.ok {
            return Err(TunnelError::Refused {
                code: verdict.code.unwrap_or(RefusalCode::Internal),
                message: verdict.message,
            });
        }
        tracing::info!(gateway = %config.gateway, name = %config.name, "tunnel up");
        let connections: Arc<[String]> = config.connections.clone().into();
        let service = hyper::service::service_fn(move |req| {
            let handler = Arc::clone(&handler);
            let connections = Arc::clone(&connections);
            async move { Ok::<_, Infallible>(dispatch(handler, &connections, req).await) }
        });
        let served = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .keep_alive_interval(config.keepalive_interval)
            .keep_alive_timeout(config.keepalive_timeout)
            .max_concurrent_streams(config.max_concurrent_streams)
            .initial_stream_window_size(config.stream_window)
            .initial_connection_window_size(config.connection_window)
            .serve_connection(TokioIo::new(tls), service)
            .await;
        match served {
            Ok(()) => tracing::info!("tunnel closed by the gateway"),
            Err(e) => tracing::warn!(error = %e, "tunnel failed"),
        }
        Ok(())
    }
}

async fn dispatch(
    handler: Arc<dyn TunnelHandler>,
    connections: &[String],
    mut req: Request<Incoming>,
) -> Response<BoxBody> {
    let connection = req
        .headers_mut()
        .remove(CONNECTION_HEADER)
        .and_then(|v| v.to_str().ok().map(str::to_owned))
        .filter(|c| connections.iter().any(|known| known == c));
    match connection {
        Some(connection) => handler.handle(connection, req).await,
        None => misdirected(),
    }
}

fn misdirected() -> Response<BoxBody> {
    let body = Full::new(bytes::Bytes::from_static(b"this connector does not serve that connection\n"))
        .map_err(|never| match never {})
        .boxed_unsync();
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::MISDIRECTED_REQUEST;
    response
}
