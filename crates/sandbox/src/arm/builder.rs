//! Builder for [`FakeArm`]: seed data, link base, paging and LRO pacing, RBAC.

use std::sync::{Arc, Mutex, RwLock};

use super::rbac::BuiltInRole;
use super::state::{self, ArmState, ResourceGroup, StorageAccount, Subscription};
use super::{deployments, http_handler, role_assignments, ArmShared, FakeArm};
use crate::entra::EntraShared;
use crate::error::{Result, SandboxError};
use crate::server::Bound;
use crate::tls::LoopbackTls;

/// Subscription the fake seeds when the builder names none.
const DEFAULT_SUBSCRIPTION: (&str, &str) = ("5f3c9a6e-2b1d-4e8f-9c7a-1d2e3f4a5b6c", "Portcullis Demo");

/// Builder for [`FakeArm`]; seeds default data when given none.
#[derive(Debug)]
pub struct FakeArmBuilder {
    idp: Arc<EntraShared>,
    subscriptions: Vec<(String, String)>,
    resource_groups: Vec<(Option<String>, String, String)>,
    storage_accounts: Vec<StorageAccount>,
    link_base: Option<String>,
    page_size: usize,
    polls_before_done: u32,
    retry_after_secs: u32,
    clock_skew_secs: u64,
    seed_defaults: bool,
    enforce_rbac: bool,
    role_assignments: Vec<(String, BuiltInRole, String)>,
    tls: bool,
}

impl FakeArmBuilder {
    /// Defaults: page size 100, one `InProgress` poll, `Retry-After: 1`, no clock skew,
    /// demo seed data, no RBAC.
    pub(super) fn new(idp: Arc<EntraShared>) -> Self {
        Self {
            idp,
            subscriptions: Vec::new(),
            resource_groups: Vec::new(),
            storage_accounts: Vec::new(),
            link_base: None,
            page_size: 100,
            polls_before_done: 1,
            retry_after_secs: 1,
            clock_skew_secs: 0,
            seed_defaults: true,
            enforce_rbac: false,
            role_assignments: Vec::new(),
            tls: false,
        }
    }

    /// Adds a subscription. The first one added is the default for other seeds.
    pub fn subscription(mut self, id: impl Into<String>, display_name: impl Into<String>) -> Self {
        self.subscriptions.push((id.into(), display_name.into()));
        self
    }

    /// Adds a resource group in the first subscription.
    pub fn resource_group(mut self, name: impl Into<String>, location: impl Into<String>) -> Self {
        self.resource_groups.push((None, name.into(), location.into()));
        self
    }

    /// Adds a resource group in subscription `sub`.
    pub fn resource_group_in(
        mut self,
        sub: impl Into<String>,
        name: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        self.resource_groups.push((Some(sub.into()), name.into(), location.into()));
        self
    }

    /// Adds a storage account (its resource group is created if missing).
    pub fn storage_account(mut self, account: StorageAccount) -> Self {
        self.storage_accounts.push(account);
        self
    }

    /// Starts empty of resource groups and storage accounts unless added explicitly
    /// (a subscription is still created when none is given).
    pub fn empty(mut self) -> Self {
        self.seed_defaults = false;
        self
    }

    /// Base URL for absolute links the fake writes (`nextLink`, `Location`,
    /// `Azure-AsyncOperation`). Default: its own URL.
    pub fn link_base(mut self, url: impl Into<String>) -> Self {
        self.link_base = Some(url.into());
        self
    }

    /// Items per page in list responses (default 100), so clients must follow `nextLink`.
    pub fn page_size(mut self, n: usize) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Status polls answered `InProgress` before an operation succeeds (default 1).
    pub fn polls_before_done(mut self, n: u32) -> Self {
        self.polls_before_done = n;
        self
    }

    /// `Retry-After` seconds on long-running operations (default 1).
    pub fn retry_after_secs(mut self, secs: u32) -> Self {
        self.retry_after_secs = secs;
        self
    }

    /// Clock skew tolerated on `exp`/`nbf` (default 0, so expired tokens fail at once).
    pub fn clock_skew_secs(mut self, secs: u64) -> Self {
        self.clock_skew_secs = secs;
        self
    }

