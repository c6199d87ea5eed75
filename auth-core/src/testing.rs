//! Test helpers (feature `testing`): an identity strategy and a one-call test app.

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, web};

use crate::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, PrincipalKind, StrategyOptions,
    StrategyRegistry, UserProfile,
};

/// A strategy that authenticates every request as one configured principal
/// (RESTHeart's `identityAuthMechanism`). For tests and local development
/// only: it checks nothing.
///
/// ```
/// use auth_core::testing::IdentityStrategy;
/// use auth_core::StrategyRegistry;
///
/// let registry = StrategyRegistry::builder()
///     .register(IdentityStrategy::new("identity", "alice").roles(["admin"]))
///     .build()
///     .unwrap();
/// # let _ = registry;
/// ```
#[derive(Debug, Clone)]
pub struct IdentityStrategy {
    name: String,
    profile: UserProfile,
}

impl IdentityStrategy {
    /// Authenticates as user `id`, registered under `name`.
    pub fn new(name: impl Into<String>, id: impl Into<String>) -> Self {
        IdentityStrategy {
            name: name.into(),
            profile: UserProfile::new(id),
        }
    }

    /// Sets the roles.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.profile = self.profile.with_roles(roles);
        self
    }

    /// Sets the scopes.
    pub fn scopes<I, S>(mut self, scopes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.profile = self.profile.with_scopes(scopes);
        self
    }

    /// Sets the principal kind.
    pub fn kind(mut self, kind: PrincipalKind) -> Self {
        self.profile = self.profile.with_kind(kind);
        self
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for IdentityStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    async fn authenticate(
        &self,
        _req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        Ok(AuthOutcome::Authenticated(self.profile.clone()))
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.name, failure))
    }
}

/// Builds an in-process test service with `registry` in `app_data` and the
/// routes `configure` adds.
///
/// ```
/// use actix_web::{test, web, HttpResponse};
/// use auth_core::testing::{init_service, IdentityStrategy};
/// use auth_core::{StrategyRegistry, UserProfile};
///
/// # actix_web::rt::System::new().block_on(async {
/// let registry = StrategyRegistry::builder()
///     .register(IdentityStrategy::new("identity", "alice"))
///     .build()
///     .unwrap();
/// let app = init_service(registry, |cfg| {
///     cfg.route("/", web::get().to(|| async { HttpResponse::Ok().finish() }));
/// })
/// .await;
/// let resp = test::call_service(&app, test::TestRequest::get().uri("/").to_request()).await;
/// assert_eq!(resp.status(), 200);
/// # });
/// ```
pub async fn init_service(
    registry: StrategyRegistry,
    configure: impl FnOnce(&mut web::ServiceConfig),
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    actix_web::test::init_service(App::new().app_data(registry).configure(configure)).await
}
