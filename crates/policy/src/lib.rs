//! Guardrails: Azure request classification and the per-request rule engine.
//!
//! This crate owns steps 5 and 6 of the data path: it turns one canonical request into
//! what it means (for Azure Resource Manager: the resource id, the RBAC action Azure itself
//! would check, the api-version, and the operations hidden in `$batch` bodies and
//! deployment templates), and decides `allow`, `deny` or `review` by compiled, indexed
//! rules. It also defines the [`ReviewBinding`] an approval is bound to and which
//! long-running-operation polling URLs may be followed.
//!
//! It must not know about HTTP servers, canonicalization, identity, storage or the audit
//! log: its input is the plain [`RequestFacts`] and [`Subject`] the gateway hands it, its
//! output a [`Decision`]. It does no I/O.
//!
//! ```
//! use portcullis_policy::{AzureContext, Outcome, RequestFacts, RuleSet, Subject};
//!
//! let rules = RuleSet::azure_default()?;
//! let query = [("api-version".to_owned(), "2021-04-01".to_owned())];
//! let req = RequestFacts {
//!     method: "DELETE",
//!     path: "/subscriptions/0000/resourcegroups/prod-rg",
//!     query: &query,
//!     body: None,
//! };
//! let who = Subject { groups: &[], level: "operator" };
//! let decision = rules.decide_azure(&req, &who, &AzureContext::default());
//! assert_eq!(decision.outcome, Outcome::Review);
//! assert_eq!(decision.rule_id.as_deref(), Some("azure.rg-delete"));
//! assert_eq!(decision.summary, "delete resource group prod-rg in subscription 0000");
//! # Ok::<(), portcullis_policy::PolicyError>(())
//! ```

pub mod azure;
mod binding;
mod decision;
mod engine;
mod error;
mod facts;
mod glob;
mod index;
mod matching;
mod rule;
mod ruleset;
mod summary;

pub use azure::{classify, may_follow_polling_url, Access, AzureContext, AzureRequest, ResourceId, Upstream};
pub use binding::ReviewBinding;
pub use decision::{Decision, Outcome};
pub use error::{PolicyError, PolicyErrorCode};
pub use facts::{RequestFacts, Subject};
pub use rule::{BodyCondition, Defaults, QueryCondition, Rule, RuleFile};
pub use ruleset::{parse_file, RuleSet, AZURE_DEFAULT_RULES};
pub use summary::neutralise;
