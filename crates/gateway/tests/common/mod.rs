//! A local upstream that records what reached it, and a gateway started on port 0.
#![allow(dead_code, unreachable_pub)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use portcullis_gateway::{Config, RunningGateway};
use tokio::net::TcpListener;

/// One request as the upstream received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub target: String,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body_len: usize,
}

/// A fake target on 127.0.0.1:0 with a few behaviours chosen by path.
pub struct Upstream {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    pub tls_ca: Option<PathBuf>,
    _dir: Option<tempfile::TempDir>,
}

type UpBody = BoxBody<Bytes, Infallible>;

/// A storage account key as Azure returns them (base64 of 64 bytes), planted in responses.
#[allow(dead_code)]
pub const ACCOUNT_KEY: &str =
    "c3VwZXJzZWNyZXRrZXlzdXBlcnNlY3JldGtleXN1cGVyc2VjcmV0a2V5c3VwZXJzZWNyZXRrZXkxMjM0NTY3OA==";

/// `Microsoft.Storage/storageAccounts/listKeys` as ARM answers it.
const LIST_KEYS: &str = r#"{"keys":[{"creationTime":"2026-11-01T10:00:00.0000000Z","keyName":"key1","value":"ACCOUNT_KEY","permissions":"FULL"},{"creationTime":"2026-11-01T10:00:00.0000000Z","keyName":"key2","value":"ACCOUNT_KEY","permissions":"FULL"}]}"#;

fn text(status: StatusCode, ct: &str, body: impl Into<Bytes>) -> Response<UpBody> {
    Response::builder()
        .status(status)
        .header("content-type", ct)
        .body(Full::new(body.into()).boxed())
        .unwrap()
}

async fn respond(origin: String, req: Request<Incoming>, seen: Arc<Mutex<Vec<Seen>>>) -> Response<UpBody> {
    let (parts, body) = req.into_parts();
    let target = parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let query = parts.uri.query().unwrap_or("").to_owned();
    let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
    seen.lock().unwrap().push(Seen {
        method: parts.method.to_string(),
        target: target.clone(),
        version: parts.version,
        headers: parts.headers.clone(),
        body_len: body.len(),
    });
    let param = |name: &str| -> Option<u64> {
        query.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).and_then(|v| v.parse().ok())
    };
    if path.ends_with("/big") {
        let total = param("bytes").unwrap_or(0);
        let chunk = Bytes::from(vec![b'x'; 64 * 1024]);
        let stream = futures_util::stream::unfold(0u64, move |sent| {
            let chunk = chunk.clone();
            async move {
                if sent >= total {
                    return None;
                }
                let n = (total - sent).min(chunk.len() as u64) as usize;
                Some((Ok::<_, Infallible>(Frame::data(chunk.slice(..n))), sent + n as u64))
            }
        });
        return Response::builder()
            .header("content-type", "application/octet-stream")
            .header("content-length", total)
            .body(BodyExt::boxed(StreamBody::new(stream)))
            .unwrap();
    }
    if path.ends_with("/slow") {
        tokio::time::sleep(Duration::from_millis(param("ms").unwrap_or(500))).await;
        return text(StatusCode::OK, "application/json", "{\"slow\":true}");
    }
    if path.ends_with("/links") {
        let body = format!(
            r#"{{"value":[{{"id":"/subscriptions/1"}}],"nextLink":"{origin}/subscriptions?$skiptoken=2&api-version=1","escaped":"{}\/x"}}"#,
            origin.replace('/', "\\/")
        );
        return Response::builder()
            .status(202)
            .header("content-type", "application/json; charset=utf-8")
            .header("location", format!("{origin}/operationresults/1?api-version=1"))
            .header("azure-asyncoperation", format!("{origin}/operations/1?api-version=1"))
            .header("connection", "x-upstream-hop")
            .header("x-upstream-hop", "should not reach the agent")
            .body(Full::new(Bytes::from(body)).boxed())
            .unwrap();
    }
    if path.ends_with("/listKeys") {
        let body = LIST_KEYS.replace("ACCOUNT_KEY", ACCOUNT_KEY);
        let gzip = query.contains("gzip=1");
        let bytes = if gzip {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(body.as_bytes()).unwrap();
            enc.finish().unwrap()
        } else {
            body.into_bytes()
        };
        let mut resp = Response::builder()
            .header("content-type", "application/json; charset=utf-8")
            .header("x-ms-connection-string", format!("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey={ACCOUNT_KEY};EndpointSuffix=core.windows.net"))
            .header("x-ms-request-id", "0d1a7b7e-8f3e-4c55-9a40-5f0a3c1b2d4e");
        if gzip {
            resp = resp.header("content-encoding", "gzip");
        }
        return resp.body(Full::new(Bytes::from(bytes)).boxed()).unwrap();
    }
    if path.ends_with("/octets") {
        return text(StatusCode::OK, "application/octet-stream", format!("raw {ACCOUNT_KEY}"));
    }
    let echo = serde_json::json!({
        "method": parts.method.as_str(),
        "target": target,
        "version": format!("{:?}", parts.version),
        "body_len": body.len(),
    });
    text(StatusCode::OK, "application/json", echo.to_string())
}

