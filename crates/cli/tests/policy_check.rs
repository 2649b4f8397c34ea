//! `portcullis policy check` runs the gateway's canonicalizer and guardrail decision
//! offline.

use std::process::Command;

fn check(args: &[&str]) -> serde_json::Value {
    let out =
        Command::new(env!("CARGO_BIN_EXE_portcullis")).args(["policy", "check"]).args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

const ARM: &str = "https://management.azure.com";

#[test]
fn decides_like_the_gateway() {
    let rg = format!("{ARM}/subscriptions/0000/resourceGroups/prod-rg?api-version=2021-04-01");
    let d = check(&["--default-azure", "--method", "DELETE", "--url", &rg]);
    assert_eq!(d["decision"], "review");
    assert_eq!(d["rule"], "azure.rg-delete");
    assert_eq!(d["action"], "Microsoft.Resources/subscriptions/resourceGroups/delete");

    // ARM is case-insensitive, and so is the decision.
    let upper = format!("{ARM}/SUBSCRIPTIONS/0000/RESOURCEGROUPS/prod-rg?api-version=2021-04-01");
    assert_eq!(check(&["--default-azure", "--method", "DELETE", "--url", &upper])["rule"], "azure.rg-delete");

    let ra = format!(
        "{ARM}/subscriptions/0000/providers/Microsoft.Authorization/roleAssignments/1?api-version=2022-04-01"
    );
    assert_eq!(check(&["--default-azure", "--method", "PUT", "--url", &ra])["decision"], "deny");

    let list = format!("{ARM}/subscriptions/0000/resourcegroups?api-version=2021-04-01");
    assert_eq!(check(&["--default-azure", "--method", "GET", "--url", &list])["decision"], "allow");
}

#[test]
fn batch_is_unpacked_and_ambiguity_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let body = dir.path().join("batch.json");
    std::fs::write(
        &body,
        r#"{"requests":[{"httpMethod":"DELETE","url":"/subscriptions/0/resourceGroups/x?api-version=2021-04-01"}]}"#,
    )
    .unwrap();
    let d = check(&[
        "--default-azure",
        "--method",
        "POST",
        "--url",
        &format!("{ARM}/batch?api-version=2020-06-01"),
        "--body",
        body.to_str().unwrap(),
    ]);
    assert_eq!(d["decision"], "review", "a hidden delete makes the batch need review: {d}");
    assert_eq!(d["inner"][0]["rule"], "azure.rg-delete");

    let sneaky = format!("{ARM}/subscriptions/0000/resourceGroups/a%2F..%2Fb?api-version=1");
    let d = check(&["--default-azure", "--method", "DELETE", "--url", &sneaky]);
    assert_eq!(d["decision"], "reject");
    assert_eq!(d["reason"], "encoded_separator");
}
