//! The access service: the shared state behind the API and the data-path index.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::SqlitePool;
use tokio::sync::watch;

use portcullis_identity::{GrantKeys, Principal};
use portcullis_store::SqliteStore;

use crate::config::AccessConfig;
use crate::db;
use crate::error::{AccessError, AccessReason};
use crate::events::{insert_event, AccessEvent, EventSink};
use crate::index::{ActiveGrant, GrantIndex};
use crate::model::{now_ms, AccessRequest, RequestFilter, RequestState};
use crate::policy::{AccessAction, AccessPolicy, PolicyDecision, PolicyInput};
use crate::webhook::Webhooks;

/// Just-in-time access: requests, approvals, grants. Cheap to clone.
#[derive(Clone)]
pub struct AccessService {
    pub(crate) inner: Arc<Shared>,
}

pub(crate) struct Shared {
    pub(crate) pool: SqlitePool,
    pub(crate) config: AccessConfig,
    pub(crate) policy: AccessPolicy,
    pub(crate) keys: Arc<GrantKeys>,
    pub(crate) index: GrantIndex,
    /// `None`: events go to `access_events` inside each decision's transaction.
    pub(crate) events: Option<Arc<dyn EventSink>>,
    pub(crate) webhooks: Webhooks,
    watchers: Mutex<HashMap<String, watch::Sender<u64>>>,
}

impl std::fmt::Debug for AccessService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessService")
            .field("active_grants", &self.inner.index.len())
            .finish_non_exhaustive()
    }
}

