//! Loading rules, choosing among matching rules, and generic HTTP connections.

mod common;

use common::{azure, azure_as, rg, sub};
use portcullis_policy::{Outcome, PolicyError, PolicyErrorCode, RequestFacts, RuleSet, Subject};

fn load(text: &str) -> RuleSet {
    RuleSet::from_toml("test.toml", text).expect("rules load")
}

fn load_err(text: &str) -> PolicyError {
    RuleSet::from_toml("test.toml", text).expect_err("rules must be refused")
}

#[test]
fn bad_rule_files_fail_with_the_rule_field_and_reason() {
    let e = load_err("[[rule]]\nid = \"a\"\ndecision = \"allow\"\nactoins = [\"*\"]\n");
    assert_eq!(e.code(), PolicyErrorCode::RulesSyntax);
    assert!(e.to_string().contains("actoins"), "{e}");
    let e = load_err("[[rule]]\nid = \"a\"\ndecision = \"maybe\"\n");
    assert_eq!(e.code(), PolicyErrorCode::RulesSyntax);
    let e = load_err("[[rule]]\nid = \"Bad Id\"\ndecision = \"allow\"\n");
    assert!(matches!(e, PolicyError::InvalidRule { field: "id", .. }), "{e}");
    let e = load_err("[[rule]]\nid = \"builtin.x\"\ndecision = \"allow\"\n");
    assert!(matches!(e, PolicyError::InvalidRule { field: "id", .. }), "{e}");
    let e = load_err("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nnot_actions = [\"*/read\"]\n");
    assert!(matches!(e, PolicyError::InvalidRule { field: "not_actions", .. }), "{e}");
    let e = load_err("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nscopes = [\"subscriptions/x\"]\n");
    assert!(matches!(e, PolicyError::InvalidRule { field: "scopes", .. }), "{e}");
    let e = load_err("[[rule]]\nid = \"a\"\ndecision = \"deny\"\nbody = [{ pointer = \"properties\" }]\n");
    assert!(matches!(e, PolicyError::InvalidRule { field: "body", .. }), "{e}");
    let e =
        load_err("[[rule]]\nid = \"a\"\ndecision = \"deny\"\n[[rule]]\nid = \"a\"\ndecision = \"allow\"\n");
    assert_eq!(e.code(), PolicyErrorCode::DuplicateRuleId);
    // Duplicates across files too (an operator's file reusing a default-pack id).
    let pack =
        portcullis_policy::parse_file("azure-default", portcullis_policy::AZURE_DEFAULT_RULES).expect("pack");
    let mine =
        portcullis_policy::parse_file("mine", "[[rule]]\nid = \"azure.rg-delete\"\ndecision = \"allow\"\n")
            .expect("mine");
    let e = RuleSet::compile([pack, mine]).expect_err("duplicate id");
    assert_eq!(e.code(), PolicyErrorCode::DuplicateRuleId);
}

#[test]
fn the_more_specific_rule_wins_and_deny_wins_ties() {
    let rules = load(
        r#"
        [[rule]]
        id = "all-deletes"
        decision = "deny"
        actions = ["*/delete"]

        [[rule]]
        id = "dev-rg-delete"
        decision = "allow"
        actions = ["Microsoft.Resources/subscriptions/resourceGroups/delete"]
        scopes = ["/subscriptions/*/resourceGroups/dev-*"]

        [[rule]]
        id = "tie-allow"
        decision = "allow"
        actions = ["Microsoft.Compute/virtualMachines/start/action"]

        [[rule]]
        id = "tie-deny"
        decision = "deny"
        actions = ["Microsoft.Compute/virtualMachines/start/action"]
        "#,
    );
    let d = azure(&rules, "DELETE", &rg("dev-1"), None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Allow, Some("dev-rg-delete")));
    let d = azure(&rules, "DELETE", &rg("prod-1"), None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Deny, Some("all-deletes")));
    let vm = format!("{}/providers/Microsoft.Compute/virtualMachines/vm/start", rg("a"));
    let d = azure(&rules, "POST", &vm, None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Deny, Some("tie-deny")));
}

#[test]
fn not_actions_groups_and_levels_narrow_a_rule() {
    let rules = load(
        r#"
        [defaults]
        read = "deny"
        write = "deny"

        [[rule]]
        id = "readers"
        decision = "allow"
        actions = ["*/read"]
        not_actions = ["Microsoft.KeyVault/vaults/secrets/*"]

        [[rule]]
        id = "breakglass"
        decision = "allow"
        actions = ["*"]
        groups = ["SRE-Oncall"]
        levels = ["admin"]
        "#,
    );
    let vault = format!("{}/providers/Microsoft.KeyVault/vaults/kv", rg("a"));
    let d = azure(&rules, "GET", &vault, None);
    assert_eq!(d.rule_id.as_deref(), Some("readers"));
    let secret = format!("{vault}/secrets/db");
    let d = azure(&rules, "GET", &secret, None);
    assert_eq!((d.outcome, d.rule_id.clone()), (Outcome::Deny, None));
    let d = azure_as(&rules, "GET", &secret, None, &["sre-oncall"], "ADMIN");
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Allow, Some("breakglass")));
    let d = azure_as(&rules, "DELETE", &vault, None, &["sre-oncall"], "operator");
    assert_eq!(d.outcome, Outcome::Deny);
}

