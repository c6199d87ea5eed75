//! Extractors: [`UserProfile`], `Option<UserProfile>` and [`Authenticated<T>`].

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::error::InternalError;
use actix_web::{FromRequest, HttpMessage, HttpRequest};

use crate::render::error_response;
use crate::{AuthError, UserProfile};

fn rejection(req: &HttpRequest, error: AuthError) -> actix_web::Error {
    let response = error_response(req, &error, &[]);
    InternalError::from_response(error, response).into()
}

fn missing(req: &HttpRequest) -> actix_web::Error {
    rejection(
        req,
        AuthError::no_credentials("no authenticated user profile for this request"),
    )
}

/// The profile of the authenticated principal, placed in the request by
/// `#[authenticate]` or [`AuthenticationMiddleware`](crate::AuthenticationMiddleware).
///
/// A handler that asks for it outside any authentication answers 401: the
/// framework fails closed. Ask for `Option<UserProfile>` for optional
/// authentication.
impl FromRequest for UserProfile {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let profile = req.extensions().get::<UserProfile>().cloned();
        ready(profile.ok_or_else(|| missing(req)))
    }
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
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let result = match req.extensions().get::<UserProfile>() {
            None => Err(None),
            Some(profile) => T::from_profile(profile).map_err(Some),
        };
        ready(match result {
            Ok(value) => Ok(Authenticated(value)),
            Err(None) => Err(missing(req)),
            Err(Some(error)) => Err(rejection(req, error)),
        })
    }
}