impl AccessService {
    /// Applies the access migrations, loads active grants into the index and returns the
    /// service. Events go to the `access_events` table, in the same transaction as the
    /// state change they record, until [`Self::with_event_sink`] replaces that.
    pub async fn open(
        store: &SqliteStore,
        config: AccessConfig,
        policy: AccessPolicy,
        keys: Arc<GrantKeys>,
    ) -> Result<Self, AccessError> {
        config.validate()?;
        store
            .migrate("access", db::MIGRATIONS)
            .await
            .map_err(|e| AccessError::new(AccessReason::Store, e.to_string()))?;
        let pool = store.pool().clone();
        let index = GrantIndex::default();
        let mut conn = pool.acquire().await?;
        for (grant, expires_ms) in db::active_grants(&mut conn).await? {
            index.insert(&grant.principal, &grant.connection, &grant.id, &grant.level, expires_ms);
        }
        drop(conn);
        let webhooks = Webhooks::new(config.webhooks.clone(), config.public_url.clone());
        Ok(AccessService {
            inner: Arc::new(Shared {
                events: None,
                pool,
                config,
                policy,
                keys,
                index,
                webhooks,
                watchers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Replaces where audit events go (the audit crate's writer, later); events are then
    /// handed to the sink right after each commit. Call before cloning the service.
    pub fn with_event_sink(mut self, sink: Arc<dyn EventSink>) -> Self {
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.events = Some(sink);
        }
        self
    }

    /// The active grant of `principal_key` for `connection` (data path, step 4).
    pub fn active(&self, principal_key: &str, connection: &str) -> Option<ActiveGrant> {
        self.inner.index.active(principal_key, connection)
    }

    /// The data path's 403 body for `connection` when [`Self::active`] found nothing, or
    /// `None` when the connection takes no access requests.
    pub fn access_required(&self, connection: &str) -> Option<serde_json::Value> {
        let c = self.inner.config.connections.get(connection)?;
        Some(crate::access_required(&self.inner.config.public_url, connection, &c.levels))
    }

    /// The grant index itself.
    pub fn index(&self) -> &GrantIndex {
        &self.inner.index
    }

    /// The configuration in use.
    pub fn config(&self) -> &AccessConfig {
        &self.inner.config
    }

    /// Starts the background task that expires pending requests and grants (every
    /// 250 ms). Abort the handle on shutdown.
    pub fn start_sweeper(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = this.sweep().await {
                    tracing::warn!(error = %e, "access sweeper");
                }
                if let Err(e) = this.sweep_reviews().await {
                    tracing::warn!(error = %e, "review sweeper");
                }
            }
        })
    }

    /// One request, with its approvals.
    pub async fn get(&self, id: &str) -> Result<AccessRequest, AccessError> {
        let mut conn = self.inner.pool.acquire().await?;
        Ok(db::load_request(&mut conn, id).await?.request)
    }

    /// Requests matching `filter`, newest first (at most 1000).
    pub async fn list(&self, filter: &RequestFilter) -> Result<Vec<AccessRequest>, AccessError> {
        let mut conn = self.inner.pool.acquire().await?;
        db::list_requests(&mut conn, filter, 1000).await
    }

    /// Long-poll: returns the request once it differs from `version` (or, without a
    /// version, once it is no longer pending), or after `wait` (bounded by `max_wait`).
    pub async fn wait(
        &self,
        id: &str,
        wait: Duration,
        version: Option<i64>,
    ) -> Result<AccessRequest, AccessError> {
        let wait = wait.min(self.inner.config.max_wait);
        let mut rx = self.subscribe(id);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let current = self.get(id).await?;
            let changed = match version {
                Some(v) => current.version != v,
                None => current.state != RequestState::Pending,
            };
            if changed {
                return Ok(current);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(current),
            }
        }
    }

    pub(crate) fn subscribe(&self, id: &str) -> watch::Receiver<u64> {
        let mut map = self.inner.watchers.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(id.to_string()).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Wakes long-polls on request `id`.
    pub(crate) fn wake(&self, id: &str) {
        let mut map = self.inner.watchers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(tx) = map.get(id) {
            tx.send_modify(|v| *v += 1);
        }
        map.retain(|_, tx| tx.receiver_count() > 0);
    }

    /// Writes events with the built-in table inside the caller's transaction.
    pub(crate) async fn record_in(
        &self,
        conn: &mut sqlx::SqliteConnection,
        events: &[AccessEvent],
    ) -> Result<(), AccessError> {
        if self.inner.events.is_none() {
            for event in events {
                insert_event(conn, event).await?;
            }
        }
        Ok(())
    }

    /// Hands events to a replaced sink (after commit) and logs a failure to do so.
    pub(crate) async fn emit(&self, events: Vec<AccessEvent>) {
        let Some(sink) = &self.inner.events else { return };
        for event in &events {
            if let Err(e) = sink.record(event).await {
                tracing::error!(error = %e, kind = event.kind(), "access event not recorded");
            }
        }
    }

    /// Whether `caller` may see request `r`: its requester, an admin, or someone policy
    /// lets approve it. Others get `not_found`, so existence does not leak.
    pub fn may_see_request(&self, caller: &Principal, r: &AccessRequest) -> bool {
        r.principal.key == caller.key()
            || self.is_admin(caller)
            || self.decide(AccessAction::Approve, caller, r).is_ok_and(|d| d.allowed)
    }

    /// Whether `caller` may see grant `g`: its holder, an admin, or someone policy lets
    /// approve that level of that connection.
    pub fn may_see_grant(&self, caller: &Principal, g: &crate::Grant) -> bool {
        if g.principal == caller.key() || self.is_admin(caller) {
            return true;
        }
        let input = PolicyInput {
            principal: caller,
            connection: &g.connection,
            level: &g.level,
            duration_secs: 0,
            requester: &g.principal,
            requester_kind: "agent",
            now: time::OffsetDateTime::now_utc(),
        };
        self.inner.policy.decide(AccessAction::Approve, &input).is_ok_and(|d| d.allowed)
    }

    /// Whether `caller` is in one of `admin_groups`.
    pub fn is_admin(&self, caller: &Principal) -> bool {
        caller.groups.iter().any(|g| self.inner.config.admin_groups.contains(g))
    }

    pub(crate) fn decide(
        &self,
        action: AccessAction,
        caller: &Principal,
        request: &AccessRequest,
    ) -> Result<PolicyDecision, AccessError> {
        let input = PolicyInput {
            principal: caller,
            connection: &request.connection,
            level: &request.level,
            duration_secs: request.duration_secs,
            requester: &request.principal.key,
            requester_kind: &request.principal.kind,
            now: time::OffsetDateTime::now_utc(),
        };
        self.inner.policy.decide(action, &input)
    }
}

/// Refuses a caller whose token has expired (the gateway may have authenticated it just
/// before; a decision needs a live token).
pub(crate) fn live(caller: &Principal) -> Result<(), AccessError> {
    if caller.expires_at.saturating_mul(1000) <= now_ms() {
        return Err(AccessError::new(AccessReason::TokenExpired, "your token has expired; sign in again"));
    }
    Ok(())
}
