//! [`TokenExchange`]: OAuth 2.0 Token Exchange (RFC 8693) for on-behalf-of
//! calls, over auth-core's outbound client, with a bounded cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::http::StatusCode;
use auth_core::AuthError;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use reqwest::Url;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::MAX_LIFETIME;
use crate::discovery::{DiscoveryError, EndpointError};
use crate::http::{HttpError, chain, read_limited};

/// The grant type of RFC 8693 token exchange, as sent in `grant_type` and
/// listed in a provider's `grant_types_supported`.
///
/// ```
/// assert_eq!(
///     auth_oauth2::TOKEN_EXCHANGE_GRANT,
///     "urn:ietf:params:oauth:grant-type:token-exchange"
/// );
/// ```
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";

/// Largest subject or actor token sent, in bytes: anything longer is
/// refused before a request is made.
///
/// ```
/// assert_eq!(auth_oauth2::MAX_EXCHANGED_TOKEN_LEN, 16 * 1024);
/// ```
pub const MAX_EXCHANGED_TOKEN_LEN: usize = 16 * 1024;

/// A token type identifier (RFC 8693 §3), for `subject_token_type`,
/// `actor_token_type`, `requested_token_type` and the response's
/// `issued_token_type`.
///
/// ```
/// use auth_oauth2::TokenType;
/// assert_eq!(TokenType::AccessToken.as_uri(), "urn:ietf:params:oauth:token-type:access_token");
/// assert_eq!(TokenType::from_uri("urn:ietf:params:oauth:token-type:jwt"), TokenType::Jwt);
/// assert_eq!(
///     TokenType::from_uri("urn:example:custom"),
///     TokenType::Other("urn:example:custom".into())
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TokenType {
    /// `urn:ietf:params:oauth:token-type:access_token`.
    AccessToken,
    /// `urn:ietf:params:oauth:token-type:refresh_token`.
    RefreshToken,
    /// `urn:ietf:params:oauth:token-type:id_token`.
    IdToken,
    /// `urn:ietf:params:oauth:token-type:jwt`.
    Jwt,
    /// `urn:ietf:params:oauth:token-type:saml1`.
    Saml1,
    /// `urn:ietf:params:oauth:token-type:saml2`.
    Saml2,
    /// Any other URI.
    Other(String),
}

impl TokenType {
    /// The URI; see [`TokenType`] for an example.
    pub fn as_uri(&self) -> &str {
        match self {
            TokenType::AccessToken => "urn:ietf:params:oauth:token-type:access_token",
            TokenType::RefreshToken => "urn:ietf:params:oauth:token-type:refresh_token",
            TokenType::IdToken => "urn:ietf:params:oauth:token-type:id_token",
            TokenType::Jwt => "urn:ietf:params:oauth:token-type:jwt",
            TokenType::Saml1 => "urn:ietf:params:oauth:token-type:saml1",
            TokenType::Saml2 => "urn:ietf:params:oauth:token-type:saml2",
            TokenType::Other(uri) => uri,
        }
    }

    /// The type a URI names; see [`TokenType`] for an example.
    pub fn from_uri(uri: &str) -> TokenType {
        [
            TokenType::AccessToken,
            TokenType::RefreshToken,
            TokenType::IdToken,
            TokenType::Jwt,
            TokenType::Saml1,
            TokenType::Saml2,
        ]
        .into_iter()
        .find(|t| t.as_uri() == uri)
        .unwrap_or_else(|| TokenType::Other(uri.to_owned()))
    }
}

/// Why no exchanged token could be had. Never carries the client secret,
/// the subject or actor token, or an issued token; the provider's
/// `error_description` is kept to printable ASCII, shortened, and dropped
/// if it repeats a token or the secret.
///
/// [`to_auth_error`](Self::to_auth_error) (and `ResponseError`) turn it
/// into the answer of the handler that made the call.
///
/// ```
/// use auth_oauth2::TokenExchangeError;
/// let e = TokenExchangeError::InvalidTarget { description: Some("unknown resource".into()) };
/// assert_eq!(e.to_string(), "the token endpoint refused the target: invalid_target (unknown resource)");
/// assert_eq!(e.error_code(), Some("invalid_target"));
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TokenExchangeError {
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
    /// The issuer's discovery document does not list
    /// [`TOKEN_EXCHANGE_GRANT`] in `grant_types_supported`: the provider
    /// does not offer token exchange (set
    /// [`token_endpoint`](TokenExchangeBuilder::token_endpoint) explicitly
    /// for a provider that offers it without saying so).
    #[error(
        "the provider {issuer} does not offer token exchange: its grant_types_supported does not list {TOKEN_EXCHANGE_GRANT}"
    )]
    NotOffered {
        /// The issuer.
        issuer: String,
    },
    /// A parameter of the request is unusable (an empty or oversized
    /// token, a scope with a space, a `resource` that is not an absolute
    /// URI without fragment); nothing was sent. Never shows a token.
    #[error("invalid {parameter}: {reason}")]
    InvalidParameter {
        /// The parameter, e.g. `subject_token`, `resource`.
        parameter: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The incoming request carries no usable bearer token to exchange
    /// (the on-behalf-of helpers).
    #[error("the incoming request has no bearer token to exchange: {0}")]
    NoIncomingToken(&'static str),
    /// The token endpoint could not be reached (connection, timeout, TLS),
    /// or answered a 5xx without an OAuth error.
    #[error("the token endpoint could not be reached: {0}")]
    Unreachable(String),
    /// `invalid_request` (RFC 8693 §2.2.2): the request is malformed, or
    /// the subject or actor token is invalid (malformed, expired, wrongly
    /// signed, from another issuer) or unacceptable by the provider's
    /// policy.
    #[error(
        "the token endpoint refused the request: invalid_request{}",
        describe(description)
    )]
    InvalidRequest {
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// `invalid_target` (RFC 8693 §2.2.2): the `resource` or `audience` is
    /// unknown or not allowed for this subject.
    #[error(
        "the token endpoint refused the target: invalid_target{}",
        describe(description)
    )]
    InvalidTarget {
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// `invalid_scope`: the scope asked for is not within what the subject
    /// may have at the target.
    #[error(
        "the token endpoint refused the scope: invalid_scope{}",
        describe(description)
    )]
    InvalidScope {
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// `invalid_client`: the client id or secret is wrong.
    #[error(
        "the token endpoint refused the client: invalid_client{}",
        describe(description)
    )]
    InvalidClient {
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// `unauthorized_client`: the client may not use token exchange.
    #[error(
        "the token endpoint refused the client: unauthorized_client{}",
        describe(description)
    )]
    UnauthorizedClient {
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// Any other OAuth 2.0 error (`invalid_grant`, `unsupported_grant_type`,
    /// `server_error`, ...).
    #[error(
        "the token endpoint refused the request: {error}{}",
        describe(description)
    )]
    Server {
        /// The `error` code.
        error: String,
        /// The `error_description`, if any.
        description: Option<String>,
    },
    /// The answer was not an RFC 8693 token response (not JSON, a member
    /// missing or of the wrong type); only the member is named, never the
    /// body.
    #[error("the token endpoint's answer is not a token exchange response: {0}")]
    InvalidResponse(String),
    /// The issued token is not a `Bearer` token (e.g. `N_A`, RFC 8693
    /// §2.2.1), so it cannot go in an `Authorization: Bearer` header.
    #[error("the token endpoint issued a {0:?} token, not a Bearer token")]
    NotBearer(String),
}

