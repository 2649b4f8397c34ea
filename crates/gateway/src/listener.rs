//! Accepting connections: TCP, optional TLS, HTTP/1.1 and HTTP/2 with limits, and
//! graceful shutdown that drains in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::body::ProxyBody;
use crate::config::LimitsConfig;
use crate::pipeline::ConnInfo;

/// A request handler shared by every connection of one listener.
pub(crate) type Handler = Arc<
    dyn Fn(ConnInfo, Request<Incoming>) -> Pin<Box<dyn Future<Output = Response<ProxyBody>> + Send>>
        + Send
        + Sync,
>;

/// The connection-limit permit of the connection a request came on.
#[derive(Clone)]
pub(crate) struct ConnectionPermit {
    _held: Arc<tokio::sync::OwnedSemaphorePermit>,
}

/// A bound socket, ready to serve.
pub(crate) struct Bound {
    pub(crate) name: &'static str,
    pub(crate) tcp: TcpListener,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) addr: SocketAddr,
}

pub(crate) fn http_builder(limits: &LimitsConfig) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_buf_size(limits.max_header_bytes.0.max(8192) as usize)
        .max_headers(limits.max_headers)
        .keep_alive(true);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.h2_max_concurrent_streams)
        .max_pending_accept_reset_streams(limits.h2_max_pending_reset_streams)
        .max_local_error_reset_streams(Some(1024))
        .max_header_list_size(limits.max_header_bytes.0.min(u32::MAX as u64) as u32)
        .keep_alive_interval(Some(Duration::from_secs(30)))
        .keep_alive_timeout(Duration::from_secs(20));
    b
}

/// Serves `bound` until `shutdown` turns true, then drains for at most `grace`.
pub(crate) async fn serve(
    bound: Bound,
    handler: Handler,
    limits: LimitsConfig,
    max_connections: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    let builder = Arc::new(http_builder(&limits));
    let graceful = GracefulShutdown::new();
    let permits = Arc::new(Semaphore::new(max_connections));
    let mut tasks = JoinSet::new();
    let scheme = if bound.tls.is_some() { "https" } else { "http" };
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => break },
            _ = shutdown.changed() => break,
        };
        let accepted = tokio::select! {
            r = bound.tcp.accept() => r,
            _ = shutdown.changed() => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(listener = bound.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let info = ConnInfo { peer, local: bound.addr, scheme };
        let handler = handler.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        let tls = bound.tls.clone();
        let handshake_timeout = limits.header_timeout;
        tasks.spawn(async move {
            // Every request carries the connection's permit: a `CONNECT` tunnel (proxy.rs)
            // keeps it, so tunnels count against `limits.max_connections` for their life.
            let permit = ConnectionPermit { _held: Arc::new(permit) };
            let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
                req.extensions_mut().insert(permit.clone());
                let fut = handler(info, req);
                async move { Ok::<_, std::convert::Infallible>(fut.await) }
            });
            match tls {
                None => {
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
                Some(acceptor) => {
                    let Some(tls) = handshake(acceptor, stream, handshake_timeout, peer).await else {
                        return;
                    };
                    let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
                    if let Err(e) = watcher.watch(conn).await {
                        tracing::debug!(%peer, error = %e, "connection ended with an error");
                    }
                }
            }
        });
    }
    drop(bound.tcp);
    let open = graceful.count();
    tracing::info!(listener = bound.name, open, "draining connections");
    tokio::select! {
        _ = graceful.shutdown() => tracing::info!(listener = bound.name, "drained"),
        _ = tokio::time::sleep(limits.shutdown_grace) => {
            tracing::warn!(listener = bound.name, "shutdown grace elapsed; closing the remaining connections");
        }
    }
    tasks.abort_all();
}

async fn handshake(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    timeout: Duration,
    peer: SocketAddr,
) -> Option<tokio_rustls::server::TlsStream<TcpStream>> {
    match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            None
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            None
        }
    }
}
