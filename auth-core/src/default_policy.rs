//! [`DefaultPolicy`]: an App that serves only declared routes, and the
//! start-up report [`policy_report`].

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{
    Service, ServiceFactory, ServiceRequest, ServiceResponse, Transform, forward_ready,
};
use actix_web::http::StatusCode;
use actix_web::{App, Error, HttpRequest, HttpResponse};
use futures_util::future::LocalBoxFuture;

use crate::route_table::{self, Leaf};
use crate::{AuthError, ConfigError, HandlerAuth};

/// One route a handler's actix-web route attribute declares, recorded by
/// `#[authenticate]` when it sits above that attribute: `#[get("/x")]` is
/// `GET /x`, `#[route("/x", method = "GET", method = "HEAD")]` two methods,
/// `name = ".."` the resource name (else the function's). See
/// [`HandlerAuth::routes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteDecl {
    methods: &'static [&'static str],
    path: &'static str,
    name: Option<&'static str>,
}

impl RouteDecl {
    #[doc(hidden)]
    pub const fn new(
        methods: &'static [&'static str],
        path: &'static str,
        name: Option<&'static str>,
    ) -> Self {
        RouteDecl {
            methods,
            path,
            name,
        }
    }

    /// The methods, upper case (`["GET"]`).
    pub fn methods(&self) -> &'static [&'static str] {
        self.methods
    }

    /// The path as written in the attribute, without the prefix of the
    /// scope the handler is registered in.
    pub fn path(&self) -> &'static str {
        self.path
    }

    /// The resource name set with `name = ".."`.
    pub fn name(&self) -> Option<&'static str> {
        self.name
    }

    fn allows(&self, method: &str) -> bool {
        self.methods.is_empty() || self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

pub(crate) fn mark_middleware(req: &HttpRequest) {
    crate::sequence::mark(req, |m| m.scope_middleware = true);
}

/// Recorded when a policy refused the request (the sequence's answer).
pub(crate) fn mark_refused(req: &HttpRequest) {
    crate::sequence::mark(req, |m| m.refused = true);
}

/// Secure by default for the whole App (DESIGN's default-deny policy,
/// Backstage's "every route needs a declaration"): a request is served only
/// by a handler that carries `#[authenticate(..)]`, whose policy then
/// decides, or `#[authenticate(skip)]`, the one way to be public. Every
/// other request is answered **404 Not Found**, in the registry's error
/// shape (code `NOT_FOUND`), without a challenge. Wrap the `App` with it:
///
/// ```
/// use actix_web::{get, test, web, App, HttpResponse};
/// use auth_core::{from_fn, AuthOutcome, DefaultPolicy, StrategyRegistry};
/// use auth_macros::authenticate;
///
/// #[authenticate(skip)]
/// #[get("/health")]
/// async fn health() -> &'static str { "ok" }
///
/// #[authenticate("key")]
/// #[get("/todos")]
/// async fn todos() -> &'static str { "[]" }
///
/// async fn forgotten() -> HttpResponse { HttpResponse::Ok().body("secret") }
///
/// # actix_web::rt::System::new().block_on(async {
/// let key = from_fn("key", |_, _| async { Ok(AuthOutcome::NotApplicable) });
/// let registry = StrategyRegistry::builder().register(key).build().unwrap();
/// let app = test::init_service(
///     App::new()
///         .app_data(registry)
///         // In an application: DefaultPolicy::new(), every handler of the binary.
///         .wrap(DefaultPolicy::in_module(module_path!()))
///         .service(health)
///         .service(todos)
///         .route("/internal", web::get().to(forgotten)),
/// )
/// .await;
/// for (path, status) in [("/health", 200), ("/todos", 401), ("/internal", 404), ("/nowhere", 404)] {
///     let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
///     assert_eq!(resp.status(), status, "{path}");
/// }
/// # });
/// ```
///
/// # Why 404
///
/// An undeclared route is not served to anyone, so no credential can make
/// it answer: a 401 with a challenge would send a client round in circles,
/// and a 403 would tell it that the route exists. A 404 in the same shape as
/// the answer to a path no route matches makes undeclared routes and
/// missing ones indistinguishable.
///
/// # How a request is decided
///
/// actix-web gives a middleware no hook between routing and the handler,
/// and a middleware that runs before routing sees the route table without
/// its guards (the method, headers). So the decision is made in two places:
///
/// 1. **Before routing**, on what the router reads (the decoded path, as
///    [`AuthenticationMiddleware`](crate::AuthenticationMiddleware) does):
///    the request goes on only when a declaration can be the route that
///    answers it: a handler whose route attribute (recorded when
///    `#[authenticate]` sits above it, [`HandlerAuth::routes`]) allows the
///    method and names the resource matching the path (its full pattern,
///    scope prefixes included, checked through the resource's name); or a
///    handler whose route is unknown (`#[authenticate]` below the route
///    attribute, or `web::resource(..).name("handler")`) whose function name
///    is the name of the resource matching the path. Anything else is
///    refused here, and its handler never runs: undeclared routes,
///    `web::resource(..).to(..)` without a declared handler, a declared
///    handler's path with a method it does not declare, and paths that no
///    resource matches (the App's `default_service`, unless
///    [`with_default_service`](Self::with_default_service)).
/// 2. **In the route really chosen**: a declared handler runs its own policy
///    before anything else (see `#[authenticate]`). A request let through in
///    step 1 that the router gives to an undeclared handler anyway (two
///    resources share a path and a guard picks the undeclared one; a
///    handler's route is unknown, so its methods were not checked) gets the
///    404 instead of that handler's answer, which is logged once per route
///    as an error: that handler has run. The start-up report names such
///    routes ([`policy_report`]).
///
/// Put `#[authenticate]` above the route attribute (`#[authenticate("jwt")]`
/// then `#[get("/x")]`) so that step 1 knows the route's methods and path;
/// below it, the handler is still recognised, by its resource name, for
/// every method. A handler registered with `web::resource(..)` needs
/// `.name("function_name")` to be recognised.
///
/// A profile or refusal from an [`AuthenticationMiddleware`](crate::AuthenticationMiddleware)
/// inside is kept: its 401 is not turned into a 404.
///
/// Middleware order: one that rewrites the path (`NormalizePath`) or
/// answers by itself (a CORS middleware answering preflight `OPTIONS`
/// requests) must wrap outside this one, i.e. be registered after it with
/// `.wrap`, so that the policy reads the path the router reads and the
/// preflight answer is not refused as an undeclared `OPTIONS` route.
#[derive(Debug, Clone)]
pub struct DefaultPolicy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The declarations that count, from this binary's `#[authenticate]`
    /// handlers.
    handlers: Vec<&'static HandlerAuth>,
    /// Unmatched paths go on to the App's default service (whose handler
    /// must be declared).
    default_service: bool,
    /// `dangerously_disable_default_policy`.
    disabled: bool,
    /// Route-pattern prefixes decided by an `AuthenticationMiddleware`.
    middleware_scopes: Vec<String>,
}

