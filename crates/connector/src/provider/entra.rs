//! Entra ID client credentials: with a client secret, with a certificate (a client
//! assertion signed by its key), or with a federated token file (workload identity).

use std::path::{Path, PathBuf};

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use base64::Engine as _;
use http::Method;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};

use super::cache::now;
use crate::client::UpstreamClient;
use crate::fetch::{self, IdentityCall};
use crate::secret::Secret;

const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion we sign is valid.
const ASSERTION_LIFETIME_SECS: u64 = 600;

/// How the application proves itself to Entra.
pub(crate) enum EntraAuth {
    Secret(Secret),
    Certificate {
        key: Box<EncodingKey>,
        x5t_s256: String,
    },
    /// The federated token file, re-read on every fetch (the platform rotates it).
    Federated(PathBuf),
}

/// One application's client-credentials flow for one scope.
pub(crate) struct EntraFlow {
    pub(crate) token_url: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) auth: EntraAuth,
}

/// `{authority}/{tenant}/oauth2/v2.0/token`.
pub(crate) fn token_url(authority: Option<&url::Url>, tenant: &str) -> String {
    let base = authority.map(|a| a.as_str().trim_end_matches('/').to_owned());
    format!("{}/{tenant}/oauth2/v2.0/token", base.as_deref().unwrap_or(crate::config::DEFAULT_AUTHORITY))
}

impl EntraFlow {
    /// Fetches a token: (token, expiry in epoch seconds).
    pub(crate) async fn fetch(&self, client: &UpstreamClient) -> Result<(Secret, u64), String> {
        // The federated token is read first: the form serializer must not live across an
        // await (it is not `Send`).
        let federated = match &self.auth {
            EntraAuth::Federated(path) => Some(
                tokio::fs::read_to_string(path)
                    .await
                    .map_err(|e| format!("federated token file {}: {e}", path.display()))?,
            ),
            _ => None,
        };
        let form = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "client_credentials")
                .append_pair("client_id", &self.client_id)
                .append_pair("scope", &self.scope);
            match &self.auth {
                EntraAuth::Secret(secret) => {
                    form.append_pair("client_secret", secret.expose());
                }
                EntraAuth::Certificate { key, x5t_s256 } => {
                    let assertion = self.assertion(key, x5t_s256)?;
                    form.append_pair("client_assertion_type", ASSERTION_TYPE)
                        .append_pair("client_assertion", &assertion);
                }
                EntraAuth::Federated(_) => {
                    form.append_pair("client_assertion_type", ASSERTION_TYPE)
                        .append_pair("client_assertion", federated.as_deref().unwrap_or_default().trim());
                }
            }
            form.finish()
        };
        let call = IdentityCall {
            method: Method::POST,
            url: &self.token_url,
            headers: Vec::new(),
            form: Some(form),
        };
        let answer = fetch::json(client, call).await?;
        token_from(&answer)
    }

    fn assertion(&self, key: &EncodingKey, x5t_s256: &str) -> Result<String, String> {
        let mut header = Header::new(Algorithm::RS256);
        header.x5t_s256 = Some(x5t_s256.to_owned());
        let now = now();
        let claims = json!({
            "aud": self.token_url,
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": uuid::Uuid::new_v4().to_string(),
            "iat": now,
            "nbf": now,
            "exp": now + ASSERTION_LIFETIME_SECS,
        });
        jsonwebtoken::encode(&header, &claims, key).map_err(|e| format!("signing the client assertion: {e}"))
    }
}

/// The token and its expiry from a token endpoint's (or managed identity's) answer.
pub(crate) fn token_from(answer: &Value) -> Result<(Secret, u64), String> {
    let token = answer
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .ok_or("the answer has no access_token")?;
    let expires_at = fetch::expiry(answer, now()).ok_or("the answer has no expires_in or expires_on")?;
    Ok((Secret::new(token), expires_at))
}

/// Loads a certificate credential: the RSA key (from `key_file`, else from
/// `certificate_file`) and the certificate's SHA-256 thumbprint.
pub(crate) fn load_certificate(cert_file: &Path, key_file: Option<&Path>) -> Result<EntraAuth, String> {
    let cert = CertificateDer::pem_file_iter(cert_file)
        .map_err(|e| format!("certificate_file {}: {e}", cert_file.display()))?
        .next()
        .ok_or_else(|| format!("certificate_file {}: no PEM certificate found", cert_file.display()))?
        .map_err(|e| format!("certificate_file {}: {e}", cert_file.display()))?;
    let x5t_s256 = B64URL.encode(digest(&SHA256, cert.as_ref()));
    let key_path = key_file.unwrap_or(cert_file);
    let text = std::fs::read_to_string(key_path).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let block = private_key_block(&text).ok_or_else(|| {
        format!("{}: no PEM private key (PRIVATE KEY or RSA PRIVATE KEY) found", key_path.display())
    })?;
    let key = EncodingKey::from_rsa_pem(block.as_bytes())
        .map_err(|e| format!("{}: not an RSA private key: {e}", key_path.display()))?;
    Ok(EntraAuth::Certificate { key: Box::new(key), x5t_s256 })
}

/// The first `-----BEGIN … PRIVATE KEY-----` block of a PEM text.
fn private_key_block(text: &str) -> Option<&str> {
    let start = text.find("-----BEGIN ")?;
    let mut rest = &text[start..];
    let mut offset = start;
    loop {
        let line_end = rest.find('\n').unwrap_or(rest.len());
        let begin = &rest[..line_end];
        if begin.contains("PRIVATE KEY-----") {
            let label = begin.trim().trim_start_matches("-----BEGIN ").trim_end_matches("-----");
            let end_marker = format!("-----END {label}-----");
            let end = rest.find(&end_marker)? + end_marker.len();
            return Some(&text[offset..offset + end]);
        }
        let next = rest[1..].find("-----BEGIN ")? + 1;
        offset += next;
        rest = &rest[next..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_key_after_a_certificate() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            private_key_block(pem),
            Some("-----BEGIN PRIVATE KEY-----\nBBBB\n-----END PRIVATE KEY-----")
        );
        assert_eq!(private_key_block("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), None);
    }

    #[test]
    fn token_url_uses_the_authority() {
        assert_eq!(token_url(None, "t"), "https://login.microsoftonline.com/t/oauth2/v2.0/token");
        let a = url::Url::parse("http://127.0.0.1:9/").ok();
        assert_eq!(token_url(a.as_ref(), "t"), "http://127.0.0.1:9/t/oauth2/v2.0/token");
    }
}
