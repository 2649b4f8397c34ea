//! The shipped Azure default rule pack decides what the issue promises.

mod common;

use common::{azure, default_pack, rg, sub, SUB};
use portcullis_policy::Outcome;

#[test]
fn deleting_a_resource_group_needs_a_review_with_a_plain_summary() {
    let d = azure(&default_pack(), "DELETE", &rg("prod-rg"), None);
    assert_eq!(d.outcome, Outcome::Review);
    assert_eq!(d.rule_id.as_deref(), Some("azure.rg-delete"));
    assert_eq!(d.action.as_deref(), Some("Microsoft.Resources/subscriptions/resourceGroups/delete"));
    assert_eq!(d.resource.as_deref(), Some(rg("prod-rg").as_str()));
    assert_eq!(d.api_version.as_deref(), Some("2023-01-01"));
    assert_eq!(d.summary, format!("delete resource group prod-rg in subscription {SUB}"));
}

#[test]
fn reads_are_allowed_and_other_writes_reviewed_by_default() {
    let rules = default_pack();
    let vm = format!("{}/providers/Microsoft.Compute/virtualMachines/vm1", rg("rg1"));
    let read = azure(&rules, "GET", &vm, None);
    assert_eq!((read.outcome, read.rule_id), (Outcome::Allow, None));
    let write = azure(&rules, "PUT", &vm, Some("{}"));
    assert_eq!((write.outcome, write.rule_id), (Outcome::Review, None));
    assert_eq!(
        write.summary,
        format!("create or update virtual machine vm1 in resource group rg1 in subscription {SUB}")
    );
}

#[test]
fn role_assignments_and_definitions_are_refused_at_every_scope() {
    let rules = default_pack();
    let scopes = [
        sub(),
        rg("rg1"),
        format!("{}/providers/Microsoft.Storage/storageAccounts/sa1", rg("rg1")),
        "/providers/Microsoft.Management/managementGroups/mg1".to_owned(),
        String::new(),
    ];
    for scope in &scopes {
        let ra = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/ra1");
        let d = azure(&rules, "PUT", &ra, Some("{}"));
        assert_eq!(d.outcome, Outcome::Deny, "{ra}");
        assert_eq!(d.rule_id.as_deref(), Some("azure.role-assignment-write"), "{ra}");
        let d = azure(&rules, "DELETE", &ra, None);
        assert_eq!(d.rule_id.as_deref(), Some("azure.role-assignment-delete"), "{ra}");
        let rd = format!("{scope}/providers/Microsoft.Authorization/roleDefinitions/rd1");
        for method in ["PUT", "DELETE"] {
            let d = azure(&rules, method, &rd, Some("{}"));
            assert_eq!(d.outcome, Outcome::Deny, "{method} {rd}");
            assert_eq!(d.rule_id.as_deref(), Some("azure.role-definition-write"));
        }
    }
    // Reading role assignments is fine.
    let list = format!("{}/providers/Microsoft.Authorization/roleAssignments", sub());
    assert_eq!(azure(&rules, "GET", &list, None).outcome, Outcome::Allow);
}