impl Default for DefaultPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl DefaultPolicy {
    /// Serves the routes of every `#[authenticate]` handler of this binary,
    /// nothing else.
    pub fn new() -> Self {
        Self::in_module("")
    }

    /// Like [`new`](Self::new), counting only the handlers whose path
    /// (`module::path::function`) lies in `module_prefix` (whole `::`
    /// segments), for binaries that hold several applications (tests).
    pub fn in_module(module_prefix: &str) -> Self {
        let handlers = crate::annotated_handlers()
            .filter(|h| crate::registry::in_module(h.handler(), module_prefix))
            .collect();
        DefaultPolicy {
            inner: Arc::new(Inner {
                handlers,
                default_service: false,
                disabled: false,
                middleware_scopes: Vec::new(),
            }),
        }
    }

    /// Lets requests that no resource matches reach the App's
    /// `default_service` (a fallback, a file server). Its handler must be
    /// declared like any other (`#[authenticate(skip)]` for public files):
    /// the default service runs, and an answer from an undeclared one is
    /// replaced by the 404. Without this, such requests get the 404 and the
    /// default service never runs.
    ///
    /// ```
    /// use actix_web::{test, web, App};
    /// use auth_core::{DefaultPolicy, StrategyRegistry};
    /// use auth_macros::authenticate;
    ///
    /// #[authenticate(skip)]
    /// async fn files(req: actix_web::HttpRequest) -> String { format!("file {}", req.path()) }
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let app = test::init_service(
    ///     App::new()
    ///         .app_data(StrategyRegistry::builder().build().unwrap())
    ///         .wrap(DefaultPolicy::in_module(module_path!()).with_default_service())
    ///         .default_service(web::to(files)),
    /// )
    /// .await;
    /// let req = test::TestRequest::get().uri("/app.css").to_request();
    /// assert_eq!(test::call_and_read_body(&app, req).await, "file /app.css");
    /// # });
    /// ```
    pub fn with_default_service(self) -> Self {
        self.change(|inner| inner.default_service = true)
    }

    /// Turns the policy off: every request reaches the router, as without
    /// this middleware, and routes without a declaration are public. Logged
    /// at `warn` when the App starts. For an application migrating to the
    /// default policy; never the default.
    pub fn dangerously_disable_default_policy(self) -> Self {
        self.change(|inner| inner.disabled = true)
    }

    /// Declares the routes of scopes that an
    /// [`AuthenticationMiddleware`](crate::AuthenticationMiddleware) wraps, by
    /// their prefix as a route pattern (`"/users/me/token"`,
    /// `"/tenants/{tenant}"`): routes whose handlers are not yours to
    /// annotate, such as those a library registers. Every route whose full
    /// pattern is the prefix or lies under it (whole segments) is let
    /// through to routing, and its answer is kept only when the middleware
    /// ran for it: a scope declared here but not wrapped (the middleware
    /// forgotten) answers 404 (its handler has run; logged once per route as
    /// an error).
    ///
    /// ```
    /// use actix_web::{test, web, App, HttpResponse};
    /// use auth_core::{AuthenticationMiddleware, DefaultPolicy, StrategyRegistry};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let app = test::init_service(
    ///     App::new()
    ///         .app_data(StrategyRegistry::builder().build().unwrap())
    ///         .wrap(DefaultPolicy::in_module(module_path!()).middleware_scope("/library"))
    ///         .service(
    ///             web::scope("/library")
    ///                 .wrap(AuthenticationMiddleware::with(["jwt"]).public(["/library/about"]))
    ///                 .route("/about", web::get().to(HttpResponse::Ok)),
    ///         ),
    /// )
    /// .await;
    /// let req = test::TestRequest::get().uri("/library/about").to_request();
    /// assert_eq!(test::call_service(&app, req).await.status(), 200);
    /// # });
    /// ```
    ///
    /// # Panics
    ///
    /// At start-up, when `prefix` does not start with `/`.
    pub fn middleware_scope(self, prefix: impl Into<String>) -> Self {
        let prefix = prefix.into();
        assert!(
            prefix.starts_with('/'),
            "DefaultPolicy::middleware_scope: {prefix:?} is not a route pattern (it must start with '/')"
        );
        let prefix = prefix.trim_end_matches('/').to_owned();
        self.change(|inner| inner.middleware_scopes.push(prefix))
    }

    /// Whether `pattern` lies under a [`middleware_scope`](Self::middleware_scope).
    fn in_middleware_scope(&self, pattern: &str) -> bool {
        self.inner.middleware_scopes.iter().any(|prefix| {
            pattern
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }

    fn change(self, f: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            handlers: self.inner.handlers.clone(),
            default_service: self.inner.default_service,
            disabled: self.inner.disabled,
            middleware_scopes: self.inner.middleware_scopes.clone(),
        };
        f(&mut inner);
        DefaultPolicy {
            inner: Arc::new(inner),
        }
    }

    /// Before routing: whether a declaration can answer a `method` request
    /// for `path`, the path as the router reads it.
    fn admits(&self, req: &ServiceRequest, path: &str, shapes: &ShapeCache) -> bool {
        let rmap = req.resource_map();
        let Some(pattern) = rmap.match_pattern(path) else {
            return self.inner.default_service;
        };
        if self.in_middleware_scope(&pattern) {
            return true;
        }
        let first_name = rmap.match_name(path);
        let method = req.method().as_str();
        self.inner.handlers.iter().any(|h| {
            if h.routes().is_empty() {
                // Route unknown: the resource named after the function.
                return first_name == Some(h.function());
            }
            h.routes().iter().any(|route| {
                route.allows(method)
                    && pattern.ends_with(route.path())
                    && shapes.names_pattern(
                        req.request(),
                        route.name().unwrap_or(h.function()),
                        &pattern,
                    )
            })
        })
    }
}

/// The path the route table builds for each resource name, with `x` for
/// every dynamic segment (`None`: no such name), per App: the route table
/// does not change once the App serves, so each name is asked once.
#[derive(Debug, Default)]
struct ShapeCache(RefCell<HashMap<&'static str, Option<String>>>);

impl ShapeCache {
    /// Whether the resource named `name` has the full pattern `pattern`:
    /// its path with `x` for every dynamic segment is `pattern` with `x` for
    /// every dynamic segment. Resources in other scopes whose patterns end
    /// alike differ in their prefix.
    fn names_pattern(&self, req: &HttpRequest, name: &'static str, pattern: &str) -> bool {
        const ELEMENTS: usize = 64;
        let mut shapes = self.0.borrow_mut();
        let shape = shapes.entry(name).or_insert_with(|| {
            req.resource_map()
                .url_for(req, name, std::iter::repeat_n("x", ELEMENTS))
                .ok()
                .map(|url| url.path().to_owned())
        });
        shape.as_deref() == Some(with_dynamic_segments_as_x(pattern).as_str())
    }
}

/// `/users/{id}/todos/{tail:.*}` as `/users/x/todos/x`.
fn with_dynamic_segments_as_x(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len());
    let mut depth = 0usize;
    for ch in pattern.chars() {
        match ch {
            '{' => {
                if depth == 0 {
                    out.push('x');
                }
                depth += 1;
            }
            '}' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            _ => out.push(ch),
        }
    }
    out
}

/// The answer to a request no declaration covers.
fn refusal(req: &HttpRequest) -> HttpResponse {
    crate::error_response(
        req,
        &AuthError::rejected(StatusCode::NOT_FOUND, "NOT_FOUND", "not found"),
        &[],
    )
}

/// Logs once per route pattern (patterns come from the App, never from
/// the client, so the set is bounded).
fn once_per_route(pattern: &str, log: impl FnOnce()) {
    static SEEN: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let first = SEEN
        .get_or_init(Mutex::default)
        .lock()
        .map(|mut seen| seen.insert(pattern.to_owned()))
        .unwrap_or(false);
    if first {
        log();
    }
}

impl<S, B> Transform<S, ServiceRequest> for DefaultPolicy
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Transform = DefaultPolicyService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        if self.inner.disabled {
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                tracing::warn!(
                    "DefaultPolicy is disabled (dangerously_disable_default_policy): routes \
                     without #[authenticate] are public"
                );
            });
        }
        ready(Ok(DefaultPolicyService {
            service: Rc::new(service),
            policy: self.clone(),
            shapes: ShapeCache::default(),
        }))
    }
}

