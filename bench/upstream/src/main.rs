//! A fast upstream for `bench/run`: answers every request with the same ARM-shaped JSON
//! (a page of storage accounts, about 3 KB) over HTTP/1.1 keep-alive.
//!
//! `bench-upstream [ADDR]` (default `127.0.0.1:0`) prints `listening ADDR` once bound.
//!
//! For memory per idle stream: a request with `x-bench-hold-ms: N` is answered only after
//! N milliseconds (at most a minute), and `GET /_bench/held` answers how many requests are
//! being held right now, so a script knows when every held request has arrived.

use std::convert::Infallible;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::HeaderValue;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Longest a request may ask to be held.
const MAX_HOLD: Duration = Duration::from_secs(60);

const SUB: &str = "00000000-1111-2222-3333-444444444444";

fn account(i: usize) -> String {
    format!(
        r#"{{"id":"/subscriptions/{SUB}/resourceGroups/rg-bench/providers/Microsoft.Storage/storageAccounts/stbench{i:03}","name":"stbench{i:03}","type":"Microsoft.Storage/storageAccounts","location":"westeurope","tags":{{"owner":"platform-team","costCenter":"cc-{i:04}","env":"prod"}},"sku":{{"name":"Standard_LRS","tier":"Standard"}},"kind":"StorageV2","properties":{{"provisioningState":"Succeeded","creationTime":"2026-01-0{d}T10:00:00.0000000Z","primaryEndpoints":{{"blob":"https://stbench{i:03}.blob.core.windows.net/","queue":"https://stbench{i:03}.queue.core.windows.net/","table":"https://stbench{i:03}.table.core.windows.net/"}},"primaryLocation":"westeurope","statusOfPrimary":"available","supportsHttpsTrafficOnly":true,"minimumTlsVersion":"TLS1_2","allowBlobPublicAccess":false,"networkAcls":{{"bypass":"AzureServices","defaultAction":"Deny","ipRules":[],"virtualNetworkRules":[]}},"encryption":{{"keySource":"Microsoft.Storage","services":{{"blob":{{"enabled":true,"keyType":"Account"}},"file":{{"enabled":true,"keyType":"Account"}}}}}}}}}}"#,
        d = i % 9 + 1
    )
}

fn body() -> Bytes {
    let items: Vec<String> = (0..3).map(account).collect();
    Bytes::from(format!(r#"{{"value":[{}]}}"#, items.join(",")))
}

/// Counts a held request until it is answered or dropped.
struct Held(Arc<AtomicUsize>);

impl Held {
    fn enter(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Held(count)
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = TcpListener::bind(&addr).await?;
    let mut out = std::io::stdout();
    writeln!(out, "listening {}", listener.local_addr()?)?;
    out.flush()?;
    let page = body();
    let held = Arc::new(AtomicUsize::new(0));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let page = page.clone();
        let held = Arc::clone(&held);
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let page = page.clone();
                let held = Arc::clone(&held);
                async move {
                    if req.uri().path() == "/_bench/held" {
                        let count = held.load(Ordering::SeqCst).to_string();
                        return Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(count))));
                    }
                    let hold = req
                        .headers()
                        .get("x-bench-hold-ms")
                        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
                        .map(|ms| Duration::from_millis(ms).min(MAX_HOLD));
                    if let Some(hold) = hold {
                        let _counted = Held::enter(held);
                        tokio::time::sleep(hold).await;
                    }
                    let mut resp = Response::new(Full::new(page));
                    resp.headers_mut().insert(
                        hyper::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json; charset=utf-8"),
                    );
                    Ok::<_, Infallible>(resp)
                }
            });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
