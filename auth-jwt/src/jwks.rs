//! Keys from a JWK Set URL: fetched, cached, refreshed, served stale.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;
use jsonwebtoken::Algorithm;

use crate::key::{JwksOptions, KeyError, KeySet};
use crate::verify::VerifyError;

/// Why a JWK Set could not be fetched or was not installed. The message
/// names no key material; where a lower-level error caused it, `source()`
/// returns it (its text is also part of the message, so a log line that
/// prints only `Display` still says why).
///
/// ```
/// use std::error::Error as _;
/// use auth_jwt::{JwksError, JwksKeys};
///
/// let err = JwksKeys::from_url("http://example.com/jwks").unwrap_err();
/// assert!(matches!(err, JwksError::NotHttps));
/// let err = JwksKeys::from_url("not a url").unwrap_err();
/// assert!(err.to_string().starts_with("invalid JWK Set URL: "));
/// assert!(err.source().is_some());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The URL does not parse.
    #[error("invalid JWK Set URL: {0}")]
    InvalidUrl(#[source] Arc<dyn std::error::Error + Send + Sync>),
    /// The URL is neither `https://` nor `http://` to a loopback host.
    #[error("a JWK Set URL must use https")]
    NotHttps,
    /// The HTTP client could not be built.
    #[error("cannot build HTTP client: {0}")]
    Client(#[source] Arc<reqwest::Error>),
    /// The request failed (connection, TLS, timeout of the client).
    #[error("JWK Set fetch failed: {0}")]
    Request(#[source] Arc<reqwest::Error>),
    /// The server answered with this non-success status.
    #[error("JWK Set server answered {0}")]
    Status(u16),
    /// The document is larger than the limit (256 KiB).
    #[error("JWK Set document too large")]
    TooLarge,
    /// The body could not be read.
    #[error("JWK Set read failed: {0}")]
    Read(#[source] Arc<reqwest::Error>),
    /// The body is not UTF-8.
    #[error("JWK Set is not UTF-8")]
    NotUtf8(#[source] std::string::FromUtf8Error),
    /// The fetch took longer than the fetch timeout.
    #[error("JWK Set fetch timed out after {0:?}")]
    Timeout(Duration),
    /// The fetched set was refused whole (a secret, a private or a weak
    /// key, a duplicate member, ...); the last good set stays.
    #[error("JWK Set refused: {0}")]
    Refused(#[source] KeyError),
    /// No fetch finished (the fetch in flight could not be joined in time).
    #[error("JWK Set fetch did not finish")]
    NotFinished,
    /// A failure reported by a [`JwksFetcher`] of the application's own.
    #[error("JWK Set fetch failed: {message}")]
    Fetcher {
        /// What failed, without key material.
        message: String,
        /// The underlying error, if any.
        #[source]
        source: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },
}

impl JwksError {
    /// A failure of a custom [`JwksFetcher`], described by `message`.
    ///
    /// ```
    /// let err = auth_jwt::JwksError::fetcher("connection refused");
    /// assert_eq!(err.to_string(), "JWK Set fetch failed: connection refused");
    /// ```
    pub fn fetcher(message: impl Into<String>) -> Self {
        JwksError::Fetcher {
            message: message.into(),
            source: None,
        }
    }

    /// A failure of a custom [`JwksFetcher`] caused by `source`, whose
    /// message is kept.
    ///
    /// ```
    /// use std::error::Error as _;
    /// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
    /// let err = auth_jwt::JwksError::fetcher_source(io);
    /// assert_eq!(err.to_string(), "JWK Set fetch failed: refused");
    /// assert!(err.source().is_some());
    /// ```
    pub fn fetcher_source(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        JwksError::Fetcher {
            message: source.to_string(),
            source: Some(Arc::new(source)),
        }
    }
}

/// Fetches the JWK Set document. Injectable so tests need no network.
///
/// ```
/// use futures_util::future::LocalBoxFuture;
/// use auth_jwt::{JwksError, JwksFetcher, JwksKeys};
///
/// struct Down;
/// impl JwksFetcher for Down {
///     fn fetch(&self) -> LocalBoxFuture<'_, Result<String, JwksError>> {
///         Box::pin(async { Err(JwksError::fetcher("the key server is down")) })
///     }
/// }
/// let keys = JwksKeys::with_fetcher(Down);
/// # let _ = keys;
/// ```
pub trait JwksFetcher: Send + Sync + 'static {
    /// Fetches the document body, or says why it could not.
    fn fetch(&self) -> LocalBoxFuture<'_, Result<String, JwksError>>;
}

/// The HTTPS fetcher: reqwest with rustls, no redirects, timeouts, and a
/// body size limit.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    url: reqwest::Url,
}

/// Largest JWK Set document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 256 * 1024;

impl HttpFetcher {
    /// A fetcher for `url` with a 2 s connect and a 5 s total timeout.
    /// `http://` is accepted only for loopback hosts (tests, sidecars).
    pub fn new(url: &str) -> Result<Self, JwksError> {
        let url = reqwest::Url::parse(url).map_err(|e| JwksError::InvalidUrl(Arc::new(e)))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err(JwksError::NotHttps);
        }
        // reqwest is built without a bundled crypto provider; install the
        // backend's (aws-lc-rs by default, ring with `rust-crypto` alone)
        // unless the application chose another one first.
        #[cfg(feature = "aws-lc-rs")]
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| JwksError::Client(Arc::new(e)))?;
        Ok(HttpFetcher { client, url })
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch(&self) -> LocalBoxFuture<'_, Result<String, JwksError>> {
        Box::pin(async move {
            let resp = self
                .client
                .get(self.url.clone())
                .send()
                .await
                .map_err(|e| JwksError::Request(Arc::new(e)))?;
            if !resp.status().is_success() {
                return Err(JwksError::Status(resp.status().as_u16()));
            }
            // Chunk by chunk, so that a server sending a long body without
            // announcing it is cut off at the bound, not read whole. (auth-core's
            // `outbound::read_body` does the same, but its `outbound` feature
            // would bring rustls on aws-lc-rs into the `rust-crypto` build.)
            let mut resp = resp;
            if resp
                .content_length()
                .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
            {
                return Err(JwksError::TooLarge);
            }
            let mut body = Vec::new();
            while let Some(chunk) = resp
                .chunk()
                .await
                .map_err(|e| JwksError::Read(Arc::new(e)))?
            {
                if body.len() + chunk.len() > MAX_JWKS_BYTES {
                    return Err(JwksError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            String::from_utf8(body).map_err(JwksError::NotUtf8)
        })
    }
}

struct State {
    keys: Option<Arc<KeySet>>,
    /// Start of the last attempt that installed a set.
    fetched_at: Option<Instant>,
    /// Start of the last attempt, successful or not: the cooldown runs from
    /// here, so a slow failing provider cannot be asked again at once.
    last_attempt: Option<Instant>,
    /// Why the last attempt failed; `None` when it succeeded.
    last_error: Option<JwksError>,
    /// Attempts finished; a caller that saw `n` and finds more after
    /// waiting for the fetch lock uses that attempt's result (single flight).
    attempts_done: u64,
    /// A fetch is running. Kept here rather than read from the gate's
    /// `try_lock`, which also fails while the gate is being handed to a
    /// waiter after the fetch ended.
    in_flight: bool,
    /// Ignored keys already logged, so each is logged once.
    logged_ignored: HashSet<String>,
}

/// What the refresh asked for by an unknown `kid` found.
pub(crate) enum KidRefresh {
    /// The current set (fresh, or the last good one); whether the last
    /// attempt to reach the provider failed.
    Keys {
        keys: Arc<KeySet>,
        provider_failed: bool,
    },
    /// No set has ever been fetched.
    Unavailable,
}

/// Keys fetched from a JWK Set URL.
///
/// - fetched on first use, then refreshed when older than `refresh_every`
///   (default 10 min), checked on every request, cache hits included;
/// - refreshed when a token names an unknown `kid`, at most once per
///   `cooldown` (default 30 s, counted from the start of the last attempt),
///   so random `kid`s cannot hammer the server;
/// - single flight: one fetch at a time; requests that need keys while a
///   fetch runs wait for it (at most `fetch_timeout`, default 5 s) and use
///   its result instead of starting another;
/// - served stale while the server is down; with no key ever fetched, or an
///   unknown `kid` while the provider cannot be reached, a request fails
///   closed with 503 and `Retry-After`;
/// - every fetched set passes [`KeySet::from_jwks_json_with`]: a set with a
///   secret, a private or a weak key is refused whole and the last good set
///   stays (logged); keys not understood are ignored and logged once.
pub struct JwksKeys {
    fetcher: Box<dyn JwksFetcher>,
    state: RwLock<State>,
    refresh_every: Duration,
    cooldown: Duration,
    fetch_timeout: Duration,
    options: RwLock<JwksOptions>,
    // Held for the whole of one fetch: the single-flight gate.
    fetching: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

impl std::fmt::Debug for JwksKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksKeys")
            .field("refresh_every", &self.refresh_every)
            .field("cooldown", &self.cooldown)
            .field("fetch_timeout", &self.fetch_timeout)
            .finish_non_exhaustive()
    }
}

/// How a caller takes part in a fetch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Join {
    /// Wait for a running fetch (or run one).
    Wait,
    /// Run a fetch only if none is running; otherwise carry on.
    IfIdle,
}

impl JwksKeys {
    /// Keys from an HTTPS URL.
    ///
    /// ```
    /// let keys = auth_jwt::JwksKeys::from_url("https://issuer.example/.well-known/jwks.json").unwrap();
    /// # let _ = keys;
    /// assert!(auth_jwt::JwksKeys::from_url("ftp://issuer.example/jwks").is_err());
    /// ```
    pub fn from_url(url: &str) -> Result<Arc<Self>, JwksError> {
        Ok(Self::with_fetcher(HttpFetcher::new(url)?))
    }

    /// Keys from any fetcher.
    pub fn with_fetcher(fetcher: impl JwksFetcher) -> Arc<Self> {
        Arc::new(JwksKeys {
            fetcher: Box::new(fetcher),
            state: RwLock::new(State {
                keys: None,
                fetched_at: None,
                last_attempt: None,
                last_error: None,
                attempts_done: 0,
                in_flight: false,
                logged_ignored: HashSet::new(),
            }),
            refresh_every: Duration::from_secs(600),
            cooldown: Duration::from_secs(30),
            fetch_timeout: Duration::from_secs(5),
            options: RwLock::new(JwksOptions::default()),
            fetching: tokio::sync::Mutex::new(()),
            fetches: AtomicU64::new(0),
        })
    }

    /// Sets the periodic refresh interval and the unknown-`kid` cooldown.
    /// Call before sharing the keys.
    pub fn with_timing(self: Arc<Self>, refresh_every: Duration, cooldown: Duration) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut me) => {
                me.refresh_every = refresh_every;
                me.cooldown = cooldown;
                Arc::new(me)
            }
            Err(shared) => shared,
        }
    }

    /// Sets how long one fetch may take (default 5 s); requests waiting for
    /// a fetch wait at most this long. Call before sharing the keys.
    ///
    /// ```
    /// # use std::time::Duration;
    /// let keys = auth_jwt::JwksKeys::from_url("https://example.com/jwks.json")
    ///     .unwrap()
    ///     .with_fetch_timeout(Duration::from_secs(2));
    /// # let _ = keys;
    /// ```
    pub fn with_fetch_timeout(self: Arc<Self>, timeout: Duration) -> Arc<Self> {
        match Arc::try_unwrap(self) {
            Ok(mut me) => {
                me.fetch_timeout = timeout;
                Arc::new(me)
            }
            Err(shared) => shared,
        }
    }

    /// Pins the algorithm of the set's RSA keys that carry no `alg` (Azure
    /// AD publishes such keys); without it they are ignored. Only RS*/PS*
    /// are accepted. The token header never chooses it.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, JwksKeys};
    /// let keys = JwksKeys::from_url("https://login.example.com/discovery/keys")
    ///     .unwrap()
    ///     .default_rsa_algorithm(Algorithm::RS256)
    ///     .unwrap();
    /// # let _ = keys;
    /// ```
    pub fn default_rsa_algorithm(self: Arc<Self>, alg: Algorithm) -> Result<Arc<Self>, KeyError> {
        let options = self.options().default_rsa_algorithm(alg)?;
        *self.options.write().unwrap_or_else(|e| e.into_inner()) = options;
        Ok(self)
    }

    fn options(&self) -> JwksOptions {
        *self.options.read().unwrap_or_else(|e| e.into_inner())
    }

    /// How many fetches were attempted (for monitoring and tests).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// How long a client should wait before the provider is asked again:
    /// the rest of the cooldown, at least one second.
    pub(crate) fn retry_after(&self) -> Duration {
        let left = self
            .read()
            .last_attempt
            .map(|t| self.cooldown.saturating_sub(t.elapsed()))
            .unwrap_or_default();
        left.max(Duration::from_secs(1))
    }

    /// Fetches the JWK Set now, whatever the refresh interval and cooldown
    /// say, and installs it. On failure the previous keys stay and the
    /// reason is returned (it names no key material). When a fetch is
    /// already running, its result is used instead of starting another.
    ///
    /// For failing fast at start-up and for one-shot tools such as
    /// `auth-cli`, which need the reason rather than a 503.
    pub async fn refresh(&self) -> Result<Arc<KeySet>, JwksError> {
        let seen = self.read().attempts_done;
        self.attempt(seen, Join::Wait).await;
        let s = self.read();
        match (&s.last_error, &s.keys) {
            (None, Some(keys)) => Ok(keys.clone()),
            (Some(e), _) => Err(e.clone()),
            (None, None) => Err(JwksError::NotFinished),
        }
    }

    /// One fetch, single flight: the caller that takes the gate fetches;
    /// a caller that finds an attempt finished since it looked (`seen`)
    /// takes that attempt's result.
    async fn attempt(&self, seen: u64, join: Join) {
        let _gate = match join {
            Join::IfIdle => match self.fetching.try_lock() {
                Ok(gate) => gate,
                Err(_) => return,
            },
            // Bounded: the fetch holding the gate is itself bounded by
            // `fetch_timeout`; the margin covers the hand-over.
            Join::Wait => match tokio::time::timeout(
                self.fetch_timeout + Duration::from_secs(1),
                self.fetching.lock(),
            )
            .await
            {
                Ok(gate) => gate,
                Err(_) => return,
            },
        };
        let start = Instant::now();
        {
            let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
            if s.attempts_done != seen {
                return;
            }
            s.last_attempt = Some(start);
            s.in_flight = true;
        }
        // Clears `in_flight` however this ends, also when the request that
        // runs the fetch is dropped halfway (a waiter then takes over).
        struct InFlight<'a>(&'a RwLock<State>);
        impl Drop for InFlight<'_> {
            fn drop(&mut self) {
                self.0.write().unwrap_or_else(|e| e.into_inner()).in_flight = false;
            }
        }
        let _in_flight = InFlight(&self.state);
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let options = self.options();
        let result = match tokio::time::timeout(self.fetch_timeout, self.fetcher.fetch()).await {
            Ok(Ok(body)) => KeySet::load_published(&body, &options).map_err(JwksError::Refused),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(JwksError::Timeout(self.fetch_timeout)),
        };
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.attempts_done += 1;
        match result {
            Ok(set) => {
                for reason in set.ignored() {
                    if s.logged_ignored.insert(reason.to_string()) {
                        tracing::warn!("JWK Set: {reason}; the key is ignored");
                    }
                }
                s.keys = Some(Arc::new(set));
                s.fetched_at = Some(start);
                s.last_error = None;
            }
            Err(e) => {
                if s.keys.is_some() {
                    tracing::warn!("{e}; keeping the last good key set");
                } else {
                    tracing::warn!("{e}; no key set yet");
                }
                s.last_error = Some(e);
            }
        }
    }

    /// The current key set, refreshing it when its deadline has passed.
    /// Called on every request, cache hits included, so a retired key stops
    /// working within `refresh_every` even when no new token arrives.
    /// Cheap when nothing is due: one read lock and two clock reads.
    pub(crate) async fn current(&self) -> Result<Arc<KeySet>, VerifyError> {
        let (keys, due, seen, in_flight) = {
            let s = self.read();
            let stale = s
                .fetched_at
                .is_none_or(|t| t.elapsed() >= self.refresh_every);
            let cooled = s.last_attempt.is_none_or(|t| t.elapsed() >= self.cooldown);
            (
                s.keys.clone(),
                stale && cooled,
                s.attempts_done,
                s.in_flight,
            )
        };
        match keys {
            // A set is there: the caller that finds the deadline passed
            // refreshes; others keep using the set meanwhile.
            Some(keys) if !due => Ok(keys),
            Some(_) => {
                self.attempt(seen, Join::IfIdle).await;
                self.read().keys.clone().ok_or(VerifyError::KeysUnavailable)
            }
            // No set yet: everyone waits for the one fetch.
            None => {
                if due || in_flight {
                    self.attempt(seen, Join::Wait).await;
                }
                self.read().keys.clone().ok_or(VerifyError::KeysUnavailable)
            }
        }
    }

    /// A token named a `kid` the current set lacks: refresh once per
    /// cooldown (joining a fetch already running), and say whether the
    /// provider could be asked.
    pub(crate) async fn refresh_for_unknown_kid(&self, kid: &str) -> KidRefresh {
        let (cooled, seen, in_flight) = {
            let s = self.read();
            (
                s.last_attempt.is_none_or(|t| t.elapsed() >= self.cooldown),
                s.attempts_done,
                s.in_flight,
            )
        };
        if cooled || in_flight {
            tracing::debug!(kid, "JWK Set refresh for an unknown kid");
            self.attempt(seen, Join::Wait).await;
        }
        let s = self.read();
        match &s.keys {
            Some(keys) => KidRefresh::Keys {
                keys: keys.clone(),
                provider_failed: s.last_error.is_some(),
            },
            None => KidRefresh::Unavailable,
        }
    }
}
