//! The interception CA of the forward proxy: made on first start in `data_dir`
//! (`proxy-ca.pem`, `proxy-ca.key` with mode 0600), separate from the tunnel CA. Agents
//! trust its certificate (`portcullis env` writes it out); the gateway signs, on the fly, a
//! leaf for each claimed host an agent tunnels to, and keeps it for the process's life.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::{Duration, OffsetDateTime};

/// The CA certificate agents trust for intercepted hosts.
pub const PROXY_CA_FILE: &str = "proxy-ca.pem";
/// Its private key; never leaves `data_dir`.
const PROXY_CA_KEY_FILE: &str = "proxy-ca.key";
const CA_NAME: &str = "Portcullis proxy CA";
/// Leaves are short-lived compared with the CA; a restart mints new ones.
const LEAF_DAYS: i64 = 30;

/// The CA and the leaf certificates minted so far, by host.
pub(crate) struct ProxyCa {
    issuer: Issuer<'static, KeyPair>,
    ca_der: CertificateDer<'static>,
    ca_file: PathBuf,
    leaves: Mutex<HashMap<String, Arc<rustls::ServerConfig>>>,
}

impl ProxyCa {
    /// Loads the CA from `data_dir`, or makes it there on first start.
    pub(crate) fn load_or_create(data_dir: &Path) -> Result<Self, String> {
        let cert_path = data_dir.join(PROXY_CA_FILE);
        let key_path = data_dir.join(PROXY_CA_KEY_FILE);
        let at = |p: &Path, e: &dyn std::fmt::Display| format!("{}: {e}", p.display());
        let (params, key, pem) = if key_path.exists() && cert_path.exists() {
            let key_pem = std::fs::read_to_string(&key_path).map_err(|e| at(&key_path, &e))?;
            let key = KeyPair::from_pem(&key_pem).map_err(|e| at(&key_path, &e))?;
            let pem = std::fs::read_to_string(&cert_path).map_err(|e| at(&cert_path, &e))?;
            // The issuer is named by the CA's distinguished name and key, which ca_params
            // reproduces; the stored certificate itself is what agents trust.
            (ca_params()?, key, pem)
        } else {
            std::fs::create_dir_all(data_dir).map_err(|e| at(data_dir, &e))?;
            let key = KeyPair::generate().map_err(|e| e.to_string())?;
            let params = ca_params()?;
            let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
            write_private(&key_path, key.serialize_pem().as_bytes()).map_err(|e| at(&key_path, &e))?;
            std::fs::write(&cert_path, cert.pem()).map_err(|e| at(&cert_path, &e))?;
            (params, key, cert.pem())
        };
        use rustls_pki_types::pem::PemObject as _;
        let ca_der = CertificateDer::from_pem_slice(pem.as_bytes()).map_err(|e| at(&cert_path, &e))?;
        Ok(ProxyCa {
            issuer: Issuer::new(params, key),
            ca_der,
            ca_file: cert_path,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// `data_dir/proxy-ca.pem`.
    pub(crate) fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The TLS configuration presenting a certificate for `host` (minted once, then cached).
    pub(crate) fn server_config(&self, host: &str) -> Result<Arc<rustls::ServerConfig>, String> {
        let host = host.to_ascii_lowercase();
        if let Some(c) = self.leaves.lock().ok().and_then(|m| m.get(&host).cloned()) {
            return Ok(c);
        }
        let config = Arc::new(self.mint(&host)?);
        if let Ok(mut m) = self.leaves.lock() {
            m.insert(host, config.clone());
        }
        Ok(config)
    }

    fn mint(&self, host: &str) -> Result<rustls::ServerConfig, String> {
        let key = KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(|e| e.to_string())?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.use_authority_key_identifier_extension = true;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::hours(1);
        params.not_after = now + Duration::days(LEAF_DAYS);
        let leaf = params.signed_by(&key, &self.issuer).map_err(|e| e.to_string())?;
        let chain = vec![CertificateDer::from(leaf.der().to_vec()), self.ca_der.clone()];
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .map_err(|e| e.to_string())?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

fn ca_params() -> Result<CertificateParams, String> {
    let mut params = CertificateParams::new(Vec::<String>::new()).map_err(|e| e.to_string())?;
    params.distinguished_name.push(DnType::CommonName, CA_NAME);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.key_usages =
        vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let now = OffsetDateTime::now_utc();
    params.not_before = now - Duration::hours(1);
    params.not_after = now + Duration::days(3650);
    Ok(params)
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ca_is_made_once_and_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = ProxyCa::load_or_create(dir.path()).expect("create");
        let pem = std::fs::read_to_string(first.ca_file()).expect("ca file");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let meta = std::fs::metadata(dir.path().join(PROXY_CA_KEY_FILE)).expect("key");
            assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        }
        let again = ProxyCa::load_or_create(dir.path()).expect("reload");
        assert_eq!(std::fs::read_to_string(again.ca_file()).expect("ca file"), pem);
        assert_eq!(again.ca_der, first.ca_der);
        let a = again.server_config("Management.Azure.com").expect("leaf");
        let b = again.server_config("management.azure.com").expect("leaf");
        assert!(Arc::ptr_eq(&a, &b), "one leaf per host, cached");
    }
}
