//! Streaming redaction of secrets and personal data in response bodies.
