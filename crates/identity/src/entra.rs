//! Microsoft Entra ID rules: issuer shapes (v1 and v2), `tid` agreeing with `iss`, `ver`
//! agreeing with the shape, and group overage.

use serde_json::{Map, Value};

use crate::config::{EntraConfig, GroupOverage};
use crate::error::{AuthError, Reason};

/// The multi-tenant template in an Entra issuer.
pub(crate) const TENANT_TEMPLATE: &str = "{tenantid}";

const V1_PREFIX: &str = "https://sts.windows.net/";
const V1_SUFFIX: &str = "/";
const V2_PREFIX: &str = "https://login.microsoftonline.com/";
const V2_SUFFIX: &str = "/v2.0";

/// Which token version an issuer shape belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    V1,
    V2,
}

impl Shape {
    fn ver(self) -> &'static str {
        match self {
            Shape::V1 => "1.0",
            Shape::V2 => "2.0",
        }
    }
}

/// The shape and tenant of an Entra issuer, or `None` when it has neither shape.
pub(crate) fn issuer_tenant(iss: &str) -> Option<(Shape, &str)> {
    let (shape, tid) = if let Some(rest) = iss.strip_prefix(V1_PREFIX) {
        (Shape::V1, rest.strip_suffix(V1_SUFFIX)?)
    } else {
        let rest = iss.strip_prefix(V2_PREFIX)?;
        (Shape::V2, rest.strip_suffix(V2_SUFFIX)?)
    };
    if tid.is_empty() || tid.contains('/') {
        return None;
    }
    Some((shape, tid))
}

/// Whether `iss` is the configured (possibly templated) issuer.
pub(crate) fn issuer_matches(configured: &str, iss: &str) -> bool {
    if configured == iss {
        return true;
    }
    if !configured.contains(TENANT_TEMPLATE) {
        return false;
    }
    match issuer_tenant(iss) {
        Some((_, tid)) if !tid.contains('{') => configured.replace(TENANT_TEMPLATE, tid) == iss,
        _ => false,
    }
}

/// Applies the Entra rules to a token whose `iss` matched `configured`.
pub(crate) fn check(entra: &EntraConfig, iss: &str, claims: &Map<String, Value>) -> Result<(), AuthError> {
    let (shape, iss_tid) = issuer_tenant(iss)
        .ok_or_else(|| AuthError::new(Reason::UnknownIssuer, format!("iss {iss} has no Entra shape")))?;
    let tid = match claims.get("tid") {
        Some(Value::String(t)) => t.as_str(),
        _ => return Err(AuthError::new(Reason::MissingClaim, "Entra token has no string \"tid\"")),
    };
    if tid != iss_tid {
        return Err(AuthError::new(
            Reason::WrongTenant,
            format!("tid {tid} disagrees with the tenant {iss_tid} of iss"),
        ));
    }
    if !entra.tenants.is_empty() && !entra.tenants.iter().any(|t| t == tid) {
        return Err(AuthError::new(Reason::WrongTenant, format!("tenant {tid} is not in the allow-list")));
    }
    match claims.get("ver").and_then(Value::as_str) {
        Some(ver) if ver == shape.ver() => {}
        Some(ver) => {
            return Err(AuthError::new(
                Reason::WrongVersion,
                format!("ver {ver} does not match the v{} issuer shape of {iss}", shape.ver()),
            ))
        }
        None => return Err(AuthError::new(Reason::WrongVersion, "Entra token has no string \"ver\"")),
    }
    let overage = claims
        .get("_claim_names")
        .and_then(Value::as_object)
        .is_some_and(|names| names.contains_key("groups"))
        || claims.get("hasgroups") == Some(&Value::Bool(true));
    if overage {
        match entra.group_overage {
            GroupOverage::Deny => {
                return Err(AuthError::new(
                    Reason::GroupOverage,
                    "groups overage (_claim_names.groups or hasgroups) and group_overage = deny",
                ))
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(issuer_tenant("https://sts.windows.net/abc/"), Some((Shape::V1, "abc")));
        assert_eq!(issuer_tenant("https://login.microsoftonline.com/abc/v2.0"), Some((Shape::V2, "abc")));
        assert_eq!(issuer_tenant("https://sts.windows.net/abc"), None);
        assert_eq!(issuer_tenant("https://login.microsoftonline.com/a/b/v2.0"), None);
        assert!(issuer_matches(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://login.microsoftonline.com/t1/v2.0"
        ));
        assert!(!issuer_matches(
            "https://login.microsoftonline.com/{tenantid}/v2.0",
            "https://sts.windows.net/t1/"
        ));
        assert!(!issuer_matches("https://a/", "https://b/"));
    }
}
