//! Keys from a JWK Set URL: fetched, cached, refreshed, served stale.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures_util::future::LocalBoxFuture;

use crate::key::KeySet;
use crate::verify::VerifyError;

/// Fetches the JWK Set document. Injectable so tests need no network.
pub trait JwksFetcher: Send + Sync + 'static {
    /// Fetches the document body, or says why it could not.
    fn fetch(&self) -> LocalBoxFuture<'_, Result<String, String>>;
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
    pub fn new(url: &str) -> Result<Self, String> {
        let url = reqwest::Url::parse(url).map_err(|e| format!("invalid JWK Set URL: {e}"))?;
        let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
        if url.scheme() != "https" && !(url.scheme() == "http" && loopback) {
            return Err("a JWK Set URL must use https".into());
        }
        // reqwest is built without a bundled crypto provider; install ring
        // unless the application chose another one first.
        #[cfg(not(feature = "aws-lc-rs"))]
        let _ = rustls::crypto::ring::default_provider().install_default();
        #[cfg(feature = "aws-lc-rs")]
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| format!("cannot build HTTP client: {e}"))?;
        Ok(HttpFetcher { client, url })
    }
}

impl JwksFetcher for HttpFetcher {
    fn fetch(&self) -> LocalBoxFuture<'_, Result<String, String>> {
        Box::pin(async move {
            let resp = self
                .client
                .get(self.url.clone())
                .send()
                .await
                .map_err(|e| format!("JWK Set fetch failed: {e}"))?;
            if !resp.status().is_success() {
                return Err(format!("JWK Set server answered {}", resp.status()));
            }
            if resp
                .content_length()
                .is_some_and(|n| n as usize > MAX_JWKS_BYTES)
            {
                return Err("JWK Set document too large".into());
            }
            let body = resp
                .bytes()
                .await
                .map_err(|e| format!("JWK Set read failed: {e}"))?;
            if body.len() > MAX_JWKS_BYTES {
                return Err("JWK Set document too large".into());
            }
            String::from_utf8(body.to_vec()).map_err(|_| "JWK Set is not UTF-8".into())
        })
    }
}

struct State {
    keys: Option<Arc<KeySet>>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
}

/// Keys fetched from a JWK Set URL.
///
/// - fetched on first use, then refreshed when older than `refresh_every`
///   (default 10 min);
/// - refreshed when a token names an unknown `kid`, at most once per
///   `cooldown` (default 30 s), so random `kid`s cannot hammer the server;
/// - served stale while the server is down; with no key ever fetched a
///   request fails closed with 503.
pub struct JwksKeys {
    fetcher: Box<dyn JwksFetcher>,
    state: RwLock<State>,
    refresh_every: Duration,
    cooldown: Duration,
    // Serialises fetches so a burst of requests causes one fetch.
    fetching: tokio::sync::Mutex<()>,
    fetches: Mutex<u64>,
}

impl std::fmt::Debug for JwksKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksKeys")
            .field("refresh_every", &self.refresh_every)
            .field("cooldown", &self.cooldown)
            .finish_non_exhaustive()
    }
}

impl JwksKeys {
    /// Keys from an HTTPS URL.
    pub fn from_url(url: &str) -> Result<Arc<Self>, String> {
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
            }),
            refresh_every: Duration::from_secs(600),
            cooldown: Duration::from_secs(30),
            fetching: tokio::sync::Mutex::new(()),
            fetches: Mutex::new(0),
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

    /// How many fetches were attempted (for monitoring and tests).
    pub fn fetch_count(&self) -> u64 {
        *self.fetches.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn snapshot(&self) -> (Option<Arc<KeySet>>, Option<Instant>, Option<Instant>) {
        let s = self.state.read().unwrap_or_else(|e| e.into_inner());
        (s.keys.clone(), s.fetched_at, s.last_attempt)
    }

    /// Fetches the JWK Set now, whatever the refresh interval and cooldown
    /// say, and installs it. On failure the previous keys stay and the
    /// reason is returned (it names no key material).
    ///
    /// For failing fast at start-up and for one-shot tools such as
    /// `auth-cli`, which need the reason rather than a 503.
    pub async fn refresh(&self) -> Result<Arc<KeySet>, String> {
        let _guard = self.fetching.lock().await;
        *self.fetches.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        let now = Instant::now();
        let result = self.fetcher.fetch().await.and_then(|body| {
            KeySet::from_jwks_json(&body).map_err(|e| format!("JWK Set refused: {e}"))
        });
        let mut s = self.state.write().unwrap_or_else(|e| e.into_inner());
        s.last_attempt = Some(now);
        let keys = Arc::new(result?);
        s.keys = Some(keys.clone());
        s.fetched_at = Some(now);
        Ok(keys)
    }

    /// Fetches and installs a new key set; on failure keeps the old one.
    /// Returns whether the set changed.
    async fn fetch(&self) -> bool {
        match self.refresh().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!("{e}; keeping the previous keys");
                false
            }
        }
    }

    pub(crate) async fn keys_for(
        &self,
        _kid: Option<&str>,
    ) -> Result<(Arc<KeySet>, bool), VerifyError> {
        let (keys, fetched_at, last_attempt) = self.snapshot();
        let stale = fetched_at.is_none_or(|t| t.elapsed() >= self.refresh_every);
        let may_retry = last_attempt.is_none_or(|t| t.elapsed() >= self.cooldown);
        let mut changed = false;
        if (keys.is_none() || stale) && may_retry {
            changed = self.fetch().await;
        }
        match self.snapshot().0 {
            Some(k) => Ok((k, changed)),
            None => Err(VerifyError::KeysUnavailable),
        }
    }

    pub(crate) async fn refresh_for_unknown_kid(&self, kid: &str) -> Option<Arc<KeySet>> {
        let (_, _, last_attempt) = self.snapshot();
        if last_attempt.is_some_and(|t| t.elapsed() < self.cooldown) {
            return None;
        }
        if self.fetch().await {
            let keys = self.snapshot().0?;
            tracing::debug!(kid, "JWK Set refreshed for an unknown kid");
            return Some(keys);
        }
        None
    }
}