fn describe(description: &Option<String>) -> String {
    description
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default()
}

impl TokenExchangeError {
    /// The OAuth 2.0 `error` code the token endpoint answered, if it did.
    ///
    /// ```
    /// use auth_oauth2::TokenExchangeError;
    /// let e = TokenExchangeError::Server { error: "invalid_grant".into(), description: None };
    /// assert_eq!(e.error_code(), Some("invalid_grant"));
    /// assert_eq!(TokenExchangeError::Unreachable("down".into()).error_code(), None);
    /// ```
    pub fn error_code(&self) -> Option<&str> {
        match self {
            TokenExchangeError::InvalidRequest { .. } => Some("invalid_request"),
            TokenExchangeError::InvalidTarget { .. } => Some("invalid_target"),
            TokenExchangeError::InvalidScope { .. } => Some("invalid_scope"),
            TokenExchangeError::InvalidClient { .. } => Some("invalid_client"),
            TokenExchangeError::UnauthorizedClient { .. } => Some("unauthorized_client"),
            TokenExchangeError::Server { error, .. } => Some(error),
            _ => None,
        }
    }

    /// The answer for the handler whose caller's token was to be
    /// exchanged:
    ///
    /// - 401 `NO_BEARER_TOKEN`: the incoming request has none;
    /// - 401 `TOKEN_EXCHANGE_REFUSED`: the provider refused the caller's
    ///   token (`invalid_request`, `invalid_grant`);
    /// - 403 `TOKEN_EXCHANGE_FORBIDDEN`: the caller may not reach that
    ///   target or scope (`invalid_target`, `invalid_scope`);
    /// - 503: the provider cannot be used (down, a bad answer, a client
    ///   misconfigured there or not allowed to exchange, token exchange
    ///   not offered); fail closed;
    /// - 401 `TOKEN_EXCHANGE_REFUSED` too for a subject token that cannot be
    ///   sent (empty, over 16 KiB, not visible ASCII): it is the caller's;
    /// - 500 for a bad parameter of the application's own (logged, not
    ///   sent).
    ///
    /// No provider description, token or secret is in the body.
    ///
    /// ```
    /// use auth_oauth2::TokenExchangeError;
    /// let status = |e: TokenExchangeError| e.to_auth_error().status().as_u16();
    /// assert_eq!(status(TokenExchangeError::NoIncomingToken("none")), 401);
    /// assert_eq!(status(TokenExchangeError::InvalidRequest { description: None }), 401);
    /// let too_long = TokenExchangeError::InvalidParameter { parameter: "subject_token", reason: "it is longer than 16 KiB" };
    /// assert_eq!(status(too_long), 401);
    /// let resource = TokenExchangeError::InvalidParameter { parameter: "resource", reason: "not absolute" };
    /// assert_eq!(status(resource), 500);
    /// assert_eq!(status(TokenExchangeError::InvalidTarget { description: None }), 403);
    /// assert_eq!(status(TokenExchangeError::Unreachable("refused".into())), 503);
    /// assert_eq!(status(TokenExchangeError::UnauthorizedClient { description: None }), 503);
    /// ```
    pub fn to_auth_error(&self) -> AuthError {
        match self {
            TokenExchangeError::NoIncomingToken(_) => AuthError::rejected(
                StatusCode::UNAUTHORIZED,
                "NO_BEARER_TOKEN",
                "a bearer token is required",
            ),
            TokenExchangeError::InvalidRequest { .. } => AuthError::rejected(
                StatusCode::UNAUTHORIZED,
                "TOKEN_EXCHANGE_REFUSED",
                "the identity provider refused to exchange the caller's token",
            ),
            TokenExchangeError::Server { error, .. } if error == "invalid_grant" => {
                AuthError::rejected(
                    StatusCode::UNAUTHORIZED,
                    "TOKEN_EXCHANGE_REFUSED",
                    "the identity provider refused to exchange the caller's token",
                )
            }
            TokenExchangeError::InvalidTarget { .. } | TokenExchangeError::InvalidScope { .. } => {
                AuthError::rejected(
                    StatusCode::FORBIDDEN,
                    "TOKEN_EXCHANGE_FORBIDDEN",
                    "the caller may not reach the downstream service with that scope",
                )
            }
            // The subject token is the caller's (`authorize_for_caller`
            // takes it from the request): one that cannot be sent is the
            // caller's bad credential, not this server's fault.
            TokenExchangeError::InvalidParameter {
                parameter: "subject_token",
                ..
            } => AuthError::rejected(
                StatusCode::UNAUTHORIZED,
                "TOKEN_EXCHANGE_REFUSED",
                "the caller's token cannot be exchanged",
            ),
            TokenExchangeError::InvalidParameter { .. } => {
                AuthError::internal(format!("token exchange: {self}"))
            }
            _ => AuthError::unavailable("the identity provider is unavailable"),
        }
    }
}

impl actix_web::ResponseError for TokenExchangeError {
    fn status_code(&self) -> StatusCode {
        self.to_auth_error().status()
    }

    fn error_response(&self) -> actix_web::HttpResponse {
        actix_web::ResponseError::error_response(&self.to_auth_error())
    }
}

/// A token issued by token exchange (RFC 8693 §2.2.1). `Debug` never
/// shows the token or the refresh token.
///
/// ```no_run
/// # async fn run(exchange: auth_oauth2::TokenExchange, caller_token: &str) -> Result<(), auth_oauth2::TokenExchangeError> {
/// use auth_oauth2::{Downstream, TokenType};
/// let token = exchange
///     .on_behalf_of(caller_token, &Downstream::audience("downstream"))
///     .await?;
/// assert_eq!(token.issued_token_type(), &TokenType::AccessToken);
/// assert!(token.is_bearer());
/// println!("{:?} until {:?}, scope {:?}", token, token.expires_at(), token.scope());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ExchangedToken {
    secret: Arc<str>,
    issued_token_type: TokenType,
    token_type: String,
    expires_at: Instant,
    scope: Option<String>,
    refresh_token: Option<Arc<str>>,
}

