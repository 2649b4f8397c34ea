//! ARM responses: a small value type that both the HTTP handler and `/batch` use, and
//! ARM's error format (`{"error":{"code","message"}}`).

use http::StatusCode;
use serde_json::{json, Value};

/// One response of the fake ARM, before it becomes HTTP (or a `/batch` entry).
#[derive(Debug, Clone)]
pub(crate) struct ArmResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Option<Value>,
}

impl ArmResponse {
    /// A JSON body with `status`.
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Self { status, headers: Vec::new(), body: Some(body) }
    }

    /// 200 with a JSON body.
    pub(crate) fn ok(body: Value) -> Self {
        Self::json(StatusCode::OK, body)
    }

    /// No body.
    pub(crate) fn empty(status: StatusCode) -> Self {
        Self { status, headers: Vec::new(), body: None }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// An ARM error: `{"error":{"code":CODE,"message":MESSAGE}}`.
    pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self::json(status, json!({ "error": { "code": code, "message": message.into() } }))
    }

    /// 404 `ResourceGroupNotFound`.
    pub(crate) fn rg_not_found(rg: &str) -> Self {
        Self::error(
            StatusCode::NOT_FOUND,
            "ResourceGroupNotFound",
            format!("Resource group '{rg}' could not be found."),
        )
    }

    /// 404 `SubscriptionNotFound`.
    pub(crate) fn sub_not_found(sub: &str) -> Self {
        Self::error(
            StatusCode::NOT_FOUND,
            "SubscriptionNotFound",
            format!("The subscription '{sub}' could not be found."),
        )
    }

    /// 404 `ResourceNotFound` for `type/name` under `rg`.
    pub(crate) fn resource_not_found(rtype: &str, name: &str, rg: &str) -> Self {
        Self::error(
            StatusCode::NOT_FOUND,
            "ResourceNotFound",
            format!("The Resource '{rtype}/{name}' under resource group '{rg}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"),
        )
    }

    /// 400 `InvalidRequestContent`.
    pub(crate) fn invalid_content(message: impl Into<String>) -> Self {
        Self::error(StatusCode::BAD_REQUEST, "InvalidRequestContent", message)
    }

    /// 405 for a method the path does not support.
    pub(crate) fn method_not_allowed(method: &http::Method) -> Self {
        Self::error(
            StatusCode::METHOD_NOT_ALLOWED,
            "HttpMethodNotSupported",
            format!("The HTTP method '{method}' is not supported for this resource."),
        )
    }

    /// 404 for a path that names no known resource type.
    pub(crate) fn unknown_path(path: &str) -> Self {
        Self::error(
            StatusCode::NOT_FOUND,
            "InvalidResourceType",
            format!("The resource type could not be found for the request path '{path}'."),
        )
    }
}
