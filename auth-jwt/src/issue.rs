//! Issuing tokens: [`TokenService`], refresh-token rotation, service tokens.

use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use auth_core::{
    AuthError, Clock, MemoryStore, PrincipalKind, StateStore, StoreError, SystemClock, UserProfile,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::signing::SigningKey;
use crate::verify::SecondsFn;

/// The claim that marks a service principal (`"kind": "service"`).
pub const KIND_CLAIM: &str = "kind";

/// Why a token could not be issued or refreshed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The refresh token is unknown, expired, revoked or was already used.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// Signing failed (a key/algorithm mismatch: a configuration bug).
    #[error("token signing failed: {0}")]
    Signing(String),
    /// The state store holding refresh tokens failed; the request fails
    /// closed (503, or 500 for malformed data).
    #[error("refresh token store failed")]
    Store(#[from] StoreError),
}

impl From<IssueError> for AuthError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::InvalidRefreshToken => {
                AuthError::invalid_credentials("INVALID_REFRESH_TOKEN", e.to_string())
            }
            IssueError::Signing(m) => AuthError::Internal { message: m.into() },
            // Logged by the conversion; the client gets a generic message.
            IssueError::Store(e) => AuthError::from(e),
        }
    }
}

/// What is stored for one refresh token, under the SHA-256 of the token
/// (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RefreshRecord {
    /// The rotation family: every token rotated from one login.
    family: String,
    /// The profile the family was issued for.
    profile: UserProfile,
    /// Expiry, seconds since the epoch.
    expires_at: u64,
    /// When the family began (the login), seconds since the epoch: a
    /// subject revoked after it ("log out everywhere") ends the family.
    #[serde(default)]
    family_started: u64,
}

// Keys in the state store. A token's record lives as long as the token; the
// "spent" marker as long as the record did, so a replay is recognised for
// the token's whole life; a revoked family's marker for one refresh-token
// lifetime, after which every token issued in it before the revocation has
// expired.
fn token_key(hash: &str) -> String {
    format!("refresh:token:{hash}")
}

fn spent_key(hash: &str) -> String {
    format!("refresh:spent:{hash}")
}

fn revoked_key(family: &str) -> String {
    format!("refresh:revoked:{family}")
}

/// A token endpoint's answer (RFC 6749 §5.1). Respond with
/// [`into_response`](TokenResponse::into_response) so the `no-store` headers
/// are set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The signed access token.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The refresh token, when one was issued.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub refresh_token: Option<String>,
}

impl TokenResponse {
    /// `200 OK` with the JSON body and `Cache-Control: no-store` (RFC 6749 §5.1).
    pub fn into_response(self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((CACHE_CONTROL, "no-store"))
            .insert_header((PRAGMA, "no-cache"))
            .json(self)
    }
}

impl actix_web::Responder for TokenResponse {
    type Body = actix_web::body::BoxBody;
    fn respond_to(self, _req: &actix_web::HttpRequest) -> HttpResponse {
        self.into_response()
    }
}

/// Signs access tokens and manages refresh tokens.
///
/// Refresh tokens rotate in families, kept in a [`StateStore`] (its own
/// [`MemoryStore`] unless given one with [`store`](Self::store)): a refresh
/// marks the presented token spent with one atomic
/// [`set_if_absent`](StateStore::set_if_absent), so of two concurrent
/// refreshes with one token exactly one succeeds, and the other is a reuse
/// that revokes the family. Store failures fail closed (503).
///
/// ```
/// use auth_jwt::{Algorithm, SigningKey, TokenService};
/// use auth_core::UserProfile;
/// # actix_web::rt::System::new().block_on(async {
/// let key = SigningKey::hmac(b"an example secret of 32+ bytes!!", Algorithm::HS256).unwrap();
/// let tokens = TokenService::new(key).issuer("todo").access_ttl(std::time::Duration::from_secs(900));
/// let issued = tokens.issue(&UserProfile::new("42").with_roles(["user"])).await.unwrap();
/// let rotated = tokens.refresh(issued.refresh_token.as_deref().unwrap()).await.unwrap();
/// assert_ne!(rotated.refresh_token, issued.refresh_token);
/// // The spent token is now a replay: refused, and its family revoked.
/// assert!(tokens.refresh(issued.refresh_token.as_deref().unwrap()).await.is_err());
/// assert!(tokens.refresh(rotated.refresh_token.as_deref().unwrap()).await.is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct TokenService {
    key: SigningKey,
    issuer: Option<String>,
    audience: Option<String>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    roles_claim: String,
    typ: Option<String>,
    store: Arc<dyn StateStore>,
    clock: Arc<dyn Clock>,
    revocations: Option<Arc<auth_core::Revocations>>,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService")
            .field("key", &self.key)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

