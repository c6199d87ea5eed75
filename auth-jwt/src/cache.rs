//! The verified-token cache.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher as _;
use std::sync::{Arc, Mutex, OnceLock};

use auth_core::UserProfile;
use serde_json::{Map, Value};

use crate::key::KeyIdentity;

/// What a cached token's claims give, worked out on first use and shared by
/// every later hit (dropped with its entry).
#[derive(Debug, Default)]
pub(crate) struct Derived {
    /// The profile the claims map to.
    pub(crate) profile: OnceLock<UserProfile>,
    /// The claims a revocation check reads.
    pub(crate) revocation: OnceLock<RevocationKey>,
}

/// A cache entry's [`Derived`], shared with the requests that hit it.
pub(crate) type ProfileSlot = Arc<Derived>;

/// The claims a revocation check reads, taken out of the claims map once:
/// three map lookups by name cost a revocable cached-token request about
/// 860 instructions (callgrind).
#[derive(Debug)]
pub(crate) struct RevocationKey {
    /// `jti`, when it is a string.
    pub(crate) jti: Option<Box<str>>,
    /// `sub` (a number as its decimal text; empty when absent or another type).
    pub(crate) subject: Box<str>,
    /// `iat`, when it is a non-negative integer.
    pub(crate) issued_at: Option<u64>,
}

/// The claims a revocation check reads, borrowed from `claims`: `jti`,
/// `sub` and `iat` as [`RevocationKey`] describes them. The one reading of
/// them, for a token checked once (not cached) and for [`RevocationKey::of`].
pub(crate) fn revocation_claims(
    claims: &Map<String, Value>,
) -> (Option<&str>, std::borrow::Cow<'_, str>, Option<u64>) {
    let subject = match claims.get("sub") {
        Some(Value::String(s)) => std::borrow::Cow::Borrowed(s.as_str()),
        Some(Value::Number(n)) => std::borrow::Cow::Owned(n.to_string()),
        _ => std::borrow::Cow::Borrowed(""),
    };
    (
        claims.get("jti").and_then(Value::as_str),
        subject,
        claims.get("iat").and_then(Value::as_u64),
    )
}

impl RevocationKey {
    /// The revocation key of `claims`.
    pub(crate) fn of(claims: &Map<String, Value>) -> Self {
        let (jti, subject, issued_at) = revocation_claims(claims);
        RevocationKey {
            jti: jti.map(Into::into),
            subject: subject.into(),
            issued_at,
        }
    }
}

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
    /// What the entry counts against the byte bound.
    weight: u64,
    /// Which insertion of this token the entry is (see `Inner::order`).
    generation: u64,
}

/// A token's estimated footprint: the key (the token) plus its decoded
/// header and claims held as JSON maps, which take about twice the
/// token's length, plus fixed overhead (the entry, the `Arc`s, the map).
fn estimated_bytes(token: &str) -> u64 {
    (3 * token.len() + 256) as u64
}

/// The default byte bound of the verified-token cache: 32 MiB.
pub(crate) const DEFAULT_CACHE_BYTES: u64 = 32 * 1024 * 1024;

/// Bounded map from the whole token to its verified content.
///
/// Keyed by the whole token, so a token that differs in any byte (a tampered
/// payload or signature) is a miss and goes through full verification. Entries
/// remember the identity of the key that verified them; a hit counts only
/// while that key is in the current key set (issue 11.7), so a key that
/// leaves the set (rotation, a JWK Set refresh) takes its tokens with it,
/// while a refresh that keeps a key keeps its tokens cached.
///
/// Bounded by entries and by estimated bytes (issue 17.4); the oldest
/// insertion goes first, in O(1) whatever the churn (issue 17.3: the
/// earlier "first key of the map" eviction scanned from the table's start
/// and kept tokens that hashed late forever). Measured with callgrind
/// against that map and against quick_cache 0.7 (docs/BENCHMARKS.md):
/// 335 instructions per hit (332 before, 409 with quick_cache) and 4 400
/// per insert into a full cache (6 040 before, 4 780 with quick_cache), so
/// a mutex around a `HashMap` with an insertion queue stays; actix's
/// workers are few, so the lock is rarely contended.
///
/// Once the cache is full, a token is admitted only on its second miss
/// (see [`Doorkeeper`]): a stream of tokens each sent once (the cold path)
/// then costs no insertion and no eviction, and cannot push out the
/// tokens that are being reused. Until it is full, every verified token is
/// admitted on its first miss.
#[derive(Debug)]
pub(crate) struct TokenCache {
    inner: Mutex<Inner>,
    capacity: usize,
    max_bytes: u64,
}

