//! The local cache of live token records behind [`TokenManager`]: bounded,
//! invalidated across instances through the store's publish/subscribe, and
//! trusted only while that subscription is up. The rules are listed on
//! [`TokenManager::cache`].
//!
//! [`TokenManager`]: crate::TokenManager
//! [`TokenManager::cache`]: crate::TokenManager::cache

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use auth_core::{StateStore, StoreError, Subscription, UserProfile};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hashlink::LruCache;
use tokio::sync::oneshot;

use crate::TokenRecord;

/// A token's SHA-256: the cache's key (never the token itself).
pub(crate) type Digest = [u8; 32];

/// A live token as verification hands it out: shared, so a cache hit
/// copies neither the record nor the profile.
#[derive(Debug, Clone)]
pub(crate) struct Live {
    pub(crate) record: Arc<TokenRecord>,
    /// Built once, named after the first strategy that reads it.
    profile: Arc<std::sync::OnceLock<UserProfile>>,
}

impl Live {
    pub(crate) fn new(record: TokenRecord) -> Self {
        Live {
            profile: Arc::new(std::sync::OnceLock::new()),
            record: Arc::new(record),
        }
    }

    /// The token's profile as `strategy` produced it. The cached profile
    /// carries the name of the first strategy that read it (a manager
    /// usually serves one), so that the sequence never renames, and so
    /// copies, a shared profile; a second strategy reading the same token
    /// gets its own copy.
    pub(crate) fn profile(&self, strategy: &str) -> UserProfile {
        let profile = self
            .profile
            .get_or_init(|| self.record.profile().with_strategy(strategy));
        if profile.strategy == strategy {
            profile.clone()
        } else {
            profile.clone().with_strategy(strategy)
        }
    }
}

#[derive(Debug)]
struct Cached {
    live: Live,
    /// The manager's clock (milliseconds) when the record was read.
    filled_ms: u64,
}

/// The default number of tokens a manager keeps.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;
/// The default longest time a record is served without reading the store.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(1);
/// After a subscription attempt failed, the next one waits this long
/// (milliseconds of the manager's clock).
const RETRY_MS: u64 = 1_000;

/// Not subscribed; the next miss may subscribe (from `retry_at_ms` on).
const IDLE: u8 = 0;
/// A miss is subscribing.
const STARTING: u8 = 1;
/// Subscribed: hits are served.
const LINKED: u8 = 2;
/// The store has no publish/subscribe: never trusted.
const OFF: u8 = 3;

/// The channel on which the revocations of the manager with this
/// namespace are published.
pub(crate) fn channel(namespace: &str) -> String {
    format!("{namespace}:revoked")
}

/// Records of live tokens, by the SHA-256 of the token; at most `capacity`,
/// the least recently used going first (hashlink's `LruCache`, as the
/// introspection cache: O(1) per hit and per eviction, foldhash keyed by a
/// SHA-256 the client cannot choose without holding a live token).
#[derive(Debug)]
pub(crate) struct RecordCache {
    entries: Mutex<LruCache<Digest, Cached>>,
    /// Bumped (under the `entries` lock) by every invalidation: a fill
    /// whose store read began before one is not kept, since the record it
    /// read may be the one just revoked.
    epoch: AtomicU64,
    max_age_ms: u64,
    state: AtomicU8,
    retry_at_ms: AtomicU64,
    /// Ends the listening task when the cache goes away.
    stop: Mutex<Option<oneshot::Sender<()>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Entries are whole records: a panic elsewhere cannot leave one half
    // written.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl RecordCache {
    /// `None` (no cache) for a zero capacity or maximum age.
    pub(crate) fn new(capacity: usize, max_age: Duration) -> Option<Arc<Self>> {
        let max_age_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
        if capacity == 0 || max_age_ms == 0 {
            return None;
        }
        Some(Arc::new(RecordCache {
            entries: Mutex::new(LruCache::new(capacity)),
            epoch: AtomicU64::new(0),
            max_age_ms,
            state: AtomicU8::new(IDLE),
            retry_at_ms: AtomicU64::new(0),
            stop: Mutex::new(None),
        }))
    }

