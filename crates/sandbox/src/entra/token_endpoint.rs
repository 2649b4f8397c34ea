//! The token endpoint: `client_credentials` with a client secret or a certificate-signed
//! client assertion, v2 (`scope=…/.default`) and v1 (`resource=…`), Entra's error format.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde_json::{json, Value};

use super::principal::Agent;
use super::routes::{known_tenant, Shared};
use super::EntraShared;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The on-behalf-of grant: an agent exchanges a user's token for one to a downstream API.
const OBO_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// An error in Entra's format: `error`, `error_description` starting with the AADSTS
/// code, `error_codes`, `timestamp`, `trace_id`, `correlation_id`, `error_uri`.
#[derive(Debug)]
pub(crate) struct EntraError {
    status: StatusCode,
    error: &'static str,
    code: u32,
    text: String,
}

impl IntoResponse for EntraError {
    fn into_response(self) -> Response {
        let Self { status, error, code, text } = self;
        let trace = uuid::Uuid::new_v4().to_string();
        let correlation = uuid::Uuid::new_v4().to_string();
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let body = json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {correlation} Timestamp: {stamp}"),
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        (status, Json(body)).into_response()
    }
}

/// An Entra error with `status`, OAuth `error` and AADSTS `code`.
pub(crate) fn entra_error(status: StatusCode, error: &'static str, code: u32, text: &str) -> EntraError {
    EntraError { status, error, code, text: text.to_owned() }
}

fn bad_request(code: u32, text: &str) -> EntraError {
    entra_error(StatusCode::BAD_REQUEST, "invalid_request", code, text)
}

pub(super) fn invalid_client(code: u32, text: &str) -> EntraError {
    entra_error(StatusCode::UNAUTHORIZED, "invalid_client", code, text)
}

pub(super) async fn token_v2(s: Shared, tenant: Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    token(s, tenant, headers, body, true).unwrap_or_else(IntoResponse::into_response)
}

pub(super) async fn token_v1(s: Shared, tenant: Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    token(s, tenant, headers, body, false).unwrap_or_else(IntoResponse::into_response)
}

fn token(
    State(s): Shared,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
    v2: bool,
) -> Result<Response, EntraError> {
    if !known_tenant(&s, &tenant) {
        return Err(bad_request(90002, &format!("Tenant '{tenant}' not found.")));
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let Some(grant) = form.get("grant_type") else {
        return Err(bad_request(
            900144,
            "The request body must contain the following parameter: 'grant_type'.",
        ));
    };
    let obo = grant == OBO_GRANT;
    if grant != "client_credentials" && !obo {
        let text = "The app requested an unsupported grant type.";
        return Err(entra_error(StatusCode::BAD_REQUEST, "unsupported_grant_type", 70003, text));
    }
    let audience = requested_audience(&form, v2, obo)?;
    let (basic_id, basic_secret) = basic_auth(&headers).unzip();
    let client_id = form
        .get("client_id")
        .cloned()
        .or(basic_id)
        .or_else(|| form.get("client_assertion").and_then(|a| unverified_claim(a, "iss")));
    let Some(client_id) = client_id else {
        return Err(bad_request(
            900144,
            "The request body must contain the following parameter: 'client_id'.",
        ));
    };
    let Some(agent) = s.agent_by_client_id(&client_id) else {
        let text = format!(
            "Application with identifier '{client_id}' was not found in the directory '{}'.",
            s.tenant
        );
        return Err(entra_error(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, &text));
    };
    authenticate(&s, &agent, &form, basic_secret, &tenant)?;
    let spec = if obo {
        super::token_endpoint_obo::on_behalf_of(&s, &agent, &form, &audience)?
    } else {
        s.spec_for_agent(&agent, &audience)
    };
    let token = s
        .mint(&spec)
        .map_err(|e| entra_error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", 50000, &e.to_string()))?;
    let lifetime = spec.expires_at - spec.issued_at;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": lifetime,
        "ext_expires_in": lifetime,
        "access_token": token,
    });
    if !v2 {
        if let Some(obj) = body.as_object_mut() {
            obj.insert("expires_in".into(), json!(lifetime.to_string()));
            obj.insert("ext_expires_in".into(), json!(lifetime.to_string()));
            obj.insert("expires_on".into(), json!(spec.expires_at.to_string()));
            obj.insert("not_before".into(), json!(spec.not_before.to_string()));
            obj.insert("resource".into(), json!(audience));
        }
    }
    Ok(Json(body).into_response())
}

