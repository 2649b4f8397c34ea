//! The on-behalf-of flow: an agent (confidential client) presents a user's token whose
//! audience is the agent itself and receives a delegated token for a downstream resource,
//! carrying the user's identity and the agent as `appid`/`azp`: the human → agent
//! delegation chain the gateway reads.

use std::collections::HashMap;

use http::StatusCode;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::Value;

use super::principal::Agent;
use super::shared::EntraShared;
use super::token::{issuer_for, TokenSpec, TokenVersion};
use super::token_endpoint::{entra_error, EntraError};
use crate::keys::Alg;

fn invalid_grant(code: u32, text: &str) -> EntraError {
    entra_error(StatusCode::BAD_REQUEST, "invalid_grant", code, text)
}

pub(super) fn on_behalf_of(
    s: &EntraShared,
    agent: &Agent,
    form: &HashMap<String, String>,
    audience: &str,
) -> Result<TokenSpec, EntraError> {
    if form.get("requested_token_use").map(String::as_str) != Some("on_behalf_of") {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'requested_token_use' (on_behalf_of).",
        ));
    }
    let Some(assertion) = form.get("assertion") else {
        return Err(entra_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'assertion'.",
        ));
    };
    let user = verify_user_assertion(s, agent, assertion)?;
    let claim = |n: &str| user.get(n).and_then(Value::as_str).map(str::to_owned);
    let Some(oid) = claim("oid") else {
        return Err(invalid_grant(50013, "Assertion has no 'oid': only user tokens can be exchanged."));
    };
    let mut spec = TokenSpec::new(&s.tenant, audience, &oid);
    spec.version = s.version_for(audience);
    spec.object_id = Some(oid);
    spec.app_id = Some(agent.client_id.clone());
    spec.name = claim("name");
    spec.preferred_username = claim("preferred_username").or_else(|| claim("upn"));
    spec.groups = user
        .get("groups")
        .and_then(Value::as_array)
        .map(|g| g.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default();
    spec.group_limit = Some(s.group_limit);
    spec.scopes = vec!["user_impersonation".into()];
    spec.idtyp = Some("user".into());
    spec.expires_at = spec.issued_at + s.token_lifetime;
    Ok(spec)
}

/// The user's token must be ours (signature, tenant issuer), current, and addressed to
/// the agent (`aud` = its client id or `api://{client id}`).
fn verify_user_assertion(s: &EntraShared, agent: &Agent, assertion: &str) -> Result<Value, EntraError> {
    let malformed = || invalid_grant(50027, "JWT token is invalid or malformed.");
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| malformed())?;
    let kid = header.kid.ok_or_else(malformed)?;
    let (alg, key) = s
        .verification_key(&kid)
        .ok_or_else(|| invalid_grant(50013, "Assertion failed signature validation."))?;
    let mut validation = Validation::new(match alg {
        Alg::RS256 => Algorithm::RS256,
        Alg::ES256 => Algorithm::ES256,
    });
    validation.set_required_spec_claims(&["exp", "aud", "iss"]);
    validation
        .set_issuer(&[issuer_for(&s.tenant, TokenVersion::V1), issuer_for(&s.tenant, TokenVersion::V2)]);
    let cid = agent.client_id.as_str();
    validation.set_audience(&[cid.to_owned(), format!("api://{cid}")]);
    jsonwebtoken::decode::<Value>(assertion, &key, &validation).map(|d| d.claims).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind;
        match e.kind() {
            ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => {
                invalid_grant(500133, "Assertion is not within its valid time range.")
            }
            ErrorKind::InvalidAudience => invalid_grant(
                50013,
                "Assertion audience does not match the Client app presenting the assertion.",
            ),
            ErrorKind::InvalidSignature => invalid_grant(50013, "Assertion failed signature validation."),
            ErrorKind::InvalidIssuer => invalid_grant(50013, "Assertion is not from this tenant."),
            _ => malformed(),
        }
    })
}
