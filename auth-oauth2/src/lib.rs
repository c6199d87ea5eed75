//! OAuth 2.0 for the actix-web authentication framework, on the `oauth2`
//! crate and auth-jwt. Every outbound call (discovery, JWK Sets, token
//! requests) goes through auth-core's one outbound client: `https` only
//! (plain `http` to loopback only), no redirects, a 2 s connect and a 5 s
//! total timeout, bodies limited to 256 KiB.
//!
//! # Resource server: several issuers from their discovery documents
//!
//! [`IssuerStrategy`] accepts bearer access tokens from every
//! [`TrustedIssuer`] it was given, each configured by its issuer URL:
//!
//! - **Discovery.** `{issuer}/.well-known/openid-configuration`, or, when
//!   that is a 404, the RFC 8414 form
//!   `{origin}/.well-known/oauth-authorization-server{path}`
//!   ([`ProviderMetadata::discover`]). The document's `issuer` must equal
//!   the configured issuer exactly (no normalisation: a trailing slash is
//!   another issuer). Its `jwks_uri` must be `https` (or `http` to
//!   loopback) and on the issuer's host, unless that host is allowed
//!   explicitly ([`TrustedIssuer::allow_endpoint_host`]).
//! - **Start-up fails closed.** [`IssuerStrategyBuilder::build`] discovers
//!   every issuer and loads its keys once; a provider that is down, a
//!   refused document or an unusable key set is an [`IssuerConfigError`]
//!   naming the issuer, not a strategy that rejects everything later.
//! - **The token's `iss` picks the issuer, before any signature check.**
//!   It is read from the unverified payload of a token of at most
//!   [`MAX_TOKEN_LEN`] bytes (a JSON object with exactly one string `iss`)
//!   and looked up in the trust map. An issuer not in the map is a 401
//!   `invalid_token` without any network call; no URL is ever taken from
//!   the token (`jku`, `x5u` and the like are never followed).
//! - **Each issuer verifies with its own rules** (an auth-jwt
//!   `JwtStrategy`): its JWK Set (refreshed periodically and on an unknown
//!   `kid`, served stale while the provider is down; an unknown `kid` while
//!   the provider cannot be asked is a 503 with `Retry-After`), its
//!   `iss`, its audience (required: [`TrustedIssuer::audience`], or
//!   [`TrustedIssuer::any_audience`] explicitly), RFC 9068 `typ: at+jwt`
//!   (strict; [`TrustedIssuer::dangerously_accept_any_typ`] is the named
//!   opt-out), and its claim mapping (username, roles, scopes).
//!
//! ```no_run
//! use actix_web::{web, App, HttpResponse, HttpServer};
//! use auth_core::{StrategyRegistry, UserProfile};
//! use auth_macros::authenticate;
//! use auth_oauth2::{IssuerStrategy, TrustedIssuer};
//!
//! #[authenticate("oauth2")]
//! async fn todos(user: UserProfile) -> HttpResponse {
//!     HttpResponse::Ok().json(&user.scopes)
//! }
//!
//! #[actix_web::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let strategy = IssuerStrategy::builder()
//!         .trust(
//!             TrustedIssuer::new("https://login.example")
//!                 .audience("https://todo.example")
//!                 .subject_prefix("login:")
//!                 .scopes_claim("scope"),
//!         )
//!         .trust(
//!             TrustedIssuer::new("https://partner.example/tenant-7")
//!                 .audience("https://todo.example")
//!                 .subject_prefix("tenant-7:")
//!                 .username_claim("client_id")
//!                 .roles_claim("realm_access.roles"),
//!         )
//!         .build()
//!         .await?;
//!     let registry = StrategyRegistry::builder().register(strategy).build()?;
//!     HttpServer::new(move || {
//!         App::new().app_data(registry.clone()).route("/todos", web::get().to(todos))
//!     })
//!     .bind(("127.0.0.1", 8080))?
//!     .run()
//!     .await?;
//!     Ok(())
//! }
//! ```
//!
//! # Client credentials for outgoing calls
//!
//! [`ClientCredentials`] gets access tokens with the client credentials
//! grant (RFC 6749 §4.4) from a token endpoint given explicitly or
//! discovered from an issuer, caches each until shortly before it expires
//! (refresh ahead), lets concurrent callers share one request (single
//! flight, for errors too), keeps using a still-valid token while a refresh
//! fails, and returns typed [`ClientCredentialsError`]s. The client secret
//! and the tokens never appear in `Debug`, errors or logs.
//! [`ClientCredentials::authorize`] adds `Authorization: Bearer` to a
//! reqwest request.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use auth_oauth2::ClientCredentials;
//!
//! let tokens = ClientCredentials::builder("service-a", std::env::var("SERVICE_A_SECRET")?)
//!     .issuer("https://login.example")
//!     .scope("todos:read")
//!     .resource("https://todo.example")
//!     .build()
//!     .await?;
//! let http = auth_core::outbound::client()?;
//! let todos = tokens
//!     .authorize(http.get("https://todo.example/todos"))
//!     .await?
//!     .send()
//!     .await?;
//! # let _ = todos;
//! # Ok(()) }
//! ```
//!
//! # On behalf of the caller: token exchange (RFC 8693)
//!
//! [`TokenExchange`] swaps the access token a caller presented for a token
//! for a downstream service (the `urn:ietf:params:oauth:grant-type:token-exchange`
//! grant), so the downstream call carries the caller's identity (`sub`)
//! and, where the provider implements RFC 8693 §4.1, an `act` claim naming
//! this service. Built like [`ClientCredentials`]: client id and secret
//! (HTTP Basic or `client_secret_post`), a token endpoint given explicitly
//! or discovered from an issuer, whose `grant_types_supported` must list
//! the grant ([`TokenExchangeError::NotOffered`] otherwise).
//! [`Downstream`] names the target (`resource` and/or `audience`, `scope`,
//! `requested_token_type`); [`ExchangeRequest`] adds an actor token for
//! delegation. The provider's refusals are typed
//! ([`TokenExchangeError::InvalidRequest`], [`TokenExchangeError::InvalidTarget`],
//! ...) and map to 401/403/503 ([`TokenExchangeError::to_auth_error`]).
//!
//! Cache decisions: an exchanged token is kept per (SHA-256 of the subject
//! token, its type, the actor token's hash, target, scope set, requested
//! type), never by the token itself, and served until the earliest of its
//! expiry minus `refresh_ahead` (60 s, at most half its lifetime), the
//! subject token's own `exp` (a JWT's, read unverified and only to
//! shorten), and `max_cache_lifetime` (300 s: how long a revoked caller
//! token can keep working downstream through this cache). At most
//! `max_entries` (1024) tokens; concurrent callers with the same key share
//! one request. A provider that cannot be reached lets a cached token be
//! used within the same bounds (never past the subject's `exp` or
//! `max_cache_lifetime`); any other failure is returned and drops the entry.
//!
//! ```no_run
//! use actix_web::{web, HttpRequest, HttpResponse};
//! use auth_core::UserProfile;
//! use auth_macros::authenticate;
//! use auth_oauth2::{Downstream, TokenExchange, TokenExchangeError};
//!
//! #[authenticate("oauth2")]
//! async fn invoices(
//!     req: HttpRequest,
//!     _user: UserProfile,
//!     exchange: web::Data<TokenExchange>,
//! ) -> Result<HttpResponse, TokenExchangeError> {
//!     let http = auth_core::outbound::client()
//!         .map_err(|e| TokenExchangeError::Unreachable(e.to_string()))?;
//!     let billing = Downstream::audience("billing").scope("invoices:read");
//!     let resp = exchange
//!         .authorize_for_caller(&req, &billing, http.get("https://billing.example/invoices"))
//!         .await?
//!         .send()
//!         .await
//!         .map_err(|e| TokenExchangeError::Unreachable(e.to_string()))?;
//!     Ok(HttpResponse::Ok().body(resp.text().await.unwrap_or_default()))
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let exchange = TokenExchange::builder("todo-api", std::env::var("TODO_API_SECRET")?)
//!     .issuer("https://login.example")
//!     .build()
//!     .await?;
//! let app = actix_web::App::new()
//!     .app_data(web::Data::new(exchange))
//!     .route("/invoices", web::get().to(invoices));
//! # let _ = app;
//! # Ok(()) }
//! ```
//!
//! # Browser login: OpenID Connect relying party
//!
//! [`OidcLogin`] mounts a login route, the callback (the redirect URI's
//! path) and a logout route: the authorization code flow with PKCE `S256`
//! only; `state`, `nonce` and the PKCE verifier bound to the browser in a
//! signed ([`CookieKey`], no default), `HttpOnly`, `SameSite=Lax`,
//! path-scoped, short-lived, single-use cookie (`Secure` unless
//! [`OidcLoginBuilder::dangerously_allow_insecure_cookie`]); the ID token
//! verified with the provider's JWK Set through auth-jwt; the session
//! handed to the application's [`LoginHandler`]; refresh
//! ([`OidcLogin::refresh`]) and RP-initiated logout
//! ([`OidcLogin::logout_url`]); `return_to` checked against an allow-list
//! (no open redirects). A provider that cannot be used is a 503 with
//! `Retry-After`; the browser's bad input is a 4xx ([`LoginError`]).
//!
//! ```no_run
//! use actix_web::{App, HttpServer};
//! use auth_oauth2::{CookieKey, LoginSuccess, OidcLogin};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let login = OidcLogin::builder("https://login.example", "todo-web", "https://todo.example/auth/callback")
//!     .client_secret(std::env::var("TODO_WEB_SECRET")?)
//!     .cookie_key(CookieKey::from_base64(&std::env::var("LOGIN_COOKIE_KEY")?)?)
//!     .allow_return_to("/todos")
//!     .default_return_to("/todos")
//!     .on_login(|_req, login: LoginSuccess| async move { Ok(login.redirect()) })
//!     .build()?;
//! HttpServer::new(move || {
//!     let login = login.clone();
//!     App::new().configure(move |cfg| login.configure(cfg))
//! })
//! .bind(("127.0.0.1", 8080))?
//! .run()
//! .await?;
//! # Ok(()) }
//! ```
//!
//! # Not here (yet)
//!
//! - Back-channel and front-channel logout.
//! - An `awc` helper: awc is not in the dependency tree; reqwest (auth-core's
//!   outbound client) is the one HTTP client. With awc, add
//!   `format!("Bearer {}", token.secret())` from [`ClientCredentials::token`]
//!   or [`TokenExchange::on_behalf_of`].
//! - Configuration files for the login, client credentials and token
//!   exchange (builders only); the resource server has one (below).
//!
//! # Configuration files (feature `config`)
//!
//! [`IssuerFactory`] builds `type = "oauth2-issuers"` strategies for
//! auth-core's `StrategyRegistry::from_config`, one
//! `[[strategies.NAME.issuers]]` table per [`TrustedIssuer`], with the
//! builder's defaults (audience required, `any_audience = true` the
//! explicit opt-out; `typ: at+jwt` required, `dangerously_accept_any_typ =
//! true` the opt-out); [`IssuerConfig`] reads a table for code to add to.
//! Every key is in `docs/configuration.md`.
//!
//! | feature | default | what |
//! |---|---|---|
//! | `openapi` | no | `security_scheme` for OpenAPI documents |
//! | `config` | no | [`IssuerFactory`] and [`IssuerConfig`] (auth-core's `config`) |
#![cfg_attr(docsrs, feature(doc_cfg))]

