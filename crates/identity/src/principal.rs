//! Who is calling: the principal built from a verified token.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::claims::string;
use crate::config::ClaimNames;
use crate::error::{AuthError, Reason};
use crate::grant::GrantClaims;

/// Longest delegation (`act`) chain accepted.
const MAX_DELEGATION: usize = 8;
/// Most groups, roles or scopes kept from one token.
const MAX_LIST: usize = 1024;

/// Whether the principal is an AI agent (a workload) or a person. Decided from the token:
/// Entra's `idtyp` (`app` or `user`) when present; otherwise an agent when the subject is
/// the token's own client (`azp`/`appid`/`client_id`, as in client-credentials tokens) or
/// the token has neither delegated scopes nor a user-name claim (`upn`,
/// `preferred_username`, `email`, `unique_name`); a person otherwise. Grant tokens are
/// always presented by agents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PrincipalKind {
    /// A workload: app-only token (Entra `idtyp=app`, or a client-credentials token).
    Agent,
    /// A person: a delegated (user) token.
    Human,
}

/// One actor of an RFC 8693 delegation chain (`act` claim).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    /// The actor's `sub`.
    pub subject: String,
    /// The actor's `iss`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The actor's `client_id`, when given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// An authenticated caller. Groups and roles are exact strings, compared exactly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// The token issuer (`iss`); for a grant token, the issuer of the original principal.
    pub issuer: String,
    /// The subject (the configured subject claim, `sub` by default).
    pub subject: String,
    /// The tenant (`tid`), when the token has one.
    pub tenant: Option<String>,
    /// The directory object id (`oid`), when the token has one.
    pub object_id: Option<String>,
    /// The application (client) id: `azp`, `appid` or `client_id`.
    pub app_id: Option<String>,
    /// Human-readable name (the configured display-name claim).
    pub display_name: Option<String>,
    /// Agent or person.
    pub kind: PrincipalKind,
    /// Group ids, exactly as in the token.
    pub groups: Vec<String>,
    /// App roles, exactly as in the token.
    pub roles: Vec<String>,
    /// Delegated scopes (`scp` or `scope`, space-separated in the token).
    pub scopes: Vec<String>,
    /// When the presented token expires (seconds since the Unix epoch).
    pub expires_at: i64,
    /// The delegation chain, current actor first (`act`, then `act.act`, …). Empty when
    /// the caller acts for itself.
    pub delegation: Vec<Actor>,
    /// Present when the caller presented a gateway grant token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<GrantClaims>,
}

impl Principal {
    /// The stable key of this principal for grants and policies: issuer and subject.
    pub fn key(&self) -> String {
        principal_key(&self.issuer, &self.subject)
    }
}

/// `{issuer}#{subject}`. Issuers never contain `#` (checked at load), so this splits back
/// unambiguously at the first `#`.
pub fn principal_key(issuer: &str, subject: &str) -> String {
    format!("{issuer}#{subject}")
}

fn list(claims: &Map<String, Value>, name: &str) -> Result<Vec<String>, AuthError> {
    let bad = || AuthError::new(Reason::Malformed, format!("claim \"{name}\" is not a list of strings"));
    let out: Vec<String> = match claims.get(name) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => {
            items.iter().map(|v| v.as_str().map(str::to_string).ok_or_else(bad)).collect::<Result<_, _>>()?
        }
        Some(_) => return Err(bad()),
    };
    if out.len() > MAX_LIST {
        return Err(AuthError::new(Reason::TooLarge, format!("claim \"{name}\" has {} entries", out.len())));
    }
    Ok(out)
}

fn delegation(claims: &Map<String, Value>) -> Result<Vec<Actor>, AuthError> {
    let mut chain = Vec::new();
    let mut current = claims.get("act");
    while let Some(act) = current {
        let act =
            act.as_object().ok_or_else(|| AuthError::new(Reason::Malformed, "\"act\" is not an object"))?;
        if chain.len() == MAX_DELEGATION {
            return Err(AuthError::new(Reason::TooLarge, "delegation chain too long"));
        }
        let subject = string(act, "sub")?
            .ok_or_else(|| AuthError::new(Reason::MissingClaim, "an \"act\" has no \"sub\""))?;
        chain.push(Actor {
            subject: subject.to_string(),
            issuer: string(act, "iss")?.map(str::to_string),
            client_id: string(act, "client_id")?.map(str::to_string),
        });
        current = act.get("act");
    }
    Ok(chain)
}

/// Builds the principal of a verified, validated token.
pub(crate) fn from_claims(
    iss: &str,
    claims: &Map<String, Value>,
    names: &ClaimNames,
    exp: i64,
) -> Result<Principal, AuthError> {
    let owned = |name: &str| string(claims, name).map(|s| s.map(str::to_string));
    let subject = owned(&names.subject)?.filter(|s| !s.is_empty()).ok_or_else(|| {
        AuthError::new(Reason::MissingClaim, format!("no subject claim \"{}\"", names.subject))
    })?;
    let app_id = match owned("azp")? {
        Some(a) => Some(a),
        None => match owned("appid")? {
            Some(a) => Some(a),
            None => owned("client_id")?,
        },
    };
    let scopes = match string(claims, "scp")? {
        Some(s) => s,
        None => string(claims, "scope")?.unwrap_or(""),
    };
    let scopes: Vec<String> = scopes.split_ascii_whitespace().take(MAX_LIST).map(str::to_string).collect();
    let user_hint =
        ["upn", "preferred_username", "email", "unique_name"].iter().any(|c| claims.contains_key(*c));
    let kind = match string(claims, "idtyp")? {
        Some("app") => PrincipalKind::Agent,
        Some("user") => PrincipalKind::Human,
        _ if app_id.as_deref() == Some(subject.as_str()) => PrincipalKind::Agent,
        _ if scopes.is_empty() && !user_hint => PrincipalKind::Agent,
        _ => PrincipalKind::Human,
    };
    Ok(Principal {
        issuer: iss.to_string(),
        tenant: owned("tid")?,
        object_id: owned("oid")?,
        app_id,
        display_name: owned(&names.display_name)?,
        kind,
        groups: list(claims, &names.groups)?,
        roles: list(claims, &names.roles)?,
        scopes,
        expires_at: exp,
        delegation: delegation(claims)?,
        grant: None,
        subject,
    })
}
