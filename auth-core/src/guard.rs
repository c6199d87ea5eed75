//! The brute-force guard: failures counted per client address and per
//! username in the store seam; past the limit, 429 with `Retry-After`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::clock::millis;
use crate::{AuthError, Clock, MemoryStore, StateStore, StoreError, SystemClock};
use actix_web::{HttpRequest, HttpResponse};

/// An address or a CIDR block of trusted reverse proxies.
///
/// ```
/// use auth_core::TrustedProxy;
/// let net: TrustedProxy = "10.0.0.0/8".parse().unwrap();
/// assert!(net.contains("10.1.2.3".parse().unwrap()));
/// assert!(!net.contains("11.0.0.1".parse().unwrap()));
/// let one: TrustedProxy = "::1".parse().unwrap();
/// assert!(one.contains("::1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy {
    addr: IpAddr,
    prefix: u8,
}

impl TrustedProxy {
    /// Whether `ip` is inside this block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl From<IpAddr> for TrustedProxy {
    fn from(addr: IpAddr) -> Self {
        TrustedProxy {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }
}

/// Why a trusted-proxy entry could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedProxyError {
    /// Not an IP address or `address/prefix`.
    #[error("'{0}' is not an IP address or CIDR block (write e.g. 10.0.0.0/8 or ::1)")]
    NotAnAddress(String),
    /// The prefix length is not a number up to 32 (IPv4) or 128 (IPv6).
    #[error("'{0}' has an invalid prefix length (at most 32 for IPv4, 128 for IPv6)")]
    BadPrefix(String),
}

impl FromStr for TrustedProxy {
    type Err = TrustedProxyError;
    fn from_str(s: &str) -> Result<Self, TrustedProxyError> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| TrustedProxyError::NotAnAddress(s.to_owned()))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| TrustedProxyError::BadPrefix(s.to_owned()))?,
            None => max,
        };
        Ok(TrustedProxy { addr, prefix })
    }
}

/// What a [`BruteForceGuard`] does while its counter store fails (down,
/// slow past its timeout, or full): [`GuardConfig::on_store_error`].
///
/// The default is [`FailClosed`](Self::FailClosed), secure by default: no
/// password is tried without the shared count, so an outage of the shared
/// store never multiplies an attacker's attempts by the number of
/// instances. An application that prefers logins to keep working during an
/// outage chooses [`LocalFallback`](Self::LocalFallback) explicitly,
/// accepting that the limits then hold per instance.
///
/// ```
/// use auth_core::{GuardConfig, GuardFailurePolicy};
/// assert_eq!(GuardConfig::default().on_store_error, GuardFailurePolicy::FailClosed);
/// let config = GuardConfig {
///     on_store_error: GuardFailurePolicy::LocalFallback,
///     ..GuardConfig::default()
/// };
/// # let _ = config;
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum GuardFailurePolicy {
    /// Refuse every guarded attempt with 503 and `Retry-After: 1` until the
    /// store answers again (the default).
    #[default]
    FailClosed,
    /// Fail open to a per-instance limiter: while the shared store fails,
    /// failures are counted in this instance's memory with the same limits
    /// and window, so each instance still refuses past the limit (429). The
    /// outage is logged once, at `warn`, when it begins, and once, at
    /// `info`, when the store answers again; failures counted locally keep
    /// counting on this instance until their window ends. Several instances
    /// together allow up to N times the limit during an outage.
    LocalFallback,
}

/// Limits and trust settings of a [`BruteForceGuard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failures allowed per client address inside the window. Default 20.
    pub max_failures_per_client: u32,
    /// Failures allowed per username inside the window. Default 5.
    pub max_failures_per_user: u32,
    /// How long failures count, from a key's first failure (a fixed
    /// window). Default 15 minutes.
    pub window: Duration,
    /// Proxies whose `X-Forwarded-For` is believed. Default: none, so the
    /// header is ignored and the peer address counts.
    pub trusted_proxies: Vec<TrustedProxy>,
    /// What to do while the counter store fails. Default
    /// [`GuardFailurePolicy::FailClosed`] (503).
    pub on_store_error: GuardFailurePolicy,
    /// How long this instance repeats a lockout it read from the store
    /// without reading the store again. Default 1 second.
    ///
    /// A locked-out client that keeps trying (a flood of wrong passwords)
    /// then costs one store read per key and per `lockout_cache` on each
    /// instance instead of one or two per attempt, and is refused without
    /// leaving the instance; `Retry-After` still counts down to the end of
    /// the window. The price: a lockout lifted in the store before its
    /// window ends (a counter deleted by an administrator, or a user key
    /// cleared by a successful login on another instance) is still enforced
    /// here for up to this long. A success on this instance clears its own
    /// copy at once. [`Duration::ZERO`] reads the store on every attempt.
    ///
    /// A cached lockout of the client answers whatever the username, with
    /// the client's `Retry-After`; a username locked out for longer is
    /// reported when the client comes back. Each instance caches at most
    /// 10 000 client addresses and 10 000 usernames (names over 256 bytes
    /// never); past that, further lockouts are read from the store on every
    /// attempt until cached ones are due.
    pub lockout_cache: Duration,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_failures_per_client: 20,
            max_failures_per_user: 5,
            window: Duration::from_secs(15 * 60),
            trusted_proxies: Vec::new(),
            on_store_error: GuardFailurePolicy::FailClosed,
            lockout_cache: Duration::from_secs(1),
        }
    }
}