/// The longest token lifetime believed or configured (a year): also keeps
/// every `Instant` sum far from overflow, whatever an endpoint answers.
const MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);

mod client_credentials;
#[cfg(feature = "config")]
mod config;
mod discovery;
mod http;
mod issuer;
mod login;
mod token_exchange;

pub use client_credentials::{
    AccessToken, ClientCredentials, ClientCredentialsBuilder, ClientCredentialsError,
};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::{IssuerConfig, IssuerFactory};
pub use discovery::{DiscoveryError, ProviderMetadata};
pub use issuer::{
    ACCESS_TOKEN_TYP, IssuerConfigError, IssuerStrategy, IssuerStrategyBuilder, MAX_TOKEN_LEN,
    TrustedIssuer,
};
pub use login::{
    ClaimsJson, CookieError, CookieKey, IdTokenClaims, LoginConfigError, LoginError, LoginHandler,
    LoginSuccess, MAX_RETURN_TO_LEN, MIN_COOKIE_KEY_LEN, OidcLogin, OidcLoginBuilder,
    ProviderTokens, Refreshed,
};
pub use token_exchange::{
    Downstream, ExchangeRequest, ExchangedToken, MAX_EXCHANGED_TOKEN_LEN, TOKEN_EXCHANGE_GRANT,
    TokenExchange, TokenExchangeBuilder, TokenExchangeError, TokenType,
};
