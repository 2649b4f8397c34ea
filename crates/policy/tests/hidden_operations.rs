//! Bypass attempts: operations hidden in $batch bodies and deployment templates.

mod common;

use common::{azure, default_pack, rg, SUB};
use portcullis_policy::{Outcome, RuleSet};

fn batch(entries: &[(&str, &str)]) -> String {
    let requests: Vec<serde_json::Value> =
        entries.iter().map(|(m, u)| serde_json::json!({"httpMethod": m, "name": "x", "url": u})).collect();
    serde_json::json!({ "requests": requests }).to_string()
}

#[test]
fn a_batch_with_an_inner_delete_is_as_strict_as_that_delete() {
    let rules = default_pack();
    let read = format!("{}?api-version=2021-04-01", rg("a"));
    let delete = format!("https://management.azure.com{}?api-version=2021-04-01", rg("prod-rg"));
    let body = batch(&[("GET", &read), ("DELETE", &delete)]);
    let d = azure(&rules, "POST", "/batch", Some(&body));
    assert_eq!(d.outcome, Outcome::Review);
    assert_eq!(d.rule_id.as_deref(), Some("azure.rg-delete"));
    assert_eq!(d.inner.len(), 2);
    assert_eq!(d.inner[0].outcome, Outcome::Allow);
    assert_eq!(d.inner[1].action.as_deref(), Some("Microsoft.Resources/subscriptions/resourceGroups/delete"));
    assert_eq!(d.inner[1].api_version.as_deref(), Some("2021-04-01"));
    assert!(d.summary.starts_with("batch of 2 requests: "), "{}", d.summary);
    assert!(d.summary.contains(&format!("delete resource group prod-rg in subscription {SUB}")));

    // Casing of the batch path and of the inner method changes nothing.
    let body = batch(&[("delete", &delete)]);
    assert_eq!(azure(&rules, "post", "/BATCH", Some(&body)).outcome, Outcome::Review);

    // The strictest inner decision wins: a role assignment hidden in a batch is refused.
    let ra =
        format!("{}/providers/Microsoft.Authorization/roleAssignments/x?api-version=2022-04-01", rg("a"));
    let body = batch(&[("DELETE", &delete), ("PUT", &ra)]);
    let d = azure(&rules, "POST", "/batch", Some(&body));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.rule_id.as_deref(), Some("azure.role-assignment-write"));
}

#[test]
fn a_batch_of_reads_passes_and_list_keys_inside_keeps_its_mask() {
    let rules = default_pack();
    let keys = format!("{}/providers/Microsoft.Storage/storageAccounts/sa/listKeys", rg("a"));
    let body = batch(&[("GET", &rg("a")), ("POST", &keys)]);
    let d = azure(&rules, "POST", "/batch", Some(&body));
    assert_eq!(d.outcome, Outcome::Allow);
    assert_eq!(d.mask_profile.as_deref(), Some("strict"));
}

