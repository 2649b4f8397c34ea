//! Configuration of just-in-time access (`[access]` in `portcullis.toml`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Deserializer};

use crate::error::{AccessError, AccessReason};

/// The `[access]` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessConfig {
    /// Access settings per connection name. A connection absent here cannot be requested.
    #[serde(default)]
    pub connections: BTreeMap<String, ConnectionAccess>,
    /// Cedar policy files deciding who may request, approve and what is approved
    /// automatically. Validated against [`AccessConfig::schema_file`] (or the built-in
    /// schema) at load; any error refuses the start.
    #[serde(default)]
    pub policy_files: Vec<PathBuf>,
    /// A Cedar schema file replacing the built-in one (`policies/access.cedarschema`).
    #[serde(default)]
    pub schema_file: Option<PathBuf>,
    /// How long a request may stay pending before it expires (e.g. `"1h"`).
    #[serde(default = "default_pending_ttl", deserialize_with = "human")]
    pub pending_ttl: Duration,
    /// Lifetime of one grant token (e.g. `"5m"`), at most 10 minutes; never past the grant.
    #[serde(default = "default_token_ttl", deserialize_with = "human")]
    pub grant_token_ttl: Duration,
    /// Longest `?wait=` of a long-poll (e.g. `"60s"`).
    #[serde(default = "default_max_wait", deserialize_with = "human")]
    pub max_wait: Duration,
    /// Groups whose members may revoke any grant (holders and approvers always may).
    #[serde(default)]
    pub admin_groups: Vec<String>,
    /// The control API's public base URL, used in approve links and `request_url`
    /// (e.g. `"https://portcullis.example.com:8443"`).
    #[serde(default = "default_public_url")]
    pub public_url: String,
    /// Outgoing notifications on requests and decisions.
    #[serde(default)]
    pub webhooks: Vec<WebhookConfig>,
    /// Whether the data path also accepts the agent's OIDC token (not only a grant token)
    /// when an active grant exists for it. Default true.
    #[serde(default = "yes")]
    pub oidc_on_data_path: bool,
    /// How long a review (approval of one exact request that a guardrail held) waits for a
    /// decision before it expires (e.g. `"1h"`).
    #[serde(default = "default_pending_ttl", deserialize_with = "human")]
    pub review_ttl: Duration,
    /// How long an approved review may wait for the agent's retry; after that, or after one
    /// use, the request needs a new review (e.g. `"15m"`).
    #[serde(default = "default_review_use_ttl", deserialize_with = "human")]
    pub review_use_ttl: Duration,
}

/// How one connection is requested and approved.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionAccess {
    /// The access levels this connection defines, e.g. `["read", "operate", "admin"]`.
    pub levels: Vec<String>,
    /// Longest duration a grant may have (e.g. `"4h"`).
    #[serde(deserialize_with = "human")]
    pub max_duration: Duration,
    /// Approvals from distinct people needed (N of M), default 1.
    #[serde(default = "one")]
    pub approvals: u32,
    /// Per-level override of `approvals`, e.g. `{ admin = 2 }`.
    #[serde(default)]
    pub level_approvals: BTreeMap<String, u32>,
    /// When non-empty, each counted approval must come from a different one of these
    /// groups (an approver belonging to none of them does not count).
    #[serde(default)]
    pub distinct_groups: Vec<String>,
}

/// Where to send notifications.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The receiver's URL; notifications go to configured URLs only, redirects are not followed.
    pub url: url::Url,
    /// Payload shape: `generic` (JSON event), `slack` or `teams` (incoming-webhook messages).
    #[serde(default)]
    pub format: WebhookFormat,
    /// HMAC-SHA256 key for `X-Portcullis-Signature`; the receiver verifies with it.
    pub secret: String,
    /// Delivery attempts before giving up (default 5), with exponential backoff.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// First retry delay (default `"500ms"`), doubled each attempt.
    #[serde(default = "default_backoff", deserialize_with = "human")]
    pub backoff: Duration,
}

/// Payload shape of a webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// `{"event": …, "text": …, "approve_url": …}`.
    #[default]
    Generic,
    /// Slack incoming webhook (`text` + `blocks` with an approve button).
    Slack,
    /// Microsoft Teams incoming webhook (`MessageCard` with an approve action).
    Teams,
}

fn yes() -> bool {
    true
}
fn one() -> u32 {
    1
}
fn default_pending_ttl() -> Duration {
    Duration::from_secs(3600)
}
fn default_token_ttl() -> Duration {
    Duration::from_secs(300)
}
fn default_review_use_ttl() -> Duration {
    Duration::from_secs(900)
}
fn default_max_wait() -> Duration {
    Duration::from_secs(60)
}
fn default_public_url() -> String {
    "http://127.0.0.1:8081".into()
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> Duration {
    Duration::from_millis(500)
}

fn human<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    humantime::parse_duration(&s).map_err(serde::de::Error::custom)
}

