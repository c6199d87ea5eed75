//! The [`AuthenticationStrategy`] trait and what a strategy returns.

use std::borrow::Cow;
use std::future::Future;
use std::sync::Arc;

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{AuthError, Challenge, UserProfile};

/// What a strategy decided about one request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AuthOutcome {
    /// The request is authenticated as this principal; the sequence stops.
    Authenticated(UserProfile),
    /// The request carries no credentials of this strategy's kind; the
    /// sequence moves on to the next strategy.
    NotApplicable,
    /// The client must go elsewhere first (LoopBack's `RedirectRoute`), e.g.
    /// to an OAuth2 authorization endpoint; the sequence stops and answers
    /// with the redirect.
    Redirect(Redirect),
}

/// A redirect answer produced by a strategy (see [`AuthOutcome::Redirect`]).
///
/// ```
/// use auth_core::Redirect;
/// use actix_web::http::StatusCode;
///
/// let r = Redirect::to("https://idp.example/authorize?state=xyz")
///     .with_header("Set-Cookie", "state=xyz; HttpOnly; Secure; SameSite=Lax");
/// assert_eq!(r.status(), StatusCode::SEE_OTHER);
/// assert_eq!(r.location(), "https://idp.example/authorize?state=xyz");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redirect {
    location: String,
    status: StatusCode,
    headers: Vec<(String, String)>,
}

impl Redirect {
    /// A `303 See Other` to `location`.
    pub fn to(location: impl Into<String>) -> Self {
        Redirect {
            location: location.into(),
            status: StatusCode::SEE_OTHER,
            headers: Vec::new(),
        }
    }

    /// Uses another 3xx status (e.g. 302 or 307).
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    /// Adds a header to the redirect response (e.g. a state cookie).
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// The target.
    pub fn location(&self) -> &str {
        &self.location
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The extra headers.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }
}

/// Per-handler options for one strategy (LoopBack's `{strategy, options}`),
/// written in the attribute as `#[authenticate("basic"(realm = "admin"))]`.
///
/// Options are a JSON object built once per handler; strategies read single
/// keys or deserialize the whole object into their own type.
///
/// ```
/// use auth_core::StrategyOptions;
///
/// let opts = StrategyOptions::from_json(serde_json::json!({"realm": "admin", "cache": true}));
/// assert_eq!(opts.get_str("realm"), Some("admin"));
/// assert_eq!(opts.get_bool("cache"), Some(true));
/// assert!(opts.get("missing").is_none());
///
/// #[derive(serde::Deserialize)]
/// struct BasicOpts { realm: String }
/// let typed: BasicOpts = opts.deserialize().unwrap();
/// assert_eq!(typed.realm, "admin");
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StrategyOptions(Map<String, Value>);

impl StrategyOptions {
    /// No options.
    pub fn empty() -> &'static StrategyOptions {
        static EMPTY: std::sync::OnceLock<StrategyOptions> = std::sync::OnceLock::new();
        EMPTY.get_or_init(StrategyOptions::default)
    }

    /// Options from a JSON value; anything other than an object gives no options.
    pub fn from_json(value: Value) -> Self {
        match value {
            Value::Object(map) => StrategyOptions(map),
            _ => StrategyOptions::default(),
        }
    }

    /// Whether no options are set.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// One option.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// One string option.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(Value::as_str)
    }

    /// One boolean option.
    pub fn get_bool(&self, key: &str) -> Option<bool> {
        self.0.get(key).and_then(Value::as_bool)
    }

    /// One integer option.
    pub fn get_i64(&self, key: &str) -> Option<i64> {
        self.0.get(key).and_then(Value::as_i64)
    }

    /// The options deserialized into `T`.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(Value::Object(self.0.clone()))
    }

    /// The options as a JSON object.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// A way to authenticate a request: a bearer token, Basic credentials, an API
