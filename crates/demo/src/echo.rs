//! A tiny local upstream for the `gateway` step: it answers with what it received, so
//! the demo can show exactly what the gateway forwarded.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let seen_auth = req.headers().contains_key(http::header::AUTHORIZATION);
    let body = serde_json::json!({
        "method": req.method().as_str(),
        "target": req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        "authorization_header_received": seen_auth,
    });
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    Ok(resp)
}

/// Starts the echo upstream on 127.0.0.1:0; it runs until the process ends.
pub(crate) async fn start() -> std::io::Result<SocketAddr> {
    let tcp = TcpListener::bind("127.0.0.1:0").await?;
    let addr = tcp.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = tcp.accept().await {
            tokio::spawn(async move {
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let _ =
                    builder.serve_connection(TokioIo::new(stream), hyper::service::service_fn(echo)).await;
            });
        }
    });
    Ok(addr)
}
