//! Small JSON requests to identity endpoints (token endpoints, managed identity). The
//! answer is read with a size cap and a deadline; error text never includes the request
//! (which carries the secret) or a token.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request};
use http_body_util::{BodyExt, Full, Limited};
use serde_json::Value;

use crate::client::UpstreamClient;

const MAX_ANSWER: usize = 64 * 1024;
const DEADLINE: Duration = Duration::from_secs(30);

/// A request to an identity endpoint.
pub(crate) struct IdentityCall<'a> {
    pub(crate) method: Method,
    pub(crate) url: &'a str,
    pub(crate) headers: Vec<(&'static str, HeaderValue)>,
    pub(crate) form: Option<String>,
}

/// Sends `call` and returns the JSON answer of a 2xx. Other answers become a
/// description from the OAuth `error`/`error_description` fields only.
pub(crate) async fn json(client: &UpstreamClient, call: IdentityCall<'_>) -> Result<Value, String> {
    let body = call.form.clone().map(Bytes::from).unwrap_or_default();
    let mut req = Request::new(Full::new(body).map_err(|never| match never {}).boxed_unsync());
    *req.method_mut() = call.method;
    *req.uri_mut() = call.url.parse().map_err(|e| format!("identity endpoint URL: {e}"))?;
    for (name, value) in call.headers {
        req.headers_mut().insert(name, value);
    }
    if call.form.is_some() {
        req.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
    }
    req.headers_mut().insert(http::header::ACCEPT, HeaderValue::from_static("application/json"));
    let host = req.uri().host().unwrap_or_default().to_owned();
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| format!("{host}: {}", chain(&e)))?;
        let status = resp.status();
        let bytes = Limited::new(resp.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| format!("{host}: reading the answer: {e}"))?
            .to_bytes();
        Ok::<_, String>((status, bytes))
    };
    let (status, bytes) =
        tokio::time::timeout(DEADLINE, exchange).await.map_err(|_| format!("{host}: no answer in 30s"))??;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if status.is_success() {
        if value.is_object() {
            return Ok(value);
        }
        return Err(format!("{host} answered {status} without a JSON object"));
    }
    let field = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (error, description) = (field("error"), field("error_description"));
    Err(match (error.is_empty(), description.is_empty()) {
        (true, _) => format!("{host} answered {status}"),
        (false, true) => format!("{host} answered {status}: {error}"),
        (false, false) => format!("{host} answered {status}: {error}: {description}"),
    })
}

fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut s = err.to_string();
    let mut cur = err.source();
    while let Some(e) = cur {
        s.push_str(": ");
        s.push_str(&e.to_string());
        cur = e.source();
    }
    s
}

/// Reads an expiry given as seconds since the epoch, or as a lifetime in seconds from
/// now; numbers may be JSON strings (Entra v1 and managed identity send strings).
pub(crate) fn expiry(v: &Value, now: u64) -> Option<u64> {
    let num = |k: &str| -> Option<u64> {
        let f = v.get(k)?;
        f.as_u64().or_else(|| f.as_str().and_then(|s| s.trim().parse().ok()))
    };
    num("expires_on").or_else(|| num("expires_in").map(|secs| now + secs))
}
