//! Steps 5–6 of the data path as the pipeline runs them: read the body when guardrails
//! need it, classify and decide, and for a `review` decision spend an approval of this
//! exact request or park it as a review for a person.
//!
//! On a connection with guardrails the body is read whole (up to
//! `limits.max_inspected_body`) *before* the decision, and exactly those bytes are
//! forwarded: what the rules judged and what a reviewer approved (by hash) is what the
//! target receives (security invariants 3 and 4).

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use portcullis_access::{review_required, ActiveGrant, HeldRequest, ReviewCheck};
use portcullis_audit::{AuditEvent, EventDetail};
use portcullis_identity::Principal;
use portcullis_policy::{Decision, Outcome, ReviewBinding};

use crate::body::{find_body_limit, full, BodyLimit, ProxyBody};
use crate::error::GatewayError;
use crate::pipeline::DataPlane;
use crate::route::Routed;

/// The request as it may go on.
pub(crate) struct Guarded {
    /// The body to forward: the inspected bytes, or the untouched stream when no rules apply.
    pub(crate) body: ProxyBody,
    /// The review whose approval this request spent.
    pub(crate) review_id: Option<String>,
    /// The masking profile the decision asks for (e.g. `strict` for listKeys).
    pub(crate) mask_profile: Option<String>,
    /// The body as read for inspection (`None` when it streams uninspected).
    pub(crate) inspected: Option<Bytes>,
}

/// Who is asking, and under which grant.
pub(crate) struct Subject<'a> {
    pub(crate) principal: Option<&'a Principal>,
    pub(crate) grant: Option<&'a ActiveGrant>,
    pub(crate) request_id: &'a str,
}

/// Steps 5–6.
pub(crate) async fn guard(
    dp: &DataPlane,
    routed: &Routed,
    method: &str,
    headers: &HeaderMap,
    body: ProxyBody,
    who: Subject<'_>,
) -> Result<Guarded, GatewayError> {
    let Some(rules) = routed.connection.rules.current() else {
        return Ok(Guarded { body, review_id: None, mask_profile: None, inspected: None });
    };
    let bytes = read_body(body, dp.limits.max_inspected_body.0).await?;
    let inspected = (!bytes.is_empty()).then_some(&bytes[..]);
    let groups: &[String] = who.principal.map(|p| p.groups.as_slice()).unwrap_or(&[]);
    let level = who.grant.map(ActiveGrant::level).unwrap_or("");
    let d = crate::guardrails::decide(
        &rules.set,
        &routed.connection.guard_kind,
        method,
        &routed.target,
        inspected,
        groups,
        level,
    );
    let mask_profile = d.mask_profile.clone();
    match d.outcome {
        Outcome::Allow => {
            return Ok(Guarded {
                body: full(bytes.clone()),
                review_id: None,
                mask_profile,
                inspected: Some(bytes),
            });
        }
        Outcome::Deny => {
            record_decision(dp, routed, &d, &who).await?;
            return Err(GatewayError::Denied { rule: d.rule_id, summary: d.summary });
        }
        Outcome::Review => record_decision(dp, routed, &d, &who).await?,
    }
    let review_id = review(dp, routed, method, headers, inspected, &d, &who).await?;
    Ok(Guarded {
        body: full(bytes.clone()),
        review_id: Some(review_id),
        mask_profile,
        inspected: Some(bytes),
    })
}

/// Step 6b: a `review` decision. Returns the id of the spent approval, or refuses.
async fn review(
    dp: &DataPlane,
    routed: &Routed,
    method: &str,
    headers: &HeaderMap,
    body: Option<&[u8]>,
    d: &Decision,
    who: &Subject<'_>,
) -> Result<String, GatewayError> {
    let Some(principal) = who.principal else {
        return Err(GatewayError::ApprovalRequired {
            rule: d.rule_id.clone(),
            summary: d.summary.clone(),
            body: None,
        });
    };
    let target = routed.target.encoded();
    let body_hash = body.map(ReviewBinding::body_sha256);
    let binding = ReviewBinding::of(method, &target, d.api_version.as_deref(), body_hash.as_ref());
    let body_hex = body_hash.map(hex::encode);
    let held = HeldRequest {
        connection: &routed.connection.name,
        grant_id: who.grant.map(ActiveGrant::grant_id),
        level: who.grant.map(ActiveGrant::level).unwrap_or(""),
        binding: binding.as_str(),
        method,
        target: &target,
        api_version: d.api_version.as_deref(),
        body_sha256: body_hex.as_deref(),
        rule: d.rule_id.as_deref(),
        action: d.action.as_deref(),
        resource: d.resource.as_deref(),
        summary: &d.summary,
        request_id: who.request_id,
    };
    let unavailable = |e: portcullis_access::AccessError| GatewayError::ReviewUnavailable(e.to_string());
    let mut check = dp.access.check_review(principal, &held).await.map_err(unavailable)?;
    // `Prefer: wait=N` (RFC 7240): hold the agent's request until a person decides.
    if let (ReviewCheck::Pending(r), Some(wait)) = (&check, prefer_wait(headers)) {
        let decided = dp.access.wait_review(&r.id, wait).await.map_err(unavailable)?;
        if decided.state != portcullis_access::ReviewState::Pending {
            check = dp.access.check_review(principal, &held).await.map_err(unavailable)?;
        }
    }
    let public_url = &dp.access.config().public_url;
    match check {
        ReviewCheck::Approved(r) => Ok(r.id),
        ReviewCheck::Pending(r) => Err(GatewayError::ApprovalRequired {
            rule: d.rule_id.clone(),
            summary: d.summary.clone(),
            body: Some(review_required(public_url, &r)),
        }),
        ReviewCheck::Denied(r) => Err(GatewayError::ReviewDenied(review_required(public_url, &r))),
    }
}

/// `Prefer: wait=N` in seconds, if the agent sent it.
fn prefer_wait(headers: &HeaderMap) -> Option<std::time::Duration> {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("wait="))
        .find_map(|n| n.trim().parse::<u64>().ok())
        .map(std::time::Duration::from_secs)
}

/// A guardrail event for each refusal or hold, durable before the agent hears of it.
async fn record_decision(
    dp: &DataPlane,
    routed: &Routed,
    d: &Decision,
    who: &Subject<'_>,
) -> Result<(), GatewayError> {
    let event = AuditEvent::now(EventDetail::Guardrail {
        request_id: who.request_id.to_owned(),
        grant_id: who.grant.map(|g| g.grant_id().to_owned()),
        connection: routed.connection.name.clone(),
        rule: d.rule_id.clone().unwrap_or_else(|| "default".into()),
        action: d.outcome.as_str().to_owned(),
        operation: d.action.clone(),
        resource: d.resource.clone(),
    });
    dp.audit.append(event).await.map(|_| ()).map_err(GatewayError::AuditUnavailable)
}

/// Reads the whole body, refusing one larger than `limit`.
async fn read_body(mut body: ProxyBody, limit: u64) -> Result<Bytes, GatewayError> {
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| match find_body_limit(e.as_ref()) {
            Some(BodyLimit::TooLarge(limit)) => GatewayError::BodyTooLarge { limit },
            Some(BodyLimit::Stalled) => GatewayError::BodyTimeout,
            None => GatewayError::BodyAborted(e.to_string()),
        })?;
        if let Ok(data) = frame.into_data() {
            if (buf.len() + data.len()) as u64 > limit {
                return Err(GatewayError::BodyNotInspectable { limit });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}
