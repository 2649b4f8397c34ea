//! Creating, deciding and spending reviews. Each step runs in one SQLite transaction that
//! takes the write lock first and re-checks the state inside it, so an approval is spent
//! by exactly one request however many retries race.

use std::time::Duration;

use portcullis_identity::Principal;

use crate::db::{self, to_json};
use crate::error::{AccessError, AccessReason};
use crate::events::AccessEvent;
use crate::model::{now_ms, rfc3339, Actor, Decision, DecisionBody};
use crate::policy::{AccessAction, PolicyInput};
use crate::review::{
    review_from, HeldRequest, Review, ReviewCheck, ReviewFilter, ReviewState, REVIEW_COLUMNS,
};
use crate::rules::{identities, same_party};
use crate::service::{live, AccessService};

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl AccessService {
    /// The data path's step for a request a guardrail decided `review`: spends a matching
    /// approval (same principal, grant and binding; approved, unexpired, unused), or
    /// reports the waiting or denied review, or creates a new one.
    pub async fn check_review(
        &self,
        caller: &Principal,
        held: &HeldRequest<'_>,
    ) -> Result<ReviewCheck, AccessError> {
        let now = now_ms();
        let key = caller.key();
        let mut tx = self.inner.pool.begin().await?;
        db::lock(&mut tx).await?;
        let sql = format!(
            "SELECT {REVIEW_COLUMNS} FROM reviews WHERE principal_key = ? AND binding = ? AND grant_id IS ? \
             AND state IN ('pending', 'approved', 'denied') AND expires_ms > ? ORDER BY created_ms DESC LIMIT 1"
        );
        let row = sqlx::query(&sql)
            .bind(&key)
            .bind(held.binding)
            .bind(held.grant_id)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = row {
            let (mut review, _, _) = review_from(&row)?;
            match review.state {
                ReviewState::Pending => return Ok(ReviewCheck::Pending(review)),
                ReviewState::Denied => return Ok(ReviewCheck::Denied(review)),
                _ => {}
            }
            sqlx::query(
                "UPDATE reviews SET state = 'used', used_ms = ?, used_by_request = ?, version = version + 1 \
                 WHERE id = ? AND state = 'approved'",
            )
            .bind(now)
            .bind(held.request_id)
            .bind(&review.id)
            .execute(&mut *tx)
            .await?;
            let events = vec![AccessEvent::ReviewUsed {
                review_id: review.id.clone(),
                request_id: held.request_id.into(),
            }];
            self.record_in(&mut tx, &events).await?;
            tx.commit().await?;
            self.wake(&review.id);
            self.emit(events).await;
            review.state = ReviewState::Used;
            review.version += 1;
            review.used_at = Some(rfc3339(now));
            review.used_by_request = Some(held.request_id.into());
            return Ok(ReviewCheck::Approved(review));
        }
        let review = Review {
            id: uuid::Uuid::now_v7().to_string(),
            principal: Actor::of(caller),
            connection: held.connection.into(),
            grant_id: held.grant_id.map(str::to_owned),
            level: held.level.into(),
            binding: held.binding.into(),
            method: held.method.into(),
            target: held.target.into(),
            api_version: held.api_version.map(str::to_owned),
            body_sha256: held.body_sha256.map(str::to_owned),
            rule: held.rule.map(str::to_owned),
            action: held.action.map(str::to_owned),
            resource: held.resource.map(str::to_owned),
            summary: held.summary.into(),
            state: ReviewState::Pending,
            version: 1,
            created_at: rfc3339(now),
            expires_at: rfc3339(now.saturating_add(ms(self.inner.config.review_ttl))),
            decision: None,
            used_at: None,
            used_by_request: None,
        };
        sqlx::query(
            "INSERT INTO reviews (id, principal_key, principal, identities, connection, grant_id, level, binding, \
             method, target, api_version, body_sha256, rule, action, resource, summary, state, version, created_ms, \
             expires_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, ?, ?)",
        )
        .bind(&review.id)
        .bind(&key)
        .bind(to_json(&review.principal))
        .bind(to_json(&identities(caller)))
        .bind(&review.connection)
        .bind(&review.grant_id)
        .bind(&review.level)
        .bind(&review.binding)
        .bind(&review.method)
        .bind(&review.target)
        .bind(&review.api_version)
        .bind(&review.body_sha256)
        .bind(&review.rule)
        .bind(&review.action)
        .bind(&review.resource)
        .bind(&review.summary)
        .bind(now)
        .bind(now.saturating_add(ms(self.inner.config.review_ttl)))
        .execute(&mut *tx)
        .await?;
        let events = vec![AccessEvent::ReviewRequested { review: review.clone() }];
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        self.emit(events).await;
        Ok(ReviewCheck::Pending(review))
    }

    /// One review.
    pub async fn review(&self, id: &str) -> Result<Review, AccessError> {
        Ok(self.load_review(&mut *self.inner.pool.acquire().await?, id).await?.0)
    }

    async fn load_review(
        &self,
        conn: &mut sqlx::SqliteConnection,
        id: &str,
    ) -> Result<(Review, Vec<String>, i64), AccessError> {
        let row = sqlx::query(&format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE id = ?"))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or_else(|| AccessError::new(AccessReason::NotFound, format!("no review {id}")))?;
        review_from(&row)
    }

    /// Reviews matching `filter`, newest first (at most 1000).
    pub async fn reviews(&self, filter: &ReviewFilter) -> Result<Vec<Review>, AccessError> {
        let mut sql = format!("SELECT {REVIEW_COLUMNS} FROM reviews WHERE 1 = 1");
        if filter.state.is_some() {
            sql.push_str(" AND state = ?");
        }
        if filter.connection.is_some() {
            sql.push_str(" AND connection = ?");
        }
        if filter.principal.is_some() {
            sql.push_str(" AND principal_key = ?");
        }
        sql.push_str(" ORDER BY created_ms DESC LIMIT 1000");
        let mut q = sqlx::query(&sql);
        if let Some(s) = filter.state {
            q = q.bind(s.as_str());
        }
        if let Some(c) = &filter.connection {
            q = q.bind(c);
        }
        if let Some(p) = &filter.principal {
            q = q.bind(p);
        }
        let rows = q.fetch_all(&self.inner.pool).await?;
        rows.iter().map(|r| review_from(r).map(|(review, _, _)| review)).collect()
    }

    /// Long-poll: the review once it is no longer pending, or after `wait` (bounded by
    /// `max_wait`).
    pub async fn wait_review(&self, id: &str, wait: Duration) -> Result<Review, AccessError> {
        let wait = wait.min(self.inner.config.max_wait);
        let mut rx = self.subscribe(id);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let current = self.review(id).await?;
            if current.state != ReviewState::Pending {
                return Ok(current);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return Ok(current),
            }
        }
    }

    /// Approves a pending review: the agent's next identical request passes once, within
    /// `review_use_ttl`. Nobody approves their own request.
    pub async fn approve_review(
        &self,
        caller: &Principal,
        id: &str,
        body: &DecisionBody,
    ) -> Result<Review, AccessError> {
        self.decide_review(caller, id, body, true).await
    }

    /// Denies a pending review: the agent's identical retries are refused for `review_ttl`.
    pub async fn deny_review(
        &self,
        caller: &Principal,
        id: &str,
        body: &DecisionBody,
    ) -> Result<Review, AccessError> {
        self.decide_review(caller, id, body, false).await
    }

    async fn decide_review(
        &self,
        caller: &Principal,
        id: &str,
        body: &DecisionBody,
        approve: bool,
    ) -> Result<Review, AccessError> {
        live(caller)?;
        if !approve && body.comment.as_deref().is_none_or(|c| c.trim().is_empty()) {
            return Err(AccessError::new(AccessReason::ReasonRequired, "say why you deny it (comment)"));
        }
        let mut tx = self.inner.pool.begin().await?;
        db::lock(&mut tx).await?;
        let (review, requester, expires_ms) = self.load_review(&mut tx, id).await?;
        if same_party(&identities(caller), &requester) {
            return Err(AccessError::new(
                AccessReason::SelfApproval,
                "you cannot decide a review of your own request; ask another approver",
            ));
        }
        if !self.may_decide_review(caller, &review) {
            return Err(AccessError::new(
                AccessReason::NotAllowed,
                format!("policy does not let you approve {} on {}", review.level, review.connection),
            ));
        }
        let now = now_ms();
        if review.state != ReviewState::Pending {
            return Err(AccessError::new(
                AccessReason::AlreadyDecided,
                format!("the review is already {}", review.state.as_str()),
            ));
        }
        if expires_ms <= now {
            return Err(AccessError::new(AccessReason::RequestExpired, "the review has expired"));
        }
        if body.version.is_some_and(|v| v != review.version) {
            return Err(AccessError::new(
                AccessReason::RequestChanged,
                "the review changed since you looked at it; look again",
            ));
        }
        let decision = Decision {
            by: Actor::of(caller),
            at: rfc3339(now),
            reason: body.comment.clone(),
            policies: vec![],
        };
        let (state, ttl) = if approve {
            ("approved", self.inner.config.review_use_ttl)
        } else {
            ("denied", self.inner.config.review_ttl)
        };
        sqlx::query(
            "UPDATE reviews SET state = ?, decision = ?, expires_ms = ?, version = version + 1 \
             WHERE id = ? AND state = 'pending'",
        )
        .bind(state)
        .bind(to_json(&decision))
        .bind(now.saturating_add(ms(ttl)))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let by = Actor::of(caller);
        let events = vec![if approve {
            AccessEvent::ReviewApproved { review_id: id.into(), by, comment: body.comment.clone() }
        } else {
            AccessEvent::ReviewDenied { review_id: id.into(), by, reason: body.comment.clone() }
        }];
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        self.wake(id);
        self.emit(events).await;
        self.review(id).await
    }

    /// Whether `caller` may approve or deny `review`: an admin, or someone the access
    /// policy lets approve the review's level of its connection for its requester.
    pub fn may_decide_review(&self, caller: &Principal, review: &Review) -> bool {
        if self.is_admin(caller) {
            return true;
        }
        let input = PolicyInput {
            principal: caller,
            connection: &review.connection,
            level: &review.level,
            duration_secs: 0,
            requester: &review.principal.key,
            requester_kind: &review.principal.kind,
            now: time::OffsetDateTime::now_utc(),
        };
        self.inner.policy.decide(AccessAction::Approve, &input).is_ok_and(|d| d.allowed)
    }

    /// Whether `caller` may see `review`: its requester, or someone who may decide it.
    pub fn may_see_review(&self, caller: &Principal, review: &Review) -> bool {
        review.principal.key == caller.key() || self.may_decide_review(caller, review)
    }

    /// Expires reviews past their deadline (called by the sweeper).
    pub(crate) async fn sweep_reviews(&self) -> Result<(), AccessError> {
        let now = now_ms();
        let mut tx = self.inner.pool.begin().await?;
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM reviews WHERE state IN ('pending', 'approved') AND expires_ms <= ?",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        if ids.is_empty() {
            return Ok(());
        }
        let mut events = Vec::new();
        for id in &ids {
            sqlx::query(
                "UPDATE reviews SET state = 'expired', version = version + 1 WHERE id = ? AND state IN ('pending', 'approved')",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
            events.push(AccessEvent::ReviewExpired { review_id: id.clone() });
        }
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        for id in &ids {
            self.wake(id);
        }
        self.emit(events).await;
        Ok(())
    }
}