/// key, a session cookie.
///
/// One instance is shared by all workers (it is `Send + Sync` and held in an
/// `Arc` by the [`StrategyRegistry`](crate::StrategyRegistry)); it is never
/// created per request. The trait is object-safe. `authenticate` sees
/// actix-web's own [`HttpRequest`] and the per-handler options, and returns
///
/// - `Ok(AuthOutcome::Authenticated(profile))` on success,
/// - `Ok(AuthOutcome::NotApplicable)` when the request carries no credentials
///   of this kind (so the next strategy may try),
/// - `Ok(AuthOutcome::Redirect(..))` when the client must go elsewhere first,
/// - `Err(AuthError)` when credentials were presented and are bad, or the
///   backend is down.
///
/// Implement it with [`async_trait`](crate::async_trait) in `?Send` mode, since
/// actix-web's request is not `Send`:
///
/// ```
/// use auth_core::{async_trait, AuthError, AuthOutcome, AuthenticationStrategy, Challenge,
///                 StrategyOptions, UserProfile};
/// use actix_web::HttpRequest;
///
/// struct HeaderStrategy;
///
/// #[async_trait(?Send)]
/// impl AuthenticationStrategy for HeaderStrategy {
///     fn name(&self) -> &str { "header" }
///
///     async fn authenticate(
///         &self,
///         req: &HttpRequest,
///         _options: &StrategyOptions,
///     ) -> Result<AuthOutcome, AuthError> {
///         match req.headers().get("x-user") {
///             None => Ok(AuthOutcome::NotApplicable),
///             Some(v) => match v.to_str() {
///                 Ok(user) if !user.is_empty() => {
///                     Ok(AuthOutcome::Authenticated(UserProfile::new(user)))
///                 }
///                 _ => Err(AuthError::invalid_request("x-user must be visible ASCII")),
///             },
///         }
///     }
///
///     fn challenge(&self, _failure: Option<&AuthError>) -> Option<Challenge> {
///         Some(Challenge::new("X-User"))
///     }
/// }
/// ```
#[async_trait::async_trait(?Send)]
pub trait AuthenticationStrategy: Send + Sync + 'static {
    /// The name the strategy is registered and referred to by, e.g. `"jwt"`.
    fn name(&self) -> &str;

    /// Decides about one request.
    async fn authenticate(
        &self,
        req: &HttpRequest,
        options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError>;

    /// The `WWW-Authenticate` challenge this strategy contributes, given how it
    /// failed (`None` when it found no credentials, or when another strategy's
    /// failure is being reported). `None` means the strategy has no challenge.
    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        let _ = failure;
        None
    }

    /// All the challenges this strategy contributes, in order of preference
    /// (Digest offers SHA-256, then MD5). The sequence calls this one; the
    /// default is [`challenge`](Self::challenge)'s, if any, so a strategy with
    /// one challenge only implements `challenge`.
    fn challenges(&self, failure: Option<&AuthError>) -> Vec<Challenge> {
        self.challenge(failure).into_iter().collect()
    }

    /// The OpenAPI security scheme of this strategy (feature `openapi`):
    /// `http` `bearer` with `bearerFormat: JWT` for JWTs, `http` `basic`,
    /// `http` `digest`, `apiKey` with its header, `openIdConnect` with the
    /// discovery URL. The document names it after the strategy's registered
    /// name ([`openapi::security_document`](crate::openapi::security_document)).
    /// `None` (the default) makes a document that names this strategy an
    /// error rather than a guess.
    #[cfg(feature = "openapi")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    fn security_scheme(&self) -> Option<utoipa::openapi::security::SecurityScheme> {
        None
    }
}

type BoxedFn = dyn Fn(
        &HttpRequest,
        &StrategyOptions,
    ) -> std::pin::Pin<Box<dyn Future<Output = Result<AuthOutcome, AuthError>>>>
    + Send
    + Sync;

/// A strategy made from a closure; see [`from_fn`].
pub struct FnStrategy {
    name: Cow<'static, str>,
    f: Arc<BoxedFn>,
    challenge: Option<Challenge>,
    #[cfg(feature = "openapi")]
    scheme: Option<utoipa::openapi::security::SecurityScheme>,
}

impl std::fmt::Debug for FnStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnStrategy")
            .field("name", &self.name)
            .finish()
    }
}

/// Makes a strategy from a closure.
///
/// The closure receives the request and the handler's options and returns a
/// future; read what you need from the request before the `async` block so the
/// future owns its data.
///
/// ```
/// use auth_core::{from_fn, AuthOutcome, Challenge, UserProfile};
///
/// let strategy = from_fn("demo", |req, _opts| {
///     let user = req.headers().get("x-demo-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
///     async move {
///         Ok(match user {
///             Some(user) => AuthOutcome::Authenticated(UserProfile::new(user)),
///             None => AuthOutcome::NotApplicable,
///         })
///     }
/// })
/// .with_challenge(Challenge::new("Demo"));
/// # let _ = strategy;
/// ```
pub fn from_fn<F, Fut>(name: impl Into<Cow<'static, str>>, f: F) -> FnStrategy
where
    F: Fn(&HttpRequest, &StrategyOptions) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<AuthOutcome, AuthError>> + 'static,
{
    FnStrategy {
        name: name.into(),
        f: Arc::new(move |req, opts| Box::pin(f(req, opts))),
        challenge: None,
        #[cfg(feature = "openapi")]
        scheme: None,
    }
}

impl FnStrategy {
    /// Sets the challenge the strategy contributes to 401 responses.
    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = Some(challenge);
        self
    }

    /// Sets the OpenAPI security scheme the strategy describes (feature
    /// `openapi`; see [`AuthenticationStrategy::security_scheme`]).
    ///
    /// ```
    /// use auth_core::openapi::utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
    /// use auth_core::{from_fn, AuthOutcome, AuthenticationStrategy};
    ///
    /// let key = from_fn("api-key", |_, _| async { Ok(AuthOutcome::NotApplicable) })
    ///     .with_security_scheme(SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))));
    /// assert!(key.security_scheme().is_some());
    /// ```
    #[cfg(feature = "openapi")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    pub fn with_security_scheme(
        mut self,
        scheme: utoipa::openapi::security::SecurityScheme,
    ) -> Self {
        self.scheme = Some(scheme);
        self
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for FnStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        (self.f)(req, options).await
    }

    fn challenge(&self, _failure: Option<&AuthError>) -> Option<Challenge> {
        self.challenge.clone()
    }

    #[cfg(feature = "openapi")]
    fn security_scheme(&self) -> Option<utoipa::openapi::security::SecurityScheme> {
        self.scheme.clone()
    }
}
