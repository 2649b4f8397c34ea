//! The control listener: health, readiness, metrics, and the `/api/v1` control API
//! (access requests, approvals, grants, reviews, connectors).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::{Json, Router};
use http_body_util::BodyExt;
use portcullis_audit::AuditLog;
use portcullis_identity::{Authenticator, Principal};
use portcullis_store::Store;
use serde_json::json;

use crate::listener::Handler;
use crate::metrics::Metrics;
use crate::pipeline::authenticate_headers;

/// Shared state of the control API.
pub(crate) struct ControlState {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) auth: Arc<Authenticator>,
    pub(crate) audit: Arc<AuditLog>,
    pub(crate) access: portcullis_access::AccessService,
    pub(crate) auth_events: Arc<crate::auth_events::AuthEvents>,
    pub(crate) draining: AtomicBool,
    /// The tunnel listener, when remote connectors can attach.
    pub(crate) tunnel: Option<portcullis_tunnel::TunnelServer>,
    /// The store the audit log writes (SQLite or PostgreSQL), for reading sessions.
    pub(crate) audit_store: portcullis_store::StoreHandle,
    /// What `portcullis env` asks for (`/api/v1/agent-environment`).
    pub(crate) agent_env: Arc<crate::agent_env::AgentEnvironment>,
    /// Every connection's guardrail rules (`/api/v1/rules`).
    pub(crate) rules: Arc<crate::guardrails::GuardrailRules>,
}

async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Ready means: not draining, and the store accepts a write now. A gateway that cannot
/// record must not receive traffic (fail closed).
async fn readyz(State(state): State<Arc<ControlState>>) -> impl IntoResponse {
    if state.draining.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "draining" })));
    }
    let audit = state.audit.status();
    if !audit.healthy {
        let reason = audit.reason.map(|r| r.code()).unwrap_or("audit_unavailable");
        tracing::error!(reason, detail = audit.detail.as_deref().unwrap_or(""), "audit log unhealthy");
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({ "status": "unavailable", "audit": "failing", "reason": reason })),
        );
    }
    match state.store.health().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ready", "store": state.store.backend() }))),
        Err(e) => {
            tracing::error!(error = %e, "store health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "store": state.store.backend(), "reason": e.reason.code() }),
                ),
            )
        }
    }
}

async fn metrics(State(state): State<Arc<ControlState>>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.render(),
    )
}

/// `GET /api/v1/whoami`: the principal the caller's token proves.
async fn whoami(Extension(principal): Extension<Principal>) -> impl IntoResponse {
    Json(principal)
}

/// Every `/api/v1` route needs an authenticated caller; handlers read its `Principal`
/// from the request extensions.
async fn require_principal(
    State(state): State<Arc<ControlState>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    mut req: Request,
    next: Next,
) -> Response {
    match authenticate_headers(&state.auth, req.headers()).await {
        Ok(principal) => {
            req.extensions_mut().insert(principal);
            next.run(req).await
        }
        Err(e) => {
            tracing::info!(code = e.reason().code(), detail = %e, "control API caller refused");
            state.auth_events.failure(&e, peer.ip(), "control");
            e.into_response().map(axum::body::Body::new)
        }
    }
}

