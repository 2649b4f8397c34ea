//! The one validation path: OIDC access tokens of the configured issuers, and the
//! gateway's own grant tokens.

use std::sync::Arc;

use crate::cache::{self, VerifiedCache};
use crate::claims::{self, now};
use crate::config::{validate_issuers, IssuerConfig};
use crate::entra;
use crate::error::{AuthError, ConfigError, Reason};
use crate::grant::{GrantClaims, GrantKeys, GRANT_TYP, MAX_GRANT_TOKEN_TTL_SECS, MI_RESOURCE_CLAIM};
use crate::jwk::{Algorithm, KeySet};
use crate::jwks::{KeyCache, KeySource};
use crate::net::Fetcher;
use crate::principal::{self, Principal, PrincipalKind};
use crate::token::{self, UnverifiedToken, MAX_TOKEN_BYTES};

/// Clock leeway for grant tokens (same clock, but replicas may drift slightly).
const GRANT_LEEWAY_SECS: i64 = 30;

struct Issuer {
    config: IssuerConfig,
    keys: KeyCache,
}

/// Validates bearer tokens into principals. Cheap to share (`Arc`); all methods take `&self`.
pub struct Authenticator {
    issuers: Vec<Issuer>,
    grants: Option<Arc<GrantKeys>>,
    verified: VerifiedCache,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuers", &self.issuers.iter().map(|i| &i.config.issuer).collect::<Vec<_>>())
            .field("grants", &self.grants.as_ref().map(|g| g.issuer()))
            .finish_non_exhaustive()
    }
}

fn check_config(issuers: &[IssuerConfig], grants: Option<&Arc<GrantKeys>>) -> Result<(), Vec<ConfigError>> {
    validate_issuers(issuers, "identity.issuers")?;
    if let Some(g) = grants {
        if let Some(i) = issuers.iter().position(|i| i.issuer == g.issuer()) {
            return Err(vec![ConfigError::new(
                format!("identity.issuers[{i}].issuer"),
                "is the gateway's own grant-token issuer",
            )]);
        }
    }
    Ok(())
}

impl Authenticator {
    /// Keys are fetched from each issuer (its `jwks_uri`, or OIDC discovery) on first use;
    /// call [`Authenticator::prefetch`] at start to fetch them before traffic.
    pub fn new(
        issuers: Vec<IssuerConfig>,
        grant_keys: Option<Arc<GrantKeys>>,
    ) -> Result<Authenticator, Vec<ConfigError>> {
        check_config(&issuers, grant_keys.as_ref())?;
        let fetcher = Fetcher::new().map_err(|e| vec![ConfigError::new("identity", e)])?;
        let issuers = issuers
            .into_iter()
            .map(|config| {
                let discovery_url = config.discovery_url.clone().unwrap_or_else(|| {
                    format!("{}/.well-known/openid-configuration", config.issuer.trim_end_matches('/'))
                });
                let source = KeySource::Remote {
                    issuer: config.issuer.clone(),
                    jwks_uri: config.jwks_uri.clone(),
                    discovery_url,
                    fetcher: fetcher.clone(),
                };
                let keys = KeyCache::new(source, config.jwks_refresh, config.jwks_min_refetch_interval);
                Issuer { config, keys }
            })
            .collect();
        Ok(Authenticator {
            issuers,
            grants: grant_keys,
            verified: VerifiedCache::new(cache::DEFAULT_CAPACITY),
        })
    }

    /// Like [`Authenticator::new`], but every issuer uses the keys of a local JWKS document
    /// and nothing is fetched (`portcullis auth check --jwks FILE`).
    pub fn with_local_jwks(
        issuers: Vec<IssuerConfig>,
        grant_keys: Option<Arc<GrantKeys>>,
        jwks: &[u8],
    ) -> Result<Authenticator, Vec<ConfigError>> {
        check_config(&issuers, grant_keys.as_ref())?;
        let mut out = Vec::new();
        for config in issuers {
            let set = KeySet::parse(jwks).map_err(|e| vec![ConfigError::new("jwks", e)])?;
            out.push(Issuer { config, keys: KeyCache::with_static(set) });
        }
        Ok(Authenticator {
            issuers: out,
            grants: grant_keys,
            verified: VerifiedCache::new(cache::DEFAULT_CAPACITY),
        })
    }

