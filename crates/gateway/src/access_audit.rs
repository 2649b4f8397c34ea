//! Access events (requests, approvals, grants, reviews) go into the same hash-chained
//! audit log as the traffic they authorise, so one `audit verify` covers who asked, who
//! approved and what ran.

use std::sync::Arc;

use portcullis_access::{AccessEvent, EventSink, SinkFuture};
use portcullis_audit::{AuditEvent, AuditLog, EventDetail, Outcome};
use serde_json::Value;

/// An [`EventSink`] appending to the audit log.
pub(crate) struct AuditSink(pub(crate) Arc<AuditLog>);

impl EventSink for AuditSink {
    fn record<'a>(&'a self, event: &'a AccessEvent) -> SinkFuture<'a> {
        Box::pin(async move {
            let detail = detail(event);
            self.0.append(AuditEvent::now(detail)).await.map(|_| ()).map_err(|e| {
                portcullis_access::AccessError::new(portcullis_access::AccessReason::Store, e.to_string())
            })
        })
    }
}

fn json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn micros(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
        .unwrap_or(0)
}

fn decided(id: &str, outcome: Outcome, by: Option<Value>, comment: Option<String>) -> EventDetail {
    EventDetail::AccessDecided {
        access_request_id: id.to_owned(),
        outcome,
        decided_by: by,
        policies: Vec::new(),
        comment,
    }
}

fn review(
    id: &str,
    state: &str,
    by: Option<Value>,
    grant_id: Option<String>,
    binding: String,
) -> EventDetail {
    EventDetail::Review { review_id: id.to_owned(), grant_id, state: state.to_owned(), by, binding }
}

fn detail(event: &AccessEvent) -> EventDetail {
    match event {
        AccessEvent::RequestCreated { request } => EventDetail::AccessRequested {
            access_request_id: request.id.clone(),
            principal: json(&request.principal),
            connection: request.connection.clone(),
            level: request.level.clone(),
            duration_s: request.duration_secs,
            reason: request.reason.clone(),
        },
        AccessEvent::ApprovalRecorded { request_id, approver, comment, policies, count, required } => {
            EventDetail::AccessDecided {
                access_request_id: request_id.clone(),
                outcome: Outcome::Success,
                decided_by: Some(json(approver)),
                policies: policies.clone(),
                comment: Some(format!(
                    "approval {count} of {required}{}",
                    comment.as_deref().map(|c| format!(": {c}")).unwrap_or_default()
                )),
            }
        }
        AccessEvent::RequestApproved { request_id, grant } => EventDetail::GrantIssued {
            grant_id: grant.id.clone(),
            access_request_id: Some(request_id.clone()),
            principal: Value::String(grant.principal.clone()),
            connection: grant.connection.clone(),
            level: grant.level.clone(),
            expires_at_us: micros(&grant.expires_at),
        },
        AccessEvent::RequestDenied { request_id, by, reason } => {
            decided(request_id, Outcome::Failure, Some(json(by)), Some(reason.clone()))
        }
        AccessEvent::RequestCancelled { request_id, by } => {
            decided(request_id, Outcome::Failure, Some(json(by)), Some("cancelled by the requester".into()))
        }
        AccessEvent::RequestExpired { request_id } => {
            decided(request_id, Outcome::Failure, None, Some("expired while pending".into()))
        }
        AccessEvent::GrantTokenIssued { grant_id, expires_at } => EventDetail::Authentication {
            outcome: Outcome::Success,
            method: "grant_token_issued".into(),
            principal: Some(serde_json::json!({ "grant_id": grant_id, "token_expires_at": expires_at })),
            reason: None,
            remote: None,
        },
        AccessEvent::GrantRevoked { grant_id, by, .. } => {
            EventDetail::GrantEnded { grant_id: grant_id.clone(), how: "revoked".into(), by: Some(json(by)) }
        }
        AccessEvent::GrantExpired { grant_id } => {
            EventDetail::GrantEnded { grant_id: grant_id.clone(), how: "expired".into(), by: None }
        }
        AccessEvent::ReviewRequested { review: r } => {
            review(&r.id, "requested", None, r.grant_id.clone(), r.binding.clone())
        }
        AccessEvent::ReviewApproved { review_id, by, .. } => {
            review(review_id, "approved", Some(json(by)), None, String::new())
        }
        AccessEvent::ReviewDenied { review_id, by, .. } => {
            review(review_id, "denied", Some(json(by)), None, String::new())
        }
        AccessEvent::ReviewUsed { review_id, request_id } => {
            review(review_id, "used", Some(Value::String(request_id.clone())), None, String::new())
        }
        AccessEvent::ReviewExpired { review_id } => review(review_id, "expired", None, None, String::new()),
    }
}
