//! [`Revocations`]: access tokens refused before they expire, by `jti` or by
//! subject ("log out everywhere"), checked from a local mirror on every
//! request and kept fresh across instances through the [`StateStore`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::clock::millis;
use crate::{AuthError, StateStore, StoreError};

const JTI_PREFIX: &str = "revoked:jti:";
const SUB_PREFIX: &str = "revoked:sub:";

/// The longest `resync_every`: a day. Longer ones are taken as a day, so
/// that the mirror's schedule never overflows a clock.
const MAX_RESYNC_EVERY: Duration = Duration::from_secs(24 * 3600);

/// How a [`Revocations`] mirror is kept fresh.
///
/// ```
/// use std::time::Duration;
/// use auth_core::RevocationOptions;
///
/// let options = RevocationOptions::default()
///     .max_staleness(Duration::from_secs(10))
///     .resync_every(Duration::from_secs(3));
/// assert_eq!(options.staleness_bound(), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone)]
pub struct RevocationOptions {
    channel: String,
    resync_every: Duration,
    max_staleness: Duration,
    subject_ttl: Duration,
}

impl Default for RevocationOptions {
    /// Channel `revocations`, a full resync every 10 s, fail closed after
    /// 30 s without one, subject revocations kept 1 day.
    fn default() -> Self {
        RevocationOptions {
            channel: "revocations".into(),
            resync_every: Duration::from_secs(10),
            max_staleness: Duration::from_secs(30),
            subject_ttl: Duration::from_secs(24 * 3600),
        }
    }
}

impl RevocationOptions {
    /// The publish/subscribe channel (default `revocations`).
    pub fn channel(mut self, channel: impl Into<String>) -> Self {
        self.channel = channel.into();
        self
    }

    /// How often the whole list is read again from the store (default
    /// 10 s; from 10 ms to a day): the safety net under publish/subscribe,
    /// which may lose messages.
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.resync_every = every.clamp(Duration::from_millis(10), MAX_RESYNC_EVERY);
        self
    }

    /// How long the mirror may go without a successful resync before
    /// [`Revocations::check`] answers 503 instead of trusting a list that
    /// may be stale (default 30 s; at least `resync_every`). Measured on the
    /// monotonic clock, so a step of the system clock neither stretches nor
    /// shortens it.
    pub fn max_staleness(mut self, bound: Duration) -> Self {
        self.max_staleness = bound;
        self
    }

    /// The staleness bound in force.
    pub fn staleness_bound(&self) -> Duration {
        self.max_staleness.max(self.resync_every)
    }

    /// How long a subject's "not before" is kept (default 1 day): at least
    /// the lifetime of the longest access token, after which every token
    /// issued before it has expired anyway.
    pub fn subject_ttl(mut self, ttl: Duration) -> Self {
        self.subject_ttl = ttl;
        self
    }
}

/// The mirror's contents.
#[derive(Debug, Default)]
struct Lists {
    /// `jti` → `exp` (seconds since the epoch).
    tokens: HashMap<String, u64, Hasher>,
    /// `sub` → tokens issued before this instant (seconds) are refused.
    subjects: HashMap<String, u64, Hasher>,
    /// While a resync reads the store: every revocation applied meanwhile.
    /// The read may have been made before them, so they are applied again
    /// on top of what it returned; replacing the lists with the read alone
    /// would forget them until the next resync.
    applied_during_read: Option<Vec<(char, u64, String)>>,
}

impl Lists {
    fn insert(&mut self, kind: char, instant: u64, id: String) {
        match kind {
            't' => {
                self.tokens.insert(id, instant);
            }
            's' => {
                let entry = self.subjects.entry(id).or_insert(instant);
                *entry = (*entry).max(instant);
            }
            _ => {}
        }
    }

    fn is_empty(&self) -> bool {
        self.tokens.is_empty() && self.subjects.is_empty()
    }
}

