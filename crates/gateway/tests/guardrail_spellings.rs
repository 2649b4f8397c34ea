//! Security invariant: a request is decided on its canonical form, so every spelling of
//! it that the canonicalizer accepts (percent-escapes in either hex case, any letter case
//! in ARM paths) gets exactly the decision of its plain spelling — the spelling an agent
//! picks cannot move a request from `review` or `deny` to `allow`.

use portcullis_canonical::{CanonicalRequest, Limits};
use portcullis_gateway::guardrails::{decide, Kind};
use portcullis_policy::{Decision, RuleSet};
use proptest::prelude::*;

/// ARM requests the default pack decides differently: reads, held deletes and writes,
/// denied role assignments, listKeys with strict masking, a policy-free read.
const SHAPES: &[(&str, &str)] = &[
    ("GET", "/subscriptions/0000/resourcegroups?api-version=2021-04-01"),
    ("DELETE", "/subscriptions/0000/resourceGroups/prod-rg?api-version=2021-04-01"),
    ("PUT", "/subscriptions/0000/providers/Microsoft.Authorization/roleAssignments/11111111-2222-3333-4444-555555555555?api-version=2022-04-01"),
    ("POST", "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1/listKeys?api-version=2023-01-01"),
    ("POST", "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct1/regenerateKey?api-version=2023-01-01"),
    ("DELETE", "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Authorization/locks/lock1?api-version=2020-05-01"),
    ("GET", "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01"),
    ("PUT", "/subscriptions/0000/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01"),
    ("POST", "/providers/Microsoft.Authorization/elevateAccess?api-version=2016-07-01"),
];

/// Respells `path` (before the `?`): each letter or digit may change case or become a
/// `%XX` escape in upper or lower hex. `choices` drives the changes.
fn respell(target: &str, choices: &[u8]) -> String {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut out = String::new();
    for (i, c) in path.chars().enumerate() {
        let pick = choices.get(i % choices.len().max(1)).copied().unwrap_or(0);
        match (c.is_ascii_alphanumeric(), pick % 5) {
            (true, 1) => {
                out.push(if c.is_ascii_uppercase() { c.to_ascii_lowercase() } else { c.to_ascii_uppercase() })
            }
            (true, 2) => out.push_str(&format!("%{:02X}", c as u8)),
            (true, 3) => out.push_str(&format!("%{:02x}", c as u8)),
            _ => out.push(c),
        }
    }
    format!("{out}?{query}")
}

fn decide_raw(rules: &RuleSet, method: &str, target: &str) -> Option<Decision> {
    let (parts, ()) = http::Request::builder()
        .method(method)
        .uri(target)
        .header("host", "management.azure.com")
        .body(())
        .unwrap()
        .into_parts();
    let canonical = CanonicalRequest::from_parts(&parts, Limits::default()).ok()?;
    let kind = Kind::Azure { arm_origins: vec!["https://management.azure.com".into()] };
    Some(decide(rules, &kind, canonical.method.as_str(), &canonical.target, None, &[], ""))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_accepted_spelling_gets_the_plain_spelling_s_decision(
        shape in 0..SHAPES.len(),
        choices in proptest::collection::vec(any::<u8>(), 1..48),
    ) {
        let rules = RuleSet::azure_default().unwrap();
        let (method, plain) = SHAPES[shape];
        let expected = decide_raw(&rules, method, plain).expect("the plain spelling is accepted");
        let spelled = respell(plain, &choices);
        // A spelling the canonicalizer refuses never reaches a decision (400): fine.
        if let Some(got) = decide_raw(&rules, method, &spelled) {
            prop_assert_eq!(got.outcome, expected.outcome, "{} {}", method, spelled);
            prop_assert_eq!(&got.rule_id, &expected.rule_id, "{} {}", method, spelled);
            prop_assert_eq!(&got.mask_profile, &expected.mask_profile, "{} {}", method, spelled);
            prop_assert_eq!(
                got.action.as_deref().map(str::to_ascii_lowercase),
                expected.action.as_deref().map(str::to_ascii_lowercase),
                "{} {}", method, spelled
            );
        }
    }
}

#[test]
fn the_shapes_cover_allow_review_and_deny() {
    let rules = RuleSet::azure_default().unwrap();
    let outcomes: std::collections::BTreeSet<String> =
        SHAPES.iter().map(|(m, t)| decide_raw(&rules, m, t).unwrap().outcome.as_str().to_owned()).collect();
    assert_eq!(outcomes.into_iter().collect::<Vec<_>>(), ["allow", "deny", "review"]);
}
