//! Issuing tokens: [`TokenService`], refresh-token rotation, service tokens.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA};
use auth_core::{AuthError, PrincipalKind, UserProfile};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::key::SigningKey;
use crate::verify::{Clock, system_now};

/// The claim that marks a service principal (`"kind": "service"`).
pub const KIND_CLAIM: &str = "kind";

/// Why a token could not be issued or refreshed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IssueError {
    /// The refresh token is unknown, expired, revoked or was already used.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// Signing failed (a key/algorithm mismatch: a configuration bug).
    #[error("token signing failed: {0}")]
    Signing(String),
    /// The refresh-token store failed.
    #[error("refresh token store unavailable: {0}")]
    Store(String),
}

impl From<IssueError> for AuthError {
    fn from(e: IssueError) -> Self {
        match e {
            IssueError::InvalidRefreshToken => {
                AuthError::invalid_credentials("INVALID_REFRESH_TOKEN", e.to_string())
            }
            IssueError::Signing(m) => AuthError::Internal { message: m.into() },
            IssueError::Store(m) => {
                // The store's own message may name hosts; log it, send a generic one.
                tracing::warn!("refresh store error: {m}");
                AuthError::unavailable("refresh token store unavailable")
            }
        }
    }
}

/// One stored refresh token (only its SHA-256 is stored, never the token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefreshRecord {
    /// The rotation family: every token rotated from one login.
    pub family: String,
    /// The profile the family was issued for.
    pub profile: UserProfile,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
}

/// What happened when a refresh token was presented.
#[derive(Debug, Clone, PartialEq)]
pub enum RefreshUse {
    /// No such token.
    Unknown,
    /// First use: the token is now spent.
    Fresh(RefreshRecord),
    /// Already spent: someone replays it (RFC 9700 §4.14.2).
    Reused(RefreshRecord),
    /// Its family was revoked.
    Revoked,
}

/// Where refresh tokens live. Implementations must make
/// [`use_token`](RefreshStore::use_token) atomic, so two concurrent refreshes
/// with one token cannot both succeed.
#[async_trait::async_trait]
pub trait RefreshStore: Send + Sync + 'static {
    /// Stores a new, unused token hash.
    async fn insert(&self, hash: String, record: RefreshRecord) -> Result<(), IssueError>;
    /// Marks the token spent and says what it was before.
    async fn use_token(&self, hash: &str) -> Result<RefreshUse, IssueError>;
    /// Revokes a whole family.
    async fn revoke_family(&self, family: &str) -> Result<(), IssueError>;
    /// The family of a token, if known.
    async fn family_of(&self, hash: &str) -> Result<Option<String>, IssueError>;
}

/// An in-memory [`RefreshStore`] for one process (tests, single instance).
#[derive(Debug, Default)]
pub struct MemoryRefreshStore {
    inner: Mutex<MemInner>,
}

#[derive(Debug, Default)]
struct MemInner {
    tokens: HashMap<String, (RefreshRecord, bool)>,
    revoked: HashSet<String>,
}

impl MemoryRefreshStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl RefreshStore for MemoryRefreshStore {
    async fn insert(&self, hash: String, record: RefreshRecord) -> Result<(), IssueError> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.tokens.insert(hash, (record, false));
        Ok(())
    }

    async fn use_token(&self, hash: &str) -> Result<RefreshUse, IssueError> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let revoked = match g.tokens.get(hash) {
            None => return Ok(RefreshUse::Unknown),
            Some((rec, _)) => g.revoked.contains(&rec.family),
        };
        if revoked {
            return Ok(RefreshUse::Revoked);
        }
        let (rec, used) = g.tokens.get_mut(hash).expect("checked above");
        let was_used = std::mem::replace(used, true);
        Ok(if was_used {
            RefreshUse::Reused(rec.clone())
        } else {
            RefreshUse::Fresh(rec.clone())
        })
    }

    async fn revoke_family(&self, family: &str) -> Result<(), IssueError> {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.revoked.insert(family.to_owned());
        g.tokens.retain(|_, (r, _)| r.family != family);
        // Keep the revoked marker so replays answer Revoked, not Unknown.
        Ok(())
    }

    async fn family_of(&self, hash: &str) -> Result<Option<String>, IssueError> {
        let g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        Ok(g.tokens.get(hash).map(|(r, _)| r.family.clone()))
    }
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
    store: Arc<dyn RefreshStore>,
    clock: Clock,
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
    /// tokens 14 days, refresh tokens kept in a [`MemoryRefreshStore`].
    pub fn new(key: SigningKey) -> Self {
        crate::ensure_crypto_provider();
        TokenService {
            key,
            issuer: None,
            audience: None,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(14 * 24 * 3600),
            roles_claim: "roles".into(),
            typ: None,
            store: Arc::new(MemoryRefreshStore::new()),
            clock: Arc::new(system_now),
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

    /// Where refresh tokens are kept.
    pub fn store(mut self, store: Arc<dyn RefreshStore>) -> Self {
        self.store = store;
        self
    }

    /// Overrides the clock (seconds since the epoch), for tests.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    fn base_claims(&self, profile: &UserProfile, ttl: Duration) -> Map<String, Value> {
        let now = (self.clock)();
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
        self.issue_in_family(profile, family).await
    }

    async fn issue_in_family(
        &self,
        profile: &UserProfile,
        family: String,
    ) -> Result<TokenResponse, IssueError> {
        let access_token = self.sign_access(profile)?;
        let refresh = random_token();
        let record = RefreshRecord {
            family,
            profile: profile.clone(),
            expires_at: (self.clock)() + self.refresh_ttl.as_secs(),
        };
        self.store.insert(hash(&refresh), record).await?;
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
        match self.store.use_token(&hash(refresh_token)).await? {
            RefreshUse::Fresh(rec) if rec.expires_at > (self.clock)() => {
                self.issue_in_family(&rec.profile, rec.family).await
            }
            RefreshUse::Reused(rec) => {
                tracing::warn!(user = %rec.profile.id, "refresh token reuse: revoking its family");
                self.store.revoke_family(&rec.family).await?;
                Err(IssueError::InvalidRefreshToken)
            }
            _ => Err(IssueError::InvalidRefreshToken),
        }
    }

    /// Revokes the family of a refresh token (logout). Unknown tokens are
    /// ignored, so logout is idempotent.
    pub async fn revoke(&self, refresh_token: &str) -> Result<(), IssueError> {
        if let Some(family) = self.store.family_of(&hash(refresh_token)).await? {
            self.store.revoke_family(&family).await?;
        }
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
