//! `kill -9` of the real `portcullis serve` under load: every request an agent got an
//! answer for is in the audit log (its request event was committed before it was
//! forwarded), and `portcullis audit verify` still passes on what was left.

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// An upstream answering every request at once with a small body.
async fn upstream() -> SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = tcp.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut pending = Vec::new();
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => pending.extend_from_slice(&buf[..n]),
                    }
                    while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                        pending.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
                        if s.write_all(reply).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answered_request_survives_kill_9_and_the_log_verifies() {
    let up = upstream().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("portcullis.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"data\"\n[listeners.data]\naddr = \"127.0.0.1:0\"\n[listeners.control]\naddr = \"127.0.0.1:0\"\n\
             [[connections]]\nname = \"up\"\nupstream = \"http://{up}\"\n"
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["serve", "--config"])
        .arg(&config)
        .env("PORTCULLIS_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                if v["message"] == "gateway started" {
                    let _ = tx.send(v["data"].as_str().unwrap_or_default().to_owned());
                }
            }
        }
    });
    let data: SocketAddr =
        rx.recv_timeout(Duration::from_secs(60)).expect("the gateway logged its start").parse().unwrap();

    // Eight agents call as fast as they can and note the request id of every answer.
    let answered: Arc<Mutex<HashSet<String>>> = Arc::default();
    let client = reqwest::Client::new();
    let mut agents = Vec::new();
    for a in 0..8 {
        let (client, answered) = (client.clone(), answered.clone());
        agents.push(tokio::spawn(async move {
            for i in 0.. {
                let Ok(resp) = client.get(format!("http://{data}/up/agent{a}/call{i}")).send().await else {
                    return;
                };
                let id =
                    resp.headers().get("x-portcullis-request-id").map(|v| v.to_str().unwrap().to_owned());
                if resp.status() == 200 && resp.bytes().await.is_ok() {
                    answered.lock().unwrap().insert(id.expect("every answer names its request"));
                }
            }
        }));
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while answered.lock().unwrap().len() < 300 {
        assert!(tokio::time::Instant::now() < deadline, "the load never got going");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    child.kill().unwrap(); // SIGKILL: no drain, no final checkpoint
    child.wait().unwrap();
    for a in agents {
        let _ = a.await;
    }
    let answered = answered.lock().unwrap().clone();

    let store = portcullis_store::SqliteStore::open(&dir.path().join("data")).await.unwrap();
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM audit_events WHERE kind = 'request'")
        .fetch_all(store.pool())
        .await
        .unwrap();
    let recorded: HashSet<String> = bodies
        .iter()
        .filter_map(|b| serde_json::from_str::<serde_json::Value>(b).ok())
        .filter_map(|v| find_request_id(&v))
        .collect();
    let missing: Vec<&String> = answered.iter().filter(|id| !recorded.contains(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} answered requests are not in the log: {:?}",
        missing.len(),
        answered.len(),
        &missing[..missing.len().min(5)]
    );
    drop(store);

    let out = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["audit", "verify", "--data-dir"])
        .arg(dir.path().join("data"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "audit verify after kill -9: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "{} answered requests, all recorded; {} request events in the log",
        answered.len(),
        recorded.len()
    );
}

/// The request id inside a stored request event, wherever the schema nests it.
fn find_request_id(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Object(map) => map
            .get("request_id")
            .and_then(|id| id.as_str().map(str::to_owned))
            .or_else(|| map.values().find_map(find_request_id)),
        serde_json::Value::Array(items) => items.iter().find_map(find_request_id),
        _ => None,
    }
}
