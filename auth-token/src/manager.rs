//! [`TokenManager`]: RESTHeart-style auth tokens. After a request
//! authenticated by any strategy, the response carries a random token the
//! client sends back instead of its password until the token expires.

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpMessage, HttpResponse, web};
use auth_core::{
    AuthError, Clock, PrincipalKind, StateStore, StoreError, SystemClock, UserProfile,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use futures_util::future::LocalBoxFuture;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::cache::{self, Digest, Live, RecordCache};
use crate::owner_set::OwnerSet;

/// A string with the shape of a token (43 base64url characters): anything
/// else cannot be one and costs no store round trip. Checked once, where
/// the string is found; the lookup takes only this.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shaped<'a>(&'a str);

/// base64url's alphabet (RFC 4648 §5) as a table: one load per byte, where
/// the three range tests cost 537 instructions for a token (callgrind, on
/// every opaque-token request; 429 fewer with the table).
const BASE64URL: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        i += 1;
    }
    table
};

/// Whether `id` can be a token's or an API key's id: both are made of 12
/// characters of base64url (API keys: of `[A-Za-z0-9]`), so neither holds a
/// `:`. The owner index is keyed `OWNER:ID`; with a `:` in it, an id would
/// name another owner's entry (user `oidc` asking for `abc:ID` would reach
/// user `oidc:abc`'s `ID`).
pub(crate) fn well_formed_id(id: &str) -> bool {
    (1..=64).contains(&id.len()) && id.bytes().all(|b| BASE64URL[usize::from(b)])
}

impl<'a> Shaped<'a> {
    /// `s`, when it has a token's shape.
    pub(crate) fn new(s: &'a str) -> Option<Self> {
        Self::from_bytes(s.as_bytes())
    }

    /// `bytes` as text, when they have a token's shape (base64url is
    /// ASCII, so they are valid UTF-8).
    pub(crate) fn from_bytes(bytes: &'a [u8]) -> Option<Self> {
        let shaped = bytes.len() == 43 && bytes.iter().all(|&b| BASE64URL[usize::from(b)]);
        if !shaped {
            return None;
        }
        // Cannot fail after the ASCII check above; no `unsafe` to skip it.
        std::str::from_utf8(bytes).ok().map(Shaped)
    }

    /// The token.
    pub(crate) fn as_str(self) -> &'a str {
        self.0
    }
}

fn digest(token: &str) -> Digest {
    Sha256::digest(token.as_bytes()).into()
}

fn hash(token: &str) -> String {
    cache::encode(&digest(token))
}

/// RFC 3339, UTC, whole seconds.
fn rfc3339(secs: u64) -> String {
    let at = i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// What is stored for an auth token: never the token, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    /// A public id: the last segment of the token's location.
    pub id: String,
    /// Whose token it is: the profile's id.
    pub owner: String,
    /// The roles of the profile it was issued for.
    pub roles: Vec<String>,
    /// The scopes of the profile it was issued for.
    pub scopes: Vec<String>,
    /// Whether the owner is a user or a service.
    pub kind: PrincipalKind,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Seconds since the epoch. With [sliding](TokenManager::sliding)
    /// renewal, the current deadline: each use moves it.
    pub expires_at: u64,
    /// With [sliding](TokenManager::sliding) renewal, the deadline no use
    /// moves past (seconds since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_expires_at: Option<u64>,
    pub(crate) hash: String,
    /// Milliseconds since the epoch at issue: orders tokens for the cap.
    #[serde(default)]
    pub(crate) issued_ms: u64,
    /// The profile's e-mail, if it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

impl TokenRecord {
    /// The profile this token authenticates as.
    pub fn profile(&self) -> UserProfile {
        let profile = UserProfile::new(self.owner.clone())
            .with_roles(self.roles.clone())
            .with_scopes(self.scopes.clone())
            .with_kind(self.kind)
            .with_claim("auth_token_id", self.id.clone());
        match &self.email {
            Some(email) => profile.with_email(email.clone()),
            None => profile,
        }
    }
}

/// A token just issued: the only time the token itself is known.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedToken {
    /// The token (256 random bits, base64url).
    pub token: String,
    /// Its record.
    pub record: TokenRecord,
    /// Where its owner can see (`GET`) or revoke (`DELETE`) it.
    pub location: String,
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedToken")
            .field("record", &self.record)
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Why a token operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A stored record does not deserialise.
    #[error("an auth token record is malformed")]
    Malformed(#[source] serde_json::Error),
}

impl From<TokenError> for AuthError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Store(e) => e.into(),
            TokenError::Malformed(e) => {
                AuthError::internal(format!("auth token record is malformed: {e}"))
            }
        }
    }
}

