//! The data listener as the agent's `HTTPS_PROXY`: `CONNECT` only to hosts a connection
//! claims (never to IP literals, internal names or the metadata address), TLS terminated
//! with the gateway's own CA, and every request inside runs the whole pipeline — grant,
//! guardrails (a delete is held for review), credential injection, masking, recording.

mod proxy_support;

use proxy_support::{Scenario, ACCOUNT, ARM_HOST, DATA_RG, DOOMED_RG, SUB};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Sends a raw `CONNECT` and returns the status and the JSON body of the answer.
async fn raw_connect(addr: std::net::SocketAddr, target: &str, extra: &str) -> (u16, Value) {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n{extra}\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk).await.unwrap();
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_owned())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= len || n == 0 {
                let status = head.split(' ').nth(1).unwrap().parse().unwrap();
                return (status, serde_json::from_str(body).unwrap_or(Value::Null));
            }
        }
        assert!(n > 0, "connection closed mid-answer: {:?}", String::from_utf8_lossy(&buf));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_is_refused_to_anything_no_connection_claims() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let addr = s.gw.data_addr();
    for (target, code) in [
        ("graph.microsoft.com:443", "proxy_host_not_claimed"),
        ("example.com:443", "proxy_host_not_claimed"),
        ("169.254.169.254:443", "proxy_ip_literal_refused"),
        ("169.254.169.254:80", "proxy_ip_literal_refused"),
        ("10.0.0.1:443", "proxy_ip_literal_refused"),
        ("[::1]:443", "proxy_ip_literal_refused"),
        ("localhost:443", "proxy_internal_host_refused"),
        ("metadata.google.internal:443", "proxy_internal_host_refused"),
        ("management.azure.com:8443", "proxy_port_refused"),
    ] {
        let (status, body) = raw_connect(addr, target, "").await;
        assert_eq!(status, 403, "{target}: {body}");
        assert_eq!(body["error"]["code"], code, "{target}: {body}");
    }
    // A claimed host with a token that does not validate: 407, before any tunnel.
    let (status, body) =
        raw_connect(addr, "management.azure.com:443", "Proxy-Authorization: Bearer nope\r\n").await;
    assert_eq!(status, 407, "{body}");
    assert_eq!(body["error"]["code"], "proxy_unauthenticated");
    // Nothing reached the target.
    assert!(s.arm.received().is_empty(), "{:?}", s.arm.received());
    s.gw.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_through_connect_run_the_whole_pipeline() -> anyhow::Result<()> {
    let s = Scenario::start().await?;
    let (grant, token) = s.grant().await?;
    let arm = format!("https://{ARM_HOST}/subscriptions/{SUB}");

    // No identity at all: the tunnel opens, the request inside is refused (401).
    let anonymous = s.proxied(None)?;
    let resp = anonymous.get(format!("{arm}/resourcegroups?api-version=2021-04-01")).send().await?;
    assert_eq!(resp.status(), 401);

    // The grant token on the CONNECT (Basic, token as password) covers the requests inside.
    let agent = s.proxied(Some(&token))?;
    let resp = agent.get(format!("{arm}/resourcegroups?api-version=2021-04-01")).send().await?;
    assert_eq!(resp.status(), 200);
    let list: Value = resp.json().await?;
    let names: Vec<&str> =
        list["value"].as_array().unwrap().iter().filter_map(|g| g["name"].as_str()).collect();
    assert!(names.contains(&DOOMED_RG), "{list}");
    let seen = s.arm.received();
    let auth =
        seen.last().unwrap().headers.iter().find(|(k, _)| k == "authorization").map(|(_, v)| v.clone());
    let auth = auth.expect("the connector injected a credential");
    assert!(!auth.contains(&token), "the agent's grant token never reaches the target");

    // Storage keys come back masked.
    let keys = s.arm.storage_keys(SUB, DATA_RG, ACCOUNT).expect("account");
    let url = format!(
        "{arm}/resourceGroups/{DATA_RG}/providers/Microsoft.Storage/storageAccounts/{ACCOUNT}/listKeys?api-version=2023-05-01"
    );
    let resp = agent.post(&url).send().await?;
    assert_eq!(resp.status(), 200);
    let text = resp.text().await?;
    assert!(text.contains("REDACTED"), "{text}");
    for k in &keys {
        assert!(!text.contains(k.as_str()), "a storage key reached the agent: {text}");
    }

    // A delete is held for a person; after approval the identical request runs once.
    let url = format!("{arm}/resourcegroups/{DOOMED_RG}?api-version=2021-04-01");
    let resp = agent.delete(&url).send().await?;
    assert_eq!(resp.status(), 403);
    let held: Value = resp.json().await?;
    assert_eq!(held["error"]["code"], "approval_required", "{held}");
    let review = held["error"]["review_id"].as_str().unwrap().to_owned();
    assert_eq!(s.arm.received().iter().filter(|r| r.method == "DELETE").count(), 0);
    s.post(&s.approver, &format!("/reviews/{review}/approve"), json!({"comment": "ok"})).await?;
    let resp = agent.delete(&url).send().await?;
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(s.arm.received().iter().filter(|r| r.method == "DELETE").count(), 1);

    // Recorded: every request inside the tunnel, with its target; never a key.
    let events = s.traffic_events().await?;
    assert!(events.iter().any(|e| e.contains("listKeys")), "{events:?}");
    assert!(events.iter().any(|e| e.contains(&format!("resourcegroups/{DOOMED_RG}"))), "{events:?}");
    for k in &keys {
        assert!(!events.iter().any(|e| e.contains(k.as_str())), "a storage key is in the audit log");
    }

    // Revoked: the next request inside a fresh tunnel is refused, and so is the CONNECT.
    s.revoke(&grant).await?;
    let resp = s
        .proxied(None)?
        .get(format!("{arm}/resourcegroups?api-version=2021-04-01"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(resp.status(), 403);
    s.gw.shutdown().await;
    Ok(())
}

/// Inside a tunnel to management.azure.com, a request for another host is refused (421)
/// and reaches nothing: a tunnel cannot be used to reach a different connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_serves_only_its_own_host() -> anyhow::Result<()> {
    use rustls_pki_types::pem::PemObject as _;
    let s = Scenario::start().await?;
    let (_grant, token) = s.grant().await?;
    let mut tcp = tokio::net::TcpStream::connect(s.gw.data_addr()).await?;
    let connect = format!("CONNECT {ARM_HOST}:443 HTTP/1.1\r\nHost: {ARM_HOST}:443\r\nProxy-Authorization: Bearer {token}\r\n\r\n");
    tcp.write_all(connect.as_bytes()).await?;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        anyhow::ensure!(tcp.read(&mut b).await? == 1, "closed before the CONNECT answer");
        head.push(b[0]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 200"), "{}", String::from_utf8_lossy(&head));

    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(s.gw.proxy_ca())? {
        roots.add(cert?)?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = rustls_pki_types::ServerName::try_from(ARM_HOST)?;
    let mut tls = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config)).connect(name, tcp).await?;
    let req = format!("GET /subscriptions/{SUB}/resourcegroups?api-version=2021-04-01 HTTP/1.1\r\nHost: graph.microsoft.com\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).await?;
    let mut answer = Vec::new();
    let _ = tls.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    assert!(answer.contains("proxy_host_mismatch"), "{answer}");
    assert!(s.arm.received().is_empty());
    s.gw.shutdown().await;
    Ok(())
}
