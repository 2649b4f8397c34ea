//! Tail latency of one decision (classification + rule match), which divan does not
//! report: p50 / p99 / p99.9 over many single calls, at 10 / 1,000 / 10,000 rules.
//! Run: `cargo bench -p portcullis-policy --bench percentiles`.

use std::time::Instant;

use portcullis_policy::{AzureContext, RequestFacts, Subject};

mod support;

const CALLS: usize = 50_000;

const REQUESTS: [(&str, &str); 3] = [
    ("DELETE", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/prod-rg"),
    ("POST", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/team-7-data/providers/Microsoft.Storage/storageAccounts/sa1/listKeys"),
    ("GET", "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/team-7-data/providers/Microsoft.Compute/virtualMachines/vm1"),
];

fn main() {
    let query = vec![("api-version".to_owned(), "2023-01-01".to_owned())];
    let groups = vec!["platform".to_owned(), "sre".to_owned()];
    let ctx = AzureContext::default();
    println!("rules   p50       p99       p99.9     (ns per decision, {CALLS} calls, 3 request shapes)");
    for n in [10, 1_000, 10_000] {
        let rules = support::rules(n);
        let mut samples = Vec::with_capacity(CALLS);
        for i in 0..CALLS {
            let (method, path) = REQUESTS[i % REQUESTS.len()];
            let req = RequestFacts { method, path, query: &query, body: None };
            let who = Subject { groups: &groups, level: "operator" };
            let start = Instant::now();
            let decision = rules.decide_azure(&req, &who, &ctx);
            samples.push(start.elapsed().as_nanos() as u64);
            std::hint::black_box(decision);
        }
        samples.sort_unstable();
        let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
        println!("{n:<7} {:<9} {:<9} {:<9}", at(0.50), at(0.99), at(0.999));
    }
}
