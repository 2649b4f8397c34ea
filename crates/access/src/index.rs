//! The in-memory index of active grants, read on every data-path request.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use tokio_util::sync::CancellationToken;

use crate::model::now_ms;

/// An active grant as the data path sees it. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ActiveGrant {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    grant_id: String,
    level: String,
    expires_at_ms: i64,
    ended: CancellationToken,
}

impl ActiveGrant {
    /// The grant id.
    pub fn grant_id(&self) -> &str {
        &self.inner.grant_id
    }

    /// The level granted.
    pub fn level(&self) -> &str {
        &self.inner.level
    }

    /// Expiry, milliseconds since the Unix epoch.
    pub fn expires_at_ms(&self) -> i64 {
        self.inner.expires_at_ms
    }

    /// Whether the grant has been revoked or has expired.
    pub fn is_ended(&self) -> bool {
        self.inner.ended.is_cancelled() || now_ms() >= self.inner.expires_at_ms
    }

    /// Completes when the grant is revoked or expires: the gateway selects on it to end
    /// in-flight streams of this grant.
    pub async fn ended(&self) {
        let until = self.inner.expires_at_ms - now_ms();
        let sleep = tokio::time::sleep(std::time::Duration::from_millis(u64::try_from(until).unwrap_or(0)));
        tokio::select! {
            () = self.inner.ended.cancelled() => {}
            () = sleep => {}
        }
    }

    /// A token cancelled on revocation or expiry (by the sweeper), for code that prefers one.
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.ended.clone()
    }
}

type ByConnection = HashMap<String, Vec<ActiveGrant>>;

/// Active grants by principal key, then connection.
#[derive(Debug, Default)]
pub struct GrantIndex {
    map: RwLock<HashMap<String, ByConnection>>,
}

impl GrantIndex {
    /// The active grant of `principal_key` for `connection`, if any (latest expiry first).
    pub fn active(&self, principal_key: &str, connection: &str) -> Option<ActiveGrant> {
        let map = self.map.read().ok()?;
        let grants = map.get(principal_key)?.get(connection)?;
        let now = now_ms();
        grants.iter().find(|g| !g.inner.ended.is_cancelled() && now < g.inner.expires_at_ms).cloned()
    }

    /// How many grants the index holds (including ones expired but not yet swept).
    pub fn len(&self) -> usize {
        self.map.read().map(|m| m.values().flat_map(|c| c.values()).map(Vec::len).sum()).unwrap_or(0)
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn insert(
        &self,
        principal_key: &str,
        connection: &str,
        grant_id: &str,
        level: &str,
        expires_at_ms: i64,
    ) {
        let grant = ActiveGrant {
            inner: Arc::new(Inner {
                grant_id: grant_id.into(),
                level: level.into(),
                expires_at_ms,
                ended: CancellationToken::new(),
            }),
        };
        if let Ok(mut map) = self.map.write() {
            let list = map.entry(principal_key.into()).or_default().entry(connection.into()).or_default();
            list.push(grant);
            list.sort_by_key(|g| std::cmp::Reverse(g.inner.expires_at_ms));
        }
    }

    /// Removes the grant and ends its in-flight handle. Returns whether it was present.
    pub(crate) fn end(&self, grant_id: &str) -> bool {
        let Ok(mut map) = self.map.write() else { return false };
        let mut found = false;
        map.retain(|_, by_conn| {
            by_conn.retain(|_, list| {
                list.retain(|g| {
                    if g.inner.grant_id == grant_id {
                        g.inner.ended.cancel();
                        found = true;
                        false
                    } else {
                        true
                    }
                });
                !list.is_empty()
            });
            !by_conn.is_empty()
        });
        found
    }

    /// Grant ids whose expiry has passed.
    pub(crate) fn expired(&self, now: i64) -> Vec<String> {
        let Ok(map) = self.map.read() else { return Vec::new() };
        map.values()
            .flat_map(|c| c.values())
            .flatten()
            .filter(|g| g.inner.expires_at_ms <= now)
            .map(|g| g.inner.grant_id.clone())
            .collect()
    }
}
