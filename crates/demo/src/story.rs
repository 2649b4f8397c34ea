//! The story itself: each built step is a function that does the real thing and says
//! what it saw. Steps share one [`World`]: what earlier steps started and learned.

mod access_steps;
mod audit_steps;
mod connector_site;
mod connector_steps;
mod gateway_step;
mod guardrail_steps;
mod review_steps;
mod sandbox_steps;

use std::io::Write;

use portcullis_gateway::RunningGateway;
use portcullis_sandbox::{FakeArm, FakeEntra, TokenSpec, TokenVersion, ARM_AUDIENCE};
use serde_json::{json, Value};

use crate::report::Reporter;
use crate::steps::{Step, StepOutcome, STEPS};

/// The tenant the demo's fake Entra ID issues tokens for.
const TENANT: &str = "8d9f7a52-7bd4-4e47-9d5d-0c3f0e4a1b2c";
/// The demo's subscription in fake ARM.
const SUBSCRIPTION: &str = "00000000-1111-2222-3333-444444444444";
/// The app registration whose secret only the connector holds.
const CONNECTOR_APP: &str = "portcullis-connector";
/// The demo's storage account (in `prod-rg`), whose keys the agent reads masked.
const STORAGE_ACCOUNT: &str = "contosoprod";
/// The audience of tokens for the gateway itself (not for ARM: those would be replayable).
const GATEWAY_AUDIENCE: &str = "api://portcullis-demo";

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

/// Everything the steps start and learn, kept alive until the end.
#[derive(Default)]
struct World {
    idp: Option<FakeEntra>,
    arm: Option<FakeArm>,
    gateway: Option<RunningGateway>,
    dir: Option<tempfile::TempDir>,
    http: reqwest::Client,
    /// The agent's token for the gateway (from the fake Entra ID's token endpoint).
    agent_token: Option<String>,
    /// Alice the approver's token for the gateway.
    alice_token: Option<String>,
    request_id: Option<String>,
    grant_id: Option<String>,
    grant_token: Option<String>,
    /// The connector's client secret (to prove the agent never sees it).
    connector_secret: Option<String>,
    /// The connector, running "in the target's network" (its own folder and task).
    connector: Option<(tokio::task::JoinHandle<()>, tempfile::TempDir)>,
    /// The demo storage account's real keys (to prove the agent never sees them).
    storage_keys: Vec<String>,
    /// The review of the held deletion.
    review_id: Option<String>,
}

type StepResult = Result<Value, String>;

/// Runs every step in order, reporting each as it completes.
pub async fn run<W: Write>(options: DemoOptions, reporter: &mut Reporter<W>) -> DemoSummary {
    let mut world = World::default();
    let mut summary = DemoSummary::default();
    reporter.intro();
    for step in &STEPS {
        let result = match step.name {
            "idp" => Some(sandbox_steps::idp(&mut world).await),
            "arm" => Some(sandbox_steps::arm(&mut world).await),
            "gateway" => Some(gateway_step::gateway(&mut world).await),
            "no-grant" => Some(access_steps::no_grant(&mut world).await),
            "request-access" => Some(access_steps::request_access(&mut world).await),
            "self-approve-refused" => Some(access_steps::self_approve_refused(&mut world).await),
            "approve-access" => Some(access_steps::approve_access(&mut world).await),
            "list" => Some(review_steps::list(&mut world).await),
            "list-keys-masked" => Some(review_steps::list_keys_masked(&mut world).await),
            "delete-held" => Some(review_steps::delete_held(&mut world).await),
            "approve-review" => Some(review_steps::approve_review(&mut world).await),
            "delete" => Some(review_steps::delete_runs(&mut world).await),
            "delete-replay-refused" => Some(review_steps::delete_replay_refused(&mut world).await),
            "role-assignment-denied" => Some(guardrail_steps::role_assignment_denied(&mut world).await),
            "credential-never-seen" => Some(connector_steps::credential_never_seen(&mut world).await),
            "revoke" => Some(access_steps::revoke(&mut world).await),
            "replay" => Some(audit_steps::replay(&mut world).await),
            "audit-verify" => Some(audit_steps::audit_verify(&mut world).await),
            _ => None,
        };
        let outcome = match result {
            Some(r) => finish(step, r),
            None => StepOutcome::pending(step),
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
    // The connector first, so it does not try to redial a gateway that is going away.
    if let Some((connector, _site)) = world.connector.take() {
        connector.abort();
        let _ = connector.await;
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
        if let Some(t) = &world.agent_token {
            lines.push(format!("  export AGENT_TOKEN={t}"));
        }
        lines.push(format!(
            "  curl -s -H \"Authorization: Bearer $AGENT_TOKEN\" {}/echo/hello",
            gw.data_url()
        ));
        lines.push(format!("  curl -s {}/echo/a%2Fb        # ambiguous: refused with 400", gw.data_url()));
        lines.push(format!(
            "  curl -s -H \"Authorization: Bearer $AGENT_TOKEN\" http://{}/api/v1/whoami",
            gw.control_addr()
        ));
        lines.push(format!("  curl -s http://{}/metrics", gw.control_addr()));
        if let Some(dir) = &world.dir {
            lines.push(format!("  portcullis audit verify --data-dir {}", dir.path().join("data").display()));
        }
    }
    if let Some(arm) = &world.arm {
        lines.push(format!(
            "  curl -s '{}/subscriptions?api-version=2022-12-01'   # fake ARM: 401 without a token",
            arm.url()
        ));
    }
    lines
}

fn require<'a, T>(value: &'a Option<T>, what: &str) -> Result<&'a T, String> {
    value.as_ref().ok_or_else(|| format!("{what} is missing: an earlier step failed"))
}

/// Gets a token for `scope` for the demo agent from the fake Entra ID's token endpoint,
/// the way a confidential client does (client credentials with a secret).
async fn agent_token(world: &World, scope: &str) -> Result<String, String> {
    let idp = require(&world.idp, "the fake Entra ID")?;
    let agent = idp.agent("deploy-agent").ok_or("the demo agent is not registered")?;
    let secret = agent.secret.clone().ok_or("the demo agent has no secret")?;
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &agent.client_id)
        .append_pair("client_secret", &secret)
        .append_pair("scope", scope)
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

/// The ARM scope, for the agent's own token to ARM (only the `arm` step uses it).
fn arm_scope() -> String {
    format!("{ARM_AUDIENCE}.default")
}

/// A token for Alice, the approver. The fake Entra ID has no interactive sign-in, so it
/// is minted directly, with the claims a real Entra ID user token carries.
fn alice_token(idp: &FakeEntra) -> Result<String, String> {
    let mut spec = TokenSpec::new(TENANT, GATEWAY_AUDIENCE, "alice-object-id");
    spec.version = TokenVersion::V2;
    spec.object_id = Some("alice-object-id".into());
    spec.name = Some("Alice Approver".into());
    spec.preferred_username = Some("alice@contoso.example".into());
    spec.idtyp = Some("user".into());
    spec.groups = vec!["ops".into()];
    idp.mint(&spec).map_err(|e| e.to_string())
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

/// Sends a request and returns (status, JSON body or null).
async fn send(req: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
    let resp = req.send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    Ok((status, resp.json().await.unwrap_or(Value::Null)))
}