/// The service built by [`DefaultPolicy`].
#[derive(Debug)]
pub struct DefaultPolicyService<S> {
    service: Rc<S>,
    policy: DefaultPolicy,
    shapes: ShapeCache,
}

impl<S, B> Service<ServiceRequest> for DefaultPolicyService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        if self.policy.inner.disabled {
            return Box::pin(async move { Ok(service.call(req).await?.map_into_left_body()) });
        }
        // The decoded path the router matches, never the raw one (see
        // `AuthenticationMiddleware`): `/h%65alth` is `/health`.
        let path = req.match_info().as_str().to_owned();
        if !self.policy.admits(&req, &path, &self.shapes) {
            if let Some(pattern) = req.resource_map().match_pattern(&path) {
                once_per_route(&format!("refused {pattern}"), || {
                    tracing::warn!(
                        route = %pattern,
                        "DefaultPolicy: no #[authenticate] declaration covers {} {pattern}; \
                         answered 404 (run auth_core::policy_report at start-up to list such routes)",
                        req.method()
                    );
                });
            }
            let response = refusal(req.request());
            return Box::pin(async move { Ok(req.into_response(response).map_into_right_body()) });
        }
        let policy = self.policy.clone();
        Box::pin(async move {
            let res = service.call(req).await?;
            let marks = crate::sequence::marks(res.request());
            let (declared, refused, middleware) =
                (marks.declared, marks.refused, marks.scope_middleware);
            let status = res.status();
            let in_scope = middleware
                && res
                    .request()
                    .match_pattern()
                    .is_some_and(|p| policy.in_middleware_scope(&p));
            if declared
                || in_scope
                || (refused && (status.is_client_error() || status.is_server_error()))
            {
                return Ok(res.map_into_left_body());
            }
            // Routed (by a guard, or for a method the route did not
            // declare) to a handler that is not declared: it has run, its
            // answer is not sent.
            let pattern = res
                .request()
                .match_pattern()
                .unwrap_or_else(|| "<default service>".to_owned());
            once_per_route(&format!("ran {pattern}"), || {
                tracing::error!(
                    route = %pattern,
                    "DefaultPolicy: a request was routed to a handler without #[authenticate] \
                     ({pattern}), which ran; its answer was replaced by 404. Declare the handler \
                     (or #[authenticate(skip)]), or keep its path apart from declared routes"
                );
            });
            let response = refusal(res.request());
            Ok(res.into_response(response).map_into_right_body())
        })
    }
}