#[derive(Debug, Default)]
struct Inner {
    // foldhash rather than SipHash: the key is a whole token (hundreds of
    // bytes) hashed on every request. Flooding attacks on the hash need many
    // colliding entries in the table, and only tokens whose signature
    // verified are ever inserted, so an attacker cannot choose the keys.
    map: HashMap<Arc<[u8]>, Entry, foldhash::fast::RandomState>,
    /// Insertion order, for eviction: a token and the generation it was
    /// inserted with. An element whose entry is gone, or was inserted again
    /// since, is skipped when it reaches the front.
    order: VecDeque<(Arc<[u8]>, u64)>,
    bytes: u64,
    generation: u64,
    doorkeeper: Doorkeeper,
}

/// Which tokens a full cache has turned away once, so that their next miss
/// is admitted: one fingerprint (32 bits of the map's own keyed hash) per
/// slot; as many slots as the entry bound rounded up to a power of two, at
/// least 64 and at most 2^20 (4 MiB), allocated when the cache first fills
/// and kept. A cache that has filled stays full: entries leave when they
/// are evicted, found stale (their key left the set) or cleared with the
/// keys (`JwtStrategy::set_keys`); an expired one waits for its eviction.
///
/// A token seen again finds its fingerprint and is admitted. One that finds
/// another token's fingerprint takes the slot and is turned away. Collisions
/// only change which verified tokens are kept: nothing reaches the cache
/// that did not verify. Hand-written because it is a dozen lines over a
/// slice, where a sketch crate (TinyLFU's counters, a Bloom filter) would
/// bring more than the one-bit "seen before" this needs.
///
/// Measured on the cold path (a different HS256 token on every request,
/// `bench-server`, docs/BENCHMARKS.md): the insertion and eviction this
/// skips made a request 11 to 30 % slower than with the cache off.
#[derive(Debug)]
struct Doorkeeper {
    /// Empty until the cache first fills.
    slots: Vec<u32>,
    /// How many slots to allocate then (a power of two).
    size: usize,
}

impl Default for Doorkeeper {
    fn default() -> Self {
        Doorkeeper::for_capacity(0)
    }
}

impl Doorkeeper {
    const MAX_SLOTS: usize = 1 << 20;

    /// The table of a cache of `capacity` entries (nothing allocated yet).
    fn for_capacity(capacity: usize) -> Self {
        Doorkeeper {
            slots: Vec::new(),
            size: capacity.clamp(64, Self::MAX_SLOTS).next_power_of_two(),
        }
    }

    /// Whether the token whose hash is `hash` was turned away before (it is
    /// admitted, and its slot emptied); otherwise it is remembered.
    fn admit(&mut self, hash: u64) -> bool {
        if self.slots.is_empty() {
            self.slots = vec![0; self.size];
        }
        // 0 marks an empty slot.
        let fingerprint = ((hash >> 32) as u32).max(1);
        let mask = self.slots.len() - 1;
        let slot = &mut self.slots[hash as usize & mask];
        if *slot == fingerprint {
            *slot = 0;
            true
        } else {
            *slot = fingerprint;
            false
        }
    }
}

