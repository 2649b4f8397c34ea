//! The crate's one error type and its stable reason codes.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why an access operation failed. `Copy`; the code is the API's stable `error.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessReason {
    /// No authenticated principal.
    Unauthenticated,
    /// No such request or grant.
    NotFound,
    /// The connection has no access settings.
    UnknownConnection,
    /// The level is not one the connection defines.
    UnknownLevel,
    /// The body or a parameter is malformed.
    InvalidRequest,
    /// A reason is required.
    ReasonRequired,
    /// The duration exceeds the connection's maximum.
    DurationTooLong,
    /// Policy does not allow this.
    NotAllowed,
    /// The approver is the requester (or the same person, or acts for them).
    SelfApproval,
    /// This person already approved the request.
    AlreadyApproved,
    /// The request is no longer pending.
    AlreadyDecided,
    /// The request expired before a decision.
    RequestExpired,
    /// The request changed since the approver looked at it.
    RequestChanged,
    /// The caller's token has expired.
    TokenExpired,
    /// The grant is revoked or expired.
    GrantInactive,
    /// The store failed.
    Store,
    /// A policy could not be evaluated.
    Policy,
    /// The configuration or policy files are invalid.
    Config,
    /// Anything else internal.
    Internal,
}

impl AccessReason {
    /// The stable code.
    pub fn code(self) -> &'static str {
        use AccessReason::*;
        match self {
            Unauthenticated => "unauthenticated",
            NotFound => "not_found",
            UnknownConnection => "unknown_connection",
            UnknownLevel => "unknown_level",
            InvalidRequest => "invalid_request",
            ReasonRequired => "reason_required",
            DurationTooLong => "duration_too_long",
            NotAllowed => "not_allowed",
            SelfApproval => "self_approval",
            AlreadyApproved => "already_approved",
            AlreadyDecided => "already_decided",
            RequestExpired => "request_expired",
            RequestChanged => "request_changed",
            TokenExpired => "token_expired",
            GrantInactive => "grant_inactive",
            Store => "store_unavailable",
            Policy => "policy_error",
            Config => "config_invalid",
            Internal => "internal",
        }
    }

    /// The HTTP status for this reason.
    pub fn status(self) -> StatusCode {
        use AccessReason::*;
        match self {
            Unauthenticated | TokenExpired => StatusCode::UNAUTHORIZED,
            NotFound | UnknownConnection => StatusCode::NOT_FOUND,
            UnknownLevel | InvalidRequest | ReasonRequired | DurationTooLong => StatusCode::BAD_REQUEST,
            NotAllowed | SelfApproval => StatusCode::FORBIDDEN,
            AlreadyApproved | AlreadyDecided | RequestExpired | RequestChanged | GrantInactive => {
                StatusCode::CONFLICT
            }
            Store => StatusCode::SERVICE_UNAVAILABLE,
            Policy | Config | Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn internal(self) -> bool {
        matches!(
            self,
            AccessReason::Store | AccessReason::Policy | AccessReason::Config | AccessReason::Internal
        )
    }
}

/// An access failure: a reason and a message. For internal reasons the message is for the
/// operator only; the HTTP body then carries a generic text.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct AccessError {
    /// The stable reason.
    pub reason: AccessReason,
    /// What happened and what to do next.
    pub message: String,
}

impl AccessError {
    /// An error with a message.
    pub fn new(reason: AccessReason, message: impl Into<String>) -> Self {
        AccessError { reason, message: message.into() }
    }

    pub(crate) fn db(err: sqlx::Error) -> Self {
        AccessError::new(AccessReason::Store, format!("access store: {err}"))
    }
}

impl From<sqlx::Error> for AccessError {
    fn from(err: sqlx::Error) -> Self {
        AccessError::db(err)
    }
}

/// The project's JSON error body.
pub(crate) fn error_body(code: &str, message: &str) -> serde_json::Value {
    serde_json::json!({ "error": { "code": code, "message": message } })
}

impl IntoResponse for AccessError {
    fn into_response(self) -> Response {
        let message = if self.reason.internal() {
            tracing::error!(code = self.reason.code(), detail = %self.message, "access API failure");
            "the gateway could not complete this operation; the operator log has details"
        } else {
            self.message.as_str()
        };
        (self.reason.status(), axum::Json(error_body(self.reason.code(), message))).into_response()
    }
}
