//! The gateway's checkpoint signing key: Ed25519, PKCS#8, in `data_dir`, mode 0600,
//! generated on first start. The public key is also written beside it (hex) and recorded
//! in the database, so `audit verify` can check checkpoints, and can be given a trusted
//! copy of the key so a rewritten database with a key of the attacker's is refused.

use std::io::Write;
use std::path::{Path, PathBuf};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair, UnparsedPublicKey, ED25519};

use crate::{AuditError, AuditReason};

/// The private key's file name in `data_dir`.
pub const SIGNING_KEY_FILE: &str = "audit-signing.key";
/// The public key's file name in `data_dir` (hex).
pub const PUBLIC_KEY_FILE: &str = "audit-signing.pub";

/// The checkpoint signer.
#[derive(Debug)]
pub(crate) struct Signer {
    pair: Ed25519KeyPair,
    public_hex: String,
}

impl Signer {
    pub(crate) fn public_hex(&self) -> &str {
        &self.public_hex
    }

    pub(crate) fn sign(&self, message: &[u8]) -> String {
        hex::encode(self.pair.sign(message).as_ref())
    }

    /// Loads the key from `data_dir`, generating it on first start.
    pub(crate) fn load_or_create(data_dir: &Path) -> Result<Self, AuditError> {
        let path = data_dir.join(SIGNING_KEY_FILE);
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(&path)?,
            Err(e) => return Err(key_err(&path, "reading", e)),
        };
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).map_err(|e| {
            AuditError::new(AuditReason::Key, format!("{} is not an Ed25519 PKCS#8 key: {e}", path.display()))
        })?;
        let public_hex = hex::encode(pair.public_key().as_ref());
        let pub_path = data_dir.join(PUBLIC_KEY_FILE);
        if std::fs::read_to_string(&pub_path).map(|s| s.trim() != public_hex).unwrap_or(true) {
            std::fs::write(&pub_path, format!("{public_hex}\n"))
                .map_err(|e| key_err(&pub_path, "writing", e))?;
        }
        Ok(Signer { pair, public_hex })
    }
}

fn key_err(path: &Path, doing: &str, e: std::io::Error) -> AuditError {
    AuditError::new(AuditReason::Key, format!("{doing} {}: {e}", path.display()))
}

fn create(path: &PathBuf) -> Result<Vec<u8>, AuditError> {
    let doc = Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
        .map_err(|e| AuditError::new(AuditReason::Key, format!("generating the audit signing key: {e}")))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| key_err(path, "creating", e))?;
    file.write_all(doc.as_ref()).and_then(|()| file.sync_all()).map_err(|e| key_err(path, "writing", e))?;
    tracing::info!(path = %path.display(), "generated the audit signing key");
    Ok(doc.as_ref().to_vec())
}

/// Reads the trusted public key written beside the signing key (for `audit verify`).
pub fn read_public_key(data_dir: &Path) -> Result<String, AuditError> {
    read_public_key_file(&data_dir.join(PUBLIC_KEY_FILE))
}

/// Reads a trusted public key file: the gateway's `audit-signing.pub` or a copy kept off
/// the gateway host (hex, one line, as the gateway writes it). Returns the key in the form
/// [`crate::VerifyOptions::trusted_keys`] takes: 64 lowercase hex digits, no whitespace.
pub fn read_public_key_file(path: &Path) -> Result<String, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| key_err(path, "reading", e))?;
    parse_public_key(&text).ok_or_else(|| {
        AuditError::new(
            AuditReason::Key,
            format!("{} is not a hex Ed25519 public key (64 hex digits on one line)", path.display()),
        )
    })
}

/// The canonical form of a hex Ed25519 public key (surrounding whitespace removed,
/// lowercase), or `None` when `text` is not one.
fn parse_public_key(text: &str) -> Option<String> {
    let key = text.trim().to_ascii_lowercase();
    is_public_key(&key).then_some(key)
}

/// True when `key` is exactly a canonical hex Ed25519 public key (what
/// [`read_public_key_file`] returns and what the writer records).
pub(crate) fn is_public_key(key: &str) -> bool {
    key.len() == 64 && key.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// True when `signature_hex` is `public_hex`'s Ed25519 signature of `message`.
pub(crate) fn signature_valid(public_hex: &str, message: &[u8], signature_hex: &str) -> bool {
    let (Ok(public), Ok(signature)) = (hex::decode(public_hex), hex::decode(signature_hex)) else {
        return false;
    };
    UnparsedPublicKey::new(&ED25519, public).verify(message, &signature).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_private_stable_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let a = Signer::load_or_create(dir.path()).unwrap();
        let b = Signer::load_or_create(dir.path()).unwrap();
        assert_eq!(a.public_hex(), b.public_hex(), "the key survives a restart");
        assert_eq!(read_public_key(dir.path()).unwrap(), a.public_hex());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(SIGNING_KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let sig = a.sign(b"m");
        assert!(signature_valid(a.public_hex(), b"m", &sig));
        assert!(!signature_valid(a.public_hex(), b"n", &sig));
    }

    #[test]
    fn the_public_key_file_reads_back_as_the_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let signer = Signer::load_or_create(dir.path()).unwrap();
        let path = dir.path().join(PUBLIC_KEY_FILE);
        let raw = std::fs::read_to_string(&path).unwrap();
        assert_ne!(raw, signer.public_hex(), "the file ends with a newline; a raw read is not the key");
        assert_eq!(read_public_key_file(&path).unwrap(), signer.public_hex());
        std::fs::write(&path, format!("  {}\r\n", signer.public_hex().to_ascii_uppercase())).unwrap();
        assert_eq!(read_public_key_file(&path).unwrap(), signer.public_hex(), "a hand-made copy");
        assert!(is_public_key(signer.public_hex()));
        for bad in ["", "zz", &signer.public_hex()[..62], &format!("{}00", signer.public_hex())] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(read_public_key_file(&path).unwrap_err().reason, AuditReason::Key, "{bad:?}");
        }
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(SIGNING_KEY_FILE), b"junk").unwrap();
        let err = Signer::load_or_create(dir.path()).unwrap_err();
        assert_eq!(err.reason, AuditReason::Key);
    }
}
