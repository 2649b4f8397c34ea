//! Unmasked bodies for auditors, encrypted with age (X25519) to the auditor's public key.
//!
//! The gateway holds only the recipient (`age1…`), never the identity, so once a body is
//! sealed the gateway cannot read it back; the auditor decrypts with their identity file
//! (`AGE-SECRET-KEY-1…`, as written by `age-keygen` or [`generate_auditor_key`]).
//! Ciphertexts are stored like any body (content-addressed in `audit_blobs`), and the
//! event lists them in [`crate::AuditEvent::sealed`], so the hash chain covers them.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use age::x25519::{Identity, Recipient};
use serde::{Deserialize, Serialize};

use crate::chain::blob_hash;
use crate::{AuditError, AuditReason};

/// A sealed (encrypted) body an event refers to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedRef {
    /// Hex SHA-256 of the stored ciphertext.
    pub sha256: String,
    /// Ciphertext size in bytes.
    pub size: u64,
    /// The age recipient it is encrypted to.
    pub recipient: String,
}

impl SealedRef {
    pub(crate) fn of(ciphertext: &[u8], recipient: &str) -> Self {
        SealedRef {
            sha256: blob_hash(ciphertext),
            size: ciphertext.len() as u64,
            recipient: recipient.to_owned(),
        }
    }
}

/// Encrypts to one recipient.
#[derive(Debug)]
pub(crate) struct Sealer {
    recipient: Recipient,
    text: String,
}

fn key_error(detail: String) -> AuditError {
    AuditError::new(AuditReason::Key, detail)
}

impl Sealer {
    pub(crate) fn new(recipient: &str) -> Result<Self, AuditError> {
        let text = recipient.trim();
        let parsed = Recipient::from_str(text).map_err(|e| {
            key_error(format!("auditor_recipient is not an age X25519 recipient (age1…): {e}"))
        })?;
        Ok(Sealer { recipient: parsed, text: text.to_owned() })
    }

    pub(crate) fn recipient(&self) -> &str {
        &self.text
    }

    pub(crate) fn seal(&self, plaintext: &[u8]) -> Result<Vec<u8>, AuditError> {
        age::encrypt(&self.recipient, plaintext).map_err(|e| {
            AuditError::new(AuditReason::Encoding, format!("encrypting a body for the auditor: {e}"))
        })
    }
}

/// An auditor's identities, parsed from the text of an identity file (one
/// `AGE-SECRET-KEY-1…` per line; blank lines and `#` comments are skipped).
pub struct AuditorKey {
    identities: Vec<Identity>,
}

impl std::fmt::Debug for AuditorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditorKey").field("identities", &self.identities.len()).finish()
    }
}

impl AuditorKey {
    /// Parses an identity file's text.
    pub fn parse(text: &str) -> Result<Self, AuditError> {
        let mut identities = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let identity = Identity::from_str(line).map_err(|_| {
                key_error(format!("line {} of the key file is not an age X25519 identity", n + 1))
            })?;
            identities.push(identity);
        }
        if identities.is_empty() {
            return Err(key_error("the key file holds no age identity (AGE-SECRET-KEY-1…)".into()));
        }
        Ok(AuditorKey { identities })
    }

    /// The recipients (public keys) of these identities.
    pub fn recipients(&self) -> Vec<String> {
        self.identities.iter().map(|i| i.to_public().to_string()).collect()
    }

    /// Decrypts a sealed body.
    pub fn open(&self, ciphertext: &[u8]) -> Result<Vec<u8>, AuditError> {
        let mut last = None;
        for identity in &self.identities {
            match age::decrypt(identity, ciphertext) {
                Ok(plain) => return Ok(plain),
                Err(e) => last = Some(e),
            }
        }
        let why = last.map(|e| e.to_string()).unwrap_or_default();
        Err(key_error(format!("the body cannot be decrypted with this key: {why}")))
    }
}

/// A new auditor key pair: (identity file text, recipient). The identity stays with the
/// auditor; the recipient goes into the gateway's configuration.
pub fn generate_auditor_key() -> (String, String) {
    let identity = Identity::generate();
    let recipient = identity.to_public().to_string();
    let secret = identity.to_string();
    (format!("# portcullis auditor key; recipient: {recipient}\n{}\n", secret.expose_secret()), recipient)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_for_the_auditor_only() {
        let (identity, recipient) = generate_auditor_key();
        let sealer = Sealer::new(&recipient).unwrap();
        let sealed = sealer.seal(b"primaryKey=abc123").unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"abc123"), "the plaintext is not in the ciphertext");
        let key = AuditorKey::parse(&identity).unwrap();
        assert_eq!(key.recipients(), vec![recipient]);
        assert_eq!(key.open(&sealed).unwrap(), b"primaryKey=abc123");
        let (other, _) = generate_auditor_key();
        let err = AuditorKey::parse(&other).unwrap().open(&sealed).unwrap_err();
        assert_eq!(err.reason, AuditReason::Key);
    }

    #[test]
    fn refuses_bad_keys() {
        assert_eq!(Sealer::new("ssh-ed25519 AAAA").unwrap_err().reason, AuditReason::Key);
        assert!(AuditorKey::parse("# only a comment\n").is_err());
        assert!(AuditorKey::parse("AGE-SECRET-KEY-1NOTAKEY").is_err());
    }
}