/// One route of the report: a resource of the App's route table and the
/// declarations that cover it.
#[derive(Debug, Clone)]
pub struct ReportedRoute {
    /// Under a `DefaultPolicy::middleware_scope`.
    middleware: bool,
    pattern: String,
    name: Option<String>,
    pub(crate) declarations: Vec<(&'static HandlerAuth, Option<RouteDecl>)>,
}

impl ReportedRoute {
    /// The full pattern, scope prefixes included.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// The resource name (actix-web's route attributes name a resource after
    /// its function).
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The handlers whose declaration covers this resource.
    pub fn handlers(&self) -> impl Iterator<Item = &'static HandlerAuth> + '_ {
        self.declarations.iter().map(|(h, _)| *h)
    }

    /// The declared methods; `None` when a covering handler's route is
    /// unknown (`#[authenticate]` below the route attribute): then every
    /// method is let through to routing.
    pub fn methods(&self) -> Option<Vec<&'static str>> {
        let mut methods = Vec::new();
        for (_, route) in &self.declarations {
            methods.extend_from_slice(route.as_ref()?.methods());
        }
        Some(methods)
    }

    /// Whether a declaration covers the resource: a handler's
    /// `#[authenticate]`, or a [`DefaultPolicy::middleware_scope`].
    pub fn is_declared(&self) -> bool {
        !self.declarations.is_empty() || self.middleware
    }

