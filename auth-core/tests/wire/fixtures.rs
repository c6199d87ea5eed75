//! Shared strategies, handlers and request helpers.

use actix_web::dev::ServiceResponse;
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, StrategyOptions, StrategyRegistry,
    UserProfile, async_trait,
};

/// `X-User: <id>` authenticates as `id`; `X-User: bad` is a wrong
/// credential; `X-User: malformed` a malformed one (400). Its challenge is
/// RFC 6750's `Bearer` with realm `api`.
pub(crate) struct HeaderKey;

#[async_trait(?Send)]
impl AuthenticationStrategy for HeaderKey {
    fn name(&self) -> &str {
        "key"
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(value) = req.headers().get("x-user") else {
            return Ok(AuthOutcome::NotApplicable);
        };
        match value.to_str().unwrap_or("malformed") {
            "bad" => Err(AuthError::invalid_token("unknown key")),
            "malformed" => Err(AuthError::invalid_request("x-user is malformed")),
            user => Ok(AuthOutcome::Authenticated(
                UserProfile::new(user).with_scopes(["read"]),
            )),
        }
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer("api", failure))
    }
}

/// A second strategy, registered after [`HeaderKey`]: `X-Api-Key`.
pub(crate) struct ApiKey;

#[async_trait(?Send)]
impl AuthenticationStrategy for ApiKey {
    fn name(&self) -> &str {
        "apikey"
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        Ok(match req.headers().get("x-api-key") {
            Some(v) if v == "k" => AuthOutcome::Authenticated(UserProfile::new("robot")),
            Some(_) => return Err(AuthError::invalid_credentials("INVALID_KEY", "unknown key")),
            None => AuthOutcome::NotApplicable,
        })
    }

    fn challenge(&self, _failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::new("ApiKey").param("realm", "api"))
    }
}

pub(crate) fn registry() -> StrategyRegistry {
    StrategyRegistry::builder()
        .register(HeaderKey)
        .register(ApiKey)
        .build()
        .unwrap()
}

/// The protected handlers answer with a body that says which one ran and as
/// whom, so that a test sees exactly where a request landed.
pub(crate) async fn protected_plain() -> HttpResponse {
    HttpResponse::Ok().body("protected")
}

pub(crate) async fn protected_optional(user: Option<UserProfile>) -> HttpResponse {
    let who = user.map_or_else(|| "anonymous".to_owned(), |u| u.id.clone());
    HttpResponse::Ok().body(format!("protected-optional:{who}"))
}

pub(crate) async fn protected_required(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(format!("protected-required:{}", user.id))
}

/// The `{name}` segment only, so that the handler serves nested scopes with
/// more segments too.
#[derive(serde::Deserialize)]
pub(crate) struct Name {
    name: String,
}

pub(crate) async fn public_page(segments: web::Path<Name>) -> HttpResponse {
    HttpResponse::Ok().body(format!("page:{}", segments.name))
}

pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().body("healthy")
}

pub(crate) fn challenges<B>(resp: &ServiceResponse<B>) -> Vec<String> {
    auth_test_support::www_authenticate(resp.headers())
}

pub(crate) fn cache_control<B>(resp: &ServiceResponse<B>) -> Option<String> {
    resp.headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned())
}
