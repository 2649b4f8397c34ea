//! Reviews: deleting a resource group waits for a person, who approves that exact
//! deletion; it then runs once, and replaying it is held again.

use serde_json::{json, Value};

use super::{require, send, StepResult, World, SUBSCRIPTION};

/// The resource group the agent deletes.
const DOOMED: &str = "staging-rg";

fn delete_path() -> String {
    format!("/azure-demo/subscriptions/{SUBSCRIPTION}/resourcegroups/{DOOMED}?api-version=2021-04-01")
}

async fn delete(world: &World) -> Result<(u16, Value, usize), String> {
    let gw = require(&world.gateway, "the gateway")?;
    let arm = require(&world.arm, "the fake ARM")?;
    let token = require(&world.grant_token, "the grant token")?;
    let before = arm.received().len();
    let (status, body) =
        send(world.http.delete(format!("{}{}", gw.data_url(), delete_path())).bearer_auth(token)).await?;
    Ok((status, body, arm.received().len() - before))
}

pub(super) async fn delete_held(world: &mut World) -> StepResult {
    let (status, body, reached) = delete(world).await?;
    let err = &body["error"];
    if status != 403 || err["code"] != "approval_required" || reached != 0 {
        return Err(format!(
            "expected 403 approval_required with nothing sent to ARM, got {status} {body}, {reached} request(s) reached ARM"
        ));
    }
    let review_id = err["review_id"].as_str().ok_or(format!("no review_id in {body}"))?;
    world.review_id = Some(review_id.to_owned());
    Ok(json!({
        "narration": [
            format!("the agent deletes resource group {DOOMED} → {status} approval_required"),
            format!("what the approver sees: {}", err["summary"].as_str().unwrap_or("")),
            format!("review {review_id}; the agent may wait on {}", err["wait_url"].as_str().unwrap_or("")),
            format!("requests that reached fake ARM: {reached}"),
        ],
        "status": status,
        "code": err["code"],
        "review_id": review_id,
        "summary": err["summary"],
        "rule": err["rule"],
        "reached_target": reached,
    }))
}

pub(super) async fn approve_review(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let id = require(&world.review_id, "the review")?;
    let agent = require(&world.agent_token, "the agent's token")?;
    let alice = require(&world.alice_token, "Alice's token")?;
    let api = format!("http://{}/api/v1", gw.control_addr());
    let (self_status, self_body) =
        send(world.http.post(format!("{api}/reviews/{id}/approve")).bearer_auth(agent).json(&json!({})))
            .await?;
    if self_status != 403 || self_body["error"]["code"] != "self_approval" {
        return Err(format!(
            "the agent approving its own review should be refused, got {self_status} {self_body}"
        ));
    }
    let (status, review) = send(
        world
            .http
            .post(format!("{api}/reviews/{id}/approve"))
            .bearer_auth(alice)
            .json(&json!({"comment": "staging is being rebuilt; ok to delete"})),
    )
    .await?;
    if status != 200 || review["state"] != "approved" {
        return Err(format!("Alice's approval failed: {status} {review}"));
    }
    Ok(json!({
        "narration": [
            format!("the agent approves its own review → {self_status} self_approval"),
            format!("Alice approves review {id} → {}", review["state"]),
            format!("bound to: {} {} (binding {})",
                review["method"].as_str().unwrap_or(""), review["target"].as_str().unwrap_or(""),
                review["binding"].as_str().unwrap_or("")),
        ],
        "state": review["state"],
        "binding": review["binding"],
        "expires_at": review["expires_at"],
    }))
}

pub(super) async fn delete_runs(world: &mut World) -> StepResult {
    let (status, body, reached) = delete(world).await?;
    if !(200..300).contains(&status) || reached != 1 {
        return Err(format!(
            "expected the deletion to pass once, got {status} {body}, {reached} request(s) reached ARM"
        ));
    }
    Ok(json!({
        "narration": [
            format!("the agent sends the same DELETE again → {status} from Azure"),
            format!("requests that reached fake ARM: {reached}"),
        ],
        "status": status,
        "reached_target": reached,
    }))
}

pub(super) async fn delete_replay_refused(world: &mut World) -> StepResult {
    let (status, body, reached) = delete(world).await?;
    let err = &body["error"];
    if status != 403 || err["code"] != "approval_required" || reached != 0 {
        return Err(format!(
            "expected the replay to be held again (403 approval_required), got {status} {body}, {reached} reached ARM"
        ));
    }
    let first = require(&world.review_id, "the review")?;
    let new = err["review_id"].as_str().unwrap_or("");
    if new == first {
        return Err(format!("the replay was bound to the spent review {first}"));
    }
    Ok(json!({
        "narration": [
            format!("the agent replays the approved DELETE → {status} approval_required"),
            format!("the approval of review {first} was spent; this needs a new review ({new})"),
            format!("requests that reached fake ARM: {reached}"),
        ],
        "status": status,
        "code": err["code"],
        "new_review_id": new,
        "reached_target": reached,
    }))
}

pub(super) async fn list(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let arm = require(&world.arm, "the fake ARM")?;
    let token = require(&world.grant_token, "the grant token")?;
    let url = format!(
        "{}/azure-demo/subscriptions/{SUBSCRIPTION}/resourcegroups?api-version=2021-04-01",
        gw.data_url()
    );
    let before = arm.received().len();
    let (status, body) = send(world.http.get(url).bearer_auth(token)).await?;
    let groups: Vec<&str> =
        body["value"].as_array().into_iter().flatten().filter_map(|g| g["name"].as_str()).collect();
    let reached = arm.received();
    let forwarded = reached.get(before).ok_or("nothing reached fake ARM")?;
    let auth =
        forwarded.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.as_str()).unwrap_or("");
    if status != 200 || groups.is_empty() || auth.contains(token.as_str()) {
        return Err(format!(
            "expected the resource groups with a connector-minted token, got {status} {body}"
        ));
    }
    Ok(json!({
        "narration": [
            format!("the agent lists resource groups with its grant token → {status}: {groups:?}"),
            "fake ARM accepted the call: the connector injected a token it minted from Entra ID".to_owned(),
            "the agent's own token never reached ARM".to_owned(),
        ],
        "status": status,
        "resource_groups": groups,
    }))
}

pub(super) async fn list_keys_masked(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let token = require(&world.grant_token, "the grant token")?;
    let _ = require(&world.arm, "the fake ARM")?;
    let keys = &world.storage_keys;
    let url = format!(
        "{}/azure-demo/subscriptions/{SUBSCRIPTION}/resourceGroups/prod-rg/providers/Microsoft.Storage/storageAccounts/{}/listKeys?api-version=2023-05-01",
        gw.data_url(),
        super::STORAGE_ACCOUNT
    );
    let resp = world.http.post(url).bearer_auth(token).send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let request_id =
        resp.headers().get("x-portcullis-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let leaked = keys.is_empty() || keys.iter().any(|k| text.contains(k.as_str()));
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let shown: Vec<&str> =
        body["keys"].as_array().into_iter().flatten().filter_map(|k| k["value"].as_str()).collect();
    if status != 200 || leaked || shown.len() != 2 {
        return Err(format!("expected two masked keys, got {status} {text} (leaked: {leaked})"));
    }
    Ok(json!({
        "narration": [
            format!("the agent reads the storage account keys → {status}"),
            format!("what the agent sees: {shown:?}"),
            format!("masked values: {} (profile strict, rule azure.list-keys); the real keys never left the gateway", shown.len()),
        ],
        "status": status,
        "masked_values": shown.len(),
        "shown": shown,
        "request_id": request_id,
    }))
}
