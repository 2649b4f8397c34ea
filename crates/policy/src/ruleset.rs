//! Loading rules: validation, compilation of patterns, and the index that keeps a decision
//! in microseconds with thousands of rules.

use std::collections::HashSet;

use crate::decision::Outcome;
use crate::error::PolicyError;
use crate::glob::{ActionPattern, PathPattern};
use crate::index::RuleIndex;
use crate::rule::{Defaults, Rule, RuleFile};

/// The shipped Azure default rule pack (`rules/azure-default.toml`).
pub const AZURE_DEFAULT_RULES: &str = include_str!("../rules/azure-default.toml");

/// How specific a rule's match is; compared field by field, in this order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Specificity {
    /// Segments pinned by the matching scope (`/subscriptions/*/resourceGroups/prod-*`: 4).
    pub(crate) scope_depth: usize,
    /// Literal characters of the matching scope.
    pub(crate) scope_literals: usize,
    /// Literal characters of the matching action or path pattern.
    pub(crate) what_literals: usize,
    /// Other conditions stated (groups, levels, methods, each query and body condition).
    pub(crate) conditions: usize,
}

/// A rule compiled for matching: lowercased patterns and a specificity bound.
#[derive(Debug, Clone)]
pub(crate) struct CompiledRule {
    pub(crate) id: String,
    pub(crate) description: String,
    pub(crate) decision: Outcome,
    pub(crate) mask: Option<String>,
    pub(crate) actions: Vec<ActionPattern>,
    pub(crate) not_actions: Vec<ActionPattern>,
    pub(crate) scopes: Vec<PathPattern>,
    pub(crate) groups: Vec<String>,
    pub(crate) levels: Vec<String>,
    pub(crate) methods: Vec<String>,
    pub(crate) paths: Vec<PathPattern>,
    pub(crate) query: Vec<(String, Vec<String>)>,
    pub(crate) body: Vec<(String, Vec<String>)>,
    /// How many of groups/levels/methods/query/body conditions the rule states.
    pub(crate) conditions: usize,
    /// The highest specificity this rule can reach (component-wise maxima, so an upper
    /// bound in lexicographic order too).
    pub(crate) bound: Specificity,
}

/// A loaded, compiled and indexed set of guardrail rules plus the connection defaults.
///
/// **How a rule is chosen.** Every rule whose conditions all hold is a candidate. The
/// candidate with the highest specificity wins, compared in this order: where (the depth
/// of the scope that matched, in path segments other than `**`, then its literal
/// characters; no scope counts 0), then what (literal, non-`*` characters of the action or
/// path pattern that matched), then who and how (the number of other conditions: groups,
/// levels, methods, each query and body condition). On equal specificity `deny` beats
/// `review` beats `allow`; then the earlier rule wins. When no rule matches, the defaults
/// decide (`read`, `write`, `unknown`). So a deny scoped to
/// `/subscriptions/*/resourceGroups/prod-*` beats an unscoped allow of `*/listKeys/action`
/// in those groups, and an allow of `…/virtualMachines/start/action` with the same scope
/// beats a scoped deny of `*`.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) index: RuleIndex,
    /// Some rule has `scopes` (so resource ids must be lowercased for matching).
    pub(crate) uses_scopes: bool,
    /// Some rule has `paths`.
    pub(crate) uses_paths: bool,
    pub(crate) defaults: Defaults,
}

impl RuleSet {
    /// Parse and compile one TOML rule file. `origin` names it in errors.
    pub fn from_toml(origin: &str, text: &str) -> Result<RuleSet, PolicyError> {
        RuleSet::compile([parse_file(origin, text)?])
    }

    /// The shipped Azure default rule pack.
    pub fn azure_default() -> Result<RuleSet, PolicyError> {
        RuleSet::from_toml("azure-default", AZURE_DEFAULT_RULES)
    }

    /// Compile several files into one set (e.g. the default pack plus an operator's own
    /// rules). Rule ids must be unique across files; the last `[defaults]` wins.
    pub fn compile(files: impl IntoIterator<Item = RuleFile>) -> Result<RuleSet, PolicyError> {
        let mut defaults = Defaults::default();
        let mut rules = Vec::new();
        let mut seen = HashSet::new();
        for file in files {
            if let Some(d) = file.defaults {
                defaults = d;
            }
            for rule in file.rules {
                if !seen.insert(rule.id.clone()) {
                    return Err(PolicyError::DuplicateRuleId(rule.id));
                }
                rules.push(compile_rule(rule)?);
            }
        }
        Ok(RuleSet::index(rules, defaults))
    }

    /// The same rules with other defaults (a connection's own configuration).
    pub fn with_defaults(mut self, defaults: Defaults) -> RuleSet {
        self.defaults = defaults;
        self
    }

    /// The defaults in force.
    pub fn defaults(&self) -> Defaults {
        self.defaults
    }

