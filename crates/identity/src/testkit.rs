//! Token-minting helpers for tests and benchmarks (feature `testkit`; never in production
//! builds). Tokens are assembled by hand so tests can forge anything: odd headers,
//! duplicate claims, wrong algorithms.

#![allow(clippy::missing_panics_doc)]

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};

enum Kind {
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private signing key with its `kid`, publishing itself as a JWK.
pub struct TestSigner {
    /// The key id.
    pub kid: String,
    kind: Kind,
}

/// base64url without padding.
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    crate::claims::now()
}

impl TestSigner {
    /// A fresh RSA-2048 key.
    pub fn rsa(kid: &str) -> TestSigner {
        let key = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        TestSigner { kid: kid.into(), kind: Kind::Rsa(key) }
    }

    /// A fresh P-256 key.
    pub fn ec(kid: &str) -> TestSigner {
        let key =
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("EC key generation");
        TestSigner { kid: kid.into(), kind: Kind::Ec(key) }
    }

    /// A fresh Ed25519 key.
    pub fn ed25519(kid: &str) -> TestSigner {
        let key = Ed25519KeyPair::generate().expect("Ed25519 key generation");
        TestSigner { kid: kid.into(), kind: Kind::Ed(key) }
    }

    /// The algorithm this key signs with by default.
    pub fn alg(&self) -> &'static str {
        match self.kind {
            Kind::Rsa(_) => "RS256",
            Kind::Ec(_) => "ES256",
            Kind::Ed(_) => "EdDSA",
        }
    }

    /// The public JWK (`use: sig`, `alg` set).
    pub fn jwk(&self) -> Value {
        match &self.kind {
            Kind::Rsa(k) => json!({
                "kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                "n": b64(k.public_key().modulus().big_endian_without_leading_zero()),
                "e": b64(k.public_key().exponent().big_endian_without_leading_zero()),
            }),
            Kind::Ec(k) => {
                let p = k.public_key().as_ref();
                json!({"kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": self.kid,
                       "x": b64(&p[1..33]), "y": b64(&p[33..65])})
            }
            Kind::Ed(k) => json!({"kty": "OKP", "crv": "Ed25519", "use": "sig", "alg": "EdDSA",
                                  "kid": self.kid, "x": b64(k.public_key().as_ref())}),
        }
    }

    /// The RSA public key as SubjectPublicKeyInfo DER (for the HMAC key-confusion test).
    pub fn public_der(&self) -> Vec<u8> {
        match &self.kind {
            Kind::Rsa(k) => k.public_key().as_der().expect("DER").as_ref().to_vec(),
            Kind::Ec(k) => k.public_key().as_ref().to_vec(),
            Kind::Ed(k) => k.public_key().as_ref().to_vec(),
        }
    }

    /// The public key as PEM (`PUBLIC KEY`).
    pub fn public_pem(&self) -> String {
        let body = STANDARD.encode(self.public_der());
        let lines: Vec<&str> =
            body.as_bytes().chunks(64).map(|c| std::str::from_utf8(c).unwrap_or_default()).collect();
        format!("-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n", lines.join("\n"))
    }

    /// Signs `message` with this key (RS256 / ES256 / EdDSA; `pss` for PS256).
    pub fn sign_bytes(&self, message: &[u8], pss: bool) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.kind {
            Kind::Rsa(k) => {
                let mut sig = vec![0u8; k.public_modulus_len()];
                let pad: &'static dyn signature::RsaEncoding =
                    if pss { &signature::RSA_PSS_SHA256 } else { &signature::RSA_PKCS1_SHA256 };
                k.sign(pad, &rng, message, &mut sig).expect("RSA sign");
                sig
            }
            Kind::Ec(k) => k.sign(&rng, message).expect("EC sign").as_ref().to_vec(),
            Kind::Ed(k) => k.sign(message).as_ref().to_vec(),
        }
    }

    /// A token from raw header and payload JSON text (so tests can write duplicates).
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let pss = header.contains("\"PS256\"");
        let sig = self.sign_bytes(input.as_bytes(), pss);
        format!("{input}.{}", b64(sig))
    }

    /// A token with the standard header (`alg`, `kid`, `typ: JWT`) and these claims.
    pub fn mint(&self, claims: &Value) -> String {
        let header = json!({"alg": self.alg(), "kid": self.kid, "typ": "JWT"});
        self.sign_raw(&header.to_string(), &claims.to_string())
    }

    /// A token with a custom header object and these claims.
    pub fn mint_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }
}

/// A JWKS document of these keys.
pub fn jwks(keys: &[&TestSigner]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// An HS256 token with `secret` as the HMAC key (for the key-confusion attack).
pub fn hs256(secret: &[u8], header: &Value, claims: &Value) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
    let tag = aws_lc_rs::hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64(tag.as_ref()))
}

/// Standard claims for a v2 Entra app token of tenant `tid`, valid for an hour.
pub fn entra_v2_claims(tid: &str, aud: &str) -> Value {
    let t = now();
    json!({
        "iss": format!("https://login.microsoftonline.com/{tid}/v2.0"),
        "aud": aud, "tid": tid, "ver": "2.0", "sub": "agent-object-id", "oid": "agent-object-id",
        "azp": "agent-app-id", "idtyp": "app", "roles": ["Reader"],
        "iat": t - 10, "nbf": t - 10, "exp": t + 3600,
    })
}
