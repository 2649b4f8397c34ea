//! The operator's offline check (`portcullis auth check`): validate one token exactly as
//! the gateway would and say precisely why it is refused.

use crate::authenticator::Authenticator;
use crate::config::IssuerConfig;
use crate::error::{AuthError, ConfigError};
use crate::principal::Principal;

/// Why `check_token` did not produce a principal.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The issuer configuration (or the local JWKS) is unusable.
    #[error("configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Config(Vec<ConfigError>),
    /// The token is refused; the error carries the precise reason.
    #[error("token refused: {0}")]
    Refused(AuthError),
}

/// Validates `token` against `issuers` (from the config file, or one built with
/// [`IssuerConfig::single`]). With `local_jwks` (a JWKS document read from a file) every
/// issuer uses those keys and nothing is fetched; otherwise keys are fetched as the
/// gateway would. No cache is involved.
pub async fn check_token(
    issuers: Vec<IssuerConfig>,
    local_jwks: Option<&[u8]>,
    token: &str,
) -> Result<Principal, CheckError> {
    let authenticator = match local_jwks {
        Some(jwks) => Authenticator::with_local_jwks(issuers, None, jwks),
        None => Authenticator::new(issuers, None),
    }
    .map_err(CheckError::Config)?;
    authenticator.authenticate_uncached(token.trim()).await.map_err(CheckError::Refused)
}
