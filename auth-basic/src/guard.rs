//! The brute-force guard: failed authentications counted per client address
//! and per username over a sliding window; past the limit, 429 with
//! `Retry-After`.
//!
//! The counters sit behind [`CounterStore`] (in memory here; a shared store
//! such as Redis makes several instances agree). The guard is used by
//! [`BasicStrategy`](crate::BasicStrategy), the Digest strategy
//! and any login handler:
//!
//! ```
//! use actix_web::{HttpRequest, HttpResponse, post, web};
//! use auth_basic::{Authenticator, BruteForceGuard};
//!
//! #[derive(serde::Deserialize)]
//! struct Login { username: String, password: String }
//!
//! #[post("/login")]
//! async fn login(
//!     req: HttpRequest,
//!     body: web::Json<Login>,
//!     guard: web::Data<BruteForceGuard>,
//!     auth: web::Data<Box<dyn Authenticator>>,
//! ) -> HttpResponse {
//!     // 429 (rendered like every other auth error) before any hashing.
//!     let attempt = match guard.check_login(&req, &body.username).await {
//!         Ok(attempt) => attempt,
//!         Err(response) => return response,
//!     };
//!     // The client's address bounds its share of the hashing pool.
//!     let result = auth
//!         .authenticate_from(attempt.client(), &body.username, &body.password)
//!         .await;
//!     attempt.record(&result).await; // failure counted, success clears the user's count
//!     match result {
//!         Ok(profile) => HttpResponse::Ok().json(profile),
//!         Err(e) => auth_core::error_response(&req, &e, &[]),
//!     }
//! }
//! ```

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{HttpRequest, HttpResponse};
use auth_core::AuthError;

/// A source of the current time in milliseconds since the Unix epoch.
/// Injectable so tests move time without sleeping.
pub trait Clock: Send + Sync + 'static {
    /// Now, in ms since the epoch.
    fn now_ms(&self) -> u64;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock moved by hand (tests). Clones share the time.
///
/// ```
/// use std::time::Duration;
/// use auth_basic::guard::{Clock, ManualClock};
/// let clock = ManualClock::new(1_000);
/// clock.advance(Duration::from_secs(2));
/// assert_eq!(clock.now_ms(), 3_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    /// A clock standing at `ms`.
    pub fn new(ms: u64) -> Self {
        ManualClock(Arc::new(AtomicU64::new(ms)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// Failures of one key inside the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowState {
    /// How many failures are inside the window (capped at the limit).
    pub failures: u32,
    /// When the oldest of them happened (ms since the epoch).
    pub oldest_ms: Option<u64>,
}

/// Where failure counters live. Implementations keep, per key, the most recent
/// `limit` failure times inside the window.
#[auth_core::async_trait]
pub trait CounterStore: Send + Sync + 'static {
    /// The failures of `key` within `[now - window, now]`.
    async fn window(
        &self,
        key: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<WindowState, AuthError>;
    /// Records one failure at `now_ms`, keeping at most `keep` of the latest.
    async fn record_failure(
        &self,
        key: &str,
        now_ms: u64,
        window_ms: u64,
        keep: u32,
    ) -> Result<(), AuthError>;
    /// Forgets the failures of `key`.
    async fn reset(&self, key: &str) -> Result<(), AuthError>;
}

/// A failure at `t` counts while `now < t + window`.
fn live(t: u64, now_ms: u64, window_ms: u64) -> bool {
    t.saturating_add(window_ms) > now_ms
}

/// Counters in process memory, bounded in the number of keys.
#[derive(Debug)]
pub struct MemoryCounterStore {
    max_keys: usize,
    keys: Mutex<HashMap<String, VecDeque<u64>>>,
}

impl Default for MemoryCounterStore {
    fn default() -> Self {
        MemoryCounterStore::new(100_000)
    }
}

impl MemoryCounterStore {
    /// A store tracking at most `max_keys` keys. When full, expired keys are
    /// dropped first; if it is still full, an arbitrary key is evicted (so a
    /// flood of distinct usernames costs bounded memory).
    pub fn new(max_keys: usize) -> Self {
        MemoryCounterStore {
            max_keys: max_keys.max(1),
            keys: Mutex::new(HashMap::new()),
        }
    }

    /// How many keys are tracked.
    pub fn len(&self) -> usize {
        self.keys.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no key is tracked.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[auth_core::async_trait]
impl CounterStore for MemoryCounterStore {
    async fn window(
        &self,
        key: &str,
        now_ms: u64,
        window_ms: u64,
    ) -> Result<WindowState, AuthError> {
        let keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let Some(times) = keys.get(key) else {
            return Ok(WindowState::default());
        };
        let live: Vec<u64> = times
            .iter()
            .copied()
            .filter(|&t| live(t, now_ms, window_ms))
            .collect();
        Ok(WindowState {
            failures: live.len() as u32,
            oldest_ms: live.first().copied(),
        })
    }

    async fn record_failure(
        &self,
        key: &str,
        now_ms: u64,
        window_ms: u64,
        keep: u32,
    ) -> Result<(), AuthError> {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        if keys.len() >= self.max_keys && !keys.contains_key(key) {
            keys.retain(|_, times| times.back().is_some_and(|&t| live(t, now_ms, window_ms)));
            if keys.len() >= self.max_keys
                && let Some(victim) = keys.keys().next().cloned()
            {
                keys.remove(&victim);
            }
        }
        let times = keys.entry(key.to_owned()).or_default();
        while times.front().is_some_and(|&t| !live(t, now_ms, window_ms)) {
            times.pop_front();
        }
        times.push_back(now_ms);
        while times.len() > keep.max(1) as usize {
            times.pop_front();
        }
        Ok(())
    }

    async fn reset(&self, key: &str) -> Result<(), AuthError> {
        self.keys
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
        Ok(())
    }
}

/// An address or a CIDR block of trusted reverse proxies.
///
/// ```
/// use auth_basic::guard::TrustedProxy;
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

impl FromStr for TrustedProxy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("'{s}' has an invalid prefix length"))?,
            None => max,
        };
        Ok(TrustedProxy { addr, prefix })
    }
}

