//! What a guardrail check answers.

use serde::{Deserialize, Serialize};

/// The three guardrail outcomes, ordered by strictness: `Allow < Review < Deny`, so the
/// strictest of several is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Forward the request.
    Allow,
    /// Hold the request until a person approves this exact request.
    Review,
    /// Refuse the request.
    Deny,
}

impl Outcome {
    /// `allow`, `review` or `deny`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "allow",
            Outcome::Review => "review",
            Outcome::Deny => "deny",
        }
    }
}

/// The decision on one request (and, for batches and deployments, on each operation
/// hidden inside it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    /// What to do with the request. For a request with `inner` operations this is the
    /// strictest of its own outcome and theirs.
    pub outcome: Outcome,
    /// The rule that decided, or `None` when the connection's default applied. Ids starting
    /// with `builtin.` are refusals the engine makes itself (e.g. a batch it cannot read).
    pub rule_id: Option<String>,
    /// The Azure RBAC action, e.g. `Microsoft.Resources/subscriptions/resourceGroups/delete`;
    /// `None` for generic HTTP and for Azure requests that could not be classified.
    pub action: Option<String>,
    /// The ARM resource id (or scope) the request addresses; the path for generic HTTP.
    pub resource: Option<String>,
    /// The `api-version` query parameter, when present.
    pub api_version: Option<String>,
    /// Plain-English summary for approvers, with bidi and control characters neutralised.
    pub summary: String,
    /// Decisions on the operations hidden inside this request ($batch entries, deployment
    /// template resources, inline security rules, Complete-mode deletes).
    pub inner: Vec<Decision>,
    /// The masking profile the response must get (e.g. `strict` for listKeys), if any.
    pub mask_profile: Option<String>,
}

impl Decision {
    /// The JSON that `portcullis policy check` prints:
    /// `{"decision", "action", "resource", "rule", "api_version", "summary", "mask",
    /// "inner": [...]}`, with `inner` in the same shape.
    pub fn to_check_json(&self) -> serde_json::Value {
        serde_json::json!({
            "decision": self.outcome.as_str(),
            "action": self.action,
            "resource": self.resource,
            "rule": self.rule_id,
            "api_version": self.api_version,
            "summary": self.summary,
            "mask": self.mask_profile,
            "inner": self.inner.iter().map(Decision::to_check_json).collect::<Vec<_>>(),
        })
    }

    /// Fold the inner decisions into this one: the strictest outcome wins; on a tie the
    /// outer decision keeps its rule, unless only a default decided it and an inner rule
    /// names the reason. The first masking profile found is kept.
    pub(crate) fn absorb_inner(&mut self) {
        for inner in &self.inner {
            let names_reason =
                inner.outcome == self.outcome && self.rule_id.is_none() && inner.rule_id.is_some();
            if inner.outcome > self.outcome || names_reason {
                self.outcome = inner.outcome;
                self.rule_id.clone_from(&inner.rule_id);
            }
            if self.mask_profile.is_none() {
                self.mask_profile.clone_from(&inner.mask_profile);
            }
        }
    }
}