impl ExchangedToken {
    /// The issued token (`access_token` of the response, whatever its
    /// [`issued_token_type`](Self::issued_token_type)).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// `issued_token_type` of the response.
    pub fn issued_token_type(&self) -> &TokenType {
        &self.issued_token_type
    }

    /// `token_type` of the response: `Bearer`, or `N_A` when the token is
    /// not an access token.
    pub fn token_type(&self) -> &str {
        &self.token_type
    }

    /// Whether [`token_type`](Self::token_type) is `Bearer` (any case).
    pub fn is_bearer(&self) -> bool {
        self.token_type.eq_ignore_ascii_case("bearer")
    }

    /// When it expires, by the response's `expires_in` (or the
    /// [default lifetime](TokenExchangeBuilder::default_lifetime)),
    /// counted from when the request was sent.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// `scope` of the response, if the provider sent one.
    pub fn scope(&self) -> Option<&str> {
        self.scope.as_deref()
    }

    /// `refresh_token` of the response, if the provider sent one.
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }
}

impl std::fmt::Debug for ExchangedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangedToken")
            .field("secret", &"[redacted]")
            .field("issued_token_type", &self.issued_token_type)
            .field("token_type", &self.token_type)
            .field("expires_at", &self.expires_at)
            .field("scope", &self.scope)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Where an exchanged token is for: `resource` (RFC 8707, an absolute
/// URI) and/or `audience` (a logical name the provider knows), the
/// `scope` asked for, and the `requested_token_type`. Built once per
/// downstream service and reused for every call.
///
/// ```
/// use auth_oauth2::{Downstream, TokenType};
/// let billing = Downstream::resource("https://billing.example")
///     .and_audience("billing")
///     .scope("invoices:read")
///     .requested_token_type(TokenType::AccessToken);
/// # let _ = billing;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Downstream {
    resources: Vec<String>,
    audiences: Vec<String>,
    scopes: Vec<String>,
    requested_token_type: Option<TokenType>,
}

impl Downstream {
    /// A target named by its resource URI (RFC 8707 `resource`).
    ///
    /// ```
    /// let target = auth_oauth2::Downstream::resource("https://billing.example");
    /// # let _ = target;
    /// ```
    pub fn resource(resource: impl Into<String>) -> Self {
        Downstream::default().and_resource(resource)
    }

    /// A target named by a logical audience (RFC 8693 `audience`).
    ///
    /// ```
    /// let target = auth_oauth2::Downstream::audience("billing");
    /// # let _ = target;
    /// ```
    pub fn audience(audience: impl Into<String>) -> Self {
        Downstream::default().and_audience(audience)
    }

    /// Adds a `resource` (may be repeated, if the provider accepts that);
    /// see [`Downstream`] for an example.
    pub fn and_resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// Adds an `audience`; see [`Downstream`] for an example.
    pub fn and_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Asks for this scope (may be called more than once); none means the
    /// provider's choice (often the subject token's scope at the target).
    /// See [`Downstream`] for an example.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// Sends `requested_token_type`; see [`Downstream`] for an example.
    pub fn requested_token_type(mut self, token_type: TokenType) -> Self {
        self.requested_token_type = Some(token_type);
        self
    }
}

/// One token exchange request: the subject token and its type, an
/// optional actor token (delegation, RFC 8693 §1.1), and the
/// [`Downstream`] target. `Debug` never shows the tokens.
///
/// ```
/// use auth_oauth2::{Downstream, ExchangeRequest, TokenType};
/// let request = ExchangeRequest::new("caller's token", TokenType::AccessToken)
///     .actor_token("this service's token", TokenType::Jwt)
///     .target(Downstream::audience("billing").scope("invoices:read"));
/// assert!(!format!("{request:?}").contains("caller's token"));
/// ```
#[derive(Clone)]
pub struct ExchangeRequest {
    subject_token: String,
    subject_token_type: TokenType,
    actor: Option<(String, TokenType)>,
    target: Downstream,
}

impl std::fmt::Debug for ExchangeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExchangeRequest")
            .field("subject_token", &"[redacted]")
            .field("subject_token_type", &self.subject_token_type)
            .field(
                "actor_token_type",
                &self.actor.as_ref().map(|(_, t)| t.clone()),
            )
            .field("target", &self.target)
            .finish()
    }
}

impl ExchangeRequest {
    /// Exchanges `subject_token` of type `subject_token_type`; see
    /// [`ExchangeRequest`] for an example.
    pub fn new(subject_token: impl Into<String>, subject_token_type: TokenType) -> Self {
        ExchangeRequest {
            subject_token: subject_token.into(),
            subject_token_type,
            actor: None,
            target: Downstream::default(),
        }
    }

    /// Sends `actor_token` and `actor_token_type`: the party acting for
    /// the subject (the issued token's `act` then names it, where the
    /// provider does so).
    pub fn actor_token(mut self, actor_token: impl Into<String>, token_type: TokenType) -> Self {
        self.actor = Some((actor_token.into(), token_type));
        self
    }

    /// The target: `resource`, `audience`, `scope`, `requested_token_type`.
    pub fn target(mut self, target: Downstream) -> Self {
        self.target = target;
        self
    }
}

impl TokenExchangeError {
    fn from_endpoint(e: EndpointError) -> Self {
        match e {
            EndpointError::Missing => TokenExchangeError::NoEndpoint,
            EndpointError::Invalid { url, reason } => {
                TokenExchangeError::InvalidEndpoint { url, reason }
            }
            EndpointError::Discovery(e) => TokenExchangeError::Discovery(e),
        }
    }
}

/// Builds a [`TokenExchange`]: the client, where the token endpoint is,
/// and the cache's bounds.
///
/// ```
/// use std::time::Duration;
/// let builder = auth_oauth2::TokenExchange::builder("todo-api", "s3cret")
///     .issuer("https://login.example")
///     .allow_endpoint_host("tokens.login.example")
///     .refresh_ahead(Duration::from_secs(30))
///     .default_lifetime(Duration::from_secs(60))
///     .max_cache_lifetime(Duration::from_secs(120))
///     .max_entries(4096)
///     .client_secret_post();
/// assert!(!format!("{builder:?}").contains("s3cret"));
/// ```
pub struct TokenExchangeBuilder {
    client_id: String,
    client_secret: String,
    token_endpoint: Option<String>,
    issuer: Option<String>,
    allowed_hosts: Vec<String>,
    refresh_ahead: Duration,
    default_lifetime: Duration,
    max_cache_lifetime: Duration,
    max_entries: usize,
    auth_in_body: bool,
}

