//! ARM `/batch`: several requests in one POST (`{"requests":[{"httpMethod","url",
//! "content",...}]}` → `{"responses":[...]}`), each authorized with the outer token and
//! recorded as a request of its own.

use http::{HeaderMap, Method, StatusCode};
use serde_json::{json, Map, Value};

use super::http_handler::{received_entry, record, respond, ArmRequest};
use super::response::ArmResponse;
use super::ArmShared;

/// ARM's limit of requests per batch.
const MAX_REQUESTS: usize = 500;

pub(crate) fn handle(shared: &ArmShared, req: &ArmRequest<'_>, headers: &HeaderMap) -> ArmResponse {
    let body: Value = match serde_json::from_slice(req.body) {
        Ok(v) => v,
        Err(e) => {
            return ArmResponse::invalid_content(format!(
                "The batch request content could not be parsed: '{e}'."
            ))
        }
    };
    let Some(requests) = body.get("requests").and_then(Value::as_array) else {
        return ArmResponse::invalid_content("The batch request must contain a 'requests' array.");
    };
    if requests.len() > MAX_REQUESTS {
        return ArmResponse::error(
            StatusCode::BAD_REQUEST,
            "BatchRequestTooLarge",
            format!("A batch may contain at most {MAX_REQUESTS} requests."),
        );
    }
    let mut inner_headers = HeaderMap::new();
    if let Some(auth) = headers.get(http::header::AUTHORIZATION) {
        inner_headers.insert(http::header::AUTHORIZATION, auth.clone());
    }
    let responses: Vec<Value> = requests.iter().map(|r| one(shared, r, &inner_headers)).collect();
    ArmResponse::ok(json!({ "responses": responses }))
}

fn one(shared: &ArmShared, r: &Value, headers: &HeaderMap) -> Value {
    let name = r.get("name").cloned().unwrap_or(Value::Null);
    let method = r
        .get("httpMethod")
        .and_then(Value::as_str)
        .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok());
    let url = r.get("url").and_then(Value::as_str).map(path_and_query);
    let (Some(method), Some((path, query))) = (method, url) else {
        return entry(name, ArmResponse::invalid_content("Each batch request needs 'httpMethod' and 'url'."));
    };
    let content = match r.get("content") {
        None | Some(Value::Null) => Vec::new(),
        Some(v) => serde_json::to_vec(v).unwrap_or_default(),
    };
    let resp = if path.trim_matches('/').eq_ignore_ascii_case("batch") {
        ArmResponse::invalid_content("A batch request cannot contain another batch request.")
    } else {
        respond(shared, &method, &path, query.as_deref(), headers, &content)
    };
    let mut rec = received_entry(&method, &path, query.as_deref(), headers, &content);
    rec.via_batch = true;
    rec.status = resp.status.as_u16();
    record(shared, rec);
    entry(name, resp)
}

fn path_and_query(url: &str) -> (String, Option<String>) {
    let rest = match url.find("://") {
        Some(i) => url[i + 3..].find('/').map_or("/", |j| &url[i + 3 + j..]),
        None => url,
    };
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q.to_owned())),
        None => (rest, None),
    };
    let path = if path.starts_with('/') { path.to_owned() } else { format!("/{path}") };
    (path, query)
}

fn entry(name: Value, resp: ArmResponse) -> Value {
    let headers: Map<String, Value> = resp.headers.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let len = resp.body.as_ref().map_or(0, |b| serde_json::to_vec(b).map_or(0, |v| v.len()));
    json!({
        "name": name,
        "httpStatusCode": resp.status.as_u16(),
        "headers": headers,
        "content": resp.body,
        "contentLength": len,
    })
}
