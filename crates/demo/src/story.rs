//! The story itself: each built step is a function that does the real thing and says
//! what it saw.

use std::io::Write;
use std::time::Duration;

use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{Agent, FakeArm, FakeEntra, Human, ARM_AUDIENCE};
use serde_json::{json, Value};

use crate::report::Reporter;
use crate::steps::{Step, StepOutcome, STEPS};

/// The tenant the demo's fake Entra ID issues tokens for.
const TENANT: &str = "8d9f7a52-7bd4-4e47-9d5d-0c3f0e4a1b2c";
/// The demo's subscription in fake ARM.
const SUBSCRIPTION: &str = "00000000-1111-2222-3333-444444444444";

/// How to run the demo.
#[derive(Debug, Clone, Copy)]
pub struct DemoOptions {
    /// Leave everything running and print commands to try, until Ctrl-C.
    pub keep: bool,
}

/// What happened, for the exit code.
#[derive(Debug, Default)]
pub struct DemoSummary {
    /// Built steps that failed.
    pub failed: Vec<&'static str>,
    /// Steps not built yet.
    pub pending: Vec<&'static str>,
    /// Steps that ran and succeeded.
    pub passed: Vec<&'static str>,
}

/// Everything the steps start, kept alive until the end.
#[derive(Default)]
struct World {
    idp: Option<FakeEntra>,
    arm: Option<FakeArm>,
    gateway: Option<RunningGateway>,
    dir: Option<tempfile::TempDir>,
    http: reqwest::Client,
}

type StepResult = Result<Value, String>;

/// Runs every step in order, reporting each as it completes.
pub async fn run<W: Write>(options: DemoOptions, reporter: &mut Reporter<W>) -> DemoSummary {
    let mut world = World::default();
    let mut summary = DemoSummary::default();
    reporter.intro();
    for step in &STEPS {
        let outcome = match step.name {
            "idp" => finish(step, idp(&mut world).await),
            "arm" => finish(step, arm(&mut world).await),
            "gateway" => finish(step, gateway(&mut world).await),
            _ => StepOutcome::pending(step),
        };
        if outcome.ok {
            summary.passed.push(step.name);
        } else if outcome.is_pending() {
            summary.pending.push(step.name);
        } else {
            summary.failed.push(step.name);
        }
        reporter.step(step, &outcome);
    }
    let mut lines = vec![format!(
        "{} steps ran, {} pending (not built yet), {} failed.",
        summary.passed.len(),
        summary.pending.len(),
        summary.failed.len()
    )];
    if options.keep {
        lines.extend(try_lines(&world));
        reporter.outro(&lines);
        let _ = tokio::signal::ctrl_c().await;
    } else {
        lines.push("Run `portcullis demo --keep` to leave everything running and try it yourself.".into());
        reporter.outro(&lines);
    }
    if let Some(gw) = world.gateway.take() {
        gw.shutdown().await;
    }
    summary
}

fn finish(step: &Step, result: StepResult) -> StepOutcome {
    match result {
        Ok(detail) => StepOutcome { step: step.name, ok: true, detail },
        Err(error) => StepOutcome { step: step.name, ok: false, detail: json!({ "error": error }) },
    }
}

fn try_lines(world: &World) -> Vec<String> {
    let mut lines = vec!["Everything is still running. Try (Ctrl-C to stop):".to_owned()];
    if let Some(gw) = &world.gateway {
        lines.push(format!("  curl -s {}/echo/hello?api-version=2024-01-01", gw.data_url()));
        lines.push(format!("  curl -s {}/echo/a%2Fb        # ambiguous: refused with 400", gw.data_url()));
        lines.push(format!("  curl -s http://{}/readyz", gw.control_addr()));
        lines.push(format!("  curl -s http://{}/metrics", gw.control_addr()));
    }
    if let Some(idp) = &world.idp {
        lines.push(format!("  curl -s {}", idp.discovery_url_v2()));
    }
    if let Some(arm) = &world.arm {
        lines.push(format!(
            "  curl -s '{}/subscriptions?api-version=2022-12-01'   # fake ARM: 401 without a token",
            arm.url()
        ));
    }
    lines
}