/// How many keys the per-instance fallback counts at most during an
/// outage; past it, a new key is refused by the fallback store and the
/// failure goes uncounted (logged), as with a full [`MemoryStore`].
const FALLBACK_CAPACITY: usize = 100_000;

/// How many client addresses and how many usernames the lockout cache
/// remembers at most, each; past it, lockouts go uncached (read from the
/// store on every attempt) until remembered ones expire.
const LOCKOUT_CAPACITY: usize = 10_000;

struct GuardInner {
    config: GuardConfig,
    store: Arc<dyn StateStore>,
    /// The per-instance counters of [`GuardFailurePolicy::LocalFallback`].
    fallback: MemoryStore,
    /// Whether the shared store failed and has not answered since: the
    /// outage is logged when this turns on and when it turns off.
    degraded: AtomicBool,
    /// Measures [`GuardConfig::lockout_cache`] and the windows of the
    /// cached lockouts (and of the fallback counters).
    clock: Arc<dyn Clock>,
    lockouts: Mutex<Lockouts>,
}

/// Lockouts read from the store recently ([`GuardConfig::lockout_cache`]).
/// std's SipHash with a random key: client addresses and usernames are the
/// client's choice.
#[derive(Default)]
struct Lockouts {
    clients: Bounded<Option<IpAddr>>,
    users: Bounded<Box<str>>,
    /// Counts the successes that cleared a user here: a check that read a
    /// user's lockout before one of them does not cache it after.
    successes: u64,
}

/// Usernames longer than this are not cached (their lockouts are read
/// from the store each time): the cache's memory stays bounded whatever
/// names a client sends.
const MAX_CACHED_USERNAME: usize = 256;

/// A map of at most [`LOCKOUT_CAPACITY`] lockouts.
struct Bounded<K> {
    map: HashMap<K, Lockout>,
    /// When the map was full of live lockouts: no sweep (a scan of the
    /// whole map) before the first of them is due.
    next_sweep_ms: u64,
}

impl<K> Default for Bounded<K> {
    fn default() -> Self {
        Bounded {
            map: HashMap::new(),
            next_sweep_ms: 0,
        }
    }
}

impl<K: std::hash::Hash + Eq> Bounded<K> {
    /// Remembers a lockout, unless the map is full of live ones.
    fn insert(&mut self, key: K, lockout: Lockout, now_ms: u64) {
        if self.map.len() >= LOCKOUT_CAPACITY && !self.map.contains_key(&key) {
            if now_ms < self.next_sweep_ms {
                return;
            }
            self.map.retain(|_, l| l.wait(now_ms).is_some());
            if self.map.len() >= LOCKOUT_CAPACITY {
                self.next_sweep_ms = self
                    .map
                    .values()
                    .map(|l| l.recheck_ms.min(l.until_ms))
                    .min()
                    .unwrap_or(now_ms);
                return;
            }
        }
        self.map.insert(key, lockout);
    }
}

/// One cached lockout, in the guard's clock's milliseconds.
#[derive(Debug, Clone, Copy)]
struct Lockout {
    /// The end of the key's window: what `Retry-After` counts down to.
    until_ms: u64,
    /// When to read the store again.
    recheck_ms: u64,
}

impl Lockout {
    /// The time left to wait, while the cached copy may still be used.
    fn wait(&self, now_ms: u64) -> Option<u64> {
        (now_ms < self.recheck_ms && now_ms < self.until_ms).then(|| self.until_ms - now_ms)
    }
}

