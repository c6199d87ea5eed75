//! [`ClientCredentials`]: a cached token source for service-to-service
//! calls (RFC 6749 §4.4), on the `oauth2` crate.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponse, BasicTokenResponse};
use oauth2::{
    AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, Scope,
    TokenResponse, TokenUrl,
};

use crate::MAX_LIFETIME;
use crate::discovery::{DiscoveryError, EndpointError};
use crate::http::{HttpError, OutboundHttp};
use crate::token_exchange::clean_description;

type Client =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// Why no token could be had. Never carries the client secret or a token.
///
/// ```
/// let e = auth_oauth2::ClientCredentialsError::Server {
///     error: "invalid_client".into(),
///     description: None,
/// };
/// assert_eq!(e.to_string(), "the token endpoint refused the request: invalid_client");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum ClientCredentialsError {
    /// Neither a token endpoint nor an issuer to discover it was given.
    #[error("no token endpoint: set .token_endpoint(url) or .issuer(url)")]
    NoEndpoint,
    /// The token endpoint URL is not `https` (or `http` to loopback).
    #[error("invalid token endpoint {url:?}: {reason}")]
    InvalidEndpoint {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// Discovery of the token endpoint failed.
    #[error("discovery failed: {0}")]
    Discovery(#[source] DiscoveryError),
    /// The endpoint could not be reached (connection, timeout, TLS) or its
    /// answer could not be read.
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// The endpoint answered with an OAuth 2.0 error (RFC 6749 §5.2).
    #[error("the token endpoint refused the request: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    Server {
        /// The `error` code, e.g. `invalid_client`, `invalid_scope`.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// The answer was not a token response (a non-OAuth error page, a
    /// member of the wrong type); only the JSON path is kept, never the body.
    #[error("the token endpoint's answer is not a token response: {0}")]
    InvalidResponse(String),
    /// The token type is not `Bearer`.
    #[error("the token endpoint issued a {0:?} token, not a Bearer token")]
    NotBearer(String),
}

impl ClientCredentialsError {
    fn from_endpoint(e: EndpointError) -> Self {
        match e {
            EndpointError::Missing => ClientCredentialsError::NoEndpoint,
            EndpointError::Invalid { url, reason } => {
                ClientCredentialsError::InvalidEndpoint { url, reason }
            }
            EndpointError::Discovery(e) => ClientCredentialsError::Discovery(e),
        }
    }
}

/// An access token from the token endpoint. `Debug` never shows it.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// # let source = auth_oauth2::ClientCredentials::builder("id", "secret")
/// #     .token_endpoint("http://127.0.0.1:9/token").build().await.unwrap();
/// // The provider is down here: a typed error, no panic.
/// assert!(source.token().await.is_err());
/// # });
/// ```
#[derive(Clone)]
pub struct AccessToken {
    secret: Arc<str>,
    expires_at: Instant,
}

impl AccessToken {
    /// The token, for an `Authorization: Bearer` header; see
    /// [`ClientCredentials::token`] for an example.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// When the token expires, as the endpoint's `expires_in` said (or the
    /// [default lifetime](ClientCredentialsBuilder::default_lifetime)).
    ///
    /// ```no_run
    /// # async fn run(tokens: auth_oauth2::ClientCredentials) -> Result<(), auth_oauth2::ClientCredentialsError> {
    /// let token = tokens.token().await?;
    /// assert!(token.expires_at() > std::time::Instant::now());
    /// # Ok(()) }
    /// ```
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("secret", &"[redacted]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Builds a [`ClientCredentials`]: where the token endpoint is, what to
/// ask for, and the cache timing.
///
/// ```
/// use std::time::Duration;
/// let builder = auth_oauth2::ClientCredentials::builder("service-a", "s3cret")
///     .issuer("https://login.example")
///     .allow_endpoint_host("tokens.login.example")
///     .scope("todos:read")
///     .resource("https://todo.example")
///     .audience("todo-api")
///     .refresh_ahead(Duration::from_secs(30))
///     .default_lifetime(Duration::from_secs(60))
///     .client_secret_post();
/// # let _ = builder;
/// ```
pub struct ClientCredentialsBuilder {
    client_id: String,
    client_secret: ClientSecret,
    token_endpoint: Option<String>,
    issuer: Option<String>,
    allowed_hosts: Vec<String>,
    scopes: Vec<String>,
    resource: Option<String>,
    audience: Option<String>,
    refresh_ahead: Duration,
    default_lifetime: Duration,
    auth_in_body: bool,
}

impl std::fmt::Debug for ClientCredentialsBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentialsBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("token_endpoint", &self.token_endpoint)
            .field("issuer", &self.issuer)
            .field("scopes", &self.scopes)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

impl ClientCredentialsBuilder {
    /// The token endpoint, explicitly (`https`, or `http` to loopback).
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// The issuer whose discovery document gives the token endpoint (on
    /// the issuer's host, unless [`allow_endpoint_host`](Self::allow_endpoint_host)).
    /// An explicit [`token_endpoint`](Self::token_endpoint) wins.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Allows a discovered token endpoint on `host` besides the issuer's
    /// own host. The client secret is sent there.
    pub fn allow_endpoint_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Asks for this scope; may be called more than once.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Asks for a token for this resource (RFC 8707 `resource`).
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// Sends `audience` (the parameter of Auth0 and others) with the
    /// request.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// How long before its expiry a token is replaced (default 60 s; at
    /// most half the token's lifetime, so a short-lived token is still
    /// reused).
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// The lifetime assumed for a token whose response has no `expires_in`
    /// (default 60 s).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime.min(MAX_LIFETIME);
        self
    }

    /// Sends the client id and secret in the request body
    /// (`client_secret_post`) instead of HTTP Basic (`client_secret_basic`,
    /// the default).
    pub fn client_secret_post(mut self) -> Self {
        self.auth_in_body = true;
        self
    }

    /// Resolves the token endpoint (discovering it if only an issuer was
    /// given). No token is fetched yet.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_oauth2::{ClientCredentials, ClientCredentialsError};
    /// let err = ClientCredentials::builder("id", "secret")
    ///     .token_endpoint("http://login.example/token")
    ///     .build()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, ClientCredentialsError::InvalidEndpoint { .. }));
    /// # });
    /// ```
    pub async fn build(self) -> Result<ClientCredentials, ClientCredentialsError> {
        let client = auth_core::outbound::client()
            .map_err(|e| ClientCredentialsError::Unreachable(e.to_string()))?;
        let (endpoint, _) = crate::discovery::token_endpoint(
            &client,
            self.token_endpoint.as_deref(),
            self.issuer.as_deref(),
            &self.allowed_hosts,
        )
        .await
        .map_err(ClientCredentialsError::from_endpoint)?;
        let token_url = TokenUrl::from_url(endpoint);
        let oauth = BasicClient::new(ClientId::new(self.client_id))
            .set_client_secret(self.client_secret.clone())
            .set_auth_type(if self.auth_in_body {
                AuthType::RequestBody
            } else {
                AuthType::BasicAuth
            })
            .set_token_uri(token_url);
        Ok(ClientCredentials {
            inner: Arc::new(Inner {
                oauth,
                client_secret: self.client_secret,
                http: OutboundHttp(client),
                scopes: self.scopes,
                resource: self.resource,
                audience: self.audience,
                refresh_ahead: self.refresh_ahead,
                default_lifetime: self.default_lifetime,
                state: RwLock::new(State::default()),
                gate: tokio::sync::Mutex::new(()),
                fetches: AtomicU64::new(0),
            }),
        })
    }
}

#[derive(Default)]
struct State {
    token: Option<Cached>,
    // Attempts finished; a caller that waited for the gate compares it with
    // what it saw before and takes that attempt's result.
    attempts: u64,
    last_error: Option<ClientCredentialsError>,
}

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
}

struct Inner {
    oauth: Client,
    /// Only to keep it out of the endpoint's error text (`map_error`).
    client_secret: ClientSecret,
    http: OutboundHttp,
    scopes: Vec<String>,
    resource: Option<String>,
    audience: Option<String>,
    refresh_ahead: Duration,
    default_lifetime: Duration,
    state: RwLock<State>,
    // Held for the whole of one fetch: the single-flight gate.
    gate: tokio::sync::Mutex<()>,
    fetches: AtomicU64,
}

/// A client-credentials token source (RFC 6749 §4.4): fetches a token from
/// the token endpoint, caches it, and replaces it shortly before it
/// expires.
///
/// - **Single flight**: callers that need a token while one is being
///   fetched wait for that fetch and share its result (success or error);
///   a fetch is bounded by auth-core's outbound timeouts (2 s connect, 5 s
///   total).
/// - **Refresh ahead**: a token is replaced [`refresh_ahead`](ClientCredentialsBuilder::refresh_ahead)
///   before `expires_in` runs out; if that refresh fails while the cached
///   token is still valid, the cached token is used (and the failure
///   logged) until it expires.
/// - **Errors are typed** ([`ClientCredentialsError`]), never a panic; the
///   client secret and tokens are never in `Debug`, errors or logs.
///
/// Cheap to clone (an `Arc` inside); share one per client and scope set.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use auth_oauth2::ClientCredentials;
/// let tokens = ClientCredentials::builder("service-a", "service-a-secret")
///     .issuer("https://login.example")
///     .scope("todos:read")
///     .build()
///     .await?;
/// let http = auth_core::outbound::client()?;
/// let resp = tokens
///     .authorize(http.get("https://todo.example/todos"))
///     .await?
///     .send()
///     .await?;
/// # let _ = resp;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ClientCredentials {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("client_id", &self.inner.oauth.client_id().as_str())
            .field("token_endpoint", &self.inner.oauth.token_uri().as_str())
            .field("scopes", &self.inner.scopes)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// A builder for client `client_id` with `client_secret`; then set the
    /// token endpoint or the issuer.
    ///
    /// ```
    /// let builder = auth_oauth2::ClientCredentials::builder("service-a", "s3cret")
    ///     .token_endpoint("https://login.example/oauth/token")
    ///     .scope("todos:read");
    /// assert!(!format!("{builder:?}").contains("s3cret"));
    /// ```
    pub fn builder(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> ClientCredentialsBuilder {
        ClientCredentialsBuilder {
            client_id: client_id.into(),
            client_secret: ClientSecret::new(client_secret.into()),
            token_endpoint: None,
            issuer: None,
            allowed_hosts: Vec::new(),
            scopes: Vec::new(),
            resource: None,
            audience: None,
            refresh_ahead: Duration::from_secs(60),
            default_lifetime: Duration::from_secs(60),
            auth_in_body: false,
        }
    }

    /// The token endpoint in use.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let tokens = auth_oauth2::ClientCredentials::builder("a", "s")
    ///     .token_endpoint("https://login.example/token")
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(tokens.token_endpoint(), "https://login.example/token");
    /// assert_eq!(tokens.fetch_count(), 0);
    /// # });
    /// ```
    pub fn token_endpoint(&self) -> &str {
        self.inner.oauth.token_uri().as_str()
    }

    /// How many token requests were sent (for monitoring and tests); see
    /// [`token_endpoint`](Self::token_endpoint) for an example.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.inner.state.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A token: the cached one while it is fresh, else a new one (one fetch
    /// for all concurrent callers).
    ///
    /// ```no_run
    /// # async fn run(tokens: auth_oauth2::ClientCredentials) -> Result<(), auth_oauth2::ClientCredentialsError> {
    /// let token = tokens.token().await?;
    /// let header = format!("Bearer {}", token.secret());
    /// # let _ = header;
    /// # Ok(()) }
    /// ```
    pub async fn token(&self) -> Result<AccessToken, ClientCredentialsError> {
        let seen = {
            let s = self.read();
            if let Some(c) = &s.token
                && Instant::now() < c.refresh_at
            {
                return Ok(c.token.clone());
            }
            s.attempts
        };
        let _gate = self.inner.gate.lock().await;
        {
            let s = self.read();
            let now = Instant::now();
            if let Some(c) = &s.token
                && now < c.refresh_at
            {
                return Ok(c.token.clone());
            }
            // Another caller's attempt finished while this one waited: its
            // failure is this caller's too (no second request behind a
            // provider that just failed).
            if s.attempts != seen
                && let Some(e) = &s.last_error
            {
                return match &s.token {
                    Some(c) if now < c.token.expires_at => Ok(c.token.clone()),
                    _ => Err(e.clone()),
                };
            }
        }
        let result = self.fetch().await;
        let mut s = self.inner.state.write().unwrap_or_else(|e| e.into_inner());
        s.attempts += 1;
        match result {
            Ok(cached) => {
                let token = cached.token.clone();
                s.token = Some(cached);
                s.last_error = None;
                Ok(token)
            }
            Err(e) => {
                s.last_error = Some(e.clone());
                match &s.token {
                    Some(c) if Instant::now() < c.token.expires_at => {
                        tracing::warn!(
                            "client credentials refresh failed: {e}; using the cached token until it expires"
                        );
                        Ok(c.token.clone())
                    }
                    _ => {
                        tracing::warn!("client credentials: {e}");
                        Err(e)
                    }
                }
            }
        }
    }

    async fn fetch(&self) -> Result<Cached, ClientCredentialsError> {
        self.inner.fetches.fetch_add(1, Ordering::Relaxed);
        let inner = &self.inner;
        let mut request = inner
            .oauth
            .exchange_client_credentials()
            .add_scopes(inner.scopes.iter().cloned().map(Scope::new));
        if let Some(resource) = &inner.resource {
            request = request.add_extra_param("resource", resource.as_str());
        }
        if let Some(audience) = &inner.audience {
            request = request.add_extra_param("audience", audience.as_str());
        }
        let started = Instant::now();
        let response: BasicTokenResponse = request
            .request_async(&inner.http)
            .await
            .map_err(|e| map_error(e, inner.client_secret.secret()))?;
        let token_type = response.token_type().as_ref().to_owned();
        if !token_type.eq_ignore_ascii_case("bearer") {
            return Err(ClientCredentialsError::NotBearer(token_type));
        }
        // `expires_in` is whatever the endpoint sent: a lifetime of zero is
        // no lifetime (the default applies), and none is believed past
        // `MAX_LIFETIME` (a larger one would overflow the `Instant` below).
        let lifetime = response
            .expires_in()
            .filter(|l| !l.is_zero())
            .unwrap_or(inner.default_lifetime)
            .min(MAX_LIFETIME);
        // Counted from when the request was sent: the endpoint's clock
        // started no earlier.
        let expires_at = started + lifetime;
        let ahead = inner.refresh_ahead.min(lifetime / 2);
        Ok(Cached {
            token: AccessToken {
                secret: Arc::from(response.access_token().secret().as_str()),
                expires_at,
            },
            refresh_at: expires_at - ahead,
        })
    }

    /// Adds `Authorization: Bearer <token>` (marked sensitive) to an
    /// outgoing reqwest request.
    ///
    /// ```no_run
    /// # async fn run(tokens: auth_oauth2::ClientCredentials) -> Result<(), Box<dyn std::error::Error>> {
    /// let http = auth_core::outbound::client()?;
    /// let resp = tokens.authorize(http.get("https://todo.example/todos")).await?.send().await?;
    /// # let _ = resp;
    /// # Ok(()) }
    /// ```
    pub async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, ClientCredentialsError> {
        let token = self.token().await?;
        // `bearer_auth` marks the header value sensitive.
        Ok(request.bearer_auth(token.secret()))
    }
}

/// The error as this type reports it. The endpoint's `error` and
/// `error_description` are its own text: they go into messages and logs
/// only cleaned (printable ASCII without quotes or markup, 200 characters
/// at most), and a description quoting the client secret is dropped.
fn map_error(
    e: RequestTokenError<HttpError, BasicErrorResponse>,
    secret: &str,
) -> ClientCredentialsError {
    match e {
        RequestTokenError::ServerResponse(r) => ClientCredentialsError::Server {
            error: clean_description(r.error().as_ref(), &[secret])
                .unwrap_or_else(|| "invalid_error".to_owned()),
            description: r
                .error_description()
                .and_then(|d| clean_description(d, &[secret])),
        },
        RequestTokenError::Request(HttpError::TooLarge) => {
            ClientCredentialsError::InvalidResponse("the answer is too large".into())
        }
        RequestTokenError::Request(e) => ClientCredentialsError::Unreachable(e.to_string()),
        // The body may hold a token: only where parsing stopped is kept.
        RequestTokenError::Parse(e, _body) => {
            ClientCredentialsError::InvalidResponse(format!("at `{}`", e.path()))
        }
        RequestTokenError::Other(m) => ClientCredentialsError::InvalidResponse(m),
    }
}
