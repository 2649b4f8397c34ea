//! Access requests, approvals and grants as the API shows them.

use serde::{Deserialize, Serialize};

use portcullis_identity::{Principal, PrincipalKind};

/// The life of an access request: `pending → approved | denied | expired | cancelled`,
/// then `approved → active → expired | revoked` with its grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for approvals.
    Pending,
    /// Approved; the grant exists and has not been used yet.
    Approved,
    /// Refused by an approver.
    Denied,
    /// Expired: pending too long, or its grant ran out.
    Expired,
    /// Withdrawn by the requester.
    Cancelled,
    /// The grant has been used (a grant token was issued).
    Active,
    /// The grant was revoked.
    Revoked,
}

impl RequestState {
    /// The stored and serialized name.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Denied => "denied",
            RequestState::Expired => "expired",
            RequestState::Cancelled => "cancelled",
            RequestState::Active => "active",
            RequestState::Revoked => "revoked",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => RequestState::Pending,
            "approved" => RequestState::Approved,
            "denied" => RequestState::Denied,
            "expired" => RequestState::Expired,
            "cancelled" => RequestState::Cancelled,
            "active" => RequestState::Active,
            "revoked" => RequestState::Revoked,
            _ => return None,
        })
    }
}

/// Who did something, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The principal key (`issuer#subject`), or `policy` for automatic decisions.
    pub key: String,
    /// Display name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// `agent`, `human` or `policy`.
    pub kind: String,
}

impl Actor {
    pub(crate) fn of(p: &Principal) -> Self {
        let kind = match p.kind {
            PrincipalKind::Agent => "agent",
            PrincipalKind::Human => "human",
        };
        Actor { key: p.key(), display_name: p.display_name.clone(), kind: kind.into() }
    }

    pub(crate) fn policy() -> Self {
        Actor { key: "policy".into(), display_name: Some("access policy".into()), kind: "policy".into() }
    }
}

/// One approval counted towards N.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved.
    pub approver: Actor,
    /// When (RFC 3339).
    pub at: String,
    /// Why (the approver's comment, or the policy's decision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The Cedar policies that allowed this approver.
    pub policies: Vec<String>,
}

/// The final decision on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Who decided (the last approver, the denier, the requester cancelling, or `policy`).
    pub by: Actor,
    /// When (RFC 3339).
    pub at: String,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The Cedar policies that decided, when a policy did.
    pub policies: Vec<String>,
}

/// An access request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRequest {
    /// Request id (UUID v7).
    pub id: String,
    /// Who asked.
    pub principal: Actor,
    /// The connection asked for.
    pub connection: String,
    /// The level asked for.
    pub level: String,
    /// Grant duration asked for, seconds.
    pub duration_secs: u64,
    /// Why the access is needed.
    pub reason: String,
    /// Ticket reference, optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Current state.
    pub state: RequestState,
    /// Incremented on every change; `approve` may pass it to refuse a changed request.
    pub version: i64,
    /// Approvals needed.
    pub required_approvals: u32,
    /// Approvals so far.
    pub approvals: Vec<Approval>,
    /// Created (RFC 3339).
    pub created_at: String,
    /// When a pending request expires (RFC 3339).
    pub expires_at: String,
    /// The final decision, once there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<Decision>,
    /// The grant, once approved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_id: Option<String>,
}

/// State of a grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantState {
    /// Valid until `expires_at`.
    Active,
    /// Ran out.
    Expired,
    /// Revoked.
    Revoked,
}

impl GrantState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantState::Active => "active",
            GrantState::Expired => "expired",
            GrantState::Revoked => "revoked",
        }
    }

    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "active" => GrantState::Active,
            "revoked" => GrantState::Revoked,
            _ => GrantState::Expired,
        }
    }
}

/// A time-boxed, revocable grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Grant id (UUID v7).
    pub id: String,
    /// The request it came from.
    pub request_id: String,
    /// The holder's principal key.
    pub principal: String,
    /// The connection.
    pub connection: String,
    /// The level.
    pub level: String,
    /// State.
    pub state: GrantState,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Expiry (RFC 3339).
    pub expires_at: String,
    /// Revocation, when revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<Decision>,
}

/// A grant token handed to the holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantToken {
    /// The signed token (present it as `Authorization: Bearer …` on the data path).
    pub token: String,
    /// The grant.
    pub grant_id: String,
    /// Token expiry (RFC 3339), never past the grant's.
    pub expires_at: String,
}

/// Body of `POST /api/v1/access-requests`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// Connection name.
    pub connection: String,
    /// Access level.
    pub level: String,
    /// Duration, e.g. `"15m"`.
    pub duration: String,
    /// Why (required).
    pub reason: String,
    /// Ticket reference.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// Body of `approve`, `deny`, `cancel` and `revoke`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// Comment (approve) or reason (deny, revoke: required for deny).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// The request version the approver saw; a different current version refuses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// Filters of `GET /api/v1/access-requests`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFilter {
    /// Only this state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<RequestState>,
    /// Only this connection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection: Option<String>,
    /// Only this principal key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
}

pub(crate) fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

pub(crate) fn now_ms() -> i64 {
    let d = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
