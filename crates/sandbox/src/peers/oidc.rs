//! `oidc-provider` (npm, a certified OpenID Provider) issuing RS256 JWT access tokens for
//! the `client_credentials` grant, with Azure-style `tid` and `groups` claims.

use tokio::process::{Child, Command};

use super::process::{spawn_until, wait_for_http};
use crate::error::{Result, SandboxError};

const WHAT: &str = "oidc-provider";

/// Settings for [`OidcProvider`].
#[derive(Debug, Clone)]
pub struct OidcProviderBuilder {
    client_id: String,
    client_secret: String,
    audience: String,
    tenant: String,
    groups: Vec<String>,
    kid: String,
}

impl OidcProviderBuilder {
    /// The one registered client (basic auth at `/token`).
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client_id = id.into();
        self.client_secret = secret.into();
        self
    }

    /// The `aud` of issued access tokens.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = aud.into();
        self
    }

    /// The `tid` claim.
    pub fn tenant(mut self, tid: impl Into<String>) -> Self {
        self.tenant = tid.into();
        self
    }

    /// The `groups` claim.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// The `kid` of the signing key (kept across [`OidcProvider::restart`]).
    pub fn kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// Spawns `node tests/peers/oidc/provider.mjs 0` and waits until discovery answers.
    pub async fn start(self) -> Result<OidcProvider> {
        let (child, issuer) = spawn(&self, 0).await?;
        Ok(OidcProvider { settings: self, issuer, child })
    }
}

async fn spawn(s: &OidcProviderBuilder, port: u16) -> Result<(Child, String)> {
    let node_modules = super::node_modules()?;
    let mut cmd = Command::new(super::node()?);
    cmd.arg(super::dir().join("oidc/provider.mjs"))
        .arg(port.to_string())
        .current_dir(super::dir())
        .env("NODE_PATH", &node_modules)
        .env("OIDC_CLIENT_ID", &s.client_id)
        .env("OIDC_CLIENT_SECRET", &s.client_secret)
        .env("OIDC_AUDIENCE", &s.audience)
        .env("OIDC_TENANT", &s.tenant)
        .env("OIDC_GROUPS", s.groups.join(","))
        .env("OIDC_KID", &s.kid);
    let (child, issuer) =
        spawn_until(WHAT, cmd, |line| line.strip_prefix("listening ").map(str::to_owned)).await?;
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    wait_for_http(WHAT, &discovery, |status| status == 200).await?;
    Ok((child, issuer))
}

/// A running `oidc-provider`; killed when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    settings: OidcProviderBuilder,
    issuer: String,
    child: Child,
}

impl OidcProvider {
    /// Default settings: client `portcullis-agent`/`portcullis-agent-secret`, audience
    /// `api://portcullis`, a fixed tenant id, no groups.
    pub fn builder() -> OidcProviderBuilder {
        OidcProviderBuilder {
            client_id: "portcullis-agent".into(),
            client_secret: "portcullis-agent-secret".into(),
            audience: "api://portcullis".into(),
            tenant: "11111111-2222-3333-4444-555555555555".into(),
            groups: Vec::new(),
            kid: "portcullis-oidc-key".into(),
        }
    }

    /// Starts with default settings.
    pub async fn start() -> Result<Self> {
        Self::builder().start().await
    }

    /// The issuer, `http://127.0.0.1:PORT` (also the base URL).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The discovery document URL.
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer)
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer)
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// The registered client's id.
    pub fn client_id(&self) -> &str {
        &self.settings.client_id
    }

    /// The `aud` of issued tokens.
    pub fn audience(&self) -> &str {
        &self.settings.audience
    }

    /// The `tid` claim of issued tokens.
    pub fn tenant(&self) -> &str {
        &self.settings.tenant
    }

    /// Obtains an access token (a JWT) with the `client_credentials` grant.
    pub async fn client_credentials_token(&self) -> Result<String> {
        let fail = |detail: String| SandboxError::PeerFailed { what: WHAT, detail };
        let resp = reqwest::Client::new()
            .post(self.token_url())
            .basic_auth(&self.settings.client_id, Some(&self.settings.client_secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&scope=api%3Aread")
            .send()
            .await
            .map_err(|e| fail(format!("token request failed: {e}")))?;
        let status = resp.status();
        let body: serde_json::Value =
            resp.json().await.map_err(|e| fail(format!("token response is not JSON: {e}")))?;
        body.get("access_token")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| fail(format!("token endpoint answered {status}: {body}")))
    }

    /// Restarts the provider on the same port: a new signing key under the same `kid`, as
    /// happens when a provider that generates keys at start is restarted.
    pub async fn restart(&mut self) -> Result<()> {
        let port = self.issuer.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()).unwrap_or(0);
        let _ = self.child.kill().await;
        let (child, issuer) = spawn(&self.settings, port).await?;
        self.child = child;
        self.issuer = issuer;
        Ok(())
    }
}
