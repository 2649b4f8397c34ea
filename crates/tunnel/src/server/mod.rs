//! The gateway side: the tunnel listener, connector authentication, the pool.

mod accept;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use crate::keys::key_id;
use crate::pins::PinStore;
use crate::pool::ConnectorPool;
use crate::TunnelError;

/// How the gateway's tunnel listener behaves.
#[derive(Debug, Clone)]
pub struct TunnelServerConfig {
    /// The listener's TLS config (see [`crate::server_tls_from_pem`]): TLS 1.3, ALPN [`crate::ALPN`].
    pub tls: Arc<rustls::ServerConfig>,
    /// Enrollment tokens, each exchangeable once for a pinned connector key.
    pub enrollment_tokens: Vec<String>,
    /// The pins file, normally `data_dir/connectors.json` ([`crate::PINS_FILE`]).
    pub pins_path: PathBuf,
    /// How long a connector may take from TCP accept to a verdict.
    pub handshake_timeout: Duration,
    /// HTTP/2 PING interval on each tunnel.
    pub keepalive_interval: Duration,
    /// A tunnel whose PING is not answered within this is closed (its requests fail).
    pub keepalive_timeout: Duration,
    /// HTTP/2 per-stream receive window (bounds what one slow response can buffer).
    pub stream_window: u32,
    /// HTTP/2 per-tunnel receive window.
    pub connection_window: u32,
    /// Which connections each connector may serve (connector name → connection names), from
    /// the gateway's connection config. A connection a connector announces but may not serve
    /// is ignored (never routed to it); a connector not listed serves nothing. `None` trusts
    /// every announcement (single-operator development setups only).
    pub allowed_connections: Option<BTreeMap<String, Vec<String>>>,
}

impl TunnelServerConfig {
    /// Defaults: 10 s handshake, PING every 10 s with a 10 s timeout, 1 MiB stream and
    /// 8 MiB tunnel windows, announcements trusted.
    pub fn new(tls: Arc<rustls::ServerConfig>, pins_path: PathBuf) -> Self {
        TunnelServerConfig {
            tls,
            enrollment_tokens: Vec::new(),
            pins_path,
            handshake_timeout: Duration::from_secs(10),
            keepalive_interval: Duration::from_secs(10),
            keepalive_timeout: Duration::from_secs(10),
            stream_window: 1024 * 1024,
            connection_window: 8 * 1024 * 1024,
            allowed_connections: None,
        }
    }
}

struct Inner {
    config: TunnelServerConfig,
    acceptor: TlsAcceptor,
    pins: PinStore,
    pool: ConnectorPool,
    shutdown: CancellationToken,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunnelServer")
            .field("pins", &self.config.pins_path)
            .field("pool", &self.pool)
            .finish()
    }
}

/// The gateway's tunnel listener. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TunnelServer {
    inner: Arc<Inner>,
}

impl TunnelServer {
    /// Loads the pins file (a broken one is an error, never silently emptied).
    pub fn new(config: TunnelServerConfig) -> Result<Self, TunnelError> {
        let pins = PinStore::open(config.pins_path.clone(), &config.enrollment_tokens)?;
        let pool = ConnectorPool::new();
        for (name, pin) in pins.pinned() {
            pool.add_pinned(&name, key_id(&pin.public_key), pin.revoked);
        }
        let acceptor = TlsAcceptor::from(Arc::clone(&config.tls));
        Ok(TunnelServer {
            inner: Arc::new(Inner { config, acceptor, pins, pool, shutdown: CancellationToken::new() }),
        })
    }

    /// The pool the gateway's forward step sends through.
    pub fn pool(&self) -> ConnectorPool {
        self.inner.pool.clone()
    }

    /// Accepts connectors on `listener` until [`TunnelServer::shutdown`].
    pub async fn serve(&self, listener: TcpListener) -> Result<(), TunnelError> {
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                () = self.inner.shutdown.cancelled() => return Ok(()),
            };
            match accepted {
                Ok((stream, remote)) => {
                    let inner = Arc::clone(&self.inner);
                    tokio::spawn(async move { accept::handle(inner, stream, remote).await });
                }
                Err(e) => {
                    // Out of file descriptors and the like: keep the listener, slow down.
                    tracing::warn!(error = %e, "tunnel accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }

    /// Revokes a connector: its key is refused from now on (persisted) and its tunnels close.
    /// Returns whether it was pinned.
    pub fn revoke(&self, name: &str) -> Result<bool, TunnelError> {
        let was = self.inner.pins.revoke(name)?;
        self.inner.pool.close_named(name);
        Ok(was)
    }

    /// Stops accepting and closes every tunnel (their in-flight requests fail).
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
        self.inner.pool.close_all();
    }
}
