//! The crate's one error type and its reason codes.

use std::path::PathBuf;

/// Everything that can go wrong while starting or driving the fakes and the peers.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A loopback listener could not be bound.
    #[error("could not bind a loopback listener: {0}")]
    Bind(#[source] std::io::Error),
    /// Key generation or signing failed inside aws-lc-rs.
    #[error("cryptographic operation failed: {0}")]
    Crypto(String),
    /// A certificate could not be generated.
    #[error("certificate generation failed: {0}")]
    Certificate(String),
    /// A claim set or document could not be serialized.
    #[error("could not serialize JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A principal named in a call is not registered in the fake.
    #[error("no principal named {0:?} is registered in the fake Entra ID")]
    UnknownPrincipal(String),
    /// A third-party peer (Python venv, node_modules) is not installed.
    #[error("{what} is not installed (looked for {}): run tests/peers/install.sh", path.display())]
    PeerMissing {
        /// Which peer is missing.
        what: &'static str,
        /// The path that was checked.
        path: PathBuf,
    },
    /// A peer process could not be spawned or died before it was ready.
    #[error("peer {what} failed: {detail}")]
    PeerFailed {
        /// Which peer failed.
        what: &'static str,
        /// What happened, including the tail of its output when there is one.
        detail: String,
    },
}

/// A small, stable code for each [`SandboxError`] variant, for logs and assertions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// See [`SandboxError::Bind`].
    Bind,
    /// See [`SandboxError::Crypto`].
    Crypto,
    /// See [`SandboxError::Certificate`].
    Certificate,
    /// See [`SandboxError::Json`].
    Json,
    /// See [`SandboxError::UnknownPrincipal`].
    UnknownPrincipal,
    /// See [`SandboxError::PeerMissing`].
    PeerMissing,
    /// See [`SandboxError::PeerFailed`].
    PeerFailed,
}

impl SandboxError {
    /// The reason code of this error.
    pub fn reason(&self) -> Reason {
        match self {
            Self::Bind(_) => Reason::Bind,
            Self::Crypto(_) => Reason::Crypto,
            Self::Certificate(_) => Reason::Certificate,
            Self::Json(_) => Reason::Json,
            Self::UnknownPrincipal(_) => Reason::UnknownPrincipal,
            Self::PeerMissing { .. } => Reason::PeerMissing,
            Self::PeerFailed { .. } => Reason::PeerFailed,
        }
    }
}

/// Result alias for this crate.
pub type Result<T, E = SandboxError> = std::result::Result<T, E>;
