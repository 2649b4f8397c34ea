//! Tests of every validation rule, with tokens minted here and keys served by a tiny local
//! provider (discovery + JWKS on 127.0.0.1:0) that counts its fetches.

mod config;
mod entra;
mod grants;
mod header;
mod keys;
mod properties;
mod rules;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::testkit::{jwks, now, TestSigner};
use crate::{Authenticator, IssuerConfig};

/// One RSA key shared by the tests that need nothing special (generation is slow).
pub(crate) static RSA: LazyLock<TestSigner> = LazyLock::new(|| TestSigner::rsa("rsa-1"));

pub(crate) const AUD: &str = "api://portcullis";

#[derive(Default)]
struct ProviderState {
    url: Mutex<String>,
    /// When set, discovery advertises this `jwks_uri` instead of our own `/keys`.
    jwks_uri: Mutex<Option<String>>,
    issuer: Mutex<String>,
    jwks: Mutex<Value>,
    jwks_hits: AtomicUsize,
    discovery_hits: AtomicUsize,
    delay_ms: AtomicUsize,
}

/// A fake OIDC provider: discovery at `/.well-known/openid-configuration`, keys at `/keys`.
pub(crate) struct Provider {
    pub(crate) url: String,
    state: Arc<ProviderState>,
}

async fn discovery(State(s): State<Arc<ProviderState>>) -> Json<Value> {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    let issuer = s.issuer.lock().map(|i| i.clone()).unwrap_or_default();
    let url = s.url.lock().map(|u| u.clone()).unwrap_or_default();
    let advertised = s.jwks_uri.lock().ok().and_then(|u| u.clone());
    Json(json!({"issuer": issuer, "jwks_uri": advertised.unwrap_or(format!("{url}/keys"))}))
}

async fn keys(State(s): State<Arc<ProviderState>>) -> Json<Value> {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    let delay = s.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    Json(s.jwks.lock().map(|j| j.clone()).unwrap_or_default())
}

impl Provider {
    /// Starts on 127.0.0.1:0. Its discovery names `issuer` (default: its own URL).
    pub(crate) async fn start(issuer: Option<&str>, keys_doc: Value) -> Provider {
        let state = Arc::new(ProviderState::default());
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/keys", get(keys))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        *state.issuer.lock().expect("lock") = issuer.unwrap_or(&url).to_string();
        *state.url.lock().expect("lock") = url.clone();
        let provider = Provider { url, state };
        provider.set_jwks(keys_doc);
        provider
    }

    pub(crate) fn set_jwks(&self, doc: Value) {
        *self.state.jwks.lock().expect("lock") = doc;
    }

    pub(crate) fn advertise_jwks_uri(&self, uri: &str) {
        *self.state.jwks_uri.lock().expect("lock") = Some(uri.to_string());
    }

    pub(crate) fn jwks_hits(&self) -> usize {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }

    pub(crate) fn discovery_hits(&self) -> usize {
        self.state.discovery_hits.load(Ordering::SeqCst)
    }

    pub(crate) fn set_delay(&self, ms: usize) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    /// An issuer config for `issuer` whose keys come from this provider (by discovery).
    pub(crate) fn config(&self, issuer: &str) -> IssuerConfig {
        let mut c = IssuerConfig::single(issuer, vec![AUD.to_string()], None);
        c.discovery_url = Some(format!("{}/.well-known/openid-configuration", self.url));
        c.jwks_min_refetch_interval = Duration::from_secs(3600);
        c
    }
}

/// A provider serving the shared RSA key, and an authenticator trusting it (issuer = the
/// provider's URL, keys by discovery).
pub(crate) async fn generic() -> (Provider, Authenticator) {
    let provider = Provider::start(None, jwks(&[&RSA])).await;
    let config = provider.config(&provider.url.clone());
    let auth = Authenticator::new(vec![config], None).expect("config");
    (provider, auth)
}

/// Valid access-token claims for `iss`.
pub(crate) fn claims(iss: &str) -> Value {
    let t = now();
    json!({"iss": iss, "aud": AUD, "sub": "agent-1", "azp": "agent-1",
           "iat": t - 10, "nbf": t - 10, "exp": t + 600})
}

/// `claims(iss)` with some members replaced (`null` removes a member).
pub(crate) fn with(iss: &str, changes: Value) -> Value {
    let mut c = claims(iss);
    if let (Some(obj), Some(ch)) = (c.as_object_mut(), changes.as_object()) {
        for (k, v) in ch {
            if v.is_null() {
                obj.remove(k);
            } else {
                obj.insert(k.clone(), v.clone());
            }
        }
    }
    c
}
