//! Creating and deciding access requests. Every decision runs in one SQLite transaction
//! that takes the write lock first and re-checks the state inside it, so concurrent
//! approvals produce exactly one grant.

use sqlx::SqliteConnection;

use portcullis_identity::Principal;

use crate::db::{self, to_json, RequestRow};
use crate::error::{AccessError, AccessReason};
use crate::events::AccessEvent;
use crate::model::{
    now_ms, rfc3339, AccessRequest, Actor, Decision, DecisionBody, Grant, GrantState, NewRequest,
    RequestState,
};
use crate::policy::AccessAction;
use crate::rules::{distinct_groups_satisfied, identities, same_party};
use crate::service::{live, AccessService};

const MAX_TEXT: usize = 2000;

fn bad(reason: AccessReason, m: impl Into<String>) -> AccessError {
    AccessError::new(reason, m)
}

impl AccessService {
    /// Creates a request for `caller`. Policy may approve it at once (`auto_approve`).
    pub async fn create(&self, caller: &Principal, new: &NewRequest) -> Result<AccessRequest, AccessError> {
        live(caller)?;
        let cfg = &self.inner.config;
        let conn_cfg = cfg.connections.get(&new.connection).ok_or_else(|| {
            bad(
                AccessReason::UnknownConnection,
                format!("connection {} does not take access requests", new.connection),
            )
        })?;
        if !conn_cfg.levels.contains(&new.level) {
            return Err(bad(
                AccessReason::UnknownLevel,
                format!(
                    "level {} is not one of {}: {}",
                    new.level,
                    new.connection,
                    conn_cfg.levels.join(", ")
                ),
            ));
        }
        let duration = humantime::parse_duration(&new.duration)
            .map_err(|e| bad(AccessReason::InvalidRequest, format!("duration {:?}: {e}", new.duration)))?;
        if duration.as_secs() == 0 {
            return Err(bad(AccessReason::InvalidRequest, "duration must be at least 1s"));
        }
        if duration > conn_cfg.max_duration {
            return Err(bad(
                AccessReason::DurationTooLong,
                format!(
                    "{} allows at most {}; ask for less",
                    new.connection,
                    humantime::format_duration(conn_cfg.max_duration)
                ),
            ));
        }
        let reason = new.reason.trim();
        if reason.is_empty() {
            return Err(bad(AccessReason::ReasonRequired, "say why you need this access (reason)"));
        }
        if reason.len() > MAX_TEXT || new.ticket.as_ref().is_some_and(|t| t.len() > 200) {
            return Err(bad(AccessReason::InvalidRequest, "reason or ticket too long"));
        }
        let now = now_ms();
        let ttl = i64::try_from(cfg.pending_ttl.as_millis()).unwrap_or(i64::MAX);
        let mut request = AccessRequest {
            id: uuid::Uuid::now_v7().to_string(),
            principal: Actor::of(caller),
            connection: new.connection.clone(),
            level: new.level.clone(),
            duration_secs: duration.as_secs(),
            reason: reason.to_string(),
            ticket: new.ticket.clone(),
            state: RequestState::Pending,
            version: 1,
            required_approvals: conn_cfg.required_approvals(&new.level),
            approvals: Vec::new(),
            created_at: rfc3339(now),
            expires_at: rfc3339(now.saturating_add(ttl)),
            decision: None,
            grant_id: None,
        };
        let may = self.decide(AccessAction::Request, caller, &request)?;
        if !may.allowed {
            return Err(bad(
                AccessReason::NotAllowed,
                format!("policy does not let you request {} on {}", request.level, request.connection),
            ));
        }
        let auto = self.decide(AccessAction::AutoApprove, caller, &request)?;

        let mut tx = self.inner.pool.begin().await?;
        sqlx::query(
            "INSERT INTO access_requests (id, principal_key, principal, identities, connection, level, duration_secs, \
             reason, ticket, state, version, required_approvals, created_ms, expires_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 1, ?, ?, ?)",
        )
        .bind(&request.id)
        .bind(caller.key())
        .bind(to_json(&request.principal))
        .bind(to_json(&identities(caller)))
        .bind(&request.connection)
        .bind(&request.level)
        .bind(i64::try_from(request.duration_secs).unwrap_or(i64::MAX))
        .bind(&request.reason)
        .bind(&request.ticket)
        .bind(i64::from(request.required_approvals))
        .bind(now)
        .bind(now.saturating_add(ttl))
        .execute(&mut *tx)
        .await?;
        let mut events = vec![AccessEvent::RequestCreated { request: request.clone() }];
        let mut grant = None;
        if auto.allowed {
            let decision = Decision {
                by: Actor::policy(),
                at: rfc3339(now),
                reason: Some("approved automatically by access policy".into()),
                policies: auto.policies.clone(),
            };
            let g = grant_in(&mut tx, &request, &decision, now).await?;
            events.push(AccessEvent::RequestApproved { request_id: request.id.clone(), grant: g.clone() });
            grant = Some(g);
        }
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        if let Some(g) = &grant {
            self.index_grant(g, now, request.duration_secs);
            request = self.get(&request.id).await?;
        }
        self.emit(events).await;
        self.inner.webhooks.notify(if grant.is_some() { "approved" } else { "requested" }, &request);
        Ok(request)
    }

