//! Browser sessions: an opaque session token in an `HttpOnly` cookie, kept
//! on the [`StateStore`] by a [`TokenManager`], with CSRF protection for
//! state-changing requests. See [`BrowserSessions`] for the decisions.

use std::sync::Arc;
use std::time::Duration;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpRequest, HttpResponse};
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Clock, StateStore, StrategyOptions, UserProfile,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;
use subtle::ConstantTimeEq as _;

use crate::{TokenManager, TokenRecord};

/// The request header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The HMAC message the CSRF token signs (with the session token as key).
const CSRF_CONTEXT: &[u8] = b"auth-token browser-session csrf v1";

/// A 403 refusing a cross-site request (no challenge: nothing a credential
/// could fix).
fn cross_site(message: &'static str) -> AuthError {
    AuthError::rejected(
        actix_web::http::StatusCode::FORBIDDEN,
        "CROSS_SITE_REQUEST",
        message,
    )
}

fn csrf_refused(message: &'static str) -> AuthError {
    AuthError::rejected(
        actix_web::http::StatusCode::FORBIDDEN,
        "INVALID_CSRF_TOKEN",
        message,
    )
}

fn session_invalid() -> AuthError {
    AuthError::invalid_credentials("INVALID_SESSION", "the session is invalid or has expired")
}

/// Whether `method` may change state: everything but `GET`, `HEAD`,
/// `OPTIONS` and `TRACE` (RFC 9110 §9.2.1's safe methods).
fn is_unsafe(method: &Method) -> bool {
    !matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// The `scheme://host[:port]` of `origin`, lower-cased; `None` when it is
/// not one (`null`, a path, garbage).
fn normalise_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, rest) = origin.split_once("://")?;
    let valid_host = !rest.is_empty()
        && rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'));
    (matches!(scheme, "http" | "https") && valid_host).then_some(origin)
}

/// The host (and port) the request was sent to: `Host`, or the authority
/// of an HTTP/2 request's URI.
fn request_host(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .map(|h| h.to_ascii_lowercase())
}

/// One header's single visible-ASCII value; `Err` when it is repeated or not
/// text (a request that cannot be judged is refused).
fn single(headers: &HeaderMap, name: &str) -> Result<Option<String>, AuthError> {
    let mut values = headers.get_all(name);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(cross_site(
            "the request repeats its Origin or Sec-Fetch-Site header",
        ));
    }
    first
        .to_str()
        .map(|v| Some(v.trim().to_ascii_lowercase()))
        .map_err(|_| cross_site("the request's Origin or Sec-Fetch-Site header is not text"))
}

