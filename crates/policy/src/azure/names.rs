//! Canonical spellings of the names the classifier itself writes into action strings.
//! ARM is case-insensitive, so an agent may send `MICROSOFT.STORAGE`; the action we report
//! uses the spelling Azure documents, so decisions, audit records and rules read the same
//! whatever the request's casing. Names not listed keep the request's spelling (matching
//! is case-insensitive either way).

/// Well-known provider namespaces.
const NAMESPACES: &[&str] = &[
    "Microsoft.AAD",
    "Microsoft.ApiManagement",
    "Microsoft.App",
    "Microsoft.AppConfiguration",
    "Microsoft.Authorization",
    "Microsoft.Automation",
    "Microsoft.Batch",
    "Microsoft.Cache",
    "Microsoft.Cdn",
    "Microsoft.CognitiveServices",
    "Microsoft.Compute",
    "Microsoft.ContainerInstance",
    "Microsoft.ContainerRegistry",
    "Microsoft.ContainerService",
    "Microsoft.DBforMySQL",
    "Microsoft.DBforPostgreSQL",
    "Microsoft.DataFactory",
    "Microsoft.DocumentDB",
    "Microsoft.EventGrid",
    "Microsoft.EventHub",
    "Microsoft.Features",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.Logic",
    "Microsoft.Management",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
    "Microsoft.OperationalInsights",
    "Microsoft.PolicyInsights",
    "Microsoft.RecoveryServices",
    "Microsoft.Resources",
    "Microsoft.Search",
    "Microsoft.Security",
    "Microsoft.ServiceBus",
    "Microsoft.Sql",
    "Microsoft.Storage",
    "Microsoft.Subscription",
    "Microsoft.Web",
];

/// Types of the built-in `Microsoft.Resources` hierarchy that appear without a
/// `providers/` segment (`/subscriptions/{id}/resourceGroups/{name}`, …).
const BUILTIN_TYPES: &[&str] = &[
    "subscriptions",
    "resourceGroups",
    "resources",
    "providers",
    "locations",
    "tagNames",
    "tagValues",
    "tenants",
    "operationresults",
    "operations",
    "moveResources",
    "validateMoveResources",
    "exportTemplate",
];

fn canonical(table: &'static [&'static str], name: &str) -> Option<&'static str> {
    table.iter().copied().find(|c| c.eq_ignore_ascii_case(name))
}

/// The documented spelling of a provider namespace, or the name as sent.
pub(crate) fn namespace(name: &str) -> &str {
    canonical(NAMESPACES, name).unwrap_or(name)
}

/// The documented spelling of a built-in resource type, or the name as sent.
pub(crate) fn builtin_type(name: &str) -> &str {
    canonical(BUILTIN_TYPES, name).unwrap_or(name)
}
