//! The web page (`GET /app`) and its browser session routes
//! (`/session/login`, `/session`, `/session/logout`).
//!
//! The page is plain HTML, CSS and JavaScript carried in the binary
//! (`include_str!`), with no build step and nothing fetched from anywhere
//! else; a strict `Content-Security-Policy` allows only this origin's own
//! script, style and `fetch`, and no framing. The page logs in with a
//! browser session ([`auth_token::BrowserSessions`]): an `HttpOnly`
//! `__Host-session` cookie the script never sees, and a CSRF token it
//! sends in `X-CSRF-Token` on every state-changing request. Every request
//! it makes sends `No-Auth-Challenge: true`, so a 401 brings up no Basic
//! pop-up. The JSON API is unchanged for bearer clients: the `session`
//! strategy is "not mine" without the cookie.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use auth_core::error_response;
use auth_macros::authenticate;
use auth_token::BrowserSessions;

use crate::auth_routes::{AuthState, Credentials, check_password};

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");

/// The page's `Content-Security-Policy`: its own script, style and API,
/// nothing inline, nothing from elsewhere, never in a frame.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; \
     frame-ancestors 'none'; base-uri 'none'";

fn asset(content_type: &'static str, body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(content_type)
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .body(body)
}

/// `GET /app`: the page.
#[authenticate(skip)]
#[get("/app")]
async fn page() -> HttpResponse {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /app/app.js`: its script.
#[authenticate(skip)]
#[get("/app/app.js")]
async fn script() -> HttpResponse {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /app/app.css`: its style.
#[authenticate(skip)]
#[get("/app/app.css")]
async fn style() -> HttpResponse {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `POST /session/login {email, password}`: the password checked under the
/// login guard (one budget with `/users/login` and Basic), then a new
/// session (the one the browser came with, if any, ends): `Set-Cookie:
/// __Host-session=…` and `{user, csrf_token, expires_at, max_expires_at}`.
/// A cross-site request is 403 before the password is looked at.
#[authenticate(skip)]
#[post("/session/login")]
async fn session_login(
    req: HttpRequest,
    body: web::Json<Credentials>,
    state: web::Data<AuthState>,
    sessions: web::Data<BrowserSessions>,
) -> HttpResponse {
    if let Err(e) = sessions.check_same_origin(&req) {
        return error_response(&req, &e, &[]);
    }
    let profile = match check_password(&req, body.into_inner(), &state).await {
        Ok(profile) => profile,
        Err(refused) => return refused,
    };
    match sessions.start(&req, &profile).await {
        Ok(started) => started.into_response(),
        Err(e) => error_response(&req, &e, &[]),
    }
}

/// `GET /session`: the session's user and CSRF token, for a page that
/// reloads; 401 without a live session.
#[authenticate(skip)]
#[get("/session")]
async fn session_current(req: HttpRequest, sessions: web::Data<BrowserSessions>) -> HttpResponse {
    sessions
        .current(&req)
        .await
        .unwrap_or_else(|e| error_response(&req, &e, &[]))
}

/// `POST /session/logout` (cookie + `X-CSRF-Token`): 204, the session
/// revoked on every instance and the cookie cleared.
#[authenticate(skip)]
#[post("/session/logout")]
async fn session_logout(req: HttpRequest, sessions: web::Data<BrowserSessions>) -> HttpResponse {
    sessions
        .end(&req)
        .await
        .unwrap_or_else(|e| error_response(&req, &e, &[]))
}

/// Registers the page and the session routes.
pub fn configure(sessions: BrowserSessions) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(web::Data::new(sessions))
            .service(page)
            .service(script)
            .service(style)
            .service(session_login)
            .service(session_current)
            .service(session_logout);
    }
}
