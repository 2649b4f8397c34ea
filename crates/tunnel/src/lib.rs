//! The gateway⇄connector tunnel: the one transport both sides use.
//!
//! A connector runs inside the target's network and dials *out* to the gateway's tunnel
//! listener over TLS. It proves who it is (an enrollment token exchanged once for a pinned
//! Ed25519 key, then a signature over the TLS session's exporter secret), and then the roles
//! flip: the gateway is the HTTP/2 *client* on that socket and the connector the HTTP/2
//! *server*. Every request is an HTTP/2 stream with its own flow control, bodies stream
//! both ways, and dropping either end resets the stream.
//!
//! Gateway side: [`TunnelServer`] accepts and authenticates connectors and fills a
//! [`ConnectorPool`], whose [`ConnectorPool::send`] sends one request to a live connector
//! that serves the named connection. Connector side: [`TunnelClient::run`] keeps one tunnel
//! up (reconnecting with jittered backoff) and hands each request to a [`TunnelHandler`].
//!
//! This crate knows nothing about credentials, policy or audit storage: the connector crate
//! supplies the handler, and the gateway consumes [`ConnectorEvent`]s and
//! [`ConnectorStatus`]. See `docs/tunnel.md`.

mod backoff;
mod client;
mod error;
mod events;
mod keys;
mod pins;
mod pool;
mod server;
mod tls;
mod wire;

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;

pub use backoff::Backoff;
pub use client::{handler_fn, HandlerFuture, TunnelClient, TunnelClientConfig, TunnelHandler};
pub use error::{RefusalCode, TunnelError, TunnelReason};
pub use events::{ConnectorEvent, ConnectorStatus};
pub use keys::ConnectorKey;
pub use pins::PINS_FILE;
pub use pool::ConnectorPool;
pub use server::{TunnelServer, TunnelServerConfig};
pub use tls::{client_tls_from_ca_pem, server_tls_from_pem, ALPN};
pub use wire::{CONNECTION_HEADER, RAW_STREAM_HEADER};

/// A boxed error, the error type of [`BoxBody`].
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The body type requests and handler responses carry through the tunnel.
pub type BoxBody = UnsyncBoxBody<Bytes, BoxError>;
