//! Fake Entra ID: OIDC discovery (v1 and v2 issuer shapes), JWKS with rotation, the
//! token endpoint (client secret and certificate client assertions), and the App Service
//! and IMDS managed-identity endpoints, all on one loopback listener.

mod managed_identity;
mod principal;
mod routes;
mod token;
mod token_endpoint;
mod token_endpoint_assertion;

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use principal::{Agent, ClientCertificate, Human};
pub use token::{issuer_for, TokenSpec, TokenVersion};

use crate::error::{Result, SandboxError};
use crate::keys::{Alg, KeySet, SigningKey};
use crate::server::{Bound, ServerGuard};

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
    keys: RwLock<KeySet>,
    pub(crate) agents: RwLock<Vec<Agent>>,
    pub(crate) humans: RwLock<Vec<Human>>,
    pub(crate) managed_identity: Agent,
    pub(crate) identity_header: String,
    pub(crate) group_limit: usize,
    pub(crate) token_lifetime: i64,
    pub(crate) resource_versions: Vec<(String, TokenVersion)>,
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
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
        let header = serde_json::json!({ "typ": "JWT", "alg": spec.alg.as_str(), "kid": kid, "x5t": kid });
        if spec.sign_with_unknown_key {
            let rogue = SigningKey::generate(spec.alg, kid)?;
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

/// Builder for [`FakeEntra`].
#[derive(Debug)]
pub struct FakeEntraBuilder {
    tenant: String,
    agents: Vec<Agent>,
    humans: Vec<Human>,
    managed_identity: Agent,
    identity_header: String,
    group_limit: usize,
    token_lifetime: i64,
    resource_versions: Vec<(String, TokenVersion)>,
}

impl FakeEntraBuilder {
    /// The directory (tenant) id. Default: a random GUID.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = tenant.into();
        self
    }

    /// Registers an agent (application).
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agents.push(agent);
        self
    }

    /// Registers a human.
    pub fn human(mut self, human: Human) -> Self {
        self.humans.push(human);
        self
    }

    /// The identity the managed-identity endpoints issue tokens for. Default: an agent
    /// named `managed-identity` with random ids and no secret.
    pub fn managed_identity(mut self, agent: Agent) -> Self {
        self.managed_identity = agent;
        self
    }

    /// The secret the App Service endpoint expects in `X-IDENTITY-HEADER`.
    pub fn identity_header(mut self, secret: impl Into<String>) -> Self {
        self.identity_header = secret.into();
        self
    }

    /// Group count above which tokens carry an overage reference (Entra: 200).
    pub fn group_limit(mut self, limit: usize) -> Self {
        self.group_limit = limit;
        self
    }

    /// Lifetime of issued tokens in seconds (default 3599, as Entra).
    pub fn token_lifetime_secs(mut self, secs: i64) -> Self {
        self.token_lifetime = secs;
        self
    }

    /// Issues tokens for `audience` in `version` format (ARM, Storage and Graph are v1
    /// already; anything unlisted gets v2).
    pub fn resource_version(mut self, audience: impl Into<String>, version: TokenVersion) -> Self {
        self.resource_versions.push((audience.into(), version));
        self
    }

    /// Generates keys, binds `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> Result<FakeEntra> {
        let bound = Bound::loopback().await?;
        let keys = tokio::task::spawn_blocking(KeySet::generate)
            .await
            .map_err(|e| SandboxError::Crypto(e.to_string()))??;
        let shared = Arc::new(EntraShared {
            tenant: self.tenant,
            base_url: bound.base_url(),
            keys: RwLock::new(keys),
            agents: RwLock::new(self.agents),
            humans: RwLock::new(self.humans),
            managed_identity: self.managed_identity,
            identity_header: self.identity_header,
            group_limit: self.group_limit,
            token_lifetime: self.token_lifetime,
            resource_versions: self.resource_versions,
        });
        let guard = bound.serve(routes::router(shared.clone()));
        Ok(FakeEntra { shared, _server: guard })
    }
}

/// A running fake Entra ID. Stops serving when dropped.
#[derive(Debug)]
pub struct FakeEntra {
    pub(crate) shared: Arc<EntraShared>,
    _server: ServerGuard,
}

impl FakeEntra {
    /// A builder with a random tenant, no principals and Entra's defaults.
    pub fn builder() -> FakeEntraBuilder {
        FakeEntraBuilder {
            tenant: uuid::Uuid::new_v4().to_string(),
            agents: Vec::new(),
            humans: Vec::new(),
            managed_identity: Agent::new("managed-identity").secret(None),
            identity_header: uuid::Uuid::new_v4().to_string(),
            group_limit: 200,
            token_lifetime: 3599,
            resource_versions: Vec::new(),
        }
    }

    /// `http://127.0.0.1:PORT` — the "login host" of this fake (no trailing slash).
    pub fn url(&self) -> &str {
        &self.shared.base_url
    }

    /// The tenant id.
    pub fn tenant(&self) -> &str {
        &self.shared.tenant
    }

