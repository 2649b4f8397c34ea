//! Matching one request against the compiled, indexed rules.

use serde_json::Value;

use crate::decision::Outcome;
use crate::ruleset::{CompiledRule, RuleSet, Specificity};

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

type Key = (Specificity, Outcome, std::cmp::Reverse<u32>);

impl RuleSet {
    /// The most specific matching rule, deny winning ties, or `None`.
    pub(crate) fn best_match(&self, input: &MatchInput<'_>) -> Option<Hit<'_>> {
        let lists = self.index.candidates(input.action_lower, input.path_lower, input.groups_lower);
        let mut heads = vec![0usize; lists.len()];
        let mut best: Option<(Key, u32)> = None;
        loop {
            // Merge the lists, each sorted by specificity bound, highest first.
            let mut pick: Option<(usize, u32)> = None;
            for (l, list) in lists.iter().enumerate() {
                if let Some(&candidate) = list.get(heads[l]) {
                    if pick.is_none_or(|(_, p)| self.bound(candidate) > self.bound(p)) {
                        pick = Some((l, candidate));
                    }
                }
            }
            let Some((l, next)) = pick else { break };
            heads[l] += 1;
            if let Some((key, _)) = &best {
                if self.bound(next) < key.0 {
                    break;
                }
            }
            let rule = &self.rules[next as usize];
            if let Some(spec) = rule_matches(rule, input) {
                let key = (spec, rule.decision, std::cmp::Reverse(next));
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, next));
                }
            }
        }
        best.map(|(_, i)| Hit { rule: &self.rules[i as usize] })
    }

    fn bound(&self, i: u32) -> Specificity {
        self.rules[i as usize].bound
    }
}

/// `Some(specificity of this match)` when every condition holds.
fn rule_matches(rule: &CompiledRule, input: &MatchInput<'_>) -> Option<Specificity> {
    let mut spec = Specificity { conditions: rule.conditions, ..Specificity::default() };
    if !rule.actions.is_empty() {
        let action = input.action_lower?;
        spec.what_literals += rule.actions.iter().filter(|p| p.matches(action)).map(|p| p.literals).max()?;
        if rule.not_actions.iter().any(|p| p.matches(action)) {
            return None;
        }
    }
    if !rule.scopes.is_empty() {
        let resource = input.resource_lower?;
        let (depth, literals) =
            rule.scopes.iter().filter(|p| p.contains(resource)).map(|p| (p.depth, p.literals)).max()?;
        spec.scope_depth = depth;
        spec.scope_literals = literals;
    }
    if !rule.methods.is_empty() && !rule.methods.iter().any(|m| m == input.method) {
        return None;
    }
    if !rule.paths.is_empty() {
        spec.what_literals +=
            rule.paths.iter().filter(|p| p.matches(input.path_lower)).map(|p| p.literals).max()?;
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
    Some(spec)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The index must never hide a rule: compare with a scan of every rule.
    fn linear<'r>(set: &'r RuleSet, input: &MatchInput<'_>) -> Option<&'r str> {
        let mut best: Option<(Key, u32)> = None;
        for (i, rule) in set.rules.iter().enumerate() {
            if let Some(spec) = rule_matches(rule, input) {
                let key = (spec, rule.decision, std::cmp::Reverse(i as u32));
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, i as u32));
                }
            }
        }
        best.map(|(_, i)| set.rules[i as usize].id.as_str())
    }

    fn segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("microsoft.a".to_owned()),
            Just("microsoft.b".to_owned()),
            Just("x".to_owned()),
            Just("xy".to_owned()),
            Just("listkeys".to_owned()),
            Just("action".to_owned()),
            Just("write".to_owned()),
        ]
    }

    fn path_segment() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("v1".to_owned()),
            Just("users".to_owned()),
            Just("*".to_owned()),
            Just("**".to_owned()),
            Just("u*".to_owned()),
        ]
    }

    fn pattern() -> impl Strategy<Value = String> {
        proptest::collection::vec(
            prop_oneof![segment(), Just("*".to_owned()), Just("x*".to_owned()), Just("*y".to_owned())],
            1..5,
        )
        .prop_map(|parts| parts.join("/"))
    }

    proptest! {
        #[test]
        fn the_index_finds_what_a_full_scan_finds(
            rules in proptest::collection::vec(
                (proptest::collection::vec(pattern(), 0..3), any::<bool>(), 0u8..3, 0usize..4),
                1..40,
            ),
            action in proptest::collection::vec(segment(), 2..5),
            in_group in any::<bool>(),
            resource in prop_oneof![Just("/s/a/b/c"), Just("/s/a"), Just("/t")],
            paths in proptest::collection::vec(proptest::collection::vec(path_segment(), 0..4), 0..40),
            path in proptest::collection::vec(path_segment(), 0..4),
        ) {
            let mut text = String::new();
            let scopes = ["", "scopes = [\"/s/*\"]", "scopes = [\"/s/a/**\", \"/s/a/b\"]", "scopes = [\"/**\"]"];
            for (i, (actions, grouped, decision, scope)) in rules.iter().enumerate() {
                let decision = ["allow", "review", "deny"][*decision as usize];
                let actions: Vec<String> = actions.iter().map(|a| format!("{a:?}")).collect();
                let rule_paths = match paths.get(i) {
                    Some(p) if actions.is_empty() => format!("paths = [\"/{}\"]", p.join("/")),
                    _ => String::new(),
                };
                text.push_str(&format!(
                    "[[rule]]\nid = \"r{i}\"\ndecision = \"{decision}\"\nactions = [{}]\n{}\n{rule_paths}\n{}\n",
                    actions.join(", "),
                    if *grouped { "groups = [\"g\"]" } else { "" },
                    scopes[*scope],
                ));
            }
            let set = RuleSet::from_toml("generated", &text).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let action = action.join("/");
            let path = format!("/{}", path.join("/"));
            let groups = if in_group { vec!["g".to_owned()] } else { vec![] };
            let input = MatchInput {
                method: "GET",
                path_lower: "/",
                action_lower: Some(&action),
                resource_lower: Some(resource),
                query: &[],
                body: None,
                groups_lower: &groups,
                level_lower: "",
            };
            let indexed = set.best_match(&input).map(|h| h.rule.id.as_str());
            prop_assert_eq!(indexed, linear(&set, &input), "action {}", action);
            let http = MatchInput { action_lower: None, path_lower: &path, ..input };
            let indexed = set.best_match(&http).map(|h| h.rule.id.as_str());
            prop_assert_eq!(indexed, linear(&set, &http), "path {}", path);
        }
    }
}
