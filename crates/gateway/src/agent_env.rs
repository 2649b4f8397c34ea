//! `GET /api/v1/agent-environment?connection=C` on the control API: what `portcullis env`
//! prints for an agent of connection C — the proxy URL, the managed-identity endpoint and
//! the interception CA certificate. The token for `IDENTITY_HEADER` is the agent's own and
//! never comes from here.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::control::ControlState;

/// What the gateway knows at start for agents' environments.
pub(crate) struct AgentEnvironment {
    /// The data listener's URL (`HTTPS_PROXY`, and the base of `IDENTITY_ENDPOINT`).
    pub(crate) data_url: String,
    /// `data_dir/proxy-ca.pem`'s contents.
    pub(crate) ca_pem: String,
    /// Connection name → the hosts it claims.
    pub(crate) hosts: BTreeMap<String, Vec<String>>,
}

pub(crate) async fn handler(
    State(state): State<Arc<ControlState>>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let env = &state.agent_env;
    let Some(connection) = query.get("connection") else {
        let body = json!({ "error": { "code": "connection_required", "message": "add ?connection=NAME" } });
        return (StatusCode::BAD_REQUEST, Json(body)).into_response();
    };
    let Some(hosts) = env.hosts.get(connection) else {
        let body =
            json!({ "error": { "code": "not_found", "message": format!("no connection `{connection}`") } });
        return (StatusCode::NOT_FOUND, Json(body)).into_response();
    };
    Json(json!({
        "connection": connection,
        "hosts": hosts,
        "proxy_url": env.data_url,
        "identity_endpoint": format!("{}{}", env.data_url, crate::msi::APP_SERVICE_PATH),
        "imds_endpoint": format!("{}{}", env.data_url, crate::msi::IMDS_PATH),
        "path_prefix_url": format!("{}/{connection}", env.data_url),
        "no_proxy": "localhost,127.0.0.1,::1",
        "ca_pem": env.ca_pem,
    }))
    .into_response()
}
