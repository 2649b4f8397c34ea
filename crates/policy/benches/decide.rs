//! Decision latency (classification + rule match) as the rule count grows.
//! Run: `cargo bench -p portcullis-policy --bench decide`.

use divan::{black_box, Bencher};
use portcullis_policy::{AzureContext, RequestFacts, Subject};

mod support;
use support::rules;

fn main() {
    divan::main();
}

fn decide(bencher: Bencher, n: usize, method: &'static str, path: &'static str) {
    let rules = rules(n);
    let query = vec![("api-version".to_owned(), "2023-01-01".to_owned())];
    let groups = vec!["platform".to_owned(), "sre".to_owned()];
    let ctx = AzureContext::default();
    bencher.bench_local(|| {
        let req =
            RequestFacts { method: black_box(method), path: black_box(path), query: &query, body: None };
        let who = Subject { groups: &groups, level: "operator" };
        black_box(rules.decide_azure(&req, &who, &ctx))
    });
}

#[divan::bench(args = [10, 1_000, 10_000])]
fn rg_delete(bencher: Bencher, n: usize) {
    decide(
        bencher,
        n,
        "DELETE",
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/prod-rg",
    );
}

#[divan::bench(args = [10, 1_000, 10_000])]
fn storage_list_keys(bencher: Bencher, n: usize) {
    decide(
        bencher,
        n,
        "POST",
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/team-7-data/providers/Microsoft.Storage/storageAccounts/sa1/listKeys",
    );
}

#[divan::bench(args = [10, 1_000, 10_000])]
fn vm_read_no_rule(bencher: Bencher, n: usize) {
    decide(
        bencher,
        n,
        "GET",
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/team-7-data/providers/Microsoft.Compute/virtualMachines/vm1",
    );
}

/// Classification alone (no rules), to show what the rule match adds.
#[divan::bench]
fn classify_only(bencher: Bencher) {
    let query = vec![("api-version".to_owned(), "2023-01-01".to_owned())];
    let path = "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/team-7-data/providers/Microsoft.Storage/storageAccounts/sa1/listKeys";
    bencher.bench_local(|| {
        let req =
            RequestFacts { method: black_box("POST"), path: black_box(path), query: &query, body: None };
        black_box(portcullis_policy::classify(&req))
    });
}
