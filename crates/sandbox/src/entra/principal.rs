//! Principals registered in the fake Entra ID: agents (applications and managed
//! identities) and humans, and the certificates agents sign client assertions with.

use aws_lc_rs::digest::{digest, SHA1_FOR_LEGACY_USE_ONLY, SHA256};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{self, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use rustls_pki_types::PrivatePkcs8KeyDer;

use crate::error::{Result, SandboxError};

/// An AI agent as Entra sees it: an application (service principal) that authenticates
/// with a client secret or a certificate, or a managed identity.
#[derive(Debug, Clone)]
pub struct Agent {
    /// Display name, also how tests look the agent up.
    pub name: String,
    /// Application (client) id.
    pub client_id: String,
    /// Object id of the service principal (`oid`, and `sub` in app tokens).
    pub object_id: String,
    /// Client secret accepted at the token endpoint, if any.
    pub secret: Option<String>,
    /// Certificate whose key signs client assertions, if any.
    pub certificate: Option<ClientCertificate>,
    /// App roles granted to the agent (`roles` claim).
    pub roles: Vec<String>,
    /// Group object ids the agent is a member of (`groups` claim).
    pub groups: Vec<String>,
}

impl Agent {
    /// A new agent with random ids and a random Entra-shaped client secret.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            client_id: uuid::Uuid::new_v4().to_string(),
            object_id: uuid::Uuid::new_v4().to_string(),
            secret: Some(random_secret()),
            certificate: None,
            roles: Vec::new(),
            groups: Vec::new(),
        }
    }

    /// Sets the client id.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// Sets the service principal's object id.
    pub fn object_id(mut self, id: impl Into<String>) -> Self {
        self.object_id = id.into();
        self
    }

    /// Sets (or with `None`, removes) the client secret.
    pub fn secret(mut self, secret: Option<String>) -> Self {
        self.secret = secret;
        self
    }

    /// Registers a certificate for client assertions.
    pub fn certificate(mut self, cert: ClientCertificate) -> Self {
        self.certificate = Some(cert);
        self
    }

    /// Sets the app roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the group memberships.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }
}

/// A person, for delegated (user) tokens minted in Rust.
#[derive(Debug, Clone)]
pub struct Human {
    /// Display name (`name` claim).
    pub name: String,
    /// Sign-in name (`preferred_username`, and `upn`/`unique_name` in v1 tokens).
    pub preferred_username: String,
    /// User object id (`oid`).
    pub object_id: String,
    /// Group object ids (`groups` claim).
    pub groups: Vec<String>,
    /// App roles assigned to the user (`roles` claim).
    pub roles: Vec<String>,
}

impl Human {
    /// A new human with a random object id.
    pub fn new(name: impl Into<String>, preferred_username: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            preferred_username: preferred_username.into(),
            object_id: uuid::Uuid::new_v4().to_string(),
            groups: Vec::new(),
            roles: Vec::new(),
        }
    }

    /// Sets the group memberships.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// Sets the app roles.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
}

/// A self-signed RSA certificate an agent uses for client assertions, as Azure
/// confidential clients do. Holds the private key so tests (and Python's
/// `CertificateCredential`) can sign with it.
#[derive(Clone)]
pub struct ClientCertificate {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The PKCS#8 private key, PEM.
    pub key_pem: String,
    /// SHA-1 thumbprint, base64url (`x5t` header of assertions).
    pub x5t: String,
    /// SHA-256 thumbprint, base64url (`x5t#S256` header of assertions).
    pub x5t_s256: String,
    /// RSA modulus, base64url.
    pub(crate) n: String,
    /// RSA public exponent, base64url.
    pub(crate) e: String,
}

impl std::fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCertificate").field("x5t", &self.x5t).finish_non_exhaustive()
    }
}

impl ClientCertificate {
    /// Generates an RSA 2048 key and a self-signed certificate for `subject`.
    pub fn generate(subject: &str) -> Result<Self> {
        let crypto = |w: &str| SandboxError::Crypto(w.to_owned());
        let cert_err = |e: rcgen::Error| SandboxError::Certificate(e.to_string());
        let pair = rsa::KeyPair::generate(KeySize::Rsa2048).map_err(|_| crypto("RSA keygen"))?;
        let parts = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let pkcs8 = pair.as_der().map_err(|_| crypto("PKCS#8 export"))?;
        let pkcs8 = PrivatePkcs8KeyDer::from(pkcs8.as_ref().to_vec());
        let key = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&pkcs8, &rcgen::PKCS_RSA_SHA256)
            .map_err(cert_err)?;
        let params = rcgen::CertificateParams::new(vec![subject.to_owned()]).map_err(cert_err)?;
        let cert = params.self_signed(&key).map_err(cert_err)?;
        let der = cert.der();
        Ok(Self {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            x5t: B64URL.encode(digest(&SHA1_FOR_LEGACY_USE_ONLY, der)),
            x5t_s256: B64URL.encode(digest(&SHA256, der)),
            n: B64URL.encode(&parts.n),
            e: B64URL.encode(&parts.e),
        })
    }

    /// The certificate and key in one PEM, the form `CertificateCredential` reads.
    pub fn combined_pem(&self) -> String {
        format!("{}{}", self.key_pem, self.cert_pem)
    }
}

/// A random secret shaped like Entra's (40 characters, `~` in fourth place).
fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    bytes[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    let body = B64URL.encode(bytes).replace(['-', '_'], "x");
    format!("{}~{}", &body[..3], &body[4..40])
}
