//! `/api/v1/sessions` and `/api/v1/audit`: the recorded sessions and the audit log, for
//! the console and for auditors' tools. The same queries as `portcullis sessions` and
//! `portcullis audit`, read from the store the gateway writes (SQLite or PostgreSQL).
//! Members of `access.admin_groups` only: a session holds what agents did and received.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use portcullis_audit::{ExportFormat, SessionFilter, VerifyOptions};
use portcullis_identity::Principal;
use serde::Deserialize;
use serde_json::json;

use crate::control::ControlState;

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response()
}

fn store_failed(e: &portcullis_audit::AuditError) -> Response {
    tracing::error!(code = e.reason.code(), detail = %e, "reading the audit log failed");
    error(StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable", "the audit log cannot be read right now")
}

/// A session read: 200 with it, 404 when nothing was recorded under the grant, 503 when
/// the store cannot be read.
fn found<T: serde::Serialize>(read: Result<Option<T>, portcullis_audit::AuditError>) -> Response {
    match read {
        Ok(Some(v)) => Json(v).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, "not_found", "nothing was recorded under this grant id"),
        Err(e) => store_failed(&e),
    }
}

fn admin_only(state: &ControlState, caller: &Principal) -> Option<Response> {
    (!state.access.is_admin(caller)).then(|| {
        error(
            StatusCode::FORBIDDEN,
            "not_allowed",
            "only members of access.admin_groups may read sessions and the audit log",
        )
    })
}

/// `since`: RFC 3339 or an age such as `24h`; µs since the epoch. `Err`: the 400 to send.
fn parse_since(since: Option<&str>) -> Result<Option<i64>, ()> {
    let Some(s) = since else { return Ok(None) };
    if let Ok(at) = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
        return Ok(Some((at.unix_timestamp_nanos() / 1000) as i64));
    }
    let age = humantime::parse_duration(s).map_err(|_| ())?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000;
    Ok(Some((now - age.as_micros() as i128) as i64))
}

fn bad_since() -> Response {
    error(
        StatusCode::BAD_REQUEST,
        "bad_request",
        "since: use RFC 3339 (2026-11-30T09:00:00Z) or an age (24h)",
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    principal: Option<String>,
    connection: Option<String>,
    since: Option<String>,
}

/// `GET /api/v1/sessions[?principal=&connection=&since=]`.
async fn list(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<ListQuery>,
) -> Response {
    if let Some(refused) = admin_only(&state, &caller) {
        return refused;
    }
    let Ok(since_us) = parse_since(q.since.as_deref()) else { return bad_since() };
    let filter = SessionFilter { principal: q.principal, connection: q.connection, since_us };
    match portcullis_audit::list_sessions(state.audit_store.pool(), &filter).await {
        Ok(items) => Json(json!({ "items": items })).into_response(),
        Err(e) => store_failed(&e),
    }
}

/// `GET /api/v1/sessions/{grant_id}`: the timeline.
async fn show(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
    Path(grant_id): Path<String>,
) -> Response {
    if let Some(refused) = admin_only(&state, &caller) {
        return refused;
    }
    found(portcullis_audit::show_session(state.audit_store.pool(), &grant_id).await)
}

/// `GET /api/v1/sessions/{grant_id}/replay`: the calls in order with their timing.
async fn replay(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
    Path(grant_id): Path<String>,
) -> Response {
    if let Some(refused) = admin_only(&state, &caller) {
        return refused;
    }
    found(portcullis_audit::replay(state.audit_store.pool(), &grant_id).await)
}

/// `GET /api/v1/audit/verify`: the chain and every checkpoint, checked against this
/// gateway's own public key (an auditor should also verify with a key kept elsewhere:
/// `portcullis audit verify --trusted-key`).
async fn verify(State(state): State<Arc<ControlState>>, Extension(caller): Extension<Principal>) -> Response {
    if let Some(refused) = admin_only(&state, &caller) {
        return refused;
    }
    let key = match portcullis_audit::read_public_key(state.audit_store.data_dir()) {
        Ok(k) => k,
        Err(e) => return store_failed(&e),
    };
    match portcullis_audit::verify(state.audit_store.pool(), &VerifyOptions { trusted_keys: vec![key] }).await
    {
        Ok(report) => {
            let status = if report.ok { StatusCode::OK } else { StatusCode::CONFLICT };
            (status, Json(report)).into_response()
        }
        Err(e) => store_failed(&e),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    since: Option<String>,
    format: Option<String>,
}

/// `GET /api/v1/audit/events[?since=&format=jsonl|ocsf]`: one JSON object per line
/// (`application/x-ndjson`), as `portcullis audit export`, streamed as it is read. A
/// failure after the first line ends the stream early (and is logged): a consumer counts
/// lines, it never gets a made-up end.
async fn events(
    State(state): State<Arc<ControlState>>,
    Extension(caller): Extension<Principal>,
    Query(q): Query<EventsQuery>,
) -> Response {
    if let Some(refused) = admin_only(&state, &caller) {
        return refused;
    }
    let format = match q.format.as_deref() {
        None | Some("jsonl") => ExportFormat::Jsonl,
        Some("ocsf") => ExportFormat::Ocsf,
        Some(_) => return error(StatusCode::BAD_REQUEST, "bad_request", "format: jsonl or ocsf"),
    };
    let Ok(since_us) = parse_since(q.since.as_deref()) else { return bad_since() };
    let (mut writer, reader) = tokio::io::duplex(64 * 1024);
    let store = state.audit_store.clone();
    tokio::spawn(async move {
        if let Err(e) = portcullis_audit::export(store.pool(), format, since_us, &mut writer).await {
            tracing::error!(code = e.reason.code(), detail = %e, "the audit export stopped early");
        }
    });
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    ([(header::CONTENT_TYPE, "application/x-ndjson")], body).into_response()
}

/// The routes (authentication is applied by the caller).
pub(crate) fn router(state: Arc<ControlState>) -> Router {
    Router::new()
        .route("/api/v1/sessions", get(list))
        .route("/api/v1/sessions/{grant_id}", get(show))
        .route("/api/v1/sessions/{grant_id}/replay", get(replay))
        .route("/api/v1/audit/verify", get(verify))
        .route("/api/v1/audit/events", get(events))
        .with_state(state)
}
