//! Opaque credentials for the actix-web authentication framework, kept on
//! auth-core's [`StateStore`](auth_core::StateStore) so that they work the
//! same on one instance or many (Redis, PostgreSQL, SQLite via auth-store).
//!
//! - [`ApiKeys`] and [`ApiKeyStrategy`]: API keys with a recognisable prefix
//!   and checksum, stored as hashes, scoped by roles and scopes, with expiry
//!   and last use.
//! - [`TokenManager`]: RESTHeart's auth tokens: `Auth-Token`,
//!   `Auth-Token-Valid-Until` and `Auth-Token-Location` on the responses of
//!   authenticated requests, metadata and revocation at the location.
//! - [`BrowserSessions`] and [`SessionStrategy`]: browser sessions in an
//!   `HttpOnly`, `Secure`, `SameSite=Lax` `__Host-` cookie, with CSRF
//!   protection (a session-bound token and `Origin`/`Sec-Fetch-Site`
//!   checks), rotation at login, idle and absolute timeouts and a logout
//!   that revokes; the decisions are listed on [`BrowserSessions`].
//! - `IntrospectionStrategy` (feature `introspection`): opaque Bearer tokens
//!   of an external OAuth 2.0 server, checked at its RFC 7662 endpoint;
//!   with the `config` feature too, `IntrospectionFactory` builds it from a
//!   `type = "introspection"` table of a configuration file (the client
//!   secret from the environment override or a file, never the file itself;
//!   every key in `docs/configuration.md`).
//!
//! ```
//! use std::sync::Arc;
//! use actix_web::{test, web, App, HttpResponse};
//! use auth_core::{MemoryStore, StrategyRegistry, UserProfile};
//! use auth_macros::authenticate;
//! use auth_token::{ApiKeyStrategy, ApiKeys, NewApiKey};
//!
//! #[authenticate("api-key")]
//! async fn me(user: UserProfile) -> HttpResponse {
//!     HttpResponse::Ok().body(user.id.clone())
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let keys = ApiKeys::new(Arc::new(MemoryStore::new()));
//! let (key, _) = keys.create(NewApiKey { owner: "ada".into(), ..Default::default() }).await.unwrap();
//! let registry = StrategyRegistry::builder()
//!     .register(ApiKeyStrategy::new("api-key", keys))
//!     .build()
//!     .unwrap();
//! let app = test::init_service(App::new().app_data(registry).route("/me", web::get().to(me))).await;
//! let req = test::TestRequest::get().uri("/me").insert_header(("X-API-Key", key));
//! assert_eq!(test::call_and_read_body(&app, req.to_request()).await, "ada");
//! # });
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod api_key;
mod cache;
mod endpoints;
#[cfg(feature = "introspection")]
mod introspection;
#[cfg(all(feature = "config", feature = "introspection"))]
mod introspection_config;
#[cfg(feature = "jwt")]
mod jwt_authority;
mod manager;
mod owner_set;
mod session;
mod token_strategies;

pub use api_key::{
    ApiKeyError, ApiKeyRecord, ApiKeySource, ApiKeyStrategy, ApiKeys, NewApiKey, looks_like_api_key,
};
pub use endpoints::{TokenAuthority, TokenEndpoints, unsupported_token_type};
#[cfg(feature = "introspection")]
#[cfg_attr(docsrs, doc(cfg(feature = "introspection")))]
pub use introspection::{IntrospectionBuilder, IntrospectionError, IntrospectionStrategy};
#[cfg(all(feature = "config", feature = "introspection"))]
#[cfg_attr(docsrs, doc(cfg(all(feature = "config", feature = "introspection"))))]
pub use introspection_config::{IntrospectionConfig, IntrospectionFactory};
#[cfg(feature = "jwt")]
#[cfg_attr(docsrs, doc(cfg(feature = "jwt")))]
pub use jwt_authority::JwtAuthority;
pub use manager::{
    IssueTokens, IssueTokensService, IssuedToken, TokenError, TokenManager, TokenRecord,
};
pub use session::{BrowserSessions, CSRF_HEADER, SessionStrategy, StartedSession};
pub use token_strategies::{OpaqueBearerStrategy, TokenBasicStrategy};
