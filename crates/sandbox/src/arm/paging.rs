//! List paging with absolute `nextLink`, as ARM does it: `$skiptoken` carries the offset.

use serde_json::{json, Value};

use super::http_handler::ArmRequest;
use super::ArmShared;

/// One page of `items` for `req`, with `nextLink` pointing at the next page on the link
/// base when more remain.
pub(crate) fn page(shared: &ArmShared, req: &ArmRequest<'_>, items: Vec<Value>) -> Value {
    let offset: usize = req.query.get("$skiptoken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let top: Option<usize> = req.query.get("$top").and_then(|t| t.parse().ok());
    let total = top.map_or(items.len(), |t| t.min(items.len()));
    let end = (offset + shared.page_size).min(total);
    let value: Vec<Value> = items.into_iter().take(end).skip(offset).collect();
    let mut body = json!({ "value": value });
    if end < total {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        q.append_pair("api-version", req.api_version());
        if let Some(t) = top {
            q.append_pair("$top", &t.to_string());
        }
        q.append_pair("$skiptoken", &end.to_string());
        let next = format!("{}{}?{}", shared.link_base(), req.path, q.finish());
        if let Some(obj) = body.as_object_mut() {
            obj.insert("nextLink".into(), json!(next));
        }
    }
    body
}
