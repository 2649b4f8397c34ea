//! Optional Azure RBAC enforcement: with [`super::FakeArmBuilder::enforce_rbac`], a caller
//! needs a role assignment (seeded or created through the API) at the request's scope or
//! above, for a built-in role whose permissions cover the request's action; otherwise
//! ARM's 403 `AuthorizationFailed`. Lets tests prove which credential a request used.

use http::{Method, StatusCode};
use serde_json::Value;

use super::auth::Caller;
use super::response::ArmResponse;
use super::ArmShared;

/// Azure built-in roles the fake understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltInRole {
    /// Everything.
    Owner,
    /// Everything except writing or deleting role assignments.
    Contributor,
    /// Reads only (`*/read`; not `listKeys`).
    Reader,
}

impl BuiltInRole {
    /// The role definition's GUID, as in every Azure tenant.
    pub fn guid(self) -> &'static str {
        match self {
            Self::Owner => "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
            Self::Contributor => "b24988ac-6180-42a0-ab88-20f7382dd24c",
            Self::Reader => "acdd72a7-3385-48ef-bd42-f606fba81ae7",
        }
    }

    fn from_definition_id(id: &str) -> Option<Self> {
        let guid = id.rsplit('/').next()?;
        [Self::Owner, Self::Contributor, Self::Reader]
            .into_iter()
            .find(|r| r.guid().eq_ignore_ascii_case(guid))
    }

    fn permits(self, action: &str) -> bool {
        let a = action.to_ascii_lowercase();
        match self {
            Self::Owner => true,
            Self::Contributor => {
                !(a.starts_with("microsoft.authorization/")
                    && (a.ends_with("/write") || a.ends_with("/delete")))
            }
            Self::Reader => a.ends_with("/read"),
        }
    }
}

/// The Azure RBAC action of a request, e.g. `Microsoft.Storage/storageAccounts/listKeys/action`.
pub(crate) fn action(method: &Method, path: &str) -> String {
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let low: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let verb = match *method {
        Method::GET | Method::HEAD => "read",
        Method::PUT | Method::PATCH => "write",
        Method::DELETE => "delete",
        _ => "action",
    };
    let resource_type = match low.iter().rposition(|s| s == "providers") {
        Some(i) if low.len() > i + 2 => {
            // Namespace, then every type segment (odd offsets after the namespace).
            let mut t = vec![segs[i + 1].to_owned()];
            t.extend(segs[i + 2..].iter().step_by(2).map(|s| (*s).to_owned()));
            if verb == "action" && (segs.len() - (i + 2)) % 2 == 0 {
                // `…/{type}/{name}/{action}`: the last segment is the action name.
                let name = t.pop().unwrap_or_default();
                return format!("{}/{name}/action", t.join("/"));
            }
            t.join("/")
        }
        _ if low.get(2).map(String::as_str) == Some("resourcegroups") && low.len() == 5 => {
            "Microsoft.Resources/subscriptions/resourceGroups/resources".into()
        }
        _ if low.get(2).map(String::as_str) == Some("resourcegroups") => {
            "Microsoft.Resources/subscriptions/resourceGroups".into()
        }
        _ if low.get(2).map(String::as_str) == Some("resources") => {
            "Microsoft.Resources/subscriptions/resources".into()
        }
        _ => "Microsoft.Resources/subscriptions".into(),
    };
    format!("{resource_type}/{verb}")
}

/// Whether `scope` is `path` or one of its ancestors (segment boundary, case-insensitive).
pub(crate) fn covers(scope: &str, path: &str) -> bool {
    let (scope, path) = (scope.trim_end_matches('/').to_ascii_lowercase(), path.to_ascii_lowercase());
    path == scope || path.starts_with(&format!("{scope}/"))
}

/// `Ok` when the caller may perform the request; ARM's 403 otherwise.
pub(crate) fn authorize(
    shared: &ArmShared,
    method: &Method,
    path: &str,
    caller: &Caller,
) -> Result<(), ArmResponse> {
    let low = path.trim_end_matches('/').to_ascii_lowercase();
    let always = low == "/subscriptions"
        || low == "/tenants"
        || low == "/batch"
        || low.contains("/operationstatuses/")
        || low.contains("/operationresults/");
    if always {
        return Ok(());
    }
    let action = action(method, path);
    let allowed = caller.object_id.as_deref().is_some_and(|oid| {
        shared.state().role_assignments.values().any(|ra| {
            let p = &ra.properties;
            let field = |f: &str| p.get(f).and_then(Value::as_str).unwrap_or_default();
            field("principalId").eq_ignore_ascii_case(oid)
                && covers(field("scope"), path)
                && BuiltInRole::from_definition_id(field("roleDefinitionId"))
                    .is_some_and(|r| r.permits(&action))
        })
    });
    if allowed {
        return Ok(());
    }
    let who = caller.object_id.clone().unwrap_or_else(|| "unknown".into());
    Err(ArmResponse::error(
        StatusCode::FORBIDDEN,
        "AuthorizationFailed",
        format!("The client '{who}' with object id '{who}' does not have authorization to perform action '{action}' over scope '{path}' or the scope is invalid. If access was recently granted, please refresh your credentials."),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_follow_azure_naming() {
        let sa = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st";
        assert_eq!(
            action(&Method::POST, &format!("{sa}/listKeys")),
            "Microsoft.Storage/storageAccounts/listKeys/action"
        );
        assert_eq!(action(&Method::GET, sa), "Microsoft.Storage/storageAccounts/read");
        assert_eq!(
            action(&Method::DELETE, "/subscriptions/s/resourceGroups/rg"),
            "Microsoft.Resources/subscriptions/resourceGroups/delete"
        );
        assert_eq!(
            action(&Method::GET, "/subscriptions/s/resourcegroups"),
            "Microsoft.Resources/subscriptions/resourceGroups/read"
        );
        let ra = "/subscriptions/s/providers/Microsoft.Authorization/roleAssignments/g";
        assert_eq!(action(&Method::PUT, ra), "Microsoft.Authorization/roleAssignments/write");
        assert_eq!(action(&Method::GET, "/subscriptions/s"), "Microsoft.Resources/subscriptions/read");
    }

    #[test]
    fn roles_and_scopes() {
        assert!(BuiltInRole::Reader.permits("Microsoft.Storage/storageAccounts/read"));
        assert!(!BuiltInRole::Reader.permits("Microsoft.Storage/storageAccounts/listKeys/action"));
        assert!(!BuiltInRole::Contributor.permits("Microsoft.Authorization/roleAssignments/write"));
        assert!(BuiltInRole::Contributor.permits("Microsoft.Storage/storageAccounts/listKeys/action"));
        assert!(covers(
            "/subscriptions/S/resourceGroups/rg",
            "/subscriptions/s/resourcegroups/RG/providers/x"
        ));
        assert!(!covers("/subscriptions/s/resourceGroups/rg", "/subscriptions/s/resourceGroups/rg2"));
    }
}
