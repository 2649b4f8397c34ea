//! Signing keys from a JWKS, pre-parsed for fast verification. The key decides the
//! algorithm: a token's `alg` is only a claim that must agree with the key.

use std::fmt;

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Smallest RSA modulus accepted, in bits (RFC 7518 §3.3).
const MIN_RSA_BITS: usize = 2048;
/// Most keys used from one key set.
const MAX_KEYS: usize = 64;

/// A signature algorithm this crate implements. HMAC and `none` are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    #[serde(rename = "RS256")]
    Rs256,
    /// RSASSA-PSS with SHA-256.
    #[serde(rename = "PS256")]
    Ps256,
    /// ECDSA on P-256 with SHA-256.
    #[serde(rename = "ES256")]
    Es256,
    /// Ed25519.
    #[serde(rename = "EdDSA")]
    EdDsa,
}

impl Algorithm {
    /// The JOSE name.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Exact, case-sensitive match of a JOSE name.
    pub(crate) fn from_name(name: &str) -> Option<Algorithm> {
        [Algorithm::Rs256, Algorithm::Ps256, Algorithm::Es256, Algorithm::EdDsa]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One usable verification key.
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    /// The key's own `issuer` (Entra publishes it, possibly with `{tenantid}`).
    pub(crate) issuer: Option<String>,
    /// One parsed key per algorithm the key may be used with.
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
}

impl Jwk {
    pub(crate) fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifiers.iter().map(|(a, _)| *a)
    }

    pub(crate) fn supports(&self, alg: Algorithm) -> bool {
        self.algorithms().any(|a| a == alg)
    }

    /// Verifies `signature` over `message` with this key under `alg`.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        self.verifiers.iter().filter(|(a, _)| *a == alg).any(|(_, key)| key.verify_sig(message, sig).is_ok())
    }

    /// Builds a key from raw Ed25519 public bytes (the gateway's own grant keys).
    pub(crate) fn ed25519(kid: &str, public: &[u8]) -> Option<Jwk> {
        let key = ParsedPublicKey::new(&signature::ED25519, public).ok()?;
        Some(Jwk { kid: Some(kid.to_string()), issuer: None, verifiers: vec![(Algorithm::EdDsa, key)] })
    }
}

/// The usable keys of one issuer.
#[derive(Default)]
pub(crate) struct KeySet {
    pub(crate) keys: Vec<Jwk>,
    /// Keys present in the document but not usable here, with why (for diagnostics).
    pub(crate) skipped: Vec<String>,
}

impl KeySet {
    /// Parses a JWKS document. Keys this crate cannot or must not use (encryption keys,
    /// unknown types, short RSA moduli, private parts) are skipped, not fatal.
    pub(crate) fn parse(bytes: &[u8]) -> Result<KeySet, String> {
        let doc: Value = serde_json::from_slice(bytes).map_err(|e| format!("JWKS is not JSON: {e}"))?;
        let keys = doc.get("keys").and_then(Value::as_array).ok_or("JWKS has no \"keys\" array")?;
        let mut set = KeySet::default();
        for (i, key) in keys.iter().enumerate() {
            match parse_key(key) {
                Ok(jwk) if set.keys.len() < MAX_KEYS => set.keys.push(jwk),
                Ok(_) => set.skipped.push(format!("key {i}: more than {MAX_KEYS} keys")),
                Err(why) => set.skipped.push(format!("key {i}: {why}")),
            }
        }
        Ok(set)
    }

    /// The keys a token may be verified with: those with its `kid`, or the only key when
    /// the token has no `kid` and the set has exactly one.
    pub(crate) fn candidates<'a>(&'a self, kid: Option<&'a str>) -> Vec<&'a Jwk> {
        match kid {
            Some(kid) => self.keys.iter().filter(|k| k.kid.as_deref() == Some(kid)).collect(),
            None if self.keys.len() == 1 => self.keys.iter().collect(),
            None => Vec::new(),
        }
    }
}

fn b64(key: &Value, name: &str) -> Result<Vec<u8>, String> {
    let text = key.get(name).and_then(Value::as_str).ok_or_else(|| format!("no \"{name}\""))?;
    URL_SAFE_NO_PAD.decode(text).map_err(|e| format!("\"{name}\" is not base64url: {e}"))
}

fn parse_key(key: &Value) -> Result<Jwk, String> {
    let str_field = |name: &str| key.get(name).and_then(Value::as_str);
    if let Some(usage) = key.get("use") {
        if usage.as_str() != Some("sig") {
            return Err(format!("use is {usage}, not \"sig\""));
        }
    }
    if let Some(ops) = key.get("key_ops") {
        let verify = ops.as_array().is_some_and(|ops| ops.iter().any(|o| o.as_str() == Some("verify")));
        if !verify {
            return Err("key_ops does not include \"verify\"".into());
        }
    }
    if key.get("d").is_some() {
        return Err("a private key was published; not used".into());
    }
    let fixed = match key.get("alg") {
        None => None,
        Some(alg) => Some(
            alg.as_str()
                .and_then(Algorithm::from_name)
                .ok_or_else(|| format!("alg {alg} is not supported"))?,
        ),
    };
    let kty = str_field("kty").ok_or("no \"kty\"")?;
    let allowed: &[Algorithm] = match kty {
        "RSA" => &[Algorithm::Rs256, Algorithm::Ps256],
        "EC" => &[Algorithm::Es256],
        "OKP" => &[Algorithm::EdDsa],
        other => return Err(format!("kty {other} is not supported")),
    };
    let algs: Vec<Algorithm> = match fixed {
        Some(a) if allowed.contains(&a) => vec![a],
        Some(a) => return Err(format!("alg {a} does not fit kty {kty}")),
        None => allowed.to_vec(),
    };
    let mut verifiers = Vec::new();
    for alg in algs {
        verifiers.push((alg, parse_material(key, kty, alg)?));
    }
    Ok(Jwk {
        kid: str_field("kid").map(str::to_string),
        issuer: str_field("issuer").map(str::to_string),
        verifiers,
    })
}

fn parse_material(key: &Value, kty: &str, alg: Algorithm) -> Result<ParsedPublicKey, String> {
    let rejected = |e: aws_lc_rs::error::KeyRejected| format!("key rejected: {e}");
    match kty {
        "RSA" => {
            let n = b64(key, "n")?;
            let e = b64(key, "e")?;
            let n = strip_zeros(&n);
            let e = strip_zeros(&e);
            if n.len() * 8 < MIN_RSA_BITS {
                return Err(format!("RSA modulus shorter than {MIN_RSA_BITS} bits"));
            }
            let params = match alg {
                Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                _ => &signature::RSA_PKCS1_2048_8192_SHA256,
            };
            RsaPublicKeyComponents { n, e }.to_parsed_public_key(params).map_err(rejected)
        }
        "EC" => {
            if key.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err("EC key is not on P-256".into());
            }
            let (x, y) = (b64(key, "x")?, b64(key, "y")?);
            if x.len() != 32 || y.len() != 32 {
                return Err("EC coordinates are not 32 bytes".into());
            }
            let mut point = Vec::with_capacity(65);
            point.push(4);
            point.extend_from_slice(&x);
            point.extend_from_slice(&y);
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point).map_err(rejected)
        }
        _ => {
            if key.get("crv").and_then(Value::as_str) != Some("Ed25519") {
                return Err("OKP key is not Ed25519".into());
            }
            let x = b64(key, "x")?;
            if x.len() != 32 {
                return Err("Ed25519 key is not 32 bytes".into());
            }
            ParsedPublicKey::new(&signature::ED25519, x).map_err(rejected)
        }
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}
