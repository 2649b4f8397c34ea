//! An `authentication` audit event for every refused token, rate-limited per source
//! address so a flood of bad tokens cannot flood the log (or the disk).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portcullis_audit::{AuditEvent, AuditLog, EventDetail, Outcome};

use crate::error::GatewayError;

/// Events per source address per window.
const PER_WINDOW: u32 = 20;
const WINDOW: Duration = Duration::from_secs(60);
/// Sources remembered at most; past that the table starts afresh.
const MAX_SOURCES: usize = 10_000;

/// Records authentication failures, at most [`PER_WINDOW`] per source per minute.
pub(crate) struct AuthEvents {
    audit: Arc<AuditLog>,
    seen: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl AuthEvents {
    pub(crate) fn new(audit: Arc<AuditLog>) -> Self {
        AuthEvents { audit, seen: Mutex::new(HashMap::new()) }
    }

    fn admit(&self, source: IpAddr) -> bool {
        let Ok(mut seen) = self.seen.lock() else { return true };
        if seen.len() > MAX_SOURCES {
            seen.clear();
        }
        let now = Instant::now();
        let entry = seen.entry(source).or_insert((now, 0));
        if now.duration_since(entry.0) > WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1 <= PER_WINDOW
    }

    /// Records `err` if it is an authentication failure and the source is within its
    /// budget. The event carries the precise reason; the agent only saw a general one.
    pub(crate) fn failure(&self, err: &GatewayError, source: IpAddr, surface: &'static str) {
        let reason = match err {
            GatewayError::Unauthenticated(None) => "missing_token".to_owned(),
            GatewayError::Unauthenticated(Some(e)) => format!("{}: {}", e.reason().code(), e.detail()),
            _ => return,
        };
        if !self.admit(source) {
            tracing::debug!(%source, "authentication failure not recorded: source over its budget");
            return;
        }
        let event = AuditEvent::now(EventDetail::Authentication {
            outcome: Outcome::Failure,
            method: surface.to_owned(),
            principal: None,
            reason: Some(reason),
            remote: Some(source.to_string()),
        });
        let audit = self.audit.clone();
        tokio::spawn(async move {
            if let Err(e) = audit.append(event).await {
                tracing::error!(code = e.reason.code(), "could not record an authentication failure");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_source_is_limited_per_window() {
        let dir = tempfile::tempdir().unwrap();
        let store = portcullis_store::SqliteStore::open(dir.path()).await.unwrap();
        let audit = Arc::new(AuditLog::open(&store, Default::default()).await.unwrap());
        let events = AuthEvents::new(audit.clone());
        let a: IpAddr = "127.0.0.2".parse().unwrap();
        let b: IpAddr = "127.0.0.3".parse().unwrap();
        let admitted = (0..100).filter(|_| events.admit(a)).count();
        assert_eq!(admitted, PER_WINDOW as usize);
        assert!(events.admit(b), "another source has its own budget");
        audit.shutdown().await;
    }
}
