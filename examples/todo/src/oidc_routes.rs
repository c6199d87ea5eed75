//! "Log in with your identity provider": OpenID Connect login (auth-oauth2's
//! `OidcLogin`) that ends in the web page's browser session or in the
//! todo's own token pair.
//!
//! Mounted only when [`OidcSettings`] are configured:
//!
//! | route | |
//! |---|---|
//! | `GET /auth/oidc` | `200 {"login": "/auth/oidc/login?return_to=/app"}`: the page shows its button only when this answers (404 without the login configured) |
//! | `GET /auth/oidc/login` | `303` to the provider; `?return_to=/app` (the only destination allowed) for the web page |
//! | `GET /auth/oidc/callback` (the redirect URI's path, which must be this one) | checks the provider's answer and the ID token; a login started with `return_to=/app` then starts a browser session (the `__Host-session` cookie of `POST /session/login`) and answers `303` to `/app`; one started without `return_to` answers the todo's `{access_token, token_type, expires_in, refresh_token}` |
//! | `GET /auth/oidc/logout` | `303` to the provider's logout |
//!
//! The callback is a top-level navigation from the provider
//! (`Sec-Fetch-Site: cross-site`); it is a `GET`, which
//! `BrowserSessions::start_after_login_callback` accepts: the login's own
//! state, PKCE and nonce checks are what keep another site from logging a
//! browser in with its own account there.
//!
//! A user who logged in this way is `oidc:{sub}` (the provider's stable id)
//! with the role `user` and, when the provider vouches for it
//! (`email_verified`), the e-mail; the todo's own tokens then work as after
//! `POST /users/login` (refresh, logout, the todo routes). No user row is
//! written: such a user has no password here.
//!
//! The three handlers are the todo's own, each `#[authenticate(skip)]`, so
//! that the default-deny policy and the OpenAPI document see them like every
//! other route; they hand the request to `OidcLogin`.

use actix_web::{HttpRequest, HttpResponse, get, web};
use auth_core::{AuthError, UserProfile};
use auth_jwt::TokenService;
use auth_macros::authenticate;
use auth_oauth2::{CookieKey, LoginConfigError, LoginSuccess, OidcLogin};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use auth_token::BrowserSessions;

use crate::config::OidcSettings;

/// The login-info route the web page asks whether to show its button.
pub const INFO_PATH: &str = "/auth/oidc";
/// Where the web page's login starts: back to the page, with a session.
///
/// ```
/// use todo::oidc_routes::{LOGIN_PATH, PAGE_LOGIN, PAGE_PATH};
/// assert_eq!(PAGE_LOGIN, format!("{LOGIN_PATH}?return_to={PAGE_PATH}"));
/// ```
pub const PAGE_LOGIN: &str = "/auth/oidc/login?return_to=/app";
/// The one `return_to` destination allowed: the web page.
pub const PAGE_PATH: &str = "/app";
/// The login route.
pub const LOGIN_PATH: &str = "/auth/oidc/login";
/// The logout route.
pub const LOGOUT_PATH: &str = "/auth/oidc/logout";
/// The callback route: the path of the redirect URI registered at the
/// provider.
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

/// `GET /auth/oidc`: where the web page's login starts (only served when
/// the login is configured).
#[authenticate(skip)]
#[get("/auth/oidc")]
async fn info() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "login": PAGE_LOGIN }))
}

/// `GET /auth/oidc/login`: to the provider.
#[authenticate(skip)]
#[get("/auth/oidc/login")]
async fn start(req: HttpRequest, login: web::Data<OidcLogin>) -> HttpResponse {
    login.start_response(&req).await
}

/// `GET /auth/oidc/callback`: the provider's answer, ending in a browser
/// session (login started from the page) or the todo's token pair.
#[authenticate(skip)]
#[get("/auth/oidc/callback")]
async fn callback(req: HttpRequest, login: web::Data<OidcLogin>) -> HttpResponse {
    login.callback_response(req).await
}

/// `GET /auth/oidc/logout`: to the provider's logout.
#[authenticate(skip)]
#[get("/auth/oidc/logout")]
async fn logout(req: HttpRequest, login: web::Data<OidcLogin>) -> HttpResponse {
    login.logout_response(&req).await
}

