//! A request through the tunnel (gateway pool → TLS/HTTP/2 tunnel → connector handler that
//! forwards to the upstream) versus the same request sent to the upstream directly, in one
//! run. Before divan runs, prints the memory cost of idle tunnel streams.
//!
//! `cargo bench -p portcullis-tunnel` (release; run it alone on the machine).

use std::convert::Infallible;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_tunnel::{
    client_tls_from_ca_pem, handler_fn, server_tls_from_pem, BoxBody, BoxError, ConnectorKey, ConnectorPool,
    TunnelClient, TunnelClientConfig, TunnelServer, TunnelServerConfig,
};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;

const PAYLOAD: &[u8] = br#"{"value":[{"id":"/subscriptions/0000/resourceGroups/rg-demo","name":"rg-demo","location":"westeurope"}]}"#;
const CONCURRENCY: usize = 64;

struct World {
    rt: Runtime,
    upstream: Uri,
    direct: Client<HttpConnector, BoxBody>,
    pool: ConnectorPool,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (upstream, pool) = rt.block_on(start(dir.path().join("connectors.json")));
        let direct = Client::builder(TokioExecutor::new()).build_http();
        World { rt, upstream, direct, pool, _dir: dir }
    })
}

async fn start(pins: std::path::PathBuf) -> (Uri, ConnectorPool) {
    // The upstream: HTTP/1.1 keep-alive, a small JSON answer.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream: Uri = format!("http://{}", listener.local_addr().unwrap()).parse().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(|_req: Request<Incoming>| async {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(PAYLOAD))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });

    let certified = rcgen::generate_simple_self_signed(vec!["gateway.test".to_owned()]).unwrap();
    let tls = server_tls_from_pem(
        certified.cert.pem().as_bytes(),
        certified.signing_key.serialize_pem().as_bytes(),
    )
    .unwrap();
    let mut config = TunnelServerConfig::new(tls, pins);
    config.enrollment_tokens = vec!["bench".to_owned()];
    let server = TunnelServer::new(config).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = listener.local_addr().unwrap().to_string();
    let pool = server.pool();
    tokio::spawn(async move { server.serve(listener).await });

    // The connector forwards to the upstream with its own keep-alive client, as a real one does.
    let forward: Client<HttpConnector, Incoming> = Client::builder(TokioExecutor::new()).build_http();
    let base = upstream.clone();
    let handler = handler_fn(move |connection, mut req: Request<Incoming>| {
        let forward = forward.clone();
        let base = base.clone();
        Box::pin(async move {
            if connection == "idle" {
                std::future::pending::<()>().await;
            }
            if connection == "local" {
                return Response::new(
                    Full::new(Bytes::from_static(PAYLOAD)).map_err(|never| match never {}).boxed_unsync(),
                );
            }
            let path = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
            *req.uri_mut() = format!("{base}{}", path.trim_start_matches('/')).parse().unwrap();
            *req.version_mut() = http::Version::HTTP_11;
            match forward.request(req).await {
                Ok(response) => response.map(|b| b.map_err(|e| Box::new(e) as BoxError).boxed_unsync()),
                Err(_) => Response::builder().status(502).body(empty()).unwrap(),
            }
        })
    });
    let ca = client_tls_from_ca_pem(certified.cert.pem().as_bytes()).unwrap();
    let key = Arc::new(ConnectorKey::generate().unwrap());
    let mut client = TunnelClientConfig::new(gateway, "gateway.test".to_owned(), ca, "bench".to_owned(), key);
    client.connections = vec!["arm".to_owned(), "idle".to_owned(), "local".to_owned()];
    client.tunnels = std::env::var("TUNNELS").ok().and_then(|t| t.parse().ok()).unwrap_or(1);
    client.enrollment_token = Some("bench".to_owned());
    let tunnels = client.tunnels.max(1);
    tokio::spawn(TunnelClient::run(client, handler));
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pool.status().iter().any(|s| s.tunnels == tunnels) {
        assert!(Instant::now() < deadline, "the connector did not connect");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    (upstream, pool)
}

fn empty() -> BoxBody {
    Full::new(Bytes::new()).map_err(|never| match never {}).boxed_unsync()
}

async fn direct_once(w: &World) {
    let req = Request::get(w.upstream.clone()).body(empty()).unwrap();
    let body = w.direct.request(req).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), PAYLOAD.len());
}

async fn tunnel_once(w: &World) {
    tunnel_to(w, "arm").await;
}

async fn tunnel_to(w: &World, connection: &str) {
    let req = Request::get("/subscriptions").body(empty()).unwrap();
    let body = w.pool.send(connection, req).await.unwrap().into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body.len(), PAYLOAD.len());
}

#[divan::bench]
fn direct_one_request() {
    let w = world();
    w.rt.block_on(direct_once(w));
}

#[divan::bench]
fn tunnel_one_request() {
    let w = world();
    w.rt.block_on(tunnel_once(w));
}

/// The transport alone: the connector answers itself, no upstream hop.
#[divan::bench]
fn tunnel_only_one_request() {
    let w = world();
    w.rt.block_on(tunnel_to(w, "local"));
}

#[divan::bench]
fn direct_64_concurrent(bencher: divan::Bencher) {
    let w = world();
    bencher.counter(divan::counter::ItemsCount::new(CONCURRENCY)).bench(|| {
        w.rt.block_on(futures_util::future::join_all((0..CONCURRENCY).map(|_| direct_once(w))));
    });
}

#[divan::bench]
fn tunnel_64_concurrent(bencher: divan::Bencher) {
    let w = world();
    bencher.counter(divan::counter::ItemsCount::new(CONCURRENCY)).bench(|| {
        w.rt.block_on(futures_util::future::join_all((0..CONCURRENCY).map(|_| tunnel_once(w))));
    });
}

/// Resident memory of this process, in KiB.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Opens idle streams (the handler never answers) and reports the memory they cost.
fn idle_stream_memory() {
    const STREAMS: usize = 1000;
    let w = world();
    w.rt.block_on(async {
        for _ in 0..200 {
            tunnel_once(w).await;
        }
        let before = rss_kib();
        let mut open = Vec::with_capacity(STREAMS);
        for _ in 0..STREAMS {
            let pool = w.pool.clone();
            open.push(tokio::spawn(async move { pool.send("idle", Request::get("/").body(empty()).unwrap()).await }));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib();
        let per_stream = (after.saturating_sub(before) as f64 * 1024.0) / STREAMS as f64;
        println!("idle tunnel streams: {STREAMS} open, RSS {before} KiB -> {after} KiB, ~{per_stream:.0} bytes per stream (both ends, one process)");
        for task in open {
            task.abort();
        }
    });
}

fn main() {
    idle_stream_memory();
    divan::main();
}