impl Inner {
    fn remove(&mut self, token: &[u8]) {
        if let Some(entry) = self.map.remove(token) {
            self.bytes -= entry.weight;
        }
    }

    /// Evicts the oldest insertion that is still in the map; `false` when
    /// there was none.
    fn evict_oldest(&mut self) -> bool {
        while let Some((token, generation)) = self.order.pop_front() {
            if self
                .map
                .get(&token)
                .is_some_and(|e| e.generation == generation)
            {
                self.remove(&token);
                return true;
            }
        }
        false
    }

    /// Drops stale elements of `order` once they outnumber the live ones,
    /// so it stays within twice the map's size.
    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(t, g)| map.get(t).is_some_and(|e| e.generation == *g));
        }
    }
}

impl TokenCache {
    /// At most `capacity` entries and `max_bytes` estimated bytes; 0 for
    /// either disables the cache.
    pub(crate) fn new(capacity: usize, max_bytes: u64) -> Self {
        TokenCache {
            inner: Mutex::new(Inner {
                doorkeeper: Doorkeeper::for_capacity(capacity),
                ..Inner::default()
            }),
            capacity: if max_bytes == 0 { 0 } else { capacity },
            max_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map inconsistent
        // in a way that matters: it only holds verified entries.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The entry for `token`, if the keys that verified it are all still
    /// `current`; an entry whose key left is dropped. The token is taken as
    /// bytes: the header fast path has not checked that they are UTF-8, and
    /// needs not.
    pub(crate) fn get(
        &self,
        token: &[u8],
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
        inner.remove(token);
        None
    }

    pub(crate) fn insert(
        &self,
        token: &str,
        keys: Box<[KeyIdentity]>,
        header: Arc<Map<String, Value>>,
        claims: Arc<Map<String, Value>>,
    ) -> Option<ProfileSlot> {
        let weight = estimated_bytes(token);
        if self.capacity == 0 || keys.is_empty() || weight > self.max_bytes {
            return None;
        }
        let exp = claims.get("exp").and_then(as_i64);
        let nbf = claims.get("nbf").and_then(as_i64);
        let mut inner = self.lock();
        inner.remove(token.as_bytes());
        let no_room = |inner: &Inner| {
            inner.map.len() >= self.capacity || inner.bytes + weight > self.max_bytes
        };
        if no_room(&inner) {
            let hash = inner.map.hasher().hash_one(token.as_bytes());
            if !inner.doorkeeper.admit(hash) {
                return None;
            }
        }
        while no_room(&inner) {
            if !inner.evict_oldest() {
                break;
            }
        }
        inner.generation += 1;
        let generation = inner.generation;
        let key: Arc<[u8]> = token.as_bytes().into();
        let profile = ProfileSlot::default();
        inner.order.push_back((Arc::clone(&key), generation));
        inner.bytes += weight;
        inner.map.insert(
            key,
            Entry {
                token: CachedToken {
                    header,
                    claims,
                    exp,
                    nbf,
                    profile: Arc::clone(&profile),
                },
                keys,
                weight,
                generation,
            },
        );
        inner.compact();
        Some(profile)
    }

    pub(crate) fn clear(&self) {
        let mut inner = self.lock();
        inner.map.clear();
        inner.order.clear();
        inner.bytes = 0;
    }

    /// Whether the cache is on (capacity and byte bound above zero).
    pub(crate) fn is_enabled(&self) -> bool {
        self.capacity > 0
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().map.len()
    }

    #[cfg(test)]
    fn bytes(&self) -> u64 {
        self.lock().bytes
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

#[cfg(test)]
mod tests {
    use super::*;

    /// One miss of `token`: whether the cache took it.
    fn offer(cache: &TokenCache, token: &str) -> bool {
        cache
            .insert(token, Box::new([1]), Arc::default(), Arc::default())
            .is_some()
    }

    /// Two misses of `token`, so that a full cache takes it too.
    fn put(cache: &TokenCache, token: &str) {
        if !offer(cache, token) {
            assert!(offer(cache, token), "{token} turned away twice");
        }
    }

    #[test]
    fn a_full_cache_takes_a_token_on_its_second_miss_only() {
        let cache = TokenCache::new(3, DEFAULT_CACHE_BYTES);
        // Room: taken at once, and no slots are allocated.
        for t in ["a", "b", "c"] {
            assert!(offer(&cache, t));
        }
        assert!(cache.lock().doorkeeper.slots.is_empty());
        let here = |t: &str| cache.get(t.as_bytes(), |_| true).is_some();
        // Full: a stream of tokens each seen once evicts nothing.
        for i in 0..1_000 {
            assert!(!offer(&cache, &format!("once-{i}")), "once-{i}");
        }
        assert_eq!((here("a"), here("b"), here("c")), (true, true, true));
        assert_eq!(cache.len(), 3);
        // Seen again: taken, and the oldest goes.
        let mut taken = 0;
        for i in 0..1_000 {
            taken += usize::from(offer(&cache, &format!("twice-{i}")));
            taken += usize::from(offer(&cache, &format!("twice-{i}")));
        }
        assert_eq!(taken, 1_000);
        assert!(!here("a") && here("twice-999") && here("twice-998"));
        assert_eq!(cache.len(), 3);
        // A token already cached is refreshed, not turned away.
        assert!(offer(&cache, "twice-997"));
        assert_eq!(cache.lock().doorkeeper.slots.len(), 64);
    }

    #[test]
    fn the_oldest_insertion_goes_first_and_the_bounds_hold() {
        let cache = TokenCache::new(3, DEFAULT_CACHE_BYTES);
        for t in ["a", "b", "c", "d"] {
            put(&cache, t);
        }
        let here = |t: &str| cache.get(t.as_bytes(), |_| true).is_some();
        assert_eq!(
            (here("a"), here("b"), here("c"), here("d")),
            (false, true, true, true)
        );
        // Inserted again: young again.
        put(&cache, "b");
        put(&cache, "e");
        assert_eq!((here("b"), here("c"), here("e")), (true, false, true));
        assert_eq!(cache.len(), 3);
    }

    #[test]
    fn the_byte_bound_holds_for_large_tokens() {
        // Room for 10 entries of 1 KiB tokens by count, 4 by bytes.
        let one = estimated_bytes(&"x".repeat(1024));
        let cache = TokenCache::new(10, 4 * one + one / 2);
        for i in 0..50 {
            put(&cache, &format!("{i:04}{}", "x".repeat(1020)));
            assert!(cache.bytes() <= 4 * one + one / 2);
        }
        assert_eq!(cache.len(), 4);
        // Small tokens fill the entry bound instead.
        for i in 0..50 {
            put(&cache, &format!("small-{i}"));
        }
        assert_eq!(cache.len(), 10);
        // A token larger than the whole bound is not cached at all.
        let tiny = TokenCache::new(10, 100);
        for _ in 0..3 {
            assert!(!offer(&tiny, &"y".repeat(200)));
        }
        assert_eq!(tiny.len(), 0);
    }

    #[test]
    fn churn_keeps_the_order_queue_bounded() {
        let cache = TokenCache::new(100, DEFAULT_CACHE_BYTES);
        for i in 0..100_000 {
            put(&cache, &format!("t{}", i % 150));
            if i % 7 == 0 {
                // Entries dropped by a key change leave stale elements.
                cache.lock().remove(format!("t{}", i % 150).as_bytes());
            }
        }
        let inner = cache.lock();
        assert!(inner.map.len() <= 100);
        assert!(
            inner.order.len() <= 2 * inner.map.len() + 16,
            "{}",
            inner.order.len()
        );
        assert_eq!(
            inner.bytes,
            inner.map.values().map(|e| e.weight).sum::<u64>()
        );
    }
}
