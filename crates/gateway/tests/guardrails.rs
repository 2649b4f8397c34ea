//! Steps 5–6 through the gateway: an `azure-arm` connection gets the Azure default rule
//! pack; reads pass, a resource-group delete needs a person (refused until per-request
//! reviews exist), a role-assignment write is denied, and nothing refused reaches ARM.

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
