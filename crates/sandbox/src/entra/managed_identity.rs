//! Managed-identity token endpoints on loopback: the App Service protocol
//! (`IDENTITY_ENDPOINT` + `X-IDENTITY-HEADER`, api-version 2019-08-01) and the IMDS shape
//! (`/metadata/identity/oauth2/token`, `Metadata: true`, api-version 2018-02-01).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::{HeaderMap, StatusCode};
use serde_json::json;

use super::routes::Shared;
use super::EntraShared;

/// The managed-identity endpoints' error body: `error` and `error_description`.
#[derive(Debug)]
struct MiError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl IntoResponse for MiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.error, "error_description": self.description });
        (self.status, Json(body)).into_response()
    }
}

fn error(status: StatusCode, error: &'static str, description: &str) -> MiError {
    MiError { status, error, description: description.to_owned() }
}

/// Issues a token for the managed identity (or the user-assigned one named by
/// `client_id`) and returns (token, spec).
fn issue(s: &EntraShared, q: &HashMap<String, String>) -> Result<(String, super::TokenSpec), MiError> {
    let Some(resource) = q.get("resource").filter(|r| !r.is_empty()) else {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'resource' is missing",
        ));
    };
    let agent = match q.get("client_id").or_else(|| q.get("principal_id")) {
        Some(id) => s
            .agent_by_client_id(id)
            .ok_or_else(|| error(StatusCode::BAD_REQUEST, "invalid_request", "Identity not found"))?,
        None => s.managed_identity.clone(),
    };
    let spec = s.spec_for_agent(&agent, resource);
    let token = s
        .mint(&spec)
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, "unknown_error", &e.to_string()))?;
    Ok((token, spec))
}

pub(super) async fn app_service(
    State(s): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let presented = headers.get("x-identity-header").and_then(|v| v.to_str().ok());
    if presented != Some(s.identity_header.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.",
        )
        .into_response();
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "api-version must be 2019-08-01")
            .into_response();
    }
    let (token, spec) = match issue(&s, &q) {
        Ok(issued) => issued,
        Err(e) => return e.into_response(),
    };
    Json(json!({
        "access_token": token,
        "expires_on": spec.expires_at.to_string(),
        "resource": spec.audience,
        "token_type": "Bearer",
        "client_id": spec.app_id,
    }))
    .into_response()
}

pub(super) async fn imds(
    State(s): Shared,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if headers.get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "Required metadata header not specified")
            .into_response();
    }
    if headers.contains_key("x-forwarded-for") {
        return error(StatusCode::BAD_REQUEST, "invalid_request", "Request contains X-Forwarded-For header")
            .into_response();
    }
    if !q.contains_key("api-version") {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Required query variable 'api-version' is missing",
        )
        .into_response();
    }
    let (token, spec) = match issue(&s, &q) {
        Ok(issued) => issued,
        Err(e) => return e.into_response(),
    };
    let lifetime = (spec.expires_at - spec.issued_at).to_string();
    Json(json!({
        "access_token": token,
        "client_id": spec.app_id,
        "expires_in": lifetime,
        "expires_on": spec.expires_at.to_string(),
        "ext_expires_in": lifetime,
        "not_before": spec.not_before.to_string(),
        "resource": spec.audience,
        "token_type": "Bearer",
    }))
    .into_response()
}
