//! The fake ARM's single HTTP entry point: record, authenticate, require `api-version`,
//! dispatch, answer with ARM's standard headers.

use std::collections::HashMap;
use std::sync::Arc;

use aws_lc_rs::digest::{digest, SHA256};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};

use super::auth::{self, Caller};
use super::response::ArmResponse;
use super::{metadata, rbac, routes, ArmShared};

const MAX_BODY: usize = 8 * 1024 * 1024;

/// One request as the fake ARM received it, for "what reached the target" assertions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as received (not lower-cased).
    pub path: String,
    /// Raw query string, if any.
    pub query: Option<String>,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// Body length in bytes.
    pub body_len: usize,
    /// SHA-256 of the body, hex.
    pub body_sha256: String,
    /// True for a member request unpacked from a `/batch` call.
    pub via_batch: bool,
    /// Status the fake answered with.
    pub status: u16,
}

impl ReceivedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One request inside the fake, after the body was read.
pub(crate) struct ArmRequest<'a> {
    pub(crate) method: Method,
    pub(crate) path: &'a str,
    pub(crate) query: HashMap<String, String>,
    pub(crate) body: &'a [u8],
    pub(crate) caller: Caller,
}

impl ArmRequest<'_> {
    /// The `api-version` query parameter (present: checked before dispatch).
    pub(crate) fn api_version(&self) -> &str {
        self.query.get("api-version").map(String::as_str).unwrap_or_default()
    }
}

pub(super) fn router(shared: Arc<ArmShared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

pub(crate) fn record(shared: &ArmShared, entry: ReceivedRequest) {
    shared.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(entry);
}

pub(crate) fn received_entry(
    method: &Method,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> ReceivedRequest {
    ReceivedRequest {
        method: method.to_string(),
        path: path.to_owned(),
        query: query.map(str::to_owned),
        headers: headers
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body_len: body.len(),
        body_sha256: hex::encode(digest(&SHA256, body)),
        via_batch: false,
        status: 0,
    }
}

async fn handle(State(shared): State<Arc<ArmShared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let resp = ArmResponse::error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                "The request content is too large.",
            );
            return into_http(resp, &parts.headers, &parts.method);
        }
    };
    let path = parts.uri.path().to_owned();
    let raw_query = parts.uri.query().map(str::to_owned);
    let mut entry = received_entry(&parts.method, &path, raw_query.as_deref(), &parts.headers, &body);
    let resp = respond(&shared, &parts.method, &path, raw_query.as_deref(), &parts.headers, &body);
    entry.status = resp.status.as_u16();
    record(&shared, entry);
    into_http(resp, &parts.headers, &parts.method)
}

pub(crate) fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    raw.map(|q| url::form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
}

/// Authentication, `api-version`, then dispatch.
pub(crate) fn respond(
    shared: &ArmShared,
    method: &Method,
    path: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    body: &[u8],
) -> ArmResponse {
    let query = parse_query(raw_query);
    if path.trim_end_matches('/').eq_ignore_ascii_case("/metadata/endpoints") {
        return metadata::endpoints(shared, &query);
    }
    let caller = match auth::authenticate(&shared.idp, headers, shared.clock_skew_secs) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    match query.get("api-version") {
        None => {
            return ArmResponse::error(
                StatusCode::BAD_REQUEST,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        }
        Some(v) if !valid_api_version(v) => {
            return ArmResponse::error(
                StatusCode::BAD_REQUEST,
                "InvalidApiVersionParameter",
                format!("The api-version '{v}' is invalid. The supported versions are in the form 'yyyy-MM-dd' or 'yyyy-MM-dd-preview'."),
            )
        }
        Some(_) => {}
    }
    if shared.enforce_rbac {
        if let Err(denied) = rbac::authorize(shared, method, path, &caller) {
            return denied;
        }
    }
    let req = ArmRequest { method: method.clone(), path, query, body, caller };
    routes::dispatch(shared, &req, headers)
}

fn valid_api_version(v: &str) -> bool {
    let date = v.strip_suffix("-preview").unwrap_or(v);
    let b = date.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

fn into_http(resp: ArmResponse, req_headers: &HeaderMap, method: &Method) -> Response {
    let mut out = match (&resp.body, method == Method::HEAD) {
        (Some(body), false) => {
            let bytes = serde_json::to_vec(body).unwrap_or_default();
            let mut r = (resp.status, Body::from(bytes)).into_response();
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            r
        }
        _ => resp.status.into_response(),
    };
    let h = out.headers_mut();
    for (name, value) in &resp.headers {
        if let (Ok(n), Ok(v)) = (HeaderName::try_from(name.as_str()), HeaderValue::try_from(value.as_str())) {
            h.insert(n, v);
        }
    }
    let request_id = uuid::Uuid::new_v4().to_string();
    let correlation = req_headers
        .get("x-ms-correlation-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .unwrap_or_else(|| request_id.clone());
    for (name, value) in [("x-ms-request-id", request_id), ("x-ms-correlation-request-id", correlation)] {
        if let Ok(v) = HeaderValue::try_from(value) {
            h.insert(name, v);
        }
    }
    let budget = if method == Method::GET || method == Method::HEAD {
        "x-ms-ratelimit-remaining-subscription-reads"
    } else {
        "x-ms-ratelimit-remaining-subscription-writes"
    };
    h.insert(budget, HeaderValue::from_static("11999"));
    if let Some(v) = req_headers.get("x-ms-client-request-id") {
        h.insert("x-ms-client-request-id", v.clone());
    }
    out
}