/// foldhash (randomly seeded per process) rather than SipHash: both maps are
/// read on every request, and their keys are not the client's to choose: a
/// `jti` is drawn by the issuer, a subject is an account, and only the
/// application revokes. SipHash cost about half of each lookup.
type Hasher = foldhash::fast::RandomState;

/// Revoked access tokens, shared by every instance through a
/// [`StateStore`], checked locally.
///
/// - [`revoke_token`](Self::revoke_token) refuses one token (by `jti`) until
///   it expires: logout.
/// - [`revoke_subject`](Self::revoke_subject) refuses every token of a
///   subject issued (`iat`) before an instant: log out everywhere, or a
///   changed password.
///
/// Each instance keeps both lists in memory, so [`check`](Self::check),
/// which runs on every request (verified-token cache hits included), costs
/// a map lookup and no network round trip. A revocation is written to the
/// store, applied to the local mirror at once, and published; the other
/// instances apply it when the message arrives (milliseconds on Redis).
/// Publish/subscribe may lose messages, so every mirror also reads the
/// whole list again every `resync_every` and after any gap its
/// subscription reports. When that has not succeeded for longer than the
/// staleness bound (the store is unreachable), `check` answers 503 with
/// `Retry-After`: fail closed rather than honour a token that may have
/// been revoked meanwhile.
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{MemoryStore, RevocationOptions, Revocations, StateStore};
///
/// # actix_web::rt::System::new().block_on(async {
/// let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
/// let revocations = Revocations::start(store, RevocationOptions::default()).await.unwrap();
/// let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
/// assert!(revocations.check(Some("jti-1"), "ada", Some(now)).is_ok());
/// revocations.revoke_token("jti-1", now + 900).await.unwrap();
/// assert_eq!(revocations.check(Some("jti-1"), "ada", Some(now)).unwrap_err().status(), 401);
/// revocations.revoke_subject("bob", now).await.unwrap();
/// assert!(revocations.check(Some("jti-2"), "bob", Some(now - 1)).is_err());
/// assert!(revocations.check(Some("jti-3"), "bob", Some(now + 1)).is_ok());
/// # });
/// ```
pub struct Revocations {
    store: Arc<dyn StateStore>,
    options: RevocationOptions,
    lists: RwLock<Lists>,
    /// Whether either list has entries: the common case costs no lock.
    any: AtomicBool,
    /// Until when the mirror counts as fresh, in `monotonic_ms`.
    fresh_until: AtomicU64,
}

impl std::fmt::Debug for Revocations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let lists = self.read();
        f.debug_struct("Revocations")
            .field("tokens", &lists.tokens.len())
            .field("subjects", &lists.subjects.len())
            .field("fresh", &self.is_fresh())
            .finish_non_exhaustive()
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn now_secs() -> u64 {
    now_ms() / 1000
}

/// Milliseconds on the monotonic clock since the first call in this
/// process. Freshness is a duration since the last resync: on the wall
/// clock, a step back (NTP, an operator) would stretch the staleness bound
/// by the size of the step and keep a mirror that stopped syncing in use
/// past it. Revocation expiries stay on the wall clock (a token's `exp` is
/// wall-clock time).
fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    millis(START.get_or_init(Instant::now).elapsed())
}

/// A published revocation: `t EXP JTI` or `s NOT_BEFORE SUB`; the id last,
/// so that it may contain spaces.
fn encode(kind: char, instant: u64, id: &str) -> Vec<u8> {
    format!("{kind} {instant} {id}").into_bytes()
}

fn decode(message: &[u8]) -> Option<(char, u64, String)> {
    let text = std::str::from_utf8(message).ok()?;
    let mut parts = text.splitn(3, ' ');
    let kind = parts.next()?.chars().next()?;
    let instant = parts.next()?.parse().ok()?;
    let id = parts.next()?.to_owned();
    Some((kind, instant, id))
}

