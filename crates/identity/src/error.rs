//! The crate's one error type: a `Copy` reason code, a generic public description for the
//! agent (RFC 6750 `error_description`) and a precise internal detail for the audit log.

use std::fmt;

/// Why a token was refused. Small and `Copy`: used for logs, metrics and the HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// Not a compact JWS: wrong segment count, bad base64url, bad JSON, wrong claim types.
    Malformed,
    /// The token or one of its JSON parts is larger than the limits allow.
    TooLarge,
    /// A JWE (five segments, or an `enc` header): encrypted tokens are not access tokens.
    Encrypted,
    /// The same name appears twice in the header or in the claims.
    DuplicateClaim,
    /// The header carries `crit`: no extension is understood, so the token is refused.
    CriticalHeader,
    /// `alg` is `none` (in any spelling), HMAC, or not an algorithm this crate implements.
    UnsupportedAlgorithm,
    /// `alg` is implemented but not allowed for this issuer, or does not match the key.
    AlgorithmNotAllowed,
    /// No key of the issuer's key set has the token's `kid` (after at most one refetch).
    UnknownKey,
    /// The signature does not verify under the issuer's key.
    BadSignature,
    /// The issuer's keys could not be fetched (discovery or JWKS unavailable).
    KeysUnavailable,
    /// `iss` names no configured issuer, or the key's own `issuer` disagrees.
    UnknownIssuer,
    /// `aud` is missing, names no configured audience, or also names another resource.
    WrongAudience,
    /// A required claim is missing or has the wrong type.
    MissingClaim,
    /// `exp` is in the past (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway), or the lifetime is implausibly long.
    BadTimestamps,
    /// The header `typ` is not the configured token type, or names another kind of token.
    WrongTokenType,
    /// An ID token (it carries `nonce`) was presented as an access token.
    IdToken,
    /// Entra: `tid` disagrees with `iss`, or the tenant is not in the allow-list.
    WrongTenant,
    /// Entra: `ver` does not match the shape of `iss` (v1 or v2).
    WrongVersion,
    /// Entra: the groups did not fit in the token (overage) and the policy is `deny`.
    GroupOverage,
    /// A grant token's claims are not what this gateway issues.
    BadGrant,
}

impl Reason {
    /// Stable machine-readable code (snake_case), for logs and metrics.
    pub fn code(self) -> &'static str {
        match self {
            Reason::Malformed => "malformed",
            Reason::TooLarge => "too_large",
            Reason::Encrypted => "encrypted",
            Reason::DuplicateClaim => "duplicate_claim",
            Reason::CriticalHeader => "critical_header",
            Reason::UnsupportedAlgorithm => "unsupported_algorithm",
            Reason::AlgorithmNotAllowed => "algorithm_not_allowed",
            Reason::UnknownKey => "unknown_key",
            Reason::BadSignature => "bad_signature",
            Reason::KeysUnavailable => "keys_unavailable",
            Reason::UnknownIssuer => "unknown_issuer",
            Reason::WrongAudience => "wrong_audience",
            Reason::MissingClaim => "missing_claim",
            Reason::Expired => "expired",
            Reason::NotYetValid => "not_yet_valid",
            Reason::BadTimestamps => "bad_timestamps",
            Reason::WrongTokenType => "wrong_token_type",
            Reason::IdToken => "id_token",
            Reason::WrongTenant => "wrong_tenant",
            Reason::WrongVersion => "wrong_version",
            Reason::GroupOverage => "group_overage",
            Reason::BadGrant => "bad_grant",
        }
    }

    /// The general description the agent may see. It says which kind of check failed,
    /// never the detail (no key ids, no expected values).
    pub fn public_description(self) -> &'static str {
        match self {
            Reason::Malformed | Reason::DuplicateClaim | Reason::TooLarge => {
                "the token is not a well-formed signed JWT"
            }
            Reason::Encrypted | Reason::WrongTokenType | Reason::IdToken => {
                "the token is not an access token"
            }
            Reason::CriticalHeader | Reason::UnsupportedAlgorithm | Reason::AlgorithmNotAllowed => {
                "the token uses an algorithm or header that is not accepted"
            }
            Reason::UnknownKey | Reason::BadSignature => "the token signature is invalid",
            Reason::KeysUnavailable => "the token issuer's keys are unavailable, retry later",
            Reason::UnknownIssuer | Reason::WrongAudience | Reason::WrongTenant | Reason::WrongVersion => {
                "the token was not issued for this gateway"
            }
            Reason::MissingClaim | Reason::BadGrant => "the token lacks a required claim",
            Reason::Expired => "the token has expired",
            Reason::NotYetValid | Reason::BadTimestamps => "the token is not valid at this time",
            Reason::GroupOverage => "the token does not carry the caller's groups (group overage)",
        }
    }

    /// True when the failure is on our side or the provider's (keys could not be fetched),
    /// so the gateway may answer 503 instead of 401.
    pub fn is_unavailable(self) -> bool {
        matches!(self, Reason::KeysUnavailable)
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A refused token. `Display` shows the precise internal reason: audit log only, never
/// send it to the agent; use [`AuthError::public_description`] or
/// [`AuthError::www_authenticate`] for the response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct AuthError {
    reason: Reason,
    detail: String,
}

impl AuthError {
    pub(crate) fn new(reason: Reason, detail: impl Into<String>) -> Self {
        AuthError { reason, detail: detail.into() }
    }

    /// The reason code.
    pub fn reason(&self) -> Reason {
        self.reason
    }

    /// The precise reason, for the audit log only.
    pub fn detail(&self) -> &str {
        &self.detail
    }

    /// The general description the agent may see.
    pub fn public_description(&self) -> &'static str {
        self.reason.public_description()
    }

    /// The `WWW-Authenticate` header value for a 401 (RFC 6750 §3).
    pub fn www_authenticate(&self) -> String {
        www_authenticate(Some(self))
    }
}

/// Renders a `WWW-Authenticate` value. With no error (no token presented) it is the bare
/// challenge, as RFC 6750 §3.1 asks; with an error it names `invalid_token` and the public
/// description (never the internal detail).
pub fn www_authenticate(error: Option<&AuthError>) -> String {
    match error {
        None => "Bearer realm=\"portcullis\"".to_string(),
        Some(e) => format!(
            "Bearer realm=\"portcullis\", error=\"invalid_token\", error_description=\"{}\"",
            e.public_description()
        ),
    }
}

/// A configuration or key-store problem, found at load: names the key and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {reason}")]
pub struct ConfigError {
    /// The configuration key (e.g. `issuers[0].leeway`) or file concerned.
    pub key: String,
    /// What is wrong and what to do.
    pub reason: String,
}

impl ConfigError {
    pub(crate) fn new(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError { key: key.into(), reason: reason.into() }
    }
}

/// Errors of the grant-key store (`data_dir`).
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// Reading or writing the key file failed.
    #[error("grant key file {path}: {source}")]
    Io {
        /// The file concerned.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The key file exists but cannot be used.
    #[error("grant key file {path}: {reason}")]
    Invalid {
        /// The file concerned.
        path: std::path::PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The claims asked of [`crate::GrantKeys::issue`] are not acceptable.
    #[error("grant token not issued: {0}")]
    BadClaims(String),
    /// The crypto library failed.
    #[error("grant key crypto failure: {0}")]
    Crypto(&'static str),
}