    /// Serves HTTPS with a certificate for `127.0.0.1`/`localhost` from a CA generated at
    /// start ([`FakeArm::ca_pem`]), for clients that refuse plain HTTP (az, the Azure
    /// SDKs' bearer policy, the connector's upstream client).
    pub fn tls(mut self) -> Self {
        self.tls = true;
        self
    }

    /// Enforces Azure RBAC: callers need a role assignment covering each request, or get
    /// 403 `AuthorizationFailed`. Default: any valid token may do anything.
    pub fn enforce_rbac(mut self) -> Self {
        self.enforce_rbac = true;
        self
    }

    /// Seeds a role assignment of `role` at `scope` (e.g. `/subscriptions/{id}` or
    /// `/subscriptions/{id}/resourceGroups/{rg}`) for the principal object id.
    pub fn role_assignment(
        mut self,
        scope: impl Into<String>,
        role: BuiltInRole,
        principal_oid: impl Into<String>,
    ) -> Self {
        self.role_assignments.push((scope.into(), role, principal_oid.into()));
        self
    }

    /// Binds `127.0.0.1:0` and starts serving.
    pub async fn start(self) -> Result<FakeArm> {
        let bound = Bound::loopback().await?;
        let tls = match self.tls {
            true => Some(
                tokio::task::spawn_blocking(|| LoopbackTls::generate("fake-arm"))
                    .await
                    .map_err(|e| SandboxError::Certificate(e.to_string()))??,
            ),
            false => None,
        };
        let base_url = if tls.is_some() { bound.https_url() } else { bound.base_url() };
        let (state, default_subscription) = self.seed();
        let shared = Arc::new(ArmShared {
            idp: self.idp,
            link_base: RwLock::new(self.link_base.unwrap_or_else(|| base_url.clone())),
            base_url,
            state: Mutex::new(state),
            received: Mutex::new(Vec::new()),
            page_size: self.page_size,
            polls_before_done: self.polls_before_done,
            retry_after_secs: self.retry_after_secs,
            clock_skew_secs: self.clock_skew_secs,
            enforce_rbac: self.enforce_rbac,
            default_subscription,
        });
        let router = http_handler::router(shared.clone());
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let guard = match tls {
            Some(t) => bound.serve_tls(router, t.server_config),
            None => bound.serve(router),
        };
        Ok(FakeArm { shared, ca_pem, _server: guard })
    }

    /// The seeded state and the default (first named) subscription id.
    fn seed(&self) -> (ArmState, String) {
        let mut subs = self.subscriptions.clone();
        if subs.is_empty() {
            subs.push((DEFAULT_SUBSCRIPTION.0.into(), DEFAULT_SUBSCRIPTION.1.into()));
        }
        let first = subs[0].0.clone();
        let mut rgs = self.resource_groups.clone();
        let mut accounts = self.storage_accounts.clone();
        if self.seed_defaults && rgs.is_empty() && accounts.is_empty() {
            rgs.push((None, "rg-demo".into(), "westeurope".into()));
            rgs.push((None, "rg-prod".into(), "westeurope".into()));
            accounts.push(StorageAccount::new("rg-demo", "stportcullisdemo"));
            accounts.push(StorageAccount::new("rg-prod", "stportcullisprod"));
        }
        let mut state = ArmState::default();
        for (id, name) in subs {
            state.subscriptions.insert(state::key(&[&id]), Subscription { id, display_name: name });
        }
        let add_rg = |state: &mut ArmState, sub: &str, name: &str, location: &str| {
            state.resource_groups.entry(state::key(&[sub, name])).or_insert_with(|| ResourceGroup {
                subscription: sub.to_owned(),
                name: name.to_owned(),
                location: location.to_owned(),
                tags: serde_json::Map::new(),
                managed_by: None,
                deleting: false,
            });
        };
        for (sub, name, location) in rgs {
            add_rg(&mut state, sub.as_deref().unwrap_or(&first), &name, &location);
        }
        for mut account in accounts {
            let sub = account.subscription.get_or_insert_with(|| first.clone()).clone();
            add_rg(&mut state, &sub, &account.resource_group, &account.location);
            let k = state::key(&[&sub, &account.resource_group, &account.name]);
            state.storage_accounts.insert(k, account);
        }
        deployments::seed(&mut state);
        for (scope, role, principal) in &self.role_assignments {
            role_assignments::seed(&mut state, scope, *role, principal);
        }
        (state, first)
    }
}
