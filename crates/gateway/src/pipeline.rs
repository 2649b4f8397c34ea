//! The data path, top to bottom (DESIGN.md, "How a request flows").
//!
//! Each numbered step is a named function with its own error; errors become responses
//! in exactly one place ([`GatewayError::into_response`]).
//!
//! Built so far: 1 limits & canonicalize, 2 authenticate, 3 route, 4 access check,
//! 5–6 guardrails (allow, deny, and review: an approval of the exact request, spent once),
//! 7 durable record, 8 forward, 9 response (URL rewriting, response record, streams end
//! when their grant does). Masking in 9 arrives with the masking issue. Until then an authenticated agent reaches every
//! connection: do not expose this gateway to untrusted agents.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use http::header::{AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, HOST};
use http::request::Parts;
use http::{HeaderValue, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use portcullis_access::{AccessService, ActiveGrant};
use portcullis_audit::AuditLog;
use portcullis_canonical::{CanonicalRequest, Limits};
use portcullis_identity::{bearer_token, Authenticator, Principal};
use portcullis_mask::{MaskEngine, SessionContext};

use crate::body::{GuardedBody, ProxyBody};
use crate::config::LimitsConfig;
use crate::error::GatewayError;
use crate::forward::{forward, Outbound};
use crate::grant_body::GrantBoundBody;
use crate::guard_step::{guard, Subject};
use crate::headers::strip_hop_by_hop;
use crate::mask_body::{mask_response, MaskCounts};
use crate::metrics::Metrics;
use crate::record::{record_request, PendingResponse, RecordedBody, RequestFacts};
use crate::rewrite::{RewriteBody, URL_HEADERS};
use crate::route::{Routed, Routes};

/// Everything the data path needs, shared by all connections.
pub(crate) struct DataPlane {
    pub(crate) routes: Routes,
    pub(crate) limits: LimitsConfig,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) access: AccessService,
    pub(crate) auth_events: Arc<crate::auth_events::AuthEvents>,
    pub(crate) masking: crate::masking::Masking,
    /// False only in development: no issuers configured and every listener on loopback.
    pub(crate) require_auth: bool,
    /// The most bytes of each body the audit log keeps (`audit.record_body_bytes`).
    pub(crate) record_body_bytes: usize,
    /// Whether response bodies before masking are kept, sealed to an auditor's key.
    pub(crate) seal_unmasked: bool,
}

/// Facts about the agent's connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) scheme: &'static str,
}

/// What the steps learn, for the access log and metrics.
#[derive(Default)]
struct RequestLog {
    connection: Option<String>,
    principal: Option<String>,
    /// Set once the request event is durable: the response must then be recorded too.
    recorded: Option<(String, Option<String>)>,
    /// What masking removed from the response, filled as its body ends.
    mask_counts: Option<MaskCounts>,
    /// The response before masking (only with an auditor's key configured).
    unmasked: Option<crate::record::Capture>,
    /// The request body as it streamed uninspected (recorded with the response).
    streamed_request: Option<crate::record::Capture>,
}

/// Handles one request: runs the pipeline, renders any error, records metrics.
pub(crate) async fn handle(
    dp: Arc<DataPlane>,
    info: ConnInfo,
    req: Request<Incoming>,
) -> Response<ProxyBody> {
    let started = Instant::now();
    let method = req.method().clone();
    let mut log = RequestLog::default();
    let resp = match run(&dp, info, req, &mut log).await {
        Ok(resp) => resp,
        Err(err) => {
            let reason = err.reason();
            tracing::info!(code = reason.code(), detail = %err, peer = %info.peer, "request refused");
            dp.metrics.refused(reason.code());
            dp.auth_events.failure(&err, info.peer.ip(), "data");
            err.into_response()
        }
    };
    let resp = match log.recorded.take() {
        Some((request_id, grant_id)) => finish_record(&dp, resp, request_id, grant_id, &log, started),
        None => resp,
    };
    let connection = log.connection.as_deref().unwrap_or("");
    let principal = log.principal.as_deref().unwrap_or("");
    dp.metrics.observe(connection, resp.status().as_u16(), started.elapsed());
    tracing::info!(
        %method,
        connection,
        principal,
        status = resp.status().as_u16(),
        micros = started.elapsed().as_micros() as u64,
        "request"
    );
    resp
}

