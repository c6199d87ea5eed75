//! LoopBack-style authentication for actix-web.
//!
//! `auth-core` holds what every strategy and application shares: the
//! [`AuthenticationStrategy`] trait, the [`StrategyRegistry`] held in
//! `app_data`, the authentication sequence, the [`UserProfile`] extractor, the
//! [`AuthenticationMiddleware`] for whole scopes, the error taxonomy
//! ([`AuthError`]) with its `WWW-Authenticate` [`Challenge`]s, and the
//! pluggable error body ([`ErrorRenderer`]). The `#[authenticate]` attribute
//! lives in `auth-macros`; strategies live in their own crates (`auth-jwt`,
//! `auth-basic`), and nothing here knows them by name.
//!
//! # Getting started
//!
//! ```
//! use actix_web::{get, test, App, HttpResponse};
//! use auth_core::{from_fn, AuthError, AuthOutcome, Challenge, StrategyRegistry, UserProfile};
//! use auth_macros::authenticate;
//!
//! #[get("/me")]
//! #[authenticate("api-key")]
//! async fn me(user: UserProfile) -> HttpResponse {
//!     HttpResponse::Ok().body(user.id.clone())
//! }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let api_key = from_fn("api-key", |req, _options| {
//!     let key = req.headers().get("x-api-key").map(|v| v.as_bytes().to_vec());
//!     async move {
//!         match key.as_deref() {
//!             None => Ok(AuthOutcome::NotApplicable),
//!             Some(b"let-me-in") => Ok(AuthOutcome::Authenticated(UserProfile::new("robot"))),
//!             Some(_) => Err(AuthError::invalid_credentials("INVALID_API_KEY", "unknown API key")),
//!         }
//!     }
//! })
//! .with_challenge(Challenge::new("ApiKey").param("realm", "api"));
//!
//! let registry = StrategyRegistry::builder().register(api_key).build().unwrap();
//! registry.verify_handlers_in(module_path!()).unwrap();
//!
//! let app = test::init_service(App::new().app_data(registry).service(me)).await;
//! let resp = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
//! assert_eq!(resp.status(), 401);
//! assert_eq!(resp.headers().get("www-authenticate").unwrap(), r#"ApiKey realm="api""#);
//!
//! let req = test::TestRequest::get().uri("/me").insert_header(("x-api-key", "let-me-in"));
//! let body = test::call_and_read_body(&app, req.to_request()).await;
//! assert_eq!(body, "robot");
//! # });
//! ```
//!
//! # The sequence
//!
//! For a handler annotated with strategies `[s1, s2, ...]`, strategies run in
//! the declared order. Each returns a profile (success: stop), "not
//! applicable" (no credentials of its kind: continue) or an error (remembered;
//! the sequence continues unless `fail_on_error`). When none succeeded, the
//! first error is reported; when none failed, the answer is 401 with code
//! `USER_PROFILE_NOT_FOUND` and one challenge per strategy tried.
//! Authentication completes before any other extractor of the handler runs,
//! so an unauthenticated request is answered 401 before its body is read.
//!
//! # Status codes
//!
//! | situation | status | `WWW-Authenticate` |
//! |---|---|---|
//! | no credentials for any strategy | 401 | one challenge per strategy tried |
//! | a `UserProfile`/`Authenticated<T>` extractor found no profile (no `#[authenticate]`, no middleware, or a public route) | 401 | the challenges of every registered strategy, in registration order |
//! | malformed credentials | 400 | the strategy's, e.g. `Bearer ..., error="invalid_request"` |
//! | bad, expired or wrongly signed credentials | 401 | all tried; the failing one with `error="invalid_token"` |
//! | roles, scopes or principal kind insufficient | 403 | the authenticating strategy's, e.g. `error="insufficient_scope"` |
//! | too many failures | 429 | none; `Retry-After` |
//! | backend down | 503 | none |
//! | unknown strategy at request time, no registry, or a bug | 500 | none; the body names no internals |
//!
//! Error responses carry `Cache-Control: no-store`. Several challenges are
//! sent as several `WWW-Authenticate` fields.
//!
//! Every 401 carries at least one challenge (RFC 7235 §3.1): when the
//! strategies that ran offer none, those of every registered strategy are
//! sent, and `Bearer` when no strategy has one.
//!
//! A `No-Auth-Challenge` header or `noauthchallenge` query parameter
//! suppresses the challenges of a **401** only, so that browsers show no
//! pop-up; a 400 or 403 keeps its challenge, whose RFC 6750 `error=` and
//! `scope=` say what to fix. Its value counts ([`challenge_suppressed`]):
//! empty, `true`, `1`, `yes`, `on` (and any other value) suppress;
//! `false`, `0`, `no`, `off` (any case) do not.
//!
//! # Reading credentials
//!
//! Strategies read the `Authorization` header through one RFC 9110 parser
//! ([`Authorization`], [`credentials_for`]): the scheme compares
//! case-insensitively; what follows is nothing, a token68, or a list of
//! auth-parameters ([`AuthParams`]: `name = token / quoted-string`, quoting
//! undone, names case-insensitive and never repeated, empty list elements
//! ignored). Another scheme is "not mine" whatever follows it; a malformed
//! value of the strategy's own scheme is a 400 ([`CredentialsError`]). A
//! request with **more than one `Authorization` header is a 400** for every
//! strategy that reads it, whatever the schemes: which one the client meant
//! cannot be known.
//!
//! Tokens that may come from elsewhere are found with [`find_token`] over a
//! list of [`TokenSource`]s: `Authorization: Bearer`, a cookie, the
//! `access_token` query parameter (opt-in), or a WebSocket handshake's
//! `Sec-WebSocket-Protocol` ([`select_websocket_protocol`] for the answer,
//! [`token_from_ws_message`] for tokens sent in messages). A token in two
//! configured places is a 400.
//!
//! ```
//! use actix_web::test::TestRequest;
//! use auth_core::{credentials_for, find_token, TokenSource};
//!
//! let req = TestRequest::default()
//!     .insert_header(("authorization", r#"Digest username="Mufasa", qop=auth"#))
//!     .to_http_request();
//! let creds = credentials_for(&req, "digest").unwrap().unwrap();
//! assert_eq!(creds.params().unwrap().get("username"), Some("Mufasa"));
//! assert!(find_token(&req, &[TokenSource::Bearer]).unwrap().is_none());
//!
//! let twice = TestRequest::default()
//!     .append_header(("authorization", "Bearer abc"))
//!     .append_header(("authorization", "Basic QWxhZGRpbg=="))
//!     .to_http_request();
//! assert_eq!(credentials_for(&twice, "basic").unwrap_err().to_string(),
//!            "the request has more than one Authorization header");
//! ```
//!
//! # Credentials in the query string
//!
//! A response to a request authenticated by a credential from the URL query
//! string (RFC 6750 §2.3's `access_token`) carries `Cache-Control: private`,
//! set by `#[authenticate]` and by [`AuthenticationMiddleware`] when the
//! strategy marked the request with [`QueryCredential`]; a handler's
//! `no-store` is kept, its `public` replaced.
//!
//! # Configuration found at start-up, not at the first request
//!
//! The registry is found in `app_data` as registered,
//! `App::app_data(registry)`, or in the usual actix-web wrapper,
//! `App::app_data(web::Data::new(registry))`. [`check_app`] checks an `App`
//! before it serves: a missing registry or a handler naming an unregistered
//! strategy is a [`ConfigError`] naming what is missing. At request time, a
//! missing registry is a 500 whose body names nothing internal, and the
//! hint is logged and printed on stderr once per process (even with no
//! `tracing` subscriber). A handler that extracts `UserProfile` while neither
//! `#[authenticate]` nor the middleware ran logs a warning naming the route,
//! once per route pattern: the attribute is missing.
//!
//! ```
//! use actix_web::{get, App, HttpResponse};
//! use auth_core::{check_app, ConfigError, StrategyRegistry, UserProfile};
//! use auth_macros::authenticate;
//!
//! #[get("/me")]
//! #[authenticate("jwt")]
//! async fn me(user: UserProfile) -> HttpResponse { HttpResponse::Ok().body(user.id.clone()) }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let registry = StrategyRegistry::builder().build().unwrap();
//! let make_app = move || App::new().app_data(registry.clone()).service(me);
//! let err = check_app(make_app()).await.unwrap_err();
//! assert!(err.to_string().contains("uses strategy 'jwt', which is not registered"));
//! assert_eq!(check_app(App::new().service(me)).await, Err(ConfigError::MissingRegistry));
//! # });
//! ```
//!
//! # Secure by default: the default-deny policy
//!
//! [`DefaultPolicy`] wraps the `App` so that it serves only the routes whose
//! handler declares `#[authenticate(..)]` (its policy decides) or
//! `#[authenticate(skip)]` (the one way to be public); every other request is
//! answered 404 and its handler does not run. [`policy_report`] lists every
//! route with its policy at start-up and warns about the undeclared. See
//! [`DefaultPolicy`] for the decision (404, not 401), how requests are
//! decided before routing and in the route really chosen, and the opt-out,
//! [`DefaultPolicy::dangerously_disable_default_policy`].
//!
//! ```
//! use actix_web::{get, test, web, App, HttpResponse};
//! use auth_core::{DefaultPolicy, StrategyRegistry};
//! use auth_macros::authenticate;
//!
//! #[authenticate(skip)]
//! #[get("/health")]
//! async fn health() -> &'static str { "ok" }
//!
//! # actix_web::rt::System::new().block_on(async {
//! let make_app = || {
//!     App::new()
//!         .app_data(StrategyRegistry::builder().build().unwrap())
//!         .wrap(DefaultPolicy::in_module(module_path!()))
//!         .service(health)
//!         .route("/forgotten", web::get().to(HttpResponse::Ok))
//! };
//! let report = auth_core::policy_report_in(make_app(), module_path!()).await.unwrap();
//! assert!(report.warnings()[0].starts_with("/forgotten has no #[authenticate] declaration"));
//! let app = test::init_service(make_app()).await;
//! let resp = test::call_service(&app, test::TestRequest::get().uri("/forgotten").to_request()).await;
//! assert_eq!(resp.status(), 404);
//! # });
//! ```
//!
//! # Public routes under the middleware
//!
//! [`AuthenticationMiddleware::public`] entries are judged on what the router
//! reads, never on the raw request path: `/pages/%69nternal` is the protected
//! `/pages/internal`, not the public `/pages/{name}`. See the middleware's
//! docs for the rules and for routes chosen by guards.
//!
//! # State: one store seam, one clock
//!
//! What authentication keeps between requests (refresh-token families,
//! brute-force counters, Digest nonce counts) goes through [`StateStore`]:
//! a few atomic operations on keys with an expiry, one round trip each on
//! Redis or SQL (the trait docs map each one). [`MemoryStore`] is the
//! bounded in-memory default; every time-dependent part reads a [`Clock`]
//! ([`ManualClock`] in tests). [`BruteForceGuard`] counts failed
//! authentications per client address and per username on it, for any
//! strategy and any login handler, and answers 429 with `Retry-After`.
//! While its store fails it follows [`GuardConfig::on_store_error`]: fail
//! closed with 503 (the default), or fall back to per-instance limits
//! ([`GuardFailurePolicy::LocalFallback`]), logged once per outage.
//!
//! # Decisions where LoopBack and the RFCs are silent
//!
//! - `roles` means "any of these roles"; `scopes` means "all of these scopes"
//!   (OAuth 2 semantics).
//! - A handler asking for `Option<UserProfile>` makes authentication optional:
//!   no credentials gives `None`, but wrong credentials are still rejected, and
//!   a handler with required roles or scopes is never optional.
//! - A profile already placed by [`AuthenticationMiddleware`] is reused by a
//!   handler's `#[authenticate]` only when one of the handler's strategies
//!   produced it.
//!
//! # Cargo features
//!
//! | feature | default? | what it adds |
//! |---|---|---|
//! | `testing` | no | `testing::IdentityStrategy`, `testing::init_service` and `testing::FlakyStore` (a store that can be taken down) |
//! | `config` | no | `AuthConfig`, `StrategyFactory` and `StrategyRegistry::from_config`: strategies described in a TOML or YAML file with environment overrides (`docs/configuration.md`); `GuardConfig::from_config` reads the application's one `[guard]` table; a top-level key nobody reads is an error |
//! | `openapi` | no | `openapi::security_document`: OpenAPI security schemes and per-operation `security` from the declarations (utoipa's model types); `AuthenticationStrategy::security_scheme` |
//! | `outbound` | no | `outbound::client()` and `outbound::checked_url()`: the one HTTP client strategies use to reach other servers (https only, no redirects, timeouts) |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod challenge;
mod check;
mod clock;
#[cfg(feature = "config")]
mod config;
mod credentials;
mod default_policy;
mod error;
mod extract;
mod guard;
mod input;
mod middleware;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
#[cfg(feature = "outbound")]
#[cfg_attr(docsrs, doc(cfg(feature = "outbound")))]
pub mod outbound;
mod policy;
mod probe;
mod profile;
mod registry;
mod render;
mod revocation;
mod route_table;
mod sequence;
mod sources;
mod store;
mod strategy;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;