#[test]
fn batch_entries_that_point_elsewhere_or_are_ambiguous_are_refused() {
    let rules = default_pack();
    let refused = [
        ("https://evil.example.com/subscriptions/s/resourceGroups/a", "builtin.batch-foreign-host"),
        ("http://management.azure.com/subscriptions/s/resourceGroups/a", "builtin.batch-foreign-host"),
        ("https://management.azure.com@evil.example.com/subscriptions/s", "builtin.batch-foreign-host"),
        ("https://management.azure.com:8443/subscriptions/s", "builtin.batch-foreign-host"),
        ("https://169.254.169.254/metadata/identity/oauth2/token", "builtin.batch-foreign-host"),
        ("//evil.example.com/subscriptions/s", "builtin.batch-foreign-host"),
        ("/subscriptions/s/resourceGroups/a/../b", "builtin.batch-ambiguous-url"),
        ("/subscriptions/s/resourceGroups/a%2F..%2Fb", "builtin.batch-ambiguous-url"),
        ("/subscriptions/s/resourceGroups/a%252F", "builtin.batch-ambiguous-url"),
        ("/subscriptions/s/resourceGroups\\a", "builtin.batch-ambiguous-url"),
        ("/batch?api-version=2020-06-01", "builtin.batch-nested"),
    ];
    for (url, rule) in refused {
        let d = azure(&rules, "POST", "/batch", Some(&batch(&[("GET", url)])));
        assert_eq!(d.outcome, Outcome::Deny, "{url}");
        assert_eq!(d.rule_id.as_deref(), Some(rule), "{url}");
    }
    let d = azure(&rules, "POST", "/batch", Some(&batch(&[("TRACE", "/subscriptions/s")])));
    assert_eq!(d.rule_id.as_deref(), Some("builtin.batch-bad-method"));
    for body in [None, Some("not json"), Some("{\"requests\": 3}")] {
        let d = azure(&rules, "POST", "/batch", body);
        assert_eq!(d.outcome, Outcome::Deny, "{body:?}");
        assert_eq!(d.rule_id.as_deref(), Some("builtin.batch-unreadable"));
    }
    // A percent-encoded name is decoded once, like the gateway's canonical form.
    let d = azure(
        &rules,
        "POST",
        "/batch",
        Some(&batch(&[("DELETE", "/subscriptions/s/resourceGroups/prod%2Drg")])),
    );
    assert_eq!(d.inner[0].resource.as_deref(), Some("/subscriptions/s/resourceGroups/prod-rg"));
    assert_eq!(d.outcome, Outcome::Review);
}

fn deployment(mode: &str, resources: serde_json::Value) -> String {
    serde_json::json!({
        "properties": {
            "mode": mode,
            "template": {
                "$schema": "https://schema.management.azure.com/schemas/2019-04-01/deploymentTemplate.json#",
                "contentVersion": "1.0.0.0",
                "resources": resources
            }
        }
    })
    .to_string()
}

fn deployment_path() -> String {
    format!("{}/providers/Microsoft.Resources/deployments/dep1", rg("prod-rg"))
}

#[test]
fn a_complete_mode_deployment_is_also_a_delete_of_the_group_contents() {
    let rules = default_pack();
    let storage = serde_json::json!([{"type": "Microsoft.Storage/storageAccounts", "name": "sa1", "apiVersion": "2023-01-01"}]);
    let d = azure(&rules, "PUT", &deployment_path(), Some(&deployment("Complete", storage.clone())));
    assert_eq!(d.outcome, Outcome::Review);
    assert_eq!(d.rule_id.as_deref(), Some("azure.deployment-complete"));
    let wipe = d
        .inner
        .iter()
        .find(|i| i.rule_id.as_deref() == Some("azure.deployment-complete"))
        .expect("the implied delete is listed");
    assert_eq!(
        wipe.action.as_deref(),
        Some("Microsoft.Resources/subscriptions/resourceGroups/resources/delete")
    );
    assert!(wipe.summary.contains("does not list"), "{}", wipe.summary);
    // Incremental mode implies no delete.
    let d = azure(&rules, "PUT", &deployment_path(), Some(&deployment("Incremental", storage)));
    assert!(d.inner.iter().all(|i| i.rule_id.as_deref() != Some("azure.deployment-complete")));
    assert_eq!(d.inner.len(), 1);
    assert_eq!(d.inner[0].action.as_deref(), Some("Microsoft.Storage/storageAccounts/write"));
}

#[test]
fn a_template_with_a_role_assignment_is_a_role_assignment_write() {
    let rules = default_pack();
    let resources = serde_json::json!([
        {"type": "Microsoft.Storage/storageAccounts", "name": "sa1", "apiVersion": "2023-01-01"},
        {"type": "Microsoft.Authorization/roleAssignments", "name": "[guid('x')]", "apiVersion": "2022-04-01",
         "properties": {"roleDefinitionId": "/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635", "principalId": "p"}}
    ]);
    let d = azure(&rules, "PUT", &deployment_path(), Some(&deployment("Incremental", resources)));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.rule_id.as_deref(), Some("azure.role-assignment-write"));

    // Language version 2.0: resources keyed by symbolic name.
    let symbolic =
        serde_json::json!({"ra": {"type": "Microsoft.Authorization/roleAssignments", "name": "r"}});
    let d = azure(&rules, "PUT", &deployment_path(), Some(&deployment("Incremental", symbolic)));
    assert_eq!(d.rule_id.as_deref(), Some("azure.role-assignment-write"));
}

