//! The JWKS cache of one issuer: fetched on first use (or at start) and on a TTL; a
//! token-triggered refetch (unknown `kid`, or a signature failure under a known `kid`)
//! happens at most once per `min_interval`, and concurrent callers share it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::error::{AuthError, Reason};
use crate::jwk::KeySet;
use crate::net::Fetcher;

/// Where keys come from.
pub(crate) enum KeySource {
    /// Fetched over HTTP; `jwks_uri` known, or found through discovery.
    Remote { issuer: String, jwks_uri: Option<String>, discovery_url: String, fetcher: Fetcher },
    /// A fixed key set (a local JWKS file): never refetched.
    Static,
}

struct State {
    keys: Arc<KeySet>,
    /// Bumped by every successful fetch, so a waiter can tell a fetch happened meanwhile.
    generation: u64,
    last_attempt: Option<Instant>,
    last_success: Option<Instant>,
}

/// One issuer's key cache.
pub(crate) struct KeyCache {
    source: KeySource,
    refresh: Duration,
    min_interval: Duration,
    state: RwLock<State>,
    /// Single flight: only the holder fetches; others wait, then read its result.
    fetch_lock: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl KeyCache {
    pub(crate) fn new(source: KeySource, refresh: Duration, min_interval: Duration) -> Self {
        KeyCache {
            source,
            refresh,
            min_interval,
            state: RwLock::new(State {
                keys: Arc::new(KeySet::default()),
                generation: 0,
                last_attempt: None,
                last_success: None,
            }),
            fetch_lock: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        }
    }

    pub(crate) fn with_static(keys: KeySet) -> Self {
        let cache = KeyCache::new(KeySource::Static, Duration::MAX, Duration::MAX);
        if let Ok(mut state) = cache.state.write() {
            state.keys = Arc::new(keys);
            state.generation = 1;
            state.last_success = Some(Instant::now());
        }
        cache
    }

    /// Number of key-set fetches attempted so far (for tests and metrics).
    pub(crate) fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn snapshot(&self) -> (Arc<KeySet>, u64, bool) {
        match self.state.read() {
            Ok(s) => {
                let fresh = s.last_success.is_some_and(|t| t.elapsed() < self.refresh);
                (s.keys.clone(), s.generation, fresh)
            }
            Err(poisoned) => {
                let s = poisoned.into_inner();
                (s.keys.clone(), s.generation, false)
            }
        }
    }

    /// The current keys and their generation, fetching first if there are none yet or
    /// they are older than the TTL. Stale keys are kept when a refresh fails.
    pub(crate) async fn current(&self) -> Result<(Arc<KeySet>, u64), AuthError> {
        let (keys, generation, fresh) = self.snapshot();
        if fresh || matches!(self.source, KeySource::Static) {
            return Ok((keys, generation));
        }
        if let Some(keys) = self.refetch(generation).await {
            return Ok(keys);
        }
        let (keys, generation, _) = self.snapshot();
        if generation == 0 {
            return Err(AuthError::new(
                Reason::KeysUnavailable,
                "the issuer's keys have not been fetched successfully yet",
            ));
        }
        Ok((keys, generation))
    }

    /// Refetches unless someone fetched since `seen` (then returns their keys) or the last
    /// attempt was less than the minimum interval ago (then returns `None`).
    pub(crate) async fn refetch(&self, seen: u64) -> Option<(Arc<KeySet>, u64)> {
        if matches!(self.source, KeySource::Static) {
            return None;
        }
        let _flight = self.fetch_lock.lock().await;
        {
            let s = self.state.read().ok()?;
            if s.generation != seen {
                return Some((s.keys.clone(), s.generation));
            }
            if s.last_attempt.is_some_and(|t| t.elapsed() < self.min_interval) {
                return None;
            }
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = self.fetch().await;
        let mut s = self.state.write().ok()?;
        s.last_attempt = Some(Instant::now());
        match result {
            Ok(keys) => {
                s.keys = Arc::new(keys);
                s.generation += 1;
                s.last_success = s.last_attempt;
                Some((s.keys.clone(), s.generation))
            }
            Err(why) => {
                tracing::warn!(error = %why, "fetching the issuer's keys failed");
                None
            }
        }
    }

    async fn fetch(&self) -> Result<KeySet, String> {
        let KeySource::Remote { issuer, jwks_uri, discovery_url, fetcher } = &self.source else {
            return Err("static key set".into());
        };
        let jwks_uri = match jwks_uri {
            Some(u) => u.clone(),
            None => discover(fetcher, discovery_url, issuer).await?,
        };
        let body = fetcher.get(&jwks_uri).await?;
        let set = KeySet::parse(&body)?;
        for why in &set.skipped {
            tracing::debug!(jwks_uri = %jwks_uri, skipped = %why, "JWKS key not used");
        }
        Ok(set)
    }
}

/// Reads `jwks_uri` from the discovery document, whose `issuer` must equal ours.
async fn discover(fetcher: &Fetcher, url: &str, issuer: &str) -> Result<String, String> {
    let body = fetcher.get(url).await?;
    let doc: Value =
        serde_json::from_slice(&body).map_err(|e| format!("discovery {url} is not JSON: {e}"))?;
    let found = doc.get("issuer").and_then(Value::as_str);
    if found != Some(issuer) {
        return Err(format!("discovery {url} names issuer {found:?}, expected {issuer}"));
    }
    doc.get("jwks_uri")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| format!("discovery {url} has no jwks_uri"))
}
