//! The store seam: [`StateStore`], its errors and the in-memory default.
//! The design and how each operation maps onto Redis and SQL is documented
//! on the trait, where the public docs show it.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::Stream;
use futures_util::stream::BoxStream;
use tokio::sync::broadcast;

use crate::AuthError;
use crate::clock::{Clock, SystemClock, deadline};

/// The error a backend's driver gave, kept as [`StoreError`]'s `source()`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a [`StateStore`] operation failed.
///
/// Transient failures (the backend is down, slow or full) are 503s with
/// `Retry-After` when converted into an [`AuthError`]; malformed data is a
/// 500 whose message is logged, never sent. The driver's error stays
/// available through [`source()`](std::error::Error::source).
///
/// ```
/// use std::error::Error as _;
/// use auth_core::{AuthError, StoreError};
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
/// let err = StoreError::unavailable_with("cannot reach redis", io);
/// assert!(err.is_transient());
/// assert_eq!(err.to_string(), "state store unavailable: cannot reach redis");
/// assert_eq!(err.source().unwrap().to_string(), "refused");
/// assert_eq!(AuthError::from(err).status().as_u16(), 503);
/// assert_eq!(AuthError::from(StoreError::malformed("counter is not a number")).status().as_u16(), 500);
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend cannot be reached or refused the operation (connection
    /// lost, pool exhausted, server error).
    #[error("state store unavailable: {message}")]
    Unavailable {
        /// What failed; may name a host, so it is logged, never sent.
        message: Cow<'static, str>,
        /// The driver's error.
        #[source]
        source: Option<BoxError>,
    },
    /// The backend did not answer in time.
    #[error("state store did not answer within {after:?}")]
    Timeout {
        /// How long the caller waited.
        after: Duration,
        /// The driver's error, if it produced one.
        #[source]
        source: Option<BoxError>,
    },
    /// A bounded store holds as many live entries as it may; a new key is
    /// refused rather than evicting one that somebody relies on (a spent
    /// refresh token, a nonce count).
    #[error("state store is full: {capacity} live entries")]
    Full {
        /// The bound.
        capacity: usize,
    },
    /// A value is not what the operation expects (a counter that is not a
    /// number, a record that does not deserialise): a bug or a foreign
    /// writer on the same keys.
    #[error("state store holds malformed data: {message}")]
    Malformed {
        /// What was expected; never the value itself.
        message: Cow<'static, str>,
        /// The parser's error.
        #[source]
        source: Option<BoxError>,
    },
    /// A [`Subscription`] missed messages (a slow reader, a reconnect):
    /// whoever mirrors state from it must resynchronise.
    #[error("subscription missed {missed} message(s); resynchronise")]
    Lagged {
        /// How many were missed, at least (0 when the backend cannot tell).
        missed: u64,
    },
    /// The backend does not offer this operation (a configuration error).
    #[error("this state store does not support {operation}")]
    Unsupported {
        /// The operation, e.g. `scan`.
        operation: &'static str,
    },
}

impl StoreError {
    /// [`Unavailable`](StoreError::Unavailable) without a source.
    pub fn unavailable(message: impl Into<Cow<'static, str>>) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: None,
        }
    }

    /// [`Unavailable`](StoreError::Unavailable) keeping the driver's error.
    pub fn unavailable_with(
        message: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        StoreError::Unavailable {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// [`Timeout`](StoreError::Timeout) after waiting `after`.
    pub fn timeout(after: Duration) -> Self {
        StoreError::Timeout {
            after,
            source: None,
        }
    }

    /// [`Malformed`](StoreError::Malformed) without a source.
    pub fn malformed(message: impl Into<Cow<'static, str>>) -> Self {
        StoreError::Malformed {
            message: message.into(),
            source: None,
        }
    }

    /// [`Malformed`](StoreError::Malformed) keeping the parser's error.
    pub fn malformed_with(
        message: impl Into<Cow<'static, str>>,
        source: impl Into<BoxError>,
    ) -> Self {
        StoreError::Malformed {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// Whether retrying later may succeed: the backend is down, slow or
    /// full (a 503), as opposed to holding bad data (a 500).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            StoreError::Malformed { .. } | StoreError::Unsupported { .. }
        )
    }
}

impl From<StoreError> for AuthError {
    /// Transient failures become 503 with `Retry-After: 1`, bad data a 500;
    /// the store's own message (hosts, keys) is logged here and never sent.
    fn from(e: StoreError) -> Self {
        if e.is_transient() {
            tracing::warn!(error = %e, "state store failed; answering 503");
            AuthError::Unavailable {
                message: "authentication state is temporarily unavailable".into(),
                retry_after: Some(Duration::from_secs(1)),
            }
        } else {
            tracing::error!(error = %e, "state store holds malformed data");
            AuthError::Internal {
                message: e.to_string().into(),
            }
        }
    }
}

/// A value read by [`StateStore::get`], with the time it has left.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Entry {
    /// The bytes stored (ASCII decimal for counters).
    pub value: Vec<u8>,
    /// How long until it expires.
    pub ttl: Duration,
}