impl AccessConfig {
    /// An empty configuration (no connections, no policies).
    pub fn new(public_url: impl Into<String>) -> Self {
        AccessConfig {
            connections: BTreeMap::new(),
            policy_files: Vec::new(),
            schema_file: None,
            pending_ttl: default_pending_ttl(),
            grant_token_ttl: default_token_ttl(),
            max_wait: default_max_wait(),
            admin_groups: Vec::new(),
            public_url: public_url.into(),
            webhooks: Vec::new(),
            oidc_on_data_path: true,
            review_ttl: default_pending_ttl(),
            review_use_ttl: default_review_use_ttl(),
        }
    }

    /// Checks what serde cannot: non-empty levels, N ≥ 1, token lifetime bounds.
    pub fn validate(&self) -> Result<(), AccessError> {
        let bad = |m: String| Err(AccessError::new(AccessReason::Config, m));
        for (name, c) in &self.connections {
            if c.levels.is_empty() {
                return bad(format!("access.connections.{name}.levels is empty"));
            }
            if c.max_duration.is_zero() {
                return bad(format!("access.connections.{name}.max_duration must be positive"));
            }
            let star = "*".to_string();
            let counts = std::iter::once((&star, &c.approvals)).chain(c.level_approvals.iter());
            for (level, n) in counts {
                if *n == 0 {
                    return bad(format!(
                        "access.connections.{name}: approvals for {level} must be at least 1"
                    ));
                }
                if level != "*" && !c.levels.contains(level) {
                    return bad(format!(
                        "access.connections.{name}.level_approvals names unknown level {level}"
                    ));
                }
            }
        }
        let max = Duration::from_secs(portcullis_identity::MAX_GRANT_TOKEN_TTL_SECS as u64);
        if self.review_ttl.is_zero() || self.review_use_ttl.is_zero() {
            return bad("access.review_ttl and access.review_use_ttl must be positive".into());
        }
        if self.grant_token_ttl.is_zero() || self.grant_token_ttl > max {
            return bad("access.grant_token_ttl must be between 1s and 10m".into());
        }
        Ok(())
    }
}

impl ConnectionAccess {
    /// Approvals needed for `level`.
    pub fn required_approvals(&self, level: &str) -> u32 {
        self.level_approvals.get(level).copied().unwrap_or(self.approvals)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"
policy_files = ["policies/access.cedar"]
pending_ttl = "30m"
grant_token_ttl = "5m"
admin_groups = ["security"]
public_url = "https://portcullis.example.com"

[connections.azure-prod]
levels = ["read", "operate", "admin"]
max_duration = "4h"
approvals = 1
level_approvals = { admin = 2 }
distinct_groups = ["ops", "security"]

[[webhooks]]
url = "https://hooks.slack.com/services/T0/B0/X"
format = "slack"
secret = "change-me"
"#;

    #[test]
    fn parses_the_documented_shape() {
        let c: AccessConfig = toml::from_str(EXAMPLE).unwrap();
        c.validate().unwrap();
        let prod = &c.connections["azure-prod"];
        assert_eq!(prod.max_duration, Duration::from_secs(4 * 3600));
        assert_eq!((prod.required_approvals("read"), prod.required_approvals("admin")), (1, 2));
        assert_eq!(c.webhooks[0].format, WebhookFormat::Slack);
        assert_eq!(c.webhooks[0].attempts, 5);
        assert_eq!(c.max_wait, Duration::from_secs(60));
    }

    #[test]
    fn refuses_unknown_keys_and_impossible_values() {
        let typo = EXAMPLE.replace("approvals = 1", "aprovals = 1");
        assert!(toml::from_str::<AccessConfig>(&typo).unwrap_err().to_string().contains("aprovals"));
        let zero: AccessConfig = toml::from_str(&EXAMPLE.replace("approvals = 1", "approvals = 0")).unwrap();
        assert!(zero.validate().unwrap_err().message.contains("at least 1"));
        let long: AccessConfig = toml::from_str(&EXAMPLE.replace("\"5m\"", "\"1h\"")).unwrap();
        assert!(long.validate().is_err(), "grant tokens live at most 10 minutes");
        let level: AccessConfig = toml::from_str(&EXAMPLE.replace("{ admin = 2 }", "{ root = 2 }")).unwrap();
        assert!(level.validate().unwrap_err().message.contains("root"));
    }
}
