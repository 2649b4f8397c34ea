//! `Microsoft.Resources/deployments` at resource-group scope, run as long-running
//! operations (201 `Accepted` + `Azure-AsyncOperation`). A deployment applies the
//! storage accounts its template declares; `mode: Complete` also deletes the group's
//! storage accounts the template does not declare, as ARM does. Outputs are returned
//! (and may carry secrets, e.g. a `listKeys(...)` expression or a connection string);
//! `securestring`/`secureObject` outputs are withheld, as ARM withholds them.

use std::sync::OnceLock;

use http::{Method, StatusCode};
use regex::Regex;
use serde_json::{json, Map, Value};

use super::http_handler::ArmRequest;
use super::operations::{self, OperationTarget};
use super::paging::page;
use super::response::ArmResponse;
use super::state::{key, now_rfc3339, ArmState, Deployment, StorageAccount};
use super::ArmShared;

const TYPE: &str = "Microsoft.Resources/deployments";

/// Seeds each resource group holding a storage account with a `storage-setup`
/// deployment whose outputs carry that account's connection string.
pub(crate) fn seed(state: &mut ArmState) {
    let accounts: Vec<(String, StorageAccount)> = state
        .storage_accounts
        .values()
        .map(|a| (a.subscription.clone().unwrap_or_default(), a.clone()))
        .collect();
    for (sub, a) in accounts {
        let name = "storage-setup";
        let conn = format!(
            "DefaultEndpointsProtocol=https;AccountName={};AccountKey={};EndpointSuffix=core.windows.net",
            a.name, a.keys[0]
        );
        let properties = json!({
            "provisioningState": "Succeeded",
            "mode": "Incremental",
            "timestamp": now_rfc3339(),
            "duration": "PT12.5S",
            "correlationId": uuid::Uuid::new_v4().to_string(),
            "outputs": { "storageConnectionString": { "type": "String", "value": conn } },
            "outputResources": [{ "id": format!("/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}", a.resource_group, a.name) }],
        });
        let id = format!("/subscriptions/{sub}/resourceGroups/{}/providers/{TYPE}/{name}", a.resource_group);
        state.deployments.insert(
            key(&[&sub, &a.resource_group, name]),
            Deployment { id, name: name.into(), properties, done: true },
        );
    }
}

fn deployment_json(d: &Deployment) -> Value {
    let mut properties = d.properties.clone();
    if !d.done {
        if let Some(p) = properties.as_object_mut() {
            p.insert("provisioningState".into(), json!("Running"));
            p.remove("outputs");
            p.remove("outputResources");
        }
    }
    json!({ "id": d.id, "name": d.name, "type": TYPE, "properties": properties })
}

pub(crate) fn list(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str, rg: &str) -> ArmResponse {
    let items: Vec<Value> = {
        let state = shared.state();
        if state.subscription(sub).is_none() {
            return ArmResponse::sub_not_found(sub);
        }
        if state.resource_group(sub, rg).is_none() {
            return ArmResponse::rg_not_found(rg);
        }
        let prefix = format!("{}/", key(&[sub, rg]));
        state
            .deployments
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, d)| deployment_json(d))
            .collect()
    };
    ArmResponse::ok(page(shared, req, items))
}

