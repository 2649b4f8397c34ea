//! The `idp` and `arm` steps: the sandbox's fakes, started and proven to work.

use portcullis_sandbox::{Agent, FakeArm, FakeEntra, Human, StorageAccount};
use serde_json::{json, Value};

use super::{agent_token, arm_scope, claims, StepResult, World, STORAGE_ACCOUNT, SUBSCRIPTION, TENANT};

pub(super) async fn idp(world: &mut World) -> StepResult {
    let idp = FakeEntra::builder()
        .tenant(TENANT)
        .agent(Agent::new("deploy-agent").groups(["agents"]))
        .agent(Agent::new(super::CONNECTOR_APP))
        .human(Human::new("Alice Approver", "alice@contoso.example"))
        .start()
        .await
        .map_err(|e| format!("starting the fake Entra ID: {e}"))?;
    let discovery: Value = world
        .http
        .get(idp.discovery_url_v2())
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    world.idp = Some(idp);
    let token = agent_token(world, &arm_scope()).await?;
    let c = claims(&token);
    Ok(json!({
        "narration": [
            format!("Fake Entra ID for tenant {TENANT} at {}", world.idp.as_ref().map(|i| i.url()).unwrap_or_default()),
            format!("issuer {}", discovery["issuer"].as_str().unwrap_or("?")),
            format!("agent `deploy-agent` got a token: aud={} appid={} tid={}", c["aud"], c["appid"], c["tid"]),
        ],
        "issuer": discovery["issuer"],
        "jwks_uri": discovery["jwks_uri"],
        "token_claims": { "aud": c["aud"], "tid": c["tid"], "appid": c["appid"], "ver": c["ver"] },
    }))
}

pub(super) async fn arm(world: &mut World) -> StepResult {
    let idp = world.idp.as_ref().ok_or("the idp step did not run")?;
    let account = StorageAccount::new("prod-rg", STORAGE_ACCOUNT);
    world.storage_keys = account.keys.to_vec();
    let arm = FakeArm::builder(idp)
        .subscription(SUBSCRIPTION, "Contoso Production")
        .resource_group("prod-rg", "westeurope")
        .resource_group("staging-rg", "westeurope")
        .storage_account(account)
        .start()
        .await
        .map_err(|e| format!("starting the fake ARM: {e}"))?;
    let url = format!("{}/subscriptions/{SUBSCRIPTION}/resourcegroups?api-version=2022-09-01", arm.url());
    let anonymous = world.http.get(&url).send().await.map_err(|e| e.to_string())?;
    let anonymous_status = anonymous.status().as_u16();
    let anonymous_body: Value = anonymous.json().await.unwrap_or(Value::Null);
    world.arm = Some(arm);
    let token = agent_token(world, &arm_scope()).await?;
    let resp = world.http.get(&url).bearer_auth(&token).send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body: Value = resp.json().await.map_err(|e| e.to_string())?;
    let groups: Vec<&str> =
        body["value"].as_array().into_iter().flatten().filter_map(|g| g["name"].as_str()).collect();
    if anonymous_status != 401 || status != 200 {
        return Err(format!(
            "expected 401 without a token and 200 with one, got {anonymous_status} and {status}"
        ));
    }
    Ok(json!({
        "narration": [
            format!("Fake ARM at {}", world.arm.as_ref().map(|a| a.url()).unwrap_or_default()),
            format!("without a token: {anonymous_status} {}", anonymous_body["error"]["code"].as_str().unwrap_or("")),
            format!("with an Entra token: {status}, resource groups {groups:?}"),
        ],
        "anonymous_status": anonymous_status,
        "status": status,
        "resource_groups": groups,
    }))
}