#[test]
fn nested_inline_templates_and_child_resources_are_unpacked() {
    let rules = default_pack();
    let nested = serde_json::json!([{
        "type": "Microsoft.Resources/deployments",
        "name": "inner",
        "apiVersion": "2022-09-01",
        "properties": {
            "mode": "Incremental",
            "template": {"resources": [{
                "type": "Microsoft.Network/networkSecurityGroups",
                "name": "nsg1",
                "resources": [{
                    "type": "securityRules",
                    "name": "open",
                    "properties": {"direction": "Inbound", "access": "Allow", "sourceAddressPrefix": "*"}
                }]
            }]}
        }
    }]);
    let d = azure(&rules, "PUT", &deployment_path(), Some(&deployment("Incremental", nested)));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.rule_id.as_deref(), Some("azure.nsg-open-inbound"));

    // A nested deployment in Complete mode implies the wipe too.
    let nested_complete = serde_json::json!([{
        "type": "Microsoft.Resources/deployments", "name": "inner",
        "properties": {"mode": "Complete", "template": {"resources": []}}
    }]);
    let d = azure(&rules, "PUT", &deployment_path(), Some(&deployment("Incremental", nested_complete)));
    assert_eq!(d.rule_id.as_deref(), Some("azure.deployment-complete"));
}

#[test]
fn templates_that_cannot_be_inspected_fall_back_to_unknown() {
    let rules = default_pack();
    let linked =
        r#"{"properties":{"mode":"Incremental","templateLink":{"uri":"https://example.com/t.json"}}}"#;
    let d = azure(&rules, "PUT", &deployment_path(), Some(linked));
    assert_eq!(d.outcome, Outcome::Review);
    assert!(d.inner.iter().any(|i| i.summary.contains("linked")));
    let strict = rules.clone().with_defaults(portcullis_policy::Defaults {
        unknown: Outcome::Deny,
        ..portcullis_policy::Defaults::default()
    });
    assert_eq!(azure(&strict, "PUT", &deployment_path(), Some(linked)).outcome, Outcome::Deny);
    let expression =
        deployment("Incremental", serde_json::json!([{"type": "[parameters('t')]", "name": "x"}]));
    assert_eq!(azure(&strict, "PUT", &deployment_path(), Some(&expression)).outcome, Outcome::Deny);
    assert_eq!(azure(&strict, "PUT", &deployment_path(), None).outcome, Outcome::Deny);
}

#[test]
fn a_request_hiding_too_many_operations_is_refused() {
    let rules = default_pack();
    // 40 nested deployments of 60 resources each: under each level's limit, over the total.
    let leaf: Vec<serde_json::Value> = (0..60)
        .map(|i| serde_json::json!({"type": "Microsoft.Storage/storageAccounts", "name": format!("sa{i}")}))
        .collect();
    let nested: Vec<serde_json::Value> = (0..40)
        .map(|i| {
            serde_json::json!({
                "type": "Microsoft.Resources/deployments", "name": format!("d{i}"),
                "properties": {"mode": "Incremental", "template": {"resources": leaf}}
            })
        })
        .collect();
    let body = deployment("Incremental", serde_json::Value::Array(nested));
    let d = azure(&rules, "PUT", &deployment_path(), Some(&body));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.rule_id.as_deref(), Some("builtin.too-many-hidden"));
    // Deeply nested deployments stop at the depth limit.
    let mut template = serde_json::json!({"resources": []});
    for i in 0..12 {
        template = serde_json::json!({"resources": [{
            "type": "Microsoft.Resources/deployments", "name": format!("n{i}"),
            "properties": {"mode": "Incremental", "template": template}
        }]});
    }
    let body = serde_json::json!({"properties": {"mode": "Incremental", "template": template}}).to_string();
    let d = azure(&rules, "PUT", &deployment_path(), Some(&body));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.rule_id.as_deref(), Some("builtin.too-deep"));
}

