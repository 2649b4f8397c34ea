//! In-memory state of the fake ARM. Keys are lower-cased (ARM paths and names are
//! case-insensitive); values keep the casing they were created with.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use serde_json::{Map, Value};

/// A storage account to seed the fake ARM with.
#[derive(Debug, Clone)]
pub struct StorageAccount {
    /// Subscription id; `None` means the fake's first subscription.
    pub subscription: Option<String>,
    /// Resource group name.
    pub resource_group: String,
    /// Account name.
    pub name: String,
    /// Azure region.
    pub location: String,
    /// `key1` and `key2`, base64 of 64 bytes (88 characters).
    pub keys: [String; 2],
    /// Blob endpoint published in `primaryEndpoints.blob` (e.g. an Azurite URL).
    pub blob_endpoint: Option<String>,
}

impl StorageAccount {
    /// An account in `resource_group` with two fresh random keys.
    pub fn new(resource_group: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            subscription: None,
            resource_group: resource_group.into(),
            name: name.into(),
            location: "westeurope".into(),
            keys: [random_account_key(), random_account_key()],
            blob_endpoint: None,
        }
    }

    /// Uses these account keys (e.g. Azurite's well-known development key).
    pub fn keys(mut self, key1: impl Into<String>, key2: impl Into<String>) -> Self {
        self.keys = [key1.into(), key2.into()];
        self
    }

    /// Publishes `url` as the blob endpoint.
    pub fn blob_endpoint(mut self, url: impl Into<String>) -> Self {
        self.blob_endpoint = Some(url.into());
        self
    }

    /// Places the account in subscription `id`.
    pub fn subscription(mut self, id: impl Into<String>) -> Self {
        self.subscription = Some(id.into());
        self
    }

    /// Sets the region.
    pub fn location(mut self, location: impl Into<String>) -> Self {
        self.location = location.into();
        self
    }
}

/// 64 random bytes, base64: the 88-character shape of real storage account keys.
pub(crate) fn random_account_key() -> String {
    let mut bytes = [0u8; 64];
    for chunk in bytes.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    B64.encode(bytes)
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub(crate) id: String,
    pub(crate) display_name: String,
}

#[derive(Debug, Clone)]
pub(crate) struct ResourceGroup {
    pub(crate) subscription: String,
    pub(crate) name: String,
    pub(crate) location: String,
    pub(crate) tags: Map<String, Value>,
    pub(crate) managed_by: Option<String>,
    pub(crate) deleting: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct Deployment {
    pub(crate) id: String,
    pub(crate) name: String,
    /// Properties once the deployment has succeeded.
    pub(crate) properties: Value,
    /// False while its operation runs: GET shows `Running` and no outputs.
    pub(crate) done: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct RoleAssignment {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) properties: Value,
}

/// What completes when a long-running operation succeeds.
#[derive(Debug, Clone)]
pub(crate) enum OperationTarget {
    /// The resource group and everything in it are removed.
    DeleteResourceGroup { rg: String },
    /// The deployment (key `sub/rg/name`) reaches `Succeeded`.
    Deployment { key: String },
    /// The storage account (key `sub/rg/name`) finishes `Creating`.
    StorageAccount { key: String },
}

/// A long-running operation, completed after a configured number of status polls.
#[derive(Debug, Clone)]
pub(crate) struct Operation {
    pub(crate) subscription: String,
    pub(crate) target: OperationTarget,
    pub(crate) polls_left: u32,
    pub(crate) started: String,
    pub(crate) done: bool,
}

/// Everything the fake ARM holds.
#[derive(Debug, Default)]
pub(crate) struct ArmState {
    pub(crate) subscriptions: BTreeMap<String, Subscription>,
    /// Key: `sub/rg`.
    pub(crate) resource_groups: BTreeMap<String, ResourceGroup>,
    /// Key: `sub/rg/name`.
    pub(crate) storage_accounts: BTreeMap<String, StorageAccount>,
    /// Key: `sub/rg/name`.
    pub(crate) deployments: BTreeMap<String, Deployment>,
    /// Key: lower-cased full id.
    pub(crate) role_assignments: BTreeMap<String, RoleAssignment>,
    /// Key: operation id.
    pub(crate) operations: BTreeMap<String, Operation>,
    /// Storage accounts (keys as in `storage_accounts`) still being created.
    pub(crate) creating: BTreeSet<String>,
}

/// A map key from path parts, lower-cased.
pub(crate) fn key(parts: &[&str]) -> String {
    parts.iter().map(|p| p.to_ascii_lowercase()).collect::<Vec<_>>().join("/")
}

/// Current UTC time in ARM's format.
pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc().format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

impl ArmState {
    /// The subscription, if it exists.
    pub(crate) fn subscription(&self, id: &str) -> Option<&Subscription> {
        self.subscriptions.get(&key(&[id]))
    }

    /// The resource group, if it exists (also while being deleted).
    pub(crate) fn resource_group(&self, sub: &str, rg: &str) -> Option<&ResourceGroup> {
        self.resource_groups.get(&key(&[sub, rg]))
    }

    /// Removes a resource group and everything in it.
    pub(crate) fn remove_resource_group(&mut self, sub: &str, rg: &str) {
        let prefix = format!("{}/", key(&[sub, rg]));
        self.resource_groups.remove(&key(&[sub, rg]));
        self.storage_accounts.retain(|k, _| !k.starts_with(&prefix));
        self.deployments.retain(|k, _| !k.starts_with(&prefix));
        let scope = format!("/subscriptions/{}/resourcegroups/{}/", sub, rg).to_ascii_lowercase();
        self.role_assignments.retain(|k, _| !k.starts_with(&scope));
    }
}
