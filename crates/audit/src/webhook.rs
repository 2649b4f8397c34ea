//! The streaming webhook sink: every committed event, POSTed as JSON Lines to a URL.
//!
//! The writer offers each committed batch to a bounded queue without waiting; when the
//! queue is full the event is dropped and counted (the database stays the record: the
//! sink is a copy for a SIEM, it never slows or blocks the data path). A sender task
//! POSTs batches (`Content-Type: application/x-ndjson`), each line
//! `{"stream","seq","id","event"}`, with `X-Portcullis-Signature: sha256=<hex>`, the
//! HMAC-SHA256 of the request body under the shared secret. A batch the receiver does
//! not accept with a 2xx is retried a few times, then dropped and counted.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::hmac;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::{AuditError, AuditReason};

/// The header carrying the body's HMAC.
pub const SIGNATURE_HEADER: &str = "x-portcullis-signature";

/// Where and how to stream events.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// The receiver (`https://…`; `http://` only for loopback tests).
    pub url: String,
    /// The HMAC-SHA256 key the receiver checks signatures with.
    pub secret: Vec<u8>,
    /// Events that may wait for the sender; beyond that they are dropped and counted.
    pub queue_capacity: usize,
    /// Most events per POST.
    pub max_batch: usize,
    /// Per-POST timeout.
    pub timeout: Duration,
    /// Attempts per batch before it is dropped.
    pub attempts: u32,
}

impl WebhookConfig {
    /// A sink for `url` signed with `secret`, with default limits.
    pub fn new(url: impl Into<String>, secret: impl Into<Vec<u8>>) -> Self {
        WebhookConfig {
            url: url.into(),
            secret: secret.into(),
            queue_capacity: 8_192,
            max_batch: 512,
            timeout: Duration::from_secs(5),
            attempts: 3,
        }
    }
}

/// The sink's counters (in [`crate::AuditStatus::webhook`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WebhookStats {
    /// Events the receiver accepted.
    pub sent: u64,
    /// Events dropped: the queue was full, or the receiver kept refusing their batch.
    pub dropped: u64,
    /// POSTs that failed (each is retried up to `attempts` times).
    pub failed_posts: u64,
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    failed_posts: AtomicU64,
}

/// The writer's end of the sink.
#[derive(Debug, Clone)]
pub(crate) struct WebhookSink {
    tx: mpsc::Sender<String>,
    counters: Arc<Counters>,
}

/// The signature header's value for `body`.
pub fn sign_body(secret: &[u8], body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    format!("sha256={}", hex::encode(hmac::sign(&key, body).as_ref()))
}

/// True when `signature` (the header's value) is `body`'s HMAC under `secret`.
pub fn signature_valid(secret: &[u8], body: &[u8], signature: &str) -> bool {
    let Some(tag) = signature.strip_prefix("sha256=").and_then(|h| hex::decode(h).ok()) else {
        return false;
    };
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, secret), body, &tag).is_ok()
}

impl WebhookSink {
    /// Starts the sender task on the current runtime.
    pub(crate) fn start(config: WebhookConfig) -> Result<Self, AuditError> {
        let url = reqwest::Url::parse(&config.url).map_err(|e| {
            AuditError::new(AuditReason::Output, format!("webhook url {:?}: {e}", config.url))
        })?;
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| AuditError::new(AuditReason::Output, format!("building the webhook client: {e}")))?;
        let (tx, rx) = mpsc::channel(config.queue_capacity.max(1));
        let counters = Arc::new(Counters::default());
        tokio::spawn(send_loop(client, url, config, rx, counters.clone()));
        Ok(WebhookSink { tx, counters })
    }

    /// Offers a committed batch (each event's id and stored body, from `first_seq` on);
    /// never waits.
    pub(crate) fn offer_batch(&self, stream: &str, first_seq: i64, events: &[(uuid::Uuid, String)]) {
        let stream = serde_json::Value::from(stream).to_string();
        for (i, (id, body)) in events.iter().enumerate() {
            let line = format!(
                r#"{{"stream":{stream},"seq":{},"id":"{}","event":{}}}"#,
                first_seq + i as i64,
                id,
                body
            );
            if self.tx.try_send(line).is_err() {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub(crate) fn stats(&self) -> WebhookStats {
        WebhookStats {
            sent: self.counters.sent.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            failed_posts: self.counters.failed_posts.load(Ordering::Relaxed),
        }
    }
}

async fn send_loop(
    client: reqwest::Client,
    url: reqwest::Url,
    config: WebhookConfig,
    mut rx: mpsc::Receiver<String>,
    counters: Arc<Counters>,
) {
    let max_batch = config.max_batch.max(1);
    let mut lines = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut lines, max_batch).await > 0 {
        let count = lines.len() as u64;
        let mut body = lines.join("\n");
        body.push('\n');
        lines.clear();
        let signature = sign_body(&config.secret, body.as_bytes());
        let mut delivered = false;
        for attempt in 0..config.attempts.max(1) {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(200 << attempt.min(5))).await;
            }
            let sent = client
                .post(url.clone())
                .header("content-type", "application/x-ndjson")
                .header(SIGNATURE_HEADER, &signature)
                .body(body.clone())
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => {
                    delivered = true;
                    break;
                }
                Ok(r) => tracing::warn!(status = %r.status(), "the audit webhook refused a batch"),
                Err(e) => tracing::warn!(error = %e, "the audit webhook is unreachable"),
            }
            counters.failed_posts.fetch_add(1, Ordering::Relaxed);
        }
        let counter = if delivered { &counters.sent } else { &counters.dropped };
        counter.fetch_add(count, Ordering::Relaxed);
    }
}