    /// The v2 issuer tokens carry: `https://login.microsoftonline.com/{tid}/v2.0`.
    pub fn issuer_v2(&self) -> String {
        issuer_for(&self.shared.tenant, TokenVersion::V2)
    }

    /// The v1 issuer tokens carry: `https://sts.windows.net/{tid}/`.
    pub fn issuer_v1(&self) -> String {
        issuer_for(&self.shared.tenant, TokenVersion::V1)
    }

    /// Loopback URL of the v2 discovery document.
    pub fn discovery_url_v2(&self) -> String {
        format!("{}/{}/v2.0/.well-known/openid-configuration", self.url(), self.tenant())
    }

    /// Loopback URL of the v1 discovery document.
    pub fn discovery_url_v1(&self) -> String {
        format!("{}/{}/.well-known/openid-configuration", self.url(), self.tenant())
    }

    /// Loopback URL of the JWKS.
    pub fn jwks_url(&self) -> String {
        format!("{}/{}/discovery/v2.0/keys", self.url(), self.tenant())
    }

    /// Loopback URL of the v2 token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.url(), self.tenant())
    }

    /// `IDENTITY_ENDPOINT` for the App Service managed-identity protocol.
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.url())
    }

    /// `IDENTITY_HEADER` for the App Service managed-identity protocol.
    pub fn identity_header(&self) -> &str {
        &self.shared.identity_header
    }

    /// Full URL of the IMDS-shaped token endpoint on loopback.
    pub fn imds_token_url(&self) -> String {
        format!("{}/metadata/identity/oauth2/token", self.url())
    }

    /// The managed identity the MI endpoints issue tokens for.
    pub fn managed_identity(&self) -> &Agent {
        &self.shared.managed_identity
    }

    /// Signs a token from `spec` without any HTTP.
    pub fn mint(&self, spec: &TokenSpec) -> Result<String> {
        self.shared.mint(spec)
    }

    /// A valid app-only token spec for the agent named `name` (or with that client id),
    /// for `audience`, exactly as the token endpoint would issue it.
    pub fn agent_token(&self, name: &str, audience: &str) -> Result<TokenSpec> {
        let agent = self.agent(name).ok_or_else(|| SandboxError::UnknownPrincipal(name.to_owned()))?;
        Ok(self.shared.spec_for_agent(&agent, audience))
    }

    /// A valid delegated token spec for the human whose `preferred_username` or name is
    /// `who`, for `audience`, issued through the agent `via_client_id` if given.
    pub fn human_token(&self, who: &str, audience: &str, via_client_id: Option<&str>) -> Result<TokenSpec> {
        let human = read(&self.shared.humans)
            .iter()
            .find(|h| h.preferred_username.eq_ignore_ascii_case(who) || h.name == who)
            .cloned()
            .ok_or_else(|| SandboxError::UnknownPrincipal(who.to_owned()))?;
        let mut spec = TokenSpec::new(&self.shared.tenant, audience, &human.object_id);
        spec.version = self.shared.version_for(audience);
        spec.object_id = Some(human.object_id);
        spec.name = Some(human.name);
        spec.preferred_username = Some(human.preferred_username);
        spec.groups = human.groups;
        spec.roles = human.roles;
        spec.group_limit = Some(self.shared.group_limit);
        spec.idtyp = Some("user".into());
        spec.scopes = vec!["user_impersonation".into()];
        spec.app_id = via_client_id.map(str::to_owned);
        spec.expires_at = spec.issued_at + self.shared.token_lifetime;
        Ok(spec)
    }

    /// The registered agent named `name` or with client id `name`.
    pub fn agent(&self, name: &str) -> Option<Agent> {
        read(&self.shared.agents)
            .iter()
            .find(|a| a.name == name || a.client_id.eq_ignore_ascii_case(name))
            .cloned()
            .or_else(|| self.shared.agent_by_client_id(name))
    }

    /// Registers another agent while running.
    pub fn add_agent(&self, agent: Agent) {
        write(&self.shared.agents).push(agent);
    }

    /// Registers another human while running.
    pub fn add_human(&self, human: Human) {
        write(&self.shared.humans).push(human);
    }

    /// Rotates to new signing keys with new kids; previous keys stay published.
    pub fn rotate_keys(&self) -> Result<()> {
        write(&self.shared.keys).rotate()
    }

    /// Replaces every key's material while keeping its kid (what `oidc-provider` does on
    /// restart): tokens signed before stop verifying and a kid-keyed JWKS cache must refetch.
    pub fn rotate_keys_keep_kid(&self) -> Result<()> {
        write(&self.shared.keys).rotate_keep_kid()
    }

    /// Stops publishing every key but the current signers, so older tokens fail.
    pub fn retire_old_keys(&self) {
        write(&self.shared.keys).retire_old();
    }

    /// The JWKS currently published.
    pub fn jwks(&self) -> serde_json::Value {
        self.shared.jwks()
    }
}
