//! Fake Azure Resource Manager: ARM's contract (bearer auth from the fake Entra ID,
//! `api-version`, case-insensitive paths, ARM error bodies, LRO and paging headers with
//! absolute URLs) over an in-memory model of subscriptions, resource groups, storage
//! accounts, deployments and role assignments, plus `/batch` and `/metadata/endpoints`.
//! Every request it receives is recorded.

mod auth;
mod batch;
mod builder;
mod deployments;
mod generic;
mod http_handler;
mod metadata;
mod operations;
mod paging;
mod rbac;
mod resource_groups;
mod response;
mod role_assignments;
mod routes;
mod state;
mod storage;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};

pub use auth::ARM_AUDIENCE;
pub use builder::FakeArmBuilder;
pub use http_handler::ReceivedRequest;
pub use rbac::BuiltInRole;
pub use state::StorageAccount;

use crate::entra::{EntraShared, FakeEntra};
use crate::server::ServerGuard;
use state::ArmState;

#[derive(Debug)]
pub(crate) struct ArmShared {
    pub(crate) idp: Arc<EntraShared>,
    pub(crate) base_url: String,
    pub(crate) link_base: RwLock<String>,
    pub(crate) state: Mutex<ArmState>,
    pub(crate) received: Mutex<Vec<ReceivedRequest>>,
    pub(crate) page_size: usize,
    pub(crate) polls_before_done: u32,
    pub(crate) retry_after_secs: u32,
    pub(crate) clock_skew_secs: u64,
    pub(crate) enforce_rbac: bool,
    pub(crate) default_subscription: String,
}

impl ArmShared {
    pub(crate) fn state(&self) -> MutexGuard<'_, ArmState> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Base URL written into absolute links (`nextLink`, `Location`, ...), no trailing slash.
    pub(crate) fn link_base(&self) -> String {
        self.link_base.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }
}

/// A running fake Azure Resource Manager. Stops serving when dropped.
#[derive(Debug)]
pub struct FakeArm {
    shared: Arc<ArmShared>,
    ca_pem: Option<String>,
    _server: ServerGuard,
}

impl FakeArm {
    /// A builder that trusts tokens from `idp`.
    pub fn builder(idp: &FakeEntra) -> FakeArmBuilder {
        FakeArmBuilder::new(idp.shared.clone())
    }

    /// The CA certificate (PEM) to trust when started with [`FakeArmBuilder::tls`].
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// `http://127.0.0.1:PORT`, or `https://…` with TLS (no trailing slash).
    pub fn url(&self) -> &str {
        &self.shared.base_url
    }

    /// Every request received so far, in order (`/batch` members included, flagged).
    pub fn received(&self) -> Vec<ReceivedRequest> {
        self.shared.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_received(&self) {
        self.shared.received.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Changes the base URL written into absolute links (e.g. to a gateway's address).
    pub fn set_link_base(&self, url: impl Into<String>) {
        *self.shared.link_base.write().unwrap_or_else(std::sync::PoisonError::into_inner) = url.into();
    }

    /// The default subscription: the first one the builder named, or the seeded demo one.
    pub fn subscription_id(&self) -> &str {
        &self.shared.default_subscription
    }

    /// Subscription ids, in order.
    pub fn subscription_ids(&self) -> Vec<String> {
        self.shared.state().subscriptions.values().map(|s| s.id.clone()).collect()
    }

    /// Names of the resource groups of `sub` (those being deleted included).
    pub fn resource_group_names(&self, sub: &str) -> Vec<String> {
        let sub = sub.to_ascii_lowercase();
        let state = self.shared.state();
        state
            .resource_groups
            .values()
            .filter(|rg| rg.subscription.to_ascii_lowercase() == sub)
            .map(|rg| rg.name.clone())
            .collect()
    }

    /// The keys of a storage account, if it exists.
    pub fn storage_keys(&self, sub: &str, rg: &str, name: &str) -> Option<[String; 2]> {
        self.shared.state().storage_accounts.get(&state::key(&[sub, rg, name])).map(|a| a.keys.clone())
    }
}