#[test]
fn each_rule_of_the_pack_fires_where_it_should() {
    let rules = default_pack();
    let p = format!("{}/providers", rg("rg1"));
    let s = sub();
    let cases: Vec<(&str, String, &str, Outcome)> = vec![
        (
            "POST",
            format!("{s}/providers/Microsoft.Subscription/cancel"),
            "azure.subscription-delete",
            Outcome::Review,
        ),
        ("DELETE", format!("{p}/Microsoft.Authorization/locks/l1"), "azure.lock-delete", Outcome::Deny),
        (
            "PUT",
            format!("{s}/providers/Microsoft.Authorization/locks/l1"),
            "azure.lock-write",
            Outcome::Review,
        ),
        (
            "POST",
            format!("{s}/providers/Microsoft.KeyVault/locations/westeurope/deletedVaults/kv1/purge"),
            "azure.keyvault-purge",
            Outcome::Deny,
        ),
        (
            "POST",
            format!("{s}/providers/Microsoft.KeyVault/locations/westeurope/deletedManagedHSMs/h1/purge"),
            "azure.keyvault-purge",
            Outcome::Deny,
        ),
        (
            "POST",
            format!("{p}/Microsoft.Storage/storageAccounts/sa1/regenerateKey"),
            "azure.regenerate-key",
            Outcome::Review,
        ),
        (
            "POST",
            format!("{p}/Microsoft.ServiceBus/namespaces/n/authorizationRules/r/regenerateKeys"),
            "azure.regenerate-key",
            Outcome::Review,
        ),
        (
            "POST",
            "/providers/Microsoft.Authorization/elevateAccess".to_owned(),
            "azure.elevate-access",
            Outcome::Deny,
        ),
        (
            "POST",
            format!("{p}/Microsoft.Storage/storageAccounts/sa1/ListAccountSas"),
            "azure.list-sas",
            Outcome::Allow,
        ),
    ];
    for (method, path, rule, outcome) in cases {
        let d = azure(&rules, method, &path, Some("{}"));
        assert_eq!(d.rule_id.as_deref(), Some(rule), "{method} {path}");
        assert_eq!(d.outcome, outcome, "{method} {path}");
    }
}

#[test]
fn list_keys_is_allowed_with_strict_masking_on_every_provider() {
    let rules = default_pack();
    let p = format!("{}/providers", rg("rg1"));
    for path in [
        format!("{p}/Microsoft.Storage/storageAccounts/sa1/listKeys"),
        format!("{p}/Microsoft.DocumentDB/databaseAccounts/c1/listKeys"),
        format!("{p}/Microsoft.EventHub/namespaces/n/authorizationRules/r/listKeys"),
        format!("{p}/Microsoft.Storage/storageAccounts/sa1/LISTKEYS"),
    ] {
        let d = azure(&rules, "POST", &path, None);
        assert_eq!(d.outcome, Outcome::Allow, "{path}");
        assert_eq!(d.rule_id.as_deref(), Some("azure.list-keys"));
        assert_eq!(d.mask_profile.as_deref(), Some("strict"), "{path}");
    }
    let d = azure(&rules, "POST", &format!("{p}/Microsoft.Storage/storageAccounts/sa1/listKeys"), None);
    assert_eq!(
        d.summary,
        format!("run listKeys on storage account sa1 in resource group rg1 in subscription {SUB}")
    );
}

#[test]
fn security_rules_opening_inbound_to_the_internet_are_refused() {
    let rules = default_pack();
    let rule =
        format!("{}/providers/Microsoft.Network/networkSecurityGroups/nsg1/securityRules/r1", rg("rg1"));
    let open = |prefix: &str| {
        format!(
            r#"{{"properties":{{"direction":"Inbound","access":"Allow","protocol":"Tcp","sourceAddressPrefix":"{prefix}","destinationPortRange":"22","priority":100}}}}"#
        )
    };
    for prefix in ["*", "0.0.0.0/0", "Internet", "internet", "ANY", "::/0"] {
        let d = azure(&rules, "PUT", &rule, Some(&open(prefix)));
        assert_eq!(d.outcome, Outcome::Deny, "{prefix}");
        assert_eq!(d.rule_id.as_deref(), Some("azure.nsg-open-inbound"));
    }
    let prefixes = r#"{"properties":{"direction":"Inbound","access":"Allow","sourceAddressPrefixes":["10.0.0.0/8","0.0.0.0/0"]}}"#;
    let d = azure(&rules, "PUT", &rule, Some(prefixes));
    assert_eq!(d.rule_id.as_deref(), Some("azure.nsg-open-inbound-prefixes"));
    assert_eq!(d.outcome, Outcome::Deny);
    // A narrow source, an outbound rule or a deny rule is an ordinary (reviewed) write.
    for body in [
        open("10.0.0.0/8"),
        open("*").replace("Inbound", "Outbound"),
        open("*").replace("\"Allow\"", "\"Deny\""),
    ] {
        let d = azure(&rules, "PUT", &rule, Some(&body));
        assert_eq!((d.outcome, d.rule_id.clone()), (Outcome::Review, None), "{body}");
    }
    // Without a readable body the write is still reviewed, never allowed.
    assert_eq!(azure(&rules, "PUT", &rule, None).outcome, Outcome::Review);
    assert_eq!(azure(&rules, "PUT", &rule, Some("not json")).outcome, Outcome::Review);
}

