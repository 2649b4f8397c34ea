//! Identity: who is calling. This crate owns OIDC discovery, the JWKS cache, strict JWT
//! validation of access tokens (RFC 8725, RFC 9068, and Microsoft Entra ID's own rules),
//! the [`Principal`] a token proves, and the gateway's own Ed25519 grant tokens. It must
//! not know about HTTP routing, grants' lifecycle, policies or storage: it answers "who is
//! this token", nothing about what they may do.
//!
//! The gateway builds one [`Authenticator`] from `[[identity.issuers]]` ([`IssuerConfig`])
//! and the [`GrantKeys`] in `data_dir`, then calls [`Authenticator::authenticate`] on every
//! request. A refusal is an [`AuthError`]: its [`Reason`] picks the status, its public
//! description goes in `WWW-Authenticate` ([`AuthError::www_authenticate`]), its detail
//! goes to the audit log only.

mod authenticator;
mod cache;
mod check;
mod claims;
mod config;
mod entra;
mod error;
mod grant;
mod json;
mod jwk;
mod jwks;
mod net;
mod principal;
mod token;

#[cfg(any(test, feature = "testkit"))]
pub mod testkit;

#[cfg(test)]
mod tests;

pub use authenticator::{bearer_token, Authenticator};
pub use check::{check_token, CheckError};
pub use config::{validate_issuers, ClaimNames, EntraConfig, GroupOverage, IssuerConfig, MAX_LEEWAY};
pub use error::{www_authenticate, AuthError, ConfigError, KeyStoreError, Reason};
pub use grant::{GrantClaims, GrantKeys, ManagedIdentityClaims, GRANT_KEY_FILE, MAX_GRANT_TOKEN_TTL_SECS};
pub use jwk::Algorithm;
pub use principal::{principal_key, Actor, Principal, PrincipalKind};
pub use token::{parse as parse_unverified, UnverifiedToken, MAX_TOKEN_BYTES};
