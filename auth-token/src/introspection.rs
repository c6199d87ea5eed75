//! [`IntrospectionStrategy`]: opaque Bearer tokens of an external OAuth 2.0
//! authorization server, checked at its RFC 7662 introspection endpoint.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::HttpRequest;
use auth_core::outbound::{self, OutboundError};
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, Clock, PrincipalKind,
    StrategyOptions, SystemClock, UserProfile, credentials_for,
};
use hashlink::LruCache;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Longest token sent to the server; longer ones are refused unasked.
const MAX_TOKEN_BYTES: usize = 4096;
/// Largest introspection response read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// `Retry-After` of the 503 when the server cannot answer.
const RETRY_AFTER: Duration = Duration::from_secs(5);

/// Why an [`IntrospectionStrategy`] cannot be built, or a revocation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IntrospectionError {
    /// An endpoint URL is not usable (see [`auth_core::outbound`]).
    #[error("{which} endpoint: {source}")]
    Endpoint {
        /// `introspection` or `revocation`.
        which: &'static str,
        /// Why.
        #[source]
        source: OutboundError,
    },
    /// Neither [`audience`](IntrospectionBuilder::audience) nor
    /// [`any_audience`](IntrospectionBuilder::any_audience) was chosen.
    #[error(
        "choose the accepted audience (`audience(..)`) or accept any explicitly (`any_audience()`)"
    )]
    NoAudience,
    /// No client credentials: RFC 7662 servers authenticate their callers.
    #[error("the introspection client needs a client id and secret (`client(..)`)")]
    NoClient,
    /// The HTTP client could not be built.
    #[error(transparent)]
    Client(OutboundError),
    /// [`revoke`](IntrospectionStrategy::revoke) without a revocation endpoint.
    #[error("no revocation endpoint is configured")]
    NoRevocationEndpoint,
    /// The revocation endpoint could not be reached or refused the request.
    #[error("the revocation endpoint failed: {0}")]
    Revocation(String),
}

/// The client secret: never printed.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Builds an [`IntrospectionStrategy`].
pub struct IntrospectionBuilder {
    name: String,
    endpoint: String,
    revocation: Option<String>,
    client: Option<(String, Secret)>,
    audience: Option<Vec<String>>,
    issuer: Option<String>,
    realm: String,
    cache_capacity: usize,
    budget: Duration,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for IntrospectionBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionBuilder")
            .field("name", &self.name)
            .field("endpoint", &self.endpoint)
            .field("audience", &self.audience)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

impl IntrospectionBuilder {
    /// The client id and secret this strategy authenticates with at the
    /// endpoints (`client_secret_basic`). Read the secret from the
    /// environment or a file, never from code.
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.client = Some((id.into(), Secret(secret.into())));
        self
    }