    /// Fetches every issuer's keys now; returns the issuers whose keys could not be had
    /// (the gateway logs them and keeps going: those issuers' tokens fail until it works).
    pub async fn prefetch(&self) -> Vec<(String, AuthError)> {
        let mut failed = Vec::new();
        for issuer in &self.issuers {
            if let Err(e) = issuer.keys.current().await {
                failed.push((issuer.config.issuer.clone(), e));
            }
        }
        failed
    }

    /// Key-set fetches attempted so far, over all issuers (metrics, tests).
    pub fn jwks_fetches(&self) -> u64 {
        self.issuers.iter().map(|i| i.keys.fetches()).sum()
    }

    /// Tokens currently in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.verified.len()
    }

    /// Validates a bearer token (the part after `Bearer `) into the calling principal.
    pub async fn authenticate(&self, bearer: &str) -> Result<Principal, AuthError> {
        if bearer.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::new(
                Reason::TooLarge,
                format!("token is {} bytes, limit {MAX_TOKEN_BYTES}", bearer.len()),
            ));
        }
        let key = cache::hash(bearer);
        let t = now();
        if let Some(principal) = self.verified.get(&key, t) {
            return Ok(principal);
        }
        let principal = self.validate(bearer, t).await?;
        self.verified.insert(key, &principal, t);
        Ok(principal)
    }

    /// Every check, bypassing the verified-token cache (operator checks, benchmarks).
    pub async fn authenticate_uncached(&self, bearer: &str) -> Result<Principal, AuthError> {
        self.validate(bearer, now()).await
    }

    /// Every check, without the verified-token cache.
    pub(crate) async fn validate(&self, bearer: &str, t: i64) -> Result<Principal, AuthError> {
        let token = token::parse(bearer)?;
        let iss = claims::string(&token.claims, "iss")?
            .ok_or_else(|| AuthError::new(Reason::MissingClaim, "no \"iss\" claim"))?;
        if let Some(grants) = self.grants.as_deref().filter(|g| g.issuer() == iss) {
            return validate_grant(grants, &token, t);
        }
        let issuer =
            self.issuers.iter().find(|i| entra::issuer_matches(&i.config.issuer, iss)).ok_or_else(|| {
                AuthError::new(Reason::UnknownIssuer, format!("iss {iss} is not a configured issuer"))
            })?;
        let config = &issuer.config;
        let alg = token.header.alg;
        if !config.algorithms.contains(&alg) {
            return Err(AuthError::new(
                Reason::AlgorithmNotAllowed,
                format!("alg {alg} is not allowed for issuer {iss}"),
            ));
        }
        verify_with_refetch(&issuer.keys, &token, iss).await?;
        claims::check_typ(token.header.typ.as_deref(), config.typ.as_deref())?;
        claims::refuse_id_token(&token.claims)?;
        let leeway = i64::try_from(config.leeway.as_secs()).unwrap_or(0);
        let exp = claims::check_times(&token.claims, t, leeway, claims::MAX_LIFETIME_SECS)?;
        claims::check_audience(&token.claims, &config.audiences)?;
        if let Some(entra) = &config.entra {
            entra::check(entra, iss, &token.claims)?;
        }
        principal::from_claims(iss, &token.claims, &config.claims, exp)
    }
}

/// Verifies the signature; on an unknown `kid` or a failure under a known one, asks the
/// cache for one (rate-limited, single-flight) refetch and tries again.
async fn verify_with_refetch(
    keys: &KeyCache,
    token: &UnverifiedToken<'_>,
    iss: &str,
) -> Result<(), AuthError> {
    let (set, generation) = keys.current().await?;
    match verify(&set, token, iss) {
        Ok(()) => Ok(()),
        Err(e) if retriable(e.reason()) => match keys.refetch(generation).await {
            Some((set, _)) => verify(&set, token, iss),
            None => Err(e),
        },
        Err(e) => Err(e),
    }
}

fn retriable(reason: Reason) -> bool {
    matches!(reason, Reason::UnknownKey | Reason::BadSignature | Reason::AlgorithmNotAllowed)
}

