//! The one event schema for everything the gateway records.
//!
//! An [`AuditEvent`] is a schema version, a time, and one [`EventDetail`]. Principals and
//! delegation chains are plain JSON values (whatever the identity crate serializes), so
//! this crate does not depend on identity, access or policy types. Values from agents are
//! stored exactly as received; rendering them goes through [`crate::render::safe`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::seal::SealedRef;

/// The schema version written into every new event.
pub const SCHEMA_VERSION: u32 = 1;

/// One audit event, as the gateway hands it to [`crate::AuditLog::append`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// Schema version ([`SCHEMA_VERSION`] for new events).
    pub schema: u32,
    /// When it happened, microseconds since the Unix epoch (UTC).
    pub at_us: i64,
    /// What happened.
    #[serde(flatten)]
    pub detail: EventDetail,
    /// Unmasked bodies stored encrypted to an auditor (filled by
    /// [`crate::AuditLog::append_sealed`]; absent from the stored JSON when empty, so
    /// events written before it existed hash the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed: Vec<SealedRef>,
}

impl AuditEvent {
    /// An event that happened now.
    pub fn now(detail: EventDetail) -> Self {
        AuditEvent::at(now_us(), detail)
    }

    /// An event that happened at `at_us`.
    pub fn at(at_us: i64, detail: EventDetail) -> Self {
        AuditEvent { schema: SCHEMA_VERSION, at_us, detail, sealed: Vec::new() }
    }

    /// Every stored body this event refers to, as (SHA-256, size): its masked bodies,
    /// then its sealed ones.
    pub fn stored_refs(&self) -> impl Iterator<Item = (&str, u64)> {
        let refs = self.detail.body_refs().into_iter().map(|b| (b.sha256.as_str(), b.size));
        refs.chain(self.sealed.iter().map(|s| (s.sha256.as_str(), s.size)))
    }
}

/// The current time in microseconds since the Unix epoch.
pub fn now_us() -> i64 {
    let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    i64::try_from(nanos / 1000).unwrap_or(i64::MAX)
}

/// Success or failure of an authentication or a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It worked / was allowed.
    Success,
    /// It failed / was refused.
    Failure,
}

/// One HTTP header as recorded (credentials already removed, see [`sanitize_headers`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Lower-case name.
    pub name: String,
    /// Value as received (or [`REMOVED`]).
    pub value: String,
}

/// The value recorded in place of a credential header's value.
pub const REMOVED: &str = "[removed]";

/// Headers whose values are credentials and are never recorded.
const CREDENTIAL_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "api-key",
    "x-ms-authorization-auxiliary",
    "x-identity-header",
    "ocp-apim-subscription-key",
    "x-functions-key",
];

/// Records headers with every credential value replaced by [`REMOVED`] (the name stays,
/// so an auditor sees that one was sent).
pub fn sanitize_headers<'a>(headers: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<Header> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let name = name.to_ascii_lowercase();
            let value = if CREDENTIAL_HEADERS.contains(&name.as_str()) {
                REMOVED.to_owned()
            } else {
                String::from_utf8_lossy(value).into_owned()
            };
            Header { name, value }
        })
        .collect()
}

/// A body stored in the blob table, referenced by its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BodyRef {
    /// Hex SHA-256 of the stored bytes.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The first characters (lossy UTF-8), for timelines. Not escaped: render with
    /// [`crate::render::safe`].
    pub excerpt: String,
}

/// Characters of a body kept in [`BodyRef::excerpt`].
pub const EXCERPT_CHARS: usize = 256;

impl BodyRef {
    /// The reference for `bytes` (pass the same bytes to
    /// [`crate::AuditLog::append_with_bodies`] so they are stored).
    pub fn of(bytes: &[u8]) -> Self {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
        let excerpt: String = String::from_utf8_lossy(&bytes[..bytes.len().min(EXCERPT_CHARS * 4)])
            .chars()
            .take(EXCERPT_CHARS)
            .collect();
        BodyRef { sha256: hex::encode(digest.as_ref()), size: bytes.len() as u64, excerpt }
    }
}

