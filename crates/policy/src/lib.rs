//! Guardrails: Azure request classification and the per-request rule engine.
