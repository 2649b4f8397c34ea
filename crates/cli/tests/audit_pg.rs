//! `portcullis audit verify|export` and `sessions list|show|replay` on both stores:
//! `--data-dir` (SQLite) and `--database URL` (PostgreSQL, when
//! `PORTCULLIS_TEST_DATABASE_URL` is set; skipped visibly otherwise), including
//! `sessions show --decrypt` of bodies sealed to an auditor.

use portcullis_audit::{generate_auditor_key, AuditConfig, AuditEvent, AuditLog, BodyRef, EventDetail};
use portcullis_audit::{RequestRecord, ResponseRecord};
use portcullis_store::{pg_options, pg_pool, PgStore, SqliteStore, StoreHandle};
use serde_json::{json, Value};

const SECRET: &str = "c2VjcmV0LXN0b3JhZ2Uta2V5LXZhbHVl";

/// A schema of its own, dropped at the end.
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    async fn create(url: &str) -> Schema {
        let name = format!("cli_{}", uuid::Uuid::new_v4().simple());
        let pool = pg_pool(pg_options(url).unwrap()).await.unwrap();
        sqlx::query(&format!("CREATE SCHEMA {name}")).execute(&pool).await.unwrap();
        Schema { url: url.to_owned(), name }
    }

    fn url(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", self.url, self.name)
    }

    async fn drop_it(self) {
        let pool = pg_pool(pg_options(&self.url).unwrap()).await.unwrap();
        sqlx::query(&format!("DROP SCHEMA {} CASCADE", self.name)).execute(&pool).await.unwrap();
    }
}

fn run<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis")).args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Records one session (g1: two calls, each response also sealed unmasked).
async fn record(store: &StoreHandle, recipient: &str) {
    let config = AuditConfig { auditor_recipient: Some(recipient.to_owned()), ..AuditConfig::default() };
    let log = AuditLog::open(store, config).await.unwrap();
    for n in 0..2 {
        let at = portcullis_audit::now_us();
        log.append(AuditEvent::at(
            at,
            EventDetail::Request(RequestRecord {
                request_id: format!("r{n}"),
                principal: json!({"subject": "agent-7"}),
                delegation: vec![],
                grant_id: Some("g1".into()),
                review_id: None,
                connection: "arm".into(),
                method: "POST".into(),
                target: format!("/subscriptions/0000/resourceGroups/rg-{n}/listKeys"),
                headers: vec![],
                body: None,
            }),
        ))
        .await
        .unwrap();
        let masked = br#"{"keys":[{"value":"[MASKED]"}]}"#.to_vec();
        let unmasked = format!(r#"{{"keys":[{{"value":"{SECRET}"}}]}}"#).into_bytes();
        let response = AuditEvent::at(
            at + 1_000,
            EventDetail::Response(ResponseRecord {
                request_id: format!("r{n}"),
                grant_id: Some("g1".into()),
                connection: "arm".into(),
                status: 200,
                headers: vec![],
                body: Some(BodyRef::of(&masked)),
                mask_counts: Default::default(),
                bytes: masked.len() as u64,
                duration_us: 1_000,
                request_body: None,
            }),
        );
        log.append_sealed(response, vec![masked], vec![unmasked]).await.unwrap();
    }
    log.shutdown().await;
}

/// The CLI against one store; `location` is `--data-dir DIR` or `--database URL`.
fn exercise(location: &[&str], key_file: &str, trusted: &str) {
    let with = |args: &[&str]| -> Vec<String> {
        args.iter().chain(location.iter()).map(|s| s.to_string()).collect()
    };
    let (ok, out, err) = run(&with(&["audit", "verify", "--trusted-key", trusted]));
    assert!(ok && out.contains("audit log intact: 4 events"), "{out}{err}");

    let (ok, out, err) = run(&with(&["sessions", "list", "--json"]));
    assert!(ok, "{err}");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["grant_id"], "g1");
    assert_eq!(list[0]["requests"], 2);

    let (ok, out, err) = run(&with(&["sessions", "show", "g1"]));
    assert!(ok && !out.contains(SECRET), "without the key nothing unmasked is shown: {out}{err}");
    let (ok, out, err) = run(&with(&["sessions", "show", "g1", "--decrypt", key_file]));
    assert!(ok, "{err}");
    assert_eq!(out.matches(SECRET).count(), 2, "both sealed responses decrypted: {out}");
    let (ok, out, _) = run(&with(&["sessions", "show", "g1", "--decrypt", key_file, "--json"]));
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert!(ok && shown["decrypted"].as_array().map(Vec::len) == Some(2), "{shown}");

    let (ok, out, err) = run(&with(&["sessions", "replay", "g1", "--json"]));
    assert!(ok, "{err}");
    let replay: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(replay["calls"].as_array().map(Vec::len), Some(2));

    let (ok, out, err) = run(&with(&["audit", "export", "--format", "ocsf"]));
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 4);
    assert!(out.lines().all(|l| serde_json::from_str::<Value>(l).is_ok()));
}

#[tokio::test]
async fn audit_and_sessions_commands_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = generate_auditor_key();
    let key_file = dir.path().join("auditor.key");
    std::fs::write(&key_file, identity).unwrap();
    let data = dir.path().join("data");
    let store: StoreHandle = SqliteStore::open(&data).await.unwrap().into();
    record(&store, &recipient).await;
    store.close().await;
    let trusted = data.join(portcullis_audit::PUBLIC_KEY_FILE);
    exercise(&["--data-dir", data.to_str().unwrap()], key_file.to_str().unwrap(), trusted.to_str().unwrap());
}

#[tokio::test]
async fn audit_and_sessions_commands_on_postgres() {
    let Ok(base) = std::env::var("PORTCULLIS_TEST_DATABASE_URL") else {
        println!("SKIPPED: PORTCULLIS_TEST_DATABASE_URL is not set, PostgreSQL CLI test not run");
        return;
    };
    let schema = Schema::create(&base).await;
    let dir = tempfile::tempdir().unwrap();
    let (identity, recipient) = generate_auditor_key();
    let key_file = dir.path().join("auditor.key");
    std::fs::write(&key_file, identity).unwrap();
    let data = dir.path().join("data");
    let store: StoreHandle = PgStore::connect(&schema.url(), &data).await.unwrap().into();
    record(&store, &recipient).await;
    let url = schema.url();
    let trusted = data.join(portcullis_audit::PUBLIC_KEY_FILE);
    exercise(&["--database", &url], key_file.to_str().unwrap(), trusted.to_str().unwrap());

    // A tampered event is found and named; exit status 1.
    if let StoreHandle::Postgres(pg) = &store {
        sqlx::query("UPDATE audit_events SET body = replace(body, 'rg-1', 'rg-9') WHERE seq = 3")
            .execute(pg.pool())
            .await
            .unwrap();
    }
    let (ok, out, _) =
        run(&["audit", "verify", "--database", &url, "--trusted-key", trusted.to_str().unwrap()]);
    assert!(!ok && out.contains("BROKEN") && out.contains("seq 3"), "{out}");
    store.close().await;
    schema.drop_it().await;
}

#[test]
fn auditor_key_writes_a_private_identity_and_prints_the_recipient() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auditor.key");
    let (ok, out, err) = run(&["audit", "auditor-key", "--out", path.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.trim().starts_with("age1"), "{out}");
    let key = portcullis_audit::AuditorKey::parse(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(key.recipients(), vec![out.trim().to_owned()]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let (again, _, _) = run(&["audit", "auditor-key", "--out", path.to_str().unwrap()]);
    assert!(!again, "an existing key file is never overwritten");
}