    /// Whether it lies under a [`DefaultPolicy::middleware_scope`].
    pub fn is_middleware_scope(&self) -> bool {
        self.middleware
    }
}

/// What [`policy_report`] found: every resource of the App with its policy,
/// and warnings about what the default policy refuses or cannot tell apart.
/// Its `Display` is a table for the log.
#[derive(Debug, Clone)]
pub struct PolicyReport {
    routes: Option<Vec<ReportedRoute>>,
    unrouted: Vec<&'static HandlerAuth>,
    warnings: Vec<String>,
}

impl PolicyReport {
    /// The resources in routing order; `None` when this actix-web's route
    /// table could not be read (see [`warnings`](Self::warnings)).
    pub fn routes(&self) -> Option<&[ReportedRoute]> {
        self.routes.as_deref()
    }

    /// Declared handlers that no resource of the App is recognised as
    /// (refused under [`DefaultPolicy`], or part of another App).
    pub fn unrouted(&self) -> &[&'static HandlerAuth] {
        &self.unrouted
    }

    /// What needs attention, one sentence each; empty when every route is
    /// declared and recognised.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl std::fmt::Display for PolicyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.routes {
            None => writeln!(f, "routes: the route table could not be read")?,
            Some(routes) => {
                writeln!(f, "routes and their authentication policy:")?;
                for route in routes {
                    let methods = match route.methods() {
                        _ if !route.is_declared() => "-".to_owned(),
                        _ if route.declarations.is_empty() => "*".to_owned(),
                        None => "*".to_owned(),
                        Some(m) => m.join(","),
                    };
                    let mut policies: Vec<String> = route
                        .handlers()
                        .map(|h| format!("{} ({})", h.policy(), h.handler()))
                        .collect();
                    if route.middleware {
                        policies.push("the scope's AuthenticationMiddleware".to_owned());
                    }
                    let policy = if policies.is_empty() {
                        "UNDECLARED: refused with 404".to_owned()
                    } else {
                        policies.join(" | ")
                    };
                    writeln!(f, "  {methods:<12} {:<32} {policy}", route.pattern)?;
                }
            }
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// Lists every resource of `app` with the policy its handler declares, and
/// warns about what [`DefaultPolicy`] refuses or cannot tell apart: routes
/// no declaration covers, resources sharing a path with an undeclared one,
/// declared handlers no resource is recognised as, and resource names used
/// twice. Call it at start-up with the App the server factory builds, like
/// [`check_app`](crate::check_app), and log it.
///
/// The App is started in memory (its `data_factory` initialisers run) and
/// sent one request that no handler sees. The default service, which has no
/// pattern, is not listed.
///
/// ```
/// use actix_web::{get, post, web, App, HttpResponse};
/// use auth_core::policy_report_in;
/// use auth_macros::authenticate;
///
/// #[authenticate("jwt", principal = "service")]
/// #[post("/reindex")]
/// async fn reindex() -> &'static str { "ok" }
///
/// # actix_web::rt::System::new().block_on(async {
/// let app = App::new()
///     .service(web::scope("/admin").service(reindex))
///     .route("/debug", web::get().to(HttpResponse::Ok));
/// let report = policy_report_in(app, module_path!()).await.unwrap();
/// let routes = report.routes().unwrap();
/// assert_eq!(routes[0].pattern(), "/admin/reindex");
/// assert_eq!(routes[0].methods(), Some(vec!["POST"]));
/// assert!(!routes[1].is_declared());
/// assert!(report.warnings()[0].contains("/debug"));
/// assert!(report.to_string().contains("jwt; principal: service"));
/// # });
/// ```
pub async fn policy_report<T, B>(app: App<T>) -> Result<PolicyReport, ConfigError>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    policy_report_in(app, "").await
}

