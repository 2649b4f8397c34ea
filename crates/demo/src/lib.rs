//! `portcullis demo`: the whole product story in one command, on loopback only.
//!
//! It starts the fake Entra ID and fake Azure Resource Manager (`sandbox`), a gateway
//! with SQLite in a temporary folder, then plays an agent and an approver, narrating each
//! step. The eighteen steps and their order are fixed ([`STEPS`]). A step whose feature
//! is not built yet is reported as pending — `ok: false` with `"pending": true` — never
//! faked; a pending step does not fail the run, a built step that fails does.
//!
//! This crate tells the story; it must not contain product logic. Everything it shows
//! runs through the same crates as `portcullis serve`.

mod echo;
mod report;
mod steps;
mod story;

pub use report::{Format, Reporter};
pub use steps::{StepOutcome, STEPS};
pub use story::{run, DemoOptions, DemoSummary};
