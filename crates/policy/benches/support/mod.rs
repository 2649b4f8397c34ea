//! Rule sets of a given size for the benchmarks.

use portcullis_policy::{parse_file, RuleSet, AZURE_DEFAULT_RULES};

const REAL: [&str; 4] =
    ["Microsoft.Compute", "Microsoft.Storage", "Microsoft.Network", "Microsoft.Resources"];

/// The default pack plus `n` generated rules shaped like an operator's: mostly confined to
/// one namespace, some scoped to team resource groups in real namespaces, some led by a
/// wildcard, some conditioned on groups.
pub(crate) fn rules(n: usize) -> RuleSet {
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
