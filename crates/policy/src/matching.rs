//! Matching one request against the compiled, indexed rules.

use serde_json::Value;

use crate::decision::Outcome;
use crate::ruleset::{CompiledRule, RuleSet};

/// One request prepared for matching: everything lowercased once.
pub(crate) struct MatchInput<'a> {
    pub(crate) method: &'a str,
    pub(crate) path_lower: &'a str,
    /// Lowercased action; `None` for generic HTTP and unknown Azure shapes.
    pub(crate) action_lower: Option<&'a str>,
    pub(crate) resource_lower: Option<&'a str>,
    pub(crate) query: &'a [(String, String)],
    pub(crate) body: Option<&'a Value>,
    pub(crate) groups_lower: &'a [String],
    pub(crate) level_lower: &'a str,
}

/// The winning rule of one match.
pub(crate) struct Hit<'r> {
    pub(crate) rule: &'r CompiledRule,
}

type Key = ((usize, usize), Outcome, std::cmp::Reverse<u32>);

impl RuleSet {
    /// The most specific matching rule, deny winning ties, or `None`.
    pub(crate) fn best_match(&self, input: &MatchInput<'_>) -> Option<Hit<'_>> {
        let empty: &[u32] = &[];
        let (first, second): (&[u32], &[u32]) = match input.action_lower {
            Some(action) => {
                let ns = action.split('/').next().unwrap_or("");
                let by_ns = self.by_namespace.get(ns).map(Vec::as_slice).unwrap_or(empty);
                (by_ns, &self.any_namespace)
            }
            None => (&self.actionless, empty),
        };
        let mut best: Option<(Key, u32)> = None;
        let (mut a, mut b) = (0usize, 0usize);
        loop {
            // Merge the two lists, both sorted by specificity bound, highest first.
            let next = match (first.get(a), second.get(b)) {
                (Some(x), Some(y)) => {
                    if self.bound(*x) >= self.bound(*y) {
                        a += 1;
                        *x
                    } else {
                        b += 1;
                        *y
                    }
                }
                (Some(x), None) => {
                    a += 1;
                    *x
                }
                (None, Some(y)) => {
                    b += 1;
                    *y
                }
                (None, None) => break,
            };
            if let Some((key, _)) = &best {
                if self.bound(next) < key.0 {
                    break;
                }
            }
            let rule = &self.rules[next as usize];
            if let Some(literals) = rule_matches(rule, input) {
                let key = ((literals, rule.conditions), rule.decision, std::cmp::Reverse(next));
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, next));
                }
            }
        }
        best.map(|(_, i)| Hit { rule: &self.rules[i as usize] })
    }

    fn bound(&self, i: u32) -> (usize, usize) {
        let r = &self.rules[i as usize];
        (r.max_literals, r.conditions)
    }
}

/// `Some(literal characters of the patterns that matched)` when every condition holds.
fn rule_matches(rule: &CompiledRule, input: &MatchInput<'_>) -> Option<usize> {
    let mut literals = 0;
    if !rule.actions.is_empty() {
        let action = input.action_lower?;
        literals += rule.actions.iter().filter(|p| p.matches(action)).map(|p| p.literals).max()?;
        if rule.not_actions.iter().any(|p| p.matches(action)) {
            return None;
        }
    }
    if !rule.scopes.is_empty() {
        let resource = input.resource_lower?;
        literals += rule.scopes.iter().filter(|p| p.contains(resource)).map(|p| p.literals).max()?;
    }
    if !rule.methods.is_empty() && !rule.methods.iter().any(|m| m == input.method) {
        return None;
    }
    if !rule.paths.is_empty() {
        literals += rule.paths.iter().filter(|p| p.matches(input.path_lower)).map(|p| p.literals).max()?;
    }
    if !rule.groups.is_empty() && !rule.groups.iter().any(|g| input.groups_lower.contains(g)) {
        return None;
    }
    if !rule.levels.is_empty() && !rule.levels.iter().any(|l| l == input.level_lower) {
        return None;
    }
    for (name, any_of) in &rule.query {
        let found = input.query.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case(name)
                && (any_of.is_empty() || any_of.iter().any(|a| a.eq_ignore_ascii_case(v)))
        });
        if !found {
            return None;
        }
    }
    for (pointer, any_of) in &rule.body {
        let value = input.body?.pointer(pointer)?;
        if !value_matches(value, any_of) {
            return None;
        }
    }
    Some(literals)
}

fn value_matches(value: &Value, any_of: &[String]) -> bool {
    match value {
        Value::Array(items) => items.iter().any(|v| value_matches(v, any_of)),
        Value::Null => false,
        _ if any_of.is_empty() => true,
        Value::String(s) => any_of.iter().any(|a| a.eq_ignore_ascii_case(s)),
        other => {
            let text = other.to_string();
            any_of.iter().any(|a| a.eq_ignore_ascii_case(&text))
        }
    }
}