/// Like [`policy_report`], counting only the handlers whose path lies in
/// `module_prefix` (whole `::` segments), for binaries that hold several
/// applications.
pub async fn policy_report_in<T, B>(
    app: App<T>,
    module_prefix: &str,
) -> Result<PolicyReport, ConfigError>
where
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    DefaultPolicy::in_module(module_prefix).report(app).await
}

impl DefaultPolicy {
    /// [`policy_report`] for the declarations this policy counts (its
    /// module, its [`middleware_scope`](Self::middleware_scope)s).
    ///
    /// ```
    /// use actix_web::{web, App, HttpResponse};
    /// use auth_core::DefaultPolicy;
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let policy = DefaultPolicy::in_module(module_path!()).middleware_scope("/library");
    /// let app = App::new().service(web::scope("/library").route("/{id}", web::get().to(HttpResponse::Ok)));
    /// let report = policy.report(app).await.unwrap();
    /// assert!(report.routes().unwrap()[0].is_declared());
    /// assert!(report.warnings().is_empty());
    /// # });
    /// ```
    pub async fn report<T, B>(&self, app: App<T>) -> Result<PolicyReport, ConfigError>
    where
        T: ServiceFactory<
                ServiceRequest,
                Config = (),
                Response = ServiceResponse<B>,
                Error = Error,
                InitError = (),
            > + 'static,
        B: MessageBody + 'static,
    {
        let debug = crate::check::probe_app(app, |req| format!("{:?}", req.resource_map())).await?;
        Ok(self.build_report(route_table::read(&debug)))
    }

