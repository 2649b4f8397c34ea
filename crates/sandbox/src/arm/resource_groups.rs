//! Subscriptions and resource groups, including resource group deletion as a
//! long-running operation (202 + `Location` + `Azure-AsyncOperation`, see `operations`).

use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::http_handler::ArmRequest;
use super::operations::{self, OperationTarget};
use super::paging::page;
use super::response::ArmResponse;
use super::state::{key, ResourceGroup};
use super::ArmShared;

fn subscription_json(shared: &ArmShared, id: &str, name: &str) -> Value {
    json!({
        "id": format!("/subscriptions/{id}"),
        "authorizationSource": "RoleBased",
        "managedByTenants": [],
        "subscriptionId": id,
        "tenantId": shared.idp.tenant,
        "displayName": name,
        "state": "Enabled",
        "subscriptionPolicies": {
            "locationPlacementId": "Public_2014-09-01",
            "quotaId": "PayAsYouGo_2014-09-01",
            "spendingLimit": "Off"
        }
    })
}

pub(crate) fn list_subscriptions(shared: &ArmShared, req: &ArmRequest<'_>) -> ArmResponse {
    let items: Vec<Value> = shared
        .state()
        .subscriptions
        .values()
        .map(|s| subscription_json(shared, &s.id, &s.display_name))
        .collect();
    let count = items.len();
    let mut body = page(shared, req, items);
    if let Some(obj) = body.as_object_mut() {
        obj.insert("count".into(), json!({ "type": "Total", "value": count }));
    }
    ArmResponse::ok(body)
}

pub(crate) fn get_subscription(shared: &ArmShared, sub: &str) -> ArmResponse {
    match shared.state().subscription(sub) {
        Some(s) => ArmResponse::ok(subscription_json(shared, &s.id, &s.display_name)),
        None => ArmResponse::sub_not_found(sub),
    }
}

pub(crate) fn rg_json(rg: &ResourceGroup) -> Value {
    let mut v = json!({
        "id": format!("/subscriptions/{}/resourceGroups/{}", rg.subscription, rg.name),
        "name": rg.name,
        "type": "Microsoft.Resources/resourceGroups",
        "location": rg.location,
        "properties": { "provisioningState": if rg.deleting { "Deleting" } else { "Succeeded" } },
    });
    if let Some(obj) = v.as_object_mut() {
        if !rg.tags.is_empty() {
            obj.insert("tags".into(), Value::Object(rg.tags.clone()));
        }
        if let Some(m) = &rg.managed_by {
            obj.insert("managedBy".into(), json!(m));
        }
    }
    v
}

pub(crate) fn list(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str) -> ArmResponse {
    let items: Vec<Value> = {
        let state = shared.state();
        if state.subscription(sub).is_none() {
            return ArmResponse::sub_not_found(sub);
        }
        let prefix = format!("{}/", key(&[sub]));
        state
            .resource_groups
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, rg)| rg_json(rg))
            .collect()
    };
    ArmResponse::ok(page(shared, req, items))
}

pub(crate) fn handle(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str, rg: &str) -> ArmResponse {
    let mut state = shared.state();
    if state.subscription(sub).is_none() {
        return ArmResponse::sub_not_found(sub);
    }
    let k = key(&[sub, rg]);
    match req.method {
        Method::GET => state
            .resource_groups
            .get(&k)
            .map_or_else(|| ArmResponse::rg_not_found(rg), |g| ArmResponse::ok(rg_json(g))),
        Method::HEAD => ArmResponse::empty(if state.resource_groups.contains_key(&k) {
            StatusCode::NO_CONTENT
        } else {
            StatusCode::NOT_FOUND
        }),
        Method::PUT => {
            let body: Value = match serde_json::from_slice(req.body) {
                Ok(v) => v,
                Err(e) => {
                    return ArmResponse::invalid_content(format!(
                        "The request content was invalid and could not be deserialized: '{e}'."
                    ))
                }
            };
            if !valid_rg_name(rg) {
                return ArmResponse::error(StatusCode::BAD_REQUEST, "InvalidResourceGroup", format!("The provided resource group name '{rg}' has these invalid characters or is too long."));
            }
            let Some(location) = body.get("location").and_then(Value::as_str) else {
                return ArmResponse::error(
                    StatusCode::BAD_REQUEST,
                    "LocationRequired",
                    "The location property is required for this definition.",
                );
            };
            let tags = body.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
            let managed_by = body.get("managedBy").and_then(Value::as_str).map(str::to_owned);
            if let Some(existing) = state.resource_groups.get_mut(&k) {
                if existing.deleting {
                    return ArmResponse::error(StatusCode::CONFLICT, "ResourceGroupBeingDeleted", format!("The resource group '{rg}' is in deprovisioning state and cannot perform this operation."));
                }
                if !existing.location.eq_ignore_ascii_case(location) {
                    return ArmResponse::error(StatusCode::CONFLICT, "InvalidResourceGroupLocation", format!("Invalid resource group location '{location}'. The Resource group already exists in location '{}'.", existing.location));
                }
                existing.tags = tags;
                existing.managed_by = managed_by;
                return ArmResponse::ok(rg_json(existing));
            }
            let group = ResourceGroup {
                subscription: canonical_sub(&state, sub),
                name: rg.to_owned(),
                location: location.to_owned(),
                tags,
                managed_by,
                deleting: false,
            };
            let body = rg_json(&group);
            state.resource_groups.insert(k, group);
            ArmResponse::json(StatusCode::CREATED, body)
        }
        Method::PATCH => {
            let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
            let Some(group) = state.resource_groups.get_mut(&k) else {
                return ArmResponse::rg_not_found(rg);
            };
            if let Some(tags) = body.get("tags").and_then(Value::as_object) {
                group.tags = tags.clone();
            }
            ArmResponse::ok(rg_json(group))
        }
        Method::DELETE => {
            let Some(group) = state.resource_groups.get_mut(&k) else {
                return ArmResponse::rg_not_found(rg);
            };
            group.deleting = true;
            let sub_id = group.subscription.clone();
            let target = OperationTarget::DeleteResourceGroup { rg: rg.to_owned() };
            let op_id = operations::begin(shared, &mut state, &sub_id, target);
            drop(state);
            operations::accepted(shared, req, &sub_id, &op_id)
        }
        _ => ArmResponse::method_not_allowed(&req.method),
    }
}

fn canonical_sub(state: &super::state::ArmState, sub: &str) -> String {
    state.subscription(sub).map_or_else(|| sub.to_owned(), |s| s.id.clone())
}

fn valid_rg_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 90
        && !name.ends_with('.')
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.' | '(' | ')'))
}
