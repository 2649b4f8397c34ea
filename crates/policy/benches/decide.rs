//! Decision latency (classification + rule match) as the rule count grows.
//! Run: `cargo bench -p portcullis-policy --bench decide`.

use divan::{black_box, Bencher};
use portcullis_policy::{parse_file, AzureContext, RequestFacts, RuleSet, Subject, AZURE_DEFAULT_RULES};

fn main() {
    divan::main();
}

const REAL: [&str; 4] =
    ["Microsoft.Compute", "Microsoft.Storage", "Microsoft.Network", "Microsoft.Resources"];

/// The default pack plus `n` generated rules shaped like an operator's: mostly confined to
/// one namespace, some scoped to team resource groups in real namespaces, some led by a
/// wildcard, some conditioned on groups.
fn rules(n: usize) -> RuleSet {
    let mut text = String::new();
    for i in 0..n {
        let body = match i % 10 {
            0..=5 => format!("actions = [\"Microsoft.Gen{}/things{i}/write\"]", i % 200),
            6 | 7 => format!(
                "actions = [\"{}/t{i}/*\"]\nscopes = [\"/subscriptions/*/resourceGroups/team-{i}-*\"]",
                REAL[i % 4]
            ),
            8 => format!("actions = [\"*/op{i}/action\"]"),
            _ => format!("actions = [\"*\"]\ngroups = [\"team-{i}\"]"),
        };
        let decision = ["allow", "review", "deny"][i % 3];
        text.push_str(&format!("[[rule]]\nid = \"gen.r{i}\"\ndecision = \"{decision}\"\n{body}\n\n"));
    }
    let pack = parse_file("azure-default", AZURE_DEFAULT_RULES).expect("pack");
    let generated = parse_file("generated", &text).expect("generated rules");
    RuleSet::compile([pack, generated]).expect("compile")
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
