//! The remote mode's entry point: a request that arrived through the tunnel becomes the
//! upstream's response, or a small JSON error the gateway can map. Never an `Err`.

use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use http_body_util::{BodyExt, Full};

use crate::client::ConnectorBody;
use crate::connector::Connector;
use crate::error::{ConnectorError, ConnectorReason};

/// Response header naming a connector-side refusal's reason code (absent when the
/// response is the upstream's own).
pub const CONNECTOR_ERROR_HEADER: &str = "portcullis-connector-error";

impl Connector {
    /// Like [`Connector::send`] for requests from a transport (the tunnel): the URI's
    /// scheme and authority are ignored (only its path and query count; the connector
    /// reaches nothing but the connection's upstream), and an error becomes a response
    /// with [`CONNECTOR_ERROR_HEADER`] and body `{"error":{"code":…,"message":…}}`.
    /// The message never contains a secret or a token.
    pub async fn respond(&self, connection: &str, req: Request<ConnectorBody>) -> Response<ConnectorBody> {
        let (mut parts, body) = req.into_parts();
        // Keep only the (already parsed) path and query.
        let target = std::mem::take(&mut parts.uri).into_parts().path_and_query;
        let mut origin = http::uri::Parts::default();
        origin.path_and_query = Some(target.unwrap_or_else(|| PathAndQuery::from_static("/")));
        match Uri::from_parts(origin) {
            Ok(uri) => parts.uri = uri,
            Err(e) => return error_response(&ConnectorError::BadRequest(format!("target: {e}"))),
        }
        match self.send(connection, Request::from_parts(parts, body)).await {
            Ok(resp) => resp.map(|b| b.map_err(Into::into).boxed_unsync()),
            Err(e) => {
                tracing::info!(connection, code = e.reason().code(), error = %e, "request refused by the connector");
                error_response(&e)
            }
        }
    }
}

fn error_response(e: &ConnectorError) -> Response<ConnectorBody> {
    let reason = e.reason();
    let status = match reason {
        ConnectorReason::GrantExpired => StatusCode::FORBIDDEN,
        ConnectorReason::BadRequest => StatusCode::BAD_REQUEST,
        ConnectorReason::UnknownConnection => StatusCode::MISDIRECTED_REQUEST,
        ConnectorReason::Config => StatusCode::INTERNAL_SERVER_ERROR,
        ConnectorReason::CredentialUnavailable | ConnectorReason::Upstream => StatusCode::BAD_GATEWAY,
    };
    let body =
        serde_json::json!({ "error": { "code": reason.code(), "message": e.to_string() } }).to_string();
    let mut resp = Response::new(Full::new(body.into()).map_err(|never| match never {}).boxed_unsync());
    *resp.status_mut() = status;
    resp.headers_mut().insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    resp.headers_mut().insert(CONNECTOR_ERROR_HEADER, HeaderValue::from_static(reason.code()));
    resp
}
