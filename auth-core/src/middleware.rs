//! [`AuthenticationMiddleware`]: protect a whole `web::scope` (or app).

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::{HttpMessage, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::AuthPolicy;

/// Authenticates every request of the scope (or app) it wraps with one
/// policy, before routing reaches any handler.
///
/// Handlers inside get the profile through the [`UserProfile`](crate::UserProfile)
/// extractor; a handler that also carries `#[authenticate(..)]` naming the
/// same strategy reuses the profile instead of running the strategy again.
///
/// Secure by default: wrap the whole `App` and list the few public routes
/// with [`public`](Self::public). A middleware runs before routing, so it
/// cannot see a handler's `#[authenticate(skip)]`; public routes of a
/// protected scope are declared here.
///
/// # What "public" is decided on
///
/// Never on the raw request path: `GET /pages/%69nternal` is routed to
/// `/pages/internal`, so it must be judged as `/pages/internal`. The decision
/// reads what the router reads:
///
/// - an entry with a `{..}` segment is a route pattern (e.g. `/todos/{id}`,
///   written in full, with the scope's prefix). It matches when the resource
///   the router picks for the path, as actix-web decodes it
///   ([`HttpRequest::match_info`](actix_web::HttpRequest::match_info)), has
///   exactly this pattern;
/// - any other entry is a literal path, compared with that same decoded
///   path: `/health` matches `/health` and `/h%65alth`, but not `/health/`,
///   `//health` or `/health;x`, which the router does not send to `/health`
///   either.
///
/// An entry covers `GET` and `HEAD` requests, the read-only methods, unless
/// it starts with a method and a space: `"POST /login"` covers `POST` only,
/// `"* /pages/{name}"` every method. Write the method of the public route.
///
/// Why it matters: the router picks the first resource whose pattern matches
/// *and whose guards accept the request*; a middleware runs before routing
/// and cannot run those guards. With `"/forms/{name}"` public (so `GET` and
/// `HEAD`) and a protected `#[post("/forms/internal")]` registered after it,
/// a `POST /forms/internal` is not public by the entry's methods, so it is
/// authenticated before routing, and the protected handler never runs
/// anonymously. With `"* /forms/{name}"` the same `POST` would be let through, the router would skip the public resource
/// (its method guard refuses `POST`) and choose the protected one. Such a
/// request is checked again after routing, against the resource the router
/// really chose; when its pattern is not public the policy applies then: in
/// the `UserProfile` and `Authenticated<T>` extractors, before the handler
/// runs, and on the response of a handler that takes no profile or
/// `Option<UserProfile>`, which the policy's refusal replaces. Such a handler
/// has run by then (each such route is logged once as an error). Guards other
/// than the method (headers, host) are never known before routing: keep
/// public patterns clear of protected routes, or annotate those handlers
/// with `#[authenticate]`, which decides after routing.
///
/// A middleware that rewrites the path (`NormalizePath`) must wrap outside
/// this one (be registered after it with `.wrap`), so that both read the
/// same path.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_core::{AuthPolicy, AuthenticationMiddleware, UserProfile};
///
/// async fn list(user: UserProfile) -> HttpResponse {
///     HttpResponse::Ok().body(user.id.clone())
/// }
///
/// let app = App::new().service(
///     web::scope("/api")
///         .wrap(AuthenticationMiddleware::new(AuthPolicy::new().strategy("jwt"))
///             .public(["/api/health", "/api/pages/{name}"]))
///         .route("/todos", web::get().to(list)),
/// );
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct AuthenticationMiddleware {
    policy: Arc<AuthPolicy>,
    public: Arc<[PublicEntry]>,
}

/// One entry of [`AuthenticationMiddleware::public`]: the methods it covers
/// and a literal path or route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PublicEntry {
    methods: PublicMethods,
    path: String,
}

/// The methods a public entry covers.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PublicMethods {
    /// No method written: the read-only `GET` and `HEAD`.
    Safe,
    /// `*`: every method.
    Any,
    /// One method.
    One(Method),
}

