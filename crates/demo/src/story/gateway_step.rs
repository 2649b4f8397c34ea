//! The `gateway` step: the gateway starts with the fake Entra ID as its identity
//! provider, a connector dials in through the tunnel (it alone holds the Azure credential),
//! and the gateway proxies a request to a local upstream under a grant a policy approved.

use serde_json::json;

use super::{agent_token, alice_token, require, send, StepResult, World, GATEWAY_AUDIENCE};

/// The connector's name: the gateway's `azure-demo` connection names it.
pub(super) const CONNECTOR_NAME: &str = "demo-connector";

/// Waits (bounded) until the connector's tunnel is up; describes it.
async fn wait_attached(gw: &portcullis_gateway::RunningGateway) -> Result<String, String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        if let Some(c) = gw.connectors().into_iter().find(|c| c.name == CONNECTOR_NAME && c.connected) {
            return Ok(format!("key id {}, serving {:?}", c.id, c.connections));
        }
        if tokio::time::Instant::now() > deadline {
            return Err("the connector did not attach within 15 s".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// Who may request, who approves, and what is approved without a person. `Portcullis`
/// is the Cedar schema shipped with the access crate.
const DEMO_POLICIES: &str = r#"
@id("agents-may-request")
permit (principal in Portcullis::Group::"agents", action == Portcullis::Action::"request", resource)
when { ["read", "operate"].contains(context.level) };

@id("ops-approve")
permit (principal in Portcullis::Group::"ops", action == Portcullis::Action::"approve", resource);

@id("echo-read-is-automatic")
permit (
  principal in Portcullis::Group::"agents",
  action == Portcullis::Action::"auto_approve",
  resource == Portcullis::Connection::"echo"
)
when { context.level == "read" };
"#;

pub(super) async fn gateway(world: &mut World) -> StepResult {
    let idp = require(&world.idp, "the fake Entra ID")?;
    let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary folder: {e}"))?;
    std::fs::write(dir.path().join("access.cedar"), DEMO_POLICIES).map_err(|e| e.to_string())?;
    let echo = crate::echo::start().await.map_err(|e| format!("starting the echo upstream: {e}"))?;
    let arm_url =
        world.arm.as_ref().map(|a| a.url().to_owned()).unwrap_or_else(|| "http://127.0.0.1:9".into());
    // The gateway holds no Azure credential: only a one-time token a connector enrolls with.
    let enrollment = format!("demo-{}", uuid::Uuid::new_v4().simple());
    std::fs::write(dir.path().join("enrollment-tokens"), &enrollment).map_err(|e| e.to_string())?;
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[listeners.tunnel]
addr = "127.0.0.1:0"
[tunnel]
enrollment_tokens_file = "enrollment-tokens"
[[identity.issuers]]
issuer = "{issuer}"
audiences = ["{GATEWAY_AUDIENCE}"]
discovery_url = "{discovery}"
entra = {{ tenants = ["{tenant}"] }}
[access]
policy_files = ["access.cedar"]
[access.connections.azure-demo]
levels = ["read", "operate", "admin"]
max_duration = "1h"
[access.connections.echo]
levels = ["read"]
max_duration = "1h"
[[connections]]
name = "azure-demo"
kind = "azure-arm"
upstream = "{arm_url}"
connector = "{CONNECTOR_NAME}"
[[connections]]
name = "echo"
upstream = "http://{echo}"
"#,
        issuer = idp.issuer_v2(),
        discovery = idp.discovery_url_v2(),
        tenant = idp.tenant(),
    );
    let config =
        portcullis_gateway::Config::from_toml(&toml, &dir.path().join("portcullis.toml"), std::iter::empty())
            .map_err(|e| e.to_string())?;
    let gw = portcullis_gateway::start(config).await.map_err(|e| format!("starting the gateway: {e}"))?;
    let tunnel = gw.tunnel_addr().ok_or("the gateway has no tunnel listener")?;
    let ca = gw.tunnel_ca().ok_or("the gateway made no tunnel CA")?.to_owned();
    let (task, site) = super::connector_site::start(idp, &arm_url, tunnel, &ca, &enrollment).await?;
    world.connector_secret = Some(site.secret.clone());
    world.connector = Some((task, site.dir));
    let attached = wait_attached(&gw).await?;
    let base = gw.data_url();
    let control = format!("http://{}", gw.control_addr());
    world.alice_token = Some(alice_token(idp)?);
    world.gateway = Some(gw);
    world.dir = Some(dir);
    let token = agent_token(world, &format!("{GATEWAY_AUDIENCE}/.default")).await?;
    world.agent_token = Some(token.clone());

    let (anonymous, _) = send(world.http.get(format!("{base}/echo/hello"))).await?;
    let (req_status, req) =
        send(world.http.post(format!("{control}/api/v1/access-requests")).bearer_auth(&token).json(
            &json!({"connection": "echo", "level": "read", "duration": "30m", "reason": "smoke test"}),
        ))
        .await?;
    let (status, echoed) = send(
        world
            .http
            .get(format!("{base}/echo/hello%20world?api-version=2024-01-01&$filter=name+eq+'x'"))
            .bearer_auth(&token),
    )
    .await?;
    let (refused_status, refused) =
        send(world.http.get(format!("{base}/echo/a%2Fb")).bearer_auth(&token)).await?;
    let ok = anonymous == 401
        && req_status == 201
        && req["state"] == "approved"
        && status == 200
        && echoed["authorization_header_received"] == json!(false)
        && refused_status == 400;
    if !ok {
        return Err(format!(
            "unexpected: anonymous {anonymous}, access request {req_status} {req}, proxied {status} {echoed}, \
             ambiguous {refused_status}"
        ));
    }
    let decided_by = req["decision"]["policies"].clone();
    Ok(json!({
        "narration": [
            format!("gateway data listener {base}, control {control}; SQLite store and audit log in a temp folder"),
            format!("connector `{CONNECTOR_NAME}` dialed out to the tunnel listener {tunnel} (TLS 1.3, the gateway's own CA), spent its one-time enrollment token and is pinned by key: {attached}"),
            "the Azure client secret is in the connector's folder only; the gateway's config names the connector, not a credential".to_owned(),
            format!("no token → {anonymous}: every request needs an authenticated principal"),
            format!("the agent asks for read on `echo`: approved by policy {decided_by} (no person needed)"),
            format!("GET /echo/hello%20world?… → {status}; the upstream saw {}", echoed["target"]),
            "the agent's Authorization header was removed before the upstream".to_owned(),
            format!("GET /echo/a%2Fb → {refused_status} {}: ambiguous input is refused, never guessed",
                refused["error"]["code"].as_str().unwrap_or("")),
        ],
        "data_url": base,
        "connector": { "name": CONNECTOR_NAME, "tunnel": tunnel.to_string(), "attached": attached },
        "control_url": control,
        "unauthenticated_status": anonymous,
        "echo_grant": { "request": req["id"], "state": req["state"], "decided_by": decided_by },
        "proxied": { "status": status, "upstream_saw": echoed["target"], "authorization_forwarded": echoed["authorization_header_received"] },
        "ambiguous": { "status": refused_status, "code": refused["error"]["code"] },
    }))
}

/// The fake ARM path the agent works on.
pub(super) fn resource_groups_path() -> String {
    format!("/azure-demo/subscriptions/{}/resourcegroups?api-version=2022-09-01", super::SUBSCRIPTION)
}
