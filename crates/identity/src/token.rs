//! Parsing a compact JWS without trusting it: size limits, strict base64url, strict JSON
//! (no duplicate names), header rules (`crit`, JWE, `alg: none`, HMAC). Nothing here
//! verifies a signature; [`crate::Authenticator`] does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{Map, Value};

use crate::error::{AuthError, Reason};
use crate::json::{self, StrictError};
use crate::jwk::Algorithm;

/// Largest token accepted, in bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Most claims (top-level names) accepted in a token.
pub(crate) const MAX_CLAIMS: usize = 256;

/// The protected header fields this crate acts on. `jku`, `x5u`, `x5c` and `jwk` are
/// ignored on purpose: keys come from configuration, never from the token.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
}

/// A token split and decoded, not yet verified.
#[derive(Debug, Clone)]
pub struct UnverifiedToken<'a> {
    pub(crate) header: Header,
    pub(crate) claims: Map<String, Value>,
    pub(crate) signing_input: &'a [u8],
    pub(crate) signature: Vec<u8>,
}

impl UnverifiedToken<'_> {
    /// The header `alg`.
    pub fn algorithm(&self) -> Algorithm {
        self.header.alg
    }

    /// The header `kid`, if any.
    pub fn key_id(&self) -> Option<&str> {
        self.header.kid.as_deref()
    }

    /// The claims, unverified: for diagnostics only, never for a decision.
    pub fn unverified_claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

fn malformed(detail: impl Into<String>) -> AuthError {
    AuthError::new(Reason::Malformed, detail)
}

fn decode(part: &str, what: &str) -> Result<Vec<u8>, AuthError> {
    URL_SAFE_NO_PAD.decode(part).map_err(|e| malformed(format!("{what} is not canonical base64url: {e}")))
}

fn object(bytes: &[u8], what: &str) -> Result<Map<String, Value>, AuthError> {
    json::parse_object(bytes).map_err(|e| match e {
        StrictError::Duplicate(name) => {
            AuthError::new(Reason::DuplicateClaim, format!("{what} has the name {name} twice"))
        }
        StrictError::Invalid(why) => malformed(format!("{what} is not a JSON object: {why}")),
    })
}

/// Splits and decodes a compact JWS, applying every rule that needs no key.
pub fn parse(token: &str) -> Result<UnverifiedToken<'_>, AuthError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(AuthError::new(
            Reason::TooLarge,
            format!("token is {} bytes, limit {MAX_TOKEN_BYTES}", token.len()),
        ));
    }
    if let Some(bad) = token.bytes().find(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')))
    {
        return Err(malformed(format!("token contains the byte 0x{bad:02x}, outside base64url")));
    }
    let parts: Vec<&str> = token.split('.').collect();
    match parts.len() {
        3 => {}
        5 => return Err(AuthError::new(Reason::Encrypted, "token is a JWE (5 segments)")),
        n => return Err(malformed(format!("token has {n} segments, a JWS has 3"))),
    }
    let header = object(&decode(parts[0], "header")?, "header")?;
    let header = parse_header(&header)?;
    let claims = object(&decode(parts[1], "payload")?, "payload")?;
    if claims.len() > MAX_CLAIMS {
        return Err(AuthError::new(Reason::TooLarge, format!("{} claims, limit {MAX_CLAIMS}", claims.len())));
    }
    let signature = decode(parts[2], "signature")?;
    if signature.is_empty() {
        return Err(AuthError::new(Reason::UnsupportedAlgorithm, "token has an empty signature"));
    }
    let signing_input = &token.as_bytes()[..parts[0].len() + 1 + parts[1].len()];
    Ok(UnverifiedToken { header, claims, signing_input, signature })
}

fn parse_header(h: &Map<String, Value>) -> Result<Header, AuthError> {
    if h.contains_key("enc") {
        return Err(AuthError::new(Reason::Encrypted, "header has \"enc\": a JWE"));
    }
    if h.contains_key("crit") {
        return Err(AuthError::new(
            Reason::CriticalHeader,
            "header has \"crit\"; no critical extension is understood",
        ));
    }
    if h.contains_key("zip") {
        return Err(malformed("header has \"zip\" (compression is not accepted)"));
    }
    if let Some(cty) = h.get("cty") {
        if cty.as_str().is_none_or(|c| c.eq_ignore_ascii_case("jwt")) {
            return Err(malformed("nested tokens (cty) are not accepted"));
        }
    }
    let alg = match h.get("alg") {
        Some(Value::String(s)) => s,
        Some(_) => return Err(malformed("header \"alg\" is not a string")),
        None => return Err(malformed("header has no \"alg\"")),
    };
    let alg = match Algorithm::from_name(alg) {
        Some(a) => a,
        None if alg.trim().eq_ignore_ascii_case("none") => {
            return Err(AuthError::new(
                Reason::UnsupportedAlgorithm,
                format!("alg {alg:?}: unsigned tokens are never accepted"),
            ))
        }
        None if alg.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("hs")) => {
            return Err(AuthError::new(
                Reason::UnsupportedAlgorithm,
                format!("alg {alg:?}: HMAC is never accepted"),
            ))
        }
        None => {
            return Err(AuthError::new(Reason::UnsupportedAlgorithm, format!("alg {alg:?} is not supported")))
        }
    };
    let string = |name: &str| match h.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(malformed(format!("header \"{name}\" is not a string"))),
    };
    Ok(Header { alg, kid: string("kid")?, typ: string("typ")? })
}