impl std::fmt::Debug for TokenExchangeBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchangeBuilder")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("token_endpoint", &self.token_endpoint)
            .field("issuer", &self.issuer)
            .field("max_entries", &self.max_entries)
            .finish_non_exhaustive()
    }
}

impl TokenExchangeBuilder {
    /// The token endpoint, explicitly (`https`, or `http` to loopback).
    /// No discovery then, so no check that the provider offers token
    /// exchange: its first answer tells.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = Some(url.into());
        self
    }

    /// The issuer whose discovery document gives the token endpoint (on
    /// the issuer's host, unless [`allow_endpoint_host`](Self::allow_endpoint_host))
    /// and must list [`TOKEN_EXCHANGE_GRANT`] in `grant_types_supported`
    /// ([`TokenExchangeError::NotOffered`] otherwise). An explicit
    /// [`token_endpoint`](Self::token_endpoint) wins.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Allows a discovered token endpoint on `host` besides the issuer's
    /// own host. The client secret and the callers' tokens are sent there.
    pub fn allow_endpoint_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// How long before its expiry an exchanged token stops being served
    /// from the cache (default 60 s; at most half the token's lifetime).
    pub fn refresh_ahead(mut self, ahead: Duration) -> Self {
        self.refresh_ahead = ahead;
        self
    }

    /// The lifetime assumed for a token whose response has no
    /// `expires_in` (default 60 s; at most a year, as `expires_in` itself).
    pub fn default_lifetime(mut self, lifetime: Duration) -> Self {
        self.default_lifetime = lifetime.min(MAX_LIFETIME);
        self
    }

    /// The longest an exchanged token is served from the cache (default
    /// 300 s), whatever its own lifetime: the bound on how long a revoked
    /// subject token keeps working downstream through this cache, the
    /// provider's outages included. Zero turns the cache off; at most a
    /// year.
    pub fn max_cache_lifetime(mut self, lifetime: Duration) -> Self {
        self.max_cache_lifetime = lifetime.min(MAX_LIFETIME);
        self
    }

    /// The most exchanged tokens kept (default 1024, at least 1); when
    /// full, expired entries go first, then the ones that would be
    /// replaced soonest.
    pub fn max_entries(mut self, entries: usize) -> Self {
        self.max_entries = entries.max(1);
        self
    }

    /// Sends the client id and secret in the request body
    /// (`client_secret_post`) instead of HTTP Basic (`client_secret_basic`,
    /// the default).
    pub fn client_secret_post(mut self) -> Self {
        self.auth_in_body = true;
        self
    }

    /// Resolves the token endpoint (discovering it, and checking that the
    /// provider offers token exchange, if only an issuer was given).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_oauth2::{TokenExchange, TokenExchangeError};
    /// let err = TokenExchange::builder("id", "secret")
    ///     .token_endpoint("http://login.example/token")
    ///     .build()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, TokenExchangeError::InvalidEndpoint { .. }));
    /// let err = TokenExchange::builder("id", "secret").build().await.unwrap_err();
    /// assert!(matches!(err, TokenExchangeError::NoEndpoint));
    /// let err = TokenExchange::builder("id", "")
    ///     .token_endpoint("https://login.example/token")
    ///     .build()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, TokenExchangeError::InvalidParameter { parameter: "client_secret", .. }));
    /// # });
    /// ```
    pub async fn build(self) -> Result<TokenExchange, TokenExchangeError> {
        for (parameter, value) in [
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
        ] {
            if value.is_empty() {
                return Err(TokenExchangeError::InvalidParameter {
                    parameter,
                    reason: "it is empty",
                });
            }
        }
        let client = auth_core::outbound::client()
            .map_err(|e| TokenExchangeError::Unreachable(e.to_string()))?;
        let (endpoint, discovered) = crate::discovery::token_endpoint(
            &client,
            self.token_endpoint.as_deref(),
            self.issuer.as_deref(),
            &self.allowed_hosts,
        )
        .await
        .map_err(TokenExchangeError::from_endpoint)?;
        if let (Some(meta), Some(issuer)) = (&discovered, &self.issuer)
            && !meta.supports_grant(TOKEN_EXCHANGE_GRANT)
        {
            return Err(TokenExchangeError::NotOffered {
                issuer: issuer.clone(),
            });
        }
        let basic = if self.auth_in_body {
            None
        } else {
            // RFC 6749 §2.3.1: both form-encoded before Basic.
            let pair = format!(
                "{}:{}",
                form_urlencoded::byte_serialize(self.client_id.as_bytes()).collect::<String>(),
                form_urlencoded::byte_serialize(self.client_secret.as_bytes()).collect::<String>()
            );
            let mut value = HeaderValue::from_str(&format!("Basic {}", STANDARD.encode(pair)))
                .map_err(|_| TokenExchangeError::InvalidParameter {
                    parameter: "client_id",
                    reason: "not usable in a header",
                })?;
            value.set_sensitive(true);
            Some(value)
        };
        Ok(TokenExchange {
            inner: Arc::new(Inner {
                http: client,
                endpoint,
                client_id: self.client_id,
                client_secret: self.client_secret,
                basic,
                refresh_ahead: self.refresh_ahead,
                default_lifetime: self.default_lifetime,
                max_cache_lifetime: self.max_cache_lifetime,
                max_entries: self.max_entries,
                cache: Mutex::new(HashMap::new()),
                gates: Mutex::new(HashMap::new()),
                fetches: AtomicU64::new(0),
            }),
        })
    }
}

/// What an exchanged token is cached under: hashes of the tokens (never
/// the tokens), their types, and the target.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    subject: [u8; 32],
    subject_type: TokenType,
    actor: Option<([u8; 32], TokenType)>,
    resources: Vec<String>,
    audiences: Vec<String>,
    scopes: Vec<String>,
    requested: Option<TokenType>,
}

struct Entry {
    token: ExchangedToken,
    /// Until when a cache hit returns it (before `hard_until`: renewed
    /// ahead of expiry).
    serve_until: Instant,
    /// Never served after this, not even while the provider is down: the
    /// token's expiry, the subject token's `exp`, `max_cache_lifetime`.
    hard_until: Instant,
}

/// One in-flight exchange per key; waiters share its failure.
#[derive(Default)]
struct Gate {
    last_failure: tokio::sync::Mutex<Option<(Instant, TokenExchangeError)>>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: Url,
    client_id: String,
    client_secret: String,
    basic: Option<HeaderValue>,
    refresh_ahead: Duration,
    default_lifetime: Duration,
    max_cache_lifetime: Duration,
    max_entries: usize,
    cache: Mutex<HashMap<Key, Entry>>,
    gates: Mutex<HashMap<Key, Weak<Gate>>>,
    fetches: AtomicU64,
}