impl Upstream {
    pub async fn start() -> Upstream {
        Self::start_inner(false).await
    }

    /// The same upstream behind TLS (HTTP/2 and HTTP/1.1 by ALPN), with its own CA file.
    pub async fn start_tls() -> Upstream {
        Self::start_inner(true).await
    }

    async fn start_inner(tls: bool) -> Upstream {
        let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = tcp.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (acceptor, tls_ca, dir) = if tls {
            let dir = tempfile::tempdir().unwrap();
            let key = rcgen::KeyPair::generate().unwrap();
            let params = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
            let cert = params.self_signed(&key).unwrap();
            let ca = dir.path().join("upstream-ca.pem");
            std::fs::write(&ca, cert.pem()).unwrap();
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            let mut cfg = rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(
                    vec![cert.der().clone()],
                    rustls_pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
                )
                .unwrap();
            cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            (Some(tokio_rustls::TlsAcceptor::from(Arc::new(cfg))), Some(ca), Some(dir))
        } else {
            (None, None, None)
        };
        let origin = format!("{}://127.0.0.1:{}", if tls { "https" } else { "http" }, addr.port());
        let seen2 = seen.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = tcp.accept().await else { continue };
                let seen = seen2.clone();
                let origin = origin.clone();
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (seen, origin) = (seen.clone(), origin.clone());
                        async move { Ok::<_, Infallible>(respond(origin, req, seen).await) }
                    });
                    let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                    match acceptor {
                        Some(a) => {
                            if let Ok(tls) = a.accept(stream).await {
                                let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                            }
                        }
                        None => {
                            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                        }
                    }
                });
            }
        });
        Upstream { addr, seen, tls_ca, _dir: dir }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls_ca.is_some() { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.addr.port())
    }

    pub fn received(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// A gateway on port 0 with one connection `up` to the upstream, plus extra TOML.
pub struct Harness {
    pub gateway: RunningGateway,
    pub dir: tempfile::TempDir,
}

pub async fn gateway(upstream: &Upstream, extra: &str) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let ca = upstream
        .tls_ca
        .as_ref()
        .map(|p| format!("upstream_ca = {:?}\n", p.display().to_string()))
        .unwrap_or_default();
    let toml = format!(
        r#"
data_dir = "data"
[listeners.data]
addr = "127.0.0.1:0"
[listeners.control]
addr = "127.0.0.1:0"
{extra}
[[connections]]
name = "up"
upstream = "{}"
hosts = ["upstream.test"]
{ca}
"#,
        upstream.url()
    );
    let config = Config::from_toml(&toml, &dir.path().join("portcullis.toml"), std::iter::empty()).unwrap();
    let gateway = portcullis_gateway::start(config).await.unwrap();
    Harness { gateway, dir }
}

impl Harness {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.gateway.data_url(), path)
    }

    pub fn control(&self, path: &str) -> String {
        format!("http://{}{}", self.gateway.control_addr(), path)
    }
}

/// Sends raw bytes and returns the raw response (for requests no client would send).
/// Reads one response: its head, then its body by Content-Length or chunked framing,
/// or until the gateway closes the connection.
pub async fn raw(addr: SocketAddr, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let complete = |out: &[u8]| -> bool {
        let Some(end) = out.windows(4).position(|w| w == b"\r\n\r\n") else { return false };
        let head = String::from_utf8_lossy(&out[..end]).to_ascii_lowercase();
        let body = &out[end + 4..];
        if let Some(len) = head.lines().find_map(|l| l.strip_prefix("content-length:")) {
            return body.len() >= len.trim().parse::<usize>().unwrap_or(0);
        }
        if head.contains("transfer-encoding: chunked") {
            return body.ends_with(b"0\r\n\r\n");
        }
        false
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        let mut buf = [0u8; 8192];
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    out.extend_from_slice(&buf[..n]);
                    if complete(&out) {
                        break;
                    }
                }
            }
        }
    })
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

pub fn status_of(raw: &str) -> u16 {
    raw.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0)
}

/// The audit events of one kind (`"config_reload"`, …), oldest first, as stored JSON.
pub async fn audit_events(store: &portcullis_store::SqliteStore, kind: &str) -> Vec<serde_json::Value> {
    let rows: Vec<String> = sqlx::query_scalar("SELECT body FROM audit_events WHERE kind = ? ORDER BY seq")
        .bind(kind)
        .fetch_all(store.pool())
        .await
        .unwrap();
    rows.iter().map(|r| serde_json::from_str(r).unwrap()).collect()
}
