//! Grants: listing, grant tokens, revocation and expiry.

use portcullis_identity::{GrantClaims, Principal};

use crate::db::{self, to_json};
use crate::error::{AccessError, AccessReason};
use crate::events::AccessEvent;
use crate::model::{now_ms, rfc3339, Actor, Decision, DecisionBody, Grant, GrantState, GrantToken};
use crate::service::{live, AccessService};

impl AccessService {
    /// Grants, newest first; `state` is `active`, `expired` or `revoked`.
    pub async fn grants(
        &self,
        state: Option<&str>,
        principal: Option<&str>,
    ) -> Result<Vec<Grant>, AccessError> {
        let mut conn = self.inner.pool.acquire().await?;
        db::list_grants(&mut conn, state, principal).await
    }

    /// One grant.
    pub async fn grant(&self, id: &str) -> Result<Grant, AccessError> {
        let mut conn = self.inner.pool.acquire().await?;
        Ok(db::load_grant(&mut conn, id).await?.0)
    }

    /// Issues a grant token to the grant's holder: lives `grant_token_ttl`, never past the
    /// grant's expiry. Call again to refresh while the grant is valid.
    pub async fn token(&self, caller: &Principal, grant_id: &str) -> Result<GrantToken, AccessError> {
        live(caller)?;
        let mut conn = self.inner.pool.acquire().await?;
        let (grant, expires_ms) = db::load_grant(&mut conn, grant_id).await?;
        if grant.principal != caller.key() {
            return Err(AccessError::new(
                AccessReason::NotAllowed,
                "only the grant's holder can get its token",
            ));
        }
        let now = now_ms();
        if grant.state != GrantState::Active || expires_ms <= now {
            return Err(AccessError::new(
                AccessReason::GrantInactive,
                "the grant is no longer valid; request access again",
            ));
        }
        let ttl = i64::try_from(self.inner.config.grant_token_ttl.as_secs()).unwrap_or(300);
        let exp = (now / 1000 + ttl).min(expires_ms / 1000);
        if exp <= now / 1000 {
            return Err(AccessError::new(AccessReason::GrantInactive, "the grant expires within a second"));
        }
        let claims = GrantClaims {
            principal: grant.principal.clone(),
            grant_id: grant.id.clone(),
            connection: grant.connection.clone(),
            level: grant.level.clone(),
            expires_at: exp,
        };
        let token =
            self.inner.keys.issue(&claims).map_err(|e| {
                AccessError::new(AccessReason::Internal, format!("signing a grant token: {e}"))
            })?;
        let activated = sqlx::query(
            "UPDATE access_requests SET state = 'active', version = version + 1 WHERE id = ? AND state = 'approved'",
        )
        .bind(&grant.request_id)
        .execute(&mut *conn)
        .await?;
        let expires_at = rfc3339(exp * 1000);
        let events = vec![AccessEvent::GrantTokenIssued {
            grant_id: grant.id.clone(),
            expires_at: expires_at.clone(),
        }];
        self.record_in(&mut conn, &events).await?;
        drop(conn);
        if activated.rows_affected() > 0 {
            self.wake(&grant.request_id);
        }
        self.emit(events).await;
        Ok(GrantToken { token, grant_id: grant.id, expires_at })
    }

    /// Revokes a grant at once: the data path refuses its next request and its in-flight
    /// handle ends. The holder, the request's approvers and `admin_groups` members may.
    pub async fn revoke(
        &self,
        caller: &Principal,
        grant_id: &str,
        body: &DecisionBody,
    ) -> Result<Grant, AccessError> {
        live(caller)?;
        let mut tx = self.inner.pool.begin().await?;
        db::lock(&mut tx).await?;
        let (grant, _) = db::load_grant(&mut tx, grant_id).await?;
        let key = caller.key();
        let approver: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM access_approvals WHERE request_id = ? AND approver_key = ?")
                .bind(&grant.request_id)
                .bind(&key)
                .fetch_optional(&mut *tx)
                .await?;
        let admin = self.is_admin(caller);
        if grant.principal != key && approver.is_none() && !admin {
            return Err(AccessError::new(
                AccessReason::NotAllowed,
                "only the holder, an approver of the request or an admin can revoke this grant",
            ));
        }
        if grant.state != GrantState::Active {
            return Err(AccessError::new(
                AccessReason::GrantInactive,
                format!("the grant is already {}", grant.state.as_str()),
            ));
        }
        let now = now_ms();
        let decision = Decision {
            by: Actor::of(caller),
            at: rfc3339(now),
            reason: body.comment.clone(),
            policies: vec![],
        };
        sqlx::query("UPDATE grants SET state = 'revoked', revoked = ? WHERE id = ? AND state = 'active'")
            .bind(to_json(&decision))
            .bind(grant_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE access_requests SET state = 'revoked', version = version + 1 WHERE id = ? AND state IN ('approved', 'active')",
        )
        .bind(&grant.request_id)
        .execute(&mut *tx)
        .await?;
        let events = vec![AccessEvent::GrantRevoked {
            grant_id: grant_id.into(),
            by: Actor::of(caller),
            reason: body.comment.clone(),
        }];
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        self.inner.index.end(grant_id);
        self.wake(&grant.request_id);
        self.emit(events).await;
        self.grant(grant_id).await
    }

    /// Expires overdue pending requests and grants; the sweeper calls this periodically.
    pub async fn sweep(&self) -> Result<(), AccessError> {
        let now = now_ms();
        let mut events = Vec::new();
        let mut woken = Vec::new();
        let mut tx = self.inner.pool.begin().await?;
        let pending: Vec<String> =
            sqlx::query_scalar("SELECT id FROM access_requests WHERE state = 'pending' AND expires_ms <= ?")
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
        let grants: Vec<(String, String)> =
            sqlx::query_as("SELECT id, request_id FROM grants WHERE state = 'active' AND expires_ms <= ?")
                .bind(now)
                .fetch_all(&mut *tx)
                .await?;
        if pending.is_empty() && grants.is_empty() {
            drop(tx);
            for id in self.inner.index.expired(now) {
                self.inner.index.end(&id);
            }
            return Ok(());
        }
        let decision = to_json(&Decision {
            by: Actor::policy(),
            at: rfc3339(now),
            reason: Some("pending too long".into()),
            policies: vec![],
        });
        for id in pending {
            let n = sqlx::query(
                "UPDATE access_requests SET state = 'expired', decision = ?, version = version + 1 WHERE id = ? AND state = 'pending'",
            )
            .bind(&decision)
            .bind(&id)
            .execute(&mut *tx)
            .await?;
            if n.rows_affected() > 0 {
                events.push(AccessEvent::RequestExpired { request_id: id.clone() });
                woken.push(id);
            }
        }
        for (gid, rid) in &grants {
            sqlx::query("UPDATE grants SET state = 'expired' WHERE id = ? AND state = 'active'")
                .bind(gid)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "UPDATE access_requests SET state = 'expired', version = version + 1 WHERE id = ? AND state IN ('approved', 'active')",
            )
            .bind(rid)
            .execute(&mut *tx)
            .await?;
            events.push(AccessEvent::GrantExpired { grant_id: gid.clone() });
            woken.push(rid.clone());
        }
        self.record_in(&mut tx, &events).await?;
        tx.commit().await?;
        for (gid, _) in &grants {
            self.inner.index.end(gid);
        }
        for id in &woken {
            self.wake(id);
        }
        self.emit(events).await;
        Ok(())
    }
}