    /// The cached record of the token with `digest`, if the cache is
    /// trusted (subscribed), the record was read less than the maximum age
    /// ago and the token has not expired by `now_ms`. An entry past either
    /// bound is dropped, and the caller reads the store as for any miss.
    pub(crate) fn get(&self, digest: &Digest, now_ms: u64) -> Option<Live> {
        if self.state.load(Ordering::Acquire) != LINKED {
            return None;
        }
        let mut entries = lock(&self.entries);
        let cached = entries.get(digest)?;
        // A clock that went back makes every entry stale, never younger.
        let fresh = now_ms
            .checked_sub(cached.filled_ms)
            .is_some_and(|age| age < self.max_age_ms);
        if fresh && cached.live.record.expires_at > now_ms / 1000 {
            return Some(cached.live.clone());
        }
        entries.remove(digest);
        None
    }

    /// The invalidation count, read before a store read whose result may be
    /// [`fill`](Self::fill)ed in.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    /// Keeps `live` (read from the store at `now_ms`) unless the cache is
    /// not trusted or anything was invalidated since `since` was read.
    pub(crate) fn fill(&self, digest: Digest, live: Live, since: u64, now_ms: u64) {
        let mut entries = lock(&self.entries);
        if self.state.load(Ordering::Acquire) == LINKED && self.epoch() == since {
            entries.insert(
                digest,
                Cached {
                    live,
                    filled_ms: now_ms,
                },
            );
        }
    }

    /// Drops the token with `digest` (revoked here or on another instance).
    pub(crate) fn invalidate(&self, digest: &Digest) {
        let mut entries = lock(&self.entries);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.remove(digest);
    }

    /// Drops every entry.
    fn clear(&self) {
        let mut entries = lock(&self.entries);
        self.epoch.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    /// Applies a message of the revocation channel: the base64url SHA-256
    /// of a revoked token. Anything else empties the cache (whoever can
    /// publish on the channel can at worst cost us hits).
    fn apply(&self, message: &[u8]) {
        match decode(message) {
            Some(digest) => self.invalidate(&digest),
            None => {
                tracing::debug!("token cache: unexpected message on the revocation channel");
                self.clear();
            }
        }
    }

    /// The subscription ended or reported a gap: nothing cached is trusted
    /// until the next miss subscribes again.
    fn unlink(&self) {
        self.state.store(IDLE, Ordering::Release);
        self.retry_at_ms.store(0, Ordering::Release);
        self.clear();
    }

    /// Subscribes to `namespace`'s revocation channel unless subscribed
    /// already, or tried less than a second ago, or another request is at
    /// it. Until it succeeds nothing is served from the cache. Needs a tokio
    /// runtime for the listening task (actix-web's); without one the cache
    /// stays unused.
    pub(crate) async fn link(
        self: &Arc<Self>,
        store: &Arc<dyn StateStore>,
        namespace: &str,
        now_ms: u64,
    ) {
        if self.state.load(Ordering::Acquire) != IDLE
            || now_ms < self.retry_at_ms.load(Ordering::Acquire)
            || self
                .state
                .compare_exchange(IDLE, STARTING, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
        {
            return;
        }
        // Back to IDLE if this request is dropped while subscribing.
        let mut starting = Starting {
            cache: self,
            armed: true,
        };
        self.retry_at_ms
            .store(now_ms.saturating_add(RETRY_MS), Ordering::Release);
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        match store.subscribe(&channel(namespace)).await {
            Ok(subscription) => {
                let (stop, stopped) = oneshot::channel();
                *lock(&self.stop) = Some(stop);
                // Whatever was read before the subscription may have been
                // revoked unheard.
                self.clear();
                self.state.store(LINKED, Ordering::Release);
                starting.armed = false;
                runtime.spawn(listen(Arc::downgrade(self), subscription, stopped));
            }
            Err(StoreError::Unsupported { .. }) => {
                tracing::warn!(
                    "token cache off: the state store has no publish/subscribe to invalidate it"
                );
                self.state.store(OFF, Ordering::Release);
                starting.armed = false;
            }
            Err(e) => {
                tracing::warn!(error = %e, "token cache: cannot subscribe; reading the store");
            }
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        lock(&self.entries).len()
    }

    #[cfg(test)]
    pub(crate) fn is_linked(&self) -> bool {
        self.state.load(Ordering::Acquire) == LINKED
    }
}

/// A subscription attempt in progress: dropped unfinished, the cache goes
/// back to IDLE.
struct Starting<'a> {
    cache: &'a RecordCache,
    armed: bool,
}

impl Drop for Starting<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.cache.state.store(IDLE, Ordering::Release);
        }
    }
}

