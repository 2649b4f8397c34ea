//! Reviews through the real gateway: a resource-group delete under an approved grant is
//! held (403 `approval_required`, nothing reaches the target); a person other than the
//! agent approves that exact request; the identical retry passes once; a replay, another
//! body, another target or another api-version is held again; a denial sticks; an agent
//! can wait for the decision with `Prefer: wait`; every step is in the audit log.

mod common;

use std::time::Duration;

use common::Upstream;
use portcullis_gateway::{Config, RunningGateway};
use portcullis_sandbox::{FakeEntra, TokenSpec};
use serde_json::{json, Value};

const TENANT: &str = "7b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e";
const AUDIENCE: &str = "api://portcullis-test";
const SUB: &str = "/arm/subscriptions/0000";

struct World {
    idp: FakeEntra,
    up: Upstream,
    gw: RunningGateway,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
    agent: String,
    alice: String,
}

async fn world() -> World {
    let idp = FakeEntra::builder().tenant(TENANT).start().await.unwrap();
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("access.cedar"), portcullis_access::EXAMPLE_POLICIES).unwrap();
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
[[identity.issuers]]
issuer = "{issuer}"
audiences = ["{AUDIENCE}"]
discovery_url = "{discovery}"
entra = {{ tenants = ["{TENANT}"] }}
[access]
policy_files = ["access.cedar"]
public_url = "http://control.test"
admin_groups = ["security"]
[access.connections.arm]
levels = ["read", "operate"]
max_duration = "1h"
[[connections]]
name = "arm"
kind = "azure-arm"
upstream = "{up}"
"#,
        issuer = idp.issuer_v2(),
        discovery = idp.discovery_url_v2(),
        up = up.url(),
    );
    let config = Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    let mut w = World {
        agent: String::new(),
        alice: String::new(),
        idp,
        up,
        gw,
        _dir: dir,
        http: reqwest::Client::new(),
    };
    w.agent = w.token("deploy-agent", &["agents"], false);
    w.alice = w.token("alice", &["ops"], true);
    let (status, req) = w
        .post(
            &w.agent,
            "/access-requests",
            json!({"connection": "arm", "level": "operate", "duration": "15m", "reason": "cleanup"}),
        )
        .await;
    assert_eq!(status, 201, "{req}");
    let id = req["id"].as_str().unwrap();
    let (status, body) = w.post(&w.alice, &format!("/access-requests/{id}/approve"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    w
}

impl World {
    fn token(&self, subject: &str, groups: &[&str], human: bool) -> String {
        self.idp.mint(&TokenSpec::person_or_app(TENANT, AUDIENCE, subject, groups, human)).unwrap()
    }

    fn api(&self, path: &str) -> String {
        format!("http://{}/api/v1{path}", self.gw.control_addr())
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let resp = self.http.post(self.api(path)).bearer_auth(token).json(&body).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn data(&self, req: reqwest::RequestBuilder) -> (u16, Value) {
        let resp = req.bearer_auth(&self.agent).send().await.unwrap();
        (resp.status().as_u16(), resp.json().await.unwrap_or(Value::Null))
    }

    async fn delete(&self, rg: &str, api_version: &str) -> (u16, Value) {
        let url = format!("{}{SUB}/resourceGroups/{rg}?api-version={api_version}", self.gw.data_url());
        self.data(self.http.delete(url)).await
    }

    async fn approve(&self, review: &str) -> Value {
        let (status, body) =
            self.post(&self.alice, &format!("/reviews/{review}/approve"), json!({"comment": "ok"})).await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

fn review_id(body: &Value) -> String {
    assert_eq!(body["error"]["code"], "approval_required", "{body}");
    body["error"]["review_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_approval_is_bound_to_the_exact_request_and_spent_once() {
    let w = world().await;

    let (status, held) = w.delete("prod-rg", "2021-04-01").await;
    assert_eq!(status, 403);
    let first = review_id(&held);
    assert!(held["error"]["summary"].as_str().unwrap().contains("prod-rg"), "{held}");
    assert_eq!(held["error"]["rule"], "azure.rg-delete");
    assert!(held["error"]["wait_url"].as_str().unwrap().starts_with("http://control.test/api/v1/reviews/"));
    assert!(w.up.received().is_empty(), "nothing reaches the target before approval");

    // Retrying before a decision names the same review, and creates no other.
    let (_, again) = w.delete("prod-rg", "2021-04-01").await;
    assert_eq!(review_id(&again), first);

    // Nobody approves their own request; the approver sees the plain summary.
    let (status, body) = w.post(&w.agent, &format!("/reviews/{first}/approve"), json!({})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("self_approval")), "{body}");
    let pending: Value = w
        .http
        .get(w.api("/reviews?state=pending"))
        .bearer_auth(&w.alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(pending["items"].as_array().unwrap().len(), 1, "{pending}");
    assert_eq!(pending["items"][0]["action"], "Microsoft.Resources/subscriptions/resourceGroups/delete");

    let approved = w.approve(&first).await;
    assert_eq!(approved["state"], "approved");

    // Another resource group or another api-version is not what was approved.
    let (status, other) = w.delete("other-rg", "2021-04-01").await;
    assert_eq!(status, 403);
    assert_ne!(review_id(&other), first);
    let (_, other_version) = w.delete("prod-rg", "2022-09-01").await;
    assert_ne!(review_id(&other_version), first);
    assert!(w.up.received().is_empty());

    // The exact request passes, once; ARM's case-insensitivity does not make a new request.
    let (status, _) = w.delete("prod-rg", "2021-04-01").await;
    assert_eq!(status, 200);
    assert_eq!(w.up.received().len(), 1);
    assert_eq!(w.up.received()[0].method, "DELETE");
    let (status, replay) = w.delete("prod-rg", "2021-04-01").await;
    assert_eq!(status, 403, "a replay is held again");
    assert_ne!(review_id(&replay), first);
    assert_eq!(w.up.received().len(), 1);

    let used: Value = w
        .http
        .get(w.api(&format!("/reviews/{first}")))
        .bearer_auth(&w.agent)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(used["state"], "used");
    assert!(used["used_by_request"].is_string());
    w.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_body_is_part_of_what_is_approved() {
    let w = world().await;
    // A Complete-mode deployment deletes everything not in its template: held.
    let url = format!(
        "{}{SUB}/resourcegroups/app-rg/providers/Microsoft.Resources/deployments/d1?api-version=2021-04-01",
        w.gw.data_url()
    );
    let body_a = json!({"properties": {"mode": "Complete", "template": {"resources": []}}});
    let body_b = json!({"properties": {"mode": "Complete", "template": {"resources": []}, "parameters": {"x": {"value": 1}}}});
    let (status, held) = w.data(w.http.put(&url).json(&body_a)).await;
    assert_eq!(status, 403, "{held}");
    let id = review_id(&held);
    w.approve(&id).await;

    let (status, other) = w.data(w.http.put(&url).json(&body_b)).await;
    assert_eq!(status, 403, "another body is another request");
    assert_ne!(review_id(&other), id);
    assert!(w.up.received().is_empty());

    let (status, _) = w.data(w.http.put(&url).json(&body_a)).await;
    assert_eq!(status, 200);
    let seen = w.up.received();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].body_len,
        serde_json::to_vec(&body_a).unwrap().len(),
        "the inspected bytes are forwarded"
    );
    w.gw.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_denial_sticks_and_waiting_agents_hear_the_decision() {
    let w = world().await;
    let (_, held) = w.delete("prod-rg", "2021-04-01").await;
    let id = review_id(&held);
    let (status, body) = w.post(&w.alice, &format!("/reviews/{id}/deny"), json!({})).await;
    assert_eq!(status, 400, "a denial needs a reason: {body}");
    let (status, body) =
        w.post(&w.alice, &format!("/reviews/{id}/deny"), json!({"comment": "not today"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, denied) = w.delete("prod-rg", "2021-04-01").await;
    assert_eq!(status, 403);
    assert_eq!(denied["error"]["code"], "review_denied", "{denied}");
    assert!(denied["error"]["message"].as_str().unwrap().contains("not today"));

    // `Prefer: wait=N`: the agent's request waits for the person, then passes.
    let (_, held) = w.delete("staging-rg", "2021-04-01").await;
    let id = review_id(&held);
    let url = format!("{}{SUB}/resourceGroups/staging-rg?api-version=2021-04-01", w.gw.data_url());
    let waiting = tokio::spawn({
        let http = w.http.clone();
        let agent = w.agent.clone();
        async move {
            http.delete(url).bearer_auth(agent).header("prefer", "wait=30").send().await.unwrap().status()
        }
    });
    // Approve only once the agent is waiting (its retry is then in flight).
    tokio::time::sleep(Duration::from_millis(200)).await;
    w.approve(&id).await;
    assert_eq!(waiting.await.unwrap(), 200);
    assert_eq!(w.up.received().len(), 1);

    // Every hold, decision and use is in the audit log.
    let kinds = audit_kinds(&w).await;
    for kind in ["guardrail", "review", "request", "grant_issued"] {
        assert!(kinds.iter().any(|k| k == kind), "no {kind} event in {kinds:?}");
    }
    w.gw.shutdown().await;
}

async fn audit_kinds(w: &World) -> Vec<String> {
    let pool = w.gw.store().pool().clone();
    sqlx::query_scalar::<_, String>("SELECT kind FROM audit_events")
        .fetch_all(&pool)
        .await
        .unwrap_or_default()
}

/// `/api/v1/rules` and its reload are for admins; a reload that names a bad file changes
/// nothing and says why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_shown_and_reloaded_by_admins_only() {
    let w = world().await;
    let admin = w.token("sec-officer", &["security"], true);
    let get = |token: String| {
        let req = w.http.get(w.api("/rules")).bearer_auth(token);
        async move {
            let resp = req.send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = get(w.agent.clone()).await;
    assert_eq!((status, body["error"]["code"].as_str()), (403, Some("not_allowed")), "{body}");
    let (status, _) = w.post(&w.alice, "/rules/reload", json!({})).await;
    assert_eq!(status, 403, "approvers are not admins");

    let (status, body) = get(admin.clone()).await;
    assert_eq!(status, 200, "{body}");
    let arm = &body["items"][0];
    assert_eq!(
        (arm["connection"].as_str(), arm["sources"][0].as_str()),
        (Some("arm"), Some("azure-default"))
    );
    assert!(arm["rules"].as_u64().unwrap() > 10, "{arm}");
    let digest = arm["digest"].as_str().unwrap().to_owned();
    assert_eq!(digest.len(), 64);

    let (status, body) = w.post(&admin, "/rules/reload", json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"][0]["digest"].as_str(), Some(digest.as_str()), "same sources, same digest");
    let kinds = audit_kinds(&w).await;
    assert_eq!(kinds.iter().filter(|k| *k == "config_reload").count(), 2, "start and the reload: {kinds:?}");
}
