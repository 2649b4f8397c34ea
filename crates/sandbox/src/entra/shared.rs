//! State shared by the fake Entra ID's handlers, its public handle and the fake ARM's
//! token validator: tenant, keys, principals, and how tokens are shaped and signed.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::principal::{Agent, Human};
use super::token::{TokenSpec, TokenVersion};
use crate::error::{Result, SandboxError};
use crate::keys::{Alg, KeySet, SigningKey};

/// Resources whose tokens Entra issues in the v1 format whatever endpoint was used.
const V1_RESOURCES: &[&str] = &[
    "https://management.azure.com/",
    "https://management.core.windows.net/",
    "https://storage.azure.com/",
    "https://graph.microsoft.com/",
    "https://vault.azure.net",
];

/// State shared by the HTTP handlers, [`FakeEntra`] and the fake ARM's token validator.
#[derive(Debug)]
pub(crate) struct EntraShared {
    pub(crate) tenant: String,
    pub(crate) base_url: String,
    pub(super) keys: RwLock<KeySet>,
    pub(crate) agents: RwLock<Vec<Agent>>,
    pub(crate) humans: RwLock<Vec<Human>>,
    pub(crate) managed_identity: Agent,
    pub(crate) identity_header: String,
    pub(crate) group_limit: usize,
    pub(crate) token_lifetime: i64,
    pub(crate) resource_versions: Vec<(String, TokenVersion)>,
}

pub(super) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(super) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EntraShared {
    /// The JWKS document currently published.
    pub(crate) fn jwks(&self) -> serde_json::Value {
        read(&self.keys).jwks()
    }

    /// The algorithm and verification key published under `kid`.
    pub(crate) fn verification_key(&self, kid: &str) -> Option<(Alg, jsonwebtoken::DecodingKey)> {
        let keys = read(&self.keys);
        let key = keys.by_kid(kid)?;
        Some((key.alg(), key.decoding_key()?))
    }

    /// The token format Entra uses for `audience`.
    pub(crate) fn version_for(&self, audience: &str) -> TokenVersion {
        let norm = |s: &str| s.trim_end_matches('/').to_ascii_lowercase();
        let want = norm(audience);
        self.resource_versions
            .iter()
            .find(|(aud, _)| norm(aud) == want)
            .map(|(_, v)| *v)
            .or_else(|| V1_RESOURCES.iter().any(|r| norm(r) == want).then_some(TokenVersion::V1))
            .unwrap_or(TokenVersion::V2)
    }

    /// A token spec for an agent (app-only token) for `audience`.
    pub(crate) fn spec_for_agent(&self, agent: &Agent, audience: &str) -> TokenSpec {
        let mut spec = TokenSpec::new(&self.tenant, audience, &agent.object_id);
        spec.version = self.version_for(audience);
        spec.object_id = Some(agent.object_id.clone());
        spec.app_id = Some(agent.client_id.clone());
        spec.roles = agent.roles.clone();
        spec.groups = agent.groups.clone();
        spec.group_limit = Some(self.group_limit);
        spec.idtyp = Some("app".into());
        spec.expires_at = spec.issued_at + self.token_lifetime;
        spec
    }

    /// Signs `spec`.
    pub(crate) fn mint(&self, spec: &TokenSpec) -> Result<String> {
        let claims = spec.claims();
        let keys = read(&self.keys);
        let signer = keys
            .signer(spec.alg)
            .ok_or_else(|| SandboxError::Crypto(format!("no {} key", spec.alg.as_str())))?;
        let kid = spec.kid.clone().unwrap_or_else(|| signer.kid().to_owned());
        let mut header = serde_json::json!({ "typ": "JWT", "alg": spec.alg.as_str(), "kid": kid });
        if spec.alg == Alg::RS256 {
            // Entra's RSA kids are certificate thumbprints and it repeats them as x5t.
            header["x5t"] = serde_json::json!(kid);
        }
        if spec.sign_with_unknown_key {
            let rogue = SigningKey::generate(spec.alg, Some(kid))?;
            return rogue.sign_compact(&header, &claims);
        }
        signer.sign_compact(&header, &claims)
    }

    /// The agent registered under `client_id`, the managed identity included.
    pub(crate) fn agent_by_client_id(&self, client_id: &str) -> Option<Agent> {
        if self.managed_identity.client_id.eq_ignore_ascii_case(client_id) {
            return Some(self.managed_identity.clone());
        }
        read(&self.agents).iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id)).cloned()
    }
}
