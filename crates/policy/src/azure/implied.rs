//! Operations hidden inside one ARM write: the resources of a deployment template
//! (nested templates included as far as they are inline), the resource-group wipe that a
//! Complete-mode deployment implies, and the security rules written inline with a network
//! security group. Each becomes a synthetic request decided like any other.

use serde_json::Value;

use super::classify::AzureRequest;

/// The most hidden operations one request may unpack to before it is refused.
pub(crate) const MAX_IMPLIED: usize = 1000;

/// One hidden operation.
#[derive(Debug, Clone)]
pub(crate) enum Implied {
    /// A synthetic `PUT` of `path` with `body` (a template resource or an inline rule).
    Write { path: String, body: Value },
    /// Complete mode: resources at `scope` that the template does not list are deleted.
    CompleteDelete { scope: String },
    /// Something that cannot be inspected here (a linked template, an expression type).
    Uninspectable { what: &'static str },
    /// More hidden operations than [`MAX_IMPLIED`].
    TooMany,
}

fn is_action(req: &AzureRequest, action: &str) -> bool {
    req.action.as_deref().is_some_and(|a| a.eq_ignore_ascii_case(action))
}

/// The hidden operations of `req` with JSON `body` (empty for most requests).
pub(crate) fn implied(req: &AzureRequest, body: Option<&Value>) -> Vec<Implied> {
    let Some(resource) = &req.resource else {
        return Vec::new();
    };
    if is_action(req, "Microsoft.Resources/deployments/write") {
        let scope = resource.scope.clone().unwrap_or_else(|| "/".to_owned());
        return deployment(&scope, body);
    }
    if is_action(req, "Microsoft.Network/networkSecurityGroups/write") {
        let rules = body.and_then(|b| b.pointer("/properties/securityRules")).and_then(Value::as_array);
        let mut out = Vec::new();
        for rule in rules.into_iter().flatten() {
            let name = segment(rule.get("name"));
            out.push(Implied::Write {
                path: format!("{}/securityRules/{name}", resource.id),
                body: rule.clone(),
            });
        }
        return out;
    }
    Vec::new()
}

fn deployment(scope: &str, body: Option<&Value>) -> Vec<Implied> {
    let Some(body) = body else {
        return vec![Implied::Uninspectable { what: "deployment whose body is not available" }];
    };
    let mut out = Vec::new();
    let complete = body
        .pointer("/properties/mode")
        .and_then(Value::as_str)
        .is_some_and(|m| m.eq_ignore_ascii_case("complete"));
    if complete {
        out.push(Implied::CompleteDelete { scope: scope.to_owned() });
    }
    match body.pointer("/properties/template") {
        Some(template @ Value::Object(_)) => {
            if let Some(resources) = template.get("resources") {
                walk(resources, scope, None, &mut out);
            }
        }
        _ => out.push(Implied::Uninspectable { what: "deployment of a linked or missing template" }),
    }
    if out.len() > MAX_IMPLIED {
        return vec![Implied::TooMany];
    }
    out
}

/// A template's `resources` is an array, or (language version 2.0) an object keyed by
/// symbolic name. Child `resources` have types and names relative to their parent.
fn walk(resources: &Value, scope: &str, parent: Option<(&str, &str)>, out: &mut Vec<Implied>) {
    let items: Vec<&Value> = match resources {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        _ => return,
    };
    for item in items {
        if out.len() > MAX_IMPLIED {
            return;
        }
        let Some(kind) = item.get("type").and_then(Value::as_str) else {
            continue;
        };
        if kind.starts_with('[') || kind.is_empty() {
            out.push(Implied::Uninspectable { what: "template resource whose type is an expression" });
            continue;
        }
        let name = item.get("name").and_then(Value::as_str).unwrap_or("");
        let (full_type, full_name) = match parent {
            Some((pt, pn)) if !kind.contains('/') => (format!("{pt}/{kind}"), format!("{pn}/{name}")),
            _ => (kind.to_owned(), name.to_owned()),
        };
        let mut type_parts = full_type.split('/');
        let namespace = type_parts.next().unwrap_or("");
        let mut names = full_name.split('/');
        let Some(own_scope) = resource_scope(item, scope) else {
            out.push(Implied::Uninspectable {
                what: "template resource whose target scope is an expression",
            });
            continue;
        };
        let mut path = format!("{}/providers/{namespace}", own_scope.trim_end_matches('/'));
        for t in type_parts {
            let n = names.next().filter(|n| !n.is_empty()).unwrap_or("(unnamed)");
            path.push('/');
            path.push_str(t);
            path.push('/');
            path.push_str(n);
        }
        out.push(Implied::Write { path, body: item.clone() });
        if let Some(children) = item.get("resources") {
            walk(children, scope, Some((&full_type, &full_name)), out);
        }
    }
}

/// Where a template resource lands: its literal `scope` (extension resources), the
/// `subscriptionId`/`resourceGroup` of a nested deployment, or the deployment's own scope.
/// `None` when one of those is an expression that cannot be evaluated here, so that a
/// nested deployment cannot slip past scope-limited rules by naming another group.
fn resource_scope(item: &Value, scope: &str) -> Option<String> {
    let literal = |key: &str| -> Option<Option<&str>> {
        match item.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if !s.is_empty() && !s.starts_with('[') => {
                let shape_ok = if key == "scope" {
                    !s.contains(['?', '#', '\\']) && !s.split('/').any(|p| p == "." || p == "..")
                } else {
                    !s.contains(['/', '?', '#', '\\'])
                };
                shape_ok.then_some(Some(s.as_str()))
            }
            Some(_) => None,
        }
    };
    if let Some(explicit) = literal("scope")? {
        // Absolute (`/subscriptions/…`) or relative to the deployment's group
        // (`Microsoft.Storage/storageAccounts/sa1`).
        return Some(if explicit.starts_with('/') {
            explicit.to_owned()
        } else {
            format!("{}/providers/{explicit}", scope.trim_end_matches('/'))
        });
    }
    let subscription = literal("subscriptionId")?;
    let group = literal("resourceGroup")?;
    let current_sub =
        scope.strip_prefix("/subscriptions/").map(|rest| rest.split('/').next().unwrap_or(rest));
    match (subscription, group) {
        (None, None) => Some(scope.to_owned()),
        (Some(sub), None) => Some(format!("/subscriptions/{sub}")),
        (sub, Some(rg)) => {
            let sub = sub.or(current_sub)?;
            Some(format!("/subscriptions/{sub}/resourceGroups/{rg}"))
        }
    }
}

fn segment(name: Option<&Value>) -> String {
    match name.and_then(Value::as_str) {
        Some(n) if !n.is_empty() && !n.contains('/') => n.to_owned(),
        _ => "(unnamed)".to_owned(),
    }
}
