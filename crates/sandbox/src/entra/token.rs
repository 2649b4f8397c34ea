//! Access-token claim sets as Entra ID issues them, v1 and v2 shapes.
//!
//! [`TokenSpec`] has plain public fields so a test can build any token it needs, good or
//! deliberately bad (expired, wrong audience, wrong issuer, unknown key...), and hand it
//! to [`crate::FakeEntra::mint`].

use serde_json::{json, Map, Value};

use crate::keys::Alg;

/// Which Entra access-token format to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// v1.0 tokens: issuer `https://sts.windows.net/{tid}/`, `appid`, `unique_name`/`upn`.
    /// Azure Resource Manager and Storage receive these.
    V1,
    /// v2.0 tokens: issuer `https://login.microsoftonline.com/{tid}/v2.0`, `azp`,
    /// `preferred_username`.
    V2,
}

/// The real Entra issuer string for `tenant` and `version`.
pub fn issuer_for(tenant: &str, version: TokenVersion) -> String {
    match version {
        TokenVersion::V1 => format!("https://sts.windows.net/{tenant}/"),
        TokenVersion::V2 => format!("https://login.microsoftonline.com/{tenant}/v2.0"),
    }
}

/// Everything that goes into one token. Times are Unix seconds.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Token format.
    pub version: TokenVersion,
    /// Signing algorithm; the fake signs with its current key for it.
    pub alg: Alg,
    /// `tid`.
    pub tenant: String,
    /// `iss`; `None` means the real Entra issuer for `tenant` and `version`.
    pub issuer: Option<String>,
    /// `aud`.
    pub audience: String,
    /// `sub`.
    pub subject: String,
    /// `oid`.
    pub object_id: Option<String>,
    /// `appid` (v1) or `azp` (v2): the client application.
    pub app_id: Option<String>,
    /// `roles`.
    pub roles: Vec<String>,
    /// `groups`; past `group_limit` they become an overage reference instead.
    pub groups: Vec<String>,
    /// Group count above which `groups` is replaced by `_claim_names`/`_claim_sources`
    /// (Entra: 200 in JWTs). `None`: never.
    pub group_limit: Option<usize>,
    /// `scp` (space-separated in the token), for delegated tokens.
    pub scopes: Vec<String>,
    /// `name`.
    pub name: Option<String>,
    /// `preferred_username` (v2) or `upn`/`unique_name` (v1).
    pub preferred_username: Option<String>,
    /// `idtyp`: `app` or `user`.
    pub idtyp: Option<String>,
    /// `iat`.
    pub issued_at: i64,
    /// `nbf`.
    pub not_before: i64,
    /// `exp`.
    pub expires_at: i64,
    /// Header `kid` override; `None` uses the signing key's kid.
    pub kid: Option<String>,
    /// Sign with a fresh key that is *not* published, keeping the published kid: the
    /// signature cannot verify.
    pub sign_with_unknown_key: bool,
    /// Claims added last, overriding anything above.
    pub extra_claims: Map<String, Value>,
}

/// Current Unix time in seconds.
pub(crate) fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

impl TokenSpec {
    /// A valid one-hour v2 RS256 token spec for `subject` in `tenant` for `audience`.
    pub fn new(tenant: impl Into<String>, audience: impl Into<String>, subject: impl Into<String>) -> Self {
        let now = now_unix();
        Self {
            version: TokenVersion::V2,
            alg: Alg::RS256,
            tenant: tenant.into(),
            issuer: None,
            audience: audience.into(),
            subject: subject.into(),
            object_id: None,
            app_id: None,
            roles: Vec::new(),
            groups: Vec::new(),
            group_limit: Some(200),
            scopes: Vec::new(),
            name: None,
            preferred_username: None,
            idtyp: None,
            issued_at: now,
            not_before: now,
            expires_at: now + 3600,
            kid: None,
            sign_with_unknown_key: false,
            extra_claims: Map::new(),
        }
    }

    /// A person's v2 token, as Entra issues one to a user signed in to an app:
    /// `idtyp = user`, `oid = oid-{subject}`, `name = subject`,
    /// `preferred_username = {subject}@contoso.example`, and `groups`.
    pub fn person(tenant: &str, audience: &str, subject: &str, groups: &[&str]) -> Self {
        let mut spec = Self::principal(tenant, audience, subject, groups);
        spec.idtyp = Some("user".into());
        spec.name = Some(subject.to_owned());
        spec.preferred_username = Some(format!("{subject}@contoso.example"));
        spec
    }

