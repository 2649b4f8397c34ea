//! The gateway's pinned connector keys and spent enrollment tokens, in `connectors.json`.
//!
//! Written atomically (temporary file, fsync, rename, fsync of the folder) whenever a
//! connector enrolls or is revoked. Spent tokens are kept as SHA-256 digests, so the file
//! never holds a usable token.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::error::RefusalCode;
use crate::TunnelError;

/// The pins file's name in the gateway's data dir.
pub const PINS_FILE: &str = "connectors.json";

/// One pinned connector.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pin {
    pub(crate) public_key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub(crate) enrolled_at: time::OffsetDateTime,
    #[serde(default)]
    pub(crate) revoked: bool,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct PinsFile {
    #[serde(default)]
    connectors: BTreeMap<String, Pin>,
    #[serde(default)]
    spent_tokens: Vec<String>,
}

/// The pins, in memory and on disk.
#[derive(Debug)]
pub(crate) struct PinStore {
    path: PathBuf,
    state: Mutex<PinsFile>,
    /// SHA-256 (hex) of each configured enrollment token.
    tokens: Vec<String>,
}

/// The outcome of an authentication that passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// The key was already pinned under this name.
    Pinned,
    /// The token was spent and the key pinned just now.
    Enrolled,
}

pub(crate) fn digest_hex(token: &str) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes()).as_ref())
}

impl PinStore {
    /// Loads `path` (absent means empty).
    pub(crate) fn open(path: PathBuf, tokens: &[String]) -> Result<Self, TunnelError> {
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                TunnelError::Config(format!("{} is not a valid pins file: {e}", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => PinsFile::default(),
            Err(e) => return Err(TunnelError::Config(format!("reading {}: {e}", path.display()))),
        };
        let tokens = tokens.iter().map(|t| digest_hex(t)).collect();
        Ok(PinStore { path, state: Mutex::new(state), tokens })
    }

    /// Decides whether `name` with `public_key` may connect, spending `token` to enroll an
    /// unknown name. The signature has already been checked.
    pub(crate) fn admit(
        &self,
        name: &str,
        public_key: &str,
        token: Option<&str>,
    ) -> Result<Admission, RefusalCode> {
        let mut state = self.state.lock().map_err(|_| RefusalCode::Internal)?;
        if let Some(pin) = state.connectors.get(name) {
            return if pin.revoked {
                Err(RefusalCode::Revoked)
            } else if pin.public_key == public_key {
                Ok(Admission::Pinned)
            } else {
                Err(RefusalCode::KeyMismatch)
            };
        }
        let token = digest_hex(token.ok_or(RefusalCode::UnknownConnector)?);
        if state.spent_tokens.contains(&token) {
            return Err(RefusalCode::TokenUsed);
        }
        if !self.tokens.contains(&token) {
            return Err(RefusalCode::BadToken);
        }
        state.spent_tokens.push(token);
        let pin = Pin {
            public_key: public_key.to_owned(),
            enrolled_at: time::OffsetDateTime::now_utc(),
            revoked: false,
        };
        state.connectors.insert(name.to_owned(), pin);
        if let Err(e) = write_atomically(&self.path, &state) {
            tracing::error!(error = %e, "could not persist a connector enrollment; refusing it");
            state.connectors.remove(name);
            state.spent_tokens.pop();
            return Err(RefusalCode::Internal);
        }
        Ok(Admission::Enrolled)
    }

    /// Marks `name` revoked; returns whether it was pinned.
    pub(crate) fn revoke(&self, name: &str) -> Result<bool, TunnelError> {
        let mut state = self.state.lock().map_err(|_| TunnelError::Config("pins lock poisoned".into()))?;
        let Some(pin) = state.connectors.get_mut(name) else { return Ok(false) };
        pin.revoked = true;
        write_atomically(&self.path, &state)?;
        Ok(true)
    }

    /// Pinned names with their public keys (revoked ones included).
    pub(crate) fn pinned(&self) -> Vec<(String, Pin)> {
        match self.state.lock() {
            Ok(state) => state.connectors.iter().map(|(n, p)| (n.clone(), p.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }
}

fn write_atomically(path: &Path, state: &PinsFile) -> Result<(), TunnelError> {
    let err =
        |doing: &str, e: std::io::Error| TunnelError::Config(format!("{doing} {}: {e}", path.display()));
    let body = serde_json::to_vec_pretty(state).map_err(|e| TunnelError::Config(e.to_string()))?;
    let tmp = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(|e| err("creating", e))?;
    file.write_all(&body).and_then(|()| file.sync_all()).map_err(|e| err("writing", e))?;
    std::fs::rename(&tmp, path).map_err(|e| err("renaming into", e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(|e| err("syncing the folder of", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_single_use_and_survives_reload() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(PINS_FILE);
        let tokens = vec!["t1".to_owned()];
        let pins = PinStore::open(path.clone(), &tokens).unwrap();
        assert_eq!(pins.admit("a", "k1", None), Err(RefusalCode::UnknownConnector));
        assert_eq!(pins.admit("a", "k1", Some("nope")), Err(RefusalCode::BadToken));
        assert_eq!(pins.admit("a", "k1", Some("t1")), Ok(Admission::Enrolled));
        assert_eq!(pins.admit("a", "k1", Some("t1")), Ok(Admission::Pinned));
        assert_eq!(pins.admit("b", "k2", Some("t1")), Err(RefusalCode::TokenUsed));
        assert_eq!(pins.admit("a", "k2", None), Err(RefusalCode::KeyMismatch));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("\"t1\""), "the token itself is never stored");

        let reloaded = PinStore::open(path, &tokens).unwrap();
        assert_eq!(reloaded.admit("a", "k1", None), Ok(Admission::Pinned));
        assert_eq!(reloaded.admit("c", "k3", Some("t1")), Err(RefusalCode::TokenUsed));
        assert!(reloaded.revoke("a").unwrap());
        assert_eq!(reloaded.admit("a", "k1", None), Err(RefusalCode::Revoked));
    }
}