impl Entry {
    /// An entry (for backends).
    pub fn new(value: Vec<u8>, ttl: Duration) -> Self {
        Entry { value, ttl }
    }

    /// The value as a counter written by [`StateStore::increment`] or
    /// [`StateStore::raise`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_core::Entry;
    /// assert_eq!(Entry::new(b"42".to_vec(), Duration::from_secs(1)).as_count().unwrap(), 42);
    /// assert!(Entry::new(b"x".to_vec(), Duration::from_secs(1)).as_count().is_err());
    /// ```
    pub fn as_count(&self) -> Result<u64, StoreError> {
        parse_count(&self.value)
    }
}

/// A counter's value after [`StateStore::increment`], and the time left in
/// its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Count {
    /// The count, 1 for the first increment of a window.
    pub value: u64,
    /// How long until the window closes and the count starts again.
    pub ttl: Duration,
}

impl Count {
    /// A count (for backends).
    pub fn new(value: u64, ttl: Duration) -> Self {
        Count { value, ttl }
    }
}

fn parse_count(bytes: &[u8]) -> Result<u64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| StoreError::malformed("a counter is not an unsigned decimal number"))
}

/// Messages published on one channel, as [`StateStore::subscribe`] returns
/// them; a [`Stream`] of `Result<Vec<u8>, StoreError>`, where
/// `Err(`[`StoreError::Lagged`]`)` marks a gap. Ends when the backend closes
/// the channel.
pub struct Subscription {
    inner: BoxStream<'static, Result<Vec<u8>, StoreError>>,
}

impl fmt::Debug for Subscription {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Subscription").finish_non_exhaustive()
    }
}

impl Subscription {
    /// A subscription reading `stream` (for backends).
    pub fn new(stream: impl Stream<Item = Result<Vec<u8>, StoreError>> + Send + 'static) -> Self {
        Subscription {
            inner: Box::pin(stream),
        }
    }

    /// The next message; `None` once the channel is closed.
    pub async fn recv(&mut self) -> Option<Result<Vec<u8>, StoreError>> {
        futures_util::StreamExt::next(&mut self.inner).await
    }
}

impl Stream for Subscription {
    type Item = Result<Vec<u8>, StoreError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}