/// Limits and trust settings of a [`BruteForceGuard`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failures allowed per client address inside the window. Default 20.
    pub max_failures_per_client: u32,
    /// Failures allowed per username inside the window. Default 5.
    pub max_failures_per_user: u32,
    /// The sliding window. Default 15 minutes.
    pub window: Duration,
    /// Proxies whose `X-Forwarded-For` is believed. Default: none, so the
    /// header is ignored and the peer address counts.
    pub trusted_proxies: Vec<TrustedProxy>,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_failures_per_client: 20,
            max_failures_per_user: 5,
            window: Duration::from_secs(15 * 60),
            trusted_proxies: Vec::new(),
        }
    }
}

struct GuardInner {
    config: GuardConfig,
    store: Arc<dyn CounterStore>,
    clock: Arc<dyn Clock>,
}

/// Counts failures and refuses clients past the limit (cheap to clone).
///
/// A failure is counted when it is recorded, after the password check. So
/// attempts that run at the same time all pass the check before any of them
/// is counted, and a client can exceed the limit by the number of its
/// attempts in flight at once. The password hasher bounds that number per
/// client ([`HasherConfig::per_client`](crate::password::HasherConfig::per_client),
/// 2 by default, when the client's address is passed on as
/// [`BasicStrategy`](crate::BasicStrategy) does): its further attempts at the
/// same time are refused with 429 and counted against the client, so a flood
/// over many connections reaches the limit within its first burst. (Before
/// this bound, the soak test saw 24 failures get through against a limit of
/// 20.) Counting attempts in flight as failures instead would refuse honest
/// clients that send many requests with Basic credentials in parallel; with
/// the [`VerificationCache`](crate::VerificationCache) such clients do not
/// hash at all after their first success.
///
/// ```
/// use auth_basic::{BruteForceGuard, GuardConfig};
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
    /// A guard with in-memory counters and the system clock.
    pub fn new(config: GuardConfig) -> Self {
        Self::with_store(
            config,
            Arc::new(MemoryCounterStore::default()),
            Arc::new(SystemClock),
        )
    }

    /// A guard with another counter store and clock.
    pub fn with_store(
        config: GuardConfig,
        store: Arc<dyn CounterStore>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        BruteForceGuard {
            inner: Arc::new(GuardInner {
                config,
                store,
                clock,
            }),
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
        // Several header lines are one comma-separated list (RFC 9110 §5.3).
        let entries: Vec<String> = req
            .headers()
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_owned())
            .collect();
        for entry in entries.iter().rev() {
            let Some(ip) = parse_forwarded_ip(entry) else {
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
        let now = self.inner.clock.now_ms();
        let window = cfg.window.as_millis() as u64;
        let client_key = format!(
            "client:{}",
            client.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string())
        );
        let user_key = username.map(|u| format!("user:{u}"));
        let mut retry_ms = 0u64;
        let mut check_key = async |key: &str, limit: u32| -> Result<(), AuthError> {
            let state = self.inner.store.window(key, now, window).await?;
            if state.failures >= limit {
                let oldest = state.oldest_ms.unwrap_or(now);
                retry_ms = retry_ms.max((oldest + window).saturating_sub(now));
            }
            Ok(())
        };
        check_key(&client_key, cfg.max_failures_per_client).await?;
        if let Some(user_key) = &user_key {
            check_key(user_key, cfg.max_failures_per_user).await?;
        }
        if retry_ms > 0 {
            // Round up: a client that waits exactly Retry-After must get in.
            let secs = retry_ms.div_ceil(1000).max(1);
            return Err(AuthError::too_many_requests(Duration::from_secs(secs)));
        }
        Ok(Attempt {
            guard: self.clone(),
            client,
            client_key,
            user_key,
        })
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
            .map_err(|e| auth_core::error_response(req, &e, &[]))
    }
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
    /// to [`PasswordAuthenticator::verify_from`](crate::PasswordAuthenticator::verify_from)
    /// (or [`Authenticator::authenticate_from`](crate::Authenticator::authenticate_from))
    /// so the hashing pool limits this client to its share.
    pub fn client(&self) -> Option<IpAddr> {
        self.client
    }

    /// Counts a failed attempt against the client and the username.
    pub async fn record_failure(self) {
        self.record_client_failure_inner().await;
        let inner = &self.guard.inner;
        let now = inner.clock.now_ms();
        let window = inner.config.window.as_millis() as u64;
        let cfg = &inner.config;
        if let Some(user_key) = &self.user_key
            && let Err(e) = inner
                .store
                .record_failure(user_key, now, window, cfg.max_failures_per_user)
                .await
        {
            tracing::warn!(error = %e, "could not record an authentication failure");
        }
    }

    /// Counts a failure against the client only: an attempt refused because
    /// the client already had its share of the hashing pool in flight. No
    /// password was tried, so the username's count is left alone (a flood
    /// must not lock its target out faster than guessing would).
    pub async fn record_client_failure(self) {
        self.record_client_failure_inner().await;
    }

    async fn record_client_failure_inner(&self) {
        let inner = &self.guard.inner;
        let now = inner.clock.now_ms();
        let window = inner.config.window.as_millis() as u64;
        if let Err(e) = inner
            .store
            .record_failure(
                &self.client_key,
                now,
                window,
                inner.config.max_failures_per_client,
            )
            .await
        {
            tracing::warn!(error = %e, "could not record an authentication failure");
        }
    }

    /// A successful attempt: the username's failures are forgotten. The
    /// client's are kept, so one valid account does not reset the count of a
    /// client guessing others.
    pub async fn record_success(self) {
        if let Some(user_key) = &self.user_key
            && let Err(e) = self.guard.inner.store.reset(user_key).await
        {
            tracing::warn!(error = %e, "could not reset an authentication counter");
        }
    }

    /// Records by result: wrong credentials (401) and malformed ones (400)
    /// count as failures of the client and the username; a 429 (the client
    /// had its share of the hashing pool in flight already, see
    /// [`PasswordHasher`](crate::password::PasswordHasher)) counts as a
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
    use actix_web::test::TestRequest;

    fn guard(clock: &ManualClock, proxies: &[&str]) -> BruteForceGuard {
        BruteForceGuard::with_store(
            GuardConfig {
                max_failures_per_client: 5,
                max_failures_per_user: 3,
                window: Duration::from_secs(60),
                trusted_proxies: proxies.iter().map(|p| p.parse().unwrap()).collect(),
            },
            Arc::new(MemoryCounterStore::default()),
            Arc::new(clock.clone()),
        )
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
    async fn memory_store_is_bounded() {
        let store = MemoryCounterStore::new(2);
        for k in ["a", "b", "c"] {
            store.record_failure(k, 0, 1000, 5).await.unwrap();
        }
        assert_eq!(store.len(), 2);
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
}