impl Revocations {
    /// Reads the current lists from `store` (an error here means the store
    /// is unreachable at start-up) and keeps them fresh from then on, in a
    /// task that ends when the returned `Arc` is dropped. Needs a tokio
    /// runtime (actix-web's).
    pub async fn start(
        store: Arc<dyn StateStore>,
        options: RevocationOptions,
    ) -> Result<Arc<Revocations>, StoreError> {
        let revocations = Arc::new(Revocations {
            store,
            options,
            lists: RwLock::new(Lists::default()),
            any: AtomicBool::new(false),
            fresh_until: AtomicU64::new(0),
        });
        // Subscribe before the first read, so nothing published in between
        // is missed.
        let subscription = revocations
            .store
            .subscribe(&revocations.options.channel)
            .await?;
        revocations.resync().await?;
        tokio::spawn(keep_fresh(Arc::downgrade(&revocations), subscription));
        Ok(revocations)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Lists> {
        self.lists.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Lists> {
        self.lists.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the mirror was refreshed within the staleness bound.
    pub fn is_fresh(&self) -> bool {
        monotonic_ms() < self.fresh_until.load(Ordering::Acquire)
    }

    fn mark_fresh(&self) {
        let until = monotonic_ms().saturating_add(millis(self.options.staleness_bound()));
        self.fresh_until.store(until, Ordering::Release);
    }

    /// Refuses the token `jti` until `expires_at` (its `exp`, seconds since
    /// the epoch), on every instance.
    pub async fn revoke_token(&self, jti: &str, expires_at: u64) -> Result<(), StoreError> {
        let left = expires_at.saturating_sub(now_secs());
        if left == 0 {
            return Ok(()); // already expired: nothing to refuse
        }
        let key = format!("{JTI_PREFIX}{jti}");
        let ttl = Duration::from_secs(left.saturating_add(60));
        self.store
            .set_if_absent(&key, expires_at.to_string().as_bytes(), ttl)
            .await?;
        self.apply('t', expires_at, jti.to_owned());
        self.store
            .publish(&self.options.channel, &encode('t', expires_at, jti))
            .await
    }

    /// Refuses every token of `subject` issued before `not_before` (seconds
    /// since the epoch), on every instance. A later call with a later
    /// instant moves it forward; an earlier one changes nothing.
    pub async fn revoke_subject(&self, subject: &str, not_before: u64) -> Result<(), StoreError> {
        let key = format!("{SUB_PREFIX}{subject}");
        self.store
            .raise(&key, not_before, self.options.subject_ttl)
            .await?;
        self.apply('s', not_before, subject.to_owned());
        self.store
            .publish(&self.options.channel, &encode('s', not_before, subject))
            .await
    }

    fn apply(&self, kind: char, instant: u64, id: String) {
        if kind != 't' && kind != 's' {
            return;
        }
        let mut lists = self.write();
        if let Some(applied) = &mut lists.applied_during_read {
            applied.push((kind, instant, id.clone()));
        }
        lists.insert(kind, instant, id);
        // Under the lock, so that a resync's own `any` cannot overwrite it.
        self.any.store(true, Ordering::Release);
    }

    /// Reads both lists from the store and replaces the mirror. Never runs
    /// twice at once: `start` runs it before `keep_fresh` begins, and
    /// `keep_fresh` runs one after another.
    async fn resync(&self) -> Result<(), StoreError> {
        self.write().applied_during_read = Some(Vec::new());
        let entries = match self.store.scan("revoked:").await {
            Ok(entries) => entries,
            Err(e) => {
                self.write().applied_during_read = None;
                return Err(e);
            }
        };
        let now = now_secs();
        let mut fresh = Lists::default();
        for (key, entry) in entries {
            let Ok(instant) = entry.as_count() else {
                tracing::warn!(key = %key, "revocation entry is not a number; ignored");
                continue;
            };
            if let Some(jti) = key.strip_prefix(JTI_PREFIX) {
                if instant > now {
                    fresh.tokens.insert(jti.to_owned(), instant);
                }
            } else if let Some(sub) = key.strip_prefix(SUB_PREFIX) {
                fresh.subjects.insert(sub.to_owned(), instant);
            }
        }
        let mut lists = self.write();
        for (kind, instant, id) in lists.applied_during_read.take().unwrap_or_default() {
            fresh.insert(kind, instant, id);
        }
        *lists = fresh;
        self.any.store(!lists.is_empty(), Ordering::Release);
        drop(lists);
        self.mark_fresh();
        Ok(())
    }

    /// Whether a verified token may be used: `jti`, `sub` and `iat` are its
    /// claims. 401 `invalid_token` when it was revoked (a token without
    /// `iat` counts as issued before any subject revocation); 503 with
    /// `Retry-After` when the mirror is older than the staleness bound.
    pub fn check(
        &self,
        jti: Option<&str>,
        subject: &str,
        issued_at: Option<u64>,
    ) -> Result<(), AuthError> {
        if !self.is_fresh() {
            return Err(AuthError::Unavailable {
                message: "token revocations cannot be checked right now".into(),
                retry_after: Some(Duration::from_secs(1)),
            });
        }
        if !self.any.load(Ordering::Acquire) {
            return Ok(());
        }
        let lists = self.read();
        if let Some(jti) = jti
            && lists.tokens.contains_key(jti)
        {
            return Err(AuthError::invalid_token("token has been revoked"));
        }
        if let Some(not_before) = lists.subjects.get(subject)
            && issued_at.is_none_or(|iat| iat < *not_before)
        {
            return Err(AuthError::invalid_token("token has been revoked"));
        }
        Ok(())
    }
}

/// Applies published revocations and resynchronises every `resync_every`
/// and after every gap, until the [`Revocations`] is dropped.
async fn keep_fresh(weak: Weak<Revocations>, mut subscription: crate::Subscription) {
    let (every, channel) = match weak.upgrade() {
        Some(r) => (r.options.resync_every, r.options.channel.clone()),
        None => return,
    };
    let mut subscribed = true;
    let mut next_resync = tokio::time::Instant::now() + every;
    loop {
        let message = if subscribed {
            tokio::select! {
                message = subscription.recv() => Some(message),
                () = tokio::time::sleep_until(next_resync) => None,
            }
        } else {
            tokio::time::sleep_until(next_resync).await;
            None
        };
        let Some(revocations) = weak.upgrade() else {
            return;
        };
        match message {
            Some(Some(Ok(bytes))) => {
                if let Some((kind, instant, id)) = decode(&bytes) {
                    revocations.apply(kind, instant, id);
                }
                continue;
            }
            Some(Some(Err(gap))) => {
                tracing::debug!(error = %gap, "revocations: subscription gap; resynchronising");
            }
            Some(None) => {
                tracing::warn!("revocations: subscription ended; subscribing again");
                subscribed = false;
            }
            None => {}
        }
        if !subscribed {
            match revocations.store.subscribe(&channel).await {
                Ok(s) => {
                    subscription = s;
                    subscribed = true;
                }
                Err(e) => tracing::warn!(error = %e, "revocations: cannot subscribe"),
            }
        }
        // Retry soon after a failure, so the mirror is fresh again as soon
        // as the store answers.
        next_resync = match revocations.resync().await {
            Ok(()) => tokio::time::Instant::now() + every,
            Err(e) => {
                tracing::warn!(error = %e, "revocations: resync failed");
                tokio::time::Instant::now() + every.min(Duration::from_secs(1))
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryStore;

    #[test]
    fn messages_round_trip_and_junk_is_ignored() {
        for (kind, instant, id) in [
            ('t', 5, "jti-1"),
            ('s', u64::MAX, "user with spaces"),
            ('t', 0, ""),
        ] {
            assert_eq!(
                decode(&encode(kind, instant, id)),
                Some((kind, instant, id.to_owned()))
            );
        }
        for junk in [&b""[..], b"t", b"t x id", b"t 5", &[0xff, 0xfe]] {
            assert_eq!(decode(junk), None, "{junk:?}");
        }
    }

    async fn started() -> (Arc<dyn StateStore>, Arc<Revocations>) {
        let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
        let r = Revocations::start(Arc::clone(&store), RevocationOptions::default())
            .await
            .unwrap();
        (store, r)
    }

    #[tokio::test]
    async fn tokens_and_subjects_are_refused_and_others_are_not() {
        let (_, r) = started().await;
        let now = now_secs();
        r.revoke_token("a", now + 60).await.unwrap();
        r.revoke_subject("bob", now).await.unwrap();
        for (jti, sub, iat, refused) in [
            (Some("a"), "ada", Some(now), true),
            (Some("b"), "ada", Some(now), false),
            (None, "ada", None, false),
            (Some("c"), "bob", Some(now - 10), true),
            (Some("c"), "bob", None, true),
            (Some("c"), "bob", Some(now), false),
            (Some("c"), "bobby", Some(0), false),
        ] {
            assert_eq!(
                r.check(jti, sub, iat).is_err(),
                refused,
                "{jti:?} {sub} {iat:?}"
            );
        }
        // An earlier subject revocation does not move the instant back.
        r.revoke_subject("bob", now - 100).await.unwrap();
        assert!(r.check(None, "bob", Some(now - 10)).is_err());
        // A token already expired is not stored at all.
        r.revoke_token("old", now - 1).await.unwrap();
        assert!(r.check(Some("old"), "ada", Some(now)).is_ok());
    }

    #[tokio::test]
    async fn a_second_mirror_on_the_same_store_learns_by_message_and_by_resync() {
        let (store, a) = started().await;
        let now = now_secs();
        a.revoke_token("early", now + 60).await.unwrap();
        // Started after: reads it in its first resync.
        let b = Revocations::start(Arc::clone(&store), RevocationOptions::default())
            .await
            .unwrap();
        assert!(b.check(Some("early"), "x", Some(now)).is_err());
        // Published after: arrives by message.
        a.revoke_subject("eve", now).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while b.check(None, "eve", Some(now - 1)).is_ok() {
            assert!(tokio::time::Instant::now() < deadline, "never delivered");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    use crate::store::tests::Down;

    #[tokio::test]
    async fn an_unreachable_store_fails_start_up_and_a_stale_mirror_answers_503() {
        let err = Revocations::start(Arc::new(Down), RevocationOptions::default())
            .await
            .unwrap_err();
        assert!(err.is_transient());
        // A store without scan cannot back a mirror: a configuration error.
        struct NoScan(MemoryStore);
        #[async_trait::async_trait]
        impl StateStore for NoScan {
            async fn set_if_absent(
                &self,
                k: &str,
                v: &[u8],
                t: Duration,
            ) -> Result<bool, StoreError> {
                self.0.set_if_absent(k, v, t).await
            }
            async fn get(&self, k: &str) -> Result<Option<crate::Entry>, StoreError> {
                self.0.get(k).await
            }
            async fn take(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
                self.0.take(k).await
            }
            async fn delete(&self, k: &str) -> Result<bool, StoreError> {
                self.0.delete(k).await
            }
            async fn increment(&self, k: &str, w: Duration) -> Result<crate::Count, StoreError> {
                self.0.increment(k, w).await
            }
            async fn raise(&self, k: &str, v: u64, t: Duration) -> Result<bool, StoreError> {
                self.0.raise(k, v, t).await
            }
            async fn publish(&self, c: &str, m: &[u8]) -> Result<(), StoreError> {
                self.0.publish(c, m).await
            }
            async fn subscribe(&self, c: &str) -> Result<crate::Subscription, StoreError> {
                self.0.subscribe(c).await
            }
        }
        let err = Revocations::start(
            Arc::new(NoScan(MemoryStore::new())),
            RevocationOptions::default(),
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, StoreError::Unsupported { operation: "scan" }),
            "{err}"
        );
        assert!(!err.is_transient());

        // A mirror that was fresh goes stale past the bound: 503, fail closed.
        let (_, r) = started().await;
        assert!(r.is_fresh());
        r.fresh_until.store(monotonic_ms(), Ordering::Release);
        let stale = r.check(Some("any"), "ada", Some(now_secs())).unwrap_err();
        assert_eq!(stale.status().as_u16(), 503);
        assert!(stale.retry_after().is_some());
    }

    /// A store whose scan can be held after it has read (a slow resync),
    /// and whose messages are lost: only the mirror's own bookkeeping keeps
    /// a revocation made while a resync reads.
    struct HeldScan {
        inner: MemoryStore,
        hold: std::sync::atomic::AtomicBool,
        read: tokio::sync::Notify,
        release: tokio::sync::Notify,
    }

    #[async_trait::async_trait]
    impl StateStore for HeldScan {
        async fn set_if_absent(&self, k: &str, v: &[u8], t: Duration) -> Result<bool, StoreError> {
            self.inner.set_if_absent(k, v, t).await
        }
        async fn get(&self, k: &str) -> Result<Option<crate::Entry>, StoreError> {
            self.inner.get(k).await
        }
        async fn take(&self, k: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.take(k).await
        }
        async fn delete(&self, k: &str) -> Result<bool, StoreError> {
            self.inner.delete(k).await
        }
        async fn increment(&self, k: &str, w: Duration) -> Result<crate::Count, StoreError> {
            self.inner.increment(k, w).await
        }
        async fn raise(&self, k: &str, v: u64, t: Duration) -> Result<bool, StoreError> {
            self.inner.raise(k, v, t).await
        }
        async fn publish(&self, _: &str, _: &[u8]) -> Result<(), StoreError> {
            Ok(())
        }
        async fn subscribe(&self, c: &str) -> Result<crate::Subscription, StoreError> {
            self.inner.subscribe(c).await
        }
        async fn scan(&self, prefix: &str) -> Result<Vec<(String, crate::Entry)>, StoreError> {
            let entries = self.inner.scan(prefix).await;
            if self.hold.swap(false, Ordering::SeqCst) {
                self.read.notify_one();
                self.release.notified().await;
            }
            entries
        }
    }

    #[tokio::test]
    async fn a_revocation_made_while_a_resync_reads_is_kept() {
        let store = Arc::new(HeldScan {
            inner: MemoryStore::new(),
            hold: std::sync::atomic::AtomicBool::new(false),
            read: tokio::sync::Notify::new(),
            release: tokio::sync::Notify::new(),
        });
        let r = Revocations::start(store.clone(), RevocationOptions::default())
            .await
            .unwrap();
        let now = now_secs();
        for (n, (jti, subject)) in [("late", "eve"), ("later", "mallory")]
            .into_iter()
            .enumerate()
        {
            store.hold.store(true, Ordering::SeqCst);
            let resync = tokio::spawn({
                let r = Arc::clone(&r);
                async move { r.resync().await }
            });
            // The resync has read the store; these land before it replaces
            // the mirror with what it read.
            store.read.notified().await;
            r.revoke_token(jti, now + 60).await.unwrap();
            r.revoke_subject(subject, now).await.unwrap();
            store.release.notify_one();
            resync.await.unwrap().unwrap();
            assert!(r.check(Some(jti), "x", Some(now)).is_err(), "round {n}");
            assert!(r.check(None, subject, Some(now - 1)).is_err(), "round {n}");
            assert!(r.check(Some("other"), "x", Some(now)).is_ok());
        }
        // The next resync reads them from the store.
        r.resync().await.unwrap();
        assert!(r.check(Some("late"), "x", Some(now)).is_err());
        assert!(r.check(None, "eve", Some(now - 1)).is_err());
    }

    #[test]
    fn resync_every_is_kept_within_its_bounds() {
        for (given, kept) in [
            (Duration::ZERO, Duration::from_millis(10)),
            (Duration::from_secs(3), Duration::from_secs(3)),
            (Duration::from_secs(24 * 3600 + 1), MAX_RESYNC_EVERY),
            (Duration::MAX, MAX_RESYNC_EVERY),
        ] {
            let options = RevocationOptions::default().resync_every(given);
            assert_eq!(options.resync_every, kept, "{given:?}");
        }
    }
}
