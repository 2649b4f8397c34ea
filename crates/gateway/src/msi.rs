//! The managed-identity endpoint on the data listener, so Azure clients (`az login
//! --identity`, `ManagedIdentityCredential`) get their tokens from the gateway:
//!
//! - App Service shape: `GET /msi/token?resource=…&api-version=2019-08-01` with
//!   `X-IDENTITY-HEADER` (the agent sets `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`);
//! - IMDS shape: `GET /metadata/identity/oauth2/token?resource=…&api-version=…` with
//!   `Metadata: true` and the same `X-IDENTITY-HEADER`.
//!
//! The identity header holds the agent's grant token, or its OIDC token when it holds an
//! active grant for the connection that claims the resource's host. The answer is a
//! gateway-issued grant token shaped as Azure's (`tid`, `oid`, `aud` = resource), bound to
//! that grant and never outliving it — never an Azure token. Revoke the grant and both the
//! endpoint and the token are refused.

use http::{Request, StatusCode};
use hyper::body::Incoming;
use portcullis_audit::{AuditEvent, EventDetail, Outcome};
use portcullis_identity::{GrantClaims, ManagedIdentityClaims, Principal, MAX_GRANT_TOKEN_TTL_SECS};
use serde_json::json;

use crate::body::ProxyBody;
use crate::proxy::{json_response, refusal, Front};

/// The App Service managed-identity path (`IDENTITY_ENDPOINT`).
pub(crate) const APP_SERVICE_PATH: &str = "/msi/token";
/// The instance-metadata (IMDS) path.
pub(crate) const IMDS_PATH: &str = "/metadata/identity/oauth2/token";
/// The header that carries the agent's token.
pub(crate) const IDENTITY_HEADER: &str = "x-identity-header";
/// `tid` when neither the principal nor its issuer names a tenant.
const NO_TENANT: &str = "00000000-0000-0000-0000-000000000000";

pub(crate) async fn token(front: &Front, peer: std::net::SocketAddr, req: &Request<Incoming>) -> Response {
    match issue(front, peer, req).await {
        Ok(resp) => resp,
        Err((status, code, message)) => {
            tracing::info!(code, message = %message, "managed-identity token refused");
            front.dp.metrics.refused(code);
            refusal(status, code, &message)
        }
    }
}