/// Browser sessions: a login puts an opaque session token in an `HttpOnly`
/// cookie; the [`SessionStrategy`] reads it back and, on state-changing
/// requests, checks that the request comes from the application's own
/// pages.
///
/// # Decisions
///
/// | what | choice | why |
/// |---|---|---|
/// | the token | a [`TokenManager`] token (256 random bits, only its SHA-256 stored) in namespace `session` of the [`StateStore`] | several instances agree; a leaked store leaks no session |
/// | cookie name | `__Host-session`; `session` with [`dangerously_allow_insecure_cookie`](Self::dangerously_allow_insecure_cookie) | `__Host-` makes the browser refuse the cookie unless it is `Secure`, `Path=/` and has no `Domain`, so a sibling subdomain cannot plant or shadow it |
/// | attributes | `HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=` the absolute timeout | scripts never see the token; `Lax` rather than `Strict`: a link to the application from elsewhere (an e-mail) still arrives logged in, and cross-site `POST`s, `fetch`es and frames carry no cookie; the CSRF checks below do not rely on `SameSite` anyway |
/// | idle timeout | 30 minutes, each use renews it ([`TokenManager::sliding`]) | an abandoned browser loses its session |
/// | absolute timeout | 12 hours after login, whatever the use | a stolen cookie does not live forever |
/// | rotation | [`start`](Self::start) (at login) revokes the session the request came with and issues a new token | session fixation: a token planted before login is worthless after it |
/// | logout | [`end`](Self::end) revokes the session on the store and clears the cookie (`Max-Age=0`, the same attributes) | the token is dead on every instance, not just forgotten by this browser |
/// | local cache | the manager's [`cache`](TokenManager::cache) (default: 10 000 sessions, 1 s): a request in a live session costs no store round trip; a logout or rotation drops the session from every instance's cache when the store's publish/subscribe delivers it (milliseconds), within 1 s at worst; the idle deadline is renewed on the store reads, so it may lag the last request by that second | sessions are checked on every page and API request |
/// | CSRF token | HMAC-SHA256 keyed with the session token, base64url: stateless, bound to the session (another session's token fails), unforgeable without the `HttpOnly` cookie, compared in constant time; sent in `X-CSRF-Token` | a signed double-submit token with no server secret to configure and no store round trip |
/// | origin check | unsafe methods (all but `GET`, `HEAD`, `OPTIONS`, `TRACE`): `Sec-Fetch-Site` must be `same-origin` or `none`; without it, an `Origin` must name the request's own host; a [trusted origin](Self::trusted_origin) passes too; no header at all (not a browser) passes to the CSRF token check | the algorithm of Go's `CrossOriginProtection`, made stricter: `same-site` (a sibling subdomain) is refused |
/// | refusals | 403 `CROSS_SITE_REQUEST` or `INVALID_CSRF_TOKEN`, no challenge; a dead session is 401 `INVALID_SESSION` | the body is the renderer's JSON, never the token |
///
/// The CSRF token reaches the page in the body of the login response and
/// of [`current`](Self::current) (`GET` for a reloaded page): a cross-site
/// page cannot read either (no CORS), so it cannot learn it.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use auth_core::MemoryStore;
/// use auth_token::BrowserSessions;
///
/// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()))
///     .idle_timeout(Duration::from_secs(15 * 60))
///     .absolute_timeout(Duration::from_secs(8 * 3600));
/// assert_eq!(sessions.cookie_name(), "__Host-session");
/// let local = BrowserSessions::new(Arc::new(MemoryStore::new())).dangerously_allow_insecure_cookie();
/// assert_eq!(local.cookie_name(), "session");
/// ```
#[derive(Clone)]
pub struct BrowserSessions {
    store: Arc<dyn StateStore>,
    clock: Option<Arc<dyn Clock>>,
    idle: Duration,
    absolute: Duration,
    max_per_user: usize,
    secure: bool,
    same_site: SameSite,
    base_name: String,
    trusted: Vec<String>,
    tokens: TokenManager,
}

impl std::fmt::Debug for BrowserSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrowserSessions")
            .field("cookie", &self.cookie_name())
            .field("idle", &self.idle)
            .field("absolute", &self.absolute)
            .field("secure", &self.secure)
            .field("same_site", &self.same_site)
            .field("trusted", &self.trusted)
            .finish_non_exhaustive()
    }
}

/// A session [`BrowserSessions::start`]ed: the cookie to set and the CSRF
/// token to hand to the page. `Debug` shows neither.
#[derive(Clone)]
pub struct StartedSession {
    cookie: Cookie<'static>,
    csrf_token: String,
    record: TokenRecord,
}

impl std::fmt::Debug for StartedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartedSession")
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl StartedSession {
    /// The `Set-Cookie` the response must carry.
    pub fn cookie(&self) -> &Cookie<'static> {
        &self.cookie
    }

    /// The CSRF token for the page, to send back in `X-CSRF-Token`.
    pub fn csrf_token(&self) -> &str {
        &self.csrf_token
    }

    /// The session's record (owner, roles, deadlines).
    pub fn record(&self) -> &TokenRecord {
        &self.record
    }

    /// `200` with the cookie, `Cache-Control: no-store` and the body of
    /// [`BrowserSessions::current`]:
    /// `{"user": {"id", "email", "roles"}, "csrf_token", "expires_at", "max_expires_at"}`.
    pub fn into_response(self) -> HttpResponse {
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(self.cookie)
            .json(session_body(&self.record, &self.csrf_token))
    }
}

fn session_body(record: &TokenRecord, csrf: &str) -> serde_json::Value {
    json!({
        "user": {"id": record.owner, "email": record.email, "roles": record.roles},
        "csrf_token": csrf,
        "expires_at": record.expires_at,
        "max_expires_at": record.max_expires_at,
    })
}