async fn run(
    dp: &DataPlane,
    info: ConnInfo,
    req: Request<Incoming>,
    log: &mut RequestLog,
) -> Result<Response<ProxyBody>, GatewayError> {
    let (parts, body) = req.into_parts();

    // 1. Limits and canonicalization: one parse; ambiguity refused.
    let canonical = canonicalize(dp, &parts)?;
    let body = guard_body(&dp.limits, &parts, body)?;

    // 2. Authenticate: an OIDC access token or a gateway grant token.
    let principal = authenticate(dp, &parts).await?;
    log.principal = principal.as_ref().map(Principal::key);

    // 3. Route to a connection.
    let agent_host = agent_host(&parts, info);
    let routed = dp.routes.route(&agent_host, &canonical.target, info.scheme)?;
    log.connection = Some(routed.connection.name.clone());

    // 4. Access check: an active grant for (principal, connection).
    let grant = check_access(dp, principal.as_ref(), &routed.connection.name)?;

    // 5–6. Classify and decide by the connection's guardrail rules; a `review` decision
    // spends an approval of exactly this request or parks it for a person.
    let request_id = uuid::Uuid::now_v7().to_string();
    let who = Subject { principal: principal.as_ref(), grant: grant.as_ref(), request_id: &request_id };
    let guarded = guard(dp, &routed, canonical.method.as_str(), &parts.headers, body, who).await?;
    let mut body = guarded.body;
    if guarded.inspected.is_none() && dp.record_body_bytes > 0 && !http_body::Body::is_end_stream(&body) {
        // Streams uninspected: its first bytes are recorded with the response event.
        let capture = crate::record::Capture::default();
        body = crate::record::TeeBody::new(body, capture.clone(), dp.record_body_bytes).boxed_unsync();
        log.streamed_request = Some(capture);
    }

    // 7. Record the request durably before anything leaves (fail closed).
    let target = routed.target.encoded();
    let grant_id = grant.as_ref().map(|g| g.grant_id().to_owned());
    let facts = RequestFacts {
        request_id: &request_id,
        grant_id: grant_id.as_deref(),
        review_id: guarded.review_id.as_deref(),
        principal: principal.as_ref(),
        connection: &routed.connection.name,
        method: canonical.method.as_str(),
        target: &target,
        headers: &parts.headers,
        body: guarded
            .inspected
            .filter(|b| !b.is_empty() && dp.record_body_bytes > 0)
            .map(|b| b.slice(..b.len().min(dp.record_body_bytes))),
    };
    record_request(&dp.audit, facts).await?;
    log.recorded = Some((request_id.clone(), grant_id.clone()));

    // 8. Forward the canonical request.
    let outbound = Outbound {
        method: canonical.method,
        target,
        headers: parts.headers,
        body,
        peer: info.peer,
        scheme: info.scheme,
        agent_host,
        grant_expires: grant.as_ref().map(|g| u64::try_from(g.expires_at_ms() / 1000).unwrap_or(0)),
    };
    let upstream = forward(&routed, outbound, dp.limits.upstream_timeout).await?;

    // 9. The response, streamed back — and cut off the moment its grant ends.
    let mask = dp
        .masking
        .engine(&routed.connection.name, guarded.mask_profile.as_deref())
        .map_err(|e| GatewayError::Unmaskable(e.to_string()))?
        .map(|engine| (engine, dp.masking.session(grant_id.as_deref(), &request_id)));
    let seal = (dp.seal_unmasked && mask.is_some()).then_some(dp.record_body_bytes);
    let resp = respond(&routed, upstream, mask, seal, log)?;
    Ok(match grant {
        Some(g) => {
            let (parts, body) = resp.into_parts();
            Response::from_parts(parts, GrantBoundBody::new(body, g.cancellation()).boxed_unsync())
        }
        None => resp,
    })
}

/// Step 4. A grant token must name this connection and a grant that is still active; an
/// OIDC token is accepted when its principal holds an active grant (unless
/// `access.oidc_on_data_path = false`). Only in development (no issuers) is there no
/// principal, and no check.
fn check_access(
    dp: &DataPlane,
    principal: Option<&Principal>,
    connection: &str,
) -> Result<Option<ActiveGrant>, GatewayError> {
    let Some(p) = principal else { return Ok(None) };
    let grant = match &p.grant {
        Some(g) if g.connection == connection => {
            dp.access.active(&g.principal, connection).filter(|a| a.grant_id() == g.grant_id)
        }
        Some(_) => None,
        None if dp.access.config().oidc_on_data_path => dp.access.active(&p.key(), connection),
        None => None,
    };
    grant.map(Some).ok_or_else(|| GatewayError::AccessRequired(dp.access.access_required(connection)))
}