    fn build_report(&self, leaves: Option<Vec<Leaf>>) -> PolicyReport {
        let handlers = &self.inner.handlers;
        let Some(leaves) = leaves else {
            return PolicyReport {
                routes: None,
                unrouted: Vec::new(),
                warnings: vec![
                    "the route table of this actix-web version could not be read: routes are not \
                 listed (DefaultPolicy still enforces every declaration)"
                        .to_owned(),
                ],
            };
        };
        let mut warnings = Vec::new();
        let mut routed: HashSet<&'static str> = HashSet::new();
        let routes: Vec<ReportedRoute> = leaves
            .into_iter()
            .map(|leaf| {
                let mut declarations = Vec::new();
                for &h in handlers.iter() {
                    if h.routes().is_empty() {
                        if leaf.name.as_deref() == Some(h.function()) {
                            declarations.push((h, None));
                        }
                        continue;
                    }
                    for route in h.routes() {
                        if leaf.name.as_deref() == Some(route.name().unwrap_or(h.function()))
                            && leaf.pattern.ends_with(route.path())
                        {
                            declarations.push((h, Some(*route)));
                        }
                    }
                }
                for (h, _) in &declarations {
                    routed.insert(h.handler());
                }
                ReportedRoute {
                    middleware: self.in_middleware_scope(&leaf.pattern),
                    pattern: leaf.pattern,
                    name: leaf.name,
                    declarations,
                }
            })
            .collect();

        for route in routes.iter().filter(|r| !r.is_declared()) {
            warnings.push(format!(
                "{} has no #[authenticate] declaration: DefaultPolicy refuses it with 404 \
             (declare its handler, or #[authenticate(skip)] for a public route)",
                route.pattern
            ));
        }
        // Resources of one path shape: before routing, only the first is seen.
        let mut shapes: HashMap<String, Vec<&ReportedRoute>> = HashMap::new();
        for route in &routes {
            shapes
                .entry(with_dynamic_segments_as_x(&route.pattern))
                .or_default()
                .push(route);
        }
        let mut shared: Vec<&Vec<&ReportedRoute>> =
            shapes.values().filter(|g| g.len() > 1).collect();
        shared.sort_by_key(|g| g[0].pattern.clone());
        for group in shared {
            let unknown_methods = group
                .iter()
                .any(|r| r.is_declared() && r.methods().is_none());
            let undeclared = group.iter().any(|r| !r.is_declared());
            if undeclared && group.iter().any(|r| r.is_declared()) {
                warnings.push(format!(
                    "{} is served by several resources, some undeclared: a request the policy lets \
                 through may be routed by a guard to an undeclared one, which then runs before \
                 its answer is replaced by 404; declare every handler of this path",
                    group[0].pattern
                ));
            } else if unknown_methods {
                warnings.push(format!(
                    "{} is served by several resources and a handler's methods are unknown \
                 (#[authenticate] below its route attribute): put #[authenticate] above the \
                 route attribute so that each method is checked before routing",
                    group[0].pattern
                ));
            }
        }
        let mut names: HashMap<&str, Vec<&str>> = HashMap::new();
        for route in &routes {
            if let Some(name) = &route.name {
                names.entry(name).or_default().push(&route.pattern);
            }
        }
        let mut twice: Vec<(&str, Vec<&str>)> =
            names.into_iter().filter(|(_, p)| p.len() > 1).collect();
        twice.sort();
        for (name, patterns) in twice {
            warnings.push(format!(
                "the resource name \"{name}\" is used by {}: actix-web's url_for and DefaultPolicy \
             find one of them only; give the others another name (name = \"..\")",
                patterns.join(", ")
            ));
        }
        let unrouted: Vec<&'static HandlerAuth> = handlers
            .iter()
            .copied()
            .filter(|h| !routed.contains(h.handler()))
            .collect();
        for h in &unrouted {
            warnings.push(format!(
                "{} is declared but no resource of this App is recognised as it: DefaultPolicy \
             refuses it (register it with its route attribute, or web::resource(..).name(\"{}\"))",
                h.handler(),
                h.function()
            ));
        }
        PolicyReport {
            routes: Some(routes),
            unrouted,
            warnings,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{DefaultPolicy, with_dynamic_segments_as_x};

    #[test]
    fn an_unreadable_route_table_is_said_not_guessed() {
        let report = DefaultPolicy::in_module("nothing::here").build_report(None);
        assert!(report.routes().is_none());
        assert!(report.unrouted().is_empty());
        assert_eq!(report.warnings().len(), 1);
        assert!(report.warnings()[0].contains("could not be read"));
        assert!(
            report
                .to_string()
                .starts_with("routes: the route table could not be read")
        );
        #[cfg(feature = "openapi")]
        {
            let registry = crate::StrategyRegistry::builder().build().unwrap();
            let err = crate::openapi::security_document("t", "1", &registry, &report, &[])
                .err()
                .unwrap();
            assert_eq!(err, crate::openapi::OpenApiError::NoRouteTable);
        }
    }

    #[test]
    fn dynamic_segments_become_x() {
        for (pattern, shape) in [
            ("/todos", "/todos"),
            ("/todos/{id}", "/todos/x"),
            ("/u/{id}/t/{tail:.*}", "/u/x/t/x"),
            ("/n/{id:\\d{2,3}}", "/n/x"),
            ("", ""),
        ] {
            assert_eq!(with_dynamic_segments_as_x(pattern), shape);
        }
    }
}