/// Gets an ARM token for the demo agent from the fake Entra ID's token endpoint, the
/// way a confidential client does (client credentials with a secret).
async fn agent_token(world: &World) -> Result<String, String> {
    let idp = world.idp.as_ref().ok_or("the idp step did not run")?;
    let agent = idp.agent("deploy-agent").ok_or("the demo agent is not registered")?;
    let secret = agent.secret.clone().ok_or("the demo agent has no secret")?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &agent.client_id)
        .append_pair("client_secret", &secret)
        .append_pair("scope", &format!("{}.default", ARM_AUDIENCE))
        .finish();
    let resp = world
        .http
        .post(format!("{}/{}/oauth2/v2.0/token", idp.url(), idp.tenant()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .map_err(|e| format!("token endpoint: {e}"))?;
    let status = resp.status();
    let body: Value = resp.json().await.map_err(|e| format!("token endpoint answer: {e}"))?;
    body.get("access_token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("token endpoint answered {status}: {body}"))
}

/// The middle part of a JWT, decoded, to show a person what the token says.
fn claims(token: &str) -> Value {
    use base64::Engine;
    token
        .split('.')
        .nth(1)
        .and_then(|p| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

async fn idp(world: &mut World) -> StepResult {
    let idp = FakeEntra::builder()
        .tenant(TENANT)
        .agent(Agent::new("deploy-agent"))
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
    let token = agent_token(world).await?;
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

async fn arm(world: &mut World) -> StepResult {
    let idp = world.idp.as_ref().ok_or("the idp step did not run")?;
    let arm = FakeArm::builder(idp)
        .subscription(SUBSCRIPTION, "Contoso Production")
        .resource_group("prod-rg", "westeurope")
        .resource_group("staging-rg", "westeurope")
        .start()
        .await
        .map_err(|e| format!("starting the fake ARM: {e}"))?;
    let url = format!("{}/subscriptions/{SUBSCRIPTION}/resourcegroups?api-version=2022-09-01", arm.url());
    let anonymous = world.http.get(&url).send().await.map_err(|e| e.to_string())?;
    let anonymous_status = anonymous.status().as_u16();
    let anonymous_body: Value = anonymous.json().await.unwrap_or(Value::Null);
    world.arm = Some(arm);
    let token = agent_token(world).await?;
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

async fn gateway(world: &mut World) -> StepResult {
    let dir = tempfile::tempdir().map_err(|e| format!("creating a temporary folder: {e}"))?;
    let echo = crate::echo::start().await.map_err(|e| format!("starting the echo upstream: {e}"))?;
    let arm_url =
        world.arm.as_ref().map(|a| a.url().to_owned()).unwrap_or_else(|| "http://127.0.0.1:9".into());
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[log]
format = "text"
[[connections]]
name = "azure-demo"
kind = "azure-arm"
upstream = "{arm_url}"
[[connections]]
name = "echo"
upstream = "http://{echo}"
"#
    );
    let config = Config::from_toml(&toml, &dir.path().join("portcullis.toml"), std::iter::empty())
        .map_err(|e| e.to_string())?;
    let gw = portcullis_gateway::start(config).await.map_err(|e| format!("starting the gateway: {e}"))?;
    let base = gw.data_url();
    let control = gw.control_addr();
    world.gateway = Some(gw);
    world.dir = Some(dir);

    let ready = world
        .http
        .get(format!("http://{control}/readyz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let ready_status = ready.status().as_u16();
    let resp = world
        .http
        .get(format!("{base}/echo/hello%20world?api-version=2024-01-01&$filter=name+eq+'x'"))
        .header("authorization", "Bearer the-agents-own-token")
        .send()
        .await
        .map_err(|e| format!("proxying through the gateway: {e}"))?;
    let status = resp.status().as_u16();
    let echoed: Value = resp.json().await.map_err(|e| e.to_string())?;
    let refused = world.http.get(format!("{base}/echo/a%2Fb")).send().await.map_err(|e| e.to_string())?;
    let refused_status = refused.status().as_u16();
    let refused_body: Value = refused.json().await.unwrap_or(Value::Null);
    let ok = ready_status == 200
        && status == 200
        && echoed["authorization_header_received"] == json!(false)
        && refused_status == 400;
    if !ok {
        return Err(format!(
            "unexpected: readyz {ready_status}, proxied {status} {echoed}, ambiguous request {refused_status}"
        ));
    }
    Ok(json!({
        "narration": [
            format!("gateway data listener {base}, control http://{control} (ready, SQLite store)"),
            format!("GET /echo/hello%20world?… → {status}; the upstream saw {}", echoed["target"]),
            "the agent's Authorization header was removed before the upstream".to_owned(),
            format!("GET /echo/a%2Fb → {refused_status} {}: ambiguous input is refused, never guessed",
                refused_body["error"]["code"].as_str().unwrap_or("")),
        ],
        "data_url": base,
        "control_url": format!("http://{control}"),
        "proxied": { "status": status, "upstream_saw": echoed["target"], "authorization_forwarded": echoed["authorization_header_received"] },
        "ambiguous": { "status": refused_status, "code": refused_body["error"]["code"] },
    }))
}
