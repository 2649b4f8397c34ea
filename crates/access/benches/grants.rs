//! Benchmarks: the data-path grant lookup, and creating + approving 10,000 requests in SQLite.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use portcullis_access::{
    AccessConfig, AccessPolicy, AccessService, ConnectionAccess, DecisionBody, NewRequest, SCHEMA,
};
use portcullis_identity::{GrantKeys, Principal, PrincipalKind};
use portcullis_store::SqliteStore;

const POLICY: &str = r#"
permit (principal in Portcullis::Group::"agents", action == Portcullis::Action::"request", resource);
permit (principal in Portcullis::Group::"ops", action == Portcullis::Action::"approve", resource);
"#;

fn main() {
    divan::main();
}

fn principal(name: &str, group: &str) -> Principal {
    Principal {
        issuer: "https://idp.bench".into(),
        subject: name.into(),
        tenant: None,
        object_id: Some(format!("oid-{name}")),
        app_id: None,
        display_name: None,
        kind: PrincipalKind::Human,
        groups: vec![group.into()],
        roles: vec![],
        scopes: vec![],
        expires_at: i64::MAX / 2000,
        delegation: vec![],
        grant: None,
    }
}

struct Setup {
    rt: tokio::runtime::Runtime,
    service: AccessService,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let service = rt.block_on(async {
        let store = SqliteStore::open(dir.path()).await.unwrap();
        let mut config = AccessConfig::new("http://127.0.0.1:1");
        config.connections.insert(
            "prod".into(),
            ConnectionAccess {
                levels: vec!["read".into()],
                max_duration: Duration::from_secs(3600),
                approvals: 1,
                level_approvals: Default::default(),
                distinct_groups: vec![],
            },
        );
        let policy = AccessPolicy::from_sources(&[("bench".into(), POLICY.into())], SCHEMA).unwrap();
        let keys = Arc::new(GrantKeys::load_or_create(dir.path()).unwrap());
        AccessService::open(&store, config, policy, keys).await.unwrap()
    });
    Setup { rt, service, _dir: dir }
}

async fn create_and_approve(service: &AccessService, requesters: usize, n: usize) {
    let approver = principal("approver", "ops");
    let new = NewRequest {
        connection: "prod".into(),
        level: "read".into(),
        duration: "30m".into(),
        reason: "bench".into(),
        ticket: None,
    };
    for i in 0..n {
        let agent = principal(&format!("agent-{}", i % requesters), "agents");
        let r = service.create(&agent, &new).await.unwrap();
        service.approve(&approver, &r.id, &DecisionBody::default()).await.unwrap();
    }
}

/// 1,000 principals with an active grant each; look one up.
#[divan::bench]
fn grant_lookup(bencher: divan::Bencher) {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    let s = SETUP.get_or_init(|| {
        let s = setup();
        s.rt.block_on(create_and_approve(&s.service, 1000, 1000));
        s
    });
    let key = "https://idp.bench#agent-517";
    bencher.bench(|| {
        divan::black_box(s.service.active(divan::black_box(key), divan::black_box("prod"))).is_some()
    });
}

/// A miss: the principal has no grant.
#[divan::bench]
fn grant_lookup_miss(bencher: divan::Bencher) {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    let s = SETUP.get_or_init(|| {
        let s = setup();
        s.rt.block_on(create_and_approve(&s.service, 1000, 1000));
        s
    });
    bencher.bench(|| {
        divan::black_box(s.service.active(divan::black_box("https://idp.bench#nobody"), "prod")).is_none()
    });
}

/// Creating and approving 10,000 requests (each a durable SQLite transaction, full sync).
#[divan::bench(sample_count = 1, sample_size = 1)]
fn create_and_approve_10k(bencher: divan::Bencher) {
    bencher.with_inputs(setup).bench_local_values(|s| {
        s.rt.block_on(create_and_approve(&s.service, 100, 10_000));
        s
    });
}