/// The message published for a revoked token: its SHA-256, base64url.
pub(crate) fn encode(digest: &Digest) -> String {
    URL_SAFE_NO_PAD.encode(digest)
}

pub(crate) fn decode(message: &[u8]) -> Option<Digest> {
    let mut digest = [0u8; 32];
    // 43 characters: 32 bytes; `decode_slice` refuses more.
    (message.len() == 43 && URL_SAFE_NO_PAD.decode_slice(message, &mut digest).ok()? == 32)
        .then_some(digest)
}

/// Drops revoked tokens as their messages arrive; on a gap or the end of
/// the subscription, unlinks the cache (also when the runtime running this
/// task shuts down) and ends. Ends when the cache is dropped.
async fn listen(
    cache: Weak<RecordCache>,
    mut subscription: Subscription,
    mut stopped: oneshot::Receiver<()>,
) {
    struct Unlink(Weak<RecordCache>);
    impl Drop for Unlink {
        fn drop(&mut self) {
            if let Some(cache) = self.0.upgrade() {
                cache.unlink();
            }
        }
    }
    let _unlink = Unlink(cache.clone());
    loop {
        let message = tokio::select! {
            message = subscription.recv() => message,
            _ = &mut stopped => return,
        };
        let Some(cache) = cache.upgrade() else {
            return;
        };
        match message {
            Some(Ok(message)) => cache.apply(&message),
            Some(Err(gap)) => {
                tracing::debug!(error = %gap, "token cache: subscription gap; not trusted until subscribed again");
                return;
            }
            None => {
                tracing::debug!(
                    "token cache: subscription ended; not trusted until subscribed again"
                );
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_core::{MemoryStore, PrincipalKind};

    fn live(owner: &str, expires_at: u64) -> Live {
        Live::new(TokenRecord {
            id: owner.into(),
            owner: owner.into(),
            roles: vec![],
            scopes: vec![],
            kind: PrincipalKind::User,
            created_at: 0,
            expires_at,
            max_expires_at: None,
            hash: String::new(),
            issued_ms: 0,
            email: None,
        })
    }

    async fn linked(capacity: usize) -> (Arc<RecordCache>, Arc<dyn StateStore>) {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let cache = RecordCache::new(capacity, DEFAULT_MAX_AGE).unwrap();
        cache.link(&store, "authtoken", 0).await;
        assert!(cache.is_linked());
        (cache, store)
    }

    #[test]
    fn messages_round_trip_and_junk_is_refused() {
        for digest in [[0u8; 32], [0xff; 32], *b"0123456789abcdef0123456789abcdef"] {
            assert_eq!(decode(encode(&digest).as_bytes()), Some(digest));
        }
        let good = encode(&[7; 32]);
        for junk in [
            "".to_owned(),
            good[..42].to_owned(),
            format!("{good}A"),
            format!("{}=", &good[..42]),
            good.replace(|_| true, "*"),
            "a".repeat(44),
        ] {
            assert_eq!(decode(junk.as_bytes()), None, "{junk}");
        }
    }

    #[test]
    fn zero_capacity_or_age_is_no_cache() {
        assert!(RecordCache::new(0, DEFAULT_MAX_AGE).is_none());
        assert!(RecordCache::new(10, Duration::ZERO).is_none());
        assert!(RecordCache::new(10, Duration::from_micros(10)).is_none());
    }

    #[tokio::test]
    async fn the_least_recently_used_goes_first_and_the_bound_holds() {
        let (cache, _) = linked(3).await;
        for i in 0..100u8 {
            let since = cache.epoch();
            cache.fill([i; 32], live("ada", 10), since, 0);
            assert!(cache.len() <= 3);
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&[97; 32], 0).is_some());
        // 97 used last: 98 goes first.
        cache.fill([200; 32], live("ada", 10), cache.epoch(), 0);
        assert!(cache.get(&[98; 32], 0).is_none());
        for kept in [97, 99, 200] {
            assert!(cache.get(&[kept; 32], 0).is_some(), "{kept}");
        }
    }

    #[tokio::test]
    async fn age_expiry_and_a_clock_gone_back_end_a_hit() {
        let (cache, _) = linked(10).await;
        let t = 5_000_000;
        for (now, served) in [
            (t, true),
            (t + 999, true),
            (t + 1_000, false),
            (t - 1, false),
        ] {
            cache.fill([1; 32], live("ada", 9_000), cache.epoch(), t);
            assert_eq!(cache.get(&[1; 32], now).is_some(), served, "{now}");
        }
        // Expired by its own deadline, however young the entry.
        cache.fill([2; 32], live("ada", 5_000), cache.epoch(), t);
        assert!(cache.get(&[2; 32], t).is_none());
        // Entries that ended a hit are gone, not kept for later.
        assert_eq!(cache.len(), 0);
    }

    #[tokio::test]
    async fn a_fill_that_raced_an_invalidation_is_not_kept() {
        let (cache, _) = linked(10).await;
        let since = cache.epoch();
        cache.invalidate(&[9; 32]); // any token: the read may be stale
        cache.fill([1; 32], live("ada", 10), since, 0);
        assert!(cache.get(&[1; 32], 0).is_none());
        let since = cache.epoch();
        cache.fill([1; 32], live("ada", 10), since, 0);
        assert!(cache.get(&[1; 32], 0).is_some());
        cache.invalidate(&[1; 32]);
        assert!(cache.get(&[1; 32], 0).is_none());
    }

    #[tokio::test]
    async fn messages_invalidate_and_junk_empties() {
        let (cache, store) = linked(10).await;
        for i in 1..=3 {
            cache.fill([i; 32], live("ada", 10), cache.epoch(), 0);
        }
        store
            .publish("authtoken:revoked", encode(&[2; 32]).as_bytes())
            .await
            .unwrap();
        let seen = |cache: &RecordCache| {
            (1..=3)
                .map(|i| cache.get(&[i; 32], 0).is_some())
                .collect::<Vec<_>>()
        };
        while seen(&cache) != [true, false, true] {
            tokio::task::yield_now().await;
        }
        // Another namespace's channel is not ours.
        store
            .publish("session:revoked", encode(&[1; 32]).as_bytes())
            .await
            .unwrap();
        store.publish("authtoken:revoked", b"junk").await.unwrap();
        while cache.len() != 0 {
            tokio::task::yield_now().await;
        }
        assert!(cache.is_linked());
    }

    #[tokio::test]
    async fn a_dropped_cache_ends_its_task_and_an_unlinked_one_is_not_trusted() {
        let (cache, _) = linked(10).await;
        cache.fill([1; 32], live("ada", 10), cache.epoch(), 0);
        cache.unlink();
        assert!(cache.get(&[1; 32], 0).is_none());
        cache.fill([1; 32], live("ada", 10), cache.epoch(), 0);
        assert_eq!(cache.len(), 0, "not kept while unlinked");
        let weak = Arc::downgrade(&cache);
        drop(cache);
        assert!(weak.upgrade().is_none());
    }
}
