//! The connector's errors. None of them carries a secret or a minted credential: token
//! endpoint answers are reduced to their OAuth error code and description.

/// Why the connector could not forward a request.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The configuration is unusable (a missing secret file, a bad certificate, ...).
    #[error("connection `{connection}`: {detail}")]
    Config {
        /// The connection.
        connection: String,
        /// What is wrong and how to fix it.
        detail: String,
    },
    /// This connector serves no connection by that name.
    #[error("this connector serves no connection named `{0}`")]
    UnknownConnection(String),
    /// The grant the request belongs to has ended: no credential is minted or used for it.
    #[error("the request's grant has expired")]
    GrantExpired,
    /// The request cannot be sent as given (a bad target, a bad internal header).
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A short-lived credential could not be obtained from the identity provider.
    #[error("connection `{connection}`: could not obtain a credential: {detail}")]
    Credential {
        /// The connection.
        connection: String,
        /// What the identity provider said (never the secret or a token).
        detail: String,
    },
    /// The upstream could not be reached or broke the exchange.
    #[error("upstream: {0}")]
    Upstream(#[source] hyper_util::client::legacy::Error),
}

/// A small, stable code for logs, metrics and the HTTP status chosen by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectorReason {
    /// [`ConnectorError::Config`].
    Config,
    /// [`ConnectorError::UnknownConnection`].
    UnknownConnection,
    /// [`ConnectorError::GrantExpired`].
    GrantExpired,
    /// [`ConnectorError::BadRequest`].
    BadRequest,
    /// [`ConnectorError::Credential`].
    CredentialUnavailable,
    /// [`ConnectorError::Upstream`].
    Upstream,
}

impl ConnectorReason {
    /// The code as written in logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            ConnectorReason::Config => "connector_config",
            ConnectorReason::UnknownConnection => "unknown_connection",
            ConnectorReason::GrantExpired => "grant_expired",
            ConnectorReason::BadRequest => "bad_request",
            ConnectorReason::CredentialUnavailable => "credential_unavailable",
            ConnectorReason::Upstream => "upstream_unavailable",
        }
    }
}

impl ConnectorError {
    /// The error's reason code.
    pub fn reason(&self) -> ConnectorReason {
        match self {
            ConnectorError::Config { .. } => ConnectorReason::Config,
            ConnectorError::UnknownConnection(_) => ConnectorReason::UnknownConnection,
            ConnectorError::GrantExpired => ConnectorReason::GrantExpired,
            ConnectorError::BadRequest(_) => ConnectorReason::BadRequest,
            ConnectorError::Credential { .. } => ConnectorReason::CredentialUnavailable,
            ConnectorError::Upstream(_) => ConnectorReason::Upstream,
        }
    }

    pub(crate) fn config(connection: &str, detail: impl Into<String>) -> Self {
        ConnectorError::Config { connection: connection.to_owned(), detail: detail.into() }
    }

    pub(crate) fn credential(connection: &str, detail: impl Into<String>) -> Self {
        ConnectorError::Credential { connection: connection.to_owned(), detail: detail.into() }
    }
}