pub use async_trait::async_trait;
pub use cache::QueryCredential;
pub use challenge::Challenge;
pub use check::{check_app, check_app_in};
pub use clock::{Clock, ManualClock, SystemClock};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::{AuthConfig, AuthConfigError, OneOrMany, StrategyFactory, StrategySection};
pub use credentials::{
    AuthParams, Authorization, Credentials, CredentialsData, CredentialsError, credentials_for,
};
pub use default_policy::{
    DefaultPolicy, DefaultPolicyService, PolicyReport, ReportedRoute, RouteDecl, policy_report,
    policy_report_in,
};
pub use error::{AuthError, ConfigError};
pub use extract::{Authenticated, FromProfile};
pub use guard::{
    Attempt, BruteForceGuard, GuardConfig, GuardFailurePolicy, TrustedProxy, TrustedProxyError,
};
pub use input::{
    form_error_handler, input_errors, json_error_handler, path_error_handler, query_error_handler,
};
pub use middleware::{AuthenticationMiddleware, AuthenticationService};
pub use policy::{AuthPolicy, StrategySpec};
pub use profile::{PrincipalKind, ProfileData, UserProfile};
pub use registry::{StrategyRegistry, StrategyRegistryBuilder};
pub use render::{
    ErrorRenderer, LoopBackRenderer, ProblemJsonRenderer, challenge_suppressed, error_response,
};
pub use revocation::{RevocationOptions, Revocations};
pub use sequence::{Rejection, SequenceOutcome, authenticate, authorize, run_sequence};
pub use sources::{
    FoundToken, TokenSource, bearer_candidate, bearer_token, find_token, select_websocket_protocol,
    token_from_ws_message,
};
pub use store::{
    BoxError, Count, DEFAULT_MEMORY_CAPACITY, Entry, MemoryStore, StateStore, StoreError,
    Subscription,
};
pub use strategy::{
    AuthOutcome, AuthenticationStrategy, FnStrategy, Redirect, StrategyOptions, from_fn,
};

