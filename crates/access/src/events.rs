//! Audit events of access: one for every state change. Written through [`EventSink`],
//! today into the `access_events` table; the audit crate takes them over later.

use std::future::Future;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use sqlx::SqlitePool;

use crate::error::AccessError;
use crate::model::{now_ms, AccessRequest, Actor, Grant};
use crate::review::Review;

/// Something that happened to an access request or grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AccessEvent {
    /// A request was made.
    RequestCreated {
        /// The request as created.
        request: AccessRequest,
    },
    /// One approval was recorded (the request may still need more).
    ApprovalRecorded {
        /// The request.
        request_id: String,
        /// Who approved.
        approver: Actor,
        /// Their comment.
        comment: Option<String>,
        /// Policies that allowed this approver (or approved automatically).
        policies: Vec<String>,
        /// Approvals so far, and needed.
        count: u32,
        /// Approvals needed.
        required: u32,
    },
    /// The request was approved and a grant made.
    RequestApproved {
        /// The request.
        request_id: String,
        /// The grant.
        grant: Grant,
    },
    /// The request was denied.
    RequestDenied {
        /// The request.
        request_id: String,
        /// Who denied.
        by: Actor,
        /// Why.
        reason: String,
    },
    /// The requester withdrew the request.
    RequestCancelled {
        /// The request.
        request_id: String,
        /// Who cancelled.
        by: Actor,
    },
    /// The request expired while pending.
    RequestExpired {
        /// The request.
        request_id: String,
    },
    /// A grant token was issued.
    GrantTokenIssued {
        /// The grant.
        grant_id: String,
        /// Token expiry (RFC 3339).
        expires_at: String,
    },
    /// A grant was revoked.
    GrantRevoked {
        /// The grant.
        grant_id: String,
        /// Who revoked.
        by: Actor,
        /// Why.
        reason: Option<String>,
    },
    /// A grant ran out.
    GrantExpired {
        /// The grant.
        grant_id: String,
    },
    /// A guardrail held a request and asked for a review.
    ReviewRequested {
        /// The review as created.
        review: Review,
    },
    /// A person approved a review.
    ReviewApproved {
        /// The review.
        review_id: String,
        /// Who approved.
        by: Actor,
        /// Their comment.
        comment: Option<String>,
    },
    /// A person denied a review.
    ReviewDenied {
        /// The review.
        review_id: String,
        /// Who denied.
        by: Actor,
        /// Why.
        reason: Option<String>,
    },
    /// The approved request passed; the approval is spent.
    ReviewUsed {
        /// The review.
        review_id: String,
        /// The data-path request that spent it.
        request_id: String,
    },
    /// A review was not decided, or not used, in time.
    ReviewExpired {
        /// The review.
        review_id: String,
    },
}

impl AccessEvent {
    /// The event's type name.
    pub fn kind(&self) -> &'static str {
        match self {
            AccessEvent::RequestCreated { .. } => "request_created",
            AccessEvent::ApprovalRecorded { .. } => "approval_recorded",
            AccessEvent::RequestApproved { .. } => "request_approved",
            AccessEvent::RequestDenied { .. } => "request_denied",
            AccessEvent::RequestCancelled { .. } => "request_cancelled",
            AccessEvent::RequestExpired { .. } => "request_expired",
            AccessEvent::GrantTokenIssued { .. } => "grant_token_issued",
            AccessEvent::GrantRevoked { .. } => "grant_revoked",
            AccessEvent::GrantExpired { .. } => "grant_expired",
            AccessEvent::ReviewRequested { .. } => "review_requested",
            AccessEvent::ReviewApproved { .. } => "review_approved",
            AccessEvent::ReviewDenied { .. } => "review_denied",
            AccessEvent::ReviewUsed { .. } => "review_used",
            AccessEvent::ReviewExpired { .. } => "review_expired",
        }
    }

    /// The request or grant id the event is about.
    pub fn subject_id(&self) -> &str {
        match self {
            AccessEvent::RequestCreated { request } => &request.id,
            AccessEvent::ApprovalRecorded { request_id, .. }
            | AccessEvent::RequestApproved { request_id, .. }
            | AccessEvent::RequestDenied { request_id, .. }
            | AccessEvent::RequestCancelled { request_id, .. }
            | AccessEvent::RequestExpired { request_id } => request_id,
            AccessEvent::GrantTokenIssued { grant_id, .. }
            | AccessEvent::GrantRevoked { grant_id, .. }
            | AccessEvent::GrantExpired { grant_id } => grant_id,
            AccessEvent::ReviewRequested { review } => &review.id,
            AccessEvent::ReviewApproved { review_id, .. }
            | AccessEvent::ReviewDenied { review_id, .. }
            | AccessEvent::ReviewUsed { review_id, .. }
            | AccessEvent::ReviewExpired { review_id } => review_id,
        }
    }
}

/// Appends one event to `access_events` on `conn` (inside the caller's transaction when
/// there is one, so the event commits with the state change it records).
pub(crate) async fn insert_event(
    conn: &mut sqlx::SqliteConnection,
    event: &AccessEvent,
) -> Result<(), AccessError> {
    let body = serde_json::to_string(event)
        .map_err(|e| AccessError::new(crate::AccessReason::Internal, e.to_string()))?;
    sqlx::query("INSERT INTO access_events (at_ms, kind, subject_id, event) VALUES (?, ?, ?, ?)")
        .bind(now_ms())
        .bind(event.kind())
        .bind(event.subject_id())
        .bind(body)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// A boxed future, so sinks can be `Arc<dyn EventSink>`.
pub type SinkFuture<'a> = Pin<Box<dyn Future<Output = Result<(), AccessError>> + Send + 'a>>;

/// Where access events go. Swap it for the audit crate's writer later.
pub trait EventSink: Send + Sync + 'static {
    /// Records one event durably.
    fn record<'a>(&'a self, event: &'a AccessEvent) -> SinkFuture<'a>;
}

/// Writes events to the `access_events` table.
#[derive(Debug, Clone)]
pub struct SqliteEventSink {
    pool: SqlitePool,
}

impl SqliteEventSink {
    /// A sink on the store's pool (the access migrations create the table).
    pub fn new(pool: SqlitePool) -> Self {
        SqliteEventSink { pool }
    }
}

impl EventSink for SqliteEventSink {
    fn record<'a>(&'a self, event: &'a AccessEvent) -> SinkFuture<'a> {
        Box::pin(async move {
            let mut conn = self.pool.acquire().await?;
            insert_event(&mut conn, event).await
        })
    }
}
