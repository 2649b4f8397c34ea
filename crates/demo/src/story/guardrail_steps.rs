//! Guardrails: a role-assignment write is denied even under an approved grant.

use serde_json::json;

use super::{require, send, StepResult, World, SUBSCRIPTION};

pub(super) async fn role_assignment_denied(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let arm = require(&world.arm, "the fake ARM")?;
    let token = require(&world.grant_token, "the grant token")?;
    let path = format!(
        "/azure-demo/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleAssignments/\
         6f1c9a52-0d4e-4b8a-9c1d-2e3f4a5b6c7d?api-version=2022-04-01"
    );
    let body = json!({"properties": {
        "roleDefinitionId": format!("/subscriptions/{SUBSCRIPTION}/providers/Microsoft.Authorization/roleDefinitions/8e3af657-a8ff-443c-a75c-2fe8c4bcb635"),
        "principalId": "00000000-0000-0000-0000-00000000beef"
    }});
    let before = arm.received().len();
    let (status, answer) =
        send(world.http.put(format!("{}{path}", gw.data_url())).bearer_auth(token).json(&body)).await?;
    let reached = arm.received().len() - before;
    if status != 403 || answer["error"]["code"] != "denied" || reached != 0 {
        return Err(format!("expected 403 denied with nothing sent to ARM, got {status} {answer}, {reached} request(s) reached ARM"));
    }
    Ok(json!({
        "narration": [
            "the agent, with its approved operate grant, tries to make a principal Owner of the subscription".to_owned(),
            format!("→ {status} denied: {}", answer["error"]["message"].as_str().unwrap_or("")),
            format!("requests that reached fake ARM: {reached}"),
        ],
        "status": status,
        "code": answer["error"]["code"],
        "reached_target": reached,
    }))
}
