//! Fake Entra ID: OIDC discovery (v1 and v2 issuer shapes), JWKS with rotation, the
//! token endpoint (client secret and certificate client assertions; on-behalf-of for the
//! human → agent delegation chain), and the App Service
//! and IMDS managed-identity endpoints, all on one loopback listener.

mod builder;
mod managed_identity;
mod principal;
mod routes;
mod shared;
mod token;
mod token_endpoint;
mod token_endpoint_assertion;
mod token_endpoint_obo;

use std::sync::Arc;

pub use builder::FakeEntraBuilder;
pub use principal::{Agent, ClientCertificate, Human};
pub(crate) use shared::EntraShared;
pub use token::{issuer_for, TokenSpec, TokenVersion};

use crate::error::{Result, SandboxError};
use crate::server::ServerGuard;
use shared::{read, write};

/// A running fake Entra ID. Stops serving when dropped.
#[derive(Debug)]
pub struct FakeEntra {
    pub(crate) shared: Arc<EntraShared>,
    ca_pem: Option<String>,
    _server: ServerGuard,
}

impl FakeEntra {
    /// A builder with a random tenant, no principals and Entra's defaults.
    pub fn builder() -> FakeEntraBuilder {
        FakeEntraBuilder::new()
    }

    /// The CA certificate (PEM) to trust when started with [`FakeEntraBuilder::tls`].
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `http://127.0.0.1:PORT` (or `https://` with TLS) — the "login host" of this fake,
    /// usable as an MSAL/azure-identity `authority` (no trailing slash).
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