/// An RFC 8693 token exchange client: swaps the token a caller presented
/// (the *subject token*) for a token for a downstream service, so the
/// downstream call is made on behalf of that caller (the issued token
/// keeps the caller's `sub`; providers that implement §4.1 add an `act`
/// claim naming this client).
///
/// - **Discovery** (with [`issuer`](TokenExchangeBuilder::issuer)) checks
///   `grant_types_supported` lists [`TOKEN_EXCHANGE_GRANT`]:
///   [`TokenExchangeError::NotOffered`] otherwise, at start-up.
/// - **Client authentication** as [`ClientCredentials`](crate::ClientCredentials):
///   HTTP Basic with form-encoded id and secret (default) or
///   `client_secret_post`.
/// - **Cache**: an exchanged token is kept per (SHA-256 of the subject
///   token, its type, the actor token's hash, resource, audience, scope,
///   requested type) and served until the earliest of: its expiry minus
///   [`refresh_ahead`](TokenExchangeBuilder::refresh_ahead), the subject
///   token's own `exp` (read from a JWT subject token, only to shorten),
///   and [`max_cache_lifetime`](TokenExchangeBuilder::max_cache_lifetime)
///   after it was issued. At most [`max_entries`](TokenExchangeBuilder::max_entries)
///   tokens. Concurrent callers with the same key share one request (and
///   its failure, or the cached token below). When the provider cannot be
///   reached, a cached token is still used, but never past the earliest of
///   its expiry, the subject token's `exp` and `max_cache_lifetime`; any
///   answer that is not a token (a refusal, a gateway's error page) is
///   returned and drops the entry.
/// - **Secrets**: tokens and the client secret never appear in `Debug`,
///   errors or logs; the cache holds token hashes as keys.
///
/// Cheap to clone (an `Arc` inside).
///
/// ```no_run
/// use actix_web::{HttpRequest, HttpResponse};
/// use auth_core::UserProfile;
/// use auth_oauth2::{Downstream, TokenExchange, TokenExchangeError};
///
/// // A handler of a resource server (authenticated with IssuerStrategy)
/// // calling a downstream service on behalf of its caller.
/// async fn invoices(
///     req: HttpRequest,
///     _user: UserProfile,
///     exchange: actix_web::web::Data<TokenExchange>,
/// ) -> Result<HttpResponse, TokenExchangeError> {
///     let http = auth_core::outbound::client().map_err(|e| TokenExchangeError::Unreachable(e.to_string()))?;
///     let billing = Downstream::resource("https://billing.example").scope("invoices:read");
///     let request = exchange
///         .authorize_for_caller(&req, &billing, http.get("https://billing.example/invoices"))
///         .await?;
///     let unreachable = |e: reqwest::Error| TokenExchangeError::Unreachable(e.to_string());
///     let invoices = request.send().await.map_err(unreachable)?.text().await.map_err(unreachable)?;
///     Ok(HttpResponse::Ok().content_type("application/json").body(invoices))
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let exchange = TokenExchange::builder("todo-api", std::env::var("TODO_API_SECRET")?)
///     .issuer("https://login.example")
///     .build()
///     .await?;
/// # let _ = exchange;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct TokenExchange {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for TokenExchange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenExchange")
            .field("client_id", &self.inner.client_id)
            .field("token_endpoint", &self.inner.endpoint.as_str())
            .field("cached_entries", &self.cached_entries())
            .finish_non_exhaustive()
    }
}

