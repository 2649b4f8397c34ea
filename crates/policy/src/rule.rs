//! The rule file schema, as operators write it in TOML. Every field is documented on the
//! public types below; docs/config.md copies these comments.

use serde::Deserialize;

use crate::decision::Outcome;

/// One rule file: optional connection defaults and a list of `[[rule]]` tables.
/// Unknown keys are errors, so a misspelt condition never silently widens a rule.
///
/// ```toml
/// [defaults]
/// read = "allow"
/// write = "review"
/// unknown = "review"
///
/// [[rule]]
/// id = "azure.rg-delete"
/// decision = "review"
/// description = "Deleting a resource group deletes everything in it."
/// actions = ["Microsoft.Resources/subscriptions/resourceGroups/delete"]
///
/// [[rule]]
/// id = "prod-freeze"
/// decision = "deny"
/// actions = ["*"]
/// not_actions = ["*/read"]
/// scopes = ["/subscriptions/*/resourceGroups/prod-*"]
///
/// [[rule]]
/// id = "azure.nsg-open-inbound"
/// decision = "deny"
/// actions = ["Microsoft.Network/networkSecurityGroups/securityRules/write"]
/// body = [
///   { pointer = "/properties/direction", any_of = ["Inbound"] },
///   { pointer = "/properties/sourceAddressPrefix", any_of = ["*", "0.0.0.0/0", "Internet"] },
/// ]
///
/// [[rule]]
/// id = "api.user-delete"
/// decision = "deny"
/// methods = ["POST", "DELETE"]
/// paths = ["/v1/users/*/delete"]
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// What happens when no rule matches. When several files are loaded together, the last
    /// file that has a `[defaults]` table wins.
    #[serde(default)]
    pub defaults: Option<Defaults>,
    /// The rules, written as `[[rule]]` tables. Order matters only between rules of equal
    /// specificity and equal decision.
    #[serde(default, rename = "rule")]
    pub rules: Vec<Rule>,
}

/// The decision for requests that no rule matches, by kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Requests that only read (Azure actions ending in `/read`, including polling of
    /// long-running operations; `GET`/`HEAD` on generic HTTP). Default `allow`.
    #[serde(default = "allow")]
    pub read: Outcome,
    /// Requests that change something (Azure `write`, `delete` and `action`; any other
    /// method on generic HTTP). Default `review`.
    #[serde(default = "review")]
    pub write: Outcome,
    /// Azure requests whose shape the classifier does not know (no action can be derived).
    /// Rules with `actions` never match them, so this default says what unknown means.
    /// Default `review`.
    #[serde(default = "review")]
    pub unknown: Outcome,
}

fn allow() -> Outcome {
    Outcome::Allow
}

fn review() -> Outcome {
    Outcome::Review
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults { read: Outcome::Allow, write: Outcome::Review, unknown: Outcome::Review }
    }
}

/// One guardrail rule. A rule matches a request when every condition it states matches;
/// conditions it leaves out match anything. Among matching rules the most specific wins
/// (see [`crate::RuleSet`]); `deny` wins ties.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Stable identifier named by decisions, audit records and `portcullis policy check`,
    /// e.g. `azure.rg-delete`. Lowercase letters, digits, `.`, `-`, `_`; unique across all
    /// loaded files; ids starting with `builtin.` are reserved.
    pub id: String,
    /// `allow`, `deny` or `review` (a person must approve this exact request).
    pub decision: Outcome,
    /// Human explanation shown to operators and approvers.
    #[serde(default)]
    pub description: String,
    /// Azure RBAC action patterns, as in Azure custom roles: `*` matches any run of
    /// characters including `/`, matching ignores case. Examples:
    /// `Microsoft.Resources/subscriptions/resourceGroups/delete`, `*/listKeys/action`,
    /// `Microsoft.Authorization/*/write`. Empty: any action, and also generic HTTP requests.
    /// When set, the rule matches only classified Azure requests.
    #[serde(default)]
    pub actions: Vec<String>,
    /// Action patterns subtracted from `actions` (Azure's `notActions`): the rule does not
    /// match an action that matches one of these. Requires `actions`.
    #[serde(default)]
    pub not_actions: Vec<String>,
    /// Scope globs over the ARM resource id; a scope contains everything below it.
    /// `*` matches within one path segment, `**` any number of segments, case ignored:
    /// `/subscriptions/0000-…`, `/subscriptions/*/resourceGroups/prod-*`,
    /// `/subscriptions/*/resourceGroups/*/providers/Microsoft.KeyVault/vaults/kv-*`.
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The rule applies only to principals in at least one of these groups (case ignored).
    #[serde(default)]
    pub groups: Vec<String>,
    /// The rule applies only to grants of one of these levels (case ignored).
    #[serde(default)]
    pub levels: Vec<String>,
    /// HTTP methods (`GET`, `DELETE`, …; case ignored). Applies to any connection kind.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path globs over the canonical request path: `*` within a segment, `**` across
    /// segments, case ignored (`/v1/users/*/delete`, `/admin/**`).
    #[serde(default)]
    pub paths: Vec<String>,
    /// Query parameter conditions; all must hold.
    #[serde(default)]
    pub query: Vec<QueryCondition>,
    /// JSON body conditions; all must hold. A request whose body is not available or not
    /// JSON does not match a rule with body conditions, so put body conditions on `deny`
    /// or `review` rules (a missing body then falls back to the defaults, never to allow
    /// by this rule).
    #[serde(default)]
    pub body: Vec<BodyCondition>,
    /// Masking profile for the response when this rule decides (e.g. `strict`, which the
    /// gateway applies to listKeys answers).
    #[serde(default)]
    pub mask: Option<String>,
}

/// `name` is present with one of the listed values (names and values compared ignoring
/// case). An empty `any_of` means "present with any value".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryCondition {
    /// Query parameter name.
    pub name: String,
    /// Accepted values.
    #[serde(default)]
    pub any_of: Vec<String>,
}

/// The JSON value at `pointer` (RFC 6901, e.g. `/properties/access`) equals one of the
/// listed values. Strings compare ignoring case; numbers and booleans by their JSON text.
/// If the value is an array, one element equal to a listed value is enough. An empty
/// `any_of` means "present with any value".
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BodyCondition {
    /// JSON pointer into the request body.
    pub pointer: String,
    /// Accepted values.
    #[serde(default)]
    pub any_of: Vec<String>,
}
