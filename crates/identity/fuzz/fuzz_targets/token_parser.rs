//! Arbitrary bytes as a bearer token: the parser and the whole validation path must
//! refuse them without panicking, and must never accept one.
//! Run: `cargo +nightly fuzz run token_parser` from `crates/identity`.

#![no_main]

use std::future::Future;
use std::pin::pin;
use std::sync::LazyLock;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use portcullis_identity::testkit::{jwks, TestSigner};
use portcullis_identity::{Algorithm, Authenticator, IssuerConfig};

static AUTH: LazyLock<Authenticator> = LazyLock::new(|| {
    let rsa = TestSigner::rsa("k1");
    let ec = TestSigner::ec("k2");
    let mut config = IssuerConfig::single("https://issuer.example", vec!["api://portcullis".into()], None);
    config.algorithms = vec![Algorithm::Rs256, Algorithm::Es256, Algorithm::Ps256, Algorithm::EdDsa];
    let doc = jwks(&[&rsa, &ec]).to_string();
    match Authenticator::with_local_jwks(vec![config], None, doc.as_bytes()) {
        Ok(auth) => auth,
        Err(e) => panic!("fuzz setup: {e:?}"),
    }
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = portcullis_identity::parse_unverified(text);
    // With a local key set nothing awaits, so one poll completes the validation.
    let mut fut = pin!(AUTH.authenticate_uncached(text));
    let mut cx = Context::from_waker(Waker::noop());
    if let Poll::Ready(result) = fut.as_mut().poll(&mut cx) {
        // No key of this set signed anything the fuzzer can produce.
        assert!(result.is_err(), "fuzzer input accepted: {text:?}");
    }
});
