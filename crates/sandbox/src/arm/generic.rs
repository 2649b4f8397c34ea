//! Listings that span resource types: `GET /tenants` (which `az login` calls) and
//! `GET …/resources` at subscription or resource-group scope (`az resource list`).

use serde_json::{json, Value};

use super::http_handler::ArmRequest;
use super::paging::page;
use super::response::ArmResponse;
use super::state::key;
use super::ArmShared;

pub(crate) fn tenants(shared: &ArmShared, req: &ArmRequest<'_>) -> ArmResponse {
    let tid = &shared.idp.tenant;
    let tenant = json!({
        "id": format!("/tenants/{tid}"),
        "tenantId": tid,
        "countryCode": "NL",
        "displayName": "Portcullis Sandbox",
        "domains": ["portcullis-sandbox.onmicrosoft.com"],
        "tenantCategory": "Home",
        "defaultDomain": "portcullis-sandbox.onmicrosoft.com",
        "tenantType": "AAD",
    });
    ArmResponse::ok(page(shared, req, vec![tenant]))
}

/// Generic resources (storage accounts; deployments are not resources) in a
/// subscription, or in one resource group.
pub(crate) fn resources(
    shared: &ArmShared,
    req: &ArmRequest<'_>,
    sub: &str,
    rg: Option<&str>,
) -> ArmResponse {
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
            .map(|(_, a)| {
                json!({
                    "id": format!("/subscriptions/{sub_id}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}", a.resource_group, a.name),
                    "name": a.name,
                    "type": "Microsoft.Storage/storageAccounts",
                    "sku": { "name": "Standard_LRS", "tier": "Standard" },
                    "kind": "StorageV2",
                    "location": a.location,
                    "tags": {},
                })
            })
            .collect()
    };
    ArmResponse::ok(page(shared, req, items))
}