#[test]
fn inline_security_rules_of_a_network_security_group_are_checked_too() {
    let nsg = format!("{}/providers/Microsoft.Network/networkSecurityGroups/nsg1", rg("rg1"));
    let body = r#"{"location":"westeurope","properties":{"securityRules":[
        {"name":"ok","properties":{"direction":"Inbound","access":"Allow","sourceAddressPrefix":"10.1.0.0/16"}},
        {"name":"open-rdp","properties":{"direction":"Inbound","access":"Allow","sourceAddressPrefix":"0.0.0.0/0","destinationPortRange":"3389"}}]}}"#;
    let d = azure(&default_pack(), "PUT", &nsg, Some(body));
    assert_eq!(d.outcome, Outcome::Deny);
    assert_eq!(d.rule_id.as_deref(), Some("azure.nsg-open-inbound"));
    assert_eq!(d.inner.len(), 2);
    assert!(d.inner[1].summary.contains("security rule open-rdp"), "{}", d.inner[1].summary);
}

#[test]
fn summaries_neutralise_bidi_and_control_characters_from_names() {
    let d = azure(&default_pack(), "DELETE", &rg("prod\u{202E}gr-ved\u{0008}"), None);
    assert!(!d.summary.contains('\u{202E}') && !d.summary.contains('\u{0008}'));
    assert!(d.summary.contains("prod<U+202E>gr-ved<U+0008>"), "{}", d.summary);
}

#[test]
fn summaries_read_naturally_for_every_kind_of_request() {
    let rules = default_pack();
    let p = format!("{}/providers", rg("rg1"));
    let s = sub();
    let cases = [
        ("POST", "/providers/Microsoft.Authorization/elevateAccess".to_owned(), "run elevateAccess on Microsoft.Authorization".to_owned()),
        ("POST", format!("{s}/providers/Microsoft.Compute/register"), format!("run register on Microsoft.Compute in subscription {SUB}")),
        ("GET", format!("{s}/providers/Microsoft.Compute"), format!("read the registration of provider Microsoft.Compute in subscription {SUB}")),
        ("GET", format!("{p}/Microsoft.Compute/virtualMachines"), format!("list virtual machines in resource group rg1 in subscription {SUB}")),
        ("GET", rg("rg1"), format!("read resource group rg1 in subscription {SUB}")),
        ("GET", format!("{s}/resourcegroups"), format!("list resource groups in subscription {SUB}")),
        ("PATCH", format!("{p}/Microsoft.KeyVault/vaults/kv1"), format!("update vault kv1 in resource group rg1 in subscription {SUB}")),
        ("DELETE", format!("{p}/Microsoft.Storage/storageAccounts/sa1/blobServices/default/containers/c1"),
            format!("delete container c1 of blob service default of storage account sa1 in resource group rg1 in subscription {SUB}")),
        ("PUT", format!("{s}/providers/Microsoft.Authorization/roleAssignments/ra1"), format!("create or update role assignment ra1 in subscription {SUB}")),
        ("PUT", format!("{p}/Microsoft.Storage/storageAccounts/sa1/providers/Microsoft.Authorization/locks/l1"),
            format!("create or update lock l1 on {p}/Microsoft.Storage/storageAccounts/sa1 in resource group rg1 in subscription {SUB}")),
    ];
    for (method, path, expected) in cases {
        assert_eq!(azure(&rules, method, &path, None).summary, expected, "{method} {path}");
    }
}
