//! What the brute-force guard's wire tests share: a strategy that checks
//! `X-Pass: user:password` behind the guard, as Basic does, and a route
//! protected by it.

use actix_web::{HttpRequest, HttpResponse, get};
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, BruteForceGuard, Challenge, StrategyOptions,
    UserProfile, async_trait,
};
use auth_macros::authenticate;

/// The one password `check_password` accepts, for every user.
pub(crate) const RIGHT: &str = "right password";

/// A profile named `user` for [`RIGHT`], 401 otherwise.
pub(crate) fn check_password(user: &str, password: &str) -> Result<UserProfile, AuthError> {
    if password == RIGHT {
        Ok(UserProfile::new(user))
    } else {
        Err(AuthError::invalid_credentials(
            "INVALID_CREDENTIALS",
            "wrong user or password",
        ))
    }
}

/// `X-Pass: user:password`, checked behind the guard, as Basic does.
pub(crate) struct HeaderPassword(pub(crate) BruteForceGuard);

#[async_trait(?Send)]
impl AuthenticationStrategy for HeaderPassword {
    fn name(&self) -> &str {
        "pass"
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(value) = req.headers().get("x-pass") else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let (user, password) = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(':'))
            .ok_or_else(|| AuthError::invalid_request("x-pass is user:password"))?;
        let attempt = self.0.check(req, Some(user)).await?;
        let result = check_password(user, password);
        attempt.record(&result).await;
        result.map(AuthOutcome::Authenticated)
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer("api", failure))
    }
}

#[get("/guarded")]
#[authenticate("pass")]
pub(crate) async fn guarded(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}
