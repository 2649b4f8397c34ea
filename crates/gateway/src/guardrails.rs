//! Steps 5–6 of the pipeline: classify the canonical request and decide it by the
//! guardrail rules (`portcullis-policy`). `portcullis policy check` calls the same
//! function, so an operator's offline check and the gateway can never disagree.

use portcullis_canonical::CanonicalTarget;
use portcullis_policy::{
    parse_file, AzureContext, Decision, RequestFacts, RuleSet, Subject, AZURE_DEFAULT_RULES,
};

use crate::config::{ConnectionConfig, ConnectionKind};

/// The name of the shipped Azure rule pack in a connection's `rules`.
pub const AZURE_DEFAULT: &str = "azure-default";

/// Compiles a connection's rules: `None` when it has none (guardrails off).
pub(crate) fn load(c: &ConnectionConfig) -> Result<Option<RuleSet>, String> {
    let names: Vec<String> = match &c.rules {
        Some(r) => r.clone(),
        None if c.kind == ConnectionKind::AzureArm => vec![AZURE_DEFAULT.to_owned()],
        None => Vec::new(),
    };
    if names.is_empty() {
        return Ok(None);
    }
    let mut files = Vec::new();
    for name in &names {
        if name == AZURE_DEFAULT {
            files.push(parse_file(AZURE_DEFAULT, AZURE_DEFAULT_RULES).map_err(|e| e.to_string())?);
        } else {
            let text = std::fs::read_to_string(name).map_err(|e| format!("{name}: {e}"))?;
            files.push(parse_file(name, &text).map_err(|e| e.to_string())?);
        }
    }
    RuleSet::compile(files).map(Some).map_err(|e| e.to_string())
}

/// How a connection's requests are classified.
pub(crate) fn kind_of(c: &ConnectionConfig) -> Kind {
    match c.kind {
        ConnectionKind::AzureArm => {
            let origin = crate::route::origin(&c.upstream);
            let mut origins = vec!["https://management.azure.com".to_owned()];
            if !origins.contains(&origin) {
                origins.push(origin);
            }
            Kind::Azure { arm_origins: origins }
        }
        _ => Kind::Http,
    }
}

/// How a connection's requests are decided.
#[derive(Debug, Clone)]
pub enum Kind {
    /// Azure Resource Manager: classified into resource ids and RBAC actions; absolute
    /// URLs in `$batch` bodies must point at one of these origins.
    Azure {
        /// ARM's origins as the agent addresses them.
        arm_origins: Vec<String>,
    },
    /// Any HTTP API: rules on method, path, query and JSON body fields.
    Http,
}

/// Decides one request. `target` is the canonical target after the connection prefix;
/// `body` is the (size-limited) JSON body when available.
pub fn decide(
    rules: &RuleSet,
    kind: &Kind,
    method: &str,
    target: &CanonicalTarget,
    body: Option<&[u8]>,
    groups: &[String],
    level: &str,
) -> Decision {
    let path = target.path();
    let query: Vec<(String, String)> =
        target.query().iter().map(|(k, v)| (k.clone(), v.clone().unwrap_or_default())).collect();
    let facts = RequestFacts { method, path: &path, query: &query, body };
    let subject = Subject { groups, level };
    match kind {
        Kind::Azure { arm_origins } => {
            let ctx = if arm_origins.is_empty() {
                AzureContext::default()
            } else {
                AzureContext { arm_origins: arm_origins.clone() }
            };
            rules.decide_azure(&facts, &subject, &ctx)
        }
        Kind::Http => rules.decide_http(&facts, &subject),
    }
}