/// Where authentication keeps state between requests: one atomic round
/// trip per operation, every entry with an expiry.
///
/// JWT verification is stateless; what is not (refresh-token families,
/// brute-force counters, Digest nonce counts, and next revocation lists,
/// opaque tokens and OAuth 2.0 `state`) goes through one object-safe trait,
/// this one, used as `Arc<dyn StateStore>`. [`MemoryStore`] is the
/// default for one process; a shared backend makes several instances
/// behind a load balancer agree.
///
/// # The operations, and why these
///
/// Every stateful part of the workspace reduces to a handful of atomic
/// operations on a key with an expiry:
///
/// | operation | used for | Redis (one round trip) | SQL via sqlx (one statement) |
/// |---|---|---|---|
/// | [`set_if_absent`](StateStore::set_if_absent) | issuing a refresh token, marking one spent (the first of two concurrent refreshes wins), revoking a family | `SET k v NX PX ttl` | `INSERT .. ON CONFLICT (k) DO UPDATE .. WHERE expired RETURNING k` |
/// | [`get`](StateStore::get) | reading a record, a counter before checking it | `GET k` + `PTTL k` in one pipeline (or a script) | `SELECT v, expires_at .. WHERE k = $1 AND expires_at > $now` |
/// | [`take`](StateStore::take) | once-only values (authorization codes, `state`) | `GETDEL k` (Redis 6.2) | `DELETE .. WHERE k = $1 RETURNING v, expires_at` |
/// | [`delete`](StateStore::delete) | forgetting a count after a success | `DEL k` | `DELETE .. WHERE k = $1` |
/// | [`increment`](StateStore::increment) | brute-force counters (the window starts at the first failure) | `MULTI INCR k; PEXPIRE k w NX; PTTL k EXEC` (Redis 7), or a Lua script | `INSERT .. ON CONFLICT DO UPDATE SET n = CASE WHEN expired THEN 1 ELSE n + 1 END .. RETURNING n, expires_at` |
/// | [`raise`](StateStore::raise) | Digest nonce counts: accepted only when strictly greater than every count seen | a Lua script (`GET`, compare, `SET PX`), run with `EVALSHA` | `INSERT .. ON CONFLICT DO UPDATE .. WHERE old < new OR expired RETURNING k` |
/// | [`publish`](StateStore::publish) / [`subscribe`](StateStore::subscribe) | invalidations: a revocation made on one instance reaches the others' local mirrors | `PUBLISH` / `SUBSCRIBE` on a dedicated connection | PostgreSQL `NOTIFY` / `LISTEN` (sqlx `PgListener`) |
///
/// Design decisions, read against the redis crate's and sqlx's docs:
///
/// - **One round trip, atomic.** Each operation maps to one command, one
///   `MULTI`/`EXEC` pipeline (the redis crate's `pipe().atomic()`), one Lua
///   script (`redis::Script`, `EVALSHA` with an `EVAL` fallback) or one SQL
///   statement with `ON CONFLICT` / `RETURNING` (PostgreSQL, SQLite ≥ 3.35).
///   Nothing here is a read followed by a dependent write, which would race
///   between instances. That is why the nonce count is [`raise`] and not
///   `get` then `set`: "greater than the last one" must be decided where the
///   value lives.
/// - **Relative expiry, decided by the store.** Every write carries a ttl
///   (`PX`; in SQL `expires_at = now + ttl` with `now` from the application's
///   [`Clock`], so SQLite needs no server clock); a read reports the time
///   left (`PTTL`), never an absolute instant, so instances whose clocks
///   disagree still agree on windows. Nothing is stored forever.
/// - **Bytes in, bytes out.** Values are opaque bytes (`SET` takes bytes, SQL
///   a `BYTEA`/`BLOB` column); callers serialise. A counter written by
///   [`increment`] or [`raise`] reads back through [`get`] as ASCII decimal,
///   which is what Redis `INCR` stores.
/// - **Keys are namespaced by the caller** (`guard:`, `refresh:`, `digest:`);
///   a backend adds its own configurable prefix, so several applications
///   share one Redis.
/// - **Pub/sub may lose messages.** Redis pub/sub is at-most-once and a
///   `PgListener` drops notifications sent while it reconnects; a broadcast
///   channel drops the oldest for a slow reader. A [`Subscription`] reports
///   such a gap as [`StoreError::Lagged`], so a local mirror knows to
///   resynchronise rather than trust itself.
/// - **Errors say what kind of failure.** [`StoreError`] tells an outage
///   ([`Unavailable`](StoreError::Unavailable),
///   [`Timeout`](StoreError::Timeout), [`Full`](StoreError::Full):
///   [`is_transient`](StoreError::is_transient), 503) from bad data
///   ([`Malformed`](StoreError::Malformed), a bug or a foreign writer: 500),
///   and keeps the driver's error as its `source()`. Each use decides its
///   failure policy (refresh fails closed).
/// - **Proved on SQL already**: the todo example keeps its refresh tokens in
///   a `StateStore` on its SQLite/PostgreSQL database
///   (`examples/todo/src/state_store.rs`, one statement per operation).
/// - **Object-safe**: `async_trait`, borrowed arguments, owned results, no
///   generic methods, so `Arc<dyn StateStore>` is the one type every part
///   takes.
///
/// [`raise`]: StateStore::raise
/// [`increment`]: StateStore::increment
/// [`get`]: StateStore::get
///
/// ```
/// use std::time::Duration;
/// use auth_core::{MemoryStore, StateStore};
/// # actix_web::rt::System::new().block_on(async {
/// let store = MemoryStore::new();
/// assert!(store.set_if_absent("code:abc", b"ada", Duration::from_secs(60)).await.unwrap());
/// assert!(!store.set_if_absent("code:abc", b"eve", Duration::from_secs(60)).await.unwrap());
/// assert_eq!(store.take("code:abc").await.unwrap().as_deref(), Some(&b"ada"[..]));
/// assert_eq!(store.take("code:abc").await.unwrap(), None); // once only
/// # });
/// ```
///
/// Implementations must make each method atomic with respect to every
/// other caller, in this process and in others sharing the backend.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use auth_core::{ManualClock, MemoryStore, StateStore};
/// # actix_web::rt::System::new().block_on(async {
/// let clock = ManualClock::new(0);
/// let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone())));
/// let window = Duration::from_secs(60);
/// assert_eq!(store.increment("guard:user:ada", window).await.unwrap().value, 1);
/// clock.advance(Duration::from_secs(20));
/// let count = store.increment("guard:user:ada", window).await.unwrap();
/// assert_eq!((count.value, count.ttl), (2, Duration::from_secs(40)));
/// clock.advance(Duration::from_secs(40));
/// assert_eq!(store.get("guard:user:ada").await.unwrap(), None); // the window closed
/// # });
/// ```
#[async_trait::async_trait]
pub trait StateStore: Send + Sync + 'static {
    /// Stores `value` under `key` for `ttl` unless a live entry exists.
    /// `true` when this call stored it; of several concurrent callers
    /// exactly one gets `true`.
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError>;

    /// The live entry under `key`, with the time it has left.
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError>;

    /// Removes the entry under `key` and returns its value: of several
    /// concurrent callers at most one gets `Some`.
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Removes the entry under `key`; `true` when a live one was removed.
    async fn delete(&self, key: &str) -> Result<bool, StoreError>;

    /// Adds one to the counter under `key` and returns the new count. The
    /// first increment (of an absent or expired key) starts a window of
    /// `window`; later ones keep its end, so the count restarts at 1 once
    /// `window` has passed since the first.
    async fn increment(&self, key: &str, window: Duration) -> Result<Count, StoreError>;

    /// Sets the counter under `key` to `value` if that is greater than the
    /// stored one, or if there is none; the entry then lives `ttl` from now.
    /// `false` (and nothing changed) when `value` is not greater.
    async fn raise(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError>;

    /// Sends `message` to every current subscriber of `channel`, in this
    /// process and in others on the backend. At most once: a subscriber
    /// that is not connected misses it (and learns so, see [`Subscription`]).
    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError>;

    /// Receives the messages published on `channel` from now on.
    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError>;

    /// Every live entry whose key starts with `prefix`, for a local mirror
    /// to resynchronise from (see [`Revocations`](crate::Revocations)).
    /// Not for the request path: on Redis it is a `SCAN` (several round
    /// trips, never blocking the server), in SQL a range query. Stores that
    /// cannot list keys answer [`StoreError::Unsupported`], the default.
    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        let _ = prefix;
        Err(StoreError::Unsupported { operation: "scan" })
    }

    /// Adds `member` to the set under `key`, live for `ttl` from now (adding
    /// it again moves its end). Sets are a namespace of their own: `key`
    /// names no [`get`](Self::get) entry. For small per-owner indexes (a
    /// user's tokens or API keys) that the request path reads whole, where
    /// [`scan`](Self::scan) would walk every key: a Redis sorted set scored
    /// by expiry, in SQL a row per member. Stores without sets answer
    /// [`StoreError::Unsupported`], the default, and callers fall back.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_core::{MemoryStore, StateStore};
    /// # actix_web::rt::System::new().block_on(async {
    /// let store = MemoryStore::new();
    /// store.add_member("tokens:ada", "t1", Duration::from_secs(60)).await.unwrap();
    /// store.add_member("tokens:ada", "t2", Duration::from_secs(60)).await.unwrap();
    /// let mut members = store.members("tokens:ada").await.unwrap();
    /// members.sort();
    /// assert_eq!(members, ["t1", "t2"]);
    /// assert!(store.remove_member("tokens:ada", "t1").await.unwrap());
    /// assert_eq!(store.members("tokens:ada").await.unwrap(), ["t2"]);
    /// # });
    /// ```
    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let _ = (key, member, ttl);
        Err(StoreError::Unsupported {
            operation: "add_member",
        })
    }

    /// The live members of the set under `key`, in no particular order
    /// (none for a set never written).
    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        let _ = key;
        Err(StoreError::Unsupported {
            operation: "members",
        })
    }

    /// Removes `member` from the set under `key`; `true` when it was a live
    /// member.
    async fn remove_member(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        let _ = (key, member);
        Err(StoreError::Unsupported {
            operation: "remove_member",
        })
    }
}