#[test]
fn unknown_shapes_follow_the_unknown_default() {
    let rules = load(
        "[defaults]\nunknown = \"deny\"\n[[rule]]\nid = \"all\"\ndecision = \"allow\"\nactions = [\"*\"]\n",
    );
    let d = azure(&rules, "OPTIONS", &rg("a"), None);
    assert_eq!((d.outcome, d.rule_id.clone(), d.action.clone()), (Outcome::Deny, None, None));
    assert!(d.summary.contains("does not know"), "{}", d.summary);
    let d = azure(&rules, "GET", "/subscriptions//x", None);
    assert_eq!(d.outcome, Outcome::Deny);
    let d = azure(&load(""), "GET", "/subscriptions//x", None);
    assert_eq!(d.outcome, Outcome::Review, "review is the default for unknown");
}

#[test]
fn scope_globs_cover_everything_below_them() {
    let rules = load(&format!(
        r#"
        [[rule]]
        id = "prod-freeze"
        decision = "deny"
        actions = ["*"]
        not_actions = ["*/read"]
        scopes = ["{}/resourceGroups/prod-*"]
        "#,
        sub()
    ));
    let vm = format!("{}/providers/Microsoft.Compute/virtualMachines/vm1", rg("PROD-web"));
    assert_eq!(azure(&rules, "PUT", &vm, None).rule_id.as_deref(), Some("prod-freeze"));
    assert_eq!(azure(&rules, "GET", &vm, None).outcome, Outcome::Allow);
    let dev = format!("{}/providers/Microsoft.Compute/virtualMachines/vm1", rg("dev-web"));
    assert_eq!(azure(&rules, "PUT", &dev, None).rule_id, None);
}

#[test]
fn query_conditions_match_parameters() {
    let rules = load(
        r#"
        [[rule]]
        id = "force-delete"
        decision = "deny"
        actions = ["Microsoft.Compute/virtualMachines/delete"]
        query = [{ name = "forceDeletion", any_of = ["true"] }]
        "#,
    );
    let vm = format!("{}/providers/Microsoft.Compute/virtualMachines/vm1", rg("a"));
    let query = vec![("forcedeletion".to_owned(), "TRUE".to_owned())];
    let req = RequestFacts { method: "DELETE", path: &vm, query: &query, body: None };
    let who = Subject { groups: &[], level: "x" };
    let d = rules.decide_azure(&req, &who, &Default::default());
    assert_eq!(d.rule_id.as_deref(), Some("force-delete"));
    let d = azure(&rules, "DELETE", &vm, None);
    assert_eq!(d.rule_id, None);
}

