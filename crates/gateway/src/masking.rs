//! Which masking profile a response gets: the connection's (`mask`, default `azure` for
//! Azure connections), or the one a guardrail rule asks for (`strict` for `listKeys`),
//! which always wins. Pseudonyms (`hash` strategy) are keyed per grant, so they are stable
//! within a session and unlinkable across sessions.

use std::collections::HashMap;

use aws_lc_rs::hmac;
use portcullis_mask::{MaskConfig, MaskEngine, MaskError, MaskProfiles, SessionContext};

use crate::config::{ConnectionConfig, ConnectionKind};

/// The value of a connection's `mask` that turns masking off.
pub(crate) const MASK_OFF: &str = "off";

/// Compiled profiles and each connection's choice.
pub(crate) struct Masking {
    profiles: MaskProfiles,
    by_connection: HashMap<String, Option<MaskEngine>>,
    /// Secret key material for per-grant pseudonym keys (fresh per process).
    secret: hmac::Key,
}

impl Masking {
    /// Compiles every profile and checks each connection names one that exists.
    pub(crate) fn new(config: &MaskConfig, connections: &[ConnectionConfig]) -> Result<Self, String> {
        let profiles = MaskProfiles::new(config).map_err(|e| e.to_string())?;
        let mut by_connection = HashMap::new();
        for c in connections {
            let name = match (&c.mask, c.kind) {
                (Some(name), _) => name.as_str(),
                (None, ConnectionKind::AzureArm | ConnectionKind::AzureStorage) => "azure",
                (None, ConnectionKind::Http) => MASK_OFF,
            };
            let engine = if name == MASK_OFF {
                None
            } else {
                Some(profiles.engine(name).map_err(|e| format!("connection {}: mask: {e}", c.name))?)
            };
            by_connection.insert(c.name.clone(), engine);
        }
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let secret = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "no randomness for the masking key".to_owned())?;
        Ok(Masking { profiles, by_connection, secret })
    }

    /// The engine for a response on `connection`, given the profile its guardrail
    /// decision asked for; `None`: not masked.
    pub(crate) fn engine(
        &self,
        connection: &str,
        rule_profile: Option<&str>,
    ) -> Result<Option<MaskEngine>, MaskError> {
        match rule_profile {
            Some(name) if name != MASK_OFF => self.profiles.engine(name).map(Some),
            _ => Ok(self.by_connection.get(connection).cloned().flatten()),
        }
    }

    /// The pseudonym context of one session (grant); without a grant, of one request.
    pub(crate) fn session(&self, grant_id: Option<&str>, request_id: &str) -> SessionContext {
        let tag = hmac::sign(&self.secret, grant_id.unwrap_or(request_id).as_bytes());
        SessionContext::new(tag.as_ref())
    }
}
