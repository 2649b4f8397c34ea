//! Steps 5–6 through the gateway: an `azure-arm` connection gets the Azure default rule
//! pack; reads pass, a resource-group delete needs a person (`approval_required`), a
//! role-assignment write is denied, and nothing refused reaches ARM. Rules reload all or
//! none, audited.

mod common;

use common::{gateway, Upstream};
use serde_json::Value;

#[tokio::test]
async fn azure_default_rules_decide_every_request() {
    let up = Upstream::start().await;
    let extra =
        format!("[[connections]]\nname = \"arm\"\nkind = \"azure-arm\"\nupstream = \"{}\"\n", up.url());
    let h = gateway(&up, &extra).await;
    let client = reqwest::Client::new();
    let sub = "/arm/subscriptions/0000";

    let read =
        client.get(h.url(&format!("{sub}/resourcegroups?api-version=2021-04-01"))).send().await.unwrap();
    assert_eq!(read.status(), 200);

    let delete = client
        .delete(h.url(&format!("{sub}/resourceGroups/prod-rg?api-version=2021-04-01")))
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    let body: Value = delete.json().await.unwrap();
    assert_eq!(body["error"]["code"], "approval_required");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("delete resource group prod-rg") && message.contains("azure.rg-delete"),
        "{message}"
    );

    // ARM is case-insensitive: so are the rules.
    let shouty = client
        .delete(h.url(&format!("{sub}/RESOURCEGROUPS/prod-rg?api-version=2021-04-01")))
        .send()
        .await
        .unwrap();
    assert_eq!(shouty.status(), 403);

    let ra = format!("{sub}/providers/Microsoft.Authorization/roleAssignments/11111111-2222-3333-4444-555555555555?api-version=2022-04-01");
    let write = client.put(h.url(&ra)).json(&serde_json::json!({"properties": {}})).send().await.unwrap();
    assert_eq!(write.status(), 403);
    let body: Value = write.json().await.unwrap();
    assert_eq!(body["error"]["code"], "denied");

    let seen = up.received();
    assert_eq!(seen.len(), 1, "only the read reached the target: {seen:?}");
    assert_eq!(seen[0].method, "GET");

    // An http connection without rules is not decided by the Azure pack.
    let post = client.post(h.url("/up/echo")).body("x").send().await.unwrap();
    assert_eq!(post.status(), 200);
    h.gateway.shutdown().await;
}

/// Rules reload all or none, and every attempt is in the audit log with the digest of
/// what decides from then on.
#[tokio::test]
async fn rules_reload_swaps_every_connection_at_once_and_is_audited() {
    let up = Upstream::start().await;
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = rules_dir.path().join("http-rules.toml");
    let allow_deletes = "[defaults]\nread = \"allow\"\nwrite = \"allow\"\n";
    std::fs::write(&rules, allow_deletes).unwrap();
    let extra = format!(
        "[[connections]]\nname = \"crm\"\nupstream = \"{}\"\nrules = [{:?}]\n",
        up.url(),
        rules.display().to_string()
    );
    let h = gateway(&up, &extra).await;
    let client = reqwest::Client::new();
    let delete = || client.delete(h.url("/crm/v1/users/7")).send();
    assert_eq!(delete().await.unwrap().status(), 200, "the first rules allow deletes");

    // A broken file: nothing changes, and the refusal is recorded.
    std::fs::write(&rules, "[[rule]]\nid = \"users.delete\"\ndecision = \"sometimes\"\n").unwrap();
    let err = h.gateway.reload_rules("test").await.unwrap_err().to_string();
    assert!(err.contains("connection crm") && err.contains("http-rules.toml"), "{err}");
    assert_eq!(delete().await.unwrap().status(), 200, "a refused reload keeps the rules in force");

    // A good file: in force for the next request.
    let deny = "[defaults]\nread = \"allow\"\nwrite = \"allow\"\n\n[[rule]]\nid = \"users.delete\"\n\
                decision = \"deny\"\ndescription = \"users are never deleted by agents\"\n\
                methods = [\"DELETE\"]\npaths = [\"/v1/users/*\"]\n";
    std::fs::write(&rules, deny).unwrap();
    let items = h.gateway.reload_rules("test").await.unwrap();
    let crm = items.iter().find(|c| c.connection == "crm").unwrap();
    assert_eq!(crm.rules, 1);
    let digest = crm.digest.clone().unwrap();
    let refused = delete().await.unwrap();
    assert_eq!(refused.status(), 403);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "denied");
    assert!(body["error"]["message"].as_str().unwrap().contains("users.delete"), "{body}");
    let up_rules = items.iter().find(|c| c.connection == "up").unwrap();
    assert_eq!(
        (up_rules.rules, up_rules.digest.as_deref()),
        (0, None),
        "guardrails stay off where none are named"
    );

    // The log: the rules loaded at start, the refused reload, the applied one.
    let store = h.gateway.store();
    let reloads: Vec<Value> = common::audit_events(&store, "config_reload").await;
    let outcomes: Vec<&str> = reloads.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["success", "failure", "success"], "{reloads:?}");
    let details: Vec<&str> = reloads.iter().map(|e| e["detail"].as_str().unwrap()).collect();
    assert!(details[0].starts_with("by start: "), "{details:?}");
    assert!(details[1].starts_with("by test: connection crm: "), "{details:?}");
    assert!(details[2].contains(&format!("crm: 1 rules ({digest})")), "{details:?}");
    assert_ne!(reloads[0]["digest"], reloads[2]["digest"]);
    h.gateway.shutdown().await;
}
