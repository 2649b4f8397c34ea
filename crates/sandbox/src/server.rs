//! Serving an axum router on a loopback port until the owner is dropped.

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};

use tokio::net::TcpListener;
use tokio::sync::oneshot;

use crate::error::{Result, SandboxError};

/// A bound loopback listener, not serving yet, so the caller knows its URL first.
pub(crate) struct Bound {
    listener: TcpListener,
    pub(crate) addr: SocketAddr,
}

impl Bound {
    /// Binds `127.0.0.1:0`.
    pub(crate) async fn loopback() -> Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await.map_err(SandboxError::Bind)?;
        let addr = listener.local_addr().map_err(SandboxError::Bind)?;
        Ok(Self { listener, addr })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub(crate) fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT` (no trailing slash).
    pub(crate) fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Serves `router` over TLS (h2 or http/1.1 by ALPN) until the guard is dropped.
    pub(crate) fn serve_tls(self, router: axum::Router, tls: Arc<rustls::ServerConfig>) -> ServerGuard {
        let (tx, mut rx) = oneshot::channel::<()>();
        let acceptor = tokio_rustls::TlsAcceptor::from(tls);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = &mut rx => break,
                    accepted = self.listener.accept() => accepted,
                };
                let Ok((stream, _)) = accepted else { continue };
                let (acceptor, router) = (acceptor.clone(), router.clone());
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else { return };
                    let service = hyper_util::service::TowerToHyperService::new(router);
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    if let Err(err) = builder.serve_connection(TokioIo::new(stream), service).await {
                        tracing::debug!(%err, "sandbox TLS connection ended with an error");
                    }
                });
            }
        });
        ServerGuard { _stop: tx }
    }

    /// Serves `router` on a spawned task until the returned guard is dropped.
    pub(crate) fn serve(self, router: axum::Router) -> ServerGuard {
        let (tx, rx) = oneshot::channel::<()>();
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = rx.await;
            };
            if let Err(err) = axum::serve(self.listener, router).with_graceful_shutdown(shutdown).await {
                tracing::warn!(%err, "sandbox server stopped with an error");
            }
        });
        ServerGuard { _stop: tx }
    }
}

/// Stops the server when dropped.
#[derive(Debug)]
pub(crate) struct ServerGuard {
    _stop: oneshot::Sender<()>,
}