    /// An accepted audience (repeatable): the response's `aud` must name
    /// one of them.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience
            .get_or_insert_with(Vec::new)
            .push(audience.into());
        self
    }

    /// Accepts tokens for any audience, or none: an explicit choice, for
    /// servers that issue tokens for this API only.
    pub fn any_audience(mut self) -> Self {
        self.audience = Some(Vec::new());
        self
    }

    /// The issuer the response's `iss` must equal, when the server sends
    /// one (a response without `iss` is then refused).
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The RFC 7009 revocation endpoint that
    /// [`revoke`](IntrospectionStrategy::revoke) calls.
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.revocation = Some(url.into());
        self
    }

    /// `realm` of the `WWW-Authenticate: Bearer` challenge (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Caches active answers for at most `budget` (never past the token's
    /// `exp`), in at most `capacity` entries (least recently used go
    /// first). The budget is how long a token revoked at the server, not
    /// here, can still be accepted: the default is 30 s and 10 000 entries.
    /// A zero budget or capacity disables the cache (every request asks).
    pub fn cache(mut self, capacity: usize, budget: Duration) -> Self {
        self.cache_capacity = capacity;
        self.budget = budget;
        self
    }

    /// Reads time from `clock` (tests).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The strategy, or why the configuration cannot be used.
    pub fn build(self) -> Result<IntrospectionStrategy, IntrospectionError> {
        let endpoint = outbound::checked_url(&self.endpoint).map_err(|source| {
            IntrospectionError::Endpoint {
                which: "introspection",
                source,
            }
        })?;
        let revocation = self
            .revocation
            .as_deref()
            .map(outbound::checked_url)
            .transpose()
            .map_err(|source| IntrospectionError::Endpoint {
                which: "revocation",
                source,
            })?;
        let client = self.client.ok_or(IntrospectionError::NoClient)?;
        let audience = self.audience.ok_or(IntrospectionError::NoAudience)?;
        let cache = NonZeroUsize::new(self.cache_capacity)
            .filter(|_| !self.budget.is_zero())
            .map(|n| Mutex::new(LruCache::new(n.get())));
        Ok(IntrospectionStrategy {
            inner: Arc::new(Inner {
                name: self.name,
                endpoint,
                revocation,
                client,
                audience,
                issuer: self.issuer,
                realm: self.realm,
                cache,
                budget: self.budget,
                clock: self.clock,
                http: outbound::client().map_err(IntrospectionError::Client)?,
            }),
        })
    }
}

/// An active answer, until when it may be reused (ms since the epoch).
struct Cached {
    profile: UserProfile,
    until_ms: u64,
}

struct Inner {
    name: String,
    endpoint: reqwest::Url,
    revocation: Option<reqwest::Url>,
    client: (String, Secret),
    audience: Vec<String>,
    issuer: Option<String>,
    realm: String,
    cache: Option<Mutex<LruCache<[u8; 32], Cached>>>,
    budget: Duration,
    clock: Arc<dyn Clock>,
    http: reqwest::Client,
}

/// Opaque Bearer tokens of an external OAuth 2.0 server, checked at its
/// RFC 7662 introspection endpoint.
///
/// - The request is `POST endpoint` with `token` and
///   `token_type_hint=access_token`, authenticated with the client id and
///   secret (`client_secret_basic`), through auth-core's
///   [`outbound`](auth_core::outbound) client (https, no redirects, 2 s
///   connect and 5 s total timeouts).
/// - `active: true` is required; `exp` and `nbf` are checked against the
///   clock, `aud` against the configured audience, `iss` when an issuer is
///   configured, and a `token_type` other than a Bearer access token is
///   refused. Anything else is the same 401 `invalid_token`.
/// - The profile: `sub` as the id (a service when `sub` is the `client_id`),
///   else the `client_id` as a service principal; `scope` split into
///   scopes; `client_id`, `iss` and `username` as claims.
/// - Only active answers are cached, by the token's SHA-256, until the
///   token's `exp` and never longer than the revocation budget (30 s by
///   default). [`revoke`](Self::revoke) drops the entry at once.
/// - Server down, slow, refusing our credentials or answering nonsense:
///   503 with `Retry-After`, fail closed. A 400 `unsupported_token_type`
///   (the server cannot introspect this kind of token, e.g. a JWT) is an
///   inactive token: 401.
///
/// ```
/// use std::time::Duration;
/// use auth_core::StrategyRegistry;
/// use auth_token::IntrospectionStrategy;
///
/// let introspection = IntrospectionStrategy::builder("opaque", "https://login.example/oauth/introspect")
///     .client("my-api", std::env::var("INTROSPECTION_SECRET").unwrap_or_default())
///     .audience("https://api.example")
///     .cache(10_000, Duration::from_secs(30))
///     .build()
///     .unwrap();
/// let registry = StrategyRegistry::builder().register(introspection).build().unwrap();
/// # let _ = registry;
/// ```
#[derive(Clone)]
pub struct IntrospectionStrategy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IntrospectionStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionStrategy")
            .field("name", &self.inner.name)
            .field("endpoint", &self.inner.endpoint.as_str())
            .field("client_id", &self.inner.client.0)
            .field("audience", &self.inner.audience)
            .field("budget", &self.inner.budget)
            .finish_non_exhaustive()
    }
}

