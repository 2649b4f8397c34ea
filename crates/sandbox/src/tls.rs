//! Optional TLS for the fakes: a throwaway CA and a leaf certificate for `127.0.0.1` and
//! `localhost`, generated at start, so clients that insist on HTTPS (az, bearer tokens in
//! the Azure SDKs, the connector's upstream client) can be tested with the CA as their
//! only trust anchor.

use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::error::{Result, SandboxError};

/// A server identity for loopback and the CA that signed it.
#[derive(Clone)]
pub(crate) struct LoopbackTls {
    pub(crate) server_config: Arc<rustls::ServerConfig>,
    pub(crate) ca_pem: String,
}

impl std::fmt::Debug for LoopbackTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopbackTls").finish_non_exhaustive()
    }
}

fn cert_err(e: rcgen::Error) -> SandboxError {
    SandboxError::Certificate(e.to_string())
}

impl LoopbackTls {
    /// Generates the CA and the leaf, and a rustls config offering h2 and http/1.1.
    pub(crate) fn generate(name: &str) -> Result<Self> {
        let ca_key = KeyPair::generate().map_err(cert_err)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(cert_err)?;
        ca_params.distinguished_name.push(DnType::CommonName, format!("Portcullis sandbox CA ({name})"));
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca_params.self_signed(&ca_key).map_err(cert_err)?;
        let issuer = Issuer::new(ca_params, ca_key);

        let leaf_key = KeyPair::generate().map_err(cert_err)?;
        let mut leaf_params =
            CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]).map_err(cert_err)?;
        leaf_params.distinguished_name.push(DnType::CommonName, name);
        let leaf = leaf_params.signed_by(&leaf_key, &issuer).map_err(cert_err)?;

        let chain =
            vec![CertificateDer::from(leaf.der().to_vec()), CertificateDer::from(ca_cert.der().to_vec())];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls_err = |e: rustls::Error| SandboxError::Certificate(e.to_string());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(tls_err)?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(tls_err)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self { server_config: Arc::new(config), ca_pem: ca_cert.pem() })
    }
}
