//! The connector's Ed25519 key: generated on first start, PKCS#8, mode 0600.

use std::io::Write;
use std::path::Path;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use crate::TunnelError;

/// The connector's identity key. Only its public half ever leaves the connector.
#[derive(Debug)]
pub struct ConnectorKey {
    pair: Ed25519KeyPair,
}

impl ConnectorKey {
    /// Loads the key at `path`, generating and writing it (atomically, mode 0600) if absent.
    pub fn load_or_create(path: &Path) -> Result<Self, TunnelError> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(e) => return Err(TunnelError::Config(format!("reading {}: {e}", path.display()))),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| {
            TunnelError::Config(format!("{} is not an Ed25519 PKCS#8 key: {e}", path.display()))
        })?;
        Ok(ConnectorKey { pair })
    }

    /// A fresh key held only in memory (tests, the embedded connector).
    pub fn generate() -> Result<Self, TunnelError> {
        let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map_err(|e| TunnelError::Config(format!("generating a connector key: {e}")))?;
        let pair = Ed25519KeyPair::from_pkcs8(doc.as_ref())
            .map_err(|e| TunnelError::Config(format!("generated key unusable: {e}")))?;
        Ok(ConnectorKey { pair })
    }

    /// The public key, hex (what the gateway pins).
    pub fn public_hex(&self) -> String {
        hex::encode(self.pair.public_key().as_ref())
    }

    pub(crate) fn sign_hex(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }
}

/// Verifies a hex signature with a hex public key.
pub(crate) fn verify_hex(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let (Ok(public), Ok(signature)) = (hex::decode(public_hex), hex::decode(signature_hex)) else {
        return false;
    };
    public.len() == 32 && UnparsedPublicKey::new(&ED25519, public).verify(message, &signature).is_ok()
}

/// A short stable id for a public key: the first 16 hex digits of its SHA-256.
pub(crate) fn key_id(public_hex: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, public_hex.as_bytes());
    hex::encode(&digest.as_ref()[..8])
}

fn create(path: &Path) -> Result<Vec<u8>, TunnelError> {
    let err =
        |doing: &str, e: std::io::Error| TunnelError::Config(format!("{doing} {}: {e}", path.display()));
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|e| TunnelError::Config(format!("generating a connector key: {e}")))?;
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| err("creating", e))?;
    file.write_all(doc.as_ref()).and_then(|()| file.sync_all()).map_err(|e| err("writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| err("renaming into", e))?;
    tracing::info!(path = %path.display(), "generated the connector key");
    Ok(doc.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_key_is_stable_and_signs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connector.key");
        let a = ConnectorKey::load_or_create(&path).unwrap();
        let b = ConnectorKey::load_or_create(&path).unwrap();
        assert_eq!(a.public_hex(), b.public_hex());
        let sig = a.sign_hex(b"m");
        assert!(verify_hex(&b.public_hex(), b"m", &sig));
        assert!(!verify_hex(&b.public_hex(), b"n", &sig));
        assert!(!verify_hex(&ConnectorKey::generate().unwrap().public_hex(), b"m", &sig));
    }
}
