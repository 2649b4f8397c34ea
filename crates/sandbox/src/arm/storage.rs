//! `Microsoft.Storage/storageAccounts`: PUT (creation is a long-running operation with a
//! `Location` header only, as the storage provider does it), GET/PATCH/DELETE, lists, and
//! the secret-bearing actions `listKeys`, `regenerateKey` and `listAccountSas`.

use aws_lc_rs::hmac;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::http_handler::ArmRequest;
use super::operations::{self, OperationTarget};
use super::paging::page;
use super::response::ArmResponse;
use super::state::{key, random_account_key, StorageAccount};
use super::ArmShared;

const TYPE: &str = "Microsoft.Storage/storageAccounts";

/// The account as ARM shows it; `creating` while its creation operation runs.
pub(crate) fn account_json(sub: &str, a: &StorageAccount, creating: bool) -> Value {
    let name = &a.name;
    let blob = a.blob_endpoint.clone().unwrap_or_else(|| format!("https://{name}.blob.core.windows.net/"));
    json!({
        "id": format!("/subscriptions/{sub}/resourceGroups/{}/providers/{TYPE}/{name}", a.resource_group),
        "name": name,
        "type": TYPE,
        "location": a.location,
        "tags": {},
        "sku": { "name": "Standard_LRS", "tier": "Standard" },
        "kind": "StorageV2",
        "properties": {
            "provisioningState": if creating { "Creating" } else { "Succeeded" },
            "primaryLocation": a.location,
            "statusOfPrimary": "available",
            "accessTier": "Hot",
            "supportsHttpsTrafficOnly": true,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": false,
            "allowSharedKeyAccess": true,
            "primaryEndpoints": {
                "blob": blob,
                "queue": format!("https://{name}.queue.core.windows.net/"),
                "table": format!("https://{name}.table.core.windows.net/"),
                "file": format!("https://{name}.file.core.windows.net/"),
                "dfs": format!("https://{name}.dfs.core.windows.net/"),
                "web": format!("https://{name}.z6.web.core.windows.net/"),
            },
        },
    })
}

pub(crate) fn list(shared: &ArmShared, req: &ArmRequest<'_>, sub: &str, rg: Option<&str>) -> ArmResponse {
    let items: Vec<Value> = {
        let state = shared.state();
        let Some(s) = state.subscription(sub) else {
            return ArmResponse::sub_not_found(sub);
        };
        let sub_id = s.id.clone();
        if let Some(rg) = rg {
            if state.resource_group(sub, rg).is_none() {
                return ArmResponse::rg_not_found(rg);
            }
        }
        let prefix = match rg {
            Some(rg) => format!("{}/", key(&[sub, rg])),
            None => format!("{}/", key(&[sub])),
        };
        state
            .storage_accounts
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, a)| account_json(&sub_id, a, state.creating.contains(k)))
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
    let (rg_name, rg_location) = (group.name.clone(), group.location.clone());
    let k = key(&[sub, rg, name]);
    match req.method {
        Method::GET => match state.storage_accounts.get(&k) {
            Some(a) => ArmResponse::ok(account_json(&sub_id, a, state.creating.contains(&k))),
            None => ArmResponse::resource_not_found(TYPE, name, rg),
        },
        Method::PUT | Method::PATCH => {
            let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
            if let Some(existing) = state.storage_accounts.get(&k) {
                return ArmResponse::ok(account_json(&sub_id, existing, state.creating.contains(&k)));
            }
            if req.method == Method::PATCH {
                return ArmResponse::resource_not_found(TYPE, name, rg);
            }
            if !valid_account_name(name) {
                return ArmResponse::error(StatusCode::BAD_REQUEST, "AccountNameInvalid", format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."));
            }
            if state.storage_accounts.values().any(|a| a.name.eq_ignore_ascii_case(name)) {
                return ArmResponse::error(
                    StatusCode::CONFLICT,
                    "StorageAccountAlreadyTaken",
                    format!("The storage account named {name} is already taken."),
                );
            }
            let location = body.get("location").and_then(Value::as_str).unwrap_or(&rg_location);
            let account = StorageAccount::new(rg_name, name).subscription(sub_id.clone()).location(location);
            state.storage_accounts.insert(k.clone(), account);
            state.creating.insert(k.clone());
            let op =
                operations::begin(shared, &mut state, &sub_id, OperationTarget::StorageAccount { key: k });
            drop(state);
            operations::location_accepted(shared, req, &sub_id, &op)
        }
        Method::DELETE => match state.storage_accounts.remove(&k) {
            Some(_) => ArmResponse::empty(StatusCode::OK),
            None => ArmResponse::empty(StatusCode::NO_CONTENT),
        },
        _ => ArmResponse::method_not_allowed(&req.method),
    }
}