/// How many live entries a [`MemoryStore`] holds by default.
pub const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

/// How many unread messages a [`MemoryStore`] subscription buffers before
/// it reports [`StoreError::Lagged`].
const CHANNEL_CAPACITY: usize = 1024;

/// A [`StateStore`] in process memory: the default for one instance.
///
/// Bounded: at most `capacity` live entries (100 000 by default); expired
/// entries are purged on every operation, oldest deadline first, and a new
/// key beyond the bound is refused with [`StoreError::Full`] instead of
/// evicting somebody's live entry. Publish/subscribe uses a tokio broadcast
/// channel per channel name, reaching the subscribers of this store (and of
/// its clones, which share everything).
///
/// Each part of the workspace that needs state gets its own `MemoryStore`
/// unless it is given one, so a flood filling the brute-force counters
/// cannot crowd out refresh tokens.
///
/// ```
/// use std::time::Duration;
/// use auth_core::{MemoryStore, StateStore, StoreError};
/// # actix_web::rt::System::new().block_on(async {
/// let store = MemoryStore::with_capacity(1);
/// store.set_if_absent("a", b"1", Duration::from_secs(9)).await.unwrap();
/// let full = store.set_if_absent("b", b"2", Duration::from_secs(9)).await.unwrap_err();
/// assert!(matches!(full, StoreError::Full { capacity: 1 }));
/// # });
/// ```
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    clock: Arc<dyn Clock>,
    entries: Mutex<Entries>,
    channels: Mutex<HashMap<String, broadcast::Sender<Arc<[u8]>>>>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<Arc<str>, Slot>,
    /// (deadline, key) of every entry, so expired ones leave in order.
    deadlines: BTreeSet<(u64, Arc<str>)>,
    /// Set members, (set key, member) → deadline: ordered, so that one
    /// set's members are a range.
    members: BTreeMap<(Arc<str>, Arc<str>), u64>,
    /// (deadline, set key, member) of every member.
    member_deadlines: BTreeSet<(u64, Arc<str>, Arc<str>)>,
}

