//! Azure Resource Manager: classification of requests into resource ids and RBAC actions,
//! the operations hidden in batches and deployments, and which polling URLs may be followed.

mod arm_path;
pub(crate) mod batch;
mod classify;
pub(crate) mod implied;
mod names;
mod polling;

pub use classify::{classify, Access, AzureRequest, ResourceId};
pub use polling::{may_follow_polling_url, Upstream};

/// What the classifier needs to know about the connection.
#[derive(Debug, Clone)]
pub struct AzureContext {
    /// Origins (`scheme://host[:port]`, default port omitted) that absolute URLs inside a
    /// `$batch` may name: ARM itself. Any other origin refuses the batch entry. Default:
    /// `https://management.azure.com`; a sandbox adds its fake ARM's origin.
    pub arm_origins: Vec<String>,
}

impl Default for AzureContext {
    fn default() -> Self {
        AzureContext { arm_origins: vec!["https://management.azure.com".to_owned()] }
    }
}