/// The authentication metadata of one handler annotated with
/// `#[authenticate]`, collected at link time so that
/// [`StrategyRegistry::verify_handlers`] can check every handler at start-up.
#[derive(Debug)]
pub struct HandlerAuth {
    handler: &'static str,
    routes: &'static [RouteDecl],
    policy: fn() -> &'static AuthPolicy,
}

impl HandlerAuth {
    #[doc(hidden)]
    pub const fn new(handler: &'static str, policy: fn() -> &'static AuthPolicy) -> Self {
        HandlerAuth {
            handler,
            routes: &[],
            policy,
        }
    }

    #[doc(hidden)]
    pub const fn with_routes(mut self, routes: &'static [RouteDecl]) -> Self {
        self.routes = routes;
        self
    }

    /// The handler's path, `module::path::function`.
    pub fn handler(&self) -> &'static str {
        self.handler
    }

    /// The handler's function name, the last segment of
    /// [`handler`](Self::handler): the name actix-web's route attributes
    /// give its resource unless they set `name = ".."`.
    pub fn function(&self) -> &'static str {
        self.handler.rsplit("::").next().unwrap_or(self.handler)
    }

    /// The routes its route attributes declare (`#[get("/x")]`, ..), when
    /// `#[authenticate]` sits above them; empty when it sits below them (they
    /// are expanded first, out of its sight) or when the handler is
    /// registered with `web::resource(..).route(..)`. See
    /// [`DefaultPolicy`] for how either is recognised.
    ///
    /// ```
    /// use actix_web::get;
    /// use auth_macros::authenticate;
    ///
    /// #[authenticate("jwt")]
    /// #[get("/todos/{id}", name = "todo")]
    /// async fn above() -> &'static str { "" }
    ///
    /// #[get("/todos")]
    /// #[authenticate("jwt")]
    /// async fn below() -> &'static str { "" }
    ///
    /// let find = |f: &str| auth_core::annotated_handlers().find(|h| h.function() == f).unwrap();
    /// let route = &find("above").routes()[0];
    /// assert_eq!((route.methods(), route.path(), route.name()), (&["GET"][..], "/todos/{id}", Some("todo")));
    /// assert!(find("below").routes().is_empty());
    /// ```
    pub fn routes(&self) -> &'static [RouteDecl] {
        self.routes
    }

    /// The handler's policy.
    pub fn policy(&self) -> &'static AuthPolicy {
        (self.policy)()
    }
}