impl TokenService {
    /// A service signing with `key`: access tokens live 15 minutes, refresh
    /// tokens 14 days, refresh tokens kept in a [`MemoryStore`] of its own.
    pub fn new(key: SigningKey) -> Self {
        // Installs and self-tests the crypto backend at start-up; a failure
        // is logged here and returned by every signing call (issue 17.2).
        let _ = crate::check_crypto_provider();
        TokenService {
            key,
            issuer: None,
            audience: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            roles_claim: "roles".into(),
            typ: None,
            store: Arc::new(MemoryStore::new()),
            clock: Arc::new(SystemClock),
            revocations: None,
        }
    }

    /// Sets `iss`.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.issuer = Some(iss.into());
        self
    }

    /// Sets `aud` of access tokens.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }

    /// Access-token lifetime.
    pub fn access_ttl(mut self, ttl: Duration) -> Self {
        self.access_ttl = ttl;
        self
    }

    /// Refresh-token lifetime.
    pub fn refresh_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_ttl = ttl;
        self
    }

    /// The claim roles are written to (default `roles`; keep it in step with
    /// the strategy's `roles_claim`).
    pub fn roles_claim(mut self, claim: impl Into<String>) -> Self {
        self.roles_claim = claim.into();
        self
    }

    /// The header `typ` of access tokens (default `JWT`; `at+jwt` for RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.typ = Some(typ.into());
        self
    }

    /// Where refresh tokens are kept (keys start with `refresh:`), e.g. a
    /// store shared by every instance.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::MemoryStore;
    /// use auth_jwt::{Algorithm, SigningKey, TokenService};
    /// let key = SigningKey::hmac(b"an example secret of 32+ bytes!!", Algorithm::HS256).unwrap();
    /// let tokens = TokenService::new(key).store(Arc::new(MemoryStore::new()));
    /// # let _ = tokens;
    /// ```
    pub fn store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = store;
        self
    }

    /// Ends refresh-token families whose subject was revoked after the
    /// family began ([`Revocations::revoke_subject`](auth_core::Revocations::revoke_subject),
    /// "log out everywhere"): their refresh is refused like an unknown
    /// token. Give the JWT strategy the same [`Revocations`](auth_core::Revocations).
    pub fn revocations(mut self, revocations: Arc<auth_core::Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Overrides the clock with a function of seconds since the epoch, for
    /// tests; [`with_clock`](Self::with_clock) takes a [`Clock`].
    pub fn clock(self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.with_clock(Arc::new(SecondsFn(clock)))
    }

    /// Reads `iat`, `exp` and refresh-token expiry from `clock`.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::ManualClock;
    /// use auth_jwt::{Algorithm, SigningKey, TokenService};
    /// let key = SigningKey::hmac(b"an example secret of 32+ bytes!!", Algorithm::HS256).unwrap();
    /// let tokens = TokenService::new(key).with_clock(Arc::new(ManualClock::at_secs(1_700_000_000)));
    /// # let _ = tokens;
    /// ```
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    fn base_claims(&self, profile: &UserProfile, ttl: Duration) -> Map<String, Value> {
        let now = self.clock.now_secs();
        // Token claims the profile carried come first, so the standard ones
        // below always win.
        let mut c = Map::clone(&profile.claims);
        for k in ["iat", "nbf", "exp", "jti", "iss", "aud", "sub"] {
            c.remove(k);
        }
        c.insert("sub".into(), json!(profile.id));
        c.insert("iat".into(), json!(now));
        c.insert("exp".into(), json!(now + ttl.as_secs()));
        c.insert("jti".into(), json!(random_token()));
        if let Some(iss) = &self.issuer {
            c.insert("iss".into(), json!(iss));
        }
        if let Some(aud) = &self.audience {
            c.insert("aud".into(), json!(aud));
        }
        if let Some(n) = &profile.name {
            c.insert("name".into(), json!(n));
        }
        if let Some(e) = &profile.email {
            c.insert("email".into(), json!(e));
        }
        if !profile.roles.is_empty() {
            c.insert(self.roles_claim.clone(), json!(profile.roles));
        }
        if !profile.scopes.is_empty() {
            c.insert("scope".into(), json!(profile.scopes.join(" ")));
        }
        if profile.kind == PrincipalKind::Service {
            c.insert(KIND_CLAIM.into(), json!("service"));
        } else {
            c.remove(KIND_CLAIM);
        }
        c
    }

    /// Signs an access token for `profile` with the service's ttl.
    pub fn sign_access(&self, profile: &UserProfile) -> Result<String, IssueError> {
        let claims = self.base_claims(profile, self.access_ttl);
        self.sign(&claims)
    }

    /// Signs arbitrary claims (no defaults added).
    pub fn sign(&self, claims: &Map<String, Value>) -> Result<String, IssueError> {
        self.key
            .sign(claims, self.typ.as_deref())
            .map_err(|e| IssueError::Signing(e.to_string()))
    }

    /// An access token and a new refresh-token family (a login).
    pub async fn issue(&self, profile: &UserProfile) -> Result<TokenResponse, IssueError> {
        let family = random_token();
        self.issue_in_family(profile, family, self.clock.now_secs())
            .await
    }

    async fn issue_in_family(
        &self,
        profile: &UserProfile,
        family: String,
        family_started: u64,
    ) -> Result<TokenResponse, IssueError> {
        let access_token = self.sign_access(profile)?;
        let refresh = random_token();
        let record = RefreshRecord {
            family,
            profile: profile.clone(),
            expires_at: self.clock.now_secs() + self.refresh_ttl.as_secs(),
            family_started,
        };
        let value = serde_json::to_vec(&record)
            .map_err(|e| StoreError::malformed_with("refresh record does not serialise", e))?;
        // 256 random bits: a collision means a broken random source, which
        // must not overwrite somebody's token.
        if !self
            .store
            .set_if_absent(&token_key(&hash(&refresh)), &value, self.refresh_ttl)
            .await?
        {
            return Err(
                StoreError::malformed("a new refresh token collides with a stored one").into(),
            );
        }
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: self.access_ttl.as_secs(),
            refresh_token: Some(refresh),
        })
    }

    /// Rotates a refresh token: the presented one is spent and a new pair is
    /// issued in the same family. Presenting a spent token again revokes the
    /// whole family (RFC 9700 §4.14.2), so a stolen token dies with the
    /// legitimate one.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenResponse, IssueError> {
        let hash = hash(refresh_token);
        let Some((rec, ttl)) = self.record(&hash).await? else {
            return Err(IssueError::InvalidRefreshToken);
        };
        if self.store.get(&revoked_key(&rec.family)).await?.is_some()
            || rec.expires_at <= self.clock.now_secs()
        {
            return Err(IssueError::InvalidRefreshToken);
        }
        if let Some(revocations) = &self.revocations
            && let Err(e) = revocations.check(None, &rec.profile.id, Some(rec.family_started))
        {
            // A stale mirror fails closed like a store outage; a revoked
            // subject's family is an invalid token.
            return Err(if e.status().as_u16() == 503 {
                StoreError::unavailable("token revocations cannot be checked right now").into()
            } else {
                IssueError::InvalidRefreshToken
            });
        }
        // SAFETY-style note: the one atomic step. Whoever sets the marker
        // spends the token; everyone else presenting it is a replay
        // (RFC 9700 §4.14.2), and the whole family dies.
        if !self
            .store
            .set_if_absent(&spent_key(&hash), b"", ttl)
            .await?
        {
            tracing::warn!(user = %rec.profile.id, "refresh token reuse: revoking its family");
            self.revoke_family(&rec.family).await?;
            return Err(IssueError::InvalidRefreshToken);
        }
        self.issue_in_family(&rec.profile, rec.family, rec.family_started)
            .await
    }

    /// Whom a refresh token was issued to and when it expires (seconds
    /// since the epoch), if it can be used now: known, not spent, its
    /// family neither revoked nor ended by a subject revocation. Reads only;
    /// for RFC 7662 introspection.
    ///
    /// ```
    /// use auth_core::UserProfile;
    /// use auth_jwt::{Algorithm, SigningKey, TokenService};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let tokens = TokenService::new(SigningKey::hmac(&[7u8; 32], Algorithm::HS256).unwrap())
    ///     .issuer("api").audience("api");
    /// let pair = tokens.issue(&UserProfile::new("ada")).await.unwrap();
    /// let refresh = pair.refresh_token.unwrap();
    /// let (profile, _exp) = tokens.inspect_refresh_token(&refresh).await.unwrap().unwrap();
    /// assert_eq!(profile.id, "ada");
    /// tokens.refresh(&refresh).await.unwrap();
    /// assert!(tokens.inspect_refresh_token(&refresh).await.unwrap().is_none()); // spent
    /// # });
    /// ```
    pub async fn inspect_refresh_token(
        &self,
        refresh_token: &str,
    ) -> Result<Option<(UserProfile, u64)>, IssueError> {
        let hash = hash(refresh_token);
        let Some((rec, _)) = self.record(&hash).await? else {
            return Ok(None);
        };
        if rec.expires_at <= self.clock.now_secs()
            || self.store.get(&spent_key(&hash)).await?.is_some()
            || self.store.get(&revoked_key(&rec.family)).await?.is_some()
        {
            return Ok(None);
        }
        if let Some(revocations) = &self.revocations
            && let Err(e) = revocations.check(None, &rec.profile.id, Some(rec.family_started))
        {
            return if e.status().as_u16() == 503 {
                Err(StoreError::unavailable("token revocations cannot be checked right now").into())
            } else {
                Ok(None)
            };
        }
        Ok(Some((rec.profile, rec.expires_at)))
    }

    /// The revocations this service was given, if any
    /// ([`revocations`](Self::revocations)).
    ///
    /// ```
    /// use auth_jwt::{Algorithm, SigningKey, TokenService};
    ///
    /// let tokens = TokenService::new(SigningKey::hmac(&[7u8; 32], Algorithm::HS256).unwrap());
    /// assert!(tokens.revocation_list().is_none());
    /// ```
    pub fn revocation_list(&self) -> Option<&Arc<auth_core::Revocations>> {
        self.revocations.as_ref()
    }

    /// Revokes the family of a refresh token (logout). Unknown tokens are
    /// ignored, so logout is idempotent.
    pub async fn revoke(&self, refresh_token: &str) -> Result<(), IssueError> {
        if let Some((rec, _)) = self.record(&hash(refresh_token)).await? {
            self.revoke_family(&rec.family).await?;
        }
        Ok(())
    }

    /// The stored record of a token hash and the time it has left.
    async fn record(&self, hash: &str) -> Result<Option<(RefreshRecord, Duration)>, IssueError> {
        let Some(entry) = self.store.get(&token_key(hash)).await? else {
            return Ok(None);
        };
        let rec = serde_json::from_slice(&entry.value)
            .map_err(|e| StoreError::malformed_with("a refresh record does not deserialise", e))?;
        Ok(Some((rec, entry.ttl)))
    }

    async fn revoke_family(&self, family: &str) -> Result<(), IssueError> {
        // Already revoked is fine: the marker is there either way.
        self.store
            .set_if_absent(&revoked_key(family), b"", self.refresh_ttl)
            .await?;
        Ok(())
    }

    /// A short-lived service-to-service token for `target` (its `aud`).
    ///
    /// Without `on_behalf_of` the token names the calling service
    /// (`sub = service`, principal kind service). With a user it names the
    /// user and records the service as the actor (`act.sub`, RFC 8693 §4.1),
    /// so the receiver sees a user principal and can tell who relayed it.
    pub fn service_token(
        &self,
        service: &str,
        target: &str,
        on_behalf_of: Option<&UserProfile>,
        ttl: Duration,
    ) -> Result<String, IssueError> {
        let profile = match on_behalf_of {
            Some(user) => user.clone(),
            None => UserProfile::new(service).with_kind(PrincipalKind::Service),
        };
        let mut claims = self.base_claims(&profile, ttl);
        claims.insert("aud".into(), json!(target));
        if on_behalf_of.is_some() {
            claims.insert("act".into(), json!({"sub": service}));
        }
        self.sign(&claims)
    }
}
