//! Path dispatch. ARM paths are case-insensitive: matching is on lower-cased segments,
//! while names keep the casing the caller used.

use http::{HeaderMap, Method};

use super::http_handler::ArmRequest;
use super::response::ArmResponse;
use super::{batch, deployments, generic, operations, resource_groups, role_assignments, storage, ArmShared};

/// Routes one authenticated request with a valid `api-version`.
pub(crate) fn dispatch(shared: &ArmShared, req: &ArmRequest<'_>, headers: &HeaderMap) -> ArmResponse {
    let segs: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let low: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let low: Vec<&str> = low.iter().map(String::as_str).collect();

    if let Some(i) = role_assignment_provider(&low) {
        return role_assignments::handle(shared, req, &segs[..i], &segs[i + 3..]);
    }
    match low.as_slice() {
        ["batch"] => match req.method {
            Method::POST => batch::handle(shared, req, headers),
            _ => ArmResponse::method_not_allowed(&req.method),
        },
        ["tenants"] => get_only(req, || generic::tenants(shared, req)),
        ["subscriptions", _, "resources"] => get_only(req, || generic::resources(shared, req, segs[1], None)),
        ["subscriptions", _, "resourcegroups", _, "resources"] => {
            get_only(req, || generic::resources(shared, req, segs[1], Some(segs[3])))
        }
        ["subscriptions"] => get_only(req, || resource_groups::list_subscriptions(shared, req)),
        ["subscriptions", _] => get_only(req, || resource_groups::get_subscription(shared, segs[1])),
        ["subscriptions", _, "resourcegroups"] => {
            get_only(req, || resource_groups::list(shared, req, segs[1]))
        }
        ["subscriptions", _, "resourcegroups", _] => resource_groups::handle(shared, req, segs[1], segs[3]),
        ["subscriptions", _, "operationresults", _] => {
            get_only(req, || operations::result(shared, req, segs[1], segs[3]))
        }
        ["subscriptions", _, "providers", "microsoft.resources", "operationstatuses", _] => {
            get_only(req, || operations::status(shared, segs[1], segs[5]))
        }
        ["subscriptions", _, "providers", "microsoft.storage", "storageaccounts"] => {
            get_only(req, || storage::list(shared, req, segs[1], None))
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", "storageaccounts"] => {
            get_only(req, || storage::list(shared, req, segs[1], Some(segs[3])))
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", "storageaccounts", _] => {
            storage::handle(shared, req, segs[1], segs[3], segs[7])
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", "storageaccounts", _, action] => {
            match req.method {
                Method::POST => storage::action(shared, req, segs[1], segs[3], segs[7], action),
                _ => ArmResponse::method_not_allowed(&req.method),
            }
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.resources", "deployments"] => {
            get_only(req, || deployments::list(shared, req, segs[1], segs[3]))
        }
        ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.resources", "deployments", _] => {
            deployments::handle(shared, req, segs[1], segs[3], segs[7])
        }
        _ => ArmResponse::unknown_path(req.path),
    }
}

fn get_only(req: &ArmRequest<'_>, f: impl FnOnce() -> ArmResponse) -> ArmResponse {
    if req.method == Method::GET {
        f()
    } else {
        ArmResponse::method_not_allowed(&req.method)
    }
}

/// Index of `providers` in `…/providers/Microsoft.Authorization/roleAssignments[/name]`.
fn role_assignment_provider(low: &[&str]) -> Option<usize> {
    let i = low.iter().rposition(|s| *s == "providers")?;
    let tail = &low[i..];
    (tail.len() >= 3
        && tail.len() <= 4
        && tail[1] == "microsoft.authorization"
        && tail[2] == "roleassignments")
        .then_some(i)
}
