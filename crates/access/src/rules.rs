//! Rules no policy can weaken: nobody approves their own request, one person counts
//! once, and N-of-M from distinct groups is a matching, not a count.

use portcullis_identity::{principal_key, Principal, PrincipalKind};

/// Every identity a principal stands for: its own key, the directory object (the same
/// person with another token), each actor of its delegation chain (the agent acting, or
/// the human it acts for), and, for agents, the application. Two principals whose sets
/// intersect are the same party for approvals.
pub(crate) fn identities(p: &Principal) -> Vec<String> {
    let mut out = vec![format!("sub:{}", p.key())];
    if let Some(oid) = &p.object_id {
        out.push(format!("oid:{}/{oid}", p.tenant.as_deref().unwrap_or("")));
    }
    if p.kind == PrincipalKind::Agent {
        if let Some(app) = &p.app_id {
            out.push(format!("app:{app}"));
        }
    }
    for actor in &p.delegation {
        let iss = actor.issuer.as_deref().unwrap_or(&p.issuer);
        out.push(format!("sub:{}", principal_key(iss, &actor.subject)));
        if let Some(client) = &actor.client_id {
            out.push(format!("app:{client}"));
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether two identity sets name the same party.
pub(crate) fn same_party(a: &[String], b: &[String]) -> bool {
    a.iter().any(|x| b.contains(x))
}

/// Whether approvals (each with the approver's groups) cover `n` distinct groups of
/// `groups`, each approver counted for at most one group (bipartite matching).
pub(crate) fn distinct_groups_satisfied(approvers: &[Vec<String>], groups: &[String], n: u32) -> bool {
    let mut owner: Vec<Option<usize>> = vec![None; groups.len()];
    let mut matched = 0u32;
    for a in 0..approvers.len() {
        let mut seen = vec![false; groups.len()];
        if augment(a, approvers, groups, &mut owner, &mut seen) {
            matched += 1;
        }
    }
    matched >= n
}

fn augment(
    a: usize,
    approvers: &[Vec<String>],
    groups: &[String],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for (g, name) in groups.iter().enumerate() {
        if seen[g] || !approvers[a].contains(name) {
            continue;
        }
        seen[g] = true;
        let free = match owner[g] {
            None => true,
            Some(other) => augment(other, approvers, groups, owner, seen),
        };
        if free {
            owner[g] = Some(a);
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn matching_counts_each_approver_once() {
        let groups = v(&["ops", "security"]);
        // One person in both groups covers only one.
        assert!(!distinct_groups_satisfied(&[v(&["ops", "security"])], &groups, 2));
        // Two people, the first in both groups: a matching exists.
        assert!(distinct_groups_satisfied(&[v(&["ops", "security"]), v(&["ops"])], &groups, 2));
        // Two people in the same group do not make two groups.
        assert!(!distinct_groups_satisfied(&[v(&["ops"]), v(&["ops"])], &groups, 2));
    }

    /// Brute force: try every assignment of approvers to one of their groups (or none).
    fn brute(approvers: &[Vec<String>], groups: &[String]) -> usize {
        fn go(i: usize, approvers: &[Vec<String>], groups: &[String], used: &mut Vec<bool>) -> usize {
            if i == approvers.len() {
                return used.iter().filter(|u| **u).count();
            }
            let mut best = go(i + 1, approvers, groups, used);
            for (g, name) in groups.iter().enumerate() {
                if !used[g] && approvers[i].contains(name) {
                    used[g] = true;
                    best = best.max(go(i + 1, approvers, groups, used));
                    used[g] = false;
                }
            }
            best
        }
        go(0, approvers, groups, &mut vec![false; groups.len()])
    }

    proptest::proptest! {
        #[test]
        fn matching_agrees_with_brute_force(
            membership in proptest::collection::vec(proptest::collection::vec(0usize..4, 0..4), 0..6),
            n in 1u32..5,
        ) {
            let groups: Vec<String> = (0..4).map(|g| format!("g{g}")).collect();
            let approvers: Vec<Vec<String>> =
                membership.iter().map(|m| m.iter().map(|g| format!("g{g}")).collect()).collect();
            let expected = brute(&approvers, &groups) >= n as usize;
            proptest::prop_assert_eq!(distinct_groups_satisfied(&approvers, &groups, n), expected);
        }
    }
}
