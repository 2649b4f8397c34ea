//! The gateway's own grant tokens: Ed25519 (EdDSA) JWTs, minutes long, signed with a key
//! kept in `data_dir`. Rotation keeps retired public keys until every token they signed
//! has expired.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::claims::now;
use crate::error::KeyStoreError;
use crate::jwk::{Jwk, KeySet};

/// Longest lifetime of a grant token.
pub const MAX_GRANT_TOKEN_TTL_SECS: i64 = 10 * 60;
/// Header `typ` of grant tokens; only grant tokens carry it.
pub(crate) const GRANT_TYP: &str = "portcullis-grant+jwt";
/// File name of the key ring inside `data_dir`.
pub const GRANT_KEY_FILE: &str = "grant-keys.json";
/// Retired keys verify for this long after retirement (longest token plus slack).
const RETIRED_KEEP_SECS: i64 = MAX_GRANT_TOKEN_TTL_SECS + 120;

/// What a grant token says: which principal holds which grant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantClaims {
    /// The holder, as [`crate::Principal::key`].
    pub principal: String,
    /// The grant id.
    pub grant_id: String,
    /// The connection the grant is for.
    pub connection: String,
    /// The access level granted.
    pub level: String,
    /// Expiry, seconds since the Unix epoch; at most [`MAX_GRANT_TOKEN_TTL_SECS`] ahead.
    pub expires_at: i64,
}

/// The claims a managed-identity token adds to a grant token (Azure clients decode them:
/// `az` reads `tid`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedIdentityClaims {
    /// The resource the agent asked a token for (`aud`), e.g. `https://management.azure.com/`.
    pub resource: String,
    /// The tenant id (`tid`).
    pub tenant: String,
    /// The object id (`oid`) of the identity.
    pub object_id: String,
}

/// Names the resource a managed-identity token was issued for: its `aud` is then that
/// resource instead of the gateway, and validation accepts exactly that one extra audience.
pub(crate) const MI_RESOURCE_CLAIM: &str = "portcullis_resource";

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFile {
    gateway_id: String,
    keys: Vec<StoredKey>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredKey {
    kid: String,
    created: i64,
    /// Raw Ed25519 public key, base64.
    public: String,
    /// PKCS#8 private key, base64; only for the active key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    private: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    retired_at: Option<i64>,
}

struct Ring {
    active_kid: String,
    signer: Ed25519KeyPair,
    stored: Vec<StoredKey>,
    verify: Arc<KeySet>,
}

/// The gateway's grant-token keys, persisted in `data_dir` with mode 0600.
pub struct GrantKeys {
    path: PathBuf,
    gateway_id: String,
    issuer: String,
    ring: RwLock<Ring>,
}

impl std::fmt::Debug for GrantKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrantKeys")
            .field("path", &self.path)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

fn invalid(path: &Path, reason: impl Into<String>) -> KeyStoreError {
    KeyStoreError::Invalid { path: path.to_path_buf(), reason: reason.into() }
}

fn random_hex(bytes: usize) -> Result<String, KeyStoreError> {
    let mut buf = vec![0u8; bytes];
    aws_lc_rs::rand::fill(&mut buf).map_err(|_| KeyStoreError::Crypto("random"))?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

fn new_key() -> Result<StoredKey, KeyStoreError> {
    let pair = Ed25519KeyPair::generate().map_err(|_| KeyStoreError::Crypto("generate"))?;
    let pkcs8 = pair.to_pkcs8().map_err(|_| KeyStoreError::Crypto("pkcs8"))?;
    Ok(StoredKey {
        kid: random_hex(8)?,
        created: now(),
        public: STANDARD.encode(pair.public_key().as_ref()),
        private: Some(STANDARD.encode(pkcs8.as_ref())),
        retired_at: None,
    })
}

impl GrantKeys {
    /// Loads the key ring from `dir`, or creates it (and `dir`) on first start. The file
    /// must not be readable by group or others. The issuer is `portcullis:{gateway-id}`,
    /// with an id generated once and kept in the file; see [`GrantKeys::with_issuer`].
    pub fn load_or_create(dir: &Path) -> Result<GrantKeys, KeyStoreError> {
        let path = dir.join(GRANT_KEY_FILE);
        let io = |source| KeyStoreError::Io { path: path.clone(), source };
        let file = match std::fs::read(&path) {
            Ok(bytes) => {
                check_permissions(&path)?;
                serde_json::from_slice::<KeyFile>(&bytes)
                    .map_err(|e| invalid(&path, format!("not a grant key file: {e}")))?
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(dir).map_err(io)?;
                let file = KeyFile { gateway_id: random_hex(8)?, keys: vec![new_key()?] };
                write_private(&path, &file)?;
                file
            }
            Err(e) => return Err(io(e)),
        };
        let issuer = format!("portcullis:{}", file.gateway_id);
        let ring = build_ring(&path, file.keys.clone())?;
        Ok(GrantKeys { path, gateway_id: file.gateway_id, issuer, ring: RwLock::new(ring) })
    }

    /// Uses a configured issuer string instead of `portcullis:{gateway-id}`.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = issuer.into();
        self
    }

    /// The issuer (`iss`) of grant tokens, also their audience.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn sign(&self, claims: &GrantClaims, extra: serde_json::Value) -> Result<String, KeyStoreError> {
        let iat = now();
        let ttl = claims.expires_at - iat;
        if ttl <= 0 || ttl > MAX_GRANT_TOKEN_TTL_SECS {
            return Err(KeyStoreError::BadClaims(format!(
                "expires_at must be within {MAX_GRANT_TOKEN_TTL_SECS} s from now, is {ttl} s"
            )));
        }
        if !claims.principal.contains('#') || claims.grant_id.is_empty() {
            return Err(KeyStoreError::BadClaims(
                "principal must be a principal key (issuer#subject) and grant_id non-empty".into(),
            ));
        }
        let ring = self.ring.read().map_err(|_| KeyStoreError::Crypto("lock"))?;
        let header = serde_json::json!({"alg": "EdDSA", "kid": ring.active_kid, "typ": GRANT_TYP});
        let mut payload = serde_json::json!({
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": claims.principal,
            "iat": iat,
            "exp": claims.expires_at,
            "jti": claims.grant_id,
            "grant": claims,
        });
        if let (Some(p), serde_json::Value::Object(extra)) = (payload.as_object_mut(), extra) {
            p.extend(extra);
        }
        let mut token = URL_SAFE_NO_PAD.encode(header.to_string());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(payload.to_string()));
        let sig = ring.signer.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(sig.as_ref()));
        Ok(token)
    }

    /// Signs a grant token shaped as a managed-identity access token (the gateway's
    /// managed-identity endpoint answers it): the same grant, the same key and checks, plus
    /// the claims Azure clients read (`tid`, `oid`) and `aud` = the requested resource.
    /// The data path accepts it exactly like [`GrantKeys::issue`]'s tokens.
    pub fn issue_managed_identity(
        &self,
        claims: &GrantClaims,
        identity: &ManagedIdentityClaims,
    ) -> Result<String, KeyStoreError> {
        if identity.resource.is_empty() || identity.resource == self.issuer {
            return Err(KeyStoreError::BadClaims("resource must be a non-empty resource URI".into()));
        }
        let extra = serde_json::json!({
            "aud": identity.resource,
            (MI_RESOURCE_CLAIM): identity.resource,
            "tid": identity.tenant,
            "oid": identity.object_id,
            "idtyp": "app",
        });
        self.sign(claims, extra)
    }

    /// Signs a grant token for `claims`.
    pub fn issue(&self, claims: &GrantClaims) -> Result<String, KeyStoreError> {
        self.sign(claims, serde_json::json!({}))
    }

    /// Makes a new active key. The old one stops signing at once and keeps verifying
    /// until every token it signed has expired.
    pub fn rotate(&self) -> Result<(), KeyStoreError> {
        let mut ring = self.ring.write().map_err(|_| KeyStoreError::Crypto("lock"))?;
        let t = now();
        let mut keys: Vec<StoredKey> = ring
            .stored
            .iter()
            .filter(|k| k.retired_at.is_none_or(|r| t - r < RETIRED_KEEP_SECS))
            .cloned()
            .map(|mut k| {
                k.private = None;
                k.retired_at.get_or_insert(t);
                k
            })
            .collect();
        keys.insert(0, new_key()?);
        let file = KeyFile { gateway_id: self.gateway_id.clone(), keys: keys.clone() };
        write_private(&self.path, &file)?;
        *ring = build_ring(&self.path, keys)?;
        Ok(())
    }

    /// The key ids that verify grant tokens now (active first).
    pub fn key_ids(&self) -> Vec<String> {
        self.ring
            .read()
            .map(|r| r.verify.keys.iter().filter_map(|k| k.kid.clone()).collect())
            .unwrap_or_default()
    }

    /// The verification keys (active and still-valid retired ones).
    pub(crate) fn verify_keys(&self) -> Arc<KeySet> {
        match self.ring.read() {
            Ok(r) => r.verify.clone(),
            Err(_) => Arc::new(KeySet::default()),
        }
    }
}