/// Registers the three routes for `login`.
pub fn configure(login: OidcLogin) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(login))
            .service(info)
            .service(start)
            .service(callback)
            .service(logout);
    }
}

/// The login cookie's key, derived from the todo's signing secret (HMAC
/// with a label of its own), so that no second secret has to be kept and
/// no value signed here can pass for a token or the reverse.
fn cookie_key(secret: &[u8]) -> Result<CookieKey, LoginConfigError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .map_err(|e| LoginConfigError::CookieKey(e.to_string()))?;
    mac.update(b"todo: OpenID Connect login cookie key");
    CookieKey::new(mac.finalize().into_bytes())
}

/// The profile the todo's tokens are issued for after a provider login.
fn profile(login: &LoginSuccess) -> UserProfile {
    let claims = &login.claims;
    let mut profile = UserProfile::new(format!("oidc:{}", claims.subject())).with_roles(["user"]);
    let verified = claims.get("email_verified").and_then(|v| v.as_bool()) == Some(true);
    if let (true, Some(email)) = (verified, claims.get("email").and_then(|v| v.as_str())) {
        profile = profile.with_email(email.to_ascii_lowercase());
    }
    profile
}

/// Whether the login's checked destination is the web page (`/app`,
/// `/app?...`, `/app#...`, `/app/...`), i.e. it should end in a session.
fn for_the_page(return_to: &str) -> bool {
    return_to
        .strip_prefix(PAGE_PATH)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['?', '#', '/']))
}

/// Builds the login for `settings`; its handler starts a browser session
/// from `sessions` for a login started with `return_to=/app` and answers
/// the todo's own token pair from `tokens` otherwise.
///
/// The only `return_to` allowed is `/app`; a login without one gets the
/// callback path as its destination, which is never redirected to (it
/// only tells the handler to answer the token pair).
pub fn login(
    settings: &OidcSettings,
    secret: &[u8],
    tokens: TokenService,
    sessions: BrowserSessions,
) -> Result<OidcLogin, LoginConfigError> {
    let mut builder = OidcLogin::builder(
        settings.issuer.clone(),
        settings.client_id.clone(),
        settings.redirect_uri.clone(),
    )
    .cookie_key(cookie_key(secret)?)
    .scope("email")
    .login_path(LOGIN_PATH)
    .logout_path(LOGOUT_PATH)
    .allow_return_to(PAGE_PATH)
    .allow_return_to(CALLBACK_PATH)
    .default_return_to(CALLBACK_PATH)
    .on_login(move |req, login: LoginSuccess| {
        let tokens = tokens.clone();
        let sessions = sessions.clone();
        async move {
            if for_the_page(&login.return_to) {
                let started = sessions
                    .start_after_login_callback(&req, &profile(&login))
                    .await?;
                return Ok(HttpResponse::SeeOther()
                    .insert_header((actix_web::http::header::LOCATION, login.return_to.as_str()))
                    .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
                    .cookie(started.cookie().clone())
                    .finish());
            }
            let issued = tokens
                .issue(&profile(&login))
                .await
                .map_err(AuthError::from)?;
            Ok(issued.into_response())
        }
    });
    if let Some(secret) = &settings.client_secret {
        builder = builder.client_secret(secret.clone());
    }
    if settings.dangerously_allow_insecure_cookie {
        builder = builder.dangerously_allow_insecure_cookie();
    }
    let login = builder.build()?;
    if login.callback_path() != CALLBACK_PATH {
        return Err(LoginConfigError::InvalidPath {
            field: "redirect_uri",
            value: settings.redirect_uri.clone(),
            reason: format!("the todo serves its callback at {CALLBACK_PATH}"),
        });
    }
    Ok(login)
}

#[cfg(test)]
mod tests {
    use super::for_the_page;

    #[test]
    fn only_the_page_ends_in_a_session() {
        for page in ["/app", "/app?x=1", "/app#top", "/app/"] {
            assert!(for_the_page(page), "{page}");
        }
        for other in [
            "/auth/oidc/callback",
            "/",
            "/apple",
            "/ap",
            "",
            "/todos/app",
        ] {
            assert!(!for_the_page(other), "{other}");
        }
    }
}
