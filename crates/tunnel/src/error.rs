//! The crate's error type and the refusal codes a connector is told.

use std::fmt;

/// Why the gateway refused a connector. Sent to the connector in plain words; the same
/// code goes into the gateway's `refused` event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalCode {
    /// The hello was malformed (bad name, too many connections, unknown protocol version).
    BadHello,
    /// The signature over the TLS session does not verify with the presented key.
    BadSignature,
    /// No key is pinned under this name and no enrollment token was presented.
    UnknownConnector,
    /// The enrollment token is not one the gateway was configured with.
    BadToken,
    /// The enrollment token was already exchanged for a key (tokens are single-use).
    TokenUsed,
    /// This name is pinned to a different key.
    KeyMismatch,
    /// This connector was revoked by an operator.
    Revoked,
    /// The gateway could not persist the pin (its data dir is not writable).
    Internal,
}

impl RefusalCode {
    /// A refusal that retrying with the same key and token cannot fix.
    pub fn is_permanent(self) -> bool {
        !matches!(self, RefusalCode::Internal)
    }

    /// The snake_case code, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalCode::BadHello => "bad_hello",
            RefusalCode::BadSignature => "bad_signature",
            RefusalCode::UnknownConnector => "unknown_connector",
            RefusalCode::BadToken => "bad_token",
            RefusalCode::TokenUsed => "token_used",
            RefusalCode::KeyMismatch => "key_mismatch",
            RefusalCode::Revoked => "revoked",
            RefusalCode::Internal => "internal",
        }
    }
}

impl fmt::Display for RefusalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A small `Copy` reason for logs, metrics and the gateway's HTTP status mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TunnelReason {
    /// No live connector serves the connection (gateway: 502 `connector_unavailable`).
    NoConnector,
    /// The connector went away before the response headers arrived (gateway: 502).
    ConnectorLost,
    /// The tunnel refused or could not carry the request (gateway: 502).
    Stream,
    /// The peer refused this tunnel during authentication.
    Refused,
    /// Network, TLS or handshake failure.
    Transport,
    /// Bad configuration, key or pins file.
    Config,
}

/// Everything that can go wrong in the tunnel.
#[derive(Debug, thiserror::Error)]
pub enum TunnelError {
    /// No live connector announced this connection.
    #[error("no connector is connected for connection {connection:?}")]
    NoConnector {
        /// The connection asked for.
        connection: String,
    },
    /// The tunnel closed, or the connector reset the stream, before the response head arrived.
    #[error("the connector went away or reset the stream before answering: {0}")]
    ConnectorLost(#[source] hyper::Error),
    /// The request could not be put on the tunnel.
    #[error("the tunnel could not carry the request: {0}")]
    Stream(String),
    /// The gateway refused the connector.
    #[error("the gateway refused this connector: {code} ({message})")]
    Refused {
        /// Why.
        code: RefusalCode,
        /// The gateway's plain-words explanation.
        message: String,
    },
    /// Network, TLS or protocol failure while setting up a tunnel.
    #[error("tunnel transport: {0}")]
    Transport(String),
    /// Bad configuration, key file or pins file.
    #[error("tunnel configuration: {0}")]
    Config(String),
}

impl TunnelError {
    /// The reason code (stable, for logs, metrics and status mapping).
    pub fn reason(&self) -> TunnelReason {
        match self {
            TunnelError::NoConnector { .. } => TunnelReason::NoConnector,
            TunnelError::ConnectorLost(_) => TunnelReason::ConnectorLost,
            TunnelError::Stream(_) => TunnelReason::Stream,
            TunnelError::Refused { .. } => TunnelReason::Refused,
            TunnelError::Transport(_) => TunnelReason::Transport,
            TunnelError::Config(_) => TunnelReason::Config,
        }
    }
}