fn build_ring(path: &Path, keys: Vec<StoredKey>) -> Result<Ring, KeyStoreError> {
    let t = now();
    let active = keys
        .iter()
        .find(|k| k.retired_at.is_none() && k.private.is_some())
        .ok_or_else(|| invalid(path, "no active key"))?;
    let pkcs8 = STANDARD
        .decode(active.private.as_deref().unwrap_or_default())
        .map_err(|_| invalid(path, "active key is not base64"))?;
    let signer = Ed25519KeyPair::from_pkcs8(&pkcs8)
        .map_err(|_| invalid(path, "active key is not an Ed25519 PKCS#8 key"))?;
    let active_kid = active.kid.clone();
    let mut verify = KeySet::default();
    for key in keys.iter().filter(|k| k.retired_at.is_none_or(|r| t - r < RETIRED_KEEP_SECS)) {
        let public = STANDARD
            .decode(&key.public)
            .map_err(|_| invalid(path, format!("key {} is not base64", key.kid)))?;
        let jwk = Jwk::ed25519(&key.kid, &public)
            .ok_or_else(|| invalid(path, format!("key {} is not an Ed25519 key", key.kid)))?;
        verify.keys.push(jwk);
    }
    Ok(Ring { active_kid, signer, stored: keys, verify: Arc::new(verify) })
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), KeyStoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let meta =
        std::fs::metadata(path).map_err(|source| KeyStoreError::Io { path: path.to_path_buf(), source })?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(invalid(
            path,
            "readable by group or others; run chmod 600 on it (it holds the grant signing key)",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), KeyStoreError> {
    Ok(())
}

/// Writes the file atomically (temporary file with mode 0600, then rename).
fn write_private(path: &Path, file: &KeyFile) -> Result<(), KeyStoreError> {
    use std::io::Write as _;
    let io = |source| KeyStoreError::Io { path: path.to_path_buf(), source };
    let bytes = serde_json::to_vec_pretty(file).map_err(|e| invalid(path, e.to_string()))?;
    let tmp = path.with_extension(format!("tmp-{}", random_hex(4)?));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut out = options.open(&tmp).map_err(io)?;
    out.write_all(&bytes).map_err(io)?;
    out.sync_all().map_err(io)?;
    drop(out);
    std::fs::rename(&tmp, path).map_err(io)
}
