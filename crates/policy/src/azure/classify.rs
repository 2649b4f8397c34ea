//! From a canonical request to the ARM resource id and the RBAC action Azure would check.

use super::arm_path::{ArmPath, Pair};
use super::names;
use crate::facts::RequestFacts;

/// Whether a request only reads, changes something, or could not be classified. The
/// connection defaults (`read`, `write`, `unknown`) are chosen by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Access {
    /// GET/HEAD: the action ends in `/read` (includes LRO polling).
    Read,
    /// Anything that writes, deletes or runs an action.
    Write,
    /// The shape is not one the classifier knows.
    Unknown,
}

/// An ARM resource id split into the parts rules and summaries need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceId {
    /// The id as the request spelled it (without a trailing action segment).
    pub id: String,
    /// `/subscriptions/{id}`, when present.
    pub subscription: Option<String>,
    /// `/resourceGroups/{name}`, when present.
    pub resource_group: Option<String>,
    /// The provider namespace of the addressed resource (`Microsoft.Resources` for
    /// subscriptions and resource groups).
    pub namespace: String,
    /// The resource types from the namespace down, e.g. `["storageAccounts",
    /// "blobServices", "containers"]`.
    pub types: Vec<String>,
    /// The names of those types (one fewer when the last type is a collection).
    pub names: Vec<String>,
    /// For a resource under `providers/`, the scope it lives at (the path before its last
    /// `providers` segment): a resource group, a subscription, or another resource for
    /// extension resources such as role assignments.
    pub scope: Option<String>,
}

/// What the classifier learned about one ARM request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureRequest {
    /// The method, upper-cased.
    pub method: String,
    /// The RBAC action (`Microsoft.Storage/storageAccounts/listKeys/action`); `None` when
    /// the request is [`Access::Unknown`].
    pub action: Option<String>,
    /// Read, write or unknown.
    pub access: Access,
    /// The resource addressed, when the path is an ARM resource path.
    pub resource: Option<ResourceId>,
    /// The `api-version` query parameter.
    pub api_version: Option<String>,
    /// For actions (`POST …/listKeys`), the action's name.
    pub operation: Option<String>,
    /// A GET of a long-running-operation status (`operationResults`, `operationStatuses`,
    /// `operations`, `asyncOperations`).
    pub polling: bool,
}

const POLLING_TYPES: &[&str] = &[
    "operationresults",
    "operationstatuses",
    "operations",
    "asyncoperations",
    "operationsstatus",
    "deploymentoperations",
];

/// Classify one ARM request. Never fails: shapes it does not know are [`Access::Unknown`].
pub fn classify(req: &RequestFacts<'_>) -> AzureRequest {
    let method = req.method.to_ascii_uppercase();
    let api_version = req.query_value("api-version").map(str::to_owned);
    let unknown = |resource| AzureRequest {
        method: method.clone(),
        action: None,
        access: Access::Unknown,
        resource,
        api_version: api_version.clone(),
        operation: None,
        polling: false,
    };
    let Some(arm) = ArmPath::parse(req.path) else {
        return unknown(None);
    };
    let (namespace, from_chain) = match arm.blocks.last() {
        Some(block) => (names::namespace(block.namespace).to_owned(), false),
        None => ("Microsoft.Resources".to_owned(), true),
    };
    let pairs = arm.final_pairs();
    let last_named = pairs.last().is_some_and(|p| p.name.is_some());
    let verb = match (method.as_str(), last_named, pairs.is_empty()) {
        // `GET /subscriptions/{id}/providers/{namespace}`: one provider's registration.
        ("GET" | "HEAD", _, true) => Verb::ProviderRead,
        (_, _, true) => return unknown(None),
        ("GET" | "HEAD", _, false) => Verb::Read,
        // A singleton below a named resource (`connections/{name}/sharedkey`) has no name.
        ("PUT" | "PATCH", named, false) if named || pairs.len() > 1 => Verb::Write,
        ("DELETE", named, false) if named || pairs.len() > 1 => Verb::Delete,
        ("POST", false, false) => Verb::Action,
        _ => Verb::Unknown,
    };
    let type_name = |p: &Pair<'_>| -> String {
        if from_chain {
            names::builtin_type(p.kind).to_owned()
        } else {
            p.kind.to_owned()
        }
    };
    let mut types: Vec<String> = pairs.iter().map(type_name).collect();
    let names: Vec<String> = pairs.iter().filter_map(|p| p.name.map(str::to_owned)).collect();
    let polling = matches!(verb, Verb::Read)
        && pairs.iter().any(|p| POLLING_TYPES.iter().any(|t| p.kind.eq_ignore_ascii_case(t)));
    let mut operation = None;
    let id_end = match verb {
        Verb::Action => {
            operation = types.last().cloned();
            arm.segments.len() - 1
        }
        _ => arm.segments.len(),
    };
    let scope = arm.blocks.last().map(|b| arm.prefix(b.start));
    let resource = ResourceId {
        id: arm.prefix(id_end),
        subscription: arm.subscription().map(str::to_owned),
        resource_group: arm.resource_group().map(str::to_owned),
        namespace: namespace.clone(),
        types: types.clone(),
        names,
        scope,
    };
    let (suffix, access) = match verb {
        Verb::Read => ("read", Access::Read),
        Verb::Write => ("write", Access::Write),
        Verb::Delete => ("delete", Access::Write),
        Verb::Action => ("action", Access::Write),
        Verb::ProviderRead => {
            types = vec!["subscriptions".into(), "providers".into()];
            ("read", Access::Read)
        }
        Verb::Unknown => return unknown(Some(resource)),
    };
    let namespace =
        if matches!(verb, Verb::ProviderRead) { "Microsoft.Resources" } else { namespace.as_str() };
    let mut action = String::with_capacity(64);
    action.push_str(namespace);
    for t in &types {
        action.push('/');
        action.push_str(t);
    }
    action.push('/');
    action.push_str(suffix);
    AzureRequest {
        method,
        action: Some(action),
        access,
        resource: Some(resource),
        api_version,
        operation,
        polling,
    }
}

#[derive(Debug, Clone, Copy)]
enum Verb {
    Read,
    Write,
    Delete,
    Action,
    ProviderRead,
    Unknown,
}
