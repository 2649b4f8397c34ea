//! Long-running operations as ARM runs them: the first response carries
//! `Azure-AsyncOperation` (and `Location` for 202s) as absolute URLs on the link base,
//! with `Retry-After`; the status resource answers `InProgress` for the configured number
//! of polls, then `Succeeded`, at which point the operation's effect becomes visible.

use http::StatusCode;
use serde_json::{json, Map, Value};

pub(crate) use super::state::OperationTarget;

use super::http_handler::ArmRequest;
use super::response::ArmResponse;
use super::state::{now_rfc3339, ArmState, Operation};
use super::ArmShared;

/// Registers a new operation; returns its id.
pub(crate) fn begin(shared: &ArmShared, state: &mut ArmState, sub: &str, target: OperationTarget) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let op = Operation {
        subscription: sub.to_owned(),
        target,
        polls_left: shared.polls_before_done,
        started: now_rfc3339(),
        done: false,
    };
    state.operations.insert(id.clone(), op);
    id
}

/// The status URL (`Azure-AsyncOperation`).
pub(crate) fn status_url(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str, op: &str) -> String {
    let v = req.api_version();
    format!(
        "{}/subscriptions/{sub}/providers/Microsoft.Resources/operationStatuses/{op}?api-version={v}",
        shared.link_base()
    )
}

/// 202 Accepted with `Location`, `Azure-AsyncOperation` and `Retry-After`.
pub(crate) fn accepted(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str, op: &str) -> ArmResponse {
    let location = format!(
        "{}/subscriptions/{sub}/operationresults/{op}?api-version={}",
        shared.link_base(),
        req.api_version()
    );
    ArmResponse::empty(StatusCode::ACCEPTED)
        .header("Location", location)
        .header("Azure-AsyncOperation", status_url(shared, req, sub, op))
        .header("Retry-After", shared.retry_after_secs.to_string())
}

/// Advances the operation by one poll; returns whether it is done, and its state.
fn poll(shared: &ArmShared, sub: &str, op_id: &str) -> Option<(bool, Operation)> {
    let mut state = shared.state();
    let op = state.operations.get_mut(op_id)?;
    if !op.subscription.eq_ignore_ascii_case(sub) {
        return None;
    }
    let completes_now = !op.done && op.polls_left == 0;
    if !op.done {
        if op.polls_left > 0 {
            op.polls_left -= 1;
        } else {
            op.done = true;
        }
    }
    let snapshot = op.clone();
    if completes_now {
        match &snapshot.target {
            OperationTarget::DeleteResourceGroup { rg } => {
                state.remove_resource_group(&snapshot.subscription, rg)
            }
            OperationTarget::Deployment { key } => {
                if let Some(d) = state.deployments.get_mut(key) {
                    d.done = true;
                }
            }
            OperationTarget::StorageAccount { key } => {
                state.creating.remove(key);
            }
        }
    }
    Some((snapshot.done, snapshot))
}

/// `GET …/operationStatuses/{id}`: `{"status": "InProgress" | "Succeeded", ...}`.
pub(crate) fn status(shared: &ArmShared, sub: &str, op_id: &str) -> ArmResponse {
    let Some((done, op)) = poll(shared, sub, op_id) else {
        return not_found(op_id);
    };
    let mut body = Map::new();
    let id = format!("/subscriptions/{sub}/providers/Microsoft.Resources/operationStatuses/{op_id}");
    body.insert("id".into(), json!(id));
    body.insert("name".into(), json!(op_id));
    body.insert("status".into(), json!(if done { "Succeeded" } else { "InProgress" }));
    body.insert("startTime".into(), json!(op.started));
    if done {
        body.insert("endTime".into(), json!(now_rfc3339()));
        return ArmResponse::ok(Value::Object(body));
    }
    ArmResponse::ok(Value::Object(body)).header("Retry-After", shared.retry_after_secs.to_string())
}

/// `GET …/operationresults/{id}` (the `Location` URL): 202 while running; when done, 200
/// with the created resource for a creation, empty otherwise.
pub(crate) fn result(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str, op_id: &str) -> ArmResponse {
    let Some((done, op)) = poll(shared, sub, op_id) else {
        return not_found(op_id);
    };
    if !done {
        return match op.target {
            OperationTarget::StorageAccount { .. } => location_accepted(shared, req, sub, op_id),
            _ => accepted(shared, req, sub, op_id),
        };
    }
    if let OperationTarget::StorageAccount { key } = &op.target {
        if let Some(account) = shared.state().storage_accounts.get(key) {
            return ArmResponse::ok(super::storage::account_json(&op.subscription, account, false));
        }
    }
    ArmResponse::empty(StatusCode::OK)
}

/// 202 Accepted with `Location` and `Retry-After` only (how storage accounts are created).
pub(crate) fn location_accepted(
    shared: &ArmShared,
    req: &ArmRequest<'_>,
    sub: &str,
    op: &str,
) -> ArmResponse {
    let location = format!(
        "{}/subscriptions/{sub}/operationresults/{op}?api-version={}",
        shared.link_base(),
        req.api_version()
    );
    ArmResponse::empty(StatusCode::ACCEPTED)
        .header("Location", location)
        .header("Retry-After", shared.retry_after_secs.to_string())
}

fn not_found(op_id: &str) -> ArmResponse {
    ArmResponse::error(
        StatusCode::NOT_FOUND,
        "OperationNotFound",
        format!("The operation '{op_id}' could not be found."),
    )
}
