//! An opt-in cache of successful password verifications.
//!
//! An entry is bound to the stored hash it was verified against: it holds
//! an HMAC (under a per-process random key) of the username, the stored
//! password hash (the PHC string) and the password, so the cache never holds
//! a password or an unsalted hash of one. A lookup is given the record just
//! read from the store, recomputes the HMAC with the store's *current* hash
//! and compares it in constant time. So whatever changes a password (auth-basic's
//! `PasswordAuthenticator::change_password`, `UserStore::update_password_hash`
//! called directly, another instance writing the same database, `auth-cli
//! users passwd` followed by `FileUserStore::reload`),
//! the old password stops matching on the next request. The cost is one
//! store read per request, cached or not; what the cache saves is the
//! password hash, which is the expensive part. Entries also expire after a
//! TTL.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use subtle::ConstantTimeEq;

struct Entry {
    digest: [u8; 32],
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
/// use auth_password::VerificationCache;
///
/// let cache = VerificationCache::new(Duration::from_secs(60));
/// let stored = "$argon2id$v=19$...$first"; // as just read from the user store
/// cache.insert("ada", stored, "pw");
/// assert!(cache.is_verified("ada", stored, "pw"));
/// assert!(!cache.is_verified("ada", stored, "other"));
/// // The stored hash changed (by any means): the entry no longer matches.
/// assert!(!cache.is_verified("ada", "$argon2id$v=19$...$second", "pw"));
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

    /// HMAC(key, username, stored hash, password), each but the last
    /// length-prefixed so that no two triples give the same input.
    fn digest(&self, username: &str, stored_hash: &str, password: &str) -> [u8; 32] {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.inner.key).expect("any key length");
        for part in [username, stored_hash] {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Whether `password` succeeded for `username`, against exactly
    /// `stored_hash` (the PHC string read from the store for this request),
    /// within the TTL.
    pub fn is_verified(&self, username: &str, stored_hash: &str, password: &str) -> bool {
        self.is_verified_at(username, stored_hash, password, Instant::now())
    }

    fn is_verified_at(
        &self,
        username: &str,
        stored_hash: &str,
        password: &str,
        now: Instant,
    ) -> bool {
        let digest = self.digest(username, stored_hash, password);
        let mut entries = self.inner.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.get(username) else {
            return false;
        };
        if entry.expires <= now {
            entries.remove(username);
            return false;
        }
        bool::from(entry.digest.ct_eq(&digest))
    }

    /// Remembers that `password` matched `stored_hash` for `username`.
    pub fn insert(&self, username: &str, stored_hash: &str, password: &str) {
        let digest = self.digest(username, stored_hash, password);
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
                expires: now + self.inner.ttl,
            },
        );
    }

    /// Forgets a user. Not needed for correctness after a password change
    /// (entries are bound to the stored hash); it frees the entry at once.
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
        cache.insert("ada", "h", "pw");
        let now = Instant::now();
        assert!(cache.is_verified_at("ada", "h", "pw", now));
        assert!(!cache.is_verified_at("ada", "h", "pw", now + Duration::from_secs(11)));
    }

    #[test]
    fn capacity_is_bounded() {
        let cache = VerificationCache::with_capacity(Duration::from_secs(10), 2);
        for u in ["a", "b", "c"] {
            cache.insert(u, "h", "pw");
        }
        assert!(cache.is_verified("a", "h", "pw"));
        assert!(!cache.is_verified("c", "h", "pw"));
    }

    #[test]
    fn an_entry_is_bound_to_the_stored_hash() {
        let cache = VerificationCache::new(Duration::from_secs(10));
        let first = "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAA";
        cache.insert("ada", first, "pw");
        assert!(cache.is_verified("ada", first, "pw"));
        // Any other stored hash: a new PHC string, one character changed, a
        // bcrypt hash, an empty one.
        for other in [
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$BBBB",
            "$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAB",
            "$2b$04$UOLbnnp8M7k4XdEwKBPVlOTKLwuGlAfHmz2uu/cN3o9RtjM7ezJVq",
            "",
        ] {
            assert!(!cache.is_verified("ada", other, "pw"), "{other}");
        }
        // The boundaries between the parts are unambiguous.
        cache.insert("ab", "c", "pw");
        assert!(!cache.is_verified("ab", "cp", "w"));
    }
}
