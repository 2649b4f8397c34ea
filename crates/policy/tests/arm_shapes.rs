//! Table-driven: hundreds of real ARM request shapes, each mapped to the RBAC action Azure
//! checks for it (tests/data/arm_shapes.txt).

use portcullis_policy::{classify, Access, RequestFacts};

const TABLE: &str = include_str!("data/arm_shapes.txt");
const S: &str = "/subscriptions/00000000-0000-0000-0000-000000000001";

fn expand(path: &str) -> String {
    let rg = format!("{S}/resourceGroups/rg1");
    let p = format!("{rg}/providers");
    path.replace("$P", &p).replace("$RG", &rg).replace("$S", S)
}

fn rows() -> Vec<(String, String, String)> {
    TABLE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let parts: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(parts.len(), 3, "bad table row: {l}");
            (parts[0].to_owned(), expand(parts[1]), parts[2].to_owned())
        })
        .collect()
}

#[test]
fn every_shape_gets_the_action_azure_checks() {
    let rows = rows();
    assert!(rows.len() >= 300, "table has {} rows", rows.len());
    let query = vec![("api-version".to_owned(), "2023-01-01".to_owned())];
    let mut failures = Vec::new();
    for (method, path, expected) in &rows {
        let req = RequestFacts { method, path, query: &query, body: None };
        let got = classify(&req);
        let got_action = got.action.clone().unwrap_or_else(|| "UNKNOWN".to_owned());
        if &got_action != expected {
            failures.push(format!("{method} {path}\n   expected {expected}\n   got      {got_action}"));
            continue;
        }
        if expected == "UNKNOWN" {
            assert_eq!(got.access, Access::Unknown, "{method} {path}");
        } else {
            assert_eq!(got.api_version.as_deref(), Some("2023-01-01"));
            let read = expected.ends_with("/read");
            assert_eq!(got.access == Access::Read, read, "{method} {path}");
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} shapes misclassified:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn every_casing_of_a_shape_gets_the_same_action() {
    for (method, path, expected) in rows() {
        let variants = [path.to_ascii_uppercase(), path.to_ascii_lowercase()];
        for variant in &variants {
            let req =
                RequestFacts { method: &method.to_ascii_lowercase(), path: variant, query: &[], body: None };
            let got = classify(&req).action.unwrap_or_else(|| "UNKNOWN".to_owned());
            assert!(
                got.eq_ignore_ascii_case(&expected),
                "{method} {variant}: expected {expected}, got {got}"
            );
        }
    }
}

#[test]
fn resource_ids_are_split_into_their_parts() {
    let path = format!(
        "{S}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1/blobServices/default/containers/c1"
    );
    let req = RequestFacts { method: "DELETE", path: &path, query: &[], body: None };
    let got = classify(&req);
    let r = got.resource.expect("an ARM resource");
    assert_eq!(r.subscription.as_deref(), Some("00000000-0000-0000-0000-000000000001"));
    assert_eq!(r.resource_group.as_deref(), Some("rg1"));
    assert_eq!(r.namespace, "Microsoft.Storage");
    assert_eq!(r.types, ["storageAccounts", "blobServices", "containers"]);
    assert_eq!(r.names, ["sa1", "default", "c1"]);
    assert_eq!(r.id, path);
    assert_eq!(r.scope.as_deref(), Some(format!("{S}/resourceGroups/rg1").as_str()));

    // An extension resource: a role assignment on a storage account.
    let sa = format!("{S}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/sa1");
    let path = format!("{sa}/providers/Microsoft.Authorization/roleAssignments/ra1");
    let req = RequestFacts { method: "PUT", path: &path, query: &[], body: None };
    let got = classify(&req);
    let r = got.resource.expect("an ARM resource");
    assert_eq!(r.namespace, "Microsoft.Authorization");
    assert_eq!(r.scope.as_deref(), Some(sa.as_str()));

    // An action: the resource id stops before the action segment.
    let path = format!("{sa}/listKeys");
    let req = RequestFacts { method: "POST", path: &path, query: &[], body: None };
    let got = classify(&req);
    assert_eq!(got.operation.as_deref(), Some("listKeys"));
    assert_eq!(got.resource.map(|r| r.id), Some(sa));
}

#[test]
fn operation_polling_urls_are_reads() {
    for path in [
        format!("{S}/providers/Microsoft.Compute/locations/westeurope/operations/abc"),
        format!("{S}/operationresults/eyJqb2JJZCI6IlJFU09VUkNF"),
        format!("{S}/providers/Microsoft.Storage/locations/westeurope/asyncoperations/op1"),
        format!("{S}/resourceGroups/rg1/providers/Microsoft.Web/sites/app1/operationStatuses/op1"),
    ] {
        let req = RequestFacts { method: "GET", path: &path, query: &[], body: None };
        let got = classify(&req);
        assert_eq!(got.access, Access::Read, "{path}");
        assert!(got.polling, "{path}");
    }
}
