//! Errors of the data path, and the one place they become HTTP responses.
//!
//! The agent gets a stable JSON body, `{"error":{"code":…,"message":…}}`, whose `code`
//! it can act on. Internal detail (upstream addresses, I/O errors) goes to the log only.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use portcullis_canonical::CanonError;

use crate::body::{full, ProxyBody};

/// Everything that can stop a request on the data path.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The canonicalizer refused the request as ambiguous or oversized.
    #[error("refused by canonicalization: {0}")]
    Canon(#[from] CanonError),
    /// No bearer token, or one that does not validate. `None`: no token at all.
    #[error("not authenticated: {}", .0.as_ref().map(|e| e.detail()).unwrap_or("no bearer token"))]
    Unauthenticated(Option<portcullis_identity::AuthError>),
    /// The identity provider's keys could not be fetched, so no token can be checked.
    #[error("identity provider unavailable: {}", .0.detail())]
    IdentityUnavailable(portcullis_identity::AuthError),
    /// No active grant for this principal and connection. Carries the body that tells
    /// the agent how to ask (`request_url`, `levels`), or `None` when the connection takes
    /// no access requests.
    #[error("no active grant for this connection")]
    AccessRequired(Option<serde_json::Value>),
    /// A guardrail refused the request.
    #[error("denied by guardrail {rule:?}: {summary}")]
    Denied {
        /// The rule that decided, if one did (else the connection's default).
        rule: Option<String>,
        /// What the request would have done, in plain words (control characters neutralised).
        summary: String,
    },
    /// A guardrail says a person must approve this exact request, and no approval for it
    /// is waiting to be spent. Carries the review body (`review_id`, `wait_url`, …), or
    /// `None` when the request has no principal to bind a review to (development mode).
    #[error("needs approval under guardrail {rule:?}: {summary}")]
    ApprovalRequired {
        /// The rule that decided, if one did.
        rule: Option<String>,
        /// What the request would have done.
        summary: String,
        /// The agent-facing body naming the review.
        body: Option<serde_json::Value>,
    },
    /// A person denied this exact request.
    #[error("review denied")]
    ReviewDenied(serde_json::Value),
    /// Reviews could not be read or written (the access store failed).
    #[error("reviews unavailable: {0}")]
    ReviewUnavailable(String),
    /// The body must be inspected by guardrails (or bound to a review) but is larger than
    /// `limits.max_inspected_body`.
    #[error("request body exceeds the {limit}-byte inspection limit")]
    BodyNotInspectable {
        /// The configured limit.
        limit: u64,
    },
    /// The audit log cannot take the request's record, so it is not forwarded.
    #[error("audit log unavailable: {0}")]
    AuditUnavailable(portcullis_audit::AuditError),
    /// The request body is larger than `limits.max_request_body`.
    #[error("request body exceeds {limit} bytes")]
    BodyTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The agent's body ended in an error (the agent aborted it).
    #[error("request body aborted: {0}")]
    BodyAborted(String),
    /// The agent paused sending its body for longer than `limits.body_timeout`.
    #[error("request body stalled")]
    BodyTimeout,
    /// No connection matches the path prefix or host.
    #[error("no connection matches the request")]
    NoConnection,
    /// The upstream could not be reached or failed mid-request.
    #[error("upstream failed: {0}")]
    Upstream(String),
    /// The response cannot be masked (unsupported content or encoding on a connection that
    /// masks): it is not passed on (fail closed).
    #[error("response cannot be masked: {0}")]
    Unmaskable(String),
    /// No remote connector that serves the connection is attached, or the one carrying the
    /// request went away before answering.
    #[error("connector unavailable: {0}")]
    ConnectorUnavailable(String),
    /// The upstream did not start answering within `limits.upstream_timeout`.
    #[error("upstream did not answer in time")]
    UpstreamTimeout,
    /// The gateway is shutting down.
    #[error("gateway is shutting down")]
    ShuttingDown,
}

