//! What was masked, by label: the audit record of a response carries this, never values.

use std::collections::BTreeMap;

/// Counts of masked values by detector or field-rule label.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct MaskReport {
    /// Label (e.g. `azure_storage_key`, `email`) → number of values masked.
    pub counts: BTreeMap<String, u64>,
}

impl MaskReport {
    /// Total number of masked values.
    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Count for one label (0 if none).
    pub fn count(&self, label: &str) -> u64 {
        self.counts.get(label).copied().unwrap_or(0)
    }
}
