//! Azure Storage SharedKey: each request is signed with the account key, as the
//! "Authorize with Shared Key" specification describes (service version 2009-09-19 and
//! later): a string to sign built from the verb, twelve standard headers, the
//! canonicalized `x-ms-*` headers and the canonicalized resource, HMAC-SHA256 with the
//! decoded key, sent as `Authorization: SharedKey account:signature`.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use http::request::Parts;
use http::HeaderValue;
use time::format_description::well_known::Rfc2822;

/// The service version sent when the agent names none.
const DEFAULT_VERSION: &str = "2021-08-06";

/// Signs requests for one storage account.
pub(crate) struct SharedKeySigner {
    account: String,
    key: hmac::Key,
}

impl SharedKeySigner {
    /// `key` is the account key as Azure shows it (base64).
    pub(crate) fn new(account: String, key: &str) -> Result<Self, String> {
        let bytes = B64.decode(key.trim()).map_err(|_| "the account key is not base64".to_owned())?;
        Ok(SharedKeySigner { account, key: hmac::Key::new(hmac::HMAC_SHA256, &bytes) })
    }

    /// Sets `x-ms-date` (and `x-ms-version` if absent) and the `Authorization` header.
    pub(crate) fn sign(&self, parts: &mut Parts) -> Result<(), String> {
        let date = time::OffsetDateTime::now_utc()
            .format(&Rfc2822)
            .map_err(|e| e.to_string())?
            .replace("+0000", "GMT");
        parts.headers.insert("x-ms-date", HeaderValue::from_str(&date).map_err(|e| e.to_string())?);
        if !parts.headers.contains_key("x-ms-version") {
            parts.headers.insert("x-ms-version", HeaderValue::from_static(DEFAULT_VERSION));
        }
        let to_sign = self.string_to_sign(parts);
        let signature = B64.encode(hmac::sign(&self.key, to_sign.as_bytes()));
        let value = format!("SharedKey {}:{signature}", self.account);
        parts
            .headers
            .insert(http::header::AUTHORIZATION, HeaderValue::from_str(&value).map_err(|e| e.to_string())?);
        Ok(())
    }

    fn string_to_sign(&self, parts: &Parts) -> String {
        let h = |name: &str| -> String {
            parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_owned()
        };
        let length = h("content-length");
        let length = if length == "0" { String::new() } else { length };
        let mut s = String::with_capacity(256);
        s.push_str(parts.method.as_str());
        for value in [
            h("content-encoding"),
            h("content-language"),
            length,
            h("content-md5"),
            h("content-type"),
            h("date"),
            h("if-modified-since"),
            h("if-match"),
            h("if-none-match"),
            h("if-unmodified-since"),
            h("range"),
        ] {
            s.push('\n');
            s.push_str(&value);
        }
        s.push('\n');
        s.push_str(&canonical_headers(parts));
        s.push_str(&self.canonical_resource(parts));
        s
    }

    fn canonical_resource(&self, parts: &Parts) -> String {
        let mut s = format!("/{}{}", self.account, parts.uri.path());
        let mut params: Vec<(String, Vec<String>)> = Vec::new();
        if let Some(q) = parts.uri.query() {
            for (name, value) in url::form_urlencoded::parse(q.as_bytes()) {
                let name = name.to_lowercase();
                match params.iter_mut().find(|(n, _)| *n == name) {
                    Some((_, values)) => values.push(value.into_owned()),
                    None => params.push((name, vec![value.into_owned()])),
                }
            }
        }
        params.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, mut values) in params {
            values.sort();
            s.push('\n');
            s.push_str(&name);
            s.push(':');
            s.push_str(&values.join(","));
        }
        s
    }
}

/// `x-ms-*` headers, lower-cased, sorted, one `name:value\n` each, values unfolded.
fn canonical_headers(parts: &Parts) -> String {
    let mut names: Vec<&str> =
        parts.headers.keys().map(|n| n.as_str()).filter(|n| n.starts_with("x-ms-")).collect();
    names.sort_unstable();
    names.dedup();
    let mut s = String::new();
    for name in names {
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| {
                let v = String::from_utf8_lossy(v.as_bytes());
                v.split_whitespace().collect::<Vec<_>>().join(" ")
            })
            .collect();
        s.push_str(name);
        s.push(':');
        s.push_str(&values.join(","));
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_to_sign_follows_the_specification() {
        let signer = SharedKeySigner::new("myaccount".into(), "a2V5").unwrap_or_else(|e| panic!("{e}"));
        let req = http::Request::builder()
            .method("PUT")
            .uri("http://h/mycontainer/my%20blob?restype=x&comp=list&Comp=b")
            .header("content-length", "11")
            .header("content-type", "text/plain")
            .header("x-ms-version", "2021-08-06")
            .header("x-ms-date", "Mon, 30 Nov 2026 12:00:00 GMT")
            .header("x-ms-meta-a", "  one   two ")
            .body(())
            .unwrap_or_default();
        let (parts, ()) = req.into_parts();
        let expected = "PUT\n\n\n11\n\ntext/plain\n\n\n\n\n\n\n\
            x-ms-date:Mon, 30 Nov 2026 12:00:00 GMT\nx-ms-meta-a:one two\nx-ms-version:2021-08-06\n\
            /myaccount/mycontainer/my%20blob\ncomp:b,list\nrestype:x";
        assert_eq!(signer.string_to_sign(&parts), expected);
    }
}
