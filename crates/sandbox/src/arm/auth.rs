//! Bearer-token validation as ARM does it: signature against the fake Entra's published
//! keys (the algorithm comes from the key, never from the token), `exp`/`nbf`, audience
//! (`https://management.azure.com/` with or without the slash, and the classic
//! `https://management.core.windows.net/`), and issuer/`tid` of the fake's tenant.

use http::{HeaderMap, StatusCode};
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::response::ArmResponse;
use crate::entra::{issuer_for, EntraShared, TokenVersion};
use crate::keys::Alg;

/// The audience ARM tokens are issued for.
pub const ARM_AUDIENCE: &str = "https://management.azure.com/";

const AUDIENCES: &[&str] = &[
    "https://management.azure.com/",
    "https://management.azure.com",
    "https://management.core.windows.net/",
    "https://management.core.windows.net",
];

/// Who called, from a validated token.
#[derive(Debug, Clone, Default)]
pub(crate) struct Caller {
    pub(crate) object_id: Option<String>,
}

fn unauthorized(code: &str, message: &str) -> ArmResponse {
    let challenge = format!(
        "Bearer authorization_uri=\"https://login.windows.net/\", error=\"invalid_token\", error_description=\"{message}\""
    );
    ArmResponse::error(StatusCode::UNAUTHORIZED, code, message).header("WWW-Authenticate", challenge)
}

/// Validates the request's bearer token; on failure, the ARM 401 to answer with.
pub(crate) fn authenticate(idp: &EntraShared, headers: &HeaderMap, skew: u64) -> Result<Caller, ArmResponse> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is missing.",
        ));
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = token else {
        return Err(unauthorized(
            "AuthenticationFailed",
            "Authentication failed. The 'Authorization' header is provided in an invalid format.",
        ));
    };
    let invalid = || unauthorized("InvalidAuthenticationToken", "The access token is invalid.");
    let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
    let kid = header.kid.ok_or_else(invalid)?;
    let (alg, key) = idp.verification_key(&kid).ok_or_else(invalid)?;
    let algorithm = match alg {
        Alg::RS256 => Algorithm::RS256,
        Alg::ES256 => Algorithm::ES256,
    };
    let mut validation = Validation::new(algorithm);
    validation.leeway = skew;
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    let claims = match jsonwebtoken::decode::<Value>(token, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => {
            use jsonwebtoken::errors::ErrorKind;
            return Err(match e.kind() {
                ErrorKind::ExpiredSignature => unauthorized(
                    "ExpiredAuthenticationToken",
                    "The access token expiry UTC time is earlier than current UTC time.",
                ),
                ErrorKind::InvalidSignature => {
                    unauthorized("InvalidAuthenticationToken", "The access token has an invalid signature.")
                }
                _ => invalid(),
            });
        }
    };
    let claim = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    let aud = claim("aud").unwrap_or_default();
    if !AUDIENCES.contains(&aud.as_str()) {
        return Err(unauthorized(
            "InvalidAuthenticationTokenAudience",
            &format!("The access token has been obtained for wrong audience or resource '{aud}'. It should exactly match with one of the allowed audiences 'https://management.core.windows.net/','https://management.core.windows.net','https://management.azure.com/','https://management.azure.com'."),
        ));
    }
    let iss = claim("iss").unwrap_or_default();
    let tenant_ok = claim("tid").as_deref() == Some(idp.tenant.as_str())
        && (iss == issuer_for(&idp.tenant, TokenVersion::V1)
            || iss == issuer_for(&idp.tenant, TokenVersion::V2));
    if !tenant_ok {
        let want = issuer_for(&idp.tenant, TokenVersion::V1);
        return Err(unauthorized(
            "InvalidAuthenticationTokenTenant",
            &format!("The access token is from the wrong issuer '{iss}'. It must match the tenant '{want}' associated with this subscription. Please use the authority (URL) 'https://login.windows.net/{}' to get the token.", idp.tenant),
        ));
    }
    Ok(Caller { object_id: claim("oid") })
}
