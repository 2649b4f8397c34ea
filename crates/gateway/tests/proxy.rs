//! The gateway as a reverse proxy: routing, header hygiene, URL rewriting, HTTP/1.1 and
//! HTTP/2 on both sides, TLS, metrics and health.

mod common;

use common::{gateway, Upstream};
use serde_json::Value;

#[tokio::test]
async fn forwards_by_path_prefix_with_header_hygiene() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let resp = reqwest::Client::new()
        .get(h.url("/up/subscriptions/abc/resourcegroups/my%20rg?api-version=2024-01-01&x=a+b"))
        .header("authorization", "Bearer agent-secret-token")
        .header("cookie", "session=agent")
        .header("x-forwarded-for", "6.6.6.6")
        .header("connection", "x-drop-me")
        .header("x-drop-me", "hop")
        .header("x-ms-client-request-id", "req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["target"], "/subscriptions/abc/resourcegroups/my%20rg?api-version=2024-01-01&x=a%20b");
    let seen = up.received();
    assert_eq!(seen.len(), 1);
    let headers = &seen[0].headers;
    assert!(headers.get("authorization").is_none(), "the agent's token never reaches the target");
    assert!(headers.get("cookie").is_none());
    assert!(headers.get("x-drop-me").is_none(), "headers named in Connection are hop-by-hop");
    assert_eq!(headers["x-forwarded-for"], "127.0.0.1", "forwarding headers are the gateway's own");
    assert_eq!(headers["x-ms-client-request-id"], "req-1");
    assert_eq!(headers["host"], format!("127.0.0.1:{}", up.addr.port()));
    h.gateway.shutdown().await;
}

#[tokio::test]
async fn routes_by_claimed_host_and_refuses_unknown_connections() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let client = reqwest::Client::new();
    let resp = client.get(h.url("/whatever/path")).header("host", "upstream.test").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["target"], "/whatever/path", "host-routed requests keep their whole path");

    let resp = client.get(h.url("/nope/x")).send().await.unwrap();
    assert_eq!(resp.status(), 404);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unknown_connection");
    assert_eq!(up.received().len(), 1, "nothing else reached the target");
    h.gateway.shutdown().await;
}

#[tokio::test]
async fn rewrites_upstream_urls_in_headers_and_json() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    let resp = reqwest::Client::new().get(h.url("/up/links")).send().await.unwrap();
    assert_eq!(resp.status(), 202);
    let base = h.url("/up");
    assert_eq!(resp.headers()["location"], format!("{base}/operationresults/1?api-version=1").as_str());
    assert_eq!(resp.headers()["azure-asyncoperation"], format!("{base}/operations/1?api-version=1").as_str());
    assert!(resp.headers().get("x-upstream-hop").is_none());
    let text = resp.text().await.unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["nextLink"], format!("{base}/subscriptions?$skiptoken=2&api-version=1"));
    assert_eq!(body["escaped"], format!("{base}/x"));
    assert!(!text.contains(&up.url()), "no upstream URL is left for an SDK to follow");

    // Following the rewritten link stays inside the gateway.
    let next = body["nextLink"].as_str().unwrap().to_owned();
    let resp = reqwest::get(&next).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(up.received().last().unwrap().target, "/subscriptions?$skiptoken=2&api-version=1");
    h.gateway.shutdown().await;
}

#[tokio::test]
async fn http2_from_the_agent_and_to_the_upstream() {
    let up = Upstream::start_tls().await;
    let h = gateway(&up, "").await;
    let client = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    let resp = client.get(h.url("/up/echo")).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "agent side spoke HTTP/2");
    assert_eq!(resp.status(), 200);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["version"], "HTTP/2.0", "upstream side negotiated HTTP/2 by ALPN");

    let h1 = reqwest::Client::builder().http1_only().build().unwrap();
    let resp = h1.post(h.url("/up/echo")).body(vec![7u8; 100_000]).send().await.unwrap();
    assert_eq!(resp.version(), reqwest::Version::HTTP_11);
    let echo: Value = resp.json().await.unwrap();
    assert_eq!(echo["body_len"], 100_000);
    h.gateway.shutdown().await;
}

#[tokio::test]
async fn tls_data_listener_serves_h2_and_h1() {
    let up = Upstream::start().await;
    let dir = tempfile::tempdir().unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".into()]).unwrap().self_signed(&key).unwrap();
    std::fs::write(dir.path().join("gw.pem"), cert.pem()).unwrap();
    std::fs::write(dir.path().join("gw.key"), key.serialize_pem()).unwrap();
    let extra = format!(
        "[listeners.data.tls]\ncert = {:?}\nkey = {:?}\n",
        dir.path().join("gw.pem").display().to_string(),
        dir.path().join("gw.key").display().to_string()
    );
    // The [listeners.data.tls] table must follow [listeners.data]: build the config by hand.
    let toml = format!(
        "data_dir = \"data\"\n[listeners.data]\naddr = \"127.0.0.1:0\"\n{extra}[listeners.control]\naddr = \"127.0.0.1:0\"\n\
         [[connections]]\nname = \"up\"\nupstream = \"{}\"\n",
        up.url()
    );
    let config =
        portcullis_gateway::Config::from_toml(&toml, &dir.path().join("p.toml"), std::iter::empty()).unwrap();
    let gw = portcullis_gateway::start(config).await.unwrap();
    assert!(gw.data_url().starts_with("https://"));
    let ca = reqwest::Certificate::from_pem(cert.pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder().add_root_certificate(ca).build().unwrap();
    let url = format!("https://localhost:{}/up/echo", gw.data_addr().port());
    let resp = client.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), reqwest::Version::HTTP_2, "ALPN picks HTTP/2");
    gw.shutdown().await;
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let up = Upstream::start().await;
    let h = gateway(&up, "").await;
    assert_eq!(reqwest::get(h.control("/healthz")).await.unwrap().status(), 200);
    let ready: Value = reqwest::get(h.control("/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["status"], "ready");
    reqwest::get(h.url("/up/echo")).await.unwrap();
    reqwest::get(h.url("/up/a/%2F/b")).await.unwrap();
    let metrics = reqwest::get(h.control("/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("portcullis_requests_total{connection=\"up\",status=\"200\"} 1"), "{metrics}");
    assert!(metrics.contains("portcullis_refused_total{reason=\"encoded_separator\"} 1"), "{metrics}");
    assert!(metrics.contains("portcullis_request_duration_seconds_bucket{le="), "{metrics}");
    h.gateway.shutdown().await;
}