struct Slot {
    value: Vec<u8>,
    expires_at: u64,
}

impl Entries {
    fn purge(&mut self, now: u64) {
        while let Some((at, _)) = self.deadlines.first() {
            if *at > now {
                break;
            }
            if let Some((_, key)) = self.deadlines.pop_first() {
                self.map.remove(&key);
            }
        }
        while let Some((at, ..)) = self.member_deadlines.first() {
            if *at > now {
                break;
            }
            if let Some((_, set, member)) = self.member_deadlines.pop_first() {
                self.members.remove(&(set, member));
            }
        }
    }

    /// Live entries and set members, which share the bound.
    fn len(&self) -> usize {
        self.map.len() + self.members.len()
    }

    fn remove_member(&mut self, set: &str, member: &str) -> bool {
        let key = (Arc::<str>::from(set), Arc::<str>::from(member));
        match self.members.remove(&key) {
            Some(at) => {
                self.member_deadlines.remove(&(at, key.0, key.1));
                true
            }
            None => false,
        }
    }

    fn live(&self, key: &str) -> Option<&Slot> {
        self.map.get(key)
    }

    fn remove(&mut self, key: &str) -> Option<Slot> {
        let (key, slot) = self.map.remove_entry(key)?;
        self.deadlines.remove(&(slot.expires_at, key));
        Some(slot)
    }

    /// Inserts or replaces; `Err(Full)` when `key` is new and the bound is reached.
    fn put(
        &mut self,
        key: &str,
        value: Vec<u8>,
        expires_at: u64,
        capacity: usize,
    ) -> Result<(), StoreError> {
        if self.remove(key).is_none() && self.len() >= capacity {
            return Err(StoreError::Full { capacity });
        }
        let key: Arc<str> = Arc::from(key);
        self.deadlines.insert((expires_at, Arc::clone(&key)));
        self.map.insert(key, Slot { value, expires_at });
        Ok(())
    }
}