/// Issues, verifies and revokes auth tokens on any [`StateStore`].
///
/// As in RESTHeart's token manager: a response to a request authenticated
/// by a password (or any strategy but the token ones) carries
///
/// | header | value |
/// |---|---|
/// | `Auth-Token` | the token: 256 random bits from the OS, base64url |
/// | `Auth-Token-Valid-Until` | its expiry, RFC 3339 |
/// | `Auth-Token-Location` | where its owner can `GET` its metadata or `DELETE` it |
///
/// and the client sends it back instead of its password until it expires
/// (15 minutes by default). Only its SHA-256 is stored, so a leaked
/// store leaks no token; a user holds at most `max_per_user` tokens (the
/// oldest is revoked first). Unknown and expired tokens are the same 401.
/// With [`sliding`](Self::sliding) renewal the lifetime is an idle
/// timeout instead, within a fixed maximum.
///
/// Each instance keeps the records of the tokens it verified lately in a
/// local [`cache`](Self::cache) (on by default: 10 000 tokens, each read
/// from the store again after 1 s at the latest), so a token in use costs
/// no store round trip; a revocation reaches every instance's cache
/// through the store's publish/subscribe.
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{MemoryStore, UserProfile};
/// use auth_token::TokenManager;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
/// let issued = tokens.issue(&UserProfile::new("ada")).await.unwrap();
/// assert_eq!(issued.location, format!("/auth/tokens/{}", issued.record.id));
/// let record = tokens.verify(&issued.token).await.unwrap().unwrap();
/// assert_eq!(record.owner, "ada");
/// tokens.revoke("ada", &record.id).await.unwrap();
/// assert!(tokens.verify(&issued.token).await.unwrap().is_none());
/// # });
/// ```
#[derive(Clone)]
pub struct TokenManager {
    store: Arc<dyn StateStore>,
    ttl: Duration,
    max_per_user: usize,
    location: String,
    clock: Arc<dyn Clock>,
    /// `Some(max lifetime)`: sliding renewal.
    sliding: Option<Duration>,
    /// The first segment of every key (`authtoken`).
    namespace: String,
    /// The local cache of live records; `None` when turned off. Every
    /// builder method starts a new one, so that managers configured apart
    /// (another namespace, clock or lifetime) never share entries.
    cache: Option<Arc<RecordCache>>,
    cache_capacity: usize,
    cache_max_age: Duration,
}

impl std::fmt::Debug for TokenManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenManager")
            .field("ttl", &self.ttl)
            .field("max_per_user", &self.max_per_user)
            .field("sliding", &self.sliding)
            .field(
                "cache_capacity",
                &self.cache.as_ref().map(|_| self.cache_capacity),
            )
            .field("cache_max_age", &self.cache_max_age)
            .finish_non_exhaustive()
    }
}