inventory::collect!(HandlerAuth);

/// Every handler annotated with `#[authenticate]` in this binary.
///
/// ```
/// use auth_macros::authenticate;
///
/// #[authenticate("jwt", "basic")]
/// async fn reindex() -> &'static str { "ok" }
///
/// let meta = auth_core::annotated_handlers()
///     .find(|h| h.handler().ends_with("::reindex"))
///     .unwrap();
/// let names: Vec<&str> = meta.policy().strategies().iter().map(|s| s.name()).collect();
/// assert_eq!(names, ["jwt", "basic"]);
/// ```
pub fn annotated_handlers() -> impl Iterator<Item = &'static HandlerAuth> {
    inventory::iter::<HandlerAuth>.into_iter()
}

/// The policy of the handler whose path is exactly `handler`
/// (`module::path::function`), if it is annotated.
pub fn handler_policy(handler: &str) -> Option<&'static AuthPolicy> {
    annotated_handlers()
        .find(|h| h.handler() == handler)
        .map(HandlerAuth::policy)
}

/// Support for the code `#[authenticate]` generates. Not a public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::probe::{ArgProbe, OptionalProfileArg, OtherArg};
    pub use actix_web::web::Payload;
    pub use actix_web::{HttpRequest, HttpResponse, Responder};
    pub use inventory;
    pub use serde_json;
    pub use std::sync::LazyLock;

    use actix_web::FromRequest;

    /// Runs the policy; `Err` is the complete response to send.
    pub async fn guard(req: &HttpRequest, policy: &crate::AuthPolicy) -> Result<(), HttpResponse> {
        crate::sequence::authenticate_in_place(req, policy)
            .await
            .map(|_| ())
    }

    /// Runs the policy of the `#[authenticate]` handler `handler` (its
    /// `module::path::function`), first recording that a declared handler
    /// answers this request ([`DefaultPolicy`](crate::DefaultPolicy) checks
    /// it after routing). `Err` is the complete response to send.
    pub async fn guard_declared(
        req: &HttpRequest,
        policy: &crate::AuthPolicy,
        _handler: &'static str,
    ) -> Result<(), HttpResponse> {
        crate::sequence::authenticate_declared(req, policy)
            .await
            .map(|_| ())
    }

    /// Runs one of the handler's own extractors after authentication.
    pub async fn extract<T: FromRequest>(
        req: &HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Result<T, HttpResponse> {
        T::from_request(req, payload)
            .await
            .map_err(|e| HttpResponse::from_error(e.into()))
    }

    /// What an `#[authenticate]` handler may return: any actix-web
    /// [`Responder`]. A trait of its own so that the compiler's message
    /// names the rule, at the handler's return type.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not an actix-web `Responder`, so an `#[authenticate]` handler cannot return it",
        label = "the return type of an `#[authenticate]` handler must implement `actix_web::Responder`"
    )]
    pub trait HandlerReturn {
        /// The response for `req`.
        fn into_handler_response(self, req: &HttpRequest) -> HttpResponse;
    }

    impl<R: Responder> HandlerReturn for R {
        fn into_handler_response(self, req: &HttpRequest) -> HttpResponse {
            respond(self, req)
        }
    }

    /// What an `#[authenticate]` handler's arguments must be: actix-web
    /// extractors ([`FromRequest`]), run after authentication.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not an actix-web extractor, so it cannot be an argument of an `#[authenticate]` handler",
        label = "arguments of an `#[authenticate]` handler must implement `actix_web::FromRequest`"
    )]
    pub trait HandlerArg: Sized {
        /// Extracts the argument after authentication; `Err` is the
        /// complete response to send.
        fn extract_arg(
            req: &HttpRequest,
            payload: &mut actix_web::dev::Payload,
        ) -> impl std::future::Future<Output = Result<Self, HttpResponse>>;
    }

    impl<T: FromRequest> HandlerArg for T {
        fn extract_arg(
            req: &HttpRequest,
            payload: &mut actix_web::dev::Payload,
        ) -> impl std::future::Future<Output = Result<Self, HttpResponse>> {
            extract::<T>(req, payload)
        }
    }

    /// Turns the handler's return value into a response, private to the
    /// client when the credential came from the query string.
    pub fn respond<R: Responder>(value: R, req: &HttpRequest) -> HttpResponse {
        let mut response = value.respond_to(req).map_into_boxed_body();
        crate::cache::apply(req, response.headers_mut());
        response
    }
}