impl BrowserSessions {
    /// Sessions on `store`: idle timeout 30 minutes, absolute timeout 12
    /// hours, at most 10 per user (the oldest ends first), cookie
    /// `__Host-session` (`HttpOnly; Secure; SameSite=Lax; Path=/`).
    pub fn new(store: Arc<dyn StateStore>) -> Self {
        let mut sessions = BrowserSessions {
            tokens: TokenManager::new(Arc::clone(&store)),
            store,
            clock: None,
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
            max_per_user: 10,
            secure: true,
            same_site: SameSite::Lax,
            base_name: "session".into(),
            trusted: Vec::new(),
        };
        sessions.rebuild();
        sessions
    }

    fn rebuild(&mut self) {
        let mut tokens = TokenManager::new(Arc::clone(&self.store))
            .namespace("session")
            .location("/session")
            .ttl(self.idle)
            .sliding(self.absolute)
            .max_per_user(self.max_per_user);
        if let Some(clock) = &self.clock {
            tokens = tokens.clock(Arc::clone(clock));
        }
        self.tokens = tokens;
    }

    /// A session ends after this long without a request (at least one
    /// second; default 30 minutes).
    pub fn idle_timeout(mut self, idle: Duration) -> Self {
        self.idle = idle.max(Duration::from_secs(1));
        self.rebuild();
        self
    }

    /// A session ends this long after login, used or not (default 12
    /// hours; never shorter than the idle timeout).
    pub fn absolute_timeout(mut self, absolute: Duration) -> Self {
        self.absolute = absolute;
        self.rebuild();
        self
    }

    /// How many sessions a user may hold at once (default 10; at least 1);
    /// a new login beyond it ends the oldest.
    pub fn max_per_user(mut self, n: usize) -> Self {
        self.max_per_user = n.max(1);
        self.rebuild();
        self
    }

