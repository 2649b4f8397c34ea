//! Just-in-time access: refused without a grant, a request, self-approval refused, a
//! person approves, and revocation.

use serde_json::json;

use super::gateway_step::resource_groups_path;
use super::{require, send, StepResult, World};

fn urls(world: &World) -> Result<(String, String), String> {
    let gw = require(&world.gateway, "the gateway")?;
    Ok((gw.data_url(), format!("http://{}/api/v1", gw.control_addr())))
}

pub(super) async fn no_grant(world: &mut World) -> StepResult {
    let (base, _) = urls(world)?;
    let token = require(&world.agent_token, "the agent's token")?;
    let url = format!("{base}{}", resource_groups_path());
    let (anonymous, _) = send(world.http.get(&url)).await?;
    let (status, body) = send(world.http.get(&url).bearer_auth(token)).await?;
    if anonymous != 401 || status != 403 || body["error"]["code"] != "access_required" {
        return Err(format!(
            "expected 401 without a token and 403 access_required with one, got {anonymous}, {status} {body}"
        ));
    }
    Ok(json!({
        "narration": [
            format!("without a token: {anonymous}"),
            format!("with the agent's valid Entra token but no grant: {status} access_required"),
            format!("the answer tells the agent how to ask: {} levels {}", body["error"]["request_url"], body["error"]["levels"]),
        ],
        "unauthenticated_status": anonymous,
        "status": status,
        "refusal": body["error"],
    }))
}

pub(super) async fn request_access(world: &mut World) -> StepResult {
    let (_, api) = urls(world)?;
    let token = require(&world.agent_token, "the agent's token")?;
    let (status, req) =
        send(world.http.post(format!("{api}/access-requests")).bearer_auth(token).json(&json!({
            "connection": "azure-demo",
            "level": "operate",
            "duration": "15m",
            "reason": "clean up the staging resource group",
            "ticket": "CHG-1042",
        })))
        .await?;
    if status != 201 || req["state"] != "pending" {
        return Err(format!("expected a pending request, got {status} {req}"));
    }
    world.request_id = req["id"].as_str().map(str::to_owned);
    Ok(json!({
        "narration": [
            format!("request {} for `operate` on azure-demo for 15 minutes: {}", req["id"], req["state"]),
            format!("it needs {} approval(s) from a person the policy allows", req["required_approvals"]),
        ],
        "request": { "id": req["id"], "state": req["state"], "level": req["level"], "required_approvals": req["required_approvals"] },
    }))
}

pub(super) async fn self_approve_refused(world: &mut World) -> StepResult {
    let (_, api) = urls(world)?;
    let token = require(&world.agent_token, "the agent's token")?;
    let id = require(&world.request_id, "the access request")?;
    let (status, body) = send(
        world.http.post(format!("{api}/access-requests/{id}/approve")).bearer_auth(token).json(&json!({})),
    )
    .await?;
    let (_, still) = send(world.http.get(format!("{api}/access-requests/{id}")).bearer_auth(token)).await?;
    if status != 403 || body["error"]["code"] != "self_approval" || still["state"] != "pending" {
        return Err(format!(
            "expected 403 self_approval and a still pending request, got {status} {body}, {}",
            still["state"]
        ));
    }
    Ok(json!({
        "narration": [
            format!("the agent approves its own request → {status} {}", body["error"]["code"].as_str().unwrap_or("")),
            format!("the request is still {}: no policy can allow self-approval", still["state"]),
        ],
        "status": status,
        "code": body["error"]["code"],
    }))
}

pub(super) async fn approve_access(world: &mut World) -> StepResult {
    let (_, api) = urls(world)?;
    let alice = require(&world.alice_token, "Alice's token")?;
    let agent = require(&world.agent_token, "the agent's token")?;
    let id = require(&world.request_id, "the access request")?;
    let (status, approved) = send(
        world
            .http
            .post(format!("{api}/access-requests/{id}/approve"))
            .bearer_auth(alice)
            .json(&json!({"comment": "ok for CHG-1042"})),
    )
    .await?;
    let grant_id =
        approved["grant_id"].as_str().map(str::to_owned).ok_or(format!("no grant: {status} {approved}"))?;
    let (token_status, token) =
        send(world.http.post(format!("{api}/grants/{grant_id}/token")).bearer_auth(agent).json(&json!({})))
            .await?;
    let grant_token = token["token"]
        .as_str()
        .map(str::to_owned)
        .ok_or(format!("no grant token: {token_status} {token}"))?;
    world.grant_id = Some(grant_id.clone());
    world.grant_token = Some(grant_token);
    Ok(json!({
        "narration": [
            format!("Alice (group ops) approves → {}, grant {grant_id}", approved["state"]),
            format!("the agent exchanges its Entra token for a grant token that expires {}", token["expires_at"]),
        ],
        "state": approved["state"],
        "grant_id": grant_id,
        "grant_token_expires_at": token["expires_at"],
    }))
}

pub(super) async fn revoke(world: &mut World) -> StepResult {
    let (base, api) = urls(world)?;
    let alice = require(&world.alice_token, "Alice's token")?;
    let grant_token = require(&world.grant_token, "the grant token")?;
    let grant_id = require(&world.grant_id, "the grant")?;
    let url = format!("{base}{}", resource_groups_path());
    let (before, before_body) = send(world.http.get(&url).bearer_auth(grant_token)).await?;
    let (revoked, _) = send(
        world
            .http
            .post(format!("{api}/grants/{grant_id}/revoke"))
            .bearer_auth(alice)
            .json(&json!({"comment": "done"})),
    )
    .await?;
    let (after, after_body) = send(world.http.get(&url).bearer_auth(grant_token)).await?;
    // The gateway's own refusals carry these codes; anything else came from the target.
    let code = before_body["error"]["code"].as_str().unwrap_or("");
    let passed_gateway = !matches!(code, "access_required" | "unauthenticated");
    if revoked != 200 || after != 403 || after_body["error"]["code"] != "access_required" || !passed_gateway {
        return Err(format!("expected the call to pass the gateway before and get 403 after, got {before}, revoke {revoked}, {after} {after_body}"));
    }
    Ok(json!({
        "narration": [
            format!("with the grant, the call goes through to Azure → {before}"),
            format!("Alice revokes the grant → {revoked}"),
            format!("the same call right after → {after} access_required"),
        ],
        "before": before,
        "revoke_status": revoked,
        "after": after,
    }))
}