impl Lockouts {
    /// The longest wait of the cached lockouts of `client` and `username`.
    fn wait(&self, client: Option<IpAddr>, username: Option<&str>, now_ms: u64) -> Option<u64> {
        let by_client = self.clients.map.get(&client).and_then(|l| l.wait(now_ms));
        let by_user = username
            .and_then(|u| self.users.map.get(u))
            .and_then(|l| l.wait(now_ms));
        by_client.max(by_user)
    }
}

/// Counts failed authentications per client address and per username and
/// refuses clients past the limit with 429 and `Retry-After` (cheap to
/// clone). Usable by any strategy (auth-basic's Basic and Digest take one
/// with `with_guard`) and by any login handler.
///
/// The counters live in a [`StateStore`] (its own [`MemoryStore`] unless
/// given one with [`with_store`](Self::with_store); a shared store makes
/// several instances agree), one [`increment`](StateStore::increment) per
/// failure: the window of a key starts at its first failure and the count
/// starts again once the window has passed (a fixed window; `Retry-After`
/// is the time left in it). While the store fails, the guard follows
/// [`GuardConfig::on_store_error`]: fail closed with 503 (the default), or
/// fail open to a per-instance limiter with the same limits
/// ([`GuardFailurePolicy::LocalFallback`]), never silently. Malformed data
/// in the store is a 500 under either policy.
///
/// ```
/// use actix_web::{HttpRequest, HttpResponse, post, web};
/// use auth_core::{AuthError, BruteForceGuard, UserProfile};
///
/// #[derive(serde::Deserialize)]
/// struct Login { username: String, password: String }
///
/// # async fn check_password(_: &str, _: &str) -> Result<UserProfile, AuthError> { Ok(UserProfile::new("1")) }
/// #[post("/login")]
/// async fn login(
///     req: HttpRequest,
///     body: web::Json<Login>,
///     guard: web::Data<BruteForceGuard>,
/// ) -> HttpResponse {
///     // 429 (rendered like every other auth error) before any hashing.
///     let attempt = match guard.check_login(&req, &body.username).await {
///         Ok(attempt) => attempt,
///         Err(response) => return response,
///     };
///     // Pass `attempt.client()` on to the password hasher so that one
///     // client holds only its share of the hashing pool.
///     let result = check_password(&body.username, &body.password).await;
///     attempt.record(&result).await; // failure counted, success clears the user's count
///     match result {
///         Ok(profile) => HttpResponse::Ok().json(profile),
///         Err(e) => auth_core::error_response(&req, &e, &[]),
///     }
/// }
/// ```
///
/// A failure is counted when it is recorded, after the password check. So
/// attempts that run at the same time all pass the check before any of them
/// is counted, and a client can exceed the limit by the number of its
/// attempts in flight at once. The password hasher bounds that number per
/// client (auth-password's `HasherConfig::per_client`, 2 by default, when the
/// client's address is passed on as auth-basic's `BasicStrategy` does): its further attempts at the
/// same time are refused with 429 and counted against the client, so a flood
/// over many connections reaches the limit within its first burst. (Before
/// this bound, the soak test saw 24 failures get through against a limit of
/// 20.) Counting attempts in flight as failures instead would refuse honest
/// clients that send many requests with Basic credentials in parallel; with
/// auth-password's `VerificationCache` such clients do not
/// hash at all after their first success.
///
/// ```
/// use auth_core::{BruteForceGuard, GuardConfig};
/// let guard = BruteForceGuard::new(GuardConfig {
///     max_failures_per_user: 3,
///     trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
///     ..GuardConfig::default()
/// });
/// # let _ = guard;
/// ```
#[derive(Clone)]
pub struct BruteForceGuard {
    inner: Arc<GuardInner>,
}

