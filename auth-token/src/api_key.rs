//! API keys: a format a scanner recognises, storage that leaks nothing, and
//! the strategy that accepts them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, Clock, StateStore, StoreError,
    StrategyOptions, SystemClock, UserProfile,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::Rng as _;
use rand::distributions::Alphanumeric;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::manager::well_formed_id;
use crate::owner_set::OwnerSet;

/// Random characters in a key: 43 from `[A-Za-z0-9]` are 256 bits.
const SECRET_CHARS: usize = 43;
/// Checksum characters: 6 base-62 digits hold 32 bits.
const CHECKSUM_CHARS: usize = 6;
const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// "No expiry": ten years, so that nothing is stored forever.
const NO_EXPIRY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);
/// How often a listing looks for keys an earlier version made without
/// adding them to their owner's set (per owner, when listed).
const UNINDEXED_CHECK_EVERY: Duration = Duration::from_secs(24 * 3600);
/// `last_used` is written at most this often per key.
const LAST_USED_EVERY: u64 = 60;

/// The checksum of `prefix_secret`: the first 4 bytes of its SHA-256, as 6
/// base-62 digits. Anyone can recompute it (no key is needed), so a secret
/// scanner can tell a real key from a random string that looks like one.
fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    let mut n = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut out = [b'0'; CHECKSUM_CHARS];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether `key` has the shape `PREFIX_SECRETCHECKSUM` with a checksum
/// that matches: a pure function of the string, no store involved.
///
/// ```
/// use auth_token::looks_like_api_key;
/// assert!(!looks_like_api_key("ak_", "ak_notakey"));
/// ```
pub fn looks_like_api_key(prefix: &str, key: &str) -> bool {
    let Some(rest) = key.strip_prefix(prefix) else {
        return false;
    };
    if rest.len() != SECRET_CHARS + CHECKSUM_CHARS
        || !rest.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_CHARS);
    checksum(body).as_bytes().ct_eq(sum.as_bytes()).into()
}

/// What is stored for a key: never the key, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    /// A short public id, for listing and revoking (`GET`/`DELETE` by id).
    pub id: String,
    /// Whose key it is: the profile's id.
    pub owner: String,
    /// What the owner calls it ("CI deploy").
    pub name: String,
    /// Roles the key grants.
    pub roles: Vec<String>,
    /// Scopes the key grants.
    pub scopes: Vec<String>,
    /// Seconds since the epoch.
    pub created_at: u64,
    /// Seconds since the epoch; `None`: no expiry (kept ten years).
    pub expires_at: Option<u64>,
    /// The key's SHA-256, base64url.
    hash: String,
}

/// A new key's details: what [`ApiKeys::create`] stores.
#[derive(Debug, Clone, Default)]
pub struct NewApiKey {
    /// Whose key it is.
    pub owner: String,
    /// What the owner calls it.
    pub name: String,
    /// Roles the key grants.
    pub roles: Vec<String>,
    /// Scopes the key grants.
    pub scopes: Vec<String>,
    /// How long it is valid; `None`: no expiry.
    pub ttl: Option<Duration>,
}

