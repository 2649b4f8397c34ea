//! Steps 5–6 of the pipeline: classify the canonical request and decide it by the
//! guardrail rules (`portcullis-policy`). `portcullis policy check` calls the same
//! function, so an operator's offline check and the gateway can never disagree.

use portcullis_canonical::CanonicalTarget;
use portcullis_policy::{AzureContext, Decision, RequestFacts, RuleSet, Subject};

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
