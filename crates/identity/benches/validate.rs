//! Validation cost: a cached token (the steady state of an agent session) and cold
//! signature checks per algorithm. Run: `cargo bench -p portcullis-identity --features testkit`.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use divan::{black_box, Bencher};
use portcullis_identity::testkit::{jwks, now, TestSigner};
use portcullis_identity::{Algorithm, Authenticator, IssuerConfig, Principal};
use serde_json::json;

const ISS: &str = "https://login.microsoftonline.com/11111111-2222-3333-4444-555555555555/v2.0";
const AUD: &str = "api://portcullis";

fn main() {
    divan::main();
}

/// With a local key set no validation step awaits anything, so one poll completes it;
/// a runtime is only the fallback.
fn run<F: Future<Output = T>, T>(fut: F) -> T {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(v) => v,
        Poll::Pending => tokio::runtime::Builder::new_current_thread()
            .build()
            .map(|rt| rt.block_on(fut))
            .unwrap_or_else(|e| panic!("runtime: {e}")),
    }
}

fn setup(signer: &TestSigner) -> (Authenticator, String) {
    let tid = "11111111-2222-3333-4444-555555555555";
    let mut config = IssuerConfig::single(ISS, vec![AUD.into()], Some(tid));
    config.algorithms = vec![Algorithm::Rs256, Algorithm::Es256, Algorithm::EdDsa];
    let auth = Authenticator::with_local_jwks(vec![config], None, jwks(&[signer]).to_string().as_bytes())
        .unwrap_or_else(|e| panic!("config: {e:?}"));
    let t = now();
    let token = signer.mint(&json!({
        "iss": ISS, "aud": AUD, "tid": tid, "ver": "2.0", "sub": "agent", "oid": "agent",
        "azp": "app", "idtyp": "app", "roles": ["Reader", "Writer"],
        "groups": ["a1b2c3d4-0000-0000-0000-000000000001", "a1b2c3d4-0000-0000-0000-000000000002"],
        "name": "Build agent", "iat": t, "nbf": t, "exp": t + 3600,
    }));
    (auth, token)
}

fn ok(result: Result<Principal, portcullis_identity::AuthError>) -> Principal {
    result.unwrap_or_else(|e| panic!("refused: {e}"))
}

#[divan::bench(sample_count = 1000)]
fn cached_rs256(bencher: Bencher) {
    let signer = TestSigner::rsa("k1");
    let (auth, token) = setup(&signer);
    ok(run(auth.authenticate(&token)));
    bencher.bench_local(|| ok(run(auth.authenticate(black_box(&token)))));
}

#[divan::bench(args = ["RS256", "ES256", "EdDSA"], sample_count = 1000)]
fn cold(bencher: Bencher, alg: &str) {
    let signer = match alg {
        "RS256" => TestSigner::rsa("k1"),
        "ES256" => TestSigner::ec("k1"),
        _ => TestSigner::ed25519("k1"),
    };
    let (auth, token) = setup(&signer);
    bencher.bench_local(|| ok(run(auth.authenticate_uncached(black_box(&token)))));
}

#[divan::bench(sample_count = 1000)]
fn parse_only(bencher: Bencher) {
    let signer = TestSigner::rsa("k1");
    let (_auth, token) = setup(&signer);
    bencher.bench_local(|| {
        portcullis_identity::parse_unverified(black_box(&token)).map(|t| t.key_id().is_some())
    });
}
