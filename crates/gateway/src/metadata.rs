//! `GET /metadata/endpoints?api-version=…` on the data listener: the cloud metadata
//! document `az cloud register --endpoint-resource-manager https://GATEWAY/CONNECTION/`
//! reads, for setups that prefer the gateway as a reverse proxy over interception.
//! `resourceManager` is the gateway's own URL for the first `azure-arm` connection. Every
//! `api-version` gets the one-cloud object: az (2.91, asking for 2022-09-01) reads it as
//! an object and fails on a list.

use http::header::HOST;
use http::{Request, StatusCode};
use hyper::body::Incoming;
use serde_json::{json, Value};

use crate::body::ProxyBody;
use crate::pipeline::ConnInfo;
use crate::proxy::{json_response, refusal, Front};

/// The path `az cloud register` fetches.
const PATH: &str = "/metadata/endpoints";
/// The same as `az cloud register` spells it (it joins the endpoint and the path with `/`).
const AZ_PATH: &str = "//metadata/endpoints";

/// Whether the gateway answers `path` with the metadata document itself (describing the
/// gateway, not the upstream): `/metadata/endpoints` in either spelling, and
/// `/{connection}/metadata/endpoints` for the ARM connection, which `az cloud register
/// --endpoint-resource-manager https://GATEWAY/CONNECTION` fetches.
pub(crate) fn is_metadata_path(path: &str, arm_connection: Option<&str>) -> bool {
    let is_doc = |p: &str| p == PATH || p == AZ_PATH;
    is_doc(path)
        || arm_connection
            .and_then(|c| path.strip_prefix('/').and_then(|p| p.strip_prefix(c)))
            .is_some_and(is_doc)
}

pub(crate) fn endpoints(front: &Front, info: ConnInfo, req: &Request<Incoming>) -> http::Response<ProxyBody> {
    let Some(connection) = &front.arm_connection else {
        return refusal(
            StatusCode::NOT_FOUND,
            "no_arm_connection",
            "no connection of kind azure-arm is configured, so there is no resource manager to describe",
        );
    };
    let host = req
        .headers()
        .get(HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| h.parse::<http::uri::Authority>().is_ok())
        .map(str::to_owned)
        .unwrap_or_else(|| info.local.to_string());
    let arm = format!("{}://{host}/{connection}/", info.scheme);
    json_response(StatusCode::OK, &cloud(&arm))
}

fn cloud(arm: &str) -> Value {
    json!({
        "name": "Portcullis",
        "portal": "https://portal.azure.com",
        "authentication": {
            "loginEndpoint": "https://login.microsoftonline.com/",
            "audiences": ["https://management.core.windows.net/", "https://management.azure.com/"],
            "tenant": "common",
            "identityProvider": "AAD"
        },
        "media": "https://rest.media.azure.net",
        "graphAudience": "https://graph.windows.net/",
        "graph": "https://graph.windows.net/",
        "batch": "https://batch.core.windows.net/",
        "gallery": "https://gallery.azure.com/",
        "resourceManager": arm,
        "activeDirectoryDataLake": "https://datalake.azure.net/",
        "sqlManagement": "https://management.core.windows.net:8443/",
        "microsoftGraphResourceId": "https://graph.microsoft.com/",
        "appInsightsResourceId": "https://api.applicationinsights.io",
        "appInsightsTelemetryChannelResourceId": "https://dc.applicationinsights.azure.com/v2/track",
        "attestationResourceId": "https://attest.azure.net",
        "synapseAnalyticsResourceId": "https://dev.azuresynapse.net",
        "logAnalyticsResourceId": "https://api.loganalytics.io",
        "ossrDbmsResourceId": "https://ossrdbms-aad.database.windows.net",
        "suffixes": {
            "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
            "acrLoginServer": "azurecr.io",
            "sqlServerHostname": "database.windows.net",
            "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net",
            "keyVaultDns": "vault.azure.net",
            "storage": "core.windows.net",
            "azureFrontDoorEndpointSuffix": "azurefd.net",
            "storageSyncEndpointSuffix": "afs.azure.net",
            "mhsmDns": "managedhsm.azure.net",
            "mysqlServerEndpoint": "mysql.database.azure.com",
            "postgresqlServerEndpoint": "postgres.database.azure.com",
            "mariadbServerEndpoint": "mariadb.database.azure.com",
            "synapseAnalytics": "dev.azuresynapse.net",
            "attestationEndpoint": "attest.azure.net"
        }
    })
}