/// Why an API-key operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiKeyError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A record in the store does not deserialise.
    #[error("an API key record is malformed")]
    Malformed(#[source] serde_json::Error),
    /// No key with this id belongs to this owner.
    #[error("no such API key")]
    NotFound,
    /// An argument cannot be used (an empty owner, a prefix that is not
    /// `[a-z0-9]+_`).
    #[error("{0}")]
    Invalid(&'static str),
}

/// Issues, lists, revokes and verifies API keys, on any [`StateStore`]
/// (memory, Redis, SQL), so that every instance sees a revocation at once.
///
/// A key looks like `ak_` followed by 43 random characters (256 bits) and a
/// 6-character checksum: a leaked key is recognisable by its prefix and
/// checksum, as GitHub's `ghp_` tokens are, while a typo is refused without
/// touching the store. Only the key's SHA-256 is stored (a fast hash is
/// enough for 256 random bits: nobody can guess a preimage), so a leaked
/// store leaks no key. Lookup is by that hash, and the stored hash is
/// compared in constant time.
///
/// | store key | value |
/// |---|---|
/// | `apikey:h:HASH` | the [`ApiKeyRecord`] as JSON, expiring with the key |
/// | `apikey:o:OWNER:ID` | `HASH`, for revoking by id |
/// | set `apikey:s:OWNER` | the owner's `HASH`es, for listing (`StateStore::add_member`) |
/// | `apikey:u:HASH` | last use, seconds since the epoch (written at most once a minute), expiring with the key |
/// | `apikey:m:OWNER` | the owner's keys were looked for outside the set today (a day) |
///
/// ```
/// use std::sync::Arc;
/// use auth_core::MemoryStore;
/// use auth_token::{ApiKeys, NewApiKey};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let keys = ApiKeys::new(Arc::new(MemoryStore::new()));
/// let (key, record) = keys
///     .create(NewApiKey { owner: "ada".into(), name: "CI".into(), ..Default::default() })
///     .await
///     .unwrap();
/// assert!(key.starts_with("ak_"));
/// assert_eq!(keys.verify(&key).await.unwrap().unwrap().owner, "ada");
/// keys.revoke("ada", &record.id).await.unwrap();
/// assert!(keys.verify(&key).await.unwrap().is_none());
/// # });
/// ```
#[derive(Clone)]
pub struct ApiKeys {
    store: Arc<dyn StateStore>,
    prefix: Cow<'static, str>,
    last_written: Arc<Mutex<HashMap<String, u64>>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiKeys")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn hash(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(key.as_bytes()))
}

impl ApiKeys {
    /// Keys with the prefix `ak_`, kept in `store`.
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        ApiKeys {
            store,
            prefix: Cow::Borrowed("ak_"),
            last_written: Arc::default(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Reads time from `clock` (tests; give the store the same clock).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use auth_core::{ManualClock, MemoryStore};
    /// use auth_token::{ApiKeys, NewApiKey};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let clock = ManualClock::new(1_700_000_000_000);
    /// let store = Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone())));
    /// let keys = ApiKeys::new(store).clock(Arc::new(clock.clone()));
    /// let ttl = Some(Duration::from_secs(60));
    /// let (key, _) = keys.create(NewApiKey { owner: "ada".into(), ttl, ..Default::default() }).await.unwrap();
    /// clock.advance(Duration::from_secs(60));
    /// assert!(keys.verify(&key).await.unwrap().is_none()); // expired
    /// # });
    /// ```
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Another prefix: lower-case letters and digits, then `_` (e.g.
    /// `todo_`), so that scanners can be taught yours.
    pub fn with_prefix(
        mut self,
        prefix: impl Into<Cow<'static, str>>,
    ) -> Result<Self, ApiKeyError> {
        let prefix = prefix.into();
        let valid = prefix.strip_suffix('_').is_some_and(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        });
        if !valid {
            return Err(ApiKeyError::Invalid(
                "an API key prefix is [a-z0-9]+ followed by _",
            ));
        }
        self.prefix = prefix;
        Ok(self)
    }

    /// The prefix of these keys.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Issues a key: the key itself (shown once, never stored) and its
    /// record.
    pub async fn create(&self, new: NewApiKey) -> Result<(String, ApiKeyRecord), ApiKeyError> {
        if new.owner.is_empty() {
            return Err(ApiKeyError::Invalid("an API key needs an owner"));
        }
        let mut rng = rand::rngs::OsRng;
        let secret: String = (0..SECRET_CHARS)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect();
        let body = format!("{}{secret}", self.prefix);
        let key = format!("{body}{}", checksum(&body));
        let id: String = (0..12)
            .map(|_| char::from(rng.sample(Alphanumeric)))
            .collect();
        let now = self.clock.now_secs();
        let ttl = new.ttl.unwrap_or(NO_EXPIRY);
        let record = ApiKeyRecord {
            id: id.clone(),
            owner: new.owner,
            name: new.name,
            roles: new.roles,
            scopes: new.scopes,
            created_at: now,
            expires_at: new.ttl.map(|t| now.saturating_add(t.as_secs())),
            hash: hash(&key),
        };
        let json = serde_json::to_vec(&record).map_err(ApiKeyError::Malformed)?;
        self.store
            .set_if_absent(&format!("apikey:h:{}", record.hash), &json, ttl)
            .await?;
        self.store
            .set_if_absent(
                &format!("apikey:o:{}:{id}", record.owner),
                record.hash.as_bytes(),
                ttl,
            )
            .await?;
        self.owner_set(&record.owner).add(&record.hash, ttl).await?;
        Ok((key, record))
    }

    /// The owner's keys (records only), from the owner's set of keys and
    /// then each record. Keys made by an earlier version of this crate
    /// (before the sets) join the set on a listing: one scan of the owner's
    /// index entries, at most once a day per owner, so that keys an
    /// instance still on the earlier version makes during a rolling upgrade
    /// are found too. Authentication and creation never scan.
    pub async fn list(&self, owner: &str) -> Result<Vec<ApiKeyRecord>, ApiKeyError> {
        let set = self.owner_set(owner);
        let hashes = match set.hashes().await? {
            Some(mut hashes) => {
                let checked = format!("apikey:m:{owner}");
                if self.store.get(&checked).await?.is_none() {
                    // A store that cannot scan has nothing to add here.
                    let found = match self.indexed(owner).await {
                        Err(ApiKeyError::Store(StoreError::Unsupported { .. })) => Vec::new(),
                        found => found?,
                    };
                    for hash in found {
                        if !hashes.contains(&hash) {
                            set.add(&hash, NO_EXPIRY).await?;
                            hashes.push(hash);
                        }
                    }
                    self.store
                        .set_if_absent(&checked, b"1", UNINDEXED_CHECK_EVERY)
                        .await?;
                }
                hashes
            }
            None => self.indexed(owner).await?,
        };
        let mut records = Vec::new();
        for hash in hashes {
            match self.record(&hash).await? {
                Some(record) if record.owner == owner => records.push(record),
                Some(_) => {}
                None => set.forget(&hash).await,
            }
        }
        records.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(records)
    }

    /// The hashes in the owner's index entries, by a scan of the store
    /// (`apikey:o:OWNER:ID`; the prefix also finds owner `OWNER:x`'s, whose
    /// key has another `:` after it).
    async fn indexed(&self, owner: &str) -> Result<Vec<String>, ApiKeyError> {
        let prefix = format!("apikey:o:{owner}:");
        Ok(self
            .store
            .scan(&prefix)
            .await?
            .into_iter()
            .filter(|(key, _)| key.strip_prefix(&prefix).is_some_and(well_formed_id))
            .map(|(_, entry)| String::from_utf8_lossy(&entry.value).into_owned())
            .collect())
    }

    /// Revokes the owner's key `id`, on every instance at once (the record
    /// is gone from the shared store).
    pub async fn revoke(&self, owner: &str, id: &str) -> Result<(), ApiKeyError> {
        if !well_formed_id(id) {
            return Err(ApiKeyError::NotFound);
        }
        let index = format!("apikey:o:{owner}:{id}");
        let Some(hash) = self.store.get(&index).await? else {
            return Err(ApiKeyError::NotFound);
        };
        let hash = String::from_utf8_lossy(&hash.value).into_owned();
        // The record first, the owner's index entry last: a store failure
        // in between leaves the key listed, and a retry finishes the job.
        self.store.delete(&format!("apikey:h:{hash}")).await?;
        self.store.delete(&format!("apikey:u:{hash}")).await?;
        self.owner_set(owner).remove(&hash).await?;
        self.store.delete(&index).await?;
        Ok(())
    }

    /// The set of the owner's key hashes: what `list` reads.
    fn owner_set(&self, owner: &str) -> OwnerSet<'_> {
        OwnerSet::new(&*self.store, format!("apikey:s:{owner}"))
    }

    async fn record(&self, hash: &str) -> Result<Option<ApiKeyRecord>, ApiKeyError> {
        match self.store.get(&format!("apikey:h:{hash}")).await? {
            Some(entry) => serde_json::from_slice(&entry.value)
                .map(Some)
                .map_err(ApiKeyError::Malformed),
            None => Ok(None),
        }
    }

    /// The record of a valid key; `None` for a malformed, unknown, revoked
    /// or expired one (all alike).
    pub async fn verify(&self, key: &str) -> Result<Option<ApiKeyRecord>, ApiKeyError> {
        if !looks_like_api_key(&self.prefix, key) {
            return Ok(None);
        }
        let hash = hash(key);
        let Some(record) = self.record(&hash).await? else {
            return Ok(None);
        };
        if !bool::from(record.hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(None);
        }
        if record
            .expires_at
            .is_some_and(|at| at <= self.clock.now_secs())
        {
            return Ok(None);
        }
        self.touch(&hash, record.expires_at).await;
        Ok(Some(record))
    }

    /// Records the last use, at most once a minute per key and instance;
    /// a failure only delays it. The entry lives as long as the key
    /// (`expires_at`), not longer.
    async fn touch(&self, hash: &str, expires_at: Option<u64>) {
        let now = self.clock.now_secs();
        {
            let mut last = self.last_written.lock().unwrap_or_else(|e| e.into_inner());
            if last.get(hash).is_some_and(|at| now < at + LAST_USED_EVERY) {
                return;
            }
            if last.len() > 100_000 {
                last.clear();
            }
            last.insert(hash.to_owned(), now);
        }
        let ttl = match expires_at {
            Some(at) => Duration::from_secs(at.saturating_sub(now).max(1)),
            None => NO_EXPIRY,
        };
        let key = format!("apikey:u:{hash}");
        if let Err(e) = self.store.raise(&key, now, ttl).await {
            tracing::debug!(error = %e, "could not record an API key's last use");
            return;
        }
        // A revocation between this key's verification and the write above
        // deleted the entry before it was written again: the record is gone
        // by now, so the entry goes too rather than outlive the key.
        if matches!(self.record(hash).await, Ok(None))
            && let Err(e) = self.store.delete(&key).await
        {
            tracing::debug!(error = %e, "could not remove a revoked API key's last use");
        }
    }

    /// When the key `id` of `owner` was last used (seconds since the epoch;
    /// to the minute).
    pub async fn last_used(&self, owner: &str, id: &str) -> Result<Option<u64>, ApiKeyError> {
        if !well_formed_id(id) {
            return Err(ApiKeyError::NotFound);
        }
        let Some(hash) = self.store.get(&format!("apikey:o:{owner}:{id}")).await? else {
            return Err(ApiKeyError::NotFound);
        };
        let hash = String::from_utf8_lossy(&hash.value).into_owned();
        match self.store.get(&format!("apikey:u:{hash}")).await? {
            Some(entry) => Ok(Some(entry.as_count()?)),
            None => Ok(None),
        }
    }
}

/// Where [`ApiKeyStrategy`] reads the key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiKeySource {
    /// A header holding the key alone (default `X-API-Key`).
    Header(String),
    /// `Authorization: SCHEME <key>`, read by auth-core's one
    /// `Authorization` parser (duplicate headers are a 400, as for every
    /// strategy).
    Authorization(String),
}

/// The strategy: a request carrying an API key authenticates as the key's
/// owner, with the key's roles and scopes. A malformed, unknown, revoked or
/// expired key is one and the same 401 (`invalid_token`, "invalid API
/// key"); a store that cannot answer is a 503.
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{MemoryStore, StrategyRegistry};
/// use auth_token::{ApiKeyStrategy, ApiKeys};
///
/// let keys = ApiKeys::new(Arc::new(MemoryStore::new()));
/// let registry = StrategyRegistry::builder()
///     .register(ApiKeyStrategy::new("api-key", keys))
///     .build()
///     .unwrap();
/// # let _ = registry;
/// ```
#[derive(Debug, Clone)]
pub struct ApiKeyStrategy {
    name: String,
    keys: ApiKeys,
    source: ApiKeySource,
    realm: String,
}

impl ApiKeyStrategy {
    /// A strategy named `name` reading `X-API-Key`.
    pub fn new(name: impl Into<String>, keys: ApiKeys) -> Self {
        ApiKeyStrategy {
            name: name.into(),
            keys,
            source: ApiKeySource::Header("x-api-key".into()),
            realm: "api".into(),
        }
    }

    /// Reads the key from another header. `Authorization` means
    /// `Authorization: ApiKey <key>` (see [`scheme`](Self::scheme)): that
    /// header is only ever read through auth-core's parser.
    pub fn header(mut self, name: impl Into<String>) -> Self {
        let name = name.into().to_ascii_lowercase();
        self.source = if name == "authorization" {
            ApiKeySource::Authorization("ApiKey".into())
        } else {
            ApiKeySource::Header(name)
        };
        self
    }

    /// Reads the key from `Authorization: SCHEME <key>` (e.g. `ApiKey`).
    pub fn scheme(mut self, scheme: impl Into<String>) -> Self {
        self.source = ApiKeySource::Authorization(scheme.into());
        self
    }

    /// The challenge's realm (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for ApiKeyStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    /// `apiKey` in its header; `http` with its scheme when read from
    /// `Authorization`.
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{
            ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme,
        };
        Some(match &self.source {
            ApiKeySource::Header(header) => {
                SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new(header_name(header))))
            }
            ApiKeySource::Authorization(scheme) if scheme.eq_ignore_ascii_case("basic") => {
                SecurityScheme::Http(Http::new(HttpAuthScheme::Basic))
            }
            ApiKeySource::Authorization(_) => {
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer))
            }
        })
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let owned;
        let key = match &self.source {
            ApiKeySource::Header(header) => {
                let mut values = req.headers().get_all(header.as_str());
                let Some(value) = values.next() else {
                    return Ok(AuthOutcome::NotApplicable);
                };
                if values.next().is_some() {
                    return Err(AuthError::invalid_request("more than one API key header"));
                }
                value
                    .to_str()
                    .map_err(|_| AuthError::invalid_token("invalid API key"))?
            }
            ApiKeySource::Authorization(scheme) => {
                let Some(credentials) = auth_core::credentials_for(req, scheme)? else {
                    return Ok(AuthOutcome::NotApplicable);
                };
                let Some(token) = credentials.token68() else {
                    return Err(AuthError::invalid_request("an API key is one token"));
                };
                owned = token.to_owned();
                owned.as_str()
            }
        };
        match self.keys.verify(key.trim()).await {
            Ok(Some(record)) => Ok(AuthOutcome::Authenticated(
                UserProfile::new(record.owner)
                    .with_roles(record.roles)
                    .with_scopes(record.scopes)
                    .with_claim("api_key_id", record.id),
            )),
            Ok(None) => Err(AuthError::invalid_token("invalid API key")),
            Err(ApiKeyError::Store(e)) => Err(e.into()),
            Err(e) => {
                tracing::error!(error = %e, "API key lookup failed");
                Err(AuthError::internal("API key lookup failed"))
            }
        }
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        let scheme = match &self.source {
            ApiKeySource::Authorization(scheme) => scheme.clone(),
            ApiKeySource::Header(_) => "ApiKey".to_owned(),
        };
        let challenge = Challenge::new(scheme).param("realm", self.realm.clone());
        Some(match failure {
            Some(AuthError::InvalidCredentials { .. }) => challenge.param("error", "invalid_token"),
            Some(AuthError::InvalidRequest { .. }) => challenge.param("error", "invalid_request"),
            _ => challenge,
        })
    }
}

/// `x-api-key` as `X-Api-Key`: header names are case-insensitive; the
/// document shows the usual capitalisation.
#[cfg(feature = "openapi")]
fn header_name(header: &str) -> String {
    if header.eq_ignore_ascii_case("x-api-key") {
        return "X-API-Key".to_owned();
    }
    header
        .split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}
