//! Verified-token cache: the SHA-256 of a token that passed every check maps to its
//! principal until the token's `exp`, so steady-state requests skip the signature check.
//! Bounded: when full, expired entries go first, then everything.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use aws_lc_rs::digest::{digest, SHA256};

use crate::principal::Principal;

/// Default number of verified tokens remembered.
pub(crate) const DEFAULT_CAPACITY: usize = 16 * 1024;

pub(crate) type TokenHash = [u8; 32];

struct Entry {
    principal: Arc<Principal>,
    expires_at: i64,
}

pub(crate) struct VerifiedCache {
    map: RwLock<HashMap<TokenHash, Entry>>,
    capacity: usize,
}

pub(crate) fn hash(token: &str) -> TokenHash {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, token.as_bytes()).as_ref());
    out
}

impl VerifiedCache {
    pub(crate) fn new(capacity: usize) -> Self {
        VerifiedCache { map: RwLock::new(HashMap::new()), capacity }
    }

    /// The principal of a token verified before, if it has not expired since.
    pub(crate) fn get(&self, key: &TokenHash, now: i64) -> Option<Principal> {
        let map = self.map.read().ok()?;
        let entry = map.get(key)?;
        (entry.expires_at > now).then(|| (*entry.principal).clone())
    }

    pub(crate) fn insert(&self, key: TokenHash, principal: &Principal, now: i64) {
        if self.capacity == 0 {
            return;
        }
        let Ok(mut map) = self.map.write() else {
            return;
        };
        if map.len() >= self.capacity {
            map.retain(|_, e| e.expires_at > now);
            if map.len() >= self.capacity {
                map.clear();
            }
        }
        map.insert(key, Entry { principal: Arc::new(principal.clone()), expires_at: principal.expires_at });
    }

    pub(crate) fn len(&self) -> usize {
        self.map.read().map_or(0, |m| m.len())
    }
}