impl TokenManager {
    /// Tokens of 15 minutes, at most 10 per user, located under
    /// `/auth/tokens/`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        TokenManager {
            store,
            ttl: Duration::from_secs(15 * 60),
            max_per_user: 10,
            location: "/auth/tokens".into(),
            clock: Arc::new(SystemClock),
            sliding: None,
            namespace: "authtoken".into(),
            cache: RecordCache::new(cache::DEFAULT_CAPACITY, cache::DEFAULT_MAX_AGE),
            cache_capacity: cache::DEFAULT_CAPACITY,
            cache_max_age: cache::DEFAULT_MAX_AGE,
        }
    }

    /// A new, empty cache with the current settings (see the `cache` field).
    fn fresh_cache(mut self) -> Self {
        self.cache = RecordCache::new(self.cache_capacity, self.cache_max_age);
        self
    }

    /// The local cache of live tokens: at most `capacity` records (the
    /// least recently used goes first), each served for at most `max_age`
    /// after it was read from the store. Default: 10 000 tokens, 1 s. A
    /// zero capacity or maximum age turns it off (every verification reads
    /// the store).
    ///
    /// Without it, each verification reads the token's record from the
    /// store (a round trip to Redis or SQL) and decodes it; a hit costs a
    /// SHA-256, a map lookup and a copy of the profile. What keeps it
    /// correct on many instances:
    ///
    /// - **Keyed by the token's SHA-256**, never the token; a hit is
    ///   checked against the token's deadline with this manager's clock,
    ///   so an expired token is never served. An entry past its deadline or
    ///   its maximum age is dropped and the store is read, as for an
    ///   unknown token (the two still cost the same).
    /// - **Revocations are published.** [`revoke`](Self::revoke) (and so
    ///   the per-user cap, a browser session's logout and rotation, and the
    ///   RFC 7009 endpoint) drops the token here at once and publishes its
    ///   hash on the store channel `<namespace>:revoked`; every instance's
    ///   cache drops it when the message arrives (milliseconds on Redis or
    ///   PostgreSQL, see docs/scaling.md). A record read from the store
    ///   while any invalidation arrived is not kept.
    /// - **Trusted only while subscribed.** The first verification
    ///   subscribes to that channel (that one request waits for the
    ///   subscription, within the store's own timeouts; concurrent requests
    ///   read the store meanwhile instead of waiting); until that succeeded, and from the
    ///   moment the subscription reports a gap (a lost connection, a slow
    ///   reader) or ends, nothing is served from the cache: every request
    ///   reads the store, and the next one subscribes again (at most one
    ///   attempt a second while it fails). A store without
    ///   publish/subscribe ([`StoreError::Unsupported`]) gets no cache.
    /// - **Bounded staleness.** `max_age` bounds what a lost message can
    ///   cost: a revocation whose message never arrived, without a gap
    ///   reported, is enforced on the other instances within `max_age`
    ///   (the default 1 s is the revocation bound docs/scaling.md states).
    /// - **Sliding renewal** ([`sliding`](Self::sliding)) happens on the
    ///   verifications that read the store: with the cache, at least one
    ///   per `max_age` and token on a busy instance instead of one per
    ///   second, so the stored deadline may lag the last use by up to
    ///   `max_age` and an idle token can expire up to `max_age` earlier
    ///   than `ttl` after its last use. A hit reports the deadline as of
    ///   the store read.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::TokenManager;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// // Two instances on one store, with a smaller cache.
    /// let a = TokenManager::new(store.clone()).cache(1_000, Duration::from_millis(500));
    /// let b = TokenManager::new(store.clone()).cache(1_000, Duration::from_millis(500));
    /// let issued = a.issue(&UserProfile::new("ada")).await.unwrap();
    /// assert!(b.verify(&issued.token).await.unwrap().is_some()); // read, cached
    /// assert!(b.verify(&issued.token).await.unwrap().is_some()); // from the cache
    /// a.revoke("ada", &issued.record.id).await.unwrap();
    /// // b's cache drops it as the message arrives (within 500 ms at worst).
    /// while b.verify(&issued.token).await.unwrap().is_some() {
    ///     tokio::task::yield_now().await;
    /// }
    /// // Off: every verification reads the store.
    /// let uncached = TokenManager::new(store).cache(0, Duration::ZERO);
    /// # let _ = uncached;
    /// # });
    /// ```
    pub fn cache(mut self, capacity: usize, max_age: Duration) -> Self {
        self.cache_capacity = capacity;
        self.cache_max_age = max_age;
        self.fresh_cache()
    }

    /// The first segment of the store keys (default `authtoken`): managers
    /// on one store with different namespaces keep apart, each with its own
    /// per-user cap, and a token of one is unknown to the other (browser
    /// sessions use `session`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::TokenManager;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let store = Arc::new(MemoryStore::new());
    /// let tokens = TokenManager::new(store.clone());
    /// let sessions = TokenManager::new(store).namespace("session");
    /// let issued = sessions.issue(&UserProfile::new("ada")).await.unwrap();
    /// assert!(sessions.verify(&issued.token).await.unwrap().is_some());
    /// assert!(tokens.verify(&issued.token).await.unwrap().is_none());
    /// # });
    /// ```
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self.fresh_cache()
    }

    fn key(&self, kind: &str, rest: &str) -> String {
        format!("{}:{kind}:{rest}", self.namespace)
    }

    fn deadline_key(&self, hash: &str) -> String {
        self.key("x", hash)
    }

    /// The set of the owner's token hashes: what `list` and the per-user
    /// cap read.
    fn owner_set(&self, owner: &str) -> OwnerSet<'_> {
        OwnerSet::new(&*self.store, self.key("s", owner))
    }

    /// Reads time from `clock` (tests; give the store the same clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self.fresh_cache()
    }

    /// Sliding renewal: a token expires after [`ttl`](Self::ttl) without
    /// use, and each use gives it `ttl` again, but never beyond
    /// `max_lifetime` after its issue (at least `ttl`). As with RESTHeart's
    /// tokens, an active client keeps its token and an idle one loses it.
    ///
    /// The current deadline is a separate entry of the store (one more
    /// round trip per verification that reads the store, and one write per
    /// token and second at most), so that every instance sees each renewal.
    /// With the local [`cache`](Self::cache), renewals happen on the
    /// verifications that read the store: the stored deadline lags the last
    /// use by at most the cache's maximum age (1 s by default).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use auth_core::{ManualClock, MemoryStore, UserProfile};
    /// use auth_token::TokenManager;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(1_700_000_000_000);
    /// let store = Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone())));
    /// let tokens = TokenManager::new(store)
    ///     .clock(Arc::new(clock.clone()))
    ///     .ttl(Duration::from_secs(600))
    ///     .sliding(Duration::from_secs(3600));
    /// let issued = tokens.issue(&UserProfile::new("ada")).await.unwrap();
    /// clock.advance(Duration::from_secs(500));
    /// assert!(tokens.verify(&issued.token).await.unwrap().is_some()); // renewed to 1100 s
    /// clock.advance(Duration::from_secs(500));
    /// assert!(tokens.verify(&issued.token).await.unwrap().is_some()); // 1000 s after issue
    /// clock.advance(Duration::from_secs(601));
    /// assert!(tokens.verify(&issued.token).await.unwrap().is_none()); // idle too long
    /// # });
    /// ```
    pub fn sliding(mut self, max_lifetime: Duration) -> Self {
        self.sliding = Some(max_lifetime);
        self.fresh_cache()
    }

    /// How long the store keeps a token's record: its lifetime, or with
    /// sliding renewal its maximum lifetime.
    fn record_ttl(&self) -> Duration {
        match self.sliding {
            Some(max) => max.max(self.ttl),
            None => self.ttl,
        }
    }

    /// How long a token lives (at least one second).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl.max(Duration::from_secs(1));
        self.fresh_cache()
    }

    /// How many live tokens a user may hold (at least 1).
    pub fn max_per_user(mut self, n: usize) -> Self {
        self.max_per_user = n.max(1);
        self.fresh_cache()
    }

    /// The path under which token locations live (default `/auth/tokens`):
    /// the path [`routes`](Self::routes) is mounted at.
    pub fn location(mut self, path: impl Into<String>) -> Self {
        self.location = path.into().trim_end_matches('/').to_owned();
        self.fresh_cache()
    }

    /// Issues a token for `profile`.
    pub async fn issue(&self, profile: &UserProfile) -> Result<IssuedToken, TokenError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let token = URL_SAFE_NO_PAD.encode(bytes);
        let mut id_bytes = [0u8; 9];
        rand::rngs::OsRng.fill_bytes(&mut id_bytes);
        let id = URL_SAFE_NO_PAD.encode(id_bytes);
        let now_ms = self.clock.now_ms();
        let now = now_ms / 1000;
        let record_ttl = self.record_ttl();
        let record = TokenRecord {
            id: id.clone(),
            owner: profile.id.clone(),
            roles: profile.roles.clone(),
            scopes: profile.scopes.clone(),
            kind: profile.kind,
            created_at: now,
            expires_at: now.saturating_add(self.ttl.as_secs()),
            max_expires_at: self
                .sliding
                .map(|_| now.saturating_add(record_ttl.as_secs())),
            hash: hash(&token),
            issued_ms: now_ms,
            email: profile.email.clone(),
        };
        // Over the cap: the oldest go first.
        let mut held = self.list(&record.owner).await?;
        while held.len() >= self.max_per_user {
            let oldest = held.remove(0);
            self.revoke(&oldest.owner, &oldest.id).await?;
        }
        let json = serde_json::to_vec(&record).map_err(TokenError::Malformed)?;
        if self.sliding.is_some() {
            // The deadline first: a record without one is not yet valid.
            self.store
                .raise(
                    &self.deadline_key(&record.hash),
                    record.expires_at,
                    self.ttl,
                )
                .await?;
        }
        self.store
            .set_if_absent(&self.key("h", &record.hash), &json, record_ttl)
            .await?;
        self.store
            .set_if_absent(
                &self.key("o", &format!("{}:{id}", record.owner)),
                record.hash.as_bytes(),
                record_ttl,
            )
            .await?;
        self.owner_set(&record.owner)
            .add(&record.hash, record_ttl)
            .await?;
        Ok(IssuedToken {
            token,
            location: format!("{}/{id}", self.location),
            record,
        })
    }

    /// The record of a live token; `None` for an unknown, revoked or expired
    /// one, alike. Served from the local [`cache`](Self::cache) when it
    /// holds the token.
    pub async fn verify(&self, token: &str) -> Result<Option<TokenRecord>, TokenError> {
        let Some(token) = Shaped::new(token) else {
            return Ok(None);
        };
        Ok(self
            .lookup(token)
            .await?
            .map(|live| Arc::unwrap_or_clone(live.record)))
    }

    /// [`verify`](Self::verify), as shared record and profile: what the
    /// strategies use, so that a cache hit copies little.
    pub(crate) async fn lookup(&self, token: Shaped<'_>) -> Result<Option<Live>, TokenError> {
        let digest = digest(token.as_str());
        let now_ms = self.clock.now_ms();
        if let Some(live) = self.cache.as_ref().and_then(|c| c.get(&digest, now_ms)) {
            return Ok(Some(live));
        }
        // Boxed: a hit (the common case) does not carry the store
        // round trip's state around.
        Box::pin(self.miss(digest, now_ms)).await
    }

    /// [`lookup`](Self::lookup) past the cache: reads the store, and keeps
    /// what it read in the cache unless an invalidation came meanwhile.
    async fn miss(&self, digest: Digest, now_ms: u64) -> Result<Option<Live>, TokenError> {
        let since = match &self.cache {
            Some(cache) => {
                cache.link(&self.store, &self.namespace, now_ms).await;
                Some(cache.epoch())
            }
            None => None,
        };
        let Some(record) = self.read(&cache::encode(&digest), now_ms / 1000).await? else {
            return Ok(None);
        };
        let live = Live::new(record);
        if let (Some(cache), Some(since)) = (&self.cache, since) {
            cache.fill(digest, live.clone(), since, now_ms);
        }
        Ok(Some(live))
    }

    /// The live record of the token with `hash`, from the store.
    async fn read(&self, hash: &str, now: u64) -> Result<Option<TokenRecord>, TokenError> {
        // With sliding renewal the deadline decides first: an idle token
        // costs one round trip, as an unknown one does.
        let deadline = match self.sliding {
            Some(_) => match self.deadline(hash, now).await? {
                Some(deadline) => Some(deadline),
                None => return Ok(None),
            },
            None => None,
        };
        let Some(entry) = self.store.get(&self.key("h", hash)).await? else {
            return Ok(None);
        };
        let mut record: TokenRecord =
            serde_json::from_slice(&entry.value).map_err(TokenError::Malformed)?;
        if !bool::from(record.hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(None);
        }
        if let Some(deadline) = deadline {
            record.expires_at = deadline;
            let max = record.max_expires_at.unwrap_or(deadline);
            let renewed = now.saturating_add(self.ttl.as_secs()).min(max);
            // At most one write per token and second (`raise` only moves a
            // deadline forward, so concurrent renewals cannot shorten it).
            if renewed > deadline {
                self.store
                    .raise(
                        &self.deadline_key(hash),
                        renewed,
                        Duration::from_secs(renewed - now),
                    )
                    .await?;
                record.expires_at = renewed;
            }
        }
        Ok((record.expires_at > now).then_some(record))
    }

    /// The live sliding deadline of the token with `hash`.
    async fn deadline(&self, hash: &str, now: u64) -> Result<Option<u64>, TokenError> {
        match self.store.get(&self.deadline_key(hash)).await? {
            Some(entry) => Ok(Some(entry.as_count()?).filter(|d| *d > now)),
            None => Ok(None),
        }
    }

    /// `record` as it stands now: with sliding renewal, its current
    /// deadline, or `None` once it has passed.
    async fn current(&self, mut record: TokenRecord) -> Result<Option<TokenRecord>, TokenError> {
        let now = self.clock.now_secs();
        if self.sliding.is_some() {
            match self.deadline(&record.hash, now).await? {
                Some(deadline) => record.expires_at = deadline,
                None => return Ok(None),
            }
        }
        Ok((record.expires_at > now).then_some(record))
    }

    /// The owner's live tokens, oldest first. Reads the owner's set of
    /// tokens and then each record: no scan of the store (on a store
    /// without sets, `StateStore::scan` of the owner's index entries).
    /// Tokens issued before the set existed (an older version of this
    /// crate) are not listed; they expire with their lifetime.
    pub async fn list(&self, owner: &str) -> Result<Vec<TokenRecord>, TokenError> {
        let set = self.owner_set(owner);
        let hashes = match set.hashes().await? {
            Some(hashes) => hashes,
            None => {
                let mut hashes = Vec::new();
                for (_, entry) in self
                    .store
                    .scan(&self.key("o", &format!("{owner}:")))
                    .await?
                {
                    hashes.push(String::from_utf8_lossy(&entry.value).into_owned());
                }
                hashes
            }
        };
        let mut records = Vec::new();
        for hash in hashes {
            match self.store.get(&self.key("h", &hash)).await? {
                Some(entry) => {
                    let record: TokenRecord =
                        serde_json::from_slice(&entry.value).map_err(TokenError::Malformed)?;
                    if record.owner == owner
                        && let Some(record) = self.current(record).await?
                    {
                        records.push(record);
                    }
                }
                None => set.forget(&hash).await,
            }
        }
        records.sort_by(|a, b| a.issued_ms.cmp(&b.issued_ms).then(a.id.cmp(&b.id)));
        Ok(records)
    }

    /// The owner's token `id`; `None` when there is none (another user's
    /// token included: it is not theirs to see).
    pub async fn get(&self, owner: &str, id: &str) -> Result<Option<TokenRecord>, TokenError> {
        if !well_formed_id(id) {
            return Ok(None);
        }
        let Some(hash) = self
            .store
            .get(&self.key("o", &format!("{owner}:{id}")))
            .await?
        else {
            return Ok(None);
        };
        let hash = String::from_utf8_lossy(&hash.value).into_owned();
        match self.store.get(&self.key("h", &hash)).await? {
            Some(entry) => {
                let record: TokenRecord =
                    serde_json::from_slice(&entry.value).map_err(TokenError::Malformed)?;
                if record.owner != owner || record.id != id {
                    return Ok(None);
                }
                self.current(record).await
            }
            None => Ok(None),
        }
    }

    /// Revokes the owner's token `id` on every instance; `false` when there
    /// was none. The token leaves this instance's [`cache`](Self::cache) at
    /// once and the others' when the published message arrives; if
    /// publishing fails (logged), theirs within the cache's maximum age.
    pub async fn revoke(&self, owner: &str, id: &str) -> Result<bool, TokenError> {
        if !well_formed_id(id) {
            return Ok(false);
        }
        let index = self.key("o", &format!("{owner}:{id}"));
        let Some(hash) = self.store.get(&index).await? else {
            return Ok(false);
        };
        let hash = String::from_utf8_lossy(&hash.value).into_owned();
        // The record goes first and the owner's index entry last: when the
        // store fails in between, the entry is still there, so the token is
        // still listed and a retry finds it and finishes. The other way
        // round, a failure left a live token that no one could find again.
        self.store.delete(&self.key("h", &hash)).await?;
        // The record is gone: the caches let the token go now, before a
        // later step can fail.
        if let (Some(cache), Some(digest)) = (&self.cache, cache::decode(hash.as_bytes())) {
            cache.invalidate(&digest);
        }
        // Other instances may cache even when this one does not.
        match self
            .store
            .publish(&cache::channel(&self.namespace), hash.as_bytes())
            .await
        {
            Ok(()) | Err(StoreError::Unsupported { .. }) => {}
            // Revoked on the store all the same: the other caches let it go
            // within their maximum age.
            Err(e) => tracing::warn!(error = %e, "could not publish an auth token revocation"),
        }
        if self.sliding.is_some() {
            self.store.delete(&self.deadline_key(&hash)).await?;
        }
        self.owner_set(owner).remove(&hash).await?;
        self.store.delete(&index).await?;
        Ok(true)
    }

    /// The middleware that adds `Auth-Token` headers to the successful
    /// responses of requests authenticated by any strategy not named in
    /// `token_strategies` (the ones that read these tokens: a request that
    /// came with a token gets no new one).
    pub fn issue_on_success<I, S>(&self, token_strategies: I) -> IssueTokens
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        IssueTokens {
            manager: self.clone(),
            skip: Rc::new(token_strategies.into_iter().map(Into::into).collect()),
        }
    }

    /// `GET /{id}` (the token's metadata) and `DELETE /{id}` (revoke it,
    /// 204) for the authenticated owner; another user's token, or none, is
    /// 404. Mount it in an authenticated scope at the
    /// [`location`](Self::location):
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::{web, App};
    /// use auth_core::{AuthenticationMiddleware, MemoryStore};
    /// use auth_token::TokenManager;
    ///
    /// let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
    /// let app = App::new().service(
    ///     web::scope("/auth/tokens")
    ///         .wrap(AuthenticationMiddleware::with(["basic", "token-basic"]))
    ///         .configure(tokens.routes()),
    /// );
    /// # let _ = app;
    /// ```
    pub fn routes(&self) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
        let manager = web::Data::new(self.clone());
        move |cfg| {
            cfg.service(
                web::resource("/{id}")
                    .app_data(manager)
                    .route(web::get().to(show))
                    .route(web::delete().to(remove)),
            );
        }
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().json(serde_json::json!({
        "error": {"statusCode": 404, "name": "NotFoundError", "message": "no such token", "code": "ENTITY_NOT_FOUND"}
    }))
}

