//! Canonical form of an HTTP request: one parse of the target, ambiguity refused.