fn valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

pub(crate) fn keys_json(a: &StorageAccount) -> Value {
    let created = super::state::now_rfc3339();
    json!({ "keys": [
        { "creationTime": created, "keyName": "key1", "value": a.keys[0], "permissions": "FULL" },
        { "creationTime": created, "keyName": "key2", "value": a.keys[1], "permissions": "FULL" },
    ] })
}

pub(crate) fn action(
    shared: &ArmShared,
    req: &ArmRequest<'_>,
    sub: &str,
    rg: &str,
    name: &str,
    action: &str,
) -> ArmResponse {
    let mut state = shared.state();
    if state.subscription(sub).is_none() {
        return ArmResponse::sub_not_found(sub);
    }
    if state.resource_group(sub, rg).is_none() {
        return ArmResponse::rg_not_found(rg);
    }
    let Some(account) = state.storage_accounts.get_mut(&key(&[sub, rg, name])) else {
        return ArmResponse::resource_not_found(TYPE, name, rg);
    };
    let body: Value = serde_json::from_slice(req.body).unwrap_or(Value::Null);
    match action {
        "listkeys" => ArmResponse::ok(keys_json(account)),
        "regeneratekey" => {
            let slot = match body.get("keyName").and_then(Value::as_str) {
                Some(k) if k.eq_ignore_ascii_case("key1") => 0,
                Some(k) if k.eq_ignore_ascii_case("key2") => 1,
                _ => return ArmResponse::invalid_content("keyName must be 'key1' or 'key2'."),
            };
            account.keys[slot] = random_account_key();
            ArmResponse::ok(keys_json(account))
        }
        "listaccountsas" => account_sas(account, &body),
        _ => ArmResponse::unknown_path(req.path),
    }
}

/// An account SAS signed with `key1` (service version 2020-12-06 string-to-sign).
fn account_sas(account: &StorageAccount, body: &Value) -> ArmResponse {
    let field = |k: &str| body.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (services, types, perms, expiry) = (
        field("signedServices"),
        field("signedResourceTypes"),
        field("signedPermission"),
        field("signedExpiry"),
    );
    if services.is_empty() || types.is_empty() || perms.is_empty() || expiry.is_empty() {
        return ArmResponse::invalid_content(
            "signedServices, signedResourceTypes, signedPermission and signedExpiry are required.",
        );
    }
    let (start, ip) = (field("signedStart"), field("signedIp"));
    let protocol = body.get("signedProtocol").and_then(Value::as_str).unwrap_or("https").to_owned();
    let version = "2022-11-02";
    let to_sign = format!(
        "{}\n{perms}\n{services}\n{types}\n{start}\n{expiry}\n{ip}\n{protocol}\n{version}\n\n",
        account.name
    );
    let Ok(key) = B64.decode(&account.keys[0]) else {
        return ArmResponse::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalError",
            "The account key is not base64.",
        );
    };
    let sig = B64.encode(hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &key), to_sign.as_bytes()));
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("sv", version)
        .append_pair("ss", &services)
        .append_pair("srt", &types)
        .append_pair("sp", &perms);
    if !start.is_empty() {
        q.append_pair("st", &start);
    }
    q.append_pair("se", &expiry).append_pair("spr", &protocol).append_pair("sig", &sig);
    ArmResponse::ok(json!({ "accountSasToken": q.finish() }))
}