pub(crate) fn handle(
    shared: &ArmShared,
    req: &ArmRequest<'_>,
    sub: &str,
    rg: &str,
    name: &str,
) -> ArmResponse {
    let mut state = shared.state();
    let Some(s) = state.subscription(sub) else {
        return ArmResponse::sub_not_found(sub);
    };
    let sub_id = s.id.clone();
    let Some(group) = state.resource_group(sub, rg) else {
        return ArmResponse::rg_not_found(rg);
    };
    let (rg_name, location) = (group.name.clone(), group.location.clone());
    let k = key(&[sub, rg, name]);
    match req.method {
        Method::GET => state.deployments.get(&k).map_or_else(
            || {
                ArmResponse::error(
                    StatusCode::NOT_FOUND,
                    "DeploymentNotFound",
                    format!("Deployment '{name}' could not be found."),
                )
            },
            |d| ArmResponse::ok(deployment_json(d)),
        ),
        Method::DELETE => match state.deployments.remove(&k) {
            Some(_) => ArmResponse::empty(StatusCode::OK),
            None => ArmResponse::empty(StatusCode::NO_CONTENT),
        },
        Method::PUT => {
            let body: Value = match serde_json::from_slice(req.body) {
                Ok(v) => v,
                Err(e) => {
                    return ArmResponse::invalid_content(format!(
                        "The request content was invalid and could not be deserialized: '{e}'."
                    ))
                }
            };
            let props = body.get("properties").cloned().unwrap_or(Value::Null);
            let mode = match props.get("mode").and_then(Value::as_str) {
                Some(m) if m.eq_ignore_ascii_case("incremental") => "Incremental",
                Some(m) if m.eq_ignore_ascii_case("complete") => "Complete",
                other => return ArmResponse::invalid_content(format!("The request content was invalid and could not be deserialized: 'Error converting value {other:?} to type 'DeploymentMode'. Path 'properties.mode'.'.")),
            };
            let Some(template) = props.get("template").filter(|t| t.is_object()) else {
                return ArmResponse::error(
                    StatusCode::BAD_REQUEST,
                    "InvalidTemplate",
                    "The deployment must contain a 'template' (templateLink is not supported by this fake).",
                );
            };
            let declared = apply_resources(&mut state, &sub_id, &rg_name, &location, template);
            if mode == "Complete" {
                let prefix = format!("{}/", key(&[sub, rg]));
                state.storage_accounts.retain(|k, a| {
                    !k.starts_with(&prefix) || declared.iter().any(|d| d.eq_ignore_ascii_case(&a.name))
                });
            }
            let outputs = evaluate_outputs(&state, sub, rg, template);
            let properties = json!({
                "provisioningState": "Succeeded",
                "mode": mode,
                "timestamp": now_rfc3339(),
                "duration": "PT1S",
                "correlationId": uuid::Uuid::new_v4().to_string(),
                "parameters": props.get("parameters").cloned().unwrap_or_else(|| json!({})),
                "outputs": outputs,
                "outputResources": declared.iter().map(|n| json!({ "id": format!("/subscriptions/{sub_id}/resourceGroups/{rg_name}/providers/Microsoft.Storage/storageAccounts/{n}") })).collect::<Vec<_>>(),
            });
            let id = format!("/subscriptions/{sub_id}/resourceGroups/{rg_name}/providers/{TYPE}/{name}");
            let d = Deployment { id, name: name.to_owned(), properties, done: false };
            let mut out = deployment_json(&d);
            if let Some(p) = out.get_mut("properties").and_then(Value::as_object_mut) {
                p.insert("provisioningState".into(), json!("Accepted"));
            }
            let created = state.deployments.insert(k.clone(), d).is_none();
            let op = operations::begin(shared, &mut state, &sub_id, OperationTarget::Deployment { key: k });
            drop(state);
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            ArmResponse::json(status, out)
                .header("Azure-AsyncOperation", operations::status_url(shared, req, &sub_id, &op))
                .header("Retry-After", shared.retry_after_secs.to_string())
        }
        _ => ArmResponse::method_not_allowed(&req.method),
    }
}

/// Creates the storage accounts the template declares; returns their names.
fn apply_resources(
    state: &mut ArmState,
    sub: &str,
    rg: &str,
    location: &str,
    template: &Value,
) -> Vec<String> {
    let mut declared = Vec::new();
    for r in template.get("resources").and_then(Value::as_array).into_iter().flatten() {
        let is_storage = r
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts"));
        let Some(name) = r.get("name").and_then(Value::as_str).filter(|_| is_storage) else {
            continue;
        };
        let loc =
            r.get("location").and_then(Value::as_str).filter(|l| !l.starts_with('[')).unwrap_or(location);
        let k = key(&[sub, rg, name]);
        state
            .storage_accounts
            .entry(k)
            .or_insert_with(|| StorageAccount::new(rg, name).subscription(sub).location(loc));
        declared.push(name.to_owned());
    }
    declared
}

fn list_keys_expr() -> Option<&'static Regex> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"(?i)^\[listKeys\(resourceId\('Microsoft\.Storage/storageAccounts',\s*'([^']+)'\)[^)]*\)\.keys\[([01])\]\.value\]$").ok()
    })
    .as_ref()
}

/// Output values: literals as given, `[listKeys(resourceId('Microsoft.Storage/
/// storageAccounts','NAME'), ...).keys[N].value]` evaluated; secure types withheld.
fn evaluate_outputs(state: &ArmState, sub: &str, rg: &str, template: &Value) -> Value {
    let mut out = Map::new();
    for (name, def) in template.get("outputs").and_then(Value::as_object).into_iter().flatten() {
        let otype = def.get("type").and_then(Value::as_str).unwrap_or("string");
        if otype.to_ascii_lowercase().starts_with("secure") {
            out.insert(name.clone(), json!({ "type": otype }));
            continue;
        }
        let mut value = def.get("value").cloned().unwrap_or(Value::Null);
        if let (Some(expr), Some(re)) = (value.as_str(), list_keys_expr()) {
            if let Some(c) = re.captures(expr) {
                let account = state.storage_accounts.get(&key(&[sub, rg, &c[1]]));
                let slot = if &c[2] == "1" { 1 } else { 0 };
                value = account.map_or(Value::Null, |a| json!(a.keys[slot]));
            }
        }
        out.insert(name.clone(), json!({ "type": otype, "value": value }));
    }
    Value::Object(out)
}