    /// How many rules are loaded.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// True when no rule is loaded (only the defaults decide).
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The human description of a rule, for approvers and `policy check` (`None` for an
    /// unknown id; empty when the rule has none).
    pub fn description(&self, rule_id: &str) -> Option<&str> {
        self.rules.iter().find(|r| r.id == rule_id).map(|r| r.description.as_str())
    }

    /// The ids of the loaded rules, in load order.
    pub fn rule_ids(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.id.as_str())
    }

    fn index(rules: Vec<CompiledRule>, defaults: Defaults) -> RuleSet {
        let index = RuleIndex::build(&rules);
        RuleSet {
            uses_scopes: rules.iter().any(|r| !r.scopes.is_empty()),
            uses_paths: rules.iter().any(|r| !r.paths.is_empty()),
            rules,
            index,
            defaults,
        }
    }
}

/// Parse one TOML rule file without compiling it.
pub fn parse_file(origin: &str, text: &str) -> Result<RuleFile, PolicyError> {
    toml::from_str(text)
        .map_err(|e| PolicyError::RulesSyntax { origin: origin.to_owned(), message: e.to_string() })
}

fn invalid(rule: &str, field: &'static str, reason: impl Into<String>) -> PolicyError {
    PolicyError::InvalidRule { rule_id: rule.to_owned(), field, reason: reason.into() }
}

fn compile_rule(rule: Rule) -> Result<CompiledRule, PolicyError> {
    let id = rule.id.as_str();
    let id_ok = !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if !id_ok {
        return Err(invalid(
            id,
            "id",
            "use 1-128 lowercase letters, digits, '.', '-' or '_' (e.g. azure.rg-delete)",
        ));
    }
    if id.starts_with("builtin.") {
        return Err(invalid(id, "id", "ids starting with 'builtin.' are reserved"));
    }
    if !rule.not_actions.is_empty() && rule.actions.is_empty() {
        return Err(invalid(id, "not_actions", "not_actions needs actions (e.g. [\"*\"])"));
    }
    for (field, list) in [("actions", &rule.actions), ("not_actions", &rule.not_actions)] {
        if let Some(bad) =
            list.iter().find(|p| p.is_empty() || p.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            return Err(invalid(id, field, format!("pattern {bad:?} is empty or has spaces")));
        }
    }
    for (field, list) in [("scopes", &rule.scopes), ("paths", &rule.paths)] {
        if let Some(bad) = list.iter().find(|p| !(p.starts_with('/') || p.starts_with("**"))) {
            return Err(invalid(id, field, format!("pattern {bad:?} must start with '/'")));
        }
    }
    if let Some(bad) =
        rule.methods.iter().find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic()))
    {
        return Err(invalid(id, "methods", format!("{bad:?} is not an HTTP method")));
    }
    if let Some(bad) = rule.body.iter().find(|c| !(c.pointer.is_empty() || c.pointer.starts_with('/'))) {
        return Err(invalid(id, "body", format!("pointer {:?} must start with '/' (RFC 6901)", bad.pointer)));
    }
    let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect::<Vec<_>>();
    let actions: Vec<ActionPattern> = rule.actions.iter().map(|p| ActionPattern::new(p)).collect();
    let scopes: Vec<PathPattern> = rule.scopes.iter().map(|p| PathPattern::new(p)).collect();
    let paths: Vec<PathPattern> = rule.paths.iter().map(|p| PathPattern::new(p)).collect();
    let what_literals = actions.iter().map(|p| p.literals).max().unwrap_or(0)
        + paths.iter().map(|p| p.literals).max().unwrap_or(0);
    let scope_depth = scopes.iter().map(|p| p.depth).max().unwrap_or(0);
    let scope_literals = scopes.iter().map(|p| p.literals).max().unwrap_or(0);
    let conditions = [!rule.groups.is_empty(), !rule.levels.is_empty(), !rule.methods.is_empty()]
        .iter()
        .filter(|b| **b)
        .count()
        + rule.query.len()
        + rule.body.len();
    Ok(CompiledRule {
        description: rule.description.clone(),
        decision: rule.decision,
        mask: rule.mask.clone(),
        not_actions: rule.not_actions.iter().map(|p| ActionPattern::new(p)).collect(),
        groups: lower(&rule.groups),
        levels: lower(&rule.levels),
        methods: rule.methods.iter().map(|m| m.to_ascii_uppercase()).collect(),
        query: rule.query.iter().map(|q| (q.name.to_ascii_lowercase(), lower(&q.any_of))).collect(),
        body: rule.body.iter().map(|b| (b.pointer.clone(), lower(&b.any_of))).collect(),
        actions,
        scopes,
        paths,
        conditions,
        bound: Specificity { scope_depth, scope_literals, what_literals, conditions },
        id: rule.id,
    })
}