    /// Reads time from `clock` (tests: give the store the same
    /// [`ManualClock`](auth_core::ManualClock)).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = Some(clock);
        self.rebuild();
        self
    }

    /// `SameSite=Strict` instead of `Lax`: the cookie is not sent even on a
    /// top-level navigation from another site (a link from an e-mail
    /// arrives logged out).
    pub fn same_site_strict(mut self) -> Self {
        self.same_site = SameSite::Strict;
        self
    }

    /// The cookie's name without the `__Host-` prefix (default `session`).
    pub fn cookie_base_name(mut self, name: impl Into<String>) -> Self {
        self.base_name = name.into();
        self
    }

    /// Also accept state-changing requests whose `Origin` is `origin`
    /// (`https://app.example`), e.g. a front end served from another
    /// origin of the same application, or the public origin when a proxy
    /// rewrites `Host` (browsers without fetch metadata are then judged by
    /// `Origin` against that rewritten host). The CSRF token is still
    /// required. A value that is not an origin is ignored.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::MemoryStore;
    /// use auth_token::BrowserSessions;
    ///
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()))
    ///     .trusted_origin("https://admin.example");
    /// let req = TestRequest::post()
    ///     .insert_header(("sec-fetch-site", "same-site"))
    ///     .insert_header(("origin", "https://admin.example"))
    ///     .to_http_request();
    /// assert!(sessions.check_same_origin(&req).is_ok());
    /// ```
    pub fn trusted_origin(mut self, origin: &str) -> Self {
        if let Some(origin) = normalise_origin(origin) {
            self.trusted.push(origin);
        }
        self
    }

    /// For plain-`http` local development only: the cookie is not `Secure`
    /// and so cannot carry the `__Host-` prefix (it is named `session`).
    /// Anyone on the network path can then read the session token. Never
    /// in production.
    pub fn dangerously_allow_insecure_cookie(mut self) -> Self {
        self.secure = false;
        self
    }

    /// Whether the cookie is `Secure` (the default).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// The idle timeout.
    pub fn idle(&self) -> Duration {
        self.idle
    }

    /// The absolute timeout.
    pub fn absolute(&self) -> Duration {
        self.absolute.max(self.idle)
    }

    /// The cookie's name: `__Host-` + the base name when `Secure`.
    pub fn cookie_name(&self) -> String {
        if self.secure {
            format!("__Host-{}", self.base_name)
        } else {
            self.base_name.clone()
        }
    }

    fn cookie(&self, value: String, max_age: Duration) -> Cookie<'static> {
        let max_age = actix_web::cookie::time::Duration::seconds(
            i64::try_from(max_age.as_secs()).unwrap_or(i64::MAX),
        );
        Cookie::build(self.cookie_name(), value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(self.same_site)
            .max_age(max_age)
            .finish()
    }

    /// The `Set-Cookie` that deletes the session cookie: empty,
    /// `Max-Age=0`, the same name, path and attributes (a browser only
    /// replaces a cookie that matches them).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::MemoryStore;
    /// use auth_token::BrowserSessions;
    ///
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// let removal = sessions.removal_cookie().to_string();
    /// assert!(removal.starts_with("__Host-session=;"));
    /// assert!(removal.contains("Max-Age=0") && removal.contains("Secure") && removal.contains("HttpOnly"));
    /// ```
    pub fn removal_cookie(&self) -> Cookie<'static> {
        self.cookie(String::new(), Duration::ZERO)
    }

    /// The CSRF token that belongs to the session `token`.
    fn csrf_for(token: &str) -> String {
        // HMAC accepts keys of any length: this cannot fail.
        match <Hmac<Sha256> as Mac>::new_from_slice(token.as_bytes()) {
            Ok(mut mac) => {
                mac.update(CSRF_CONTEXT);
                URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
            }
            Err(_) => String::new(),
        }
    }

    /// The session token of `req`'s cookie, if it carries one.
    fn token_of(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(&self.cookie_name())
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// Refuses a state-changing request that a browser says comes from
    /// another origin (403 `CROSS_SITE_REQUEST`); safe methods always pass.
    /// Called by the [`SessionStrategy`] and [`start`](Self::start); call
    /// it in any other handler that acts on ambient credentials.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::MemoryStore;
    /// use auth_token::BrowserSessions;
    ///
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// let post = |site: &str| TestRequest::post().insert_header(("sec-fetch-site", site)).to_http_request();
    /// assert!(sessions.check_same_origin(&post("same-origin")).is_ok());
    /// assert_eq!(sessions.check_same_origin(&post("cross-site")).unwrap_err().status(), 403);
    /// assert_eq!(sessions.check_same_origin(&post("same-site")).unwrap_err().status(), 403);
    /// let get = TestRequest::get().insert_header(("sec-fetch-site", "cross-site")).to_http_request();
    /// assert!(sessions.check_same_origin(&get).is_ok());
    /// ```
    pub fn check_same_origin(&self, req: &HttpRequest) -> Result<(), AuthError> {
        if !is_unsafe(req.method()) {
            return Ok(());
        }
        let headers = req.headers();
        let origin = single(headers, "origin")?;
        let trusted = origin
            .as_deref()
            .and_then(normalise_origin)
            .is_some_and(|o| self.trusted.contains(&o));
        // SAFETY-style note: Sec-Fetch-Site is set by the browser and cannot
        // be set by a page's script (a forbidden header name); `none` is a
        // request the user started (typed URL, bookmark).
        match single(headers, "sec-fetch-site")?.as_deref() {
            Some("same-origin" | "none") => return Ok(()),
            Some(_) if trusted => return Ok(()),
            Some(_) => {
                return Err(cross_site(
                    "cross-site requests may not change state: the request did not come from this application's pages",
                ));
            }
            None => {}
        }
        // Browsers without fetch metadata: the Origin must be this host.
        let Some(origin) = origin else {
            // Not a browser (curl, a server): ambient credentials do not
            // come into it; the CSRF token is still checked.
            return Ok(());
        };
        if trusted {
            return Ok(());
        }
        let host = normalise_origin(&origin).and_then(|o| {
            o.split_once("://")
                .map(|(_, authority)| authority.to_owned())
        });
        match (host, request_host(req)) {
            (Some(origin_host), Some(host)) if origin_host == host => Ok(()),
            _ => Err(cross_site(
                "cross-origin requests may not change state: the Origin is not this application",
            )),
        }
    }

    /// Checks the `X-CSRF-Token` of `req` against the session `token`, in
    /// constant time: 403 `INVALID_CSRF_TOKEN` when missing or wrong.
    fn check_csrf(req: &HttpRequest, token: &str) -> Result<(), AuthError> {
        let mut values = req.headers().get_all(CSRF_HEADER);
        let Some(sent) = values.next() else {
            return Err(csrf_refused(
                "the request has no X-CSRF-Token header: send the csrf_token of the login response",
            ));
        };
        if values.next().is_some() {
            return Err(csrf_refused("the request has more than one X-CSRF-Token"));
        }
        let expected = Self::csrf_for(token);
        if bool::from(sent.as_bytes().ct_eq(expected.as_bytes())) {
            Ok(())
        } else {
            Err(csrf_refused("the X-CSRF-Token does not match the session"))
        }
    }

    /// The live session of `req`, renewed (idle timeout), with the checks
    /// of the [`SessionStrategy`]: `Ok(None)` without a session cookie,
    /// 403 for a cross-site or CSRF-less state-changing request, 401 for a
    /// dead session.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::{BrowserSessions, CSRF_HEADER};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// let login = TestRequest::post().to_http_request();
    /// let started = sessions.start(&login, &UserProfile::new("ada")).await.unwrap();
    /// let cookie = started.cookie().clone();
    ///
    /// let get = TestRequest::get().cookie(cookie.clone()).to_http_request();
    /// assert_eq!(sessions.authenticate(&get).await.unwrap().unwrap().owner, "ada");
    /// let post = TestRequest::post().cookie(cookie.clone()).to_http_request();
    /// assert_eq!(sessions.authenticate(&post).await.unwrap_err().status(), 403);
    /// let post = TestRequest::post()
    ///     .cookie(cookie)
    ///     .insert_header((CSRF_HEADER, started.csrf_token()))
    ///     .to_http_request();
    /// assert!(sessions.authenticate(&post).await.unwrap().is_some());
    /// let anonymous = TestRequest::post().to_http_request();
    /// assert!(sessions.authenticate(&anonymous).await.unwrap().is_none());
    /// # });
    /// ```
    pub async fn authenticate(&self, req: &HttpRequest) -> Result<Option<TokenRecord>, AuthError> {
        let Some(token) = self.token_of(req) else {
            return Ok(None);
        };
        if is_unsafe(req.method()) {
            // Before the store: a forged request costs no round trip and
            // renews nothing.
            self.check_same_origin(req)?;
            Self::check_csrf(req, &token)?;
        }
        match self.tokens.verify(&token).await? {
            Some(record) => Ok(Some(record)),
            None => Err(session_invalid()),
        }
    }

    /// Starts a session for `profile` (after the password was checked):
    /// refuses a cross-site request (403), ends the session the request
    /// came with, if any (rotation: a token fixed before login is dead
    /// after it), and issues a new one.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::BrowserSessions;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// let req = TestRequest::post().uri("/session").to_http_request();
    /// let started = sessions.start(&req, &UserProfile::new("ada")).await.unwrap();
    /// assert_eq!(started.cookie().name(), "__Host-session");
    /// assert_eq!(started.record().owner, "ada");
    /// assert_eq!(started.csrf_token().len(), 43);
    /// # });
    /// ```
    ///
    /// The origin check applies to unsafe methods only: a `GET` (a
    /// redirect's callback) passes it whatever its `Sec-Fetch-Site`. A login
    /// callback should call [`start_after_login_callback`](Self::start_after_login_callback)
    /// instead, which says why no origin check is made.
    pub async fn start(
        &self,
        req: &HttpRequest,
        profile: &UserProfile,
    ) -> Result<StartedSession, AuthError> {
        self.check_same_origin(req)?;
        self.issue_session(req, profile).await
    }

    /// Starts a session at the end of a federated login's callback (OpenID
    /// Connect, OAuth 2.0): like [`start`](Self::start) (rotation, a new
    /// token) but without its origin check, because such a callback is a
    /// navigation from the provider's site (`Sec-Fetch-Site: cross-site`,
    /// an `Origin` of the provider), a `GET` redirect or, with
    /// `response_mode=form_post`, a cross-site `POST`.
    ///
    /// SAFETY-NOTE: call it only after the callback's own checks passed:
    /// the `state` bound to the browser by the login's cookie, the PKCE
    /// verifier and the ID token's `nonce` (auth-oauth2's `OidcLogin` does
    /// all three before its `on_login` handler runs). Those checks are the
    /// CSRF protection of this request (RFC 9700 §4.7): another site cannot
    /// complete a login it did not start in this browser. Never call it
    /// from a handler that takes credentials from the request body.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::BrowserSessions;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// // A form_post callback: a POST from the provider's site.
    /// let callback = TestRequest::post()
    ///     .uri("/auth/callback")
    ///     .insert_header(("sec-fetch-site", "cross-site"))
    ///     .insert_header(("origin", "https://login.example"))
    ///     .to_http_request();
    /// assert_eq!(sessions.start(&callback, &UserProfile::new("ada")).await.unwrap_err().status(), 403);
    /// let started = sessions.start_after_login_callback(&callback, &UserProfile::new("ada")).await.unwrap();
    /// assert_eq!(started.record().owner, "ada");
    /// # });
    /// ```
    pub async fn start_after_login_callback(
        &self,
        req: &HttpRequest,
        profile: &UserProfile,
    ) -> Result<StartedSession, AuthError> {
        self.issue_session(req, profile).await
    }

    /// Rotation (the session the request came with ends) and a new session.
    async fn issue_session(
        &self,
        req: &HttpRequest,
        profile: &UserProfile,
    ) -> Result<StartedSession, AuthError> {
        self.revoke_token(req).await?;
        let issued = self.tokens.issue(profile).await?;
        let csrf_token = Self::csrf_for(&issued.token);
        Ok(StartedSession {
            cookie: self.cookie(issued.token, self.absolute()),
            csrf_token,
            record: issued.record,
        })
    }

    async fn revoke_token(&self, req: &HttpRequest) -> Result<(), AuthError> {
        if let Some(old) = self.token_of(req)
            && let Some(record) = self.tokens.verify(&old).await?
        {
            self.tokens.revoke(&record.owner, &record.id).await?;
        }
        Ok(())
    }

    /// Logout: `204` clearing the cookie, after revoking the session on
    /// the store. A state-changing request, so checked as one (403 when
    /// cross-site or without the CSRF token); without a live session it
    /// only clears the cookie.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::{BrowserSessions, CSRF_HEADER};
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// let started = sessions.start(&TestRequest::post().to_http_request(), &UserProfile::new("ada")).await.unwrap();
    /// let logout = TestRequest::post()
    ///     .cookie(started.cookie().clone())
    ///     .insert_header((CSRF_HEADER, started.csrf_token()))
    ///     .to_http_request();
    /// let response = sessions.end(&logout).await.unwrap();
    /// assert_eq!(response.status(), 204);
    /// let cleared = response.headers().get("set-cookie").unwrap().to_str().unwrap();
    /// assert!(cleared.contains("Max-Age=0"));
    /// // The token is dead on the store, not only forgotten by the browser.
    /// let again = TestRequest::get().cookie(started.cookie().clone()).to_http_request();
    /// assert_eq!(sessions.authenticate(&again).await.unwrap_err().status(), 401);
    /// # });
    /// ```
    pub async fn end(&self, req: &HttpRequest) -> Result<HttpResponse, AuthError> {
        if let Some(token) = self.token_of(req) {
            self.check_same_origin(req)?;
            Self::check_csrf(req, &token)?;
            self.revoke_token(req).await?;
        }
        Ok(HttpResponse::NoContent()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .cookie(self.removal_cookie())
            .finish())
    }

    /// `GET` for a page (re)loading: `200` with the session's user and its
    /// CSRF token (the body of [`StartedSession::into_response`]), or 401
    /// without a live session.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use actix_web::test::TestRequest;
    /// use auth_core::{MemoryStore, UserProfile};
    /// use auth_token::BrowserSessions;
    ///
    /// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
    /// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
    /// let started = sessions.start(&TestRequest::post().to_http_request(), &UserProfile::new("ada")).await.unwrap();
    /// let reload = TestRequest::get().cookie(started.cookie().clone()).to_http_request();
    /// assert_eq!(sessions.current(&reload).await.unwrap().status(), 200);
    /// let stranger = TestRequest::get().to_http_request();
    /// assert_eq!(sessions.current(&stranger).await.unwrap_err().status(), 401);
    /// # });
    /// ```
    pub async fn current(&self, req: &HttpRequest) -> Result<HttpResponse, AuthError> {
        let Some(token) = self.token_of(req) else {
            return Err(AuthError::no_credentials("no session: log in first"));
        };
        match self.tokens.verify(&token).await? {
            Some(record) => Ok(HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(session_body(&record, &Self::csrf_for(&token)))),
            None => Err(session_invalid()),
        }
    }

    /// The session manager underneath (list or revoke a user's sessions).
    pub fn tokens(&self) -> &TokenManager {
        &self.tokens
    }
}