#[test]
fn generic_http_rules_match_methods_paths_query_and_body() {
    let rules = load(
        r#"
        [defaults]
        read = "allow"
        write = "review"

        [[rule]]
        id = "api.user-delete"
        decision = "deny"
        methods = ["POST", "DELETE"]
        paths = ["/v1/users/*/delete"]

        [[rule]]
        id = "api.admin"
        decision = "deny"
        paths = ["/admin/**"]

        [[rule]]
        id = "api.refund-large"
        decision = "review"
        methods = ["POST"]
        paths = ["/v1/refunds"]
        body = [{ pointer = "/currency", any_of = ["EUR"] }]

        [[rule]]
        id = "api.refunds"
        decision = "allow"
        methods = ["POST"]
        paths = ["/v1/refunds"]

        [[rule]]
        id = "api.dry-run"
        decision = "allow"
        query = [{ name = "dry_run", any_of = ["1", "true"] }]
        paths = ["/v1/**"]

        [[rule]]
        id = "azure-only"
        decision = "deny"
        actions = ["*"]
        "#,
    );
    let who = Subject { groups: &[], level: "operator" };
    let decide = |method: &str, path: &str, query: &[(String, String)], body: Option<&str>| {
        let req = RequestFacts { method, path, query, body: body.map(str::as_bytes) };
        rules.decide_http(&req, &who)
    };
    let d = decide("POST", "/v1/users/42/delete", &[], None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Deny, Some("api.user-delete")));
    assert_eq!(d.summary, "POST /v1/users/42/delete");
    assert_eq!(decide("post", "/V1/Users/42/Delete", &[], None).outcome, Outcome::Deny);
    assert_eq!(decide("GET", "/v1/users/42/delete", &[], None).rule_id, None);
    assert_eq!(decide("GET", "/admin/a/b/c", &[], None).rule_id.as_deref(), Some("api.admin"));
    let d = decide("POST", "/v1/refunds", &[], Some(r#"{"currency":"eur","amount":5}"#));
    assert_eq!(d.rule_id.as_deref(), Some("api.refund-large"));
    let d = decide("POST", "/v1/refunds", &[], Some(r#"{"currency":"USD"}"#));
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Allow, Some("api.refunds")));
    let dry = vec![("dry_run".to_owned(), "true".to_owned())];
    assert_eq!(decide("PUT", "/v1/things/1", &dry, None).rule_id.as_deref(), Some("api.dry-run"));
    let d = decide("PUT", "/v1/things/1", &[], None);
    assert_eq!((d.outcome, d.rule_id.clone()), (Outcome::Review, None));
}

#[test]
fn the_shipped_pack_has_stable_unique_ids() {
    let rules = RuleSet::azure_default().expect("pack loads");
    let ids: Vec<&str> = rules.rule_ids().collect();
    for id in [
        "azure.rg-delete",
        "azure.subscription-delete",
        "azure.deployment-complete",
        "azure.role-assignment-write",
        "azure.role-assignment-delete",
        "azure.role-definition-write",
        "azure.elevate-access",
        "azure.lock-delete",
        "azure.lock-write",
        "azure.keyvault-purge",
        "azure.list-keys",
        "azure.list-sas",
        "azure.regenerate-key",
        "azure.nsg-open-inbound",
        "azure.nsg-open-inbound-prefixes",
    ] {
        assert!(ids.contains(&id), "{id} missing from the pack");
    }
    assert_eq!(ids.len(), 15);
    for id in &ids {
        let description = rules.description(id).unwrap_or("");
        assert!(description.len() > 20, "{id} needs a description");
    }
    assert_eq!(rules.description("no.such-rule"), None);
}

#[test]
fn the_documented_example_rule_file_loads() {
    // Kept in step with the example in RuleFile's documentation.
    let rules = load(
        r#"
        [defaults]
        read = "allow"
        write = "review"
        unknown = "review"

        [[rule]]
        id = "azure.rg-delete"
        decision = "review"
        description = "Deleting a resource group deletes everything in it."
        actions = ["Microsoft.Resources/subscriptions/resourceGroups/delete"]

        [[rule]]
        id = "prod-freeze"
        decision = "deny"
        actions = ["*"]
        not_actions = ["*/read"]
        scopes = ["/subscriptions/*/resourceGroups/prod-*"]

        [[rule]]
        id = "azure.nsg-open-inbound"
        decision = "deny"
        actions = ["Microsoft.Network/networkSecurityGroups/securityRules/write"]
        body = [
          { pointer = "/properties/direction", any_of = ["Inbound"] },
          { pointer = "/properties/sourceAddressPrefix", any_of = ["*", "0.0.0.0/0", "Internet"] },
        ]

        [[rule]]
        id = "api.user-delete"
        decision = "deny"
        methods = ["POST", "DELETE"]
        paths = ["/v1/users/*/delete"]
        "#,
    );
    assert_eq!(rules.len(), 4);
    // The more specific scoped freeze beats the generic resource-group rule in prod.
    let d = azure(&rules, "DELETE", &rg("prod-web"), None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Deny, Some("prod-freeze")));
    let d = azure(&rules, "DELETE", &rg("dev-web"), None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Review, Some("azure.rg-delete")));
}

#[test]
fn where_beats_what_beats_who() {
    let mut files =
        vec![portcullis_policy::parse_file("pack", portcullis_policy::AZURE_DEFAULT_RULES).expect("pack")];
    files.push(
        portcullis_policy::parse_file(
            "ops",
            r#"
            [[rule]]
            id = "prod-freeze"
            decision = "deny"
            actions = ["*"]
            not_actions = ["*/read"]
            scopes = ["/subscriptions/*/resourceGroups/prod-*"]

            [[rule]]
            id = "prod-vm-start"
            decision = "allow"
            actions = ["Microsoft.Compute/virtualMachines/start/action"]
            scopes = ["/subscriptions/*/resourceGroups/prod-*"]

            [[rule]]
            id = "sandbox-roles"
            decision = "allow"
            actions = ["Microsoft.Authorization/roleAssignments/write"]
            scopes = ["/subscriptions/*/resourceGroups/sandbox"]
            "#,
        )
        .expect("ops"),
    );
    let rules = RuleSet::compile(files).expect("compile");
    let keys = format!("{}/providers/Microsoft.Storage/storageAccounts/sa/listKeys", rg("prod-data"));
    assert_eq!(azure(&rules, "POST", &keys, None).rule_id.as_deref(), Some("prod-freeze"));
    let keys = format!("{}/providers/Microsoft.Storage/storageAccounts/sa/listKeys", rg("dev-data"));
    assert_eq!(azure(&rules, "POST", &keys, None).rule_id.as_deref(), Some("azure.list-keys"));
    let start = format!("{}/providers/Microsoft.Compute/virtualMachines/vm/start", rg("prod-web"));
    let d = azure(&rules, "POST", &start, None);
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Allow, Some("prod-vm-start")));
    let ra = format!("{}/providers/Microsoft.Authorization/roleAssignments/x", rg("sandbox"));
    assert_eq!(azure(&rules, "PUT", &ra, None).rule_id.as_deref(), Some("sandbox-roles"));
    let ra = format!("{}/providers/Microsoft.Authorization/roleAssignments/x", rg("other"));
    assert_eq!(azure(&rules, "PUT", &ra, None).rule_id.as_deref(), Some("azure.role-assignment-write"));
}
