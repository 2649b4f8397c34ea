/// Why a store operation failed. `Copy`, for logs, metrics and `/readyz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreReason {
    /// The data directory or database file could not be created or opened.
    Open,
    /// A migration failed, or the database does not match the migrations we know.
    Migration,
    /// The database is not writable or not answering.
    Unavailable,
}

impl StoreReason {
    /// Stable code.
    pub fn code(self) -> &'static str {
        match self {
            StoreReason::Open => "store_open",
            StoreReason::Migration => "store_migration",
            StoreReason::Unavailable => "store_unavailable",
        }
    }
}

/// A store failure with the operator-facing detail.
#[derive(Debug, thiserror::Error)]
#[error("{detail}")]
pub struct StoreError {
    /// The stable reason.
    pub reason: StoreReason,
    /// What happened, for the operator (never shown to agents).
    pub detail: String,
}

impl StoreError {
    pub(crate) fn new(reason: StoreReason, detail: impl Into<String>) -> Self {
        StoreError { reason, detail: detail.into() }
    }

    pub(crate) fn db(reason: StoreReason, context: &str, err: sqlx::Error) -> Self {
        StoreError::new(reason, format!("{context}: {err}"))
    }
}