impl TokenExchange {
    /// A builder for client `client_id` with `client_secret`; then set the
    /// token endpoint or the issuer.
    ///
    /// ```
    /// let builder = auth_oauth2::TokenExchange::builder("todo-api", "s3cret")
    ///     .token_endpoint("https://login.example/oauth/token");
    /// # let _ = builder;
    /// ```
    pub fn builder(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> TokenExchangeBuilder {
        TokenExchangeBuilder {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_endpoint: None,
            issuer: None,
            allowed_hosts: Vec::new(),
            refresh_ahead: Duration::from_secs(60),
            default_lifetime: Duration::from_secs(60),
            max_cache_lifetime: Duration::from_secs(300),
            max_entries: 1024,
            auth_in_body: false,
        }
    }

    /// The token endpoint in use.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// let exchange = auth_oauth2::TokenExchange::builder("a", "s")
    ///     .token_endpoint("https://login.example/token")
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(exchange.token_endpoint(), "https://login.example/token");
    /// assert_eq!((exchange.fetch_count(), exchange.cached_entries()), (0, 0));
    /// # });
    /// ```
    pub fn token_endpoint(&self) -> &str {
        self.inner.endpoint.as_str()
    }

    /// How many token exchange requests were sent (for monitoring and
    /// tests); see [`token_endpoint`](Self::token_endpoint) for an example.
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    /// How many exchanged tokens the cache holds (expired ones included
    /// until they are swept); see [`token_endpoint`](Self::token_endpoint).
    pub fn cached_entries(&self) -> usize {
        self.cache().len()
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        self.inner.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Exchanges `request`'s subject token: the cached result while it may
    /// be served, else a request to the token endpoint (one for all
    /// concurrent callers with the same key).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_oauth2::{Downstream, ExchangeRequest, TokenExchange, TokenExchangeError, TokenType};
    /// let exchange = TokenExchange::builder("todo-api", "secret")
    ///     .token_endpoint("http://127.0.0.1:9/token")
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// // Refused before anything is sent:
    /// let empty = ExchangeRequest::new("", TokenType::AccessToken);
    /// assert!(matches!(
    ///     exchange.exchange(&empty).await,
    ///     Err(TokenExchangeError::InvalidParameter { parameter: "subject_token", .. })
    /// ));
    /// // Nothing listens on port 9: a typed error, no panic.
    /// let request = ExchangeRequest::new("caller-token", TokenType::AccessToken)
    ///     .target(Downstream::audience("billing"));
    /// assert!(matches!(
    ///     exchange.exchange(&request).await,
    ///     Err(TokenExchangeError::Unreachable(_))
    /// ));
    /// # });
    /// ```
    pub async fn exchange(
        &self,
        request: &ExchangeRequest,
    ) -> Result<ExchangedToken, TokenExchangeError> {
        validate(request)?;
        let key = key_of(request);
        if let Some(token) = self.cached(&key, Instant::now()) {
            return Ok(token);
        }
        let gate = self.gate(&key);
        let waited_from = Instant::now();
        let mut last_failure = gate.last_failure.lock().await;
        if let Some(token) = self.cached(&key, Instant::now()) {
            return Ok(token);
        }
        // An attempt for this key failed while this caller waited: its
        // failure is this caller's too (no second request behind it).
        if let Some((at, e)) = last_failure.as_ref()
            && *at >= waited_from
        {
            return self.after_failure(&key, e.clone());
        }
        let result = self.fetch(request).await;
        match result {
            Ok((token, subject_exp)) => {
                *last_failure = None;
                self.store(key, token.clone(), subject_exp);
                Ok(token)
            }
            Err(e) => {
                *last_failure = Some((Instant::now(), e.clone()));
                tracing::warn!("token exchange: {e}");
                self.after_failure(&key, e)
            }
        }
    }

    /// What a caller gets when the exchange for `key` failed with `e` (its
    /// own attempt or the one it waited for): while the endpoint cannot be
    /// reached, the cached token, but never past its hard bound (its
    /// expiry, the subject token's `exp`, `max_cache_lifetime`); after any
    /// answer of the endpoint that is not a token, the error, and the key's
    /// cached token is dropped.
    fn after_failure(
        &self,
        key: &Key,
        e: TokenExchangeError,
    ) -> Result<ExchangedToken, TokenExchangeError> {
        let now = Instant::now();
        let mut cache = self.cache();
        match cache.get(key) {
            Some(entry)
                if matches!(e, TokenExchangeError::Unreachable(_)) && now < entry.hard_until =>
            {
                Ok(entry.token.clone())
            }
            _ => {
                cache.remove(key);
                Err(e)
            }
        }
    }

    /// A token for `downstream` on behalf of the caller whose access token
    /// is `subject_token` (`subject_token_type` access_token).
    ///
    /// ```no_run
    /// # async fn run(exchange: auth_oauth2::TokenExchange, caller_token: &str) -> Result<(), auth_oauth2::TokenExchangeError> {
    /// use auth_oauth2::Downstream;
    /// let billing = Downstream::resource("https://billing.example").scope("invoices:read");
    /// let token = exchange.on_behalf_of(caller_token, &billing).await?;
    /// let header = format!("Bearer {}", token.secret());
    /// # let _ = header;
    /// # Ok(()) }
    /// ```
    pub async fn on_behalf_of(
        &self,
        subject_token: &str,
        downstream: &Downstream,
    ) -> Result<ExchangedToken, TokenExchangeError> {
        let request =
            ExchangeRequest::new(subject_token, TokenType::AccessToken).target(downstream.clone());
        self.exchange(&request).await
    }

    /// Adds `Authorization: Bearer <exchanged token>` (marked sensitive) to
    /// an outgoing reqwest request, the token obtained
    /// [on behalf of](Self::on_behalf_of) `subject_token`. An issued token
    /// that is not a Bearer token is [`TokenExchangeError::NotBearer`].
    ///
    /// ```no_run
    /// # async fn run(exchange: auth_oauth2::TokenExchange, caller_token: &str) -> Result<(), Box<dyn std::error::Error>> {
    /// use auth_oauth2::Downstream;
    /// let http = auth_core::outbound::client()?;
    /// let resp = exchange
    ///     .authorize_on_behalf_of(
    ///         caller_token,
    ///         &Downstream::audience("billing"),
    ///         http.get("https://billing.example/invoices"),
    ///     )
    ///     .await?
    ///     .send()
    ///     .await?;
    /// # let _ = resp;
    /// # Ok(()) }
    /// ```
    pub async fn authorize_on_behalf_of(
        &self,
        subject_token: &str,
        downstream: &Downstream,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, TokenExchangeError> {
        let token = self.on_behalf_of(subject_token, downstream).await?;
        if !token.is_bearer() {
            return Err(TokenExchangeError::NotBearer(token.token_type.clone()));
        }
        // `bearer_auth` marks the header value sensitive.
        Ok(request.bearer_auth(token.secret()))
    }

    /// [`authorize_on_behalf_of`](Self::authorize_on_behalf_of) with the
    /// bearer token of the incoming request `caller` (its `Authorization`
    /// header, read by auth-core's parser): the on-behalf-of call of a
    /// handler. No bearer token there is
    /// [`TokenExchangeError::NoIncomingToken`] (a 401).
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_oauth2::{Downstream, TokenExchange, TokenExchangeError};
    /// let exchange = TokenExchange::builder("todo-api", "secret")
    ///     .token_endpoint("https://login.example/token")
    ///     .build()
    ///     .await
    ///     .unwrap();
    /// let caller = actix_web::test::TestRequest::default().to_http_request();
    /// let http = reqwest::Client::new();
    /// let err = exchange
    ///     .authorize_for_caller(&caller, &Downstream::audience("billing"), http.get("https://billing.example/"))
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, TokenExchangeError::NoIncomingToken(_)));
    /// assert_eq!(err.to_auth_error().status().as_u16(), 401);
    /// # });
    /// ```
    pub async fn authorize_for_caller(
        &self,
        caller: &actix_web::HttpRequest,
        downstream: &Downstream,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, TokenExchangeError> {
        let subject = match auth_core::bearer_token(caller.headers()) {
            Ok(Some(token)) => token,
            Ok(None) => {
                return Err(TokenExchangeError::NoIncomingToken(
                    "no Authorization: Bearer header",
                ));
            }
            Err(_) => {
                return Err(TokenExchangeError::NoIncomingToken(
                    "the Authorization header is malformed",
                ));
            }
        };
        self.authorize_on_behalf_of(subject, downstream, request)
            .await
    }

    fn cached(&self, key: &Key, now: Instant) -> Option<ExchangedToken> {
        let mut cache = self.cache();
        match cache.get(key) {
            Some(entry) if now < entry.serve_until => Some(entry.token.clone()),
            Some(entry) if now >= entry.hard_until => {
                cache.remove(key);
                None
            }
            _ => None,
        }
    }

    fn gate(&self, key: &Key) -> Arc<Gate> {
        let mut gates = self.inner.gates.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(gate) = gates.get(key).and_then(Weak::upgrade) {
            return gate;
        }
        // Gates nobody holds any more are dropped here, so the map stays as
        // small as the number of keys in flight.
        gates.retain(|_, g| g.strong_count() > 0);
        let gate = Arc::new(Gate::default());
        gates.insert(key.clone(), Arc::downgrade(&gate));
        gate
    }

    fn store(&self, key: Key, token: ExchangedToken, subject_exp: Option<Instant>) {
        let inner = &self.inner;
        let now = Instant::now();
        let lifetime = token.expires_at.saturating_duration_since(now);
        let mut hard_until = token.expires_at.min(now + inner.max_cache_lifetime);
        if let Some(exp) = subject_exp {
            hard_until = hard_until.min(exp);
        }
        let serve_until =
            (token.expires_at - inner.refresh_ahead.min(lifetime / 2)).min(hard_until);
        if serve_until <= now {
            return;
        }
        let mut cache = self.cache();
        if !cache.contains_key(&key) && cache.len() >= inner.max_entries {
            cache.retain(|_, e| now < e.hard_until);
            while cache.len() >= inner.max_entries {
                let Some(soonest) = cache
                    .iter()
                    .min_by_key(|(_, e)| e.serve_until)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                cache.remove(&soonest);
            }
        }
        cache.insert(
            key,
            Entry {
                token,
                serve_until,
                hard_until,
            },
        );
    }

    async fn fetch(
        &self,
        request: &ExchangeRequest,
    ) -> Result<(ExchangedToken, Option<Instant>), TokenExchangeError> {
        let inner = &self.inner;
        inner.fetches.fetch_add(1, Ordering::Relaxed);
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.append_pair("grant_type", TOKEN_EXCHANGE_GRANT)
            .append_pair("subject_token", &request.subject_token)
            .append_pair("subject_token_type", request.subject_token_type.as_uri());
        if let Some((token, token_type)) = &request.actor {
            form.append_pair("actor_token", token)
                .append_pair("actor_token_type", token_type.as_uri());
        }
        let target = &request.target;
        for resource in &target.resources {
            form.append_pair("resource", resource);
        }
        for audience in &target.audiences {
            form.append_pair("audience", audience);
        }
        if !target.scopes.is_empty() {
            form.append_pair("scope", &target.scopes.join(" "));
        }
        if let Some(requested) = &target.requested_token_type {
            form.append_pair("requested_token_type", requested.as_uri());
        }
        if inner.basic.is_none() {
            form.append_pair("client_id", &inner.client_id)
                .append_pair("client_secret", &inner.client_secret);
        }
        let mut builder = inner
            .http
            .post(inner.endpoint.clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json")
            .body(form.finish());
        if let Some(basic) = &inner.basic {
            builder = builder.header(AUTHORIZATION, basic.clone());
        }
        let started = Instant::now();
        let resp = builder
            .send()
            .await
            .map_err(|e| TokenExchangeError::Unreachable(chain(&e.without_url())))?;
        let status = resp.status();
        let body = read_limited(resp).await.map_err(|e| match e {
            HttpError::TooLarge => {
                TokenExchangeError::InvalidResponse("the answer is too large".into())
            }
            other => TokenExchangeError::Unreachable(other.to_string()),
        })?;
        let secrets: [&str; 3] = [
            &request.subject_token,
            request.actor.as_ref().map_or("", |(t, _)| t.as_str()),
            &inner.client_secret,
        ];
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        if !status.is_success() {
            return Err(error_from(status, json.as_ref(), &secrets));
        }
        let Some(Value::Object(doc)) = json else {
            return Err(TokenExchangeError::InvalidResponse(
                "not a JSON object".into(),
            ));
        };
        let string = |name: &'static str| -> Result<Option<String>, TokenExchangeError> {
            match doc.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(TokenExchangeError::InvalidResponse(format!(
                    "`{name}` is not a string"
                ))),
            }
        };
        let required = |name: &'static str| -> Result<String, TokenExchangeError> {
            string(name)?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| TokenExchangeError::InvalidResponse(format!("`{name}` is missing")))
        };
        let access_token = required("access_token")?;
        let issued_token_type = TokenType::from_uri(&required("issued_token_type")?);
        let token_type = required("token_type")?;
        let expires_in = match doc.get("expires_in") {
            None | Some(Value::Null) => inner.default_lifetime,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(secs) if secs > 0 => Duration::from_secs(secs).min(MAX_LIFETIME),
                _ => {
                    return Err(TokenExchangeError::InvalidResponse(
                        "`expires_in` is not a positive integer".into(),
                    ));
                }
            },
            Some(_) => {
                return Err(TokenExchangeError::InvalidResponse(
                    "`expires_in` is not a number".into(),
                ));
            }
        };
        let scope = string("scope")?;
        let refresh_token = string("refresh_token")?.map(Arc::from);
        let token = ExchangedToken {
            secret: Arc::from(access_token),
            issued_token_type,
            token_type,
            // Counted from when the request was sent: the endpoint's clock
            // started no earlier.
            expires_at: started + expires_in,
            scope,
            refresh_token,
        };
        Ok((token, jwt_exp(&request.subject_token)))
    }
}