impl std::fmt::Debug for BruteForceGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BruteForceGuard")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl BruteForceGuard {
    /// A guard with its own in-memory counters.
    pub fn new(config: GuardConfig) -> Self {
        Self::with_store(config, Arc::new(MemoryStore::new()))
    }

    /// A guard keeping its counters in `store` (keys start with `guard:`);
    /// the store's clock measures the windows, the system clock the
    /// lockout cache ([`GuardConfig::lockout_cache`]). A test on a
    /// [`ManualClock`](crate::ManualClock) gives the guard the same clock
    /// with [`with_clock`](Self::with_clock), or cached lockouts outlast
    /// the windows it moves past by up to the cache period of real time.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{BruteForceGuard, GuardConfig};
    /// use auth_core::{ManualClock, MemoryStore};
    /// let clock = Arc::new(ManualClock::new(0));
    /// let store = MemoryStore::new().with_clock(clock.clone());
    /// let guard = BruteForceGuard::with_store(GuardConfig::default(), Arc::new(store))
    ///     .with_clock(clock);
    /// # let _ = guard;
    /// ```
    pub fn with_store(config: GuardConfig, store: Arc<dyn StateStore>) -> Self {
        Self::build(config, store, Arc::new(SystemClock))
    }

    /// The same guard measuring its lockout cache
    /// ([`GuardConfig::lockout_cache`]) and its local fallback counters
    /// with `clock`: give it the clock its store uses, so that a test
    /// moving a [`ManualClock`](crate::ManualClock) moves both. Call it
    /// before cloning the guard: the result shares nothing with `self`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{BruteForceGuard, GuardConfig, ManualClock, MemoryStore};
    /// let clock = Arc::new(ManualClock::new(0));
    /// let store = MemoryStore::new().with_clock(clock.clone());
    /// let guard = BruteForceGuard::with_store(GuardConfig::default(), Arc::new(store))
    ///     .with_clock(clock);
    /// # let _ = guard;
    /// ```
    pub fn with_clock(self, clock: Arc<dyn Clock>) -> Self {
        Self::build(
            self.inner.config.clone(),
            Arc::clone(&self.inner.store),
            clock,
        )
    }

    fn build(config: GuardConfig, store: Arc<dyn StateStore>, clock: Arc<dyn Clock>) -> Self {
        BruteForceGuard {
            inner: Arc::new(GuardInner {
                config,
                store,
                fallback: MemoryStore::with_capacity(FALLBACK_CAPACITY)
                    .with_clock(Arc::clone(&clock)),
                degraded: AtomicBool::new(false),
                clock,
                lockouts: Mutex::new(Lockouts::default()),
            }),
        }
    }

    fn lockouts(&self) -> std::sync::MutexGuard<'_, Lockouts> {
        // The maps hold plain values, consistent after any panic.
        self.inner
            .lockouts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether the guard is counting on this instance only: the policy is
    /// [`GuardFailurePolicy::LocalFallback`], the shared store failed, and it
    /// has not answered since (for a health check or a metric).
    pub fn is_falling_back(&self) -> bool {
        self.inner.degraded.load(Ordering::Acquire)
    }

    fn falls_back(&self) -> bool {
        self.inner.config.on_store_error == GuardFailurePolicy::LocalFallback
    }

    /// The shared store failed with a transient error under
    /// `LocalFallback`: log the start of the outage once.
    fn store_failed(&self, error: &StoreError) {
        if !self.inner.degraded.swap(true, Ordering::AcqRel) {
            tracing::warn!(
                error = %error,
                "brute-force guard: the shared counter store failed; counting failures on this \
                 instance only, with the same limits, until it answers again"
            );
        }
    }

    /// The shared store answered: log the end of an outage once.
    fn store_answered(&self) {
        if self.inner.degraded.load(Ordering::Acquire)
            && self.inner.degraded.swap(false, Ordering::AcqRel)
        {
            tracing::info!(
                "brute-force guard: the shared counter store answers again; counting across \
                 instances"
            );
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GuardConfig {
        &self.inner.config
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.inner
            .config
            .trusted_proxies
            .iter()
            .any(|p| p.contains(ip))
    }

    /// The client's address: the peer, unless the peer is a trusted proxy, in
    /// which case the right-most `X-Forwarded-For` entry that is not itself a
    /// trusted proxy (entries further left were written by the client and
    /// prove nothing).
    pub fn client_ip(&self, req: &HttpRequest) -> Option<IpAddr> {
        let peer = req.peer_addr()?.ip();
        if !self.trusted(peer) {
            return Some(peer);
        }
        let mut client = peer;
        // Several header lines are one comma-separated list (RFC 9110 §5.3),
        // read right to left without copying (a flood of refused attempts
        // passes here on every request).
        let mut lines = req
            .headers()
            .get_all(actix_web::http::header::X_FORWARDED_FOR)
            .filter_map(|v| v.to_str().ok());
        let first = lines.next();
        // Empty, so without an allocation, unless there are several lines.
        let rest: Vec<&str> = lines.collect();
        let right_to_left = rest.iter().rev().copied().chain(first);
        for entry in right_to_left.flat_map(|line| line.rsplit(',')) {
            let Some(ip) = parse_forwarded_ip(entry.trim()) else {
                break;
            };
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        Some(client)
    }

    /// Checks the limits for a request before credentials are verified.
    /// `Err` is a 429 with `Retry-After` (or a 503 when the counter store is
    /// down).
    pub async fn check(
        &self,
        req: &HttpRequest,
        username: Option<&str>,
    ) -> Result<Attempt, AuthError> {
        self.check_addr(self.client_ip(req), username).await
    }

    /// [`check`](Self::check) for a known client address (or none).
    pub async fn check_addr(
        &self,
        client: Option<IpAddr>,
        username: Option<&str>,
    ) -> Result<Attempt, AuthError> {
        let cfg = &self.inner.config;
        let cache = !cfg.lockout_cache.is_zero();
        let mut successes = 0;
        if cache {
            let now = self.inner.clock.now_ms();
            let lockouts = self.lockouts();
            // A cached lockout answers at once: the client's own when the
            // client is locked out, whatever the username (a spray of new
            // names reads nothing). A username locked out for longer is
            // reported when the client comes back.
            if let Some(wait) = lockouts.wait(client, username, now) {
                return Err(too_many(wait));
            }
            successes = lockouts.successes;
        }
        let client_key = client_key(client);
        let user_key = username.map(|u| [USER_PREFIX, u].concat());
        // The shared store, under the outage policy; its state is logged
        // once per check, from both reads.
        let mut failure = None;
        let mut client_wait = self.settle(
            wait_of(&*self.inner.store, &client_key, cfg.max_failures_per_client).await,
            &mut failure,
        )?;
        let mut user_wait = match &user_key {
            Some(key) => self.settle(
                wait_of(&*self.inner.store, key, cfg.max_failures_per_user).await,
                &mut failure,
            )?,
            None => Duration::ZERO,
        };
        match &failure {
            Some(e) => self.store_failed(e),
            None => self.store_answered(),
        }
        if self.falls_back() {
            // Failures counted here during an outage keep counting until
            // their window ends, also once the shared store is back: a
            // client locked out on this instance stays locked out.
            let fallback = &self.inner.fallback;
            client_wait =
                client_wait.max(wait_of(fallback, &client_key, cfg.max_failures_per_client).await?);
            if let Some(key) = &user_key {
                user_wait = user_wait.max(wait_of(fallback, key, cfg.max_failures_per_user).await?);
            }
        }
        let retry = client_wait.max(user_wait);
        if !retry.is_zero() {
            if cache {
                let now = self.inner.clock.now_ms();
                let lockout = |wait: Duration| Lockout {
                    until_ms: now.saturating_add(millis(wait)),
                    recheck_ms: now.saturating_add(millis(cfg.lockout_cache)),
                };
                let mut lockouts = self.lockouts();
                if !client_wait.is_zero() {
                    lockouts.clients.insert(client, lockout(client_wait), now);
                }
                // Not when a success cleared a user since the store was
                // read: what was read may be the lockout it lifted.
                if let Some(username) = username.filter(|u| {
                    !user_wait.is_zero()
                        && u.len() <= MAX_CACHED_USERNAME
                        && lockouts.successes == successes
                }) {
                    lockouts
                        .users
                        .insert(username.into(), lockout(user_wait), now);
                }
            }
            return Err(too_many(millis(retry)));
        }
        Ok(Attempt {
            guard: self.clone(),
            client,
            client_key,
            user_key,
        })
    }

    /// A read of the shared store under the outage policy: a transient
    /// failure under [`GuardFailurePolicy::LocalFallback`] counts as no
    /// wait (the fallback counters decide) and is kept in `failure`.
    fn settle(
        &self,
        read: Result<Duration, StoreError>,
        failure: &mut Option<StoreError>,
    ) -> Result<Duration, AuthError> {
        match read {
            Ok(wait) => Ok(wait),
            Err(e) if e.is_transient() && self.falls_back() => {
                *failure = Some(e);
                Ok(Duration::ZERO)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// [`check`](Self::check) for a login handler: the refusal is already
    /// rendered (429 + `Retry-After`, LoopBack body or the app's renderer).
    pub async fn check_login(
        &self,
        req: &HttpRequest,
        username: &str,
    ) -> Result<Attempt, HttpResponse> {
        self.check(req, Some(username))
            .await
            .map_err(|e| crate::error_response(req, &e, &[]))
    }
}

/// The time left in the window of `key` once its count has reached
/// `limit`; zero when it has not.
async fn wait_of(store: &dyn StateStore, key: &str, limit: u32) -> Result<Duration, StoreError> {
    Ok(match store.get(key).await? {
        Some(entry) if entry.as_count()? >= u64::from(limit) => entry.ttl,
        _ => Duration::ZERO,
    })
}

/// Where the counters of client addresses and of usernames live in the
/// store (`guard:client:ADDR`, `guard:user:NAME`): shared by every instance
/// and version, so never to change.
const CLIENT_PREFIX: &str = "guard:client:";
const USER_PREFIX: &str = "guard:user:";

/// The counter key of a client address: `guard:client:ADDR`, or
/// `guard:client:unknown`.
fn client_key(client: Option<IpAddr>) -> String {
    // One allocation: 13 + the longest IPv6 text (45).
    let mut key = String::with_capacity(58);
    key.push_str(CLIENT_PREFIX);
    match client {
        // Writing to a String cannot fail.
        Some(ip) => {
            let _ = write!(key, "{ip}");
        }
        None => key.push_str("unknown"),
    }
    key
}

/// The 429 for a wait of `wait_ms`, rounded up to whole seconds (a client
/// that waits exactly `Retry-After` must get in), at least 1.
fn too_many(wait_ms: u64) -> AuthError {
    AuthError::too_many_requests(Duration::from_secs(wait_ms.div_ceil(1000).max(1)))
}

fn parse_forwarded_ip(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip);
    }
    // "[2001:db8::1]:4711" or "192.0.2.1:4711"
    entry.parse::<std::net::SocketAddr>().ok().map(|sa| sa.ip())
}

/// One authentication attempt that passed the guard; report how it ended.
#[derive(Debug)]
#[must_use = "record the outcome, or failures are never counted"]
pub struct Attempt {
    guard: BruteForceGuard,
    client: Option<IpAddr>,
    client_key: String,
    user_key: Option<String>,
}

impl Attempt {
    /// The client address the guard counts this attempt against: pass it on
    /// to auth-basic's `PasswordAuthenticator::verify_from` (or
    /// `Authenticator::authenticate_from`, or auth-password's
    /// `PasswordHasher::verify_for`)
    /// so the hashing pool limits this client to its share.
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// Counts a failed attempt against the client and the username.
    pub async fn record_failure(self) {
        self.count(&self.client_key).await;
        if let Some(user_key) = &self.user_key {
            self.count(user_key).await;
        }
    }

    /// Counts a failure against the client only: an attempt refused because
    /// the client already had its share of the hashing pool in flight. No
    /// password was tried, so the username's count is left alone (a flood
    /// must not lock its target out faster than guessing would).
    pub async fn record_client_failure(self) {
        self.count(&self.client_key).await;
    }

    async fn count(&self, key: &str) {
        let guard = &self.guard;
        let inner = &guard.inner;
        match inner.store.increment(key, inner.config.window).await {
            Ok(_) => guard.store_answered(),
            Err(e) if e.is_transient() && guard.falls_back() => {
                guard.store_failed(&e);
                if let Err(e) = inner.fallback.increment(key, inner.config.window).await {
                    tracing::warn!(error = %e, "could not record an authentication failure locally");
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not record an authentication failure");
            }
        }
    }

    /// A successful attempt: the username's failures are forgotten. The
    /// client's are kept, so one valid account does not reset the count of a
    /// client guessing others.
    pub async fn record_success(self) {
        let Some(user_key) = &self.user_key else {
            return;
        };
        let guard = &self.guard;
        if guard.falls_back() {
            // Cannot fail: a delete never needs room.
            let _ = guard.inner.fallback.delete(user_key).await;
        }
        match guard.inner.store.delete(user_key).await {
            Ok(_) => guard.store_answered(),
            Err(e) if e.is_transient() && guard.falls_back() => guard.store_failed(&e),
            Err(e) => tracing::warn!(error = %e, "could not reset an authentication counter"),
        }
        // After the store: a check that read the lockout before the delete
        // sees the count move and does not cache it.
        if let Some(username) = user_key.strip_prefix(USER_PREFIX) {
            let mut lockouts = guard.lockouts();
            lockouts.successes = lockouts.successes.wrapping_add(1);
            lockouts.users.map.remove(username);
        }
    }

    /// Records by result: wrong credentials (401) and malformed ones (400)
    /// count as failures of the client and the username; a 429 (the client
    /// had its share of the hashing pool in flight already, see
    /// auth-password's `PasswordHasher`) counts as a
    /// failure of the client; a 503 (backend down, pool full) counts as
    /// neither.
    pub async fn record<T>(self, result: &Result<T, AuthError>) {
        match result {
            Ok(_) => self.record_success().await,
            Err(AuthError::InvalidCredentials { .. } | AuthError::InvalidRequest { .. }) => {
                self.record_failure().await
            }
            Err(AuthError::TooManyRequests { .. }) => self.record_client_failure().await,
            Err(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use actix_web::test::TestRequest;

    fn guard(clock: &ManualClock, proxies: &[&str]) -> BruteForceGuard {
        BruteForceGuard::with_store(
            GuardConfig {
                max_failures_per_client: 5,
                max_failures_per_user: 3,
                window: Duration::from_secs(60),
                trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
                ..GuardConfig::default()
            },
            Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone()))),
        )
        .with_clock(Arc::new(clock.clone()))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[tokio::test]
    async fn fourth_attempt_on_a_user_is_refused_until_the_window_passes() {
        let clock = ManualClock::new(1_000_000);
        let g = guard(&clock, &[]);
        for _ in 0..3 {
            g.check_addr(ip("192.0.2.1"), Some("ada"))
                .await
                .unwrap()
                .record_failure()
                .await;
            clock.advance(Duration::from_secs(1));
        }
        let err = g
            .check_addr(ip("192.0.2.9"), Some("ada"))
            .await
            .unwrap_err();
        // The first failure (t=0) leaves the window at t=60 s; now is t=3 s.
        assert_eq!(err.retry_after(), Some(Duration::from_secs(57)));
        // Another user from the same address is still allowed (client limit 5).
        assert!(g.check_addr(ip("192.0.2.1"), Some("bob")).await.is_ok());
        clock.advance(Duration::from_secs(57));
        let attempt = g.check_addr(ip("192.0.2.1"), Some("ada")).await.unwrap();
        attempt.record_success().await;
    }

    #[tokio::test]
    async fn client_limit_spans_usernames() {
        let clock = ManualClock::new(0);
        let g = guard(&clock, &[]);
        for i in 0..5 {
            g.check_addr(ip("198.51.100.7"), Some(&format!("u{i}")))
                .await
                .unwrap()
                .record_failure()
                .await;
        }
        let err = g
            .check_addr(ip("198.51.100.7"), Some("fresh"))
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 429);
        assert!(
            g.check_addr(ip("198.51.100.8"), Some("fresh"))
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn success_clears_the_user_but_not_the_client() {
        let clock = ManualClock::new(0);
        let g = guard(&clock, &[]);
        for _ in 0..2 {
            g.check_addr(ip("192.0.2.1"), Some("ada"))
                .await
                .unwrap()
                .record_failure()
                .await;
        }
        g.check_addr(ip("192.0.2.1"), Some("ada"))
            .await
            .unwrap()
            .record_success()
            .await;
        for _ in 0..2 {
            g.check_addr(ip("192.0.2.1"), Some("ada"))
                .await
                .unwrap()
                .record_failure()
                .await;
        }
        // 2 user failures since the success: allowed. Client has 4 of 5.
        g.check_addr(ip("192.0.2.1"), Some("ada"))
            .await
            .unwrap()
            .record_failure()
            .await;
        assert!(g.check_addr(ip("192.0.2.1"), Some("zed")).await.is_err());
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let clock = ManualClock::new(0);
        let g = guard(&clock, &["10.0.0.0/8"]);
        let direct = TestRequest::default()
            .peer_addr("203.0.113.5:1234".parse().unwrap())
            .insert_header(("X-Forwarded-For", "192.0.2.77"))
            .to_http_request();
        assert_eq!(g.client_ip(&direct), ip("203.0.113.5"));

        let proxied = TestRequest::default()
            .peer_addr("10.0.0.2:1234".parse().unwrap())
            .insert_header(("X-Forwarded-For", "6.6.6.6, 192.0.2.77, 10.0.0.9"))
            .to_http_request();
        // Right to left: 10.0.0.9 is our proxy, 192.0.2.77 is the client; the
        // spoofable 6.6.6.6 is ignored.
        assert_eq!(g.client_ip(&proxied), ip("192.0.2.77"));

        let garbage = TestRequest::default()
            .peer_addr("10.0.0.2:1234".parse().unwrap())
            .insert_header(("X-Forwarded-For", "not-an-ip"))
            .to_http_request();
        assert_eq!(g.client_ip(&garbage), ip("10.0.0.2"));

        let none = guard(&clock, &[]);
        assert_eq!(none.client_ip(&proxied), ip("10.0.0.2"));
    }

    #[tokio::test]
    async fn a_full_counter_store_still_answers_checks() {
        // A flood of usernames fills the store: their failures go uncounted
        // (logged), but keys already counted keep counting and checks answer.
        let g = BruteForceGuard::with_store(
            GuardConfig {
                max_failures_per_client: 3,
                max_failures_per_user: 2,
                ..GuardConfig::default()
            },
            Arc::new(MemoryStore::with_capacity(2)),
        );
        for user in ["a", "b", "c"] {
            g.check_addr(ip("192.0.2.1"), Some(user))
                .await
                .unwrap()
                .record_failure()
                .await;
        }
        assert_eq!(
            g.check_addr(ip("192.0.2.1"), Some("d"))
                .await
                .unwrap_err()
                .status()
                .as_u16(),
            429
        );
        assert!(g.check_addr(ip("192.0.2.2"), Some("d")).await.is_ok());
    }

    #[tokio::test]
    async fn a_429_from_the_hashing_pool_counts_against_the_client_only() {
        let clock = ManualClock::new(0);
        let g = guard(&clock, &[]);
        // Client limit 5, user limit 3: five refusals for one username lock
        // the client out, not the username.
        for _ in 0..5 {
            let attempt = g
                .check_addr(ip("198.51.100.66"), Some("ada"))
                .await
                .unwrap();
            assert_eq!(attempt.client(), ip("198.51.100.66"));
            let shed: Result<(), AuthError> =
                Err(AuthError::too_many_requests(Duration::from_secs(1)));
            attempt.record(&shed).await;
        }
        let err = g
            .check_addr(ip("198.51.100.66"), Some("other"))
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 429);
        assert!(g.check_addr(ip("192.0.2.1"), Some("ada")).await.is_ok());
        // A 503 (pool full for everyone) counts for nobody.
        for _ in 0..10 {
            let unavailable: Result<(), AuthError> = Err(AuthError::unavailable("busy"));
            g.check_addr(ip("192.0.2.2"), Some("bob"))
                .await
                .unwrap()
                .record(&unavailable)
                .await;
        }
        assert!(g.check_addr(ip("192.0.2.2"), Some("bob")).await.is_ok());
    }

    #[test]
    fn bad_trusted_proxies_say_what_to_write() {
        let err = "10.0.0.0/33".parse::<TrustedProxy>().unwrap_err();
        assert_eq!(err, TrustedProxyError::BadPrefix("10.0.0.0/33".into()));
        assert!(err.to_string().contains("at most 32 for IPv4"));
        let err = "proxy.local".parse::<TrustedProxy>().unwrap_err();
        assert!(err.to_string().contains("write e.g. 10.0.0.0/8"));
    }

    use crate::store::tests::Down;

    #[tokio::test]
    async fn a_counter_store_outage_fails_the_check_closed_with_503() {
        let g = BruteForceGuard::with_store(GuardConfig::default(), Arc::new(Down));
        let err = g
            .check_addr(ip("192.0.2.1"), Some("ada"))
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 503);
        assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
    }

    #[tokio::test]
    async fn a_malformed_counter_is_a_500_not_a_pass() {
        let store = MemoryStore::new();
        store
            .set_if_absent("guard:user:ada", b"not a number", Duration::from_secs(60))
            .await
            .unwrap();
        let g = BruteForceGuard::with_store(GuardConfig::default(), Arc::new(store));
        let err = g
            .check_addr(ip("192.0.2.1"), Some("ada"))
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 500);
    }

    #[tokio::test]
    async fn local_fallback_still_refuses_malformed_data_with_500_and_counts_locally_when_down() {
        let store = MemoryStore::new();
        store
            .set_if_absent("guard:user:ada", b"not a number", Duration::from_secs(60))
            .await
            .unwrap();
        let config = GuardConfig {
            max_failures_per_user: 2,
            on_store_error: GuardFailurePolicy::LocalFallback,
            ..GuardConfig::default()
        };
        let g = BruteForceGuard::with_store(config.clone(), Arc::new(store));
        let err = g
            .check_addr(ip("192.0.2.1"), Some("ada"))
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 500);
        assert!(!g.is_falling_back());

        let down = BruteForceGuard::with_store(config, Arc::new(Down));
        for user in ["bob", "bob"] {
            down.check_addr(ip("192.0.2.1"), Some(user))
                .await
                .unwrap()
                .record_failure()
                .await;
        }
        assert!(down.is_falling_back());
        let err = down
            .check_addr(ip("192.0.2.2"), Some("bob"))
            .await
            .unwrap_err();
        assert_eq!(err.status().as_u16(), 429);
        assert!(down.check_addr(ip("192.0.2.2"), Some("cat")).await.is_ok());
    }
}