/// An HTTP request the gateway is about to forward (recorded before it leaves).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// The gateway's id for this request; the response event carries the same.
    pub request_id: String,
    /// Who is calling (the identity crate's principal, as JSON).
    pub principal: Value,
    /// The delegation chain, outermost (human) first.
    #[serde(default)]
    pub delegation: Vec<Value>,
    /// The grant the request runs under (its session).
    pub grant_id: Option<String>,
    /// The review that approved this exact request, if one was needed.
    pub review_id: Option<String>,
    /// The connection's name.
    pub connection: String,
    /// Canonical method.
    pub method: String,
    /// Canonical target (encoded path and query), exactly as forwarded.
    pub target: String,
    /// Headers with credentials removed.
    pub headers: Vec<Header>,
    /// The body, if any.
    pub body: Option<BodyRef>,
}

/// The response the agent received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseRecord {
    /// The request this answers.
    pub request_id: String,
    /// The grant (repeated so a session query needs no join).
    pub grant_id: Option<String>,
    /// The connection's name.
    pub connection: String,
    /// HTTP status sent to the agent.
    pub status: u16,
    /// Response headers with credentials removed.
    pub headers: Vec<Header>,
    /// The body as the agent received it (masked).
    pub body: Option<BodyRef>,
    /// Masked values per detector.
    #[serde(default)]
    pub mask_counts: BTreeMap<String, u64>,
    /// Bytes sent to the agent.
    pub bytes: u64,
    /// Time from receiving the request to the end of the response, microseconds.
    pub duration_us: u64,
    /// The request body when it streamed to the target without being inspected (a
    /// connection without guardrails): it could not be in the request event, which is
    /// committed before the first byte is forwarded, so the bytes forwarded by the time
    /// the response ended are recorded here. Absent from the stored JSON when `None`, so
    /// earlier events hash the same.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_body: Option<BodyRef>,
}

/// Everything that can happen, one variant per kind (`"type"` in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventDetail {
    /// An agent or person authenticated (or failed to).
    Authentication {
        /// Result.
        outcome: Outcome,
        /// `grant_token`, `oidc`, `control_session`, …
        method: String,
        /// The principal, when known.
        principal: Option<Value>,
        /// Why it failed (stable code).
        reason: Option<String>,
        /// Remote address.
        remote: Option<String>,
    },
    /// A principal asked for access to a connection.
    AccessRequested {
        /// The access request's id.
        access_request_id: String,
        /// Who asked.
        principal: Value,
        /// The connection.
        connection: String,
        /// The level of access asked for.
        level: String,
        /// Requested duration, seconds.
        duration_s: u64,
        /// The stated reason.
        reason: String,
    },
    /// An access request was approved or denied.
    AccessDecided {
        /// The access request's id.
        access_request_id: String,
        /// Approved (success) or denied (failure).
        outcome: Outcome,
        /// The approver, or `None` when policy decided alone.
        decided_by: Option<Value>,
        /// The Cedar policies that decided.
        policies: Vec<String>,
        /// The approver's comment.
        comment: Option<String>,
    },
    /// A grant was issued.
    GrantIssued {
        /// The grant (session) id.
        grant_id: String,
        /// The access request it came from.
        access_request_id: Option<String>,
        /// The holder.
        principal: Value,
        /// The connection.
        connection: String,
        /// Granted level.
        level: String,
        /// Expiry, microseconds since the epoch.
        expires_at_us: i64,
    },
    /// A grant was revoked or expired.
    GrantEnded {
        /// The grant.
        grant_id: String,
        /// `revoked` or `expired`.
        how: String,
        /// Who revoked it.
        by: Option<Value>,
    },
    /// A review (approval of one exact request) was asked for or decided.
    Review {
        /// The review id.
        review_id: String,
        /// The grant the request runs under.
        grant_id: Option<String>,
        /// `requested`, `approved`, `denied`, `expired`, `used`.
        state: String,
        /// The approver.
        by: Option<Value>,
        /// The binding hash (method, canonical target, body hash).
        binding: String,
    },
    /// A guardrail decided a request.
    Guardrail {
        /// The request.
        request_id: String,
        /// The grant.
        grant_id: Option<String>,
        /// The connection.
        connection: String,
        /// The rule that matched (or `default`).
        rule: String,
        /// `allow`, `deny` or `review`.
        action: String,
        /// The classified action (e.g. an Azure RBAC action).
        operation: Option<String>,
        /// The resource (e.g. an ARM resource id).
        resource: Option<String>,
    },
    /// A request about to be forwarded.
    Request(RequestRecord),
    /// The response sent to the agent.
    Response(ResponseRecord),
    /// A connector attached or detached.
    ConnectorLink {
        /// The connector's id.
        connector_id: String,
        /// `up` or `down`.
        state: String,
        /// Connections it serves.
        connections: Vec<String>,
        /// Remote address.
        remote: Option<String>,
    },
    /// Configuration or rules were (re)loaded.
    ConfigReload {
        /// `config`, `rules`, `policies`.
        what: String,
        /// Whether the new version is in effect.
        outcome: Outcome,
        /// SHA-256 of what was loaded.
        digest: Option<String>,
        /// Who asked and what was loaded, or why it was refused.
        detail: Option<String>,
    },
    /// Retention removed old events. Written by the writer itself (see
    /// [`crate::AuditLog::apply_retention`]); it anchors the chain's new start.
    Retention {
        /// Every event with `seq <= pruned_through_seq` was removed.
        pruned_through_seq: i64,
        /// The hash of event `pruned_through_seq`, the first kept event's `prev_hash`.
        anchor_hash: String,
        /// Events removed.
        events_removed: u64,
        /// Blobs removed.
        blobs_removed: u64,
        /// `max_age`, `max_bytes`.
        rule: String,
    },
}