/// Refuses what must not be sent: empty, oversized or non-visible-ASCII
/// tokens, scopes that are not RFC 6749 scope tokens, `resource` values
/// that are not absolute URIs without fragment (RFC 8707 §2).
fn validate(request: &ExchangeRequest) -> Result<(), TokenExchangeError> {
    let token = |parameter: &'static str, value: &str| {
        let reason = if value.is_empty() {
            "it is empty"
        } else if value.len() > MAX_EXCHANGED_TOKEN_LEN {
            "it is longer than 16 KiB"
        } else if !value.bytes().all(|b| b.is_ascii_graphic()) {
            "it has characters other than visible ASCII"
        } else {
            return Ok(());
        };
        Err(TokenExchangeError::InvalidParameter { parameter, reason })
    };
    token("subject_token", &request.subject_token)?;
    if let Some((actor, _)) = &request.actor {
        token("actor_token", actor)?;
    }
    let target = &request.target;
    for scope in &target.scopes {
        if scope.is_empty()
            || !scope
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            return Err(TokenExchangeError::InvalidParameter {
                parameter: "scope",
                reason: "a scope is non-empty visible ASCII without `\"` or `\\` (one scope per call)",
            });
        }
    }
    for resource in &target.resources {
        match Url::parse(resource) {
            Ok(url) if url.fragment().is_none() && !url.cannot_be_a_base() => {}
            _ => {
                return Err(TokenExchangeError::InvalidParameter {
                    parameter: "resource",
                    reason: "a resource is an absolute URI without a fragment",
                });
            }
        }
    }
    if target.audiences.iter().any(|a| a.is_empty()) {
        return Err(TokenExchangeError::InvalidParameter {
            parameter: "audience",
            reason: "an audience is not empty",
        });
    }
    Ok(())
}

fn key_of(request: &ExchangeRequest) -> Key {
    let hash = |t: &str| -> [u8; 32] { Sha256::digest(t.as_bytes()).into() };
    let mut scopes = request.target.scopes.clone();
    scopes.sort();
    scopes.dedup();
    Key {
        subject: hash(&request.subject_token),
        subject_type: request.subject_token_type.clone(),
        actor: request.actor.as_ref().map(|(t, tt)| (hash(t), tt.clone())),
        resources: request.target.resources.clone(),
        audiences: request.target.audiences.clone(),
        scopes,
        requested: request.target.requested_token_type.clone(),
    }
}