async fn show(
    user: UserProfile,
    manager: web::Data<TokenManager>,
    id: web::Path<String>,
) -> Result<HttpResponse, AuthError> {
    Ok(match manager.get(&user.id, &id).await? {
        Some(record) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "no-store"))
            .json(serde_json::json!({
                "id": record.id,
                "owner": record.owner,
                "roles": record.roles,
                "scopes": record.scopes,
                "createdAt": rfc3339(record.created_at),
                "validUntil": rfc3339(record.expires_at),
                "maxValidUntil": record.max_expires_at.map(rfc3339),
            })),
        None => not_found(),
    })
}

async fn remove(
    user: UserProfile,
    manager: web::Data<TokenManager>,
    id: web::Path<String>,
) -> Result<HttpResponse, AuthError> {
    Ok(if manager.revoke(&user.id, &id).await? {
        HttpResponse::NoContent().finish()
    } else {
        not_found()
    })
}

/// The middleware of [`TokenManager::issue_on_success`].
#[derive(Clone)]
pub struct IssueTokens {
    manager: TokenManager,
    skip: Rc<Vec<String>>,
}

impl std::fmt::Debug for IssueTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssueTokens")
            .field("skip", &self.skip)
            .finish_non_exhaustive()
    }
}

impl<S, B> Transform<S, ServiceRequest> for IssueTokens
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = IssueTokensService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IssueTokensService {
            service: Rc::new(service),
            config: self.clone(),
        }))
    }
}

