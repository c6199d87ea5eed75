//! An opt-in cache of successful password verifications.
//!
//! Keyed by username and a SHA-256 of (a per-process random key, the
//! password), so the cache never holds a password or an unsalted hash of one.
//! Entries expire after a TTL and are emptied for a user when that user's
//! password changes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::store::UserRecord;

struct Entry {
    digest: [u8; 32],
    record: UserRecord,
    expires: Instant,
}

struct Inner {
    key: [u8; 32],
    ttl: Duration,
    max_entries: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

/// A cache of successful verifications (cheap to clone; clones share entries).
///
/// ```
/// use std::time::Duration;
/// use auth_basic::{VerificationCache, UserRecord};
///
/// let cache = VerificationCache::new(Duration::from_secs(60));
/// let ada = UserRecord::new("1", "ada", "$argon2id$...", vec![]);
/// cache.insert("ada", "pw", ada.clone());
/// assert_eq!(cache.get("ada", "pw"), Some(ada));
/// assert_eq!(cache.get("ada", "other"), None);
/// cache.invalidate_user("ada");
/// assert_eq!(cache.get("ada", "pw"), None);
/// ```
#[derive(Clone)]
pub struct VerificationCache {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for VerificationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationCache")
            .field("ttl", &self.inner.ttl)
            .finish_non_exhaustive()
    }
}

impl VerificationCache {
    /// A cache whose entries live for `ttl`, holding at most 10 000 users.
    pub fn new(ttl: Duration) -> Self {
        Self::with_capacity(ttl, 10_000)
    }

    /// A cache holding at most `max_entries` users (one entry per user: the
    /// last successful password).
    pub fn with_capacity(ttl: Duration, max_entries: usize) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        VerificationCache {
            inner: Arc::new(Inner {
                key,
                ttl,
                max_entries,
                entries: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn digest(&self, username: &str, password: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.key).expect("any key length");
        mac.update(username.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// The cached record, when `password` is the one that last succeeded for
    /// `username` within the TTL.
    pub fn get(&self, username: &str, password: &str) -> Option<UserRecord> {
        self.get_at(username, password, Instant::now())
    }

    fn get_at(&self, username: &str, password: &str, now: Instant) -> Option<UserRecord> {
        let digest = self.digest(username, password);
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(username)?;
        if entry.expires <= now {
            entries.remove(username);
            return None;
        }
        if bool::from(entry.digest.ct_eq(&digest)) {
            Some(entry.record.clone())
        } else {
            None
        }
    }

    /// Remembers a successful verification.
    pub fn insert(&self, username: &str, password: &str, record: UserRecord) {
        let digest = self.digest(username, password);
        let now = Instant::now();
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.inner.max_entries && !entries.contains_key(username) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.inner.max_entries {
                // Still full of live entries: skip caching rather than grow.
                return;
            }
        }
        entries.insert(
            username.to_owned(),
            Entry {
                digest,
                record,
                expires: now + self.inner.ttl,
            },
        );
    }

    /// Forgets a user (call on password change, role change, deletion).
    pub fn invalidate_user(&self, username: &str) {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(username);
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.inner
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire() {
        let cache = VerificationCache::new(Duration::from_secs(10));
        let r = UserRecord::new("1", "ada", "h", vec![]);
        cache.insert("ada", "pw", r.clone());
        let now = Instant::now();
        assert_eq!(cache.get_at("ada", "pw", now), Some(r));
        assert_eq!(
            cache.get_at("ada", "pw", now + Duration::from_secs(11)),
            None
        );
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = VerificationCache::with_capacity(Duration::from_secs(10), 2);
        for u in ["a", "b", "c"] {
            cache.insert(u, "pw", UserRecord::new(u, u, "h", vec![]));
        }
        assert!(cache.get("a", "pw").is_some());
        assert!(cache.get("c", "pw").is_none());
    }
}