    /// Records `caller`'s approval. When the last needed approval arrives, the grant is made.
    pub async fn approve(
        &self,
        caller: &Principal,
        id: &str,
        body: &DecisionBody,
    ) -> Result<AccessRequest, AccessError> {
        live(caller)?;
        let now = now_ms();
        let mut tx = self.inner.pool.begin().await?;
        db::lock(&mut tx).await?;
        let row = db::load_request(&mut tx, id).await?;
        if let Err(e) = self.check_pending(&mut tx, &row, now).await {
            tx.commit().await?;
            self.after_expiry(&row, &e).await;
            return Err(e);
        }
        if body.version.is_some_and(|v| v != row.request.version) {
            return Err(bad(
                AccessReason::RequestChanged,
                format!("the request changed (now version {}); review it again", row.request.version),
            ));
        }
        let mine = identities(caller);
        if same_party(&mine, &row.identities) {
            return Err(bad(
                AccessReason::SelfApproval,
                "you cannot approve your own request (or one made for you)",
            ));
        }
        if row.approver_identities.iter().any(|a| same_party(a, &mine)) {
            return Err(bad(
                AccessReason::AlreadyApproved,
                "you already approved this request; one person counts once",
            ));
        }
        let may = self.decide(AccessAction::Approve, caller, &row.request)?;
        if !may.allowed {
            return Err(bad(
                AccessReason::NotAllowed,
                format!("policy does not let you approve {}", row.request.connection),
            ));
        }
        let comment = body.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).map(str::to_string);
        sqlx::query(
            "INSERT INTO access_approvals (request_id, approver_key, approver, identities, groups, comment, policies, at_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(caller.key())
        .bind(to_json(&Actor::of(caller)))
        .bind(to_json(&mine))
        .bind(to_json(&caller.groups))
        .bind(&comment)
        .bind(to_json(&may.policies))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let count = u32::try_from(row.request.approvals.len() + 1).unwrap_or(u32::MAX);
        let required = row.request.required_approvals;
        let groups = self
            .inner
            .config
            .connections
            .get(&row.request.connection)
            .map(|c| c.distinct_groups.clone())
            .unwrap_or_default();
        let done = if groups.is_empty() {
            count >= required
        } else {
            let mut all = row.approver_groups.clone();
            all.push(caller.groups.clone());
            distinct_groups_satisfied(&all, &groups, required)
        };
        let mut events = vec![AccessEvent::ApprovalRecorded {
            request_id: id.into(),
            approver: Actor::of(caller),
            comment: comment.clone(),
            policies: may.policies.clone(),
            count,
            required,
        }];
        let mut grant = None;
        if done {
            let decision =
                Decision { by: Actor::of(caller), at: rfc3339(now), reason: comment, policies: may.policies };
            let g = grant_in(&mut tx, &row.request, &decision, now).await?;
            events.push(AccessEvent::RequestApproved { request_id: id.into(), grant: g.clone() });
            grant = Some(g);
        } else {
            sqlx::query("UPDATE access_requests SET version = version + 1 WHERE id = ?")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        if let Some(g) = &grant {
            self.index_grant(g, now, row.request.duration_secs);
        }
        self.wake(id);
        self.emit(events).await;
        let request = self.get(id).await?;
        if grant.is_some() {
            self.inner.webhooks.notify("approved", &request);
        }
        Ok(request)
    }

    /// Denies a pending request; a reason is required.
    pub async fn deny(
        &self,
        caller: &Principal,
        id: &str,
        body: &DecisionBody,
    ) -> Result<AccessRequest, AccessError> {
        live(caller)?;
        let reason =
            body.comment.as_deref().map(str::trim).filter(|c| !c.is_empty()).ok_or_else(|| {
                bad(AccessReason::ReasonRequired, "say why you deny this request (comment)")
            })?;
        let now = now_ms();
        let mut tx = self.inner.pool.begin().await?;
        db::lock(&mut tx).await?;
        let row = db::load_request(&mut tx, id).await?;
        if let Err(e) = self.check_pending(&mut tx, &row, now).await {
            tx.commit().await?;
            self.after_expiry(&row, &e).await;
            return Err(e);
        }
        if same_party(&identities(caller), &row.identities) {
            return Err(bad(
                AccessReason::SelfApproval,
                "you cannot decide your own request; cancel it instead",
            ));
        }
        let may = self.decide(AccessAction::Approve, caller, &row.request)?;
        if !may.allowed {
            return Err(bad(
                AccessReason::NotAllowed,
                format!("policy does not let you decide on {}", row.request.connection),
            ));
        }
        let decision = Decision {
            by: Actor::of(caller),
            at: rfc3339(now),
            reason: Some(reason.into()),
            policies: may.policies,
        };
        finish(&mut tx, id, RequestState::Denied, &decision).await?;
        let events = vec![AccessEvent::RequestDenied {
            request_id: id.into(),
            by: Actor::of(caller),
            reason: reason.into(),
        }];
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        self.wake(id);
        self.emit(events).await;
        let request = self.get(id).await?;
        self.inner.webhooks.notify("denied", &request);
        Ok(request)
    }

    /// Withdraws a pending request; only its requester (the same party) may.
    pub async fn cancel(
        &self,
        caller: &Principal,
        id: &str,
        body: &DecisionBody,
    ) -> Result<AccessRequest, AccessError> {
        let now = now_ms();
        let mut tx = self.inner.pool.begin().await?;
        db::lock(&mut tx).await?;
        let row = db::load_request(&mut tx, id).await?;
        if !same_party(&identities(caller), &row.identities) {
            return Err(bad(AccessReason::NotAllowed, "only the requester can cancel a request"));
        }
        if let Err(e) = self.check_pending(&mut tx, &row, now).await {
            tx.commit().await?;
            self.after_expiry(&row, &e).await;
            return Err(e);
        }
        let decision = Decision {
            by: Actor::of(caller),
            at: rfc3339(now),
            reason: body.comment.clone(),
            policies: vec![],
        };
        finish(&mut tx, id, RequestState::Cancelled, &decision).await?;
        let events = vec![AccessEvent::RequestCancelled { request_id: id.into(), by: Actor::of(caller) }];
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        self.wake(id);
        self.emit(events).await;
        self.get(id).await
    }

    /// Fails unless pending and unexpired; marks an overdue request expired (the caller commits).
    async fn check_pending(
        &self,
        conn: &mut SqliteConnection,
        row: &RequestRow,
        now: i64,
    ) -> Result<(), AccessError> {
        if row.request.state != RequestState::Pending {
            return Err(bad(
                AccessReason::AlreadyDecided,
                format!("the request is already {}", row.request.state.as_str()),
            ));
        }
        if now >= row.expires_ms {
            let d = Decision {
                by: Actor::policy(),
                at: rfc3339(now),
                reason: Some("pending too long".into()),
                policies: vec![],
            };
            finish(conn, &row.request.id, RequestState::Expired, &d).await?;
            self.record_in(conn, &[AccessEvent::RequestExpired { request_id: row.request.id.clone() }])
                .await?;
            return Err(bad(
                AccessReason::RequestExpired,
                "the request expired before a decision; ask again",
            ));
        }
        Ok(())
    }

    async fn after_expiry(&self, row: &RequestRow, e: &AccessError) {
        if e.reason == AccessReason::RequestExpired {
            self.wake(&row.request.id);
            self.emit(vec![AccessEvent::RequestExpired { request_id: row.request.id.clone() }]).await;
        }
    }

    fn index_grant(&self, g: &Grant, now: i64, duration_secs: u64) {
        let expires =
            now.saturating_add(i64::try_from(duration_secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000));
        self.inner.index.insert(&g.principal, &g.connection, &g.id, &g.level, expires);
    }
}

async fn finish(
    conn: &mut SqliteConnection,
    id: &str,
    state: RequestState,
    d: &Decision,
) -> Result<(), AccessError> {
    sqlx::query("UPDATE access_requests SET state = ?, decision = ?, version = version + 1 WHERE id = ? AND state = 'pending'")
        .bind(state.as_str())
        .bind(to_json(d))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts the grant and marks the request approved, inside the caller's transaction.
async fn grant_in(
    conn: &mut SqliteConnection,
    r: &AccessRequest,
    d: &Decision,
    now: i64,
) -> Result<Grant, AccessError> {
    let id = uuid::Uuid::now_v7().to_string();
    let expires =
        now.saturating_add(i64::try_from(r.duration_secs).unwrap_or(i64::MAX / 1000).saturating_mul(1000));
    let principal_key =
        sqlx::query_scalar::<_, String>("SELECT principal_key FROM access_requests WHERE id = ?")
            .bind(&r.id)
            .fetch_one(&mut *conn)
            .await?;
    sqlx::query(
        "INSERT INTO grants (id, request_id, principal_key, connection, level, state, created_ms, expires_ms) \
         VALUES (?, ?, ?, ?, ?, 'active', ?, ?)",
    )
    .bind(&id)
    .bind(&r.id)
    .bind(&principal_key)
    .bind(&r.connection)
    .bind(&r.level)
    .bind(now)
    .bind(expires)
    .execute(&mut *conn)
    .await?;
    let updated = sqlx::query(
        "UPDATE access_requests SET state = 'approved', decision = ?, grant_id = ?, version = version + 1 \
         WHERE id = ? AND state = 'pending'",
    )
    .bind(to_json(d))
    .bind(&id)
    .bind(&r.id)
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(bad(AccessReason::AlreadyDecided, "the request was decided meanwhile"));
    }
    Ok(Grant {
        id,
        request_id: r.id.clone(),
        principal: principal_key,
        connection: r.connection.clone(),
        level: r.level.clone(),
        state: GrantState::Active,
        created_at: rfc3339(now),
        expires_at: rfc3339(expires),
        revoked: None,
    })
}
