//! The connector's credential never reached the agent: the tokens fake ARM accepted were
//! minted by the connector (attached through the tunnel) from its own app's secret, and
//! neither that secret nor any minted token appears in anything the agent received or in
//! the gateway's database.

use serde_json::json;
use sqlx::Row;

use super::{claims, require, StepResult, World, SUBSCRIPTION};

pub(super) async fn credential_never_seen(world: &mut World) -> StepResult {
    let gw = require(&world.gateway, "the gateway")?;
    let arm = require(&world.arm, "the fake ARM")?;
    let secret = require(&world.connector_secret, "the connector's secret")?;
    let grant_token = require(&world.grant_token, "the grant token")?;
    let idp = require(&world.idp, "the fake Entra ID")?;
    let app = idp.agent(super::CONNECTOR_APP).ok_or("the connector's app is not registered")?.client_id;

    // The agent's view of one call: everything it receives, head and body.
    let url = format!(
        "{}/azure-demo/subscriptions/{SUBSCRIPTION}/resourcegroups?api-version=2021-04-01",
        gw.data_url()
    );
    let resp = world.http.get(url).bearer_auth(grant_token).send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let mut seen_by_agent: String =
        resp.headers().iter().map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or(""))).collect();
    seen_by_agent.push_str(&resp.text().await.map_err(|e| e.to_string())?);

    // What ARM received from the gateway: tokens the connector minted.
    let minted: Vec<String> = arm
        .received()
        .iter()
        .filter_map(|r| r.headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone()))
        .filter_map(|v| v.strip_prefix("Bearer ").map(str::to_owned))
        .filter(|t| claims(t)["appid"].as_str() == Some(app.as_str()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    if minted.is_empty() {
        return Err("fake ARM received no connector-minted token".into());
    }
    let agent_at_arm = arm
        .received()
        .iter()
        .any(|r| r.headers.iter().any(|(k, v)| k == "authorization" && (v.contains(grant_token.as_str()))));

    // Everything stored in the gateway's database, every table, every text column.
    let stored = database_text(world).await?;
    let mut leaks = Vec::new();
    for (what, needle) in std::iter::once(("the connector's client secret", secret.as_str()))
        .chain(minted.iter().map(|t| ("a minted ARM token", t.as_str())))
    {
        if seen_by_agent.contains(needle) {
            leaks.push(format!("{what} in a response to the agent"));
        }
        if stored.contains(needle) {
            leaks.push(format!("{what} in the gateway's database"));
        }
    }
    if status != 200 || agent_at_arm || !leaks.is_empty() {
        return Err(format!(
            "status {status}; the agent's grant token reached ARM: {agent_at_arm}; leaks: {leaks:?}"
        ));
    }
    Ok(json!({
        "narration": [
            format!("fake ARM accepted {} distinct token(s) minted by the connector for its own app {app}, each sent through the tunnel", minted.len()),
            "the agent's grant token never reached ARM; the gateway removed it and injected its own".to_owned(),
            format!("searched {} bytes the agent received and {} bytes of the gateway's database: no client secret, no minted token", seen_by_agent.len(), stored.len()),
        ],
        "minted_tokens": minted.len(),
        "agent_token_reached_target": agent_at_arm,
        "leaks": leaks,
    }))
}

async fn database_text(world: &World) -> Result<String, String> {
    let gw = require(&world.gateway, "the gateway")?;
    let pool = gw.store().pool().clone();
    let tables: Vec<String> = sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table'")
        .fetch_all(&pool)
        .await
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    for table in tables {
        let rows = sqlx::query(&format!("SELECT * FROM \"{}\"", table.replace('"', "")))
            .fetch_all(&pool)
            .await
            .map_err(|e| e.to_string())?;
        for row in rows {
            for i in 0..row.columns().len() {
                if let Ok(Some(text)) = row.try_get::<Option<String>, _>(i) {
                    out.push_str(&text);
                    out.push('\n');
                } else if let Ok(Some(bytes)) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    out.push_str(&String::from_utf8_lossy(&bytes));
                    out.push('\n');
                }
            }
        }
    }
    Ok(out)
}
