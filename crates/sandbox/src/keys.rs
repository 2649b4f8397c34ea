//! Signing keys of the fake identity provider: generation, JWKS publication, compact JWS.
//!
//! Keys are generated fresh at start with aws-lc-rs (RSA 2048 and P-256), so no key
//! material is ever checked in. Tokens are signed here directly; validators on the other
//! side (the fake ARM, the identity crate) verify them through the published JWKS only.

use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use aws_lc_rs::rsa::{self, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_SHA256};
use base64::engine::general_purpose::{STANDARD as B64, URL_SAFE_NO_PAD as B64URL};
use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::{Result, SandboxError};

/// A JWS signature algorithm the fake identity provider signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Alg {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (what Entra ID uses).
    RS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
}

impl Alg {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
        }
    }
}

enum Material {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
}

/// One private signing key with its key id and public JWK.
pub(crate) struct SigningKey {
    kid: String,
    alg: Alg,
    material: Material,
    jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("kid", &self.kid).field("alg", &self.alg).finish()
    }
}

fn crypto(what: &str) -> SandboxError {
    SandboxError::Crypto(what.to_owned())
}

/// A self-signed certificate for an RSA signing key, DER (Entra publishes one per key).
fn self_signed_der(pair: &rsa::KeyPair) -> Result<Vec<u8>> {
    let cert_err = |e: rcgen::Error| SandboxError::Certificate(e.to_string());
    let pkcs8 = pair.as_der().map_err(|_| crypto("PKCS#8 export"))?;
    let pkcs8 = rustls_pki_types::PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec());
    let key =
        rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256).map_err(cert_err)?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
    params.distinguished_name.push(rcgen::DnType::CommonName, "accounts.accesscontrol.windows.net");
    Ok(params.self_signed(&key).map_err(cert_err)?.der().to_vec())
}

/// A random key id shaped like Entra's (27 base64url characters).
pub(crate) fn random_kid() -> Result<String> {
    Ok(B64URL.encode(random_bytes::<20>()?))
}

/// `N` bytes from the system CSPRNG.
pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    SystemRandom::new().fill(&mut out).map_err(|_| crypto("random bytes"))?;
    Ok(out)
}

impl SigningKey {
    /// Generates a key of `alg`. RSA keys come with a self-signed certificate published
    /// as `x5c`, and (as in Entra) a kid equal to the certificate's SHA-1 thumbprint
    /// unless `kid` is given.
    pub(crate) fn generate(alg: Alg, kid: Option<String>) -> Result<Self> {
        let (material, mut jwk, kid) = match alg {
            Alg::RS256 => {
                let pair =
                    rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto("RSA key generation"))?;
                let parts = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let cert_der = self_signed_der(&pair)?;
                let x5t = B64URL.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, &cert_der));
                let jwk = json!({
                    "kty": "RSA",
                    "n": B64URL.encode(&parts.n),
                    "e": B64URL.encode(&parts.e),
                    "x5t": x5t.clone(),
                    "x5c": [B64.encode(&cert_der)],
                });
                (Material::Rsa(pair), jwk, kid.unwrap_or(x5t))
            }
            Alg::ES256 => {
                let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .map_err(|_| crypto("P-256 key generation"))?;
                // Uncompressed point: 0x04 || x (32) || y (32).
                let point = pair.public_key().as_ref();
                if point.len() != 65 {
                    return Err(crypto("unexpected P-256 public key length"));
                }
                let jwk = json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": B64URL.encode(&point[1..33]),
                    "y": B64URL.encode(&point[33..65]),
                });
                let kid = match kid {
                    Some(k) => k,
                    None => random_kid()?,
                };
                (Material::Ec(pair), jwk, kid)
            }
        };
        if let Some(obj) = jwk.as_object_mut() {
            obj.insert("use".into(), json!("sig"));
            obj.insert("kid".into(), json!(kid));
            obj.insert("alg".into(), json!(alg.as_str()));
        }
        Ok(Self { kid, alg, material, jwk })
    }

    /// The key id published in the JWKS and put in token headers.
    pub(crate) fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm this key signs with.
    pub(crate) fn alg(&self) -> Alg {
        self.alg
    }

    /// The public JWK.
    pub(crate) fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// A `jsonwebtoken` decoding key for this key's public half.
    pub(crate) fn decoding_key(&self) -> Option<jsonwebtoken::DecodingKey> {
        let s = |k: &str| self.jwk.get(k).and_then(Value::as_str);
        match self.alg {
            Alg::RS256 => jsonwebtoken::DecodingKey::from_rsa_components(s("n")?, s("e")?).ok(),
            Alg::ES256 => jsonwebtoken::DecodingKey::from_ec_components(s("x")?, s("y")?).ok(),
        }
    }

    /// Signs `header.claims` and returns the compact JWS.
    pub(crate) fn sign_compact(&self, header: &Value, claims: &Value) -> Result<String> {
        let signing_input = format!(
            "{}.{}",
            B64URL.encode(serde_json::to_vec(header)?),
            B64URL.encode(serde_json::to_vec(claims)?)
        );
        let signature = match &self.material {
            Material::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), signing_input.as_bytes(), &mut sig)
                    .map_err(|_| crypto("RSA signing"))?;
                sig
            }
            Material::Ec(pair) => pair
                .sign(&SystemRandom::new(), signing_input.as_bytes())
                .map_err(|_| crypto("ECDSA signing"))?
                .as_ref()
                .to_vec(),
        };
        Ok(format!("{signing_input}.{}", B64URL.encode(signature)))
    }
}