/// Stable, `Copy` reason for logs, metrics and the response `code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// See [`GatewayError::Canon`]; the canonical reason is more specific.
    Canon(portcullis_canonical::Reason),
    /// 401.
    Unauthenticated,
    /// 503.
    IdentityUnavailable,
    /// 403.
    AccessRequired,
    /// 403.
    Denied,
    /// 403.
    ApprovalRequired,
    /// 403.
    ReviewDenied,
    /// 503.
    ReviewUnavailable,
    /// 413.
    BodyNotInspectable,
    /// 503.
    AuditUnavailable,
    /// 413.
    BodyTooLarge,
    /// 408.
    BodyTimeout,
    /// 400.
    BodyAborted,
    /// 404.
    NoConnection,
    /// 502.
    UpstreamFailed,
    /// 502.
    ConnectorUnavailable,
    /// 504.
    UpstreamTimeout,
    /// 502.
    Unmaskable,
    /// 503.
    ShuttingDown,
}

impl Reason {
    /// The stable code in the agent-facing body.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Canon(r) => r.code(),
            Reason::Unauthenticated => "unauthenticated",
            Reason::IdentityUnavailable => "identity_unavailable",
            Reason::AccessRequired => "access_required",
            Reason::Denied => "denied",
            Reason::ApprovalRequired => "approval_required",
            Reason::ReviewDenied => "review_denied",
            Reason::ReviewUnavailable => "review_unavailable",
            Reason::BodyNotInspectable => "body_too_large_to_inspect",
            Reason::AuditUnavailable => "audit_unavailable",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BodyTimeout => "body_timeout",
            Reason::BodyAborted => "body_aborted",
            Reason::NoConnection => "unknown_connection",
            Reason::UpstreamFailed => "upstream_failed",
            Reason::ConnectorUnavailable => "connector_unavailable",
            Reason::UpstreamTimeout => "upstream_timeout",
            Reason::Unmaskable => "response_unmaskable",
            Reason::ShuttingDown => "shutting_down",
        }
    }

    /// The HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            Reason::Canon(r) => StatusCode::from_u16(r.status()).unwrap_or(StatusCode::BAD_REQUEST),
            Reason::Unauthenticated => StatusCode::UNAUTHORIZED,
            Reason::IdentityUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reason::AccessRequired | Reason::Denied | Reason::ApprovalRequired | Reason::ReviewDenied => {
                StatusCode::FORBIDDEN
            }
            Reason::ReviewUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reason::BodyNotInspectable => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::AuditUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Reason::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Reason::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Reason::BodyAborted => StatusCode::BAD_REQUEST,
            Reason::NoConnection => StatusCode::NOT_FOUND,
            Reason::UpstreamFailed | Reason::ConnectorUnavailable => StatusCode::BAD_GATEWAY,
            Reason::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Reason::Unmaskable => StatusCode::BAD_GATEWAY,
            Reason::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl GatewayError {
    /// The stable reason.
    pub fn reason(&self) -> Reason {
        match self {
            GatewayError::Canon(e) => Reason::Canon(e.reason),
            GatewayError::Unauthenticated(_) => Reason::Unauthenticated,
            GatewayError::IdentityUnavailable(_) => Reason::IdentityUnavailable,
            GatewayError::AccessRequired(_) => Reason::AccessRequired,
            GatewayError::Denied { .. } => Reason::Denied,
            GatewayError::ApprovalRequired { .. } => Reason::ApprovalRequired,
            GatewayError::ReviewDenied(_) => Reason::ReviewDenied,
            GatewayError::ReviewUnavailable(_) => Reason::ReviewUnavailable,
            GatewayError::BodyNotInspectable { .. } => Reason::BodyNotInspectable,
            GatewayError::AuditUnavailable(_) => Reason::AuditUnavailable,
            GatewayError::BodyTooLarge { .. } => Reason::BodyTooLarge,
            GatewayError::BodyTimeout => Reason::BodyTimeout,
            GatewayError::BodyAborted(_) => Reason::BodyAborted,
            GatewayError::NoConnection => Reason::NoConnection,
            GatewayError::Upstream(_) => Reason::UpstreamFailed,
            GatewayError::ConnectorUnavailable(_) => Reason::ConnectorUnavailable,
            GatewayError::UpstreamTimeout => Reason::UpstreamTimeout,
            GatewayError::Unmaskable(_) => Reason::Unmaskable,
            GatewayError::ShuttingDown => Reason::ShuttingDown,
        }
    }

    /// What the agent is told: specific about the rule, silent about internals.
    fn public_message(&self) -> String {
        match self {
            GatewayError::Canon(e) => format!("the request is ambiguous and was not forwarded: {}", e.message),
            GatewayError::Unauthenticated(None) => {
                "a bearer token is required: send `Authorization: Bearer <token>` with an OIDC access token or a \
                 Portcullis grant token"
                    .into()
            }
            GatewayError::Unauthenticated(Some(e)) => format!("the bearer token was refused: {}", e.public_description()),
            GatewayError::IdentityUnavailable(_) => {
                "the identity provider's keys cannot be fetched right now; retry shortly".into()
            }
            GatewayError::Denied { rule, summary } => format!(
                "refused by guardrail {}: {summary}",
                rule.as_deref().unwrap_or("(connection default)")
            ),
            GatewayError::ApprovalRequired { rule, summary, .. } => format!(
                "a person must approve this exact request ({summary}; guardrail {}), and a review needs an \
                 authenticated agent, so it was not forwarded",
                rule.as_deref().unwrap_or("(connection default)")
            ),
            GatewayError::ReviewDenied(_) => "a person denied this exact request".into(),
            GatewayError::ReviewUnavailable(_) => {
                "the gateway cannot read or record approvals right now, so it was not forwarded; retry shortly".into()
            }
            GatewayError::BodyNotInspectable { limit } => format!(
                "guardrails must read this request's body, and it is larger than {limit} bytes; send a smaller one"
            ),
            GatewayError::AccessRequired(_) => {
                "you have no active grant for this connection, and it takes no access requests".into()
            }
            GatewayError::AuditUnavailable(_) => {
                "the gateway cannot record this request right now, so it was not forwarded; retry shortly".into()
            }
            GatewayError::BodyTooLarge { limit } => format!("the request body is larger than {limit} bytes"),
            GatewayError::BodyTimeout => "the request body stopped arriving; send it without pauses".into(),
            GatewayError::BodyAborted(_) => "the request body ended in an error and was not forwarded".into(),
            GatewayError::NoConnection => {
                "no connection matches this request: address it as /{connection}/… or by a host the connection \
                 claims"
                    .into()
            }
            GatewayError::Upstream(_) => "the target could not be reached or failed; try again later".into(),
            GatewayError::ConnectorUnavailable(_) => {
                "the connector that holds this connection's credential is not attached, or went away before \
                 answering; retry shortly"
                    .into()
            }
            GatewayError::UpstreamTimeout => "the target did not answer in time".into(),
            GatewayError::Unmaskable(_) => {
                "the target's answer cannot be inspected for secrets (unsupported content type or encoding), so \
                 it was not passed on"
                    .into()
            }
            GatewayError::ShuttingDown => "the gateway is shutting down; retry against another replica".into(),
        }
    }

    /// The agent-facing response. The only place data-path errors become HTTP.
    pub(crate) fn into_response(self) -> Response<ProxyBody> {
        let body = match &self {
            GatewayError::AccessRequired(Some(body))
            | GatewayError::ApprovalRequired { body: Some(body), .. }
            | GatewayError::ReviewDenied(body) => Some(body),
            _ => None,
        };
        if let Some(body) = body {
            let mut resp = Response::new(full(Bytes::from(body.to_string())));
            *resp.status_mut() = StatusCode::FORBIDDEN;
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            return resp;
        }
        let mut resp = error_response(self.reason(), &self.public_message());
        if let GatewayError::Unauthenticated(e) = &self {
            let challenge = portcullis_identity::www_authenticate(e.as_ref());
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
            }
        }
        resp
    }
}

/// A JSON error response with a stable code.
pub(crate) fn error_response(reason: Reason, message: &str) -> Response<ProxyBody> {
    let body = serde_json::json!({ "error": { "code": reason.code(), "message": message } });
    let mut resp = Response::new(full(Bytes::from(body.to_string())));
    *resp.status_mut() = reason.status();
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
