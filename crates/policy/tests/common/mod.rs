//! Shared helpers for the policy integration tests.
#![allow(dead_code, unreachable_pub)]

use portcullis_policy::{AzureContext, Decision, RequestFacts, RuleSet, Subject};

pub const SUB: &str = "00000000-0000-0000-0000-000000000001";

pub fn sub() -> String {
    format!("/subscriptions/{SUB}")
}

pub fn rg(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/{name}")
}

pub fn default_pack() -> RuleSet {
    RuleSet::azure_default().expect("the shipped rule pack loads")
}

/// Decide an Azure request as an operator without groups.
pub fn azure(rules: &RuleSet, method: &str, path: &str, body: Option<&str>) -> Decision {
    azure_as(rules, method, path, body, &[], "operator")
}

pub fn azure_as(
    rules: &RuleSet,
    method: &str,
    path: &str,
    body: Option<&str>,
    groups: &[&str],
    level: &str,
) -> Decision {
    let query = vec![("api-version".to_owned(), "2023-01-01".to_owned())];
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    let req = RequestFacts { method, path, query: &query, body: body.map(str::as_bytes) };
    let who = Subject { groups: &groups, level };
    rules.decide_azure(&req, &who, &AzureContext::default())
}