/// Index columns derived from an event, for session queries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Derived {
    pub(crate) kind: &'static str,
    pub(crate) grant_id: Option<String>,
    pub(crate) principal: Option<String>,
    pub(crate) connection: Option<String>,
    pub(crate) status: Option<i64>,
}

/// The principal's short key for filters: `subject`, else `sub`, else the JSON text.
pub fn principal_key(principal: &Value) -> String {
    for field in ["subject", "sub", "id"] {
        if let Some(s) = principal.get(field).and_then(Value::as_str) {
            return s.to_owned();
        }
    }
    match principal {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

impl EventDetail {
    /// The `type` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            EventDetail::Authentication { .. } => "authentication",
            EventDetail::AccessRequested { .. } => "access_requested",
            EventDetail::AccessDecided { .. } => "access_decided",
            EventDetail::GrantIssued { .. } => "grant_issued",
            EventDetail::GrantEnded { .. } => "grant_ended",
            EventDetail::Review { .. } => "review",
            EventDetail::Guardrail { .. } => "guardrail",
            EventDetail::Request(_) => "request",
            EventDetail::Response(_) => "response",
            EventDetail::ConnectorLink { .. } => "connector_link",
            EventDetail::ConfigReload { .. } => "config_reload",
            EventDetail::Retention { .. } => "retention",
        }
    }

    /// Body hashes this event refers to.
    pub fn body_refs(&self) -> Vec<&BodyRef> {
        match self {
            EventDetail::Request(r) => r.body.iter().collect(),
            EventDetail::Response(r) => r.body.iter().chain(&r.request_body).collect(),
            _ => Vec::new(),
        }
    }

    pub(crate) fn derived(&self) -> Derived {
        let mut d = Derived { kind: self.kind(), ..Derived::default() };
        match self {
            EventDetail::Authentication { principal, .. } => {
                d.principal = principal.as_ref().map(principal_key)
            }
            EventDetail::AccessRequested { principal, connection, .. } => {
                d.principal = Some(principal_key(principal));
                d.connection = Some(connection.clone());
            }
            EventDetail::GrantIssued { grant_id, principal, connection, .. } => {
                d.grant_id = Some(grant_id.clone());
                d.principal = Some(principal_key(principal));
                d.connection = Some(connection.clone());
            }
            EventDetail::GrantEnded { grant_id, .. } => d.grant_id = Some(grant_id.clone()),
            EventDetail::Review { grant_id, .. } => d.grant_id = grant_id.clone(),
            EventDetail::Guardrail { grant_id, connection, .. } => {
                d.grant_id = grant_id.clone();
                d.connection = Some(connection.clone());
            }
            EventDetail::Request(r) => {
                d.grant_id = r.grant_id.clone();
                d.principal = Some(principal_key(&r.principal));
                d.connection = Some(r.connection.clone());
            }
            EventDetail::Response(r) => {
                d.grant_id = r.grant_id.clone();
                d.connection = Some(r.connection.clone());
                d.status = Some(i64::from(r.status));
            }
            EventDetail::AccessDecided { .. }
            | EventDetail::ConnectorLink { .. }
            | EventDetail::ConfigReload { .. }
            | EventDetail::Retention { .. } => {}
        }
        d
    }
}
