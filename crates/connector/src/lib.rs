//! The connector: it holds a target's permanent credential, mints a short-lived one for
//! each request, injects it, and forwards the request to the upstream.
//!
//! This crate owns the credential providers (Entra ID client secret, certificate,
//! workload identity federation, managed identity; Azure Storage SharedKey signing;
//! static headers), the injection rules (every credential the agent sent is removed) and
//! the pooled upstream client. One type, [`Connector`], serves both modes: *embedded*
//! (called in-process by the gateway's forward step) and *remote* (called by the tunnel
//! for each request the gateway sends to a `portcullis connector` process).
//!
//! It must not know about the gateway's pipeline, grants or audit: a request arrives
//! with the connection's name, an origin-form target and, optionally, the expiry of the
//! grant it belongs to ([`GRANT_EXPIRES_HEADER`]).

mod client;
mod config;
mod connector;
mod error;
mod fetch;
mod inject;
mod provider;
mod respond;
mod secret;

pub use client::{build_client, ConnectorBody, UpstreamClient};
pub use config::{ConfigError, ConnectionConfig, ConnectorConfig, CredentialConfig, ManagedIdentityProtocol};
pub use connector::{Connector, GRANT_EXPIRES_HEADER};
pub use error::{ConnectorError, ConnectorReason};
pub use respond::CONNECTOR_ERROR_HEADER;
pub use secret::Secret;
