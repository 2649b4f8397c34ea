//! Any method, path and body: the classifier and the engine never panic, the folded
//! outcome is at least as strict as every hidden operation, and summaries never carry
//! bidi or control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_policy::{AzureContext, Decision, RequestFacts, RuleSet, Subject};
use std::sync::OnceLock;

static RULES: OnceLock<Option<RuleSet>> = OnceLock::new();

fn check(d: &Decision) {
    for c in d.summary.chars() {
        let bidi = matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}');
        assert!(!c.is_control() && !bidi, "summary carries {c:?}");
    }
    for inner in &d.inner {
        assert!(d.outcome >= inner.outcome, "outer decision weaker than an inner one");
        check(inner);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\n');
    let method = parts.next().unwrap_or("");
    let path = parts.next().unwrap_or("");
    let body = parts.next();
    let Some(rules) = RULES.get_or_init(|| RuleSet::azure_default().ok()).as_ref() else { return };
    let query = [("api-version".to_owned(), "2023-01-01".to_owned())];
    let req = RequestFacts { method, path, query: &query, body: body.map(str::as_bytes) };
    let who = Subject { groups: &[], level: "operator" };
    check(&rules.decide_azure(&req, &who, &AzureContext::default()));
});