/// The strategy of [`BrowserSessions`]: authenticates from the session
/// cookie; "not mine" without one, so `#[authenticate("session", "jwt")]`
/// serves pages and bearer clients alike. State-changing requests with the
/// cookie must pass the origin and CSRF checks (403).
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{MemoryStore, StrategyRegistry};
/// use auth_token::{BrowserSessions, SessionStrategy};
///
/// let sessions = BrowserSessions::new(Arc::new(MemoryStore::new()));
/// let registry = StrategyRegistry::builder()
///     .register(SessionStrategy::new("session", sessions))
///     .build()
///     .unwrap();
/// # let _ = registry;
/// ```
#[derive(Debug, Clone)]
pub struct SessionStrategy {
    name: String,
    sessions: BrowserSessions,
}

impl SessionStrategy {
    /// A strategy named `name`.
    pub fn new(name: impl Into<String>, sessions: BrowserSessions) -> Self {
        SessionStrategy {
            name: name.into(),
            sessions,
        }
    }
}

#[async_trait::async_trait(?Send)]
impl AuthenticationStrategy for SessionStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    /// `apiKey` in the session cookie (OpenAPI's way to name a cookie
    /// credential); the description says that state-changing requests also
    /// need the CSRF token header.
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
        Some(SecurityScheme::ApiKey(ApiKey::Cookie(
            ApiKeyValue::with_description(
                self.sessions.cookie_name(),
                format!(
                    "Browser session cookie (HttpOnly); POST, PUT, PATCH and DELETE also need the \
                     `{CSRF_HEADER}` header from the login answer and a same-origin request"
                ),
            ),
        )))
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        Ok(match self.sessions.authenticate(req).await? {
            Some(record) => AuthOutcome::Authenticated(record.profile()),
            None => AuthOutcome::NotApplicable,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_normalise_or_are_refused() {
        assert_eq!(
            normalise_origin("HTTPS://App.Example:8443").as_deref(),
            Some("https://app.example:8443")
        );
        for bad in [
            "null",
            "",
            "app.example",
            "ftp://x",
            "https://",
            "https://a/b",
        ] {
            assert_eq!(normalise_origin(bad), None, "{bad}");
        }
    }

    #[test]
    fn csrf_tokens_are_bound_to_the_session() {
        let a = BrowserSessions::csrf_for("a".repeat(43).as_str());
        let b = BrowserSessions::csrf_for("b".repeat(43).as_str());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(a, BrowserSessions::csrf_for("a".repeat(43).as_str()));
    }

    fn cross_site(method: actix_web::http::Method) -> actix_web::test::TestRequest {
        actix_web::test::TestRequest::default()
            .method(method)
            .uri("/auth/callback?code=c&state=s")
            .insert_header(("sec-fetch-site", "cross-site"))
            .insert_header(("origin", "https://login.example"))
    }

    #[tokio::test]
    async fn login_callbacks_start_sessions_from_the_providers_site() {
        use actix_web::http::Method;
        let sessions = BrowserSessions::new(Arc::new(auth_core::MemoryStore::new()));
        let ada = UserProfile::new("ada");
        // start: a cross-site GET (the redirect) passes, unsafe methods do not.
        let get = cross_site(Method::GET).to_http_request();
        assert!(sessions.start(&get, &ada).await.is_ok());
        for method in [Method::POST, Method::PUT, Method::DELETE, Method::PATCH] {
            let req = cross_site(method.clone()).to_http_request();
            let err = sessions.start(&req, &ada).await.unwrap_err();
            assert_eq!(err.status(), 403, "{method}");
        }
        // The callback's start: a form_post POST too, and with rotation.
        let first = sessions
            .start_after_login_callback(&cross_site(Method::POST).to_http_request(), &ada)
            .await
            .unwrap();
        let again = cross_site(Method::POST)
            .cookie(first.cookie().clone())
            .to_http_request();
        let second = sessions
            .start_after_login_callback(&again, &ada)
            .await
            .unwrap();
        assert_ne!(first.cookie().value(), second.cookie().value());
        let old = actix_web::test::TestRequest::get()
            .cookie(first.cookie().clone())
            .to_http_request();
        assert_eq!(sessions.authenticate(&old).await.unwrap_err().status(), 401);
        let new = actix_web::test::TestRequest::get()
            .cookie(second.cookie().clone())
            .to_http_request();
        assert_eq!(
            sessions.authenticate(&new).await.unwrap().unwrap().owner,
            "ada"
        );
    }
}