/// The `exp` of a JWT subject token, read without verifying it: only ever
/// used to serve a cached token for less long. `None` for anything else.
fn jwt_exp(token: &str) -> Option<Instant> {
    let mut parts = token.split('.');
    let (_, payload, _, None) = (parts.next()?, parts.next()?, parts.next()?, parts.next()) else {
        return None;
    };
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    // RFC 7519 §2: a NumericDate may have a fraction; the token is not
    // valid from its whole second on.
    let exp = serde_json::from_slice::<Value>(&bytes)
        .ok()?
        .get("exp")?
        .as_f64()
        .filter(|e| e.is_finite() && *e >= 0.0)?
        .floor();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    // Beyond a year away it bounds nothing the other bounds do not.
    let left = Duration::from_secs_f64((exp - now).clamp(0.0, MAX_LIFETIME.as_secs_f64()));
    Some(Instant::now() + left)
}

/// The typed error of a non-2xx answer.
fn error_from(
    status: reqwest::StatusCode,
    json: Option<&Value>,
    secrets: &[&str],
) -> TokenExchangeError {
    let error = json
        .and_then(|j| j.get("error"))
        .and_then(Value::as_str)
        .filter(|e| !e.is_empty() && e.bytes().all(|b| b.is_ascii_graphic()) && e.len() <= 64);
    let Some(error) = error else {
        return if status.is_server_error() {
            TokenExchangeError::Unreachable(format!("the token endpoint answered {status}"))
        } else {
            TokenExchangeError::InvalidResponse(format!("{status} without an OAuth 2.0 error"))
        };
    };
    let description = json
        .and_then(|j| j.get("error_description"))
        .and_then(Value::as_str)
        .and_then(|d| clean_description(d, secrets));
    match error {
        "invalid_request" => TokenExchangeError::InvalidRequest { description },
        "invalid_target" => TokenExchangeError::InvalidTarget { description },
        "invalid_scope" => TokenExchangeError::InvalidScope { description },
        "invalid_client" => TokenExchangeError::InvalidClient { description },
        "unauthorized_client" => TokenExchangeError::UnauthorizedClient { description },
        other => TokenExchangeError::Server {
            error: other.to_owned(),
            description,
        },
    }
}

/// The provider's `error_description`, kept to printable ASCII without
/// quotes and angle brackets, at most 200 characters; dropped if it
/// contains a token or the secret that was sent.
pub(crate) fn clean_description(description: &str, secrets: &[&str]) -> Option<String> {
    if secrets
        .iter()
        .any(|s| s.len() >= 4 && description.contains(s))
    {
        return None;
    }
    let cleaned: String = description
        .chars()
        .filter(|c| (c.is_ascii_graphic() || *c == ' ') && !"\"\\<>&'`".contains(*c))
        .take(200)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_never_carry_a_token_or_markup() {
        let secrets = ["subject-token-value", "", "client-secret"];
        for (input, want) in [
            ("unknown resource", Some("unknown resource")),
            ("bad subject-token-value here", None),
            ("client-secret is wrong", None),
            ("<script>x</script>", Some("scriptx/script")),
            ("   ", None),
            ("caf\u{e9} \"quoted\"", Some("caf quoted")),
        ] {
            assert_eq!(
                clean_description(input, &secrets).as_deref(),
                want,
                "{input:?}"
            );
        }
        let long = "a".repeat(500);
        assert_eq!(clean_description(&long, &secrets).unwrap().len(), 200);
    }

    #[test]
    fn bad_parameters_are_refused_before_sending() {
        let ok = || ExchangeRequest::new("abc.def", TokenType::AccessToken);
        let refused = |r: ExchangeRequest| match validate(&r) {
            Err(TokenExchangeError::InvalidParameter { parameter, .. }) => parameter,
            other => panic!("{r:?}: {other:?}"),
        };
        assert!(validate(&ok()).is_ok());
        for subject in [
            "",
            "has space",
            "tab\there",
            "é",
            &"x".repeat(16 * 1024 + 1),
        ] {
            assert_eq!(
                refused(ExchangeRequest::new(subject, TokenType::AccessToken)),
                "subject_token"
            );
        }
        for actor in ["", "new\nline"] {
            assert_eq!(
                refused(ok().actor_token(actor, TokenType::Jwt)),
                "actor_token"
            );
        }
        for scope in ["", "a b", "quo\"te", "back\\slash"] {
            assert_eq!(
                refused(ok().target(Downstream::audience("x").scope(scope))),
                "scope"
            );
        }
        for resource in ["relative/path", "https://api.test/#frag", "mailto:a@b", ""] {
            assert_eq!(
                refused(ok().target(Downstream::resource(resource))),
                "resource"
            );
        }
        assert_eq!(refused(ok().target(Downstream::audience(""))), "audience");
    }

    #[test]
    fn cache_keys_hash_tokens_and_normalise_scope_order() {
        let a = ExchangeRequest::new("t1", TokenType::AccessToken)
            .target(Downstream::audience("x").scope("b").scope("a"));
        let b = ExchangeRequest::new("t1", TokenType::AccessToken)
            .target(Downstream::audience("x").scope("a").scope("b").scope("a"));
        assert!(key_of(&a) == key_of(&b));
        let other_subject = ExchangeRequest::new("t2", TokenType::AccessToken)
            .target(Downstream::audience("x").scope("a").scope("b"));
        assert!(key_of(&a) != key_of(&other_subject));
        let other_audience = ExchangeRequest::new("t1", TokenType::AccessToken)
            .target(Downstream::audience("y").scope("a").scope("b"));
        assert!(key_of(&a) != key_of(&other_audience));
        let with_actor = a.clone().actor_token("actor", TokenType::Jwt);
        assert!(key_of(&a) != key_of(&with_actor));
        assert_eq!(key_of(&a).subject, <[u8; 32]>::from(Sha256::digest(b"t1")));
    }

    #[test]
    fn jwt_exp_is_read_only_from_a_three_part_token() {
        let payload = |json: &str| URL_SAFE_NO_PAD.encode(json);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let soon = format!("h.{}.s", payload(&format!(r#"{{"exp":{}}}"#, now + 100)));
        let at = jwt_exp(&soon).unwrap();
        assert!(at > Instant::now() + Duration::from_secs(90));
        assert!(at <= Instant::now() + Duration::from_secs(101));
        for bad in [
            "opaque".to_owned(),
            "a.b".to_owned(),
            "a.b.c.d".to_owned(),
            format!("h.{}.s", payload(r#"{"exp":"soon"}"#)),
            "h.!!!.s".to_owned(),
        ] {
            assert!(jwt_exp(&bad).is_none(), "{bad}");
        }
    }
}
