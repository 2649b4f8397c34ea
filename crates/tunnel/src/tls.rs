//! TLS for the tunnel: TLS 1.3 only (the authentication binds to its exporter), one ALPN.

use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TunnelError;

/// The ALPN protocol both sides insist on, so a tunnel never talks to a web listener by mistake.
pub const ALPN: &[u8] = b"portcullis-tunnel/1";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// The gateway's tunnel listener TLS config from a PEM certificate chain and key.
pub fn server_tls_from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
) -> Result<Arc<rustls::ServerConfig>, TunnelError> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TunnelError::Config(format!("tunnel certificate: {e}")))?;
    if certs.is_empty() {
        return Err(TunnelError::Config("tunnel certificate: no PEM certificate found".into()));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| TunnelError::Config(format!("tunnel key: {e}")))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TunnelError::Config(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| TunnelError::Config(format!("tunnel certificate/key: {e}")))?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The connector's TLS config, trusting only the CA certificates in `ca_pem`.
pub fn client_tls_from_ca_pem(ca_pem: &[u8]) -> Result<Arc<rustls::ClientConfig>, TunnelError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| TunnelError::Config(format!("gateway CA: {e}")))?;
        roots.add(cert).map_err(|e| TunnelError::Config(format!("gateway CA: {e}")))?;
    }
    if roots.is_empty() {
        return Err(TunnelError::Config("gateway CA: no PEM certificate found".into()));
    }
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| TunnelError::Config(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}
