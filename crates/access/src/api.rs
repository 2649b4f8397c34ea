//! The control API: `/api/v1/access-requests`, `/api/v1/grants`, `/api/v1/openapi.json`.
//! The gateway authenticates callers and inserts their [`Principal`] as a request
//! extension; handlers read it through [`Caller`].

use std::time::Duration;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use portcullis_identity::Principal;

use crate::error::{AccessError, AccessReason};
use crate::model::{AccessRequest, DecisionBody, NewRequest, RequestFilter, RequestState};
use crate::service::AccessService;

/// The OpenAPI document of this API (`crates/access/openapi.json`).
pub const OPENAPI: &str = include_str!("../openapi.json");

/// The authenticated caller, from the `Principal` request extension. Absent → 401.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = AccessError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| AccessError::new(AccessReason::Unauthenticated, "present a bearer token"))
    }
}

/// JSON bodies that fail to parse answer in the project's error shape.
pub(crate) struct Body<T>(pub(crate) T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = AccessError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| AccessError::new(AccessReason::InvalidRequest, e.body_text()))?;
        if bytes.is_empty() {
            return serde_json::from_slice(b"{}").map(Body).map_err(|e| {
                AccessError::new(AccessReason::InvalidRequest, format!("a JSON body is required: {e}"))
            });
        }
        serde_json::from_slice(&bytes)
            .map(Body)
            .map_err(|e| AccessError::new(AccessReason::InvalidRequest, format!("invalid JSON body: {e}")))
    }
}

/// The router to mount on the control listener.
pub fn router(service: AccessService) -> Router {
    Router::new()
        .route("/api/v1/access-requests", post(create).get(list))
        .route("/api/v1/access-requests/{id}", get(get_one))
        .route("/api/v1/access-requests/{id}/approve", post(approve))
        .route("/api/v1/access-requests/{id}/deny", post(deny))
        .route("/api/v1/access-requests/{id}/cancel", post(cancel))
        .route("/api/v1/grants", get(grants))
        .route("/api/v1/grants/{id}", get(grant))
        .route("/api/v1/grants/{id}/revoke", post(revoke))
        .route("/api/v1/grants/{id}/token", post(token))
        .route("/api/v1/openapi.json", get(openapi))
        .merge(crate::reviews_api::routes())
        .with_state(service)
}

/// The 403 body of the data path when no grant is active for the connection:
/// tells the agent where and how to ask.
pub fn access_required(public_url: &str, connection: &str, levels: &[String]) -> serde_json::Value {
    serde_json::json!({ "error": {
        "code": "access_required",
        "message": format!(
            "no active grant for connection {connection}; request access (POST request_url with connection, level, duration, reason) and wait for approval"
        ),
        "request_url": format!("{}/api/v1/access-requests", public_url.trim_end_matches('/')),
        "connection": connection,
        "levels": levels,
    }})
}

pub(crate) type ApiResult = Result<Response, AccessError>;

async fn create(State(s): State<AccessService>, Caller(p): Caller, Body(new): Body<NewRequest>) -> ApiResult {
    let r = s.create(&p, &new).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    connection: Option<String>,
    principal: Option<String>,
}

async fn list(
    State(s): State<AccessService>,
    Caller(p): Caller,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| AccessError::new(AccessReason::InvalidRequest, e.body_text()))?;
    let state =
        match q.state.as_deref() {
            None => None,
            Some(st) => Some(RequestState::parse(st).ok_or_else(|| {
                AccessError::new(AccessReason::InvalidRequest, format!("unknown state {st}"))
            })?),
        };
    let filter = RequestFilter { state, connection: q.connection, principal: q.principal };
    let items: Vec<_> = s.list(&filter).await?.into_iter().filter(|r| s.may_see_request(&p, r)).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    wait: Option<String>,
    version: Option<i64>,
}

async fn get_one(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    q: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| AccessError::new(AccessReason::InvalidRequest, e.body_text()))?;
    let r = match q.wait.as_deref() {
        None => visible(&s, &p, s.get(&id).await?)?,
        Some(w) => {
            let wait = parse_wait(w)?;
            visible(&s, &p, s.get(&id).await?)?;
            s.wait(&id, wait, q.version).await?
        }
    };
    Ok(Json(r).into_response())
}

/// A `?wait=` value (`30s`, `2m`); the service bounds it by `access.max_wait`.
pub(crate) fn parse_wait(w: &str) -> Result<Duration, AccessError> {
    humantime::parse_duration(w)
        .map_err(|e| AccessError::new(AccessReason::InvalidRequest, format!("wait {w:?}: {e}")))
}

async fn approve(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(b): Body<DecisionBody>,
) -> ApiResult {
    Ok(Json(s.approve(&p, &id, &b).await?).into_response())
}

async fn deny(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(b): Body<DecisionBody>,
) -> ApiResult {
    Ok(Json(s.deny(&p, &id, &b).await?).into_response())
}

async fn cancel(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(b): Body<DecisionBody>,
) -> ApiResult {
    Ok(Json(s.cancel(&p, &id, &b).await?).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantQuery {
    state: Option<String>,
    principal: Option<String>,
}

async fn grants(
    State(s): State<AccessService>,
    Caller(p): Caller,
    q: Result<Query<GrantQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let Query(q) = q.map_err(|e| AccessError::new(AccessReason::InvalidRequest, e.body_text()))?;
    let items: Vec<_> = s
        .grants(q.state.as_deref(), q.principal.as_deref())
        .await?
        .into_iter()
        .filter(|g| s.may_see_grant(&p, g))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn grant(State(s): State<AccessService>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult {
    let g = s.grant(&id).await?;
    if !s.may_see_grant(&p, &g) {
        return Err(AccessError::new(AccessReason::NotFound, format!("no grant {id}")));
    }
    Ok(Json(g).into_response())
}

async fn revoke(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(b): Body<DecisionBody>,
) -> ApiResult {
    Ok(Json(s.revoke(&p, &id, &b).await?).into_response())
}

async fn token(State(s): State<AccessService>, Caller(p): Caller, Path(id): Path<String>) -> ApiResult {
    Ok(Json(s.token(&p, &id).await?).into_response())
}

fn visible(s: &AccessService, p: &Principal, r: AccessRequest) -> Result<AccessRequest, AccessError> {
    if s.may_see_request(p, &r) {
        Ok(r)
    } else {
        Err(AccessError::new(AccessReason::NotFound, format!("no access request {}", r.id)))
    }
}

async fn openapi() -> Response {
    ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}