impl fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.shared.capacity)
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store of [`DEFAULT_MEMORY_CAPACITY`] entries on the system clock.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_MEMORY_CAPACITY)
    }

    /// An empty store of at most `capacity` live entries (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        MemoryStore {
            shared: Arc::new(Shared {
                capacity: capacity.max(1),
                clock: Arc::new(SystemClock),
                entries: Mutex::new(Entries::default()),
                channels: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// This store reading time from `clock` (tests use a
    /// [`ManualClock`](crate::ManualClock)); call it while building, before
    /// cloning. Entries already stored keep their deadlines.
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        let entries = std::mem::take(&mut *lock(&self.shared.entries));
        MemoryStore {
            shared: Arc::new(Shared {
                capacity: self.shared.capacity,
                clock,
                entries: Mutex::new(entries),
                channels: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The bound on live entries.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// How many live entries the store holds.
    pub fn len(&self) -> usize {
        let now = self.shared.clock.now_ms();
        let mut entries = lock(&self.shared.entries);
        entries.purge(now);
        entries.len()
    }

    /// Whether the store holds no live entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `f` on the entries with the expired ones purged, and "now".
    fn with_entries<T>(&self, f: impl FnOnce(&mut Entries, u64) -> T) -> T {
        let now = self.shared.clock.now_ms();
        let mut entries = lock(&self.shared.entries);
        entries.purge(now);
        f(&mut entries, now)
    }
}

/// A poisoned lock only means another thread panicked mid-operation; every
/// operation leaves the maps consistent before it can panic, so go on.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn remaining(expires_at: u64, now: u64) -> Duration {
    Duration::from_millis(expires_at.saturating_sub(now))
}

#[async_trait::async_trait]
impl StateStore for MemoryStore {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let capacity = self.shared.capacity;
        self.with_entries(|e, now| {
            if e.live(key).is_some() {
                return Ok(false);
            }
            e.put(key, value.to_vec(), deadline(now, ttl), capacity)?;
            Ok(true)
        })
    }

    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        Ok(self.with_entries(|e, now| {
            e.live(key)
                .map(|s| Entry::new(s.value.clone(), remaining(s.expires_at, now)))
        }))
    }

    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.with_entries(|e, _| e.remove(key).map(|s| s.value)))
    }

    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.with_entries(|e, _| e.remove(key).is_some()))
    }

    async fn increment(&self, key: &str, window: Duration) -> Result<Count, StoreError> {
        let capacity = self.shared.capacity;
        self.with_entries(|e, now| {
            let (value, expires_at) = match e.live(key) {
                Some(slot) => (parse_count(&slot.value)?.saturating_add(1), slot.expires_at),
                None => (1, deadline(now, window)),
            };
            e.put(key, value.to_string().into_bytes(), expires_at, capacity)?;
            Ok(Count::new(value, remaining(expires_at, now)))
        })
    }

    async fn raise(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        let capacity = self.shared.capacity;
        self.with_entries(|e, now| {
            if let Some(slot) = e.live(key)
                && parse_count(&slot.value)? >= value
            {
                return Ok(false);
            }
            e.put(
                key,
                value.to_string().into_bytes(),
                deadline(now, ttl),
                capacity,
            )?;
            Ok(true)
        })
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        let mut channels = lock(&self.shared.channels);
        if let Some(sender) = channels.get(channel) {
            // An error only means nobody listens any more: forget the channel.
            if sender.send(Arc::from(message)).is_err() {
                channels.remove(channel);
            }
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        let receiver = lock(&self.shared.channels)
            .entry(channel.to_owned())
            .or_insert_with(|| broadcast::channel(CHANNEL_CAPACITY).0)
            .subscribe();
        let stream = futures_util::stream::unfold(receiver, |mut rx| async move {
            let item = match rx.recv().await {
                Ok(message) => Ok(message.to_vec()),
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    Err(StoreError::Lagged { missed })
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((item, rx))
        });
        Ok(Subscription::new(stream))
    }

    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        Ok(self.with_entries(|e, now| {
            e.map
                .iter()
                .filter(|(key, _)| key.starts_with(prefix))
                .map(|(key, slot)| {
                    (
                        key.to_string(),
                        Entry::new(slot.value.clone(), remaining(slot.expires_at, now)),
                    )
                })
                .collect()
        }))
    }
    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        let capacity = self.shared.capacity;
        self.with_entries(|e, now| {
            if !e.remove_member(key, member) && e.len() >= capacity {
                return Err(StoreError::Full { capacity });
            }
            let at = deadline(now, ttl);
            let (set, member) = (Arc::<str>::from(key), Arc::<str>::from(member));
            e.member_deadlines
                .insert((at, Arc::clone(&set), Arc::clone(&member)));
            e.members.insert((set, member), at);
            Ok(())
        })
    }

    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        Ok(self.with_entries(|e, _| {
            let set: Arc<str> = Arc::from(key);
            let from = (Arc::clone(&set), Arc::<str>::from(""));
            e.members
                .range(from..)
                .take_while(|((s, _), _)| *s == set)
                .map(|((_, member), _)| member.to_string())
                .collect()
        }))
    }

    async fn remove_member(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        Ok(self.with_entries(|e, _| e.remove_member(key, member)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ManualClock;

    /// A store that is down: every operation fails (an outage with a
    /// timeout on reads), for the callers' failure policies.
    pub(crate) struct Down;

    #[async_trait::async_trait]
    impl StateStore for Down {
        async fn set_if_absent(&self, _: &str, _: &[u8], _: Duration) -> Result<bool, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn get(&self, _: &str) -> Result<Option<Entry>, StoreError> {
            Err(StoreError::timeout(Duration::from_secs(1)))
        }
        async fn take(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn delete(&self, _: &str) -> Result<bool, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn increment(&self, _: &str, _: Duration) -> Result<Count, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn raise(&self, _: &str, _: u64, _: Duration) -> Result<bool, StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn publish(&self, _: &str, _: &[u8]) -> Result<(), StoreError> {
            Err(StoreError::unavailable("down"))
        }
        async fn subscribe(&self, _: &str) -> Result<Subscription, StoreError> {
            Err(StoreError::unavailable("down"))
        }
    }

    const MIN: Duration = Duration::from_secs(60);

    fn store_at(ms: u64) -> (MemoryStore, ManualClock) {
        let clock = ManualClock::new(ms);
        let store = MemoryStore::new().with_clock(Arc::new(clock.clone()));
        (store, clock)
    }

    #[tokio::test]
    async fn entries_expire_when_the_manual_clock_passes_their_ttl() {
        let (store, clock) = store_at(1_000);
        assert!(store.set_if_absent("k", b"v", MIN).await.unwrap());
        clock.advance(Duration::from_secs(59));
        let entry = store.get("k").await.unwrap().unwrap();
        assert_eq!(entry.value, b"v");
        assert_eq!(entry.ttl, Duration::from_secs(1));
        clock.advance(Duration::from_secs(1));
        assert_eq!(store.get("k").await.unwrap(), None);
        assert_eq!(store.take("k").await.unwrap(), None);
        assert!(!store.delete("k").await.unwrap());
        // An expired key is absent: it can be set again.
        assert!(store.set_if_absent("k", b"w", MIN).await.unwrap());
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn a_zero_ttl_still_expires() {
        let (store, clock) = store_at(0);
        assert!(
            store
                .set_if_absent("k", b"v", Duration::ZERO)
                .await
                .unwrap()
        );
        clock.advance(Duration::from_millis(1));
        assert!(store.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn set_if_absent_has_exactly_one_winner_under_concurrency() {
        let store = MemoryStore::new();
        for round in 0..20 {
            let key = format!("race:{round}");
            let tasks: Vec<_> = (0..16u8)
                .map(|i| {
                    let store = store.clone();
                    let key = key.clone();
                    tokio::spawn(async move { store.set_if_absent(&key, &[i], MIN).await.unwrap() })
                })
                .collect();
            let mut winners = 0;
            for t in tasks {
                winners += usize::from(t.await.unwrap());
            }
            assert_eq!(winners, 1, "round {round}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn take_is_once_only_under_concurrency() {
        let store = MemoryStore::new();
        for round in 0..20 {
            let key = format!("once:{round}");
            store.set_if_absent(&key, b"code", MIN).await.unwrap();
            let tasks: Vec<_> = (0..16)
                .map(|_| {
                    let store = store.clone();
                    let key = key.clone();
                    tokio::spawn(async move { store.take(&key).await.unwrap() })
                })
                .collect();
            let mut taken = Vec::new();
            for t in tasks {
                taken.extend(t.await.unwrap());
            }
            assert_eq!(taken, vec![b"code".to_vec()], "round {round}");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_increments_are_all_counted() {
        let store = MemoryStore::new();
        let tasks: Vec<_> = (0..64)
            .map(|_| {
                let store = store.clone();
                tokio::spawn(async move { store.increment("n", MIN).await.unwrap().value })
            })
            .collect();
        let mut seen = Vec::new();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort_unstable();
        assert_eq!(seen, (1..=64).collect::<Vec<u64>>());
    }

    #[tokio::test]
    async fn the_increment_window_starts_at_the_first_increment() {
        let (store, clock) = store_at(0);
        assert_eq!(store.increment("n", MIN).await.unwrap(), Count::new(1, MIN));
        clock.advance(Duration::from_secs(45));
        // Later increments do not extend the window.
        let second = store.increment("n", MIN).await.unwrap();
        assert_eq!(second, Count::new(2, Duration::from_secs(15)));
        let entry = store.get("n").await.unwrap().unwrap();
        assert_eq!(entry.as_count().unwrap(), 2);
        clock.advance(Duration::from_secs(15));
        // The window closed: the count starts again, with a new window.
        assert_eq!(store.increment("n", MIN).await.unwrap(), Count::new(1, MIN));
        assert!(store.delete("n").await.unwrap());
        assert_eq!(store.get("n").await.unwrap(), None);
    }

    #[tokio::test]
    async fn incrementing_a_value_that_is_not_a_counter_is_malformed() {
        let (store, _) = store_at(0);
        store.set_if_absent("k", b"record", MIN).await.unwrap();
        let err = store.increment("k", MIN).await.unwrap_err();
        assert!(matches!(err, StoreError::Malformed { .. }));
        assert!(!err.is_transient());
        // Unchanged.
        assert_eq!(store.get("k").await.unwrap().unwrap().value, b"record");
    }

    #[tokio::test]
    async fn raise_accepts_only_greater_values() {
        let (store, clock) = store_at(0);
        assert!(store.raise("nc", 1, MIN).await.unwrap());
        assert!(!store.raise("nc", 1, MIN).await.unwrap());
        assert!(store.raise("nc", 5, MIN).await.unwrap());
        assert!(!store.raise("nc", 3, MIN).await.unwrap());
        assert_eq!(
            store.get("nc").await.unwrap().unwrap().as_count().unwrap(),
            5
        );
        clock.advance(MIN);
        // Expired: any value is new again.
        assert!(store.raise("nc", 1, MIN).await.unwrap());
    }

    #[tokio::test]
    async fn set_members_expire_alone_and_share_the_bound() {
        let (store, clock) = store_at(0);
        store.add_member("s:a", "x", MIN).await.unwrap();
        store
            .add_member("s:a", "brief", Duration::from_secs(5))
            .await
            .unwrap();
        // Sets whose keys share a start are apart.
        store.add_member("s:a:b", "y", MIN).await.unwrap();
        store.add_member("s:ab", "z", MIN).await.unwrap();
        store.add_member("s:", "w", MIN).await.unwrap();
        let sorted = |mut v: Vec<String>| {
            v.sort();
            v
        };
        assert_eq!(sorted(store.members("s:a").await.unwrap()), ["brief", "x"]);
        assert_eq!(store.members("s:a:b").await.unwrap(), ["y"]);
        assert_eq!(store.members("s:").await.unwrap(), ["w"]);
        assert!(store.members("s:none").await.unwrap().is_empty());
        assert_eq!(store.get("s:a").await.unwrap(), None, "not an entry");
        assert_eq!(store.len(), 5);
        clock.advance(Duration::from_secs(5));
        assert_eq!(store.members("s:a").await.unwrap(), ["x"]);
        assert!(!store.remove_member("s:a", "brief").await.unwrap());
        // Adding again moves the end, and counts once.
        store.add_member("s:a", "x", MIN * 2).await.unwrap();
        clock.advance(MIN);
        assert_eq!(store.members("s:a").await.unwrap(), ["x"]);
        assert!(store.members("s:a:b").await.unwrap().is_empty());
        assert_eq!(store.len(), 1);
        assert!(store.remove_member("s:a", "x").await.unwrap());
        assert!(store.is_empty());

        // Members and entries share the bound on live items.
        let clock = ManualClock::new(0);
        let small = MemoryStore::with_capacity(2).with_clock(Arc::new(clock.clone()));
        small.add_member("s", "1", MIN).await.unwrap();
        small.set_if_absent("e", b"", MIN).await.unwrap();
        assert!(matches!(
            small.add_member("s", "2", MIN).await,
            Err(StoreError::Full { capacity: 2 })
        ));
        assert!(matches!(
            small.set_if_absent("f", b"", MIN).await,
            Err(StoreError::Full { capacity: 2 })
        ));
        small.add_member("s", "1", MIN * 2).await.unwrap(); // renewing is no new item
        clock.advance(MIN);
        small.add_member("s", "2", MIN).await.unwrap();
        assert_eq!(small.len(), 2);
    }

    #[tokio::test]
    async fn a_full_store_refuses_new_keys_until_entries_expire() {
        let clock = ManualClock::new(0);
        let store = MemoryStore::with_capacity(2).with_clock(Arc::new(clock.clone()));
        store.set_if_absent("a", b"", MIN).await.unwrap();
        store.increment("b", Duration::from_secs(10)).await.unwrap();
        assert!(matches!(
            store.set_if_absent("c", b"", MIN).await,
            Err(StoreError::Full { capacity: 2 })
        ));
        assert!(matches!(
            store.increment("c", MIN).await,
            Err(StoreError::Full { .. })
        ));
        // Existing keys still work when full.
        assert_eq!(
            store
                .increment("b", Duration::from_secs(10))
                .await
                .unwrap()
                .value,
            2
        );
        clock.advance(Duration::from_secs(10));
        assert!(store.set_if_absent("c", b"", MIN).await.unwrap());
        assert_eq!(store.len(), 2);
    }

    #[tokio::test]
    async fn subscribers_receive_what_is_published_after_they_subscribe() {
        let store = MemoryStore::new();
        // Nobody listens yet: not an error, not kept.
        store.publish("revoked", b"early").await.unwrap();
        let mut a = store.subscribe("revoked").await.unwrap();
        let mut b = store.clone().subscribe("revoked").await.unwrap();
        let mut other = store.subscribe("other").await.unwrap();
        store.publish("revoked", b"jti-1").await.unwrap();
        store.publish("revoked", b"jti-2").await.unwrap();
        for sub in [&mut a, &mut b] {
            assert_eq!(sub.recv().await.unwrap().unwrap(), b"jti-1");
            assert_eq!(sub.recv().await.unwrap().unwrap(), b"jti-2");
        }
        let nothing = tokio::time::timeout(Duration::from_millis(20), other.recv()).await;
        assert!(nothing.is_err(), "a message crossed channels");
    }

    #[tokio::test]
    async fn a_slow_subscriber_learns_that_it_missed_messages() {
        let store = MemoryStore::new();
        let mut sub = store.subscribe("c").await.unwrap();
        for i in 0..(CHANNEL_CAPACITY + 5) {
            store.publish("c", i.to_string().as_bytes()).await.unwrap();
        }
        match sub.recv().await.unwrap() {
            Err(StoreError::Lagged { missed }) => assert_eq!(missed, 5),
            other => panic!("expected a gap, got {other:?}"),
        }
        assert_eq!(sub.recv().await.unwrap().unwrap(), b"5");
    }

    #[tokio::test]
    async fn a_dropped_subscription_frees_its_channel() {
        let store = MemoryStore::new();
        drop(store.subscribe("c").await.unwrap());
        store.publish("c", b"x").await.unwrap();
        assert!(lock(&store.shared.channels).is_empty());
    }

    #[test]
    fn the_store_is_usable_as_a_trait_object() {
        fn takes(_: Arc<dyn StateStore>) {}
        takes(Arc::new(MemoryStore::new()));
    }
}