/// The published key set: the first key of each algorithm signs; the rest stay published
/// so tokens signed before a rotation still validate, as with Entra's overlapping keys.
#[derive(Debug)]
pub(crate) struct KeySet {
    keys: Vec<SigningKey>,
    /// How many keys the JWKS keeps at most (oldest are dropped first).
    max_published: usize,
}

impl KeySet {
    /// A fresh set: two RSA keys (one signing, one published standby) and one P-256 key.
    pub(crate) fn generate() -> Result<Self> {
        let keys = vec![
            SigningKey::generate(Alg::RS256, None)?,
            SigningKey::generate(Alg::ES256, None)?,
            SigningKey::generate(Alg::RS256, None)?,
        ];
        Ok(Self { keys, max_published: 6 })
    }

    /// The current signing key for `alg`.
    pub(crate) fn signer(&self, alg: Alg) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.alg() == alg)
    }

    /// The key published under `kid`.
    pub(crate) fn by_kid(&self, kid: &str) -> Option<&SigningKey> {
        self.keys.iter().find(|k| k.kid() == kid)
    }

    /// The JWKS document.
    pub(crate) fn jwks(&self) -> Value {
        json!({ "keys": self.keys.iter().map(|k| k.jwk().clone()).collect::<Vec<_>>() })
    }

    /// New signing keys (new kids) for both algorithms; old keys stay published.
    pub(crate) fn rotate(&mut self) -> Result<()> {
        let rsa = SigningKey::generate(Alg::RS256, None)?;
        let ec = SigningKey::generate(Alg::ES256, None)?;
        self.keys.insert(0, ec);
        self.keys.insert(0, rsa);
        self.keys.truncate(self.max_published);
        Ok(())
    }

    /// New key material under the *same* kids, as a provider that regenerates keys on
    /// restart does: tokens signed before no longer verify, and a JWKS cache keyed only
    /// on `kid` must refetch.
    pub(crate) fn rotate_keep_kid(&mut self) -> Result<()> {
        for key in &mut self.keys {
            *key = SigningKey::generate(key.alg(), Some(key.kid().to_owned()))?;
        }
        Ok(())
    }

    /// Drops every key except the current signers.
    pub(crate) fn retire_old(&mut self) {
        let mut seen = Vec::new();
        self.keys.retain(|k| {
            let keep = !seen.contains(&k.alg());
            seen.push(k.alg());
            keep
        });
    }
}
