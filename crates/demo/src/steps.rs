//! The fixed list of demo steps.

use serde::Serialize;
use serde_json::Value;

/// A demo step: its stable name, what it shows, and — while it is not built — which
/// part of the product brings it.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    /// Stable name, as in `{"step": NAME}`.
    pub name: &'static str,
    /// One line for a person.
    pub title: &'static str,
    /// The feature that makes this step real.
    pub built_by: &'static str,
}

/// The eighteen steps, in order.
pub const STEPS: [Step; 18] = [
    Step { name: "idp", title: "Start a fake Entra ID and get an agent token from it", built_by: "sandbox" },
    Step {
        name: "arm",
        title: "Start a fake Azure Resource Manager that demands Entra tokens",
        built_by: "sandbox",
    },
    Step {
        name: "gateway",
        title: "Start the gateway and proxy a request through it",
        built_by: "foundation",
    },
    Step {
        name: "no-grant",
        title: "The agent calls Azure without a grant and is refused",
        built_by: "identity + access",
    },
    Step {
        name: "request-access",
        title: "The agent asks for 15 minutes of operate access",
        built_by: "access",
    },
    Step {
        name: "self-approve-refused",
        title: "The agent tries to approve its own request",
        built_by: "access",
    },
    Step {
        name: "approve-access",
        title: "A person approves; a short-lived grant is issued",
        built_by: "access",
    },
    Step {
        name: "list",
        title: "The agent lists resource groups through the gateway",
        built_by: "connector",
    },
    Step {
        name: "list-keys-masked",
        title: "The agent reads storage keys; the keys are masked",
        built_by: "masking",
    },
    Step {
        name: "delete-held",
        title: "Deleting a resource group waits for a person",
        built_by: "guardrails",
    },
    Step { name: "approve-review", title: "A person approves that exact deletion", built_by: "guardrails" },
    Step { name: "delete", title: "The agent retries; the deletion runs once", built_by: "guardrails" },
    Step {
        name: "delete-replay-refused",
        title: "Replaying the approved deletion is refused",
        built_by: "guardrails",
    },
    Step {
        name: "role-assignment-denied",
        title: "Writing a role assignment is denied",
        built_by: "guardrails",
    },
    Step {
        name: "credential-never-seen",
        title: "The connector's credential never reached the agent",
        built_by: "connector",
    },
    Step { name: "revoke", title: "The grant is revoked; the next call fails", built_by: "access" },
    Step { name: "replay", title: "The session is replayed from the audit log", built_by: "audit" },
    Step {
        name: "audit-verify",
        title: "The audit log verifies; a tampered copy does not",
        built_by: "audit",
    },
];

/// One step's result, as printed with `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct StepOutcome {
    /// The step's name.
    pub step: &'static str,
    /// Whether it ran and showed what it should.
    pub ok: bool,
    /// What happened (or `{"pending": true, …}`).
    pub detail: Value,
}

impl StepOutcome {
    /// A step that is not built yet.
    pub(crate) fn pending(step: &Step) -> Self {
        StepOutcome {
            step: step.name,
            ok: false,
            detail: serde_json::json!({
                "pending": true,
                "reason": format!("not built yet: arrives with the {} work", step.built_by),
            }),
        }
    }

    /// Whether this outcome is a pending placeholder rather than a failure.
    pub fn is_pending(&self) -> bool {
        self.detail.get("pending").and_then(Value::as_bool).unwrap_or(false)
    }
}