/// The members of an RFC 7662 response this strategy reads.
#[derive(Deserialize)]
struct Introspected {
    active: Option<bool>,
    scope: Option<String>,
    client_id: Option<String>,
    username: Option<String>,
    token_type: Option<String>,
    exp: Option<u64>,
    nbf: Option<u64>,
    sub: Option<String>,
    aud: Option<OneOrMany>,
    iss: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn contains_any(&self, wanted: &[String]) -> bool {
        match self {
            OneOrMany::One(a) => wanted.contains(a),
            OneOrMany::Many(list) => list.iter().any(|a| wanted.contains(a)),
        }
    }
}

fn invalid() -> AuthError {
    AuthError::invalid_token("the access token is not active")
}

fn unavailable(why: &str) -> AuthError {
    tracing::warn!(reason = why, "token introspection failed");
    AuthError::Unavailable {
        message: "the authorization server cannot check the token now".into(),
        retry_after: Some(RETRY_AFTER),
    }
}

fn key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl IntrospectionStrategy {
    /// A strategy named `name` asking the introspection endpoint `url`.
    /// [`client`](IntrospectionBuilder::client) and an audience choice are
    /// required.
    pub fn builder(name: impl Into<String>, url: impl Into<String>) -> IntrospectionBuilder {
        IntrospectionBuilder {
            name: name.into(),
            endpoint: url.into(),
            revocation: None,
            client: None,
            audience: None,
            issuer: None,
            realm: "api".into(),
            cache_capacity: 10_000,
            budget: Duration::from_secs(30),
            clock: Arc::new(SystemClock),
        }
    }

    fn cached(&self, key: &[u8; 32], now_ms: u64) -> Option<UserProfile> {
        let cache = self.inner.cache.as_ref()?;
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        match cache.get(key) {
            Some(hit) if hit.until_ms > now_ms => Some(hit.profile.clone()),
            Some(_) => {
                cache.remove(key);
                None
            }
            None => None,
        }
    }

    /// Asks the server; `Ok(None)` for an inactive or unacceptable token.
    async fn introspect(
        &self,
        token: &str,
    ) -> Result<Option<(UserProfile, Option<u64>)>, AuthError> {
        let inner = &self.inner;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let resp = inner
            .http
            .post(inner.endpoint.clone())
            .basic_auth(&inner.client.0, Some(&inner.client.1.0))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| unavailable(&format!("request: {e}")))?;
        let status = resp.status();
        if status == reqwest::StatusCode::BAD_REQUEST {
            // Some servers answer a token they cannot introspect (a JWT, for
            // oidc-provider) with RFC 7009's `unsupported_token_type`: the
            // server vouches for nothing, so the token is not active here.
            // Any other 400 is the server refusing our request: 503.
            let body = auth_core::outbound::read_body(resp, MAX_RESPONSE_BYTES)
                .await
                .unwrap_or_default();
            let error = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(str::to_owned));
            return match error.as_deref() {
                Some("unsupported_token_type") => Ok(None),
                _ => Err(unavailable(&format!("status {status}: {error:?}"))),
            };
        }
        if !status.is_success() {
            return Err(unavailable(&format!("status {status}")));
        }
        let bytes = auth_core::outbound::read_body(resp, MAX_RESPONSE_BYTES)
            .await
            .map_err(|e| unavailable(&format!("reading the response: {e}")))?;
        let answer: Introspected = serde_json::from_slice(&bytes)
            .map_err(|e| unavailable(&format!("not an RFC 7662 response: {e}")))?;
        Ok(self.accept(answer))
    }

    /// The profile of an acceptable active answer, with its `exp`.
    fn accept(&self, answer: Introspected) -> Option<(UserProfile, Option<u64>)> {
        let inner = &self.inner;
        let now = inner.clock.now_secs();
        if answer.active != Some(true)
            || answer.exp.is_some_and(|exp| exp <= now)
            || answer.nbf.is_some_and(|nbf| nbf > now)
        {
            return None;
        }
        if let Some(kind) = &answer.token_type
            && !kind.eq_ignore_ascii_case("bearer")
            && !kind.eq_ignore_ascii_case("access_token")
        {
            return None;
        }
        if !inner.audience.is_empty() && !answer.aud.as_ref()?.contains_any(&inner.audience) {
            return None;
        }
        if let Some(issuer) = &inner.issuer
            && answer.iss.as_deref() != Some(issuer.as_str())
        {
            return None;
        }
        let (id, kind) = match (&answer.sub, &answer.client_id) {
            (Some(sub), client) if !sub.is_empty() => {
                let service = client.as_deref() == Some(sub.as_str());
                (
                    sub.clone(),
                    if service {
                        PrincipalKind::Service
                    } else {
                        PrincipalKind::User
                    },
                )
            }
            (_, Some(client)) if !client.is_empty() => (client.clone(), PrincipalKind::Service),
            _ => return None,
        };
        // Named here, so that the sequence never renames (and copies) the
        // profile this cache shares between requests.
        let mut profile = UserProfile::new(id)
            .with_strategy(self.inner.name.as_str())
            .with_kind(kind)
            .with_scopes(
                answer
                    .scope
                    .as_deref()
                    .unwrap_or("")
                    .split_ascii_whitespace(),
            );
        for (claim, value) in [
            ("client_id", answer.client_id),
            ("iss", answer.iss),
            ("username", answer.username),
        ] {
            if let Some(value) = value {
                profile = profile.with_claim(claim, value);
            }
        }
        Some((profile, answer.exp))
    }

    /// Revokes `token` at the server's RFC 7009 revocation endpoint and
    /// drops it from this instance's cache at once. Other instances drop
    /// it when their cache entry ends: within the budget.
    pub async fn revoke(&self, token: &str) -> Result<(), IntrospectionError> {
        if let Some(cache) = &self.inner.cache {
            cache
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&key(token));
        }
        let inner = &self.inner;
        let url = inner
            .revocation
            .clone()
            .ok_or(IntrospectionError::NoRevocationEndpoint)?;
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", token)
            .append_pair("token_type_hint", "access_token")
            .finish();
        let resp = inner
            .http
            .post(url)
            .basic_auth(&inner.client.0, Some(&inner.client.1.0))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| IntrospectionError::Revocation(e.to_string()))?;
        // RFC 7009 §2.2: 200 for a revoked, unknown or already invalid token.
        if resp.status().is_success() {
            Ok(())
        } else {
            Err(IntrospectionError::Revocation(format!(
                "status {}",
                resp.status()
            )))
        }
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for IntrospectionStrategy {
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// `http` `bearer` (a token of the authorization server, checked at its
    /// introspection endpoint).
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        Some(SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)))
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(credentials) = credentials_for(req, "Bearer")? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let Some(token) = credentials.token68() else {
            return Err(AuthError::invalid_request(
                "a Bearer token is one token68 value",
            ));
        };
        if token.len() > MAX_TOKEN_BYTES {
            return Err(invalid());
        }
        let key = key(token);
        let now_ms = self.inner.clock.now_ms();
        if let Some(profile) = self.cached(&key, now_ms) {
            return Ok(AuthOutcome::Authenticated(profile));
        }
        let Some((profile, exp)) = self.introspect(token).await? else {
            return Err(invalid());
        };
        if let Some(cache) = &self.inner.cache {
            let budget_end = now_ms.saturating_add(self.inner.budget.as_millis() as u64);
            let until_ms = exp.map_or(budget_end, |exp| budget_end.min(exp.saturating_mul(1000)));
            cache.lock().unwrap_or_else(|e| e.into_inner()).insert(
                key,
                Cached {
                    profile: profile.clone(),
                    until_ms,
                },
            );
        }
        Ok(AuthOutcome::Authenticated(profile))
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.inner.realm, failure))
    }
}
