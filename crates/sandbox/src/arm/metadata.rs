//! `/metadata/endpoints`: the cloud metadata document `az cloud register` reads. Served
//! without authentication, as ARM serves it. `api-version=2022-09-01` (and later) answers
//! a list of clouds; older versions answer the single-cloud object.

use std::collections::HashMap;

use serde_json::{json, Value};

use super::response::ArmResponse;
use super::ArmShared;

fn cloud(shared: &ArmShared) -> Value {
    let arm = format!("{}/", shared.link_base());
    let login = format!("{}/", shared.idp.base_url);
    json!({
        "name": "PortcullisSandbox",
        "portal": "https://portal.azure.com",
        "authentication": {
            "loginEndpoint": login,
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
        "vmImageAliasDoc": "https://raw.githubusercontent.com/Azure/azure-rest-api-specs/main/arm-compute/quickstart-templates/aliases.json",
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

pub(crate) fn endpoints(shared: &ArmShared, query: &HashMap<String, String>) -> ArmResponse {
    let version = query.get("api-version").map(String::as_str).unwrap_or("2019-05-01");
    if version >= "2022-09-01" {
        ArmResponse::ok(json!([cloud(shared)]))
    } else {
        ArmResponse::ok(cloud(shared))
    }
}
