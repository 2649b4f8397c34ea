//! Fetching discovery documents and key sets: https only (plain http for loopback test
//! providers), no redirects, bounded time and size.

use std::net::IpAddr;
use std::time::Duration;

use url::{Host, Url};

/// Largest discovery document or JWKS accepted.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 256 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const TOTAL_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks that a provider URL may be fetched: `https://`, or `http://` to a loopback host.
pub(crate) fn check_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{text:?} is not a valid URL: {e}"))?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(format!("{text} must use https (plain http only for loopback)")),
        other => Err(format!("{text}: scheme {other} is not allowed, use https")),
    }
}

fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// An HTTP client for provider documents.
#[derive(Clone)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
}

impl Fetcher {
    pub(crate) fn new() -> Result<Fetcher, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(TOTAL_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("portcullis/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Fetcher { client })
    }

    /// GETs a JSON document, refusing anything but a 200 of at most
    /// [`MAX_DOCUMENT_BYTES`].
    pub(crate) async fn get(&self, url: &str) -> Result<Vec<u8>, String> {
        let url = check_url(url)?;
        let mut response = self
            .client
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(format!("GET {url}: status {}", response.status()));
        }
        if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
            return Err(format!("GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("GET {url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err(format!("GET {url}: document larger than {MAX_DOCUMENT_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn only_https_or_loopback_http() {
        assert!(check_url("https://login.microsoftonline.com/t/v2.0").is_ok());
        assert!(check_url("http://127.0.0.1:8080/keys").is_ok());
        assert!(check_url("http://[::1]:8080/keys").is_ok());
        assert!(check_url("http://localhost/keys").is_ok());
        assert!(check_url("http://example.com/keys").is_err());
        assert!(check_url("http://169.254.169.254/keys").is_err());
        assert!(check_url("file:///etc/passwd").is_err());
        assert!(check_url("not a url").is_err());
    }
}
