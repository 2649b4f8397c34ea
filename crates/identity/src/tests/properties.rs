//! Property: changing any one byte of a valid token makes it refused.

use std::sync::LazyLock;

use proptest::prelude::*;

use super::{claims, RSA};
use crate::testkit::jwks;
use crate::{Authenticator, IssuerConfig};

const ISS: &str = "https://issuer.example";

static AUTH: LazyLock<Authenticator> = LazyLock::new(|| {
    let config = IssuerConfig::single(ISS, vec![super::AUD.into()], None);
    Authenticator::with_local_jwks(vec![config], None, jwks(&[&RSA]).to_string().as_bytes()).expect("config")
});
static TOKEN: LazyLock<String> = LazyLock::new(|| RSA.mint(&claims(ISS)));

fn check(token: &str) -> Result<crate::Principal, crate::AuthError> {
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(AUTH.validate(token, crate::testkit::now()))
}

#[test]
fn the_unmodified_token_is_valid() {
    check(&TOKEN).expect("valid");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_one_byte_changed_is_refused(pos in 0usize..4096, replacement in any::<u8>()) {
        let mut bytes = TOKEN.clone().into_bytes();
        let pos = pos % bytes.len();
        prop_assume!(bytes[pos] != replacement);
        bytes[pos] = replacement;
        let token = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(check(&token).is_err(), "accepted with byte {} changed to {}", pos, replacement);
    }

    #[test]
    fn any_base64url_substitution_is_refused(pos in 0usize..4096, pick in 0usize..64) {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut bytes = TOKEN.clone().into_bytes();
        let pos = pos % bytes.len();
        prop_assume!(bytes[pos] != b'.' && bytes[pos] != ALPHABET[pick]);
        bytes[pos] = ALPHABET[pick];
        let token = String::from_utf8_lossy(&bytes).into_owned();
        prop_assert!(check(&token).is_err(), "accepted with byte {} changed", pos);
    }
}
