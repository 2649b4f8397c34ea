//! Any rule file text: loading either fails with an error or yields rules that decide
//! requests without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::{AzureContext, RequestFacts, RuleSet, Subject};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(rules) = RuleSet::from_toml("fuzz", text) else { return };
    let who = Subject { groups: &["g".to_owned()], level: "admin" };
    for (method, path) in [
        ("DELETE", "/subscriptions/s/resourceGroups/rg"),
        ("POST", "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/a/listKeys"),
        ("GET", "/v1/users/1"),
    ] {
        let req = RequestFacts { method, path, query: &[], body: Some(b"{\"a\":[1,\"x\"]}") };
        let _ = rules.decide_azure(&req, &who, &AzureContext::default());
        let _ = rules.decide_http(&req, &who);
    }
});
