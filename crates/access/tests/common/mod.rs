//! Test harness: the real access router served on 127.0.0.1:0, with principals injected
//! by a small layer keyed on the `x-test-as` header.

#![allow(dead_code, unreachable_pub)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_access::{AccessConfig, AccessPolicy, AccessService, ConnectionAccess, SCHEMA};
use portcullis_identity::{Actor, GrantKeys, Principal, PrincipalKind};
use portcullis_store::SqliteStore;
use serde_json::{json, Value};

pub const ISS: &str = "https://idp.test/tenant";

pub const POLICIES: &str = r#"
@id("agents-may-request")
permit (principal in Portcullis::Group::"agents", action == Portcullis::Action::"request", resource);
@id("humans-may-request")
permit (principal in Portcullis::Group::"ops", action == Portcullis::Action::"request", resource);
@id("ops-approve")
permit (principal in Portcullis::Group::"ops", action == Portcullis::Action::"approve", resource);
@id("security-approve")
permit (principal in Portcullis::Group::"security", action == Portcullis::Action::"approve", resource);
"#;

pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub fn person(name: &str, groups: &[&str]) -> Principal {
    Principal {
        issuer: ISS.into(),
        subject: format!("sub-{name}"),
        tenant: Some("tenant".into()),
        object_id: Some(format!("oid-{name}")),
        app_id: Some("portcullis-cli".into()),
        display_name: Some(name.into()),
        kind: PrincipalKind::Human,
        groups: groups.iter().map(|g| g.to_string()).collect(),
        roles: vec![],
        scopes: vec!["access".into()],
        expires_at: now() + 3600,
        delegation: vec![],
        grant: None,
    }
}

pub fn agent(name: &str, groups: &[&str]) -> Principal {
    Principal {
        object_id: Some(format!("oid-{name}")),
        app_id: Some(format!("app-{name}")),
        kind: PrincipalKind::Agent,
        scopes: vec![],
        ..person(name, groups)
    }
}

/// `agent` acting on behalf of `human` (RFC 8693 `act`: the human is the subject… here the
/// agent is the subject and the human appears in the chain).
pub fn acting_for(mut p: Principal, human: &Principal) -> Principal {
    p.delegation.push(Actor { subject: human.subject.clone(), issuer: Some(ISS.into()), client_id: None });
    p
}

pub fn connection(levels: &[&str], approvals: u32) -> ConnectionAccess {
    ConnectionAccess {
        levels: levels.iter().map(|l| l.to_string()).collect(),
        max_duration: Duration::from_secs(4 * 3600),
        approvals,
        level_approvals: Default::default(),
        distinct_groups: vec![],
    }
}

pub struct Harness {
    pub base: String,
    pub service: AccessService,
    pub path: std::path::PathBuf,
    dir: Option<tempfile::TempDir>,
    pub http: reqwest::Client,
    people: Arc<Mutex<HashMap<String, Principal>>>,
    task: tokio::task::JoinHandle<()>,
}

pub async fn start(config: AccessConfig, policies: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    start_in(dir, config, policies).await
}

pub async fn start_in(dir: tempfile::TempDir, mut config: AccessConfig, policies: &str) -> Harness {
    let store = SqliteStore::open(dir.path()).await.unwrap();
    let policy = AccessPolicy::from_sources(&[("test.cedar".into(), policies.into())], SCHEMA).unwrap();
    let keys = Arc::new(GrantKeys::load_or_create(dir.path()).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    config.public_url = base.clone();
    let service = AccessService::open(&store, config, policy, keys).await.unwrap();
    let people: Arc<Mutex<HashMap<String, Principal>>> = Arc::default();
    let lookup = people.clone();
    let app = portcullis_access::router(service.clone()).layer(axum::middleware::from_fn(
        move |mut req: axum::extract::Request, next: axum::middleware::Next| {
            let lookup = lookup.clone();
            async move {
                let who = alias(req.headers());
                if let Some(p) = who.and_then(|w| lookup.lock().unwrap().get(&w).cloned()) {
                    req.extensions_mut().insert(p);
                }
                next.run(req).await
            }
        },
    ));
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Harness {
        base,
        service,
        path: dir.path().to_path_buf(),
        dir: Some(dir),
        http: reqwest::Client::new(),
        people,
        task,
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The principal alias: `x-test-as`, or a bearer token standing in for one (the typed client).
fn alias(headers: &axum::http::HeaderMap) -> Option<String> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let bearer = header("authorization").and_then(|v| v.strip_prefix("Bearer ").map(str::to_string));
    header("x-test-as").or(bearer)
}

pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl Harness {
    /// Stops serving and hands back the data directory (to start again on it).
    pub fn take_dir(mut self) -> tempfile::TempDir {
        self.task.abort();
        self.dir.take().unwrap()
    }

    /// Registers a principal under an alias (the `x-test-as` header or bearer token).
    pub fn add(&self, alias: &str, p: Principal) {
        self.people.lock().unwrap().insert(alias.into(), p);
    }

    pub async fn call(&self, who: Option<&str>, method: &str, path: &str, body: Option<Value>) -> Reply {
        let url = format!("{}{path}", self.base);
        let mut req = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        };
        if let Some(w) = who {
            req = req.header("x-test-as", w);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let body = resp.json().await.unwrap_or(Value::Null);
        Reply { status, body }
    }

    pub async fn request(&self, who: &str, connection: &str, level: &str, duration: &str) -> Reply {
        let body = json!({"connection": connection, "level": level, "duration": duration, "reason": "incident INC-1", "ticket": "INC-1"});
        self.call(Some(who), "POST", "/api/v1/access-requests", Some(body)).await
    }

    pub async fn approve(&self, who: &str, id: &str, body: Value) -> Reply {
        self.call(Some(who), "POST", &format!("/api/v1/access-requests/{id}/approve"), Some(body)).await
    }
}

pub fn config(connections: &[(&str, ConnectionAccess)]) -> AccessConfig {
    let mut c = AccessConfig::new("http://placeholder");
    for (name, conn) in connections {
        c.connections.insert(name.to_string(), conn.clone());
    }
    c
}
