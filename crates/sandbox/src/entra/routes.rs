//! HTTP routes of the fake Entra ID: discovery documents and JWKS.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use super::token::{issuer_for, TokenVersion};
use super::{managed_identity, token_endpoint, EntraShared};

pub(crate) type Shared = State<Arc<EntraShared>>;

pub(super) fn router(shared: Arc<EntraShared>) -> Router {
    Router::new()
        .route("/{tenant}/v2.0/.well-known/openid-configuration", get(discovery_v2))
        .route("/{tenant}/.well-known/openid-configuration", get(discovery_v1))
        .route("/{tenant}/discovery/v2.0/keys", get(jwks))
        .route("/{tenant}/discovery/keys", get(jwks))
        .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint::token_v2))
        .route("/{tenant}/oauth2/token", post(token_endpoint::token_v1))
        .route("/msi/token", get(managed_identity::app_service))
        .route("/metadata/identity/oauth2/token", get(managed_identity::imds))
        .with_state(shared)
}

/// The issuer a discovery document for path segment `tenant` names: multi-tenant
/// aliases carry Entra's literal `{tenantid}` placeholder, as the real documents do.
fn discovery_issuer(s: &EntraShared, tenant: &str, version: TokenVersion) -> String {
    if tenant.eq_ignore_ascii_case(&s.tenant) {
        issuer_for(&s.tenant, version)
    } else {
        issuer_for("{tenantid}", version)
    }
}

/// Whether `tenant` (a path segment) names this fake's tenant. Entra also accepts
/// `common`/`organizations` for discovery; tokens are still issued for the one tenant.
pub(super) fn known_tenant(shared: &EntraShared, tenant: &str) -> bool {
    tenant.eq_ignore_ascii_case(&shared.tenant)
        || tenant.eq_ignore_ascii_case("common")
        || tenant.eq_ignore_ascii_case("organizations")
}

fn tenant_not_found(tenant: &str) -> Response {
    token_endpoint::entra_error(
        http::StatusCode::BAD_REQUEST,
        "invalid_tenant",
        90002,
        &format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."),
    )
    .into_response()
}

async fn discovery_v2(State(s): Shared, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&s, &tenant) {
        return tenant_not_found(&tenant);
    }
    let base = format!("{}/{}", s.base_url, s.tenant);
    Json(json!({
        "issuer": discovery_issuer(&s, &tenant, TokenVersion::V2),
        "authorization_endpoint": format!("{base}/oauth2/v2.0/authorize"),
        "token_endpoint": format!("{base}/oauth2/v2.0/token"),
        "device_authorization_endpoint": format!("{base}/oauth2/v2.0/devicecode"),
        "end_session_endpoint": format!("{base}/oauth2/v2.0/logout"),
        "jwks_uri": format!("{base}/discovery/v2.0/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid",
            "preferred_username", "tid", "ver", "azp", "roles", "groups"],
        "request_uri_parameter_supported": false,
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

async fn discovery_v1(State(s): Shared, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&s, &tenant) {
        return tenant_not_found(&tenant);
    }
    let base = format!("{}/{}", s.base_url, s.tenant);
    Json(json!({
        "issuer": discovery_issuer(&s, &tenant, TokenVersion::V1),
        "authorization_endpoint": format!("{base}/oauth2/authorize"),
        "token_endpoint": format!("{base}/oauth2/token"),
        "end_session_endpoint": format!("{base}/oauth2/logout"),
        "jwks_uri": format!("{base}/discovery/keys"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "response_types_supported": ["code", "id_token", "code id_token", "token id_token", "token"],
        "scopes_supported": ["openid"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "name", "oid",
            "upn", "unique_name", "tid", "ver", "appid", "roles", "groups"],
        "microsoft_multi_refresh_token": true,
        "check_session_iframe": format!("{base}/oauth2/checksession"),
        "userinfo_endpoint": format!("{base}/openid/userinfo"),
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }))
    .into_response()
}

async fn jwks(State(s): Shared, Path(tenant): Path<String>) -> Response {
    if !known_tenant(&s, &tenant) {
        return tenant_not_found(&tenant);
    }
    Json(s.jwks()).into_response()
}
