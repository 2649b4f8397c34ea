//! The review binding: what exactly a person approved. A review is stored with this digest
//! and an approval is honoured only for a request with the same digest, so the approval of
//! "delete resource group a" cannot be spent on "delete resource group b", on another
//! api-version, or on the same URL with another body.

use aws_lc_rs::digest::{digest, Context, SHA256};

/// A stable digest of (method, canonical target, api-version, body hash).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReviewBinding(String);

/// Domain separation: a binding digest can never equal any other SHA-256 we compute.
const DOMAIN: &[u8] = b"portcullis/review-binding/v1";

impl ReviewBinding {
    /// Bind to one request. `method` is compared ignoring case (it is upper-cased);
    /// `canonical_target` is the canonicalizer's path and query, byte for byte;
    /// `api_version` is `None` for requests without one; `body_sha256` is the SHA-256 of the
    /// exact body bytes forwarded (`None` for no body, which differs from an empty body).
    pub fn of(
        method: &str,
        canonical_target: &str,
        api_version: Option<&str>,
        body_sha256: Option<&[u8; 32]>,
    ) -> ReviewBinding {
        let mut ctx = Context::new(&SHA256);
        ctx.update(DOMAIN);
        field(&mut ctx, method.to_ascii_uppercase().as_bytes());
        field(&mut ctx, canonical_target.as_bytes());
        optional(&mut ctx, api_version.map(str::as_bytes));
        optional(&mut ctx, body_sha256.map(|h| h.as_slice()));
        ReviewBinding(format!("rb1:{}", hex::encode(ctx.finish().as_ref())))
    }

    /// SHA-256 of a body, for [`ReviewBinding::of`].
    pub fn body_sha256(body: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest(&SHA256, body).as_ref());
        out
    }

    /// The digest as stored with a review: `rb1:` and 64 hex digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ReviewBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Length-prefixed, so that no two different field lists hash the same bytes.
fn field(ctx: &mut Context, bytes: &[u8]) {
    ctx.update(&(bytes.len() as u64).to_be_bytes());
    ctx.update(bytes);
}

fn optional(ctx: &mut Context, bytes: Option<&[u8]>) {
    match bytes {
        None => ctx.update(&[0]),
        Some(b) => {
            ctx.update(&[1]);
            field(ctx, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_of_the_request_changes_the_binding() {
        let body = ReviewBinding::body_sha256(b"{}");
        let base = ReviewBinding::of("DELETE", "/subscriptions/s/resourcegroups/a", Some("2021-04-01"), None);
        assert_eq!(
            base,
            ReviewBinding::of("delete", "/subscriptions/s/resourcegroups/a", Some("2021-04-01"), None)
        );
        assert!(base.as_str().starts_with("rb1:") && base.as_str().len() == 68);
        let others = [
            ReviewBinding::of("GET", "/subscriptions/s/resourcegroups/a", Some("2021-04-01"), None),
            ReviewBinding::of("DELETE", "/subscriptions/s/resourcegroups/b", Some("2021-04-01"), None),
            ReviewBinding::of("DELETE", "/subscriptions/s/resourcegroups/a", Some("2022-09-01"), None),
            ReviewBinding::of("DELETE", "/subscriptions/s/resourcegroups/a", None, None),
            ReviewBinding::of("DELETE", "/subscriptions/s/resourcegroups/a", Some("2021-04-01"), Some(&body)),
        ];
        for other in &others {
            assert_ne!(&base, other);
        }
    }
}