/// The service of [`IssueTokens`].
#[derive(Debug)]
pub struct IssueTokensService<S> {
    service: Rc<S>,
    config: IssueTokens,
}

impl<S, B> Service<ServiceRequest> for IssueTokensService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let config = self.config.clone();
        Box::pin(async move {
            let mut res = service.call(req).await?;
            if !res.status().is_success() {
                return Ok(res);
            }
            let profile = res.request().extensions().get::<UserProfile>().cloned();
            let Some(profile) = profile.filter(|p| !config.skip.contains(&p.strategy)) else {
                return Ok(res);
            };
            match config.manager.issue(&profile).await {
                Ok(issued) => {
                    let headers = res.headers_mut();
                    for (name, value) in [
                        ("auth-token", issued.token.clone()),
                        ("auth-token-valid-until", rfc3339(issued.record.expires_at)),
                        ("auth-token-location", issued.location.clone()),
                    ] {
                        if let Ok(value) = HeaderValue::from_str(&value) {
                            headers.insert(HeaderName::from_static(name), value);
                        }
                    }
                    // A token is a credential: never cached by anyone.
                    headers.insert(
                        actix_web::http::header::CACHE_CONTROL,
                        HeaderValue::from_static("no-store"),
                    );
                }
                // The request itself succeeded; without a store the client
                // just gets no token this time.
                Err(e) => tracing::warn!(error = %e, "could not issue an auth token"),
            }
            Ok(res)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Shaped;

    /// Every byte value, at the start, in the middle and at the end of an
    /// otherwise valid token: taken exactly when it is in base64url's
    /// alphabet (RFC 4648 §5), so the table matches the alphabet.
    #[test]
    fn the_shape_takes_base64url_bytes_only() {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        assert_eq!(ALPHABET.len(), 64);
        for b in 0..=u8::MAX {
            let in_alphabet = ALPHABET.contains(&b);
            for at in [0, 21, 42] {
                let mut token = [b'A'; 43];
                token[at] = b;
                assert_eq!(
                    Shaped::from_bytes(&token).is_some(),
                    in_alphabet,
                    "byte {b:#04x} at {at}"
                );
            }
        }
        let valid = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNO-_";
        assert_eq!(Shaped::new(valid).map(Shaped::as_str), Some(valid));
        // Lengths other than 43 are not tokens, whatever their bytes.
        for len in [0, 1, 42, 44, 86] {
            assert!(
                Shaped::from_bytes(&vec![b'A'; len]).is_none(),
                "length {len}"
            );
        }
    }
}
