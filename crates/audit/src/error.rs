//! The crate's one error type and its `Copy` reason code.

/// Why an audit operation failed. `Copy`, for logs, metrics, `/readyz` and the HTTP status
/// (the gateway answers 503 for [`AuditReason::QueueFull`] and
/// [`AuditReason::StoreUnavailable`]: it never forwards a request it could not record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditReason {
    /// The writer's bounded queue is full: the store cannot keep up.
    QueueFull,
    /// The store refused a write (locked, read-only, disk full, gone); the writer retries
    /// in the background and recovers on its own.
    StoreUnavailable,
    /// The writer has stopped (shutdown).
    Closed,
    /// The signing key could not be created, read or parsed.
    Key,
    /// An event could not be serialized, or a stored one could not be parsed.
    Encoding,
    /// A read query (verify, sessions, export) failed.
    Query,
    /// Writing an export failed.
    Output,
}

impl AuditReason {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            AuditReason::QueueFull => "audit_queue_full",
            AuditReason::StoreUnavailable => "audit_store_unavailable",
            AuditReason::Closed => "audit_closed",
            AuditReason::Key => "audit_key",
            AuditReason::Encoding => "audit_encoding",
            AuditReason::Query => "audit_query",
            AuditReason::Output => "audit_output",
        }
    }
}

/// An audit failure with operator-facing detail (never shown to agents).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{detail}")]
pub struct AuditError {
    /// The stable reason.
    pub reason: AuditReason,
    /// What happened.
    pub detail: String,
}

impl AuditError {
    pub(crate) fn new(reason: AuditReason, detail: impl Into<String>) -> Self {
        AuditError { reason, detail: detail.into() }
    }

    pub(crate) fn db(reason: AuditReason, context: &str, err: sqlx::Error) -> Self {
        AuditError::new(reason, format!("{context}: {err}"))
    }

    pub(crate) fn query(context: &str, err: sqlx::Error) -> Self {
        Self::db(AuditReason::Query, context, err)
    }
}
