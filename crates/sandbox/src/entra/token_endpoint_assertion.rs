//! Verifying a certificate-signed client assertion (RFC 7523), as Entra does for
//! confidential clients: signature against the registered certificate, `iss` = `sub` =
//! client id, `aud` = the token endpoint, `exp`/`nbf` in range.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

use super::principal::Agent;
use super::token_endpoint::{invalid_client as assertion_error, EntraError};
use super::EntraShared;

pub(super) fn verify(
    s: &EntraShared,
    agent: &Agent,
    assertion: &str,
    tenant: &str,
) -> Result<(), EntraError> {
    let Some(cert) = &agent.certificate else {
        return Err(assertion_error(
            700027,
            &format!(
                "Client assertion failed signature validation: no certificate is registered for app '{}'.",
                agent.client_id
            ),
        ));
    };
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|_| assertion_error(50027, "JWT token is invalid or malformed."))?;
    let thumbprint_ok = match (&header.x5t, &header.x5t_s256) {
        (None, None) => true,
        (x5t, s256) => {
            same_thumbprint(x5t.as_deref(), &cert.x5t) || same_thumbprint(s256.as_deref(), &cert.x5t_s256)
        }
    };
    if !thumbprint_ok {
        return Err(assertion_error(
            700027,
            &format!("The certificate with identifier used to sign the client assertion is not registered on application '{}'.", agent.client_id),
        ));
    }
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::PS256) {
        return Err(assertion_error(5002738, "Invalid JWT token. 'alg' must be RS256 or PS256."));
    }
    let key = DecodingKey::from_rsa_components(&cert.n, &cert.e)
        .map_err(|_| assertion_error(700027, "Client assertion contains an invalid signature."))?;
    let mut validation = Validation::new(header.alg);
    validation.leeway = 300;
    validation.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    validation.set_issuer(&[agent.client_id.as_str()]);
    let audiences = [
        format!("{}/{tenant}/oauth2/v2.0/token", s.base_url),
        format!("{}/{tenant}/oauth2/token", s.base_url),
        format!("{}/{}/oauth2/v2.0/token", s.base_url, s.tenant),
        format!("{}/{}/oauth2/token", s.base_url, s.tenant),
        format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", s.tenant),
        format!("https://login.microsoftonline.com/{}/oauth2/token", s.tenant),
        format!("https://login.microsoftonline.com/{}/v2.0", s.tenant),
    ];
    validation.set_audience(&audiences);
    let data = jsonwebtoken::decode::<Value>(assertion, &key, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                assertion_error(700024, "Client assertion is not within its valid time range.")
            }
            ErrorKind::InvalidSignature => {
                assertion_error(700027, "Client assertion contains an invalid signature.")
            }
            ErrorKind::InvalidAudience => assertion_error(
                700212,
                "The audience of the client assertion is not the token endpoint of this tenant.",
            ),
            ErrorKind::InvalidIssuer => {
                assertion_error(700023, "The client assertion's issuer is not the client id.")
            }
            _ => assertion_error(50027, "JWT token is invalid or malformed."),
        }
    })?;
    if data.claims.get("sub").and_then(Value::as_str) != Some(agent.client_id.as_str()) {
        return Err(assertion_error(700023, "The client assertion's subject is not the client id."));
    }
    Ok(())
}

/// Whether a presented thumbprint equals ours (base64url). MSAL sends standard base64 with
/// padding, which Entra accepts too.
fn same_thumbprint(presented: Option<&str>, ours: &str) -> bool {
    presented.is_some_and(|p| p.trim_end_matches('=').replace('+', "-").replace('/', "_") == ours)
}
