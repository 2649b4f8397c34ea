//! Property: ARM is case-insensitive, so the decision on a request equals the decision on
//! every casing of the same ARM path (and method).

mod common;

use common::{azure, default_pack};
use portcullis_policy::{Decision, RuleSet};
use proptest::prelude::*;

const TABLE: &str = include_str!("data/arm_shapes.txt");

fn shapes() -> Vec<(String, String)> {
    let s = "/subscriptions/00000000-0000-0000-0000-000000000001";
    let rg = format!("{s}/resourceGroups/prod-rg");
    let p = format!("{rg}/providers");
    TABLE
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let method = parts.next()?.to_owned();
            let path = parts.next()?.replace("$P", &p).replace("$RG", &rg).replace("$S", s);
            Some((method, path))
        })
        .collect()
}

fn recase(text: &str, flips: &[bool]) -> String {
    text.chars()
        .zip(flips.iter().cycle())
        .map(|(c, flip)| {
            if *flip {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

fn same(a: &Decision, b: &Decision) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.outcome, b.outcome);
    prop_assert_eq!(&a.rule_id, &b.rule_id);
    prop_assert_eq!(&a.mask_profile, &b.mask_profile);
    let lower = |s: &Option<String>| s.as_ref().map(|s| s.to_ascii_lowercase());
    prop_assert_eq!(lower(&a.action), lower(&b.action));
    prop_assert_eq!(lower(&a.resource), lower(&b.resource));
    prop_assert_eq!(a.inner.len(), b.inner.len());
    for (x, y) in a.inner.iter().zip(&b.inner) {
        same(x, y)?;
    }
    Ok(())
}

fn rules_under_test() -> Vec<RuleSet> {
    let scoped = RuleSet::from_toml(
        "scoped",
        r#"
        [[rule]]
        id = "prod-freeze"
        decision = "deny"
        actions = ["Microsoft.Compute/*", "Microsoft.Storage/*/write"]
        not_actions = ["*/read"]
        scopes = ["/subscriptions/*/resourceGroups/prod-*"]
        "#,
    )
    .expect("rules");
    vec![default_pack(), scoped]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decisions_do_not_depend_on_the_casing_of_the_arm_path(
        index in 0usize..10_000,
        flips in proptest::collection::vec(any::<bool>(), 1..64),
        method_upper in any::<bool>(),
    ) {
        let shapes = shapes();
        let (method, path) = &shapes[index % shapes.len()];
        let variant = recase(path, &flips);
        let variant_method = if method_upper { method.to_ascii_uppercase() } else { method.to_ascii_lowercase() };
        for rules in rules_under_test() {
            let canonical = azure(&rules, method, path, Some("{}"));
            let spelled = azure(&rules, &variant_method, &variant, Some("{}"));
            same(&canonical, &spelled)?;
        }
    }

    #[test]
    fn batch_decisions_do_not_depend_on_the_casing_of_inner_urls(
        index in 0usize..10_000,
        flips in proptest::collection::vec(any::<bool>(), 1..64),
    ) {
        let shapes = shapes();
        let (method, path) = &shapes[index % shapes.len()];
        let body = |p: &str| serde_json::json!({"requests": [{"httpMethod": method, "url": p}]}).to_string();
        let rules = default_pack();
        let canonical = azure(&rules, "POST", "/batch", Some(&body(path)));
        let spelled = azure(&rules, "POST", "/BATCH", Some(&body(&recase(path, &flips))));
        same(&canonical, &spelled)?;
    }

    #[test]
    fn batch_decisions_do_not_depend_on_percent_encoding_of_inner_urls(
        index in 0usize..10_000,
        encode in proptest::collection::vec(any::<bool>(), 1..64),
    ) {
        let shapes = shapes();
        let (method, path) = &shapes[index % shapes.len()];
        let encoded: String = path
            .chars()
            .zip(encode.iter().cycle())
            .map(|(c, e)| if *e && c != '/' && c.is_ascii() { format!("%{:02X}", c as u32) } else { c.to_string() })
            .collect();
        let body = |p: &str| serde_json::json!({"requests": [{"httpMethod": method, "url": p}]}).to_string();
        let rules = default_pack();
        let plain = azure(&rules, "POST", "/batch", Some(&body(path)));
        let spelled = azure(&rules, "POST", "/batch", Some(&body(&encoded)));
        same(&plain, &spelled)?;
    }
}
