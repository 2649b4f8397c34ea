//! Builder for [`FakeEntra`].

use std::sync::{Arc, RwLock};

use super::principal::{Agent, Human};
use super::shared::EntraShared;
use super::token::TokenVersion;
use super::{routes, FakeEntra};
use crate::error::{Result, SandboxError};
use crate::keys::KeySet;
use crate::server::Bound;
use crate::tls::LoopbackTls;

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
    tls: bool,
}

impl FakeEntraBuilder {
    /// A random tenant, no principals, Entra's defaults.
    pub(super) fn new() -> Self {
        Self {
            tenant: uuid::Uuid::new_v4().to_string(),
            agents: Vec::new(),
            humans: Vec::new(),
            managed_identity: Agent::new("managed-identity").secret(None),
            identity_header: uuid::Uuid::new_v4().to_string(),
            group_limit: 200,
            token_lifetime: 3599,
            resource_versions: Vec::new(),
            tls: false,
        }
    }

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

    /// Serves HTTPS with a certificate for `127.0.0.1`/`localhost` from a CA generated at
    /// start ([`FakeEntra::ca_pem`]): MSAL-based credentials (`ClientSecretCredential`,
    /// `CertificateCredential`) accept only an `https` authority.
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Generates keys, binds `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> Result<FakeEntra> {
        let bound = Bound::loopback().await?;
        let tls = match self.tls {
            true => Some(
                tokio::task::spawn_blocking(|| LoopbackTls::generate("fake-entra"))
                    .await
                    .map_err(|e| SandboxError::Certificate(e.to_string()))??,
            ),
            false => None,
        };
        let keys = tokio::task::spawn_blocking(KeySet::generate)
            .await
            .map_err(|e| SandboxError::Crypto(e.to_string()))??;
        let shared = Arc::new(EntraShared {
            tenant: self.tenant,
            base_url: if tls.is_some() { bound.https_url() } else { bound.base_url() },
            keys: RwLock::new(keys),
            agents: RwLock::new(self.agents),
            humans: RwLock::new(self.humans),
            managed_identity: self.managed_identity,
            identity_header: self.identity_header,
            group_limit: self.group_limit,
            token_lifetime: self.token_lifetime,
            resource_versions: self.resource_versions,
        });
        let router = routes::router(shared.clone());
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let guard = match tls {
            Some(t) => bound.serve_tls(router, t.server_config),
            None => bound.serve(router),
        };
        Ok(FakeEntra { shared, ca_pem, _server: guard })
    }
}
