//! Reviews as the API shows them: the approval of one exact request that a guardrail
//! held (`review` decision). A review is bound to the request's method, canonical target,
//! api-version and body hash (its *binding*), approved by someone other than the
//! requester, and spent by exactly one retry of that request.

use serde::{Deserialize, Serialize};
use sqlx::sqlite::SqliteRow;
use sqlx::Row;

use crate::error::{AccessError, AccessReason};
use crate::model::{rfc3339, Actor, Decision};

/// The life of a review: `pending → approved → used`, or `pending → denied`, or
/// `pending | approved → expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewState {
    /// Waiting for a person.
    Pending,
    /// Approved; the agent's next identical request passes once.
    Approved,
    /// Refused.
    Denied,
    /// Spent by the request it approved.
    Used,
    /// Not decided, or not used, in time.
    Expired,
}

impl ReviewState {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewState::Pending => "pending",
            ReviewState::Approved => "approved",
            ReviewState::Denied => "denied",
            ReviewState::Used => "used",
            ReviewState::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => ReviewState::Pending,
            "approved" => ReviewState::Approved,
            "denied" => ReviewState::Denied,
            "used" => ReviewState::Used,
            "expired" => ReviewState::Expired,
            _ => return None,
        })
    }
}

/// One review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Review {
    /// Review id (UUID v7).
    pub id: String,
    /// Whose request was held.
    pub principal: Actor,
    /// The connection the request was for.
    pub connection: String,
    /// The grant the request ran under.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
    /// The grant's level.
    pub level: String,
    /// The binding digest (`rb1:…`): what exactly is approved.
    pub binding: String,
    /// The request's method.
    pub method: String,
    /// The request's canonical target (path and query after the connection prefix).
    pub target: String,
    /// The request's api-version, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    /// SHA-256 (hex) of the request body, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    /// The guardrail rule that asked for the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The classified action (an Azure RBAC action, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// The resource the request addresses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// What the request would do, in plain words (control and bidi characters neutralised).
    pub summary: String,
    /// Current state.
    pub state: ReviewState,
    /// Incremented on every change.
    pub version: i64,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Pending: the decision deadline. Approved: the deadline for the agent's retry.
    pub expires_at: String,
    /// Who approved or denied, when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// When the approval was spent (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_at: Option<String>,
    /// The data-path request id that spent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub used_by_request: Option<String>,
}

/// What the data path knows about a request a guardrail held.
#[derive(Debug, Clone)]
pub struct HeldRequest<'a> {
    /// The connection.
    pub connection: &'a str,
    /// The grant the request runs under, and its level.
    pub grant_id: Option<&'a str>,
    /// The grant's level (`""` without a grant).
    pub level: &'a str,
    /// The binding digest (`portcullis_policy::ReviewBinding`).
    pub binding: &'a str,
    /// Method, canonical target, api-version, body hash (hex).
    pub method: &'a str,
    /// The canonical target.
    pub target: &'a str,
    /// The api-version.
    pub api_version: Option<&'a str>,
    /// SHA-256 (hex) of the body.
    pub body_sha256: Option<&'a str>,
    /// The rule, action and resource of the decision.
    pub rule: Option<&'a str>,
    /// The classified action.
    pub action: Option<&'a str>,
    /// The resource.
    pub resource: Option<&'a str>,
    /// The plain summary.
    pub summary: &'a str,
    /// The data-path request id (recorded when an approval is spent).
    pub request_id: &'a str,
}

/// The data path's answer for a held request.
#[derive(Debug, Clone)]
pub enum ReviewCheck {
    /// An approval for exactly this request existed and is now spent: forward it.
    Approved(Review),
    /// A person must decide first (the review was created now, or is still waiting).
    Pending(Review),
    /// A person refused exactly this request.
    Denied(Review),
}

/// Filter for listing reviews.
#[derive(Debug, Clone, Default)]
pub struct ReviewFilter {
    /// Only this state.
    pub state: Option<ReviewState>,
    /// Only this connection.
    pub connection: Option<String>,
    /// Only this principal key.
    pub principal: Option<String>,
}

pub(crate) const REVIEW_COLUMNS: &str = "id, principal, identities, connection, grant_id, level, binding, method, \
     target, api_version, body_sha256, rule, action, resource, summary, state, version, created_ms, expires_ms, \
     decision, used_ms, used_by_request";

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, AccessError> {
    serde_json::from_str(s)
        .map_err(|e| AccessError::new(AccessReason::Store, format!("corrupt review row: {e}")))
}

/// A review row and the requester's identities (for the self-approval rule).
pub(crate) fn review_from(row: &SqliteRow) -> Result<(Review, Vec<String>, i64), AccessError> {
    let state: String = row.get("state");
    let decision: Option<String> = row.get("decision");
    let used: Option<i64> = row.get("used_ms");
    let expires: i64 = row.get("expires_ms");
    let review = Review {
        id: row.get("id"),
        principal: json(row.get::<&str, _>("principal"))?,
        connection: row.get("connection"),
        grant_id: row.get("grant_id"),
        level: row.get("level"),
        binding: row.get("binding"),
        method: row.get("method"),
        target: row.get("target"),
        api_version: row.get("api_version"),
        body_sha256: row.get("body_sha256"),
        rule: row.get("rule"),
        action: row.get("action"),
        resource: row.get("resource"),
        summary: row.get("summary"),
        state: ReviewState::parse(&state)
            .ok_or_else(|| AccessError::new(AccessReason::Store, format!("unknown review state {state}")))?,
        version: row.get("version"),
        created_at: rfc3339(row.get("created_ms")),
        expires_at: rfc3339(expires),
        decision: decision.as_deref().map(json).transpose()?,
        used_at: used.map(rfc3339),
        used_by_request: row.get("used_by_request"),
    };
    let identities = json(row.get::<&str, _>("identities"))?;
    Ok((review, identities, expires))
}