/// Checks the signature against the key set: the key (by `kid`) must support the header
/// `alg`, and a key's own `issuer`, when published, must agree with `iss`.
fn verify(set: &KeySet, token: &UnverifiedToken<'_>, iss: &str) -> Result<(), AuthError> {
    let kid = token.header.kid.as_deref();
    let alg = token.header.alg;
    let candidates = set.candidates(kid);
    if candidates.is_empty() {
        return Err(AuthError::new(
            Reason::UnknownKey,
            match kid {
                Some(kid) => format!("no key with kid {kid:?} in the issuer's key set"),
                None => format!("token has no kid and the key set has {} keys", set.keys.len()),
            },
        ));
    }
    let usable: Vec<_> = candidates.into_iter().filter(|k| k.supports(alg)).collect();
    if usable.is_empty() {
        return Err(AuthError::new(
            Reason::AlgorithmNotAllowed,
            format!("the key {kid:?} is not for alg {alg}"),
        ));
    }
    let key = usable.into_iter().find(|k| k.verify(alg, token.signing_input, &token.signature)).ok_or_else(
        || AuthError::new(Reason::BadSignature, format!("signature does not verify under key {kid:?}")),
    )?;
    if let Some(key_issuer) = &key.issuer {
        let tid = claims::string(&token.claims, "tid")?.unwrap_or_default();
        let expected = key_issuer.replace(entra::TENANT_TEMPLATE, tid);
        if expected != iss {
            return Err(AuthError::new(
                Reason::UnknownIssuer,
                format!("key {kid:?} belongs to issuer {expected}, token says {iss}"),
            ));
        }
    }
    Ok(())
}

fn validate_grant(grants: &GrantKeys, token: &UnverifiedToken<'_>, t: i64) -> Result<Principal, AuthError> {
    let iss = grants.issuer();
    if token.header.alg != Algorithm::EdDsa {
        return Err(AuthError::new(
            Reason::AlgorithmNotAllowed,
            format!("grant tokens are EdDSA, token says {}", token.header.alg),
        ));
    }
    if token.header.typ.as_deref() != Some(GRANT_TYP) {
        return Err(AuthError::new(Reason::WrongTokenType, "not a grant token typ"));
    }
    verify(&grants.verify_keys(), token, iss)?;
    let exp = claims::check_times(&token.claims, t, GRANT_LEEWAY_SECS, MAX_GRANT_TOKEN_TTL_SECS)?;
    // A managed-identity token names its resource as `aud`; it must name it as
    // `portcullis_resource` too, which only the gateway's own signature can vouch for.
    let mut audiences = vec![iss.to_string()];
    if let Some(resource) = claims::string(&token.claims, MI_RESOURCE_CLAIM)? {
        audiences = vec![resource.to_string()];
    }
    claims::check_audience(&token.claims, &audiences)?;
    let bad = |d: &str| AuthError::new(Reason::BadGrant, d.to_string());
    let grant: GrantClaims = token
        .claims
        .get("grant")
        .cloned()
        .map(serde_json::from_value)
        .ok_or_else(|| bad("no \"grant\" claim"))?
        .map_err(|e| bad(&format!("\"grant\" claim: {e}")))?;
    let sub = claims::string(&token.claims, "sub")?;
    let jti = claims::string(&token.claims, "jti")?;
    if sub != Some(grant.principal.as_str())
        || jti != Some(grant.grant_id.as_str())
        || grant.expires_at != exp
    {
        return Err(bad("grant claim disagrees with sub, jti or exp"));
    }
    grant_principal(grant, exp)
}

fn grant_principal(grant: GrantClaims, exp: i64) -> Result<Principal, AuthError> {
    let (issuer, subject) = grant
        .principal
        .split_once('#')
        .ok_or_else(|| AuthError::new(Reason::BadGrant, "principal is not issuer#subject"))?;
    Ok(Principal {
        issuer: issuer.to_string(),
        subject: subject.to_string(),
        tenant: None,
        object_id: None,
        app_id: None,
        display_name: None,
        kind: PrincipalKind::Agent,
        groups: Vec::new(),
        roles: Vec::new(),
        scopes: Vec::new(),
        expires_at: exp,
        delegation: Vec::new(),
        grant: Some(grant),
    })
}

/// The token of an `Authorization: Bearer …` header value (scheme case-insensitive).
pub fn bearer_token(authorization: &str) -> Option<&str> {
    let (scheme, rest) = authorization.split_once(' ')?;
    let token = rest.trim_start_matches(' ');
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then_some(token)
}