#[test]
fn policy_check_output_names_decision_action_resource_rule_and_inner() {
    let delete = rg("prod-rg");
    let body = batch(&[("DELETE", &delete)]);
    let json = azure(&default_pack(), "POST", "/batch", Some(&body)).to_check_json();
    assert_eq!(json["decision"], "review");
    assert_eq!(json["rule"], "azure.rg-delete");
    assert_eq!(json["inner"][0]["action"], "Microsoft.Resources/subscriptions/resourceGroups/delete");
    assert_eq!(json["inner"][0]["resource"], delete.as_str());
    assert_eq!(json["inner"][0]["decision"], "review");
}

#[test]
fn a_sandbox_arm_origin_can_be_named_for_absolute_batch_urls() {
    use portcullis_policy::{AzureContext, RequestFacts, Subject};
    let rules = default_pack();
    let ctx = AzureContext { arm_origins: vec!["http://127.0.0.1:41234/".to_owned()] };
    let decide = |url: &str| {
        let body = batch(&[("DELETE", url)]);
        let req = RequestFacts { method: "POST", path: "/batch", query: &[], body: Some(body.as_bytes()) };
        rules.decide_azure(&req, &Subject { groups: &[], level: "x" }, &ctx)
    };
    let ok = decide(&format!("http://127.0.0.1:41234{}", rg("a")));
    assert_eq!(ok.rule_id.as_deref(), Some("azure.rg-delete"));
    for other in [
        format!("http://127.0.0.1:41235{}", rg("a")),
        format!("https://127.0.0.1:41234{}", rg("a")),
        format!("https://management.azure.com{}", rg("a")),
    ] {
        assert_eq!(decide(&other).rule_id.as_deref(), Some("builtin.batch-foreign-host"), "{other}");
    }
}

#[test]
fn nested_deployments_into_other_groups_meet_the_rules_of_those_groups() {
    let rules = RuleSet::from_toml(
        "prod",
        r#"
        [[rule]]
        id = "prod-freeze"
        decision = "deny"
        actions = ["*"]
        not_actions = ["*/read"]
        scopes = ["/subscriptions/*/resourceGroups/prod-*"]

        [[rule]]
        id = "dev-free"
        decision = "allow"
        actions = ["*"]
        scopes = ["/subscriptions/*/resourceGroups/dev-*"]
        "#,
    )
    .expect("rules");
    let dev_deployment = format!("{}/providers/Microsoft.Resources/deployments/d", rg("dev-1"));
    let into = |extra: serde_json::Value| {
        let mut nested = serde_json::json!({
            "type": "Microsoft.Resources/deployments", "name": "inner",
            "properties": {"mode": "Incremental", "template": {"resources": [
                {"type": "Microsoft.Storage/storageAccounts", "name": "sa1"}
            ]}}
        });
        if let (Some(obj), serde_json::Value::Object(more)) = (nested.as_object_mut(), extra) {
            obj.extend(more);
        }
        deployment("Incremental", serde_json::json!([nested]))
    };
    let d = azure(&rules, "PUT", &dev_deployment, Some(&into(serde_json::json!({}))));
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Allow, Some("dev-free")));
    let d =
        azure(&rules, "PUT", &dev_deployment, Some(&into(serde_json::json!({"resourceGroup": "prod-1"}))));
    assert_eq!((d.outcome, d.rule_id.as_deref()), (Outcome::Deny, Some("prod-freeze")));
    let d = azure(
        &rules,
        "PUT",
        &dev_deployment,
        Some(&into(serde_json::json!({"resourceGroup": "[parameters('rg')]"}))),
    );
    assert_eq!(d.outcome, Outcome::Review, "an expression target is unknown, never allowed");
    // Extension resources with a literal scope land at that scope.
    let body = deployment(
        "Incremental",
        serde_json::json!([{
            "type": "Microsoft.Authorization/locks", "name": "l",
            "scope": format!("{}/providers/Microsoft.Storage/storageAccounts/sa1", rg("prod-1"))
        }]),
    );
    let d = azure(&rules, "PUT", &dev_deployment, Some(&body));
    assert_eq!(d.rule_id.as_deref(), Some("prod-freeze"));
}