impl PublicEntry {
    /// `"/health"`, `"GET /pages/{name}"`, `"* /pages/{name}"`.
    fn parse(entry: String) -> Self {
        let (methods, path) = match entry.split_once(' ') {
            Some(("*", path)) => (PublicMethods::Any, path.trim_start().to_owned()),
            Some((method, path)) => {
                let method = Method::from_bytes(method.as_bytes()).unwrap_or_else(|_| {
                    panic!(
                        "AuthenticationMiddleware::public: {entry:?} does not start with a method"
                    )
                });
                (PublicMethods::One(method), path.trim_start().to_owned())
            }
            None => (PublicMethods::Safe, entry),
        };
        assert!(
            path.starts_with('/'),
            "AuthenticationMiddleware::public: {path:?} is not a path (it must start with '/')"
        );
        PublicEntry { methods, path }
    }

    fn matches(&self, method: &Method, path: &str, pattern: Option<&str>) -> bool {
        let method_matches = match &self.methods {
            PublicMethods::Safe => method == Method::GET || method == Method::HEAD,
            PublicMethods::Any => true,
            PublicMethods::One(m) => m == method,
        };
        method_matches
            && (pattern == Some(self.path.as_str())
                || (!self.path.contains('{') && self.path == path))
    }
}

impl AuthenticationMiddleware {
    /// Protects everything with `policy`.
    pub fn new(policy: AuthPolicy) -> Self {
        AuthenticationMiddleware {
            policy: Arc::new(policy),
            public: Arc::from(Vec::new()),
        }
    }

    /// Protects everything with these strategies, tried in order.
    pub fn with<I, S>(strategies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<std::borrow::Cow<'static, str>>,
    {
        let policy = strategies
            .into_iter()
            .fold(AuthPolicy::new(), |policy, s| policy.strategy(s));
        Self::new(policy)
    }

    /// Route patterns (with a `{..}` segment, e.g. `/api/todos/{id}`, written
    /// in full with the scope's prefix) and literal paths (e.g. `/api/health`)
    /// that are not authenticated. An entry covers `GET` and `HEAD`; preceded
    /// by a method and a space (`"POST /api/login"`) it covers that method,
    /// by `"* "` every method. Paths are compared with what the router reads,
    /// the decoded path and the resource it picks, never with the raw path;
    /// see [the type's docs](Self).
    ///
    /// Prefer one method per entry to `*`: with `*`, a request the public
    /// resource's method guard refuses may be routed to a protected route of
    /// an overlapping path, whose handler then runs before the policy refuses
    /// its answer (see [the type's docs](Self)).
    ///
    /// # Panics
    ///
    /// At start-up, when an entry is not a path starting with `/`, or what
    /// precedes the space is not an HTTP method token.
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use auth_core::{from_fn, AuthOutcome, AuthenticationMiddleware, StrategyRegistry};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let never = from_fn("never", |_, _| async { Ok(AuthOutcome::NotApplicable) });
    /// let registry = StrategyRegistry::builder().register(never).build().unwrap();
    /// let app = test::init_service(
    ///     App::new()
    ///         .app_data(registry)
    ///         .wrap(AuthenticationMiddleware::with(["never"]).public(["/pages/{name}"]))
    ///         .route("/pages/internal", web::get().to(HttpResponse::Ok))
    ///         .route("/pages/{name}", web::get().to(HttpResponse::Ok))
    ///         .route("/pages/{name}", web::post().to(HttpResponse::Ok)),
    /// )
    /// .await;
    /// for (req, status) in [
    ///     (test::TestRequest::get().uri("/pages/about"), 200),
    ///     (test::TestRequest::get().uri("/pages/internal"), 401),
    ///     (test::TestRequest::get().uri("/pages/%69nternal"), 401),
    ///     (test::TestRequest::post().uri("/pages/about"), 401),
    /// ] {
    ///     let resp = test::call_service(&app, req.to_request()).await;
    ///     assert_eq!(resp.status(), status);
    /// }
    /// # });
    /// ```
    pub fn public<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.public = patterns
            .into_iter()
            .map(|entry| PublicEntry::parse(entry.into()))
            .collect();
        self
    }

    /// The policy applied.
    pub fn policy(&self) -> &AuthPolicy {
        &self.policy
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuthenticationMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = AuthenticationService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthenticationService {
            service: Rc::new(service),
            config: self.clone(),
        }))
    }
}

/// The service built by [`AuthenticationMiddleware`].
#[derive(Debug)]
pub struct AuthenticationService<S> {
    service: Rc<S>,
    config: AuthenticationMiddleware,
}

