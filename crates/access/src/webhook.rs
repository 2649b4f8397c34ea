//! Outgoing notifications: a signed POST to each configured URL on requests and
//! decisions, retried with exponential backoff, shaped for Slack, Teams or generic JSON.
//!
//! Signature: `X-Portcullis-Signature: sha256=HEX(HMAC-SHA256(secret, "{timestamp}.{body}"))`
//! with `X-Portcullis-Timestamp: {unix seconds}`; receivers recompute it and refuse old
//! timestamps.

use std::time::Duration;

use aws_lc_rs::hmac;
use serde_json::{json, Value};

use crate::config::{WebhookConfig, WebhookFormat};
use crate::model::AccessRequest;

/// Header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Portcullis-Signature";
/// Header carrying the signed timestamp.
pub const TIMESTAMP_HEADER: &str = "X-Portcullis-Timestamp";

/// Computes the signature header value for `body` sent at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body);
    format!("sha256={}", hex::encode(ctx.sign().as_ref()))
}

/// Verifies a signature header in constant time (for receivers and tests).
pub fn verify(secret: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.strip_prefix("sha256=") else { return false };
    let Ok(sig) = hex::decode(hex_sig) else { return false };
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut msg = timestamp.to_string().into_bytes();
    msg.push(b'.');
    msg.extend_from_slice(body);
    hmac::verify(&key, &msg, &sig).is_ok()
}

/// The notifier.
#[derive(Debug, Clone)]
pub(crate) struct Webhooks {
    targets: Vec<WebhookConfig>,
    client: reqwest::Client,
    public_url: String,
}

impl Webhooks {
    pub(crate) fn new(targets: Vec<WebhookConfig>, public_url: String) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap_or_default();
        Webhooks { targets, client, public_url }
    }

    /// Sends `event` about `request` to every target, in the background.
    pub(crate) fn notify(&self, event: &str, request: &AccessRequest) {
        for target in &self.targets {
            let body = payload(target.format, event, request, &self.public_url);
            let target = target.clone();
            let client = self.client.clone();
            tokio::spawn(async move { deliver(&client, &target, body).await });
        }
    }
}

async fn deliver(client: &reqwest::Client, target: &WebhookConfig, body: Value) {
    let bytes = body.to_string().into_bytes();
    let mut delay = target.backoff;
    for attempt in 1..=target.attempts.max(1) {
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let result = client
            .post(target.url.clone())
            .header("content-type", "application/json")
            .header(TIMESTAMP_HEADER, ts.to_string())
            .header(SIGNATURE_HEADER, sign(&target.secret, ts, &bytes))
            .body(bytes.clone())
            .send()
            .await;
        match result {
            Ok(r) if r.status().is_success() => return,
            Ok(r) => tracing::warn!(url = %target.url, status = %r.status(), attempt, "webhook refused"),
            Err(e) => tracing::warn!(url = %target.url, error = %e, attempt, "webhook failed"),
        }
        if attempt < target.attempts {
            tokio::time::sleep(delay).await;
            delay = delay.saturating_mul(2);
        }
    }
    tracing::error!(url = %target.url, "webhook given up after {} attempts", target.attempts);
}

/// The payload for one target format.
pub(crate) fn payload(format: WebhookFormat, event: &str, r: &AccessRequest, public_url: &str) -> Value {
    let base = public_url.trim_end_matches('/');
    let url = format!("{base}/api/v1/access-requests/{}", r.id);
    let who = r.principal.display_name.as_deref().unwrap_or(&r.principal.key);
    let text = format!(
        "{event}: {who} asks for {} on {} for {} s ({}). Reason: {}. State: {}.",
        r.level,
        r.connection,
        r.duration_secs,
        r.ticket.as_deref().unwrap_or("no ticket"),
        r.reason,
        r.state.as_str()
    );
    let approve = format!("portcullis access approve {}", r.id);
    match format {
        WebhookFormat::Generic => json!({
            "event": event, "text": text, "request": r, "request_url": url, "approve_url": format!("{url}/approve"),
            "approve_command": approve,
        }),
        WebhookFormat::Slack => json!({
            "text": text,
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": text}},
                {"type": "context", "elements": [{"type": "mrkdwn", "text": format!("`{approve}`")}]},
                {"type": "actions", "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Review and approve"},
                     "url": url, "style": "primary"}
                ]}
            ]
        }),
        WebhookFormat::Teams => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": format!("Access request {}", r.id),
            "themeColor": "0076D7",
            "title": format!("Portcullis: {event}"),
            "text": format!("{text}<br/>`{approve}`"),
            "potentialAction": [
                {"@type": "OpenUri", "name": "Review and approve", "targets": [{"os": "default", "uri": url}]}
            ]
        }),
    }
}
