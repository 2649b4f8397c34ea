//! `Microsoft.Authorization/roleAssignments` at any scope (subscription, resource group,
//! resource): PUT/GET/DELETE by name (a GUID) and list at a scope.

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::http_handler::ArmRequest;
use super::paging::page;
use super::rbac::{covers, BuiltInRole};
use super::response::ArmResponse;
use super::state::{now_rfc3339, ArmState, RoleAssignment};
use super::ArmShared;

const TYPE: &str = "Microsoft.Authorization/roleAssignments";

fn ra_json(ra: &RoleAssignment) -> Value {
    json!({ "id": ra.id, "name": ra.name, "type": TYPE, "properties": ra.properties })
}

/// `scope` are the path segments before `providers`; `rest` is `[]` or `[name]`.
pub(crate) fn handle(shared: &ArmShared, req: &ArmRequest<'_>, scope: &[&str], rest: &[&str]) -> ArmResponse {
    let scope_path = format!("/{}", scope.join("/"));
    if let Some(err) = check_scope(shared, scope) {
        return err;
    }
    let prefix = format!("{}/providers/{}/", scope_path, TYPE).to_ascii_lowercase();
    let Some(name) = rest.first() else {
        if req.method != Method::GET {
            return ArmResponse::method_not_allowed(&req.method);
        }
        // As ARM does without `$filter=atScope()`: assignments at, above and below the scope.
        let related = |ra: &RoleAssignment| {
            let other = ra.properties.get("scope").and_then(Value::as_str).unwrap_or_default();
            covers(other, &scope_path) || covers(&scope_path, other)
        };
        let at_scope_only = req.query.get("$filter").is_some_and(|f| f.contains("atScope()"));
        let items: Vec<Value> = shared
            .state()
            .role_assignments
            .iter()
            .filter(|(k, r)| if at_scope_only { k.starts_with(&prefix) } else { related(r) })
            .map(|(_, r)| ra_json(r))
            .collect();
        return ArmResponse::ok(page(shared, req, items));
    };
    let id = format!("{scope_path}/providers/{TYPE}/{name}");
    let k = id.to_ascii_lowercase();
    let mut state = shared.state();
    match req.method {
        Method::GET => {
            state.role_assignments.get(&k).map_or_else(|| not_found(name), |r| ArmResponse::ok(ra_json(r)))
        }
        Method::DELETE => match state.role_assignments.remove(&k) {
            Some(r) => ArmResponse::ok(ra_json(&r)),
            None => ArmResponse::empty(StatusCode::NO_CONTENT),
        },
        Method::PUT => {
            if uuid::Uuid::parse_str(name).is_err() {
                return ArmResponse::error(StatusCode::BAD_REQUEST, "InvalidRoleAssignmentId", format!("The role assignment ID '{name}' is not valid. The role assignment ID must be a GUID."));
            }
            let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
            let props = body.get("properties").cloned().unwrap_or(Value::Null);
            let field = |f: &str| props.get(f).and_then(Value::as_str).map(str::to_owned);
            let (Some(role), Some(principal)) = (field("roleDefinitionId"), field("principalId")) else {
                return ArmResponse::invalid_content(
                    "properties.roleDefinitionId and properties.principalId are required.",
                );
            };
            let duplicate = state.role_assignments.iter().any(|(other, r)| {
                *other != k
                    && other.starts_with(&prefix)
                    && r.properties.get("principalId").and_then(Value::as_str) == Some(principal.as_str())
                    && r.properties
                        .get("roleDefinitionId")
                        .and_then(Value::as_str)
                        .is_some_and(|d| d.eq_ignore_ascii_case(&role))
            });
            if duplicate {
                return ArmResponse::error(
                    StatusCode::CONFLICT,
                    "RoleAssignmentExists",
                    "The role assignment already exists.",
                );
            }
            let now = now_rfc3339();
            let caller = req.caller.object_id.clone();
            let properties = json!({
                "roleDefinitionId": role,
                "principalId": principal,
                "principalType": field("principalType").unwrap_or_else(|| "ServicePrincipal".into()),
                "scope": scope_path,
                "condition": props.get("condition").cloned().unwrap_or(Value::Null),
                "conditionVersion": props.get("conditionVersion").cloned().unwrap_or(Value::Null),
                "description": props.get("description").cloned().unwrap_or(Value::Null),
                "createdOn": now,
                "updatedOn": now,
                "createdBy": caller,
                "updatedBy": caller,
            });
            let ra = RoleAssignment { id, name: (*name).to_owned(), properties };
            let out = ra_json(&ra);
            let created = state.role_assignments.insert(k, ra).is_none();
            ArmResponse::json(if created { StatusCode::CREATED } else { StatusCode::OK }, out)
        }
        _ => ArmResponse::method_not_allowed(&req.method),
    }
}

/// Seeds an assignment of `role` at `scope` for `principal`.
pub(crate) fn seed(state: &mut ArmState, scope: &str, role: BuiltInRole, principal: &str) {
    let scope = scope.trim_end_matches('/');
    let sub = scope.split('/').nth(2).unwrap_or_default();
    let name = uuid::Uuid::new_v4().to_string();
    let id = format!("{scope}/providers/{TYPE}/{name}");
    let now = now_rfc3339();
    let properties = json!({
        "roleDefinitionId": format!("/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{}", role.guid()),
        "principalId": principal,
        "principalType": "ServicePrincipal",
        "scope": scope,
        "createdOn": now,
        "updatedOn": now,
    });
    state.role_assignments.insert(id.to_ascii_lowercase(), RoleAssignment { id, name, properties });
}

fn not_found(name: &str) -> ArmResponse {
    ArmResponse::error(
        StatusCode::NOT_FOUND,
        "RoleAssignmentNotFound",
        format!("The role assignment '{name}' is not found."),
    )
}

/// The scope must start with an existing subscription (and resource group, if named).
fn check_scope(shared: &ArmShared, scope: &[&str]) -> Option<ArmResponse> {
    let low: Vec<String> = scope.iter().map(|s| s.to_ascii_lowercase()).collect();
    if low.first().map(String::as_str) != Some("subscriptions") || scope.len() < 2 {
        return Some(ArmResponse::error(
            StatusCode::BAD_REQUEST,
            "InvalidScope",
            "Role assignments need a subscription, resource group or resource scope.",
        ));
    }
    let state = shared.state();
    if state.subscription(scope[1]).is_none() {
        return Some(ArmResponse::sub_not_found(scope[1]));
    }
    if low.get(2).map(String::as_str) == Some("resourcegroups") {
        let rg = scope.get(3).copied().unwrap_or_default();
        if state.resource_group(scope[1], rg).is_none() {
            return Some(ArmResponse::rg_not_found(rg));
        }
    }
    None
}
