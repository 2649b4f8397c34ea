//! The control API of reviews: `GET /api/v1/reviews`, `GET /api/v1/reviews/{id}[?wait=…]`,
//! `POST /api/v1/reviews/{id}/approve|deny`, and the data path's 403 body.

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;

use crate::api::{ApiResult, Body, Caller};
use crate::error::{AccessError, AccessReason};
use crate::model::DecisionBody;
use crate::review::{Review, ReviewFilter, ReviewState};
use crate::service::AccessService;

pub(crate) fn routes() -> Router<AccessService> {
    Router::new()
        .route("/api/v1/reviews", get(list))
        .route("/api/v1/reviews/{id}", get(get_one))
        .route("/api/v1/reviews/{id}/approve", post(approve))
        .route("/api/v1/reviews/{id}/deny", post(deny))
}

/// The data path's 403 body for a held request: what a person must approve, where the
/// agent can wait for the decision, and that the same request must then be retried.
pub fn review_required(public_url: &str, review: &Review) -> serde_json::Value {
    let base = public_url.trim_end_matches('/');
    let (code, message) = match review.state {
        ReviewState::Denied => (
            "review_denied",
            format!(
                "a person denied this exact request ({}); do not retry it",
                review.decision.as_ref().and_then(|d| d.reason.as_deref()).unwrap_or("no reason given")
            ),
        ),
        _ => (
            "approval_required",
            "a person must approve this exact request; wait on wait_url, then send the same request again \
             (it passes once)"
                .to_owned(),
        ),
    };
    serde_json::json!({ "error": {
        "code": code,
        "message": message,
        "review_id": review.id,
        "summary": review.summary,
        "rule": review.rule,
        "state": review.state,
        "expires_at": review.expires_at,
        "wait_url": format!("{base}/api/v1/reviews/{}?wait=60s", review.id),
    }})
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<String>,
    connection: Option<String>,
    principal: Option<String>,
}

fn query<T>(q: Result<Query<T>, axum::extract::rejection::QueryRejection>) -> Result<T, AccessError> {
    q.map(|Query(q)| q).map_err(|e| AccessError::new(AccessReason::InvalidRequest, e.body_text()))
}

async fn list(
    State(s): State<AccessService>,
    Caller(p): Caller,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let state =
        match q.state.as_deref() {
            None => None,
            Some(st) => Some(ReviewState::parse(st).ok_or_else(|| {
                AccessError::new(AccessReason::InvalidRequest, format!("unknown state {st}"))
            })?),
        };
    let filter = ReviewFilter { state, connection: q.connection, principal: q.principal };
    let items: Vec<_> = s.reviews(&filter).await?.into_iter().filter(|r| s.may_see_review(&p, r)).collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WaitQuery {
    wait: Option<String>,
}

async fn get_one(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    q: Result<Query<WaitQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult {
    let q = query(q)?;
    let review = s.review(&id).await?;
    if !s.may_see_review(&p, &review) {
        return Err(AccessError::new(AccessReason::NotFound, format!("no review {id}")));
    }
    let review = match q.wait.as_deref() {
        None => review,
        Some(w) => s.wait_review(&id, crate::api::parse_wait(w)?).await?,
    };
    Ok(Json(review).into_response())
}

async fn approve(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(b): Body<DecisionBody>,
) -> ApiResult {
    Ok(Json(s.approve_review(&p, &id, &b).await?).into_response())
}

async fn deny(
    State(s): State<AccessService>,
    Caller(p): Caller,
    Path(id): Path<String>,
    Body(b): Body<DecisionBody>,
) -> ApiResult {
    Ok(Json(s.deny_review(&p, &id, &b).await?).into_response())
}