/// End of step 9: the response event is written when the body ends.
fn finish_record(
    dp: &DataPlane,
    resp: Response<ProxyBody>,
    request_id: String,
    grant_id: Option<String>,
    log: &RequestLog,
    started: Instant,
) -> Response<ProxyBody> {
    let (mut parts, body) = resp.into_parts();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        parts.headers.insert("x-portcullis-request-id", v);
    }
    let pending = PendingResponse {
        audit: dp.audit.clone(),
        request_id,
        grant_id,
        connection: log.connection.clone().unwrap_or_default(),
        status: parts.status.as_u16(),
        headers: parts.headers.clone(),
        mask_counts: log.mask_counts.clone(),
        started,
        body_limit: dp.record_body_bytes,
        unmasked: log.unmasked.clone(),
        streamed_request: log.streamed_request.clone(),
    };
    Response::from_parts(parts, RecordedBody::new(body, pending).boxed_unsync())
}

/// Step 1a.
fn canonicalize(dp: &DataPlane, parts: &Parts) -> Result<CanonicalRequest, GatewayError> {
    Ok(CanonicalRequest::from_parts(parts, Limits { max_uri_len: dp.limits.max_uri_len })?)
}

/// Step 2. The token is read from `Authorization: Bearer`; that header is removed
/// before anything is forwarded (see `headers.rs`).
pub(crate) async fn authenticate(dp: &DataPlane, parts: &Parts) -> Result<Option<Principal>, GatewayError> {
    if !dp.require_auth {
        return Ok(None);
    }
    authenticate_headers(&dp.auth, &parts.headers).await.map(Some)
}

/// Authenticates a request's bearer token; shared with the control API.
pub(crate) async fn authenticate_headers(
    auth: &Authenticator,
    headers: &http::HeaderMap,
) -> Result<Principal, GatewayError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(GatewayError::Unauthenticated(None));
    }
    let token = first
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .ok_or(GatewayError::Unauthenticated(None))?;
    auth.authenticate(token).await.map_err(|e| {
        if e.reason().is_unavailable() {
            GatewayError::IdentityUnavailable(e)
        } else {
            GatewayError::Unauthenticated(Some(e))
        }
    })
}

/// Step 1b: refuse a declared oversize body at once; guard a streamed one.
fn guard_body(limits: &LimitsConfig, parts: &Parts, body: Incoming) -> Result<ProxyBody, GatewayError> {
    let limit = limits.max_request_body.0;
    let declared =
        parts.headers.get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(GatewayError::BodyTooLarge { limit });
    }
    Ok(GuardedBody::new(body, limit, limits.body_timeout).boxed_unsync())
}

/// The authority the agent addressed: `Host`, else HTTP/2 `:authority`, else the
/// listener's own address.
fn agent_host(parts: &Parts, info: ConnInfo) -> String {
    parts
        .headers
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_else(|| info.local.to_string())
}

/// Step 9: hop-by-hop headers removed, headers and body masked (decoded first if
/// compressed), upstream URLs rewritten to the gateway.
fn respond(
    routed: &Routed,
    upstream: Response<Incoming>,
    mask: Option<(MaskEngine, SessionContext)>,
    seal: Option<usize>,
    log: &mut RequestLog,
) -> Result<Response<ProxyBody>, GatewayError> {
    let (mut parts, body) = upstream.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    let mut body: ProxyBody = body.map_err(Into::into).boxed_unsync();
    if let Some(limit) = seal.filter(|l| *l > 0) {
        let capture = crate::record::Capture::default();
        body = crate::record::TeeBody::new(body, capture.clone(), limit).boxed_unsync();
        log.unmasked = Some(capture);
    }
    if let Some((engine, session)) = mask {
        let (masked, counts) = mask_response(&engine, &session, &mut parts, body)
            .map_err(|e| GatewayError::Unmaskable(e.to_string()))?;
        body = masked;
        log.mask_counts = Some(counts);
    }
    let Some(rewrite) = &routed.connection.rewrite else {
        return Ok(Response::from_parts(parts, body));
    };
    for name in URL_HEADERS {
        let new = parts
            .headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| rewrite.header_value(v, &routed.agent_base))
            .and_then(|v| HeaderValue::from_str(&v).ok());
        if let Some(v) = new {
            parts.headers.insert(*name, v);
        }
    }
    let identity =
        parts.headers.get(CONTENT_ENCODING).is_none_or(|v| v.as_bytes().eq_ignore_ascii_case(b"identity"));
    let json = parts.headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(is_json);
    if identity && json {
        parts.headers.remove(CONTENT_LENGTH);
        let body = RewriteBody::new(body, rewrite.body(&routed.agent_base));
        return Ok(Response::from_parts(parts, body.boxed_unsync()));
    }
    Ok(Response::from_parts(parts, body))
}

fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || essence == "text/json" || essence.ends_with("+json")
}
