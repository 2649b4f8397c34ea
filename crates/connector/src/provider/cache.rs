//! A cached short-lived token: refreshed before it expires, by one caller at a time
//! while the others wait for that refresh (single flight).

use std::future::Future;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::secret::Secret;

/// Refresh this long before expiry (or at half the lifetime, if shorter).
const REFRESH_MARGIN_SECS: u64 = 300;

/// Seconds since the epoch.
pub(crate) fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

#[derive(Clone)]
struct Cached {
    token: Secret,
    expires_at: u64,
    refresh_at: u64,
}

/// One token, shared by all requests of a connection.
#[derive(Default)]
pub(crate) struct TokenCache {
    current: Mutex<Option<Cached>>,
    refresh: tokio::sync::Mutex<()>,
}

impl TokenCache {
    fn fresh(&self, now: u64) -> Option<Cached> {
        let guard = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        guard.as_ref().filter(|c| now < c.refresh_at).cloned()
    }

    /// The cached token while it is fresh; otherwise the result of `fetch` (a token and
    /// its expiry in epoch seconds), fetched once however many callers are waiting. If
    /// a refresh fails while the old token is still valid for another minute, the old
    /// one is used and the next caller tries again.
    pub(crate) async fn get<F, Fut>(&self, fetch: F) -> Result<Secret, String>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(Secret, u64), String>>,
    {
        if let Some(c) = self.fresh(now()) {
            return Ok(c.token);
        }
        let _flight = self.refresh.lock().await;
        let now = now();
        if let Some(c) = self.fresh(now) {
            return Ok(c.token);
        }
        match fetch().await {
            Ok((token, expires_at)) => {
                let lifetime = expires_at.saturating_sub(now);
                let margin = REFRESH_MARGIN_SECS.min(lifetime / 2);
                let cached = Cached { token: token.clone(), expires_at, refresh_at: expires_at - margin };
                *self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(cached);
                Ok(token)
            }
            Err(e) => {
                let guard = self.current.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                match guard.as_ref().filter(|c| now + 60 < c.expires_at) {
                    Some(old) => {
                        tracing::warn!(error = %e, "token refresh failed; using the current token until it expires");
                        Ok(old.token.clone())
                    }
                    None => Err(e),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    #[tokio::test]
    async fn concurrent_callers_share_one_fetch_and_reuse_it_until_refresh() {
        let cache = Arc::new(TokenCache::default());
        let fetches = Arc::new(AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..32 {
            let (cache, fetches) = (cache.clone(), fetches.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(|| async move {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        tokio::task::yield_now().await;
                        Ok((Secret::new("t1"), now() + 3600))
                    })
                    .await
            }));
        }
        for t in tasks {
            assert_eq!(t.await.ok().and_then(Result::ok).map(|s| s.expose().to_owned()), Some("t1".into()));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_token_inside_its_refresh_margin_is_replaced() {
        let cache = TokenCache::default();
        // Expires in 100 s: the margin is half of that, so it is fresh for 50 s.
        let first = cache.get(|| async { Ok((Secret::new("short"), now() + 100)) }).await;
        assert_eq!(first.map(|s| s.expose().to_owned()), Ok("short".into()));
        // Expires in 2 s: refresh_at is now + 1, so the next call inside a second may
        // reuse it; one that must refresh gets the new token.
        let cache = TokenCache::default();
        let _ = cache.get(|| async { Ok((Secret::new("old"), now())) }).await;
        let next = cache.get(|| async { Ok((Secret::new("new"), now() + 3600)) }).await;
        assert_eq!(next.map(|s| s.expose().to_owned()), Ok("new".into()));
    }

    #[tokio::test]
    async fn a_failed_refresh_of_an_expired_token_is_an_error() {
        let cache = TokenCache::default();
        let _ = cache.get(|| async { Ok((Secret::new("old"), now())) }).await;
        let next = cache.get(|| async { Err("idp down".to_owned()) }).await;
        assert_eq!(next.map(|s| s.expose().to_owned()), Err("idp down".into()));
    }
}
