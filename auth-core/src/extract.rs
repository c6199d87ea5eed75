//! Extractors: [`UserProfile`], `Option<UserProfile>` and [`Authenticated<T>`].

use std::collections::HashSet;
use std::future::{Ready, ready};
use std::sync::{Mutex, OnceLock};

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpMessage, HttpRequest};
use futures_util::future::{Either, LocalBoxFuture};

use crate::render::{error_response, registry_challenges};
use crate::{AuthError, UserProfile};

fn rejection(req: &HttpRequest, error: AuthError) -> actix_web::Error {
    let response = error_response(req, &error, &[]);
    InternalError::from_response(error, response).into()
}

/// The fail-closed 401 of an extractor that found no profile. Its challenges
/// are those of every registered strategy (no policy says which ones apply),
/// so that the 401 tells the client how to authenticate (RFC 7235 §3.1).
fn missing(req: &HttpRequest) -> actix_web::Error {
    if !crate::sequence::authentication_ran(req) {
        warn_unannotated(req);
    }
    let error = AuthError::no_credentials("no authenticated user profile for this request");
    let response = error_response(req, &error, &registry_challenges(req));
    InternalError::from_response(error, response).into()
}

/// Logs, once per route pattern, that a handler asks for the profile while
/// neither `#[authenticate]` nor `AuthenticationMiddleware` handled its
/// request: such a handler can only ever answer 401 (or `None`).
fn warn_unannotated(req: &HttpRequest) {
    // Route patterns come from the application, never from the client, so
    // the set is bounded by the number of routes.
    static WARNED: OnceLock<Mutex<HashSet<String>>> = OnceLock::new();
    let pattern = req
        .match_pattern()
        .unwrap_or_else(|| "<no route>".to_owned());
    let first = WARNED
        .get_or_init(Mutex::default)
        .lock()
        .map(|mut warned| warned.insert(pattern.clone()))
        .unwrap_or(false);
    if first {
        tracing::warn!(
            route = %pattern,
            "a handler extracts UserProfile but no #[authenticate] attribute or \
             AuthenticationMiddleware ran for this route: add #[authenticate(\"...\")] to the \
             handler (or wrap its scope), otherwise it answers 401 to every request"
        );
    }
}

/// The profile of the authenticated principal, placed in the request by
/// `#[authenticate]` or [`AuthenticationMiddleware`](crate::AuthenticationMiddleware).
///
/// A handler that asks for it outside any authentication answers 401 with
/// the challenges of every registered strategy: the framework fails closed.
/// When neither `#[authenticate]` nor the middleware handled the request, a
/// warning naming the route is logged (once per route pattern): the
/// attribute is missing. Ask for `Option<UserProfile>` for optional
/// authentication.
impl FromRequest for UserProfile {
    type Error = actix_web::Error;
    type Future = Either<
        Ready<Result<Self, Self::Error>>,
        LocalBoxFuture<'static, Result<Self, Self::Error>>,
    >;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let profile = req.extensions().get::<UserProfile>().cloned();
        match profile {
            Some(profile) => Either::Left(ready(Ok(profile))),
            None if crate::middleware::passed_as_public(req) => {
                let req = req.clone();
                Either::Right(Box::pin(async move {
                    after_routing(&req).await?;
                    let profile = req.extensions().get::<UserProfile>().cloned();
                    profile.ok_or_else(|| missing(&req))
                }))
            }
            None => Either::Left(ready(Err(missing(req)))),
        }
    }
}

/// A request let through as public by a middleware, before routing, may
/// have been routed (by a guard) to a route that is not public: that
/// middleware's policy applies now, before the handler runs.
async fn after_routing(req: &HttpRequest) -> Result<(), actix_web::Error> {
    crate::middleware::enforce_after_routing(req)
        .await
        .map_err(|response| InternalError::from_response("authentication failed", response).into())
}

/// An application type built from the authenticated profile, for use with
/// [`Authenticated<T>`].
///
/// ```
/// use auth_core::{AuthError, FromProfile, UserProfile};
///
/// struct Admin { id: String }
///
/// impl FromProfile for Admin {
///     fn from_profile(profile: &UserProfile) -> Result<Self, AuthError> {
///         if profile.has_role("admin") {
///             Ok(Admin { id: profile.id.clone() })
///         } else {
///             Err(AuthError::forbidden("administrators only"))
///         }
///     }
/// }
/// ```
pub trait FromProfile: Sized + 'static {
    /// Builds the value, or rejects the request (typically with a 403).
    fn from_profile(profile: &UserProfile) -> Result<Self, AuthError>;
}

impl FromProfile for UserProfile {
    fn from_profile(profile: &UserProfile) -> Result<Self, AuthError> {
        Ok(profile.clone())
    }
}

/// Extracts an application type `T` from the authenticated profile.
///
/// ```
/// use actix_web::{get, HttpResponse};
/// use auth_core::{Authenticated, AuthError, FromProfile, UserProfile};
/// use auth_macros::authenticate;
///
/// struct UserId(String);
/// impl FromProfile for UserId {
///     fn from_profile(p: &UserProfile) -> Result<Self, AuthError> { Ok(UserId(p.id.clone())) }
/// }
///
/// #[get("/me")]
/// #[authenticate("jwt")]
/// async fn me(Authenticated(user): Authenticated<UserId>) -> HttpResponse {
///     HttpResponse::Ok().body(user.0)
/// }
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Authenticated<T = UserProfile>(pub T);

impl<T> Authenticated<T> {
    /// The inner value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> std::ops::Deref for Authenticated<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: FromProfile> FromRequest for Authenticated<T> {
    type Error = actix_web::Error;
    type Future = Either<
        Ready<Result<Self, Self::Error>>,
        LocalBoxFuture<'static, Result<Self, Self::Error>>,
    >;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        if !req.extensions().contains::<UserProfile>() && crate::middleware::passed_as_public(req) {
            let req = req.clone();
            return Either::Right(Box::pin(async move {
                after_routing(&req).await?;
                from_profile(&req)
            }));
        }
        Either::Left(ready(from_profile(req)))
    }
}

fn from_profile<T: FromProfile>(req: &HttpRequest) -> Result<Authenticated<T>, actix_web::Error> {
    let result = match req.extensions().get::<UserProfile>() {
        None => Err(None),
        Some(profile) => T::from_profile(profile).map_err(Some),
    };
    match result {
        Ok(value) => Ok(Authenticated(value)),
        Err(None) => Err(missing(req)),
        Err(Some(error)) => Err(rejection(req, error)),
    }
}
