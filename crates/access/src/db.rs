//! Rows of the access tables and how they become API types.

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use crate::error::{AccessError, AccessReason};
use crate::model::{rfc3339, AccessRequest, Approval, Grant, GrantState, RequestFilter, RequestState};

/// The migrations of component `access`.
pub const MIGRATIONS: &[portcullis_store::Migration] = &[
    portcullis_store::Migration {
        version: 1,
        name: "access requests, approvals, grants, events",
        sql: include_str!("../migrations/0001_access.sql"),
    },
    portcullis_store::Migration {
        version: 2,
        name: "reviews",
        sql: include_str!("../migrations/0002_reviews.sql"),
    },
];

fn json<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, AccessError> {
    serde_json::from_str(s)
        .map_err(|e| AccessError::new(AccessReason::Store, format!("corrupt access row: {e}")))
}

pub(crate) fn to_json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "null".into())
}

/// A request row plus the columns the rules need.
pub(crate) struct RequestRow {
    pub(crate) request: AccessRequest,
    pub(crate) identities: Vec<String>,
    pub(crate) expires_ms: i64,
    pub(crate) approver_identities: Vec<Vec<String>>,
    pub(crate) approver_groups: Vec<Vec<String>>,
}

const REQUEST_COLUMNS: &str = "id, principal, identities, connection, level, duration_secs, reason, ticket, \
     state, version, required_approvals, created_ms, expires_ms, decision, grant_id";

fn request_from(row: &SqliteRow) -> Result<(AccessRequest, Vec<String>, i64), AccessError> {
    let state: String = row.get("state");
    let decision: Option<String> = row.get("decision");
    let created: i64 = row.get("created_ms");
    let expires: i64 = row.get("expires_ms");
    let request = AccessRequest {
        id: row.get("id"),
        principal: json(row.get::<&str, _>("principal"))?,
        connection: row.get("connection"),
        level: row.get("level"),
        duration_secs: u64::try_from(row.get::<i64, _>("duration_secs")).unwrap_or(0),
        reason: row.get("reason"),
        ticket: row.get("ticket"),
        state: RequestState::parse(&state)
            .ok_or_else(|| AccessError::new(AccessReason::Store, format!("unknown request state {state}")))?,
        version: row.get("version"),
        required_approvals: u32::try_from(row.get::<i64, _>("required_approvals")).unwrap_or(1),
        approvals: Vec::new(),
        created_at: rfc3339(created),
        expires_at: rfc3339(expires),
        decision: decision.as_deref().map(json).transpose()?,
        grant_id: row.get("grant_id"),
    };
    Ok((request, json(row.get::<&str, _>("identities"))?, expires))
}

pub(crate) async fn load_request(conn: &mut SqliteConnection, id: &str) -> Result<RequestRow, AccessError> {
    let row = sqlx::query(&format!("SELECT {REQUEST_COLUMNS} FROM access_requests WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AccessError::new(AccessReason::NotFound, format!("no access request {id}")))?;
    let (mut request, identities, expires_ms) = request_from(&row)?;
    let rows = sqlx::query(
        "SELECT approver, identities, groups, comment, policies, at_ms FROM access_approvals \
         WHERE request_id = ? ORDER BY at_ms, approver_key",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    let mut approver_identities = Vec::new();
    let mut approver_groups = Vec::new();
    for r in rows {
        request.approvals.push(Approval {
            approver: json(r.get::<&str, _>("approver"))?,
            at: rfc3339(r.get("at_ms")),
            comment: r.get("comment"),
            policies: json(r.get::<&str, _>("policies"))?,
        });
        approver_identities.push(json(r.get::<&str, _>("identities"))?);
        approver_groups.push(json(r.get::<&str, _>("groups"))?);
    }
    Ok(RequestRow { request, identities, expires_ms, approver_identities, approver_groups })
}

pub(crate) async fn list_requests(
    conn: &mut SqliteConnection,
    filter: &RequestFilter,
    limit: i64,
) -> Result<Vec<AccessRequest>, AccessError> {
    let rows = sqlx::query(&format!(
        "SELECT {REQUEST_COLUMNS} FROM access_requests \
         WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR connection = ?2) AND (?3 IS NULL OR principal_key = ?3) \
         ORDER BY created_ms DESC, id DESC LIMIT ?4"
    ))
    .bind(filter.state.map(|s| s.as_str()))
    .bind(filter.connection.as_deref())
    .bind(filter.principal.as_deref())
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        out.push(request_from(row)?.0);
    }
    Ok(out)
}

const GRANT_COLUMNS: &str =
    "id, request_id, principal_key, connection, level, state, created_ms, expires_ms, revoked";

pub(crate) fn grant_from(row: &SqliteRow) -> Result<(Grant, i64), AccessError> {
    let revoked: Option<String> = row.get("revoked");
    let expires: i64 = row.get("expires_ms");
    Ok((
        Grant {
            id: row.get("id"),
            request_id: row.get("request_id"),
            principal: row.get("principal_key"),
            connection: row.get("connection"),
            level: row.get("level"),
            state: GrantState::parse(row.get("state")),
            created_at: rfc3339(row.get("created_ms")),
            expires_at: rfc3339(expires),
            revoked: revoked.as_deref().map(json).transpose()?,
        },
        expires,
    ))
}

pub(crate) async fn load_grant(conn: &mut SqliteConnection, id: &str) -> Result<(Grant, i64), AccessError> {
    let row = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE id = ?"))
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| AccessError::new(AccessReason::NotFound, format!("no grant {id}")))?;
    grant_from(&row)
}

pub(crate) async fn list_grants(
    conn: &mut SqliteConnection,
    state: Option<&str>,
    principal: Option<&str>,
) -> Result<Vec<Grant>, AccessError> {
    let rows = sqlx::query(&format!(
        "SELECT {GRANT_COLUMNS} FROM grants WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR principal_key = ?2) \
         ORDER BY created_ms DESC LIMIT 1000"
    ))
    .bind(state)
    .bind(principal)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter().map(|r| grant_from(r).map(|g| g.0)).collect()
}

pub(crate) async fn active_grants(conn: &mut SqliteConnection) -> Result<Vec<(Grant, i64)>, AccessError> {
    let rows = sqlx::query(&format!("SELECT {GRANT_COLUMNS} FROM grants WHERE state = 'active'"))
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(grant_from).collect()
}

/// Takes SQLite's write lock at the start of a transaction, so concurrent deciders on
/// the same database serialize instead of failing on lock upgrade.
pub(crate) async fn lock(conn: &mut SqliteConnection) -> Result<(), AccessError> {
    sqlx::query("UPDATE access_requests SET version = version WHERE 0").execute(&mut *conn).await?;
    Ok(())
}
