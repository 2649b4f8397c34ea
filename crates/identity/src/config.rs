//! Issuer configuration: what the operator writes under `[[identity.issuers]]`, and the
//! load-time validation that names the key and the reason of every problem.

use std::time::Duration;

use serde::Deserialize;

use crate::entra::{self, TENANT_TEMPLATE};
use crate::error::ConfigError;
use crate::jwk::Algorithm;
use crate::net;

/// Largest clock leeway accepted at load.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// One trusted token issuer (an OIDC provider, or an Entra ID tenant).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IssuerConfig {
    /// The issuer, compared exactly (byte for byte) with the token's `iss` claim, e.g.
    /// `https://login.microsoftonline.com/{tid}/v2.0`. Must be an `https://` URL without
    /// query or fragment (`http://` only for loopback test providers). In Entra mode it may
    /// contain the template `{tenantid}` for multi-tenant apps, which then requires
    /// `entra.tenants`.
    pub issuer: String,
    /// Accepted audiences. The token's `aud` must name at least one of them and nothing
    /// else: a token also valid for another resource (such as Azure Resource Manager)
    /// could be replayed there, so it is refused.
    pub audiences: Vec<String>,
    /// Signature algorithms accepted from this issuer. Default `["RS256"]`; `ES256`,
    /// `PS256` and `EdDSA` are available. `none` and HMAC (`HS*`) are never accepted.
    #[serde(default = "default_algorithms")]
    pub algorithms: Vec<Algorithm>,
    /// Where the issuer's signing keys (JWKS) are published. When absent they are found by
    /// OIDC discovery (`jwks_uri` of the discovery document).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// Override of the discovery document URL, default
    /// `{issuer}/.well-known/openid-configuration`. For providers (and test fakes) that
    /// serve discovery somewhere else than their `iss` says. The document's `issuer` must
    /// still equal `issuer`.
    #[serde(default)]
    pub discovery_url: Option<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`: seconds or a duration such as
    /// `"60s"`. Default 60 s, at most 5 minutes.
    #[serde(default = "default_leeway", deserialize_with = "de_duration")]
    pub leeway: Duration,
    /// How long fetched keys are used before they are fetched again. Default 1 hour.
    #[serde(default = "default_jwks_refresh", deserialize_with = "de_duration")]
    pub jwks_refresh: Duration,
    /// Least time between two key fetches triggered by tokens (an unknown `kid`, or a
    /// signature failure under a known `kid`). Concurrent callers share one fetch, so a
    /// flood of forged tokens causes at most one fetch per interval. Default 30 s.
    #[serde(default = "default_min_refetch", deserialize_with = "de_duration")]
    pub jwks_min_refetch_interval: Duration,
    /// Which claims name the principal. Defaults suit Entra ID and most providers.
    #[serde(default)]
    pub claims: ClaimNames,
    /// Required header `typ` value(s), e.g. `"at+jwt"` (RFC 9068), compared
    /// case-insensitively with an optional `application/` prefix. When absent, `typ` may be
    /// missing, `JWT` or `at+jwt`; any other type (logout, event tokens…) is refused.
    #[serde(default, deserialize_with = "de_one_or_many")]
    pub typ: Option<Vec<String>>,
    /// Entra ID mode: the Microsoft-specific rules on `tid`, `ver`, key issuers and
    /// group overage. Absent for other providers.
    #[serde(default)]
    pub entra: Option<EntraConfig>,
}

/// Entra ID rules for one issuer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntraConfig {
    /// Allowed tenant ids (`tid`). Required when `issuer` contains `{tenantid}`; with a
    /// single-tenant issuer it may be empty (the tenant in `issuer` is then the only one).
    /// Whatever is configured, `tid` must agree with the tenant in `iss`.
    #[serde(default)]
    pub tenants: Vec<String>,
    /// What to do when Entra reports group overage (`_claim_names.groups` or `hasgroups`):
    /// the token lacks the caller's groups. Only `deny` exists today; resolving the groups
    /// through Microsoft Graph comes later.
    #[serde(default)]
    pub group_overage: GroupOverage,
}

/// Policy for Entra group overage.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOverage {
    /// Refuse the token: group-based decisions would be made on missing data.
    #[default]
    Deny,
}

/// Names of the claims that describe the principal.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClaimNames {
    /// The subject, part of the principal key. Default `sub`.
    pub subject: String,
    /// Human-readable name. Default `name`.
    pub display_name: String,
    /// Group ids, compared as exact strings. Default `groups`.
    pub groups: String,
    /// App roles. Default `roles`.
    pub roles: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        ClaimNames {
            subject: "sub".into(),
            display_name: "name".into(),
            groups: "groups".into(),
            roles: "roles".into(),
        }
    }
}

fn default_algorithms() -> Vec<Algorithm> {
    vec![Algorithm::Rs256]
}
fn default_leeway() -> Duration {
    Duration::from_secs(60)
}
fn default_jwks_refresh() -> Duration {
    Duration::from_secs(3600)
}
fn default_min_refetch() -> Duration {
    Duration::from_secs(30)
}

impl IssuerConfig {
    /// An issuer with every option at its default, for `portcullis auth check --issuer
    /// ISS --audience AUD [--tenant T]`. A tenant turns Entra mode on with that tenant.
    pub fn single(issuer: &str, audiences: Vec<String>, tenant: Option<&str>) -> IssuerConfig {
        IssuerConfig {
            issuer: issuer.to_string(),
            audiences,
            algorithms: default_algorithms(),
            jwks_uri: None,
            discovery_url: None,
            leeway: default_leeway(),
            jwks_refresh: default_jwks_refresh(),
            jwks_min_refetch_interval: default_min_refetch(),
            claims: ClaimNames::default(),
            typ: None,
            entra: tenant
                .map(|t| EntraConfig { tenants: vec![t.to_string()], group_overage: GroupOverage::Deny }),
        }
    }

    /// Checks this issuer; `key` prefixes the reported keys (e.g. `identity.issuers[0]`).
    pub fn validate(&self, key: &str) -> Vec<ConfigError> {
        let mut errors = Vec::new();
        let mut err = |field: &str, reason: String| {
            errors.push(ConfigError::new(format!("{key}.{field}"), reason));
        };
        let templated = self.issuer.contains(TENANT_TEMPLATE);
        if let Err(reason) = net::check_url(&self.issuer.replace(TENANT_TEMPLATE, "t")) {
            err("issuer", reason);
        } else if self.issuer.contains('#') || self.issuer.contains('?') {
            err("issuer", "must not contain a query or fragment".into());
        }
        if self.audiences.is_empty() {
            err("audiences", "at least one audience is required".into());
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            err("audiences", "an audience is empty".into());
        }
        if self.algorithms.is_empty() {
            err("algorithms", "at least one algorithm is required".into());
        }
        for (field, url) in [("jwks_uri", &self.jwks_uri), ("discovery_url", &self.discovery_url)] {
            if let Some(url) = url {
                if let Err(reason) = net::check_url(url) {
                    err(field, reason);
                }
            }
        }
        if self.leeway > MAX_LEEWAY {
            err("leeway", format!("{:?} is more than the maximum of 5 minutes", self.leeway));
        }
        if self.jwks_refresh < self.jwks_min_refetch_interval {
            err("jwks_refresh", "must not be shorter than jwks_min_refetch_interval".into());
        }
        if let Some(typ) = &self.typ {
            if typ.is_empty() || typ.iter().any(|t| t.trim().is_empty()) {
                err("typ", "give one or more non-empty token types, or omit it".into());
            }
        }
        for (field, name) in [
            ("claims.subject", &self.claims.subject),
            ("claims.display_name", &self.claims.display_name),
            ("claims.groups", &self.claims.groups),
            ("claims.roles", &self.claims.roles),
        ] {
            if name.is_empty() {
                err(field, "a claim name cannot be empty".into());
            }
        }
        match &self.entra {
            None if templated => err(
                "issuer",
                format!(
                    "the template {TENANT_TEMPLATE} is only allowed in Entra mode ([entra] with tenants)"
                ),
            ),
            None => {}
            Some(entra) => {
                if entra.tenants.iter().any(|t| t.is_empty() || t.contains('/') || t.contains('{')) {
                    err("entra.tenants", "a tenant id is empty or contains '/' or '{'".into());
                }
                match entra::issuer_tenant(&self.issuer) {
                    None => err(
                        "issuer",
                        "Entra mode needs a v1 (https://sts.windows.net/{tid}/) or v2 \
                         (https://login.microsoftonline.com/{tid}/v2.0) issuer"
                            .into(),
                    ),
                    Some((_, tid)) if tid == TENANT_TEMPLATE => {
                        if entra.tenants.is_empty() {
                            err(
                                "entra.tenants",
                                "a multi-tenant issuer needs an explicit tenant allow-list".into(),
                            );
                        }
                        if self.jwks_uri.is_none() && self.discovery_url.is_none() {
                            err("jwks_uri", "a multi-tenant issuer needs jwks_uri or discovery_url".into());
                        }
                    }
                    Some((_, tid)) => {
                        if !entra.tenants.is_empty() && !entra.tenants.iter().any(|t| t == tid) {
                            err("entra.tenants", format!("the issuer's tenant {tid} is not in the list"));
                        }
                    }
                }
            }
        }
        errors
    }
}

/// Checks a list of issuers: each one, plus no issuer string twice.
pub fn validate_issuers(issuers: &[IssuerConfig], key: &str) -> Result<(), Vec<ConfigError>> {
    let mut errors = Vec::new();
    for (i, issuer) in issuers.iter().enumerate() {
        errors.extend(issuer.validate(&format!("{key}[{i}]")));
        if issuers[..i].iter().any(|o| o.issuer == issuer.issuer) {
            errors.push(ConfigError::new(
                format!("{key}[{i}].issuer"),
                format!("{} is configured twice", issuer.issuer),
            ));
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

fn de_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => humantime::parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

fn de_one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<String>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        One(String),
        Many(Vec<String>),
    }
    Ok(Some(match Raw::deserialize(d)? {
        Raw::One(s) => vec![s],
        Raw::Many(v) => v,
    }))
}
