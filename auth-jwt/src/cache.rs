//! The verified-token cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use auth_core::UserProfile;
use serde_json::{Map, Value};

use crate::key::KeyIdentity;

/// The profile built from a cached token's claims, built on first use and
/// shared by every later hit (emptied with its entry).
pub(crate) type ProfileSlot = Arc<OnceLock<UserProfile>>;

/// What is remembered about a token whose signature and claims checked out.
#[derive(Debug, Clone)]
pub(crate) struct CachedToken {
    pub(crate) header: Arc<Map<String, Value>>,
    pub(crate) claims: Arc<Map<String, Value>>,
    pub(crate) exp: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) profile: ProfileSlot,
}

#[derive(Debug)]
struct Entry {
    token: CachedToken,
    /// The keys the token may have been verified by (one when it names a
    /// `kid`): the entry is good only while all of them are in the current
    /// key set.
    keys: Box<[KeyIdentity]>,
}

/// Bounded map from the whole token to its verified content.
///
/// Keyed by the whole token, so a token that differs in any byte (a tampered
/// payload or signature) is a miss and goes through full verification. Entries
/// remember the identity of the key that verified them; a hit counts only
/// while that key is in the current key set (issue 11.7), so a key that
/// leaves the set (rotation, a JWK Set refresh) takes its tokens with it,
/// while a refresh that keeps a key keeps its tokens cached.
#[derive(Debug)]
pub(crate) struct TokenCache {
    inner: Mutex<Inner>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    // foldhash rather than SipHash: the key is a whole token (hundreds of
    // bytes) hashed on every request. Flooding attacks on the hash need many
    // colliding entries in the table, and only tokens whose signature
    // verified are ever inserted, so an attacker cannot choose the keys.
    map: HashMap<Box<str>, Entry, foldhash::fast::RandomState>,
}

impl TokenCache {
    pub(crate) fn new(capacity: usize) -> Self {
        TokenCache {
            inner: Mutex::new(Inner::default()),
            capacity,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent
        // in a way that matters: it only holds verified entries.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `token`, if the keys that verified it are all still
    /// `current`; an entry whose key left is dropped.
    pub(crate) fn get(
        &self,
        token: &str,
        current: impl Fn(&[KeyIdentity]) -> bool,
    ) -> Option<CachedToken> {
        if self.capacity == 0 {
            return None;
        }
        let mut inner = self.lock();
        let entry = inner.map.get(token)?;
        if current(&entry.keys) {
            return Some(entry.token.clone());
        }
        inner.map.remove(token);
        None
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        keys: Box<[KeyIdentity]>,
        header: Arc<Map<String, Value>>,
        claims: Arc<Map<String, Value>>,
    ) -> Option<ProfileSlot> {
        if self.capacity == 0 || keys.is_empty() {
            return None;
        }
        let exp = claims.get("exp").and_then(as_i64);
        let nbf = claims.get("nbf").and_then(as_i64);
        let mut inner = self.lock();
        if inner.map.len() >= self.capacity && !inner.map.contains_key(token) {
            // Evict an arbitrary entry: HashMap order is randomised per
            // process, so an attacker cannot aim the eviction.
            if let Some(victim) = inner.map.keys().next().cloned() {
                inner.map.remove(&victim);
            }
        }
        let profile = ProfileSlot::default();
        inner.map.insert(
            token.into(),
            Entry {
                token: CachedToken {
                    header,
                    claims,
                    exp,
                    nbf,
                    profile: Arc::clone(&profile),
                },
                keys,
            },
        );
        Some(profile)
    }

    pub(crate) fn clear(&self) {
        self.lock().map.clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }
}

/// The same reading as the verifier's (issue 11.3): only a NumericDate in
/// `0 ..= MAX_NUMERIC_DATE` is a value; nothing saturates to "far future".
/// Entries are inserted only after `verify_jwt` accepted the claims, so an
/// out-of-range value never gets here; if one did, `None` for `exp` fails
/// the `require_exp` re-check rather than living forever.
fn as_i64(v: &Value) -> Option<i64> {
    crate::verify::numeric_date(v)
}