    /// An application's (an AI agent's) v2 token: `idtyp = app`, `oid = oid-{subject}`,
    /// `azp = app-{subject}`, and `groups`.
    pub fn application(tenant: &str, audience: &str, subject: &str, groups: &[&str]) -> Self {
        let mut spec = Self::principal(tenant, audience, subject, groups);
        spec.idtyp = Some("app".into());
        spec.app_id = Some(format!("app-{subject}"));
        spec
    }

    /// [`TokenSpec::person`] when `human`, else [`TokenSpec::application`].
    pub fn person_or_app(tenant: &str, audience: &str, subject: &str, groups: &[&str], human: bool) -> Self {
        if human {
            Self::person(tenant, audience, subject, groups)
        } else {
            Self::application(tenant, audience, subject, groups)
        }
    }

    fn principal(tenant: &str, audience: &str, subject: &str, groups: &[&str]) -> Self {
        let mut spec = Self::new(tenant, audience, subject);
        spec.object_id = Some(format!("oid-{subject}"));
        spec.groups = groups.iter().map(|g| (*g).to_owned()).collect();
        spec
    }

    /// Makes the token expired `seconds` ago (issued an hour before that).
    pub fn expired(mut self, seconds: i64) -> Self {
        let now = now_unix();
        self.expires_at = now - seconds;
        self.issued_at = self.expires_at - 3600;
        self.not_before = self.issued_at;
        self
    }

    /// The issuer this token will carry.
    pub fn effective_issuer(&self) -> String {
        self.issuer.clone().unwrap_or_else(|| issuer_for(&self.tenant, self.version))
    }

    /// The claim set, with Entra's group overage applied.
    pub fn claims(&self) -> Value {
        let mut c = Map::new();
        let mut put = |k: &str, v: Value| {
            c.insert(k.to_owned(), v);
        };
        put("aud", json!(self.audience));
        put("iss", json!(self.effective_issuer()));
        put("iat", json!(self.issued_at));
        put("nbf", json!(self.not_before));
        put("exp", json!(self.expires_at));
        put("sub", json!(self.subject));
        put("tid", json!(self.tenant));
        put("uti", json!(uuid::Uuid::new_v4().simple().to_string()));
        if let Some(oid) = &self.object_id {
            put("oid", json!(oid));
        }
        match self.version {
            TokenVersion::V1 => {
                put("ver", json!("1.0"));
                if let Some(app) = &self.app_id {
                    put("appid", json!(app));
                    put("appidacr", json!("1"));
                }
                if let Some(upn) = &self.preferred_username {
                    put("upn", json!(upn));
                    put("unique_name", json!(upn));
                }
            }
            TokenVersion::V2 => {
                put("ver", json!("2.0"));
                if let Some(app) = &self.app_id {
                    put("azp", json!(app));
                    put("azpacr", json!("1"));
                }
                if let Some(upn) = &self.preferred_username {
                    put("preferred_username", json!(upn));
                }
            }
        }
        if let Some(name) = &self.name {
            put("name", json!(name));
        }
        if let Some(idtyp) = &self.idtyp {
            put("idtyp", json!(idtyp));
        }
        if !self.roles.is_empty() {
            put("roles", json!(self.roles));
        }
        if !self.scopes.is_empty() {
            put("scp", json!(self.scopes.join(" ")));
        }
        let overage = self.group_limit.is_some_and(|limit| self.groups.len() > limit);
        if overage {
            let who = self.object_id.as_deref().unwrap_or(&self.subject);
            put("_claim_names", json!({ "groups": "src1" }));
            put(
                "_claim_sources",
                json!({ "src1": { "endpoint": format!(
                    "https://graph.windows.net/{}/users/{}/getMemberObjects",
                    self.tenant, who
                ) } }),
            );
        } else if !self.groups.is_empty() {
            put("groups", json!(self.groups));
        }
        for (k, v) in &self.extra_claims {
            c.insert(k.clone(), v.clone());
        }
        Value::Object(c)
    }
}
