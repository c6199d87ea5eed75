//! [`AuthenticationMiddleware`]: protect a whole `web::scope` (or app).

use std::future::{Ready, ready};
use std::rc::Rc;
use std::sync::Arc;

use actix_web::body::EitherBody;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use futures_util::future::LocalBoxFuture;

use crate::AuthPolicy;

/// Authenticates every request of the scope (or app) it wraps with one
/// policy, before routing reaches any handler.
///
/// Handlers inside get the profile through the [`UserProfile`](crate::UserProfile)
/// extractor; a handler that also carries `#[authenticate(..)]` naming the
/// same strategy reuses the profile instead of running the strategy again.
///
/// Secure by default: wrap the whole `App` and list the few public route
/// patterns with [`public`](Self::public) (matched against the route's
/// pattern, e.g. `/todos/{id}`, or the literal path). A middleware runs before
/// routing, so it cannot see a handler's `#[authenticate(skip)]`; public routes
/// of a protected scope are declared here.
///
/// ```
/// use actix_web::{web, App, HttpResponse};
/// use auth_core::{AuthPolicy, AuthenticationMiddleware, UserProfile};
///
/// async fn list(user: UserProfile) -> HttpResponse {
///     HttpResponse::Ok().body(user.id)
/// }
///
/// let app = App::new().service(
///     web::scope("/api")
///         .wrap(AuthenticationMiddleware::new(AuthPolicy::new().strategy("jwt"))
///             .public(["/api/health"]))
///         .route("/todos", web::get().to(list)),
/// );
/// # let _ = app;
/// ```
#[derive(Debug, Clone)]
pub struct AuthenticationMiddleware {
    policy: Arc<AuthPolicy>,
    public: Arc<[String]>,
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

    /// Route patterns (or literal paths) that are not authenticated.
    pub fn public<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.public = patterns.into_iter().map(Into::into).collect();
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

impl<S> AuthenticationService<S> {
    fn is_public(&self, req: &ServiceRequest) -> bool {
        if self.config.public.is_empty() {
            return false;
        }
        let pattern = req.match_pattern();
        self.config
            .public
            .iter()
            .any(|p| p == req.path() || pattern.as_deref() == Some(p.as_str()))
    }
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
        let policy = Arc::clone(&self.config.policy);
        let public = self.is_public(&req);
        Box::pin(async move {
            if !public
                && let Err(response) =
                    crate::sequence::authenticate_in_place(req.request(), &policy).await
            {
                return Ok(req.into_response(response).map_into_right_body());
            }
            service
                .call(req)
                .await
                .map(ServiceResponse::map_into_left_body)
        })
    }
}