impl AuthenticationMiddleware {
    /// Whether a `method` request for `path` (decoded as the router decodes
    /// it), routed to the resource with `pattern`, is public.
    fn is_public(&self, method: &Method, path: &str, pattern: Option<&str>) -> bool {
        self.public
            .iter()
            .any(|entry| entry.matches(method, path, pattern))
    }

    /// Before routing: the resource the router will pick for the decoded
    /// path, guards aside.
    fn is_public_before_routing(&self, req: &ServiceRequest) -> bool {
        if self.public.is_empty() {
            return false;
        }
        // SAFETY-style note: `req.path()` is the raw, still percent-encoded
        // path, and `req.match_pattern()` reads it too until routing is done;
        // the router matches `match_info()`, decoded. Deciding on the raw
        // path let `/pages/%69nternal` past a protected `/pages/internal`.
        let path = req.match_info().as_str();
        let pattern = req.resource_map().match_pattern(path);
        self.is_public(req.method(), path, pattern.as_deref())
    }
}

impl<S> AuthenticationService<S> {
    fn is_public(&self, req: &ServiceRequest) -> bool {
        self.config.is_public_before_routing(req)
    }
}

/// Logs, once per route pattern, that a public pattern let a request reach a
/// protected route that the router chose by its guards.
fn report_misrouted(pattern: &str) {
    use std::collections::HashSet;
    use std::sync::{Mutex, OnceLock};
    static REPORTED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = REPORTED
        .get_or_init(Mutex::default)
        .lock()
        .map(|mut seen| seen.insert(pattern.to_owned()))
        .unwrap_or(false);
    if first {
        tracing::error!(
            route = %pattern,
            "AuthenticationMiddleware: a request let through as public was routed (by a guard) to \
             the protected route {pattern}, whose handler ran without authentication; its \
             response was replaced by the policy's answer. Make the public pattern and this \
             route not overlap, or annotate the handler with #[authenticate]"
        );
    }
}

/// The middlewares that let the request through as public before routing,
/// innermost last, so that the route really chosen can be checked after
/// routing (a guard may pick another route than the public one).
#[derive(Default)]
struct PublicPasses(Vec<AuthenticationMiddleware>);

/// Whether a middleware let `req` through as public before routing.
pub(crate) fn passed_as_public(req: &HttpRequest) -> bool {
    req.extensions().contains::<PublicPasses>()
}

/// After routing: applies the policy of every middleware that let `req`
/// through as public when the route the router chose is not public for it.
/// `Err` is the policy's complete answer.
pub(crate) async fn enforce_after_routing(req: &HttpRequest) -> Result<(), HttpResponse> {
    // Kept in the request: the response-phase check must run again when an
    // `Option<UserProfile>` extractor swallowed this check's refusal. When
    // the check passed, running it again reuses the profile.
    let Some(passes) = req.extensions().get::<PublicPasses>().map(|p| p.0.clone()) else {
        return Ok(());
    };
    // After routing, `match_pattern` names the resource the router really
    // chose, guards included; `match_info` is the path it read.
    let routed = req.match_pattern();
    let path = req.match_info().as_str().to_owned();
    for config in &passes {
        if !config.is_public(req.method(), &path, routed.as_deref()) {
            report_misrouted(routed.as_deref().unwrap_or(&path));
            crate::sequence::authenticate_in_place(req, &config.policy).await?;
        }
    }
    Ok(())
}

impl<S, B> Service<ServiceRequest> for AuthenticationService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let config = self.config.clone();
        let public = self.is_public(&req);
        crate::sequence::mark_ran(req.request());
        crate::default_policy::mark_middleware(req.request());
        Box::pin(async move {
            if public {
                req.extensions_mut()
                    .get_or_insert_with(PublicPasses::default)
                    .0
                    .push(config);
            } else if let Err(response) =
                crate::sequence::authenticate_in_place(req.request(), &config.policy).await
            {
                return Ok(req.into_response(response).map_into_right_body());
            }
            let res = service.call(req).await?;
            // A handler that extracts the profile ran this check already;
            // for one that does not, it runs now: the handler has answered,
            // but its answer is replaced when the policy refuses the request.
            if public && let Err(response) = enforce_after_routing(res.request()).await {
                return Ok(res.into_response(response).map_into_right_body());
            }
            let (req, response) = res.into_parts();
            let mut response = response;
            crate::cache::apply(&req, response.headers_mut());
            Ok(ServiceResponse::new(req, response).map_into_left_body())
        })
    }
}