fn not_allowed(what: &str) -> Response {
    let body = json!({ "error": { "code": "not_allowed", "message": format!("only members of access.admin_groups may {what}") } });
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

/// `GET /api/v1/connectors`: every remote connector the gateway knows (pinned or seen),
/// whether it is attached, when it was last seen, its version and the connections it
/// serves. Admins only.
async fn connectors(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
) -> Response {
    if !state.access.is_admin(&caller) {
        return not_allowed("list connectors");
    }
    let list = state.tunnel.as_ref().map(|t| t.pool().status()).unwrap_or_default();
    Json(json!({ "tunnel": state.tunnel.is_some(), "items": list })).into_response()
}

/// `POST /api/v1/connectors/{name}/revoke`: the connector's key is refused from now on and
/// its tunnels close (their in-flight requests fail with 502). Admins only; audited.
async fn revoke_connector(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
    axum::extract::Path(name): axum::extract::Path<String>,
) -> Response {
    if !state.access.is_admin(&caller) {
        return not_allowed("revoke connectors");
    }
    let Some(tunnel) = &state.tunnel else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "not_found", "message": "no tunnel listener is configured" } })),
        )
            .into_response();
    };
    let event = portcullis_audit::AuditEvent::now(portcullis_audit::EventDetail::ConnectorLink {
        connector_id: name.clone(),
        state: format!("revoked by {}", caller.subject),
        connections: Vec::new(),
        remote: None,
    });
    if let Err(e) = state.audit.append(event).await {
        tracing::error!(code = e.reason.code(), "could not record a connector revocation; not revoked");
        let body = json!({ "error": { "code": "audit_unavailable", "message": "the revocation could not be recorded, so it was not done; retry shortly" } });
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match tunnel.revoke(&name) {
        Ok(true) => Json(json!({ "name": name, "revoked": true })).into_response(),
        Ok(false) => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": { "code": "not_found", "message": format!("no connector is pinned as `{name}`") } })),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, connector = %name, "revocation failed");
            let body = json!({ "error": { "code": "internal", "message": "the revocation could not be saved" } });
            (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
        }
    }
}

/// `GET /api/v1/rules`: each connection's guardrail rule sources, rule count and digest
/// in force. Admins only.
async fn rules(State(state): State<Arc<ControlState>>, Extension(caller): Extension<Principal>) -> Response {
    if !state.access.is_admin(&caller) {
        return not_allowed("read the guardrail rules");
    }
    Json(json!({ "items": state.rules.status() })).into_response()
}

/// `POST /api/v1/rules/reload`: reads and compiles every connection's rule sources again
/// and puts them in force, all or none (422 `rules_invalid` keeps the rules in force).
/// Admins only; audited either way.
async fn reload_rules(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
) -> Response {
    if !state.access.is_admin(&caller) {
        return not_allowed("reload the guardrail rules");
    }
    match state.rules.reload(&caller.subject).await {
        Ok(items) => Json(json!({ "reloaded": true, "items": items })).into_response(),
        Err(crate::guardrails::RulesReloadError::Invalid(detail)) => {
            let body = json!({ "error": { "code": "rules_invalid", "message": detail } });
            (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response()
        }
        Err(crate::guardrails::RulesReloadError::Audit(e)) => {
            tracing::error!(code = e.reason.code(), "could not record a rules reload; not reloaded");
            let body = json!({ "error": { "code": "audit_unavailable", "message": "the reload could not be recorded, so it was not done; retry shortly" } });
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}

async fn not_found() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Json(json!({ "error": { "code": "not_found", "message": "no such control endpoint" } })),
    )
}

/// The control API as a listener handler.
pub(crate) fn handler(state: Arc<ControlState>) -> Handler {
    let api = Router::new()
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/connectors", get(connectors))
        .route("/api/v1/agent-environment", get(crate::agent_env::handler))
        .route("/api/v1/connectors/{name}/revoke", axum::routing::post(revoke_connector))
        .route("/api/v1/rules", get(rules))
        .route("/api/v1/rules/reload", axum::routing::post(reload_rules))
        .with_state(state.clone())
        .merge(portcullis_access::router(state.access.clone()))
        .merge(crate::sessions_api::router(state.clone()))
        .route_layer(middleware::from_fn_with_state(state.clone(), require_principal));
    let router = Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
        .merge(api)
        .fallback(not_found);
    Arc::new(move |info, mut req| {
        let router = router.clone();
        req.extensions_mut().insert(ConnectInfo(info.peer));
        Box::pin(async move {
            use tower::ServiceExt;
            let resp = match router.oneshot(req.map(axum::body::Body::new)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            resp.map(|b| b.map_err(Into::into).boxed_unsync())
        })
    })
}
