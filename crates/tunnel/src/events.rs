//! What the gateway learns about connectors: events (for the audit log) and status (for
//! `GET /api/v1/connectors`).

use std::net::SocketAddr;

use serde::Serialize;

use crate::error::RefusalCode;

/// A connector link changed. The gateway audits each one.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ConnectorEvent {
    /// A connector authenticated and its tunnel is up.
    Connected {
        /// The connector's name.
        name: String,
        /// Its key id (first 16 hex digits of the SHA-256 of its public key).
        key_id: String,
        /// This tunnel's id (a connector that reconnects gets a new one).
        session: uuid::Uuid,
        /// The version the connector announced.
        version: String,
        /// The connections it serves.
        connections: Vec<String>,
        /// Where it connected from.
        remote: SocketAddr,
        /// Whether this connection spent an enrollment token and pinned the key.
        enrolled: bool,
    },
    /// A tunnel went down; its in-flight requests have failed.
    Disconnected {
        /// The connector's name.
        name: String,
        /// Its key id.
        key_id: String,
        /// The tunnel's id.
        session: uuid::Uuid,
        /// Why, in plain words (closed by the connector, heartbeat timeout, revoked, shutdown).
        reason: String,
    },
    /// A connector was refused during authentication.
    Refused {
        /// The name it claimed, if it got that far.
        name: Option<String>,
        /// Where it connected from.
        remote: SocketAddr,
        /// Why.
        code: RefusalCode,
    },
}

/// One connector as the control API shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConnectorStatus {
    /// The connector's name (as pinned).
    pub name: String,
    /// Its key id.
    pub id: String,
    /// Whether at least one tunnel from it is up.
    pub connected: bool,
    /// How many tunnels from it are up (replicas may share a name and key).
    pub tunnels: usize,
    /// When it was last known alive: now while connected (heartbeats prove it), else when
    /// its last tunnel closed; `None` if never seen since the gateway started.
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_seen: Option<time::OffsetDateTime>,
    /// The version it last announced.
    pub version: Option<String>,
    /// The connections it last announced.
    pub connections: Vec<String>,
    /// Requests it answered since the gateway started.
    pub requests_served: u64,
    /// Whether an operator revoked it.
    pub revoked: bool,
}