type Response = http::Response<ProxyBody>;
type Refused = (StatusCode, &'static str, String);

fn bad(code: &'static str, message: impl Into<String>) -> Refused {
    (StatusCode::BAD_REQUEST, code, message.into())
}

async fn issue(
    front: &Front,
    peer: std::net::SocketAddr,
    req: &Request<Incoming>,
) -> Result<Response, Refused> {
    if req.method() != http::Method::GET {
        return Err((StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "use GET".into()));
    }
    let imds = req.uri().path() == IMDS_PATH;
    let query: Vec<(String, String)> =
        url::form_urlencoded::parse(req.uri().query().unwrap_or("").as_bytes()).into_owned().collect();
    let param = |name: &str| query.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let resource = param("resource").filter(|r| !r.is_empty()).ok_or_else(|| {
        bad("resource_required", "name the resource: ?resource=https://management.azure.com/")
    })?;
    if param("api-version").is_none() {
        return Err(bad(
            "api_version_required",
            "add ?api-version=2019-08-01 (or 2018-02-01 for the IMDS shape)",
        ));
    }
    if imds && req.headers().get("metadata").and_then(|v| v.to_str().ok()) != Some("true") {
        return Err(bad("metadata_header_required", "the IMDS shape needs the header `Metadata: true`"));
    }
    let token = req.headers().get(IDENTITY_HEADER).and_then(|v| v.to_str().ok()).ok_or_else(|| {
        (
            StatusCode::UNAUTHORIZED,
            "identity_header_required",
            "send X-IDENTITY-HEADER with your grant token (set IDENTITY_HEADER; `portcullis env` prints it)"
                .to_owned(),
        )
    })?;
    let principal = front.dp.auth.authenticate(token.trim()).await.map_err(|e| {
        tracing::info!(code = e.reason().code(), detail = e.detail(), "identity header does not validate");
        (
            StatusCode::UNAUTHORIZED,
            "identity_invalid",
            "the identity header's token does not validate; get a fresh grant token".to_owned(),
        )
    })?;
    let (claims, ttl_cap) = grant_claims(front, &principal, &resource)?;
    let identity = ManagedIdentityClaims {
        resource: resource.clone(),
        tenant: tenant(&principal),
        object_id: principal.object_id.clone().unwrap_or_else(|| principal.subject.clone()),
    };
    let access_token = front.keys.issue_managed_identity(&claims, &identity).map_err(|e| {
        tracing::error!(error = %e, "could not sign a managed-identity token");
        (StatusCode::INTERNAL_SERVER_ERROR, "internal", "the token could not be signed".to_owned())
    })?;
    let now = unix_now();
    // Recorded before the agent has it (fail closed, like every other credential).
    let event = AuditEvent::now(EventDetail::Authentication {
        outcome: Outcome::Success,
        method: "managed_identity_token_issued".into(),
        principal: Some(json!({
            "principal": claims.principal,
            "grant_id": claims.grant_id,
            "connection": claims.connection,
            "resource": resource,
            "token_expires_at": claims.expires_at,
        })),
        reason: None,
        remote: Some(peer.ip().to_string()),
    });
    front.dp.audit.append(event).await.map_err(|e| {
        tracing::error!(code = e.reason.code(), "could not record a managed-identity token; not issued");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "audit_unavailable",
            "the token could not be recorded, so it was not issued; retry shortly".to_owned(),
        )
    })?;
    tracing::info!(
        grant_id = %claims.grant_id,
        connection = %claims.connection,
        %resource,
        expires_in = claims.expires_at - now,
        ttl_cap,
        "managed-identity token issued"
    );
    let body = if imds {
        json!({
            "access_token": access_token,
            "refresh_token": "",
            "expires_in": (claims.expires_at - now).to_string(),
            "expires_on": claims.expires_at.to_string(),
            "ext_expires_in": (claims.expires_at - now).to_string(),
            "not_before": now.to_string(),
            "resource": resource,
            "token_type": "Bearer",
        })
    } else {
        json!({
            "access_token": access_token,
            "expires_on": claims.expires_at.to_string(),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": identity.object_id,
        })
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// The grant the token is bound to, and its claims: expiry at most the grant token TTL
/// ahead and never past the grant's end.
fn grant_claims(front: &Front, principal: &Principal, resource: &str) -> Result<(GrantClaims, i64), Refused> {
    let access = &front.dp.access;
    let inactive = || {
        (
            StatusCode::FORBIDDEN,
            "grant_inactive",
            "the grant has ended (expired or revoked); request access again".to_owned(),
        )
    };
    let (holder, connection, active) = match &principal.grant {
        Some(g) => {
            let active = access.active(&g.principal, &g.connection).filter(|a| a.grant_id() == g.grant_id);
            (g.principal.clone(), g.connection.clone(), active.ok_or_else(inactive)?)
        }
        None => {
            let host = url::Url::parse(resource).ok().and_then(|u| u.host_str().map(str::to_ascii_lowercase));
            let connection = host.and_then(|h| front.claimed.get(&h).cloned()).ok_or_else(|| {
                bad(
                    "resource_not_claimed",
                    "no connection claims the resource's host; use a grant token as the identity header",
                )
            })?;
            if !access.config().oidc_on_data_path {
                return Err(bad(
                    "grant_token_required",
                    "this gateway takes grant tokens only on the data path",
                ));
            }
            let active = access.active(&principal.key(), &connection).ok_or_else(|| {
                (
                    StatusCode::FORBIDDEN,
                    "access_required",
                    format!("no active grant for connection `{connection}`; request access first"),
                )
            })?;
            (principal.key(), connection, active)
        }
    };
    let now = unix_now();
    let configured =
        i64::try_from(access.config().grant_token_ttl.as_secs()).unwrap_or(MAX_GRANT_TOKEN_TTL_SECS);
    let ttl = configured.clamp(1, MAX_GRANT_TOKEN_TTL_SECS);
    let expires_at = (now + ttl).min(active.expires_at_ms() / 1000);
    if expires_at <= now {
        return Err(inactive());
    }
    let claims = GrantClaims {
        principal: holder,
        grant_id: active.grant_id().to_owned(),
        connection,
        level: active.level().to_owned(),
        expires_at,
    };
    Ok((claims, ttl))
}

/// `tid`: the principal's tenant, else the GUID in its issuer's path (Entra-style issuers
/// `https://login.microsoftonline.com/{tid}/v2.0`), else all zeros.
fn tenant(principal: &Principal) -> String {
    if let Some(t) = &principal.tenant {
        return t.clone();
    }
    url::Url::parse(&principal.issuer)
        .ok()
        .and_then(|u| u.path_segments().and_then(|mut s| s.find(|seg| is_guid(seg)).map(str::to_owned)))
        .unwrap_or_else(|| NO_TENANT.to_owned())
}

fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.chars().all(|c| c.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn guids() {
        assert!(super::is_guid("7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e"));
        assert!(!super::is_guid("v2.0"));
        assert!(!super::is_guid("7b1c2d3e-4f5a-4b6c-8d7e"));
    }
}
