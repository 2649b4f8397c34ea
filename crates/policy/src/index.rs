//! The rule index: each rule is filed under keys that every request it can match must
//! have (its exact action, the first one or two segments of the action, the last one or
//! two segments, or one of its groups), so a decision looks at a handful of short lists
//! instead of every rule. Lists are sorted by the rule's specificity bound, highest first,
//! which lets matching stop as soon as no remaining rule could beat the best match.

use std::collections::{HashMap, HashSet};

use crate::glob::{last_segments, split_path, Dim};
use crate::ruleset::CompiledRule;

const DIMS: usize = 7;

#[derive(Debug, Clone, Default)]
pub(crate) struct RuleIndex {
    keyed: [HashMap<String, Vec<u32>>; DIMS],
    /// Rules no key covers: they are candidates for every Azure request.
    wild: Vec<u32>,
    /// Rules without `actions` and without a literal first path segment: candidates for
    /// every HTTP and unknown request (the others are filed under `Dim::PathFirst`).
    actionless: Vec<u32>,
}

impl RuleIndex {
    pub(crate) fn build(rules: &[CompiledRule]) -> RuleIndex {
        let mut index = RuleIndex::default();
        for (i, rule) in rules.iter().enumerate() {
            let i = i as u32;
            if rule.actions.is_empty() {
                let firsts: Option<HashSet<&str>> =
                    rule.paths.iter().map(|p| p.literal_first_segment()).collect();
                match firsts {
                    Some(firsts) if !firsts.is_empty() => {
                        for first in firsts {
                            index.file(Dim::PathFirst, first, i);
                        }
                    }
                    _ => index.actionless.push(i),
                }
            }
            let keys: Option<HashSet<(Dim, &str)>> = rule.actions.iter().map(|p| p.index_key()).collect();
            match keys {
                Some(keys) if !keys.is_empty() => {
                    for (dim, key) in keys {
                        index.file(dim, key, i);
                    }
                }
                _ if !rule.groups.is_empty() => {
                    let groups: HashSet<&str> = rule.groups.iter().map(String::as_str).collect();
                    for group in groups {
                        index.file(Dim::Group, group, i);
                    }
                }
                _ => index.wild.push(i),
            }
        }
        let bound = |i: &u32| {
            let r = &rules[*i as usize];
            (std::cmp::Reverse(r.bound), *i)
        };
        for map in &mut index.keyed {
            for list in map.values_mut() {
                list.sort_by_key(bound);
            }
        }
        index.wild.sort_by_key(bound);
        index.actionless.sort_by_key(bound);
        index
    }

    fn file(&mut self, dim: Dim, key: &str, rule: u32) {
        self.keyed[dim as usize].entry(key.to_owned()).or_default().push(rule);
    }

    fn get(&self, dim: Dim, key: &str) -> Option<&[u32]> {
        self.keyed[dim as usize].get(key).map(Vec::as_slice)
    }

    /// The candidate lists for a request with this (lowercased) action and groups.
    pub(crate) fn candidates<'a>(
        &'a self,
        action_lower: Option<&str>,
        path_lower: &str,
        groups_lower: &[String],
    ) -> Vec<&'a [u32]> {
        let Some(action) = action_lower else {
            let mut lists: Vec<&[u32]> = vec![&self.actionless];
            let first = split_path(path_lower).next().unwrap_or("");
            if let Some(list) = self.get(Dim::PathFirst, first) {
                lists.push(list);
            }
            return lists;
        };
        let mut lists: Vec<&[u32]> = Vec::with_capacity(6 + groups_lower.len());
        lists.push(&self.wild);
        let mut slashes = action.match_indices('/').map(|(i, _)| i);
        let first = slashes.next();
        let second = slashes.next();
        let keys = [
            (Dim::Exact, Some(action)),
            (Dim::Prefix1, first.map(|e| &action[..e])),
            (Dim::Prefix2, second.map(|e| &action[..e])),
            (Dim::Tail1, first.map(|_| last_segments(action, 1))),
            (Dim::Tail2, first.map(|_| last_segments(action, 2))),
        ];
        for (dim, key) in keys {
            if let Some(list) = key.and_then(|k| self.get(dim, k)) {
                lists.push(list);
            }
        }
        for group in groups_lower {
            if let Some(list) = self.get(Dim::Group, group) {
                lists.push(list);
            }
        }
        lists.retain(|l| !l.is_empty());
        lists
    }
}