/// The audience a request asks for: v2 `scope=RESOURCE/.default`, v1 `resource=RESOURCE`.
/// On-behalf-of requests may name a delegated scope (`RESOURCE/user_impersonation`).
fn requested_audience(form: &HashMap<String, String>, v2: bool, obo: bool) -> Result<String, EntraError> {
    if !v2 {
        return form.get("resource").cloned().ok_or_else(|| {
            bad_request(900144, "The request body must contain the following parameter: 'resource'.")
        });
    }
    let Some(scope) = form.get("scope") else {
        return Err(bad_request(900144, "The request body must contain the following parameter: 'scope'."));
    };
    let scope = scope.split_whitespace().next().unwrap_or_default();
    let delegated = obo.then(|| scope.rsplit_once('/').map(|(r, _)| r)).flatten();
    let Some(resource) = scope.strip_suffix("/.default").or(delegated) else {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            1002012,
            &format!("The provided value for scope {scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI)."),
        ));
    };
    // `https://management.azure.com//.default` (as az sends it) and
    // `https://management.azure.com/.default` both mean the ARM resource.
    let resource = resource.trim_end_matches('/');
    Ok(if resource.starts_with("https://") && !resource[8..].contains('/') {
        format!("{resource}/")
    } else {
        resource.to_owned()
    })
}

fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = String::from_utf8(B64.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
    Some((unescape(id), unescape(secret)))
}

fn unverified_claim(jwt: &str, name: &str) -> Option<String> {
    let payload = jwt.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(&B64URL.decode(payload).ok()?).ok()?;
    claims.get(name)?.as_str().map(str::to_owned)
}

fn authenticate(
    s: &EntraShared,
    agent: &Agent,
    form: &HashMap<String, String>,
    basic_secret: Option<String>,
    tenant: &str,
) -> Result<(), EntraError> {
    if let Some(assertion) = form.get("client_assertion") {
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(bad_request(
                50027,
                &format!("Invalid client_assertion_type: the value must be '{ASSERTION_TYPE}'."),
            ));
        }
        return super::token_endpoint_assertion::verify(s, agent, assertion, tenant);
    }
    let Some(secret) = form.get("client_secret").cloned().or(basic_secret) else {
        return Err(invalid_client(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    match &agent.secret {
        Some(expected) if constant_time_eq(expected.as_bytes(), secret.as_bytes()) => Ok(()),
        _ => Err(invalid_client(
            7000215,
            &format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.", agent.client_id),
        )),
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn default_scopes_map_to_the_resource_as_entra_does() -> Result<(), EntraError> {
        let arm = "https://management.azure.com/";
        assert_eq!(
            requested_audience(&form(&[("scope", "https://management.azure.com/.default")]), true, false)?,
            arm
        );
        // az sends the resource with its trailing slash, then `/.default`.
        assert_eq!(
            requested_audience(&form(&[("scope", "https://management.azure.com//.default")]), true, false)?,
            arm
        );
        assert_eq!(
            requested_audience(&form(&[("scope", "api://portcullis/.default")]), true, false)?,
            "api://portcullis"
        );
        assert_eq!(
            requested_audience(
                &form(&[("scope", "https://management.azure.com/user_impersonation")]),
                true,
                true
            )?,
            arm
        );
        assert!(requested_audience(
            &form(&[("scope", "https://management.azure.com/user_impersonation")]),
            true,
            false
        )
        .is_err());
        assert_eq!(requested_audience(&form(&[("resource", arm)]), false, false)?, arm);
        Ok(())
    }

    #[test]
    fn basic_auth_credentials_are_url_decoded() {
        let mut headers = HeaderMap::new();
        let value = format!("Basic {}", B64.encode("my%20app:s%3Acret"));
        headers
            .insert(http::header::AUTHORIZATION, value.parse().unwrap_or(http::HeaderValue::from_static("")));
        assert_eq!(basic_auth(&headers), Some(("my app".to_owned(), "s:cret".to_owned())));
    }
}
