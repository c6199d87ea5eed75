//! [`OidcLogin`]: OpenID Connect login of browser users (relying party),
//! authorization code flow with PKCE, on the `oauth2` crate and auth-jwt.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::AuthError;
use auth_core::outbound::checked_url;
use auth_jwt::{JwksKeys, JwtStrategy};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet,
    ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, StandardRevocableToken, StandardTokenResponse, TokenResponse,
    TokenUrl,
};
use reqwest::Url;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::discovery::{DiscoveryError, ProviderMetadata};
use crate::http::{HttpError, OutboundHttp};

/// Shortest application key accepted for signing the login cookie, in
/// bytes (the HMAC-SHA256 output size).
///
/// ```
/// assert_eq!(auth_oauth2::MIN_COOKIE_KEY_LEN, 32);
/// ```
pub const MIN_COOKIE_KEY_LEN: usize = 32;

/// Longest `return_to` accepted, in bytes; a longer one is a 400.
///
/// ```
/// assert_eq!(auth_oauth2::MAX_RETURN_TO_LEN, 1024);
/// ```
pub const MAX_RETURN_TO_LEN: usize = 1024;

/// Domain separation of the cookie MAC: a value signed for another purpose
/// with the same application key never verifies here.
const MAC_CONTEXT: &[u8] = b"auth-oauth2 oidc login cookie v1\0";

// ---------------------------------------------------------------------------
// Errors

/// Why an [`OidcLogin`] could not be built. Found at start-up, never at
/// request time; no variant carries a secret.
///
/// ```
/// use auth_oauth2::{LoginConfigError, OidcLogin};
/// let err = OidcLogin::builder("https://login.example", "todo-web", "https://todo.example/auth/callback")
///     .build()
///     .unwrap_err();
/// assert!(matches!(err, LoginConfigError::NoCookieKey));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginConfigError {
    /// No application key for the login cookie: there is no built-in
    /// default.
    #[error(
        "no cookie key: set .cookie_key(CookieKey::new(..)) with at least {MIN_COOKIE_KEY_LEN} random bytes"
    )]
    NoCookieKey,
    /// The cookie key is shorter than [`MIN_COOKIE_KEY_LEN`] bytes or is
    /// not valid base64.
    #[error("the cookie key is unusable: {0}")]
    CookieKey(String),
    /// A URL setting is refused (scheme, query, fragment).
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidUrl {
        /// The setting (`issuer`, `redirect_uri`, ...).
        field: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A path setting is refused (not absolute, clashes with another route).
    #[error("invalid {field} {value:?}: {reason}")]
    InvalidPath {
        /// The setting (`login_path`, `logout_path`, `allow_return_to`, ...).
        field: &'static str,
        /// Its value.
        value: String,
        /// Why.
        reason: String,
    },
    /// The redirect URI is plain `http` while the login cookie is `Secure`:
    /// the browser would never send it back, so every login would fail.
    #[error(
        "the redirect URI {0:?} is http while the login cookie is Secure; use https, or dangerously_allow_insecure_cookie() for local development"
    )]
    InsecureRedirect(String),
    /// The client id is empty.
    #[error("the client id is empty")]
    NoClientId,
    /// The outbound HTTP client could not be built.
    #[error("the outbound HTTP client could not be built: {0}")]
    Outbound(String),
}

/// Why a login, refresh or logout step failed. Each variant knows its
/// status ([`LoginError::to_auth_error`]); none carries a token, a code, a
/// PKCE verifier or the client secret.
///
/// | variant | status |
/// |---|---|
/// | `ReturnToRefused`, `MissingCookie`, `InvalidCookie`, `StateMismatch`, `BadCallback`, `CodeRefused`, `PostLogoutRedirectRefused` | 400 |
/// | `InvalidIdToken`, `RefreshRefused` | 401 |
/// | `ProviderError` | 403 for `access_denied`, 400 otherwise |
/// | `LogoutUnsupported` | 404 |
/// | `ProviderUnavailable` | 503 with `Retry-After` |
///
/// ```
/// use auth_oauth2::LoginError;
/// let e = LoginError::ProviderError { error: "access_denied".into(), description: None };
/// assert_eq!(e.to_auth_error().status(), 403);
/// assert_eq!(e.to_auth_error().code(), "ACCESS_DENIED");
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// `return_to` is not an allowed relative path or origin (RFC 9700
    /// §4.11: no open redirects).
    #[error("return_to is not an allowed destination")]
    ReturnToRefused,
    /// The callback came without the login cookie (expired in the browser,
    /// another browser, or a forged callback).
    #[error("no login in progress in this browser: start the login again")]
    MissingCookie,
    /// The login cookie does not verify (tampered, another key, malformed)
    /// or has expired.
    #[error("the login cookie is invalid: {0}")]
    InvalidCookie(CookieError),
    /// The callback's `state` is missing or not the cookie's (CSRF).
    #[error("the login state does not match: start the login again")]
    StateMismatch,
    /// The callback's query is malformed (a repeated parameter, no `code`,
    /// an `iss` naming another issuer).
    #[error("invalid callback: {0}")]
    BadCallback(&'static str),
    /// The provider answered the authorization request with an error
    /// (RFC 6749 §4.1.2.1), e.g. `access_denied`.
    #[error("the identity provider refused the login: {error}{}", description.as_deref().map(|d| format!(" ({d})")).unwrap_or_default())]
    ProviderError {
        /// The `error` code (sanitised).
        error: String,
        /// The `error_description`, if any (sanitised, shortened).
        description: Option<String>,
    },
    /// The token endpoint refused the authorization code (`invalid_grant`:
    /// used twice, expired, wrong PKCE verifier; or `invalid_request`). Its
    /// refusal of this client (`invalid_client`, ...) is
    /// [`ProviderUnavailable`](Self::ProviderUnavailable).
    #[error("the identity provider refused the authorization code: {0}")]
    CodeRefused(String),
    /// The token endpoint refused the refresh token.
    #[error("the identity provider refused the refresh token: {0}")]
    RefreshRefused(String),
    /// The ID token is missing or fails a check (signature, `iss`, `aud`,
    /// `azp`, `nonce`, `exp`, `iat`, `sub`).
    #[error("the ID token is invalid: {0}")]
    InvalidIdToken(String),
    /// The provider cannot be used now: discovery or the token endpoint is
    /// unreachable, answers 5xx or something unusable. Fail closed.
    #[error("the identity provider is unavailable: {reason}")]
    ProviderUnavailable {
        /// What failed (no secret).
        reason: String,
        /// When to try again.
        retry_after: Duration,
    },
    /// `post_logout_redirect_uri` is not in the allow-list.
    #[error("post_logout_redirect_uri is not an allowed destination")]
    PostLogoutRedirectRefused,
    /// The provider's discovery document has no `end_session_endpoint`.
    #[error("the identity provider offers no logout endpoint")]
    LogoutUnsupported,
}

impl LoginError {
    /// The framework error this becomes: its status, code and client-safe
    /// message, rendered by the registry's renderer.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_oauth2::LoginError;
    /// let e = LoginError::ProviderUnavailable { reason: "down".into(), retry_after: Duration::from_secs(10) };
    /// let a = e.to_auth_error();
    /// assert_eq!((a.status().as_u16(), a.retry_after()), (503, Some(Duration::from_secs(10))));
    /// ```
    pub fn to_auth_error(&self) -> AuthError {
        let msg = self.to_string();
        match self {
            LoginError::ReturnToRefused => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "RETURN_TO_REFUSED", msg)
            }
            LoginError::MissingCookie => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "LOGIN_STATE_MISSING", msg)
            }
            LoginError::InvalidCookie(_) | LoginError::StateMismatch => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "LOGIN_STATE_INVALID", msg)
            }
            LoginError::BadCallback(_) => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "INVALID_CALLBACK", msg)
            }
            LoginError::ProviderError { error, .. } if error == "access_denied" => {
                AuthError::rejected(StatusCode::FORBIDDEN, "ACCESS_DENIED", msg)
            }
            LoginError::ProviderError { .. } => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "PROVIDER_ERROR", msg)
            }
            LoginError::CodeRefused(_) => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "CODE_REFUSED", msg)
            }
            LoginError::RefreshRefused(_) => {
                AuthError::rejected(StatusCode::UNAUTHORIZED, "REFRESH_REFUSED", msg)
            }
            LoginError::InvalidIdToken(_) => {
                AuthError::rejected(StatusCode::UNAUTHORIZED, "INVALID_ID_TOKEN", msg)
            }
            LoginError::ProviderUnavailable { retry_after, .. } => AuthError::Unavailable {
                message: "the identity provider is unavailable".into(),
                retry_after: Some(*retry_after),
            },
            LoginError::PostLogoutRedirectRefused => {
                AuthError::rejected(StatusCode::BAD_REQUEST, "POST_LOGOUT_REDIRECT_REFUSED", msg)
            }
            LoginError::LogoutUnsupported => {
                AuthError::rejected(StatusCode::NOT_FOUND, "LOGOUT_UNSUPPORTED", msg)
            }
        }
    }
}

impl actix_web::ResponseError for LoginError {
    fn status_code(&self) -> StatusCode {
        self.to_auth_error().status()
    }

    fn error_response(&self) -> HttpResponse {
        actix_web::ResponseError::error_response(&self.to_auth_error())
    }
}

/// Why a login cookie was refused.
///
/// ```
/// assert_eq!(auth_oauth2::CookieError::Expired.to_string(), "expired");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CookieError {
    /// Not `payload.mac` in base64url, or a payload of another shape.
    #[error("malformed")]
    Malformed,
    /// The MAC does not verify: tampered, or signed with another key.
    #[error("bad signature")]
    BadSignature,
    /// Older than the cookie lifetime.
    #[error("expired")]
    Expired,
}

// ---------------------------------------------------------------------------
// The signed cookie

/// The application key that signs the login cookie (HMAC-SHA256). At least
/// [`MIN_COOKIE_KEY_LEN`] bytes; there is no default. `Debug` never shows
/// it.
///
/// ```
/// use auth_oauth2::CookieKey;
/// let key = CookieKey::new(*b"0123456789abcdef0123456789abcdef").unwrap();
/// assert_eq!(format!("{key:?}"), "CookieKey(..)");
/// assert!(CookieKey::new(*b"short").is_err());
/// let from_config = CookieKey::from_base64("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=").unwrap();
/// # let _ = from_config;
/// ```
#[derive(Clone)]
pub struct CookieKey(Arc<[u8]>);

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

impl CookieKey {
    /// A key from raw bytes (at least [`MIN_COOKIE_KEY_LEN`]).
    pub fn new(bytes: impl AsRef<[u8]>) -> Result<Self, LoginConfigError> {
        let bytes = bytes.as_ref();
        if bytes.len() < MIN_COOKIE_KEY_LEN {
            return Err(LoginConfigError::CookieKey(format!(
                "{} bytes, at least {MIN_COOKIE_KEY_LEN} are needed",
                bytes.len()
            )));
        }
        Ok(CookieKey(bytes.into()))
    }

    /// A key from standard or URL-safe base64 (padded or not), as kept in
    /// a configuration file or an environment variable.
    pub fn from_base64(text: &str) -> Result<Self, LoginConfigError> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
            .map_err(|_| LoginConfigError::CookieKey("not valid base64".into()))?;
        Self::new(bytes)
    }

    fn mac(&self, name: &str, payload: &str) -> Hmac<Sha256> {
        // The key length is checked in `new`; HMAC takes keys of any length.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
        mac.update(MAC_CONTEXT);
        mac.update(name.as_bytes());
        mac.update(b"\0");
        mac.update(payload.as_bytes());
        mac
    }
}

/// What the login cookie holds between the login start and the callback.
#[derive(Serialize, Deserialize, PartialEq, Eq)]
struct LoginState {
    /// `state` sent to the provider.
    s: String,
    /// `nonce` sent to the provider.
    n: String,
    /// The PKCE code verifier.
    v: String,
    /// Where to go after the login (checked against the allow-list).
    r: String,
    /// Expiry, seconds since the epoch.
    e: u64,
}

impl std::fmt::Debug for LoginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginState")
            .field("return_to", &self.r)
            .field("expires", &self.e)
            .finish_non_exhaustive()
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn seal(key: &CookieKey, name: &str, state: &LoginState) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(state).unwrap_or_default());
    let tag = key.mac(name, &payload).finalize().into_bytes();
    format!("{payload}.{}", URL_SAFE_NO_PAD.encode(tag))
}

fn open(key: &CookieKey, name: &str, value: &str, now: u64) -> Result<LoginState, CookieError> {
    let (payload, tag) = value.split_once('.').ok_or(CookieError::Malformed)?;
    let tag = URL_SAFE_NO_PAD
        .decode(tag)
        .map_err(|_| CookieError::Malformed)?;
    // SAFETY-NOTE: the MAC is checked (in constant time, by `verify_slice`)
    // before the payload is decoded: nothing an attacker wrote is parsed.
    key.mac(name, payload)
        .verify_slice(&tag)
        .map_err(|_| CookieError::BadSignature)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| CookieError::Malformed)?;
    let state: LoginState = serde_json::from_slice(&bytes).map_err(|_| CookieError::Malformed)?;
    if now >= state.e {
        return Err(CookieError::Expired);
    }
    Ok(state)
}

// ---------------------------------------------------------------------------
// return_to

/// The allow-list of `return_to` destinations: relative path prefixes
/// (`/todos`) and origins (`https://app.example`).
#[derive(Debug, Clone, Default)]
struct ReturnTo {
    paths: Vec<String>,
    origins: Vec<String>,
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Whether `bytes` (one decoding of a path) could leave the origin or
/// confuse a parser: `//host`, `/\host`, backslashes, control characters,
/// whitespace, `..` segments.
fn dangerous_path(bytes: &[u8]) -> bool {
    bytes.starts_with(b"//")
        || bytes
            .iter()
            .any(|&c| c == b'\\' || c.is_ascii_control() || c == b' ' || c >= 0x80)
        || bytes
            .split(|&c| c == b'/' || c == b'?' || c == b'#')
            .any(|seg| seg == b".." || seg == b".")
}

impl ReturnTo {
    /// The checked destination, or `None` when it is refused.
    fn check(&self, value: &str) -> Option<String> {
        if value.is_empty() || value.len() > MAX_RETURN_TO_LEN {
            return None;
        }
        if value.starts_with('/') {
            // SAFETY-NOTE: RFC 9700 §4.11 (open redirectors). The raw value
            // and every percent-decoding of it (up to three layers, as a
            // chain of redirects might decode) must stay a plain path on
            // this origin: `//evil`, `/\evil`, `/%2F%2Fevil`, `/%5Cevil`,
            // `/%252F%252Fevil` are all refused.
            let mut layer = value.as_bytes().to_vec();
            let mut stable = false;
            for _ in 0..4 {
                if dangerous_path(&layer) || !layer.starts_with(b"/") {
                    return None;
                }
                let next = percent_decode(std::str::from_utf8(&layer).ok()?);
                if next == layer {
                    stable = true;
                    break;
                }
                layer = next;
            }
            if !stable {
                // Still encoded after four layers: refused rather than guessed.
                return None;
            }
            let allowed = self.paths.iter().any(|p| {
                p == "/"
                    || value == p
                    || value
                        .strip_prefix(p.as_str())
                        .is_some_and(|rest| rest.starts_with(['/', '?', '#']))
            });
            return allowed.then(|| value.to_owned());
        }
        // An absolute URL: its origin must be one of the allowed ones
        // exactly, with no user info and nothing a browser would read
        // differently (backslashes, controls, whitespace).
        if value
            .bytes()
            .any(|c| c == b'\\' || c.is_ascii_control() || c == b' ' || c >= 0x80)
        {
            return None;
        }
        let url = Url::parse(value).ok()?;
        if !matches!(url.scheme(), "https" | "http")
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return None;
        }
        let origin = url.origin().ascii_serialization();
        if !self.origins.iter().any(|o| o == &origin) {
            return None;
        }
        if dangerous_path(&percent_decode(url.path())) {
            return None;
        }
        Some(url.to_string())
    }
}

// ---------------------------------------------------------------------------
// Tokens and claims

/// The ID token member of a token response.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct IdTokenField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type OidcClient = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// The tokens the provider issued at login or refresh. `Debug` shows none
/// of them.
///
/// ```
/// # fn show(tokens: &auth_oauth2::ProviderTokens) {
/// let bearer = format!("Bearer {}", tokens.access_token());
/// if let Some(refresh) = tokens.refresh_token() {
///     // keep it server-side, e.g. in the application's session store
///     # let _ = refresh;
/// }
/// println!("{tokens:?} expires in {:?}", tokens.expires_in());
/// # let _ = bearer;
/// # }
/// ```
#[derive(Clone)]
pub struct ProviderTokens {
    access_token: String,
    refresh_token: Option<String>,
    id_token: Option<String>,
    expires_in: Option<Duration>,
    scopes: Vec<String>,
}

impl std::fmt::Debug for ProviderTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderTokens")
            .field("has_refresh_token", &self.refresh_token.is_some())
            .field("has_id_token", &self.id_token.is_some())
            .field("expires_in", &self.expires_in)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

impl ProviderTokens {
    /// The access token, for calls to the provider's APIs (userinfo) or
    /// the resource servers it was issued for.
    pub fn access_token(&self) -> &str {
        &self.access_token
    }

    /// The refresh token, if the provider issued one; see
    /// [`OidcLogin::refresh`].
    pub fn refresh_token(&self) -> Option<&str> {
        self.refresh_token.as_deref()
    }

    /// The raw ID token (verified), for [`OidcLogin::logout_url`]'s
    /// `id_token_hint`. Absent after a refresh that returned none.
    pub fn id_token(&self) -> Option<&str> {
        self.id_token.as_deref()
    }

    /// The access token's lifetime, as the provider announced it.
    pub fn expires_in(&self) -> Option<Duration> {
        self.expires_in
    }

    /// The granted scopes, when the provider listed them.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    fn from_response(resp: &OidcTokenResponse) -> Self {
        ProviderTokens {
            access_token: resp.access_token().secret().clone(),
            refresh_token: resp.refresh_token().map(|t| t.secret().clone()),
            id_token: resp.extra_fields().id_token.clone(),
            expires_in: resp.expires_in(),
            scopes: resp
                .scopes()
                .map(|s| s.iter().map(|s| s.to_string()).collect())
                .unwrap_or_default(),
        }
    }
}

/// The claims of a verified ID token: signature (the provider's JWK Set),
/// `iss`, `aud`, `azp`, `exp`, `iat` and, at login, `nonce` all checked.
/// Serialises as the claims object.
///
/// ```
/// # fn show(claims: &auth_oauth2::IdTokenClaims) {
/// println!("{} from {} ({:?})", claims.subject(), claims.issuer(), claims.get("email"));
/// # }
/// ```
#[derive(Debug, Clone, Serialize)]
#[serde(transparent)]
pub struct IdTokenClaims {
    claims: Arc<Map<String, Value>>,
}

impl IdTokenClaims {
    /// `sub`: the user's stable id at this provider.
    pub fn subject(&self) -> &str {
        self.str("sub")
    }

    /// `iss`: the provider (the configured issuer).
    pub fn issuer(&self) -> &str {
        self.str("iss")
    }

    /// `iat`, seconds since the epoch.
    pub fn issued_at(&self) -> u64 {
        self.claims.get("iat").and_then(Value::as_u64).unwrap_or(0)
    }

    /// `exp`, seconds since the epoch.
    pub fn expires_at(&self) -> u64 {
        self.claims.get("exp").and_then(Value::as_u64).unwrap_or(0)
    }

    /// Any claim (`email`, `name`, `auth_time`, ...).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// All claims.
    pub fn all(&self) -> &Map<String, Value> {
        &self.claims
    }

    fn str(&self, name: &str) -> &str {
        self.claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

/// A completed login, handed to the application's [`LoginHandler`].
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The verified ID token's claims.
    pub claims: IdTokenClaims,
    /// The provider's tokens (access, refresh, ID).
    pub tokens: ProviderTokens,
    /// Where the user asked to go, checked against the allow-list (or the
    /// default destination).
    pub return_to: String,
}

impl LoginSuccess {
    /// A `303 See Other` to [`return_to`](Self::return_to), for a handler
    /// that set its session cookie on it.
    ///
    /// ```
    /// # fn show(login: &auth_oauth2::LoginSuccess) {
    /// let resp = login.redirect();
    /// assert_eq!(resp.status(), 303);
    /// # }
    /// ```
    pub fn redirect(&self) -> HttpResponse {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, self.return_to.as_str()))
            .finish()
    }
}

/// A refresh's result: new tokens and, when the provider returned a new ID
/// token, its verified claims.
#[derive(Debug, Clone)]
pub struct Refreshed {
    /// The new tokens (the provider may or may not rotate the refresh
    /// token; keep the new one when there is one).
    pub tokens: ProviderTokens,
    /// The claims of the new ID token, verified like the first one except
    /// `nonce`, with the same `sub` (OpenID Connect Core §12.2).
    pub claims: Option<IdTokenClaims>,
}

// ---------------------------------------------------------------------------
// The application's part

type BoxedResponse = Pin<Box<dyn Future<Output = Result<HttpResponse, AuthError>>>>;

/// What the application does with a completed login: mint its own
/// session or token pair, set a cookie, redirect. Implemented for every
/// `Fn(HttpRequest, LoginSuccess) -> impl Future<Output = Result<HttpResponse, AuthError>>`.
/// An error is rendered like the framework's other errors.
///
/// ```
/// use actix_web::HttpResponse;
/// use auth_oauth2::{LoginSuccess, OidcLogin};
///
/// let builder = OidcLogin::builder("https://login.example", "todo-web", "https://todo.example/auth/callback")
///     .on_login(|_req, login: LoginSuccess| async move {
///         // e.g. look the user up, mint the application's own tokens
///         Ok(HttpResponse::Ok().body(format!("hello {}", login.claims.subject())))
///     });
/// # let _ = builder;
/// ```
pub trait LoginHandler: Send + Sync + 'static {
    /// Called once per completed, verified login.
    fn on_login(
        &self,
        req: HttpRequest,
        login: LoginSuccess,
    ) -> Pin<Box<dyn Future<Output = Result<HttpResponse, AuthError>>>>;
}

impl<F, Fut> LoginHandler for F
where
    F: Fn(HttpRequest, LoginSuccess) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<HttpResponse, AuthError>> + 'static,
{
    fn on_login(&self, req: HttpRequest, login: LoginSuccess) -> BoxedResponse {
        Box::pin(self(req, login))
    }
}

/// The default [`LoginHandler`]: answers `200` with the verified claims
/// and the checked destination, `{"claims": {...}, "return_to": "/"}`. The
/// provider's tokens are not sent to the browser.
///
/// ```
/// let builder = auth_oauth2::OidcLogin::builder("https://login.example", "todo-web", "https://todo.example/cb")
///     .on_login(auth_oauth2::ClaimsJson);
/// # let _ = builder;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct ClaimsJson;

impl LoginHandler for ClaimsJson {
    fn on_login(&self, _req: HttpRequest, login: LoginSuccess) -> BoxedResponse {
        Box::pin(async move {
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "claims": login.claims,
                "return_to": login.return_to,
            })))
        })
    }
}

type HintFn = Arc<dyn Fn(&HttpRequest) -> Option<String> + Send + Sync>;

// ---------------------------------------------------------------------------
// Builder

/// Builds an [`OidcLogin`]; see there for the whole picture.
///
/// ```
/// use std::time::Duration;
/// use auth_oauth2::{CookieKey, OidcLogin};
/// let login = OidcLogin::builder("https://login.example", "todo-web", "https://todo.example/auth/callback")
///     .client_secret("from-the-environment")
///     .cookie_key(CookieKey::new([7u8; 32]).unwrap())
///     .scope("email")
///     .login_path("/auth/login")
///     .logout_path("/auth/logout")
///     .allow_return_to("/todos")
///     .allow_return_to("https://admin.todo.example")
///     .default_return_to("/todos")
///     .allow_post_logout_redirect_uri("https://todo.example/")
///     .cookie_ttl(Duration::from_secs(600))
///     .build()
///     .unwrap();
/// assert_eq!(login.callback_path(), "/auth/callback");
/// ```
pub struct OidcLoginBuilder {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    redirect_uri: String,
    cookie_key: Option<CookieKey>,
    scopes: Vec<String>,
    login_path: String,
    logout_path: String,
    cookie_name: String,
    cookie_ttl: Duration,
    secure_cookie: bool,
    return_to: Vec<String>,
    default_return_to: String,
    post_logout: Vec<String>,
    allowed_hosts: Vec<String>,
    leeway: u64,
    max_id_token_age: Duration,
    retry_after: Duration,
    rediscover_every: Duration,
    jwks_timing: Option<(Duration, Duration)>,
    handler: Arc<dyn LoginHandler>,
    hint: Option<HintFn>,
}

impl std::fmt::Debug for OidcLoginBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLoginBuilder")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

impl OidcLoginBuilder {
    /// The client secret (`client_secret_basic`). Without one the client is
    /// public and authenticates with PKCE alone.
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// The application key that signs the login cookie. Required.
    pub fn cookie_key(mut self, key: CookieKey) -> Self {
        self.cookie_key = Some(key);
        self
    }

    /// Asks for one more scope besides `openid` (e.g. `email`,
    /// `offline_access` for a refresh token at some providers).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scopes.push(scope.into());
        self
    }

    /// The route that starts a login (default `/auth/login`).
    pub fn login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The route that starts an RP-initiated logout (default `/auth/logout`).
    pub fn logout_path(mut self, path: impl Into<String>) -> Self {
        self.logout_path = path.into();
        self
    }

    /// The login cookie's name (default `oidc_login`).
    pub fn cookie_name(mut self, name: impl Into<String>) -> Self {
        self.cookie_name = name.into();
        self
    }

    /// How long a started login may take (default 10 minutes): the
    /// cookie's `Max-Age` and the signed expiry inside it.
    pub fn cookie_ttl(mut self, ttl: Duration) -> Self {
        self.cookie_ttl = ttl;
        self
    }

    /// Sends the login cookie without `Secure`, so that it comes back over
    /// plain `http` (a development server on `http://127.0.0.1`). Never in
    /// production: the cookie carries the PKCE verifier.
    ///
    /// ```
    /// let builder = auth_oauth2::OidcLogin::builder("http://127.0.0.1:3000", "dev", "http://127.0.0.1:8080/cb")
    ///     .dangerously_allow_insecure_cookie();
    /// # let _ = builder;
    /// ```
    pub fn dangerously_allow_insecure_cookie(mut self) -> Self {
        self.secure_cookie = false;
        self
    }

    /// Allows `return_to` destinations: a relative path prefix (`/todos`
    /// allows `/todos`, `/todos/7`, `/todos?x=1`; `/` allows every path
    /// of this origin) or an origin (`https://admin.example`, no path).
    /// Anything else is a 400.
    pub fn allow_return_to(mut self, prefix_or_origin: impl Into<String>) -> Self {
        self.return_to.push(prefix_or_origin.into());
        self
    }

    /// Where to go when the login start has no `return_to` (default `/`);
    /// must itself be allowed (`/` is allowed when nothing else is).
    pub fn default_return_to(mut self, path: impl Into<String>) -> Self {
        self.default_return_to = path.into();
        self
    }

    /// Allows one `post_logout_redirect_uri` (exact match; it must also be
    /// registered at the provider). The first one is the default.
    pub fn allow_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout.push(uri.into());
        self
    }

    /// Allows the discovery document's endpoints (`jwks_uri`,
    /// `token_endpoint`, ...) on `host` besides the issuer's own host.
    pub fn allow_endpoint_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// Allowed clock skew for `exp` and `iat`, in seconds (default 60).
    pub fn leeway(mut self, secs: u64) -> Self {
        self.leeway = secs;
        self
    }

    /// The oldest ID token accepted, by its `iat` (default 10 minutes).
    pub fn max_id_token_age(mut self, age: Duration) -> Self {
        self.max_id_token_age = age;
        self
    }

    /// How long to wait before asking a provider that failed again, and
    /// the `Retry-After` of the 503 meanwhile (default 10 s).
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = wait;
        self
    }

    /// How often the discovery document is read again (default 1 hour);
    /// while the provider is down the last good one is used.
    pub fn rediscover_every(mut self, every: Duration) -> Self {
        self.rediscover_every = every;
        self
    }

    /// How often the provider's JWK Set is fetched again and the shortest
    /// time between two fetches caused by an unknown `kid` (auth-jwt's
    /// defaults: 10 min, 30 s).
    pub fn jwks_timing(mut self, refresh_every: Duration, cooldown: Duration) -> Self {
        self.jwks_timing = Some((refresh_every, cooldown));
        self
    }

    /// What to do with a completed login (default [`ClaimsJson`]).
    pub fn on_login(mut self, handler: impl LoginHandler) -> Self {
        self.handler = Arc::new(handler);
        self
    }

    /// Where the mounted logout route finds the ID token to send as
    /// `id_token_hint` (e.g. the application's session).
    ///
    /// ```
    /// let builder = auth_oauth2::OidcLogin::builder("https://login.example", "todo-web", "https://todo.example/cb")
    ///     .id_token_hint_from(|req| req.cookie("id_token").map(|c| c.value().to_owned()));
    /// # let _ = builder;
    /// ```
    pub fn id_token_hint_from(
        mut self,
        f: impl Fn(&HttpRequest) -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.hint = Some(Arc::new(f));
        self
    }

    /// Checks the settings (no network call: the provider is discovered at
    /// the first login, and a provider that is down is a 503 then).
    pub fn build(self) -> Result<OidcLogin, LoginConfigError> {
        let key = self.cookie_key.ok_or(LoginConfigError::NoCookieKey)?;
        if self.client_id.is_empty() {
            return Err(LoginConfigError::NoClientId);
        }
        let url = |field: &'static str, value: &str| {
            let url = checked_url(value).map_err(|e| LoginConfigError::InvalidUrl {
                field,
                value: value.to_owned(),
                reason: e.to_string(),
            })?;
            if url.query().is_some() || url.fragment().is_some() {
                return Err(LoginConfigError::InvalidUrl {
                    field,
                    value: value.to_owned(),
                    reason: "a query or a fragment is not allowed here".into(),
                });
            }
            Ok(url)
        };
        url("issuer", &self.issuer)?;
        let redirect = url("redirect_uri", &self.redirect_uri)?;
        if redirect.scheme() == "http" && self.secure_cookie {
            return Err(LoginConfigError::InsecureRedirect(self.redirect_uri));
        }
        for uri in &self.post_logout {
            checked_url(uri).map_err(|e| LoginConfigError::InvalidUrl {
                field: "post_logout_redirect_uri",
                value: uri.clone(),
                reason: e.to_string(),
            })?;
        }
        let callback_path = redirect.path().to_owned();
        let path = |field: &'static str, value: &str| {
            if !value.starts_with('/') || value.starts_with("//") || value.contains(['?', '#']) {
                return Err(LoginConfigError::InvalidPath {
                    field,
                    value: value.to_owned(),
                    reason: "an absolute path without query is needed".into(),
                });
            }
            if value == callback_path {
                return Err(LoginConfigError::InvalidPath {
                    field,
                    value: value.to_owned(),
                    reason: "it is the redirect URI's path (the callback)".into(),
                });
            }
            Ok(())
        };
        path("login_path", &self.login_path)?;
        path("logout_path", &self.logout_path)?;
        if self.login_path == self.logout_path {
            return Err(LoginConfigError::InvalidPath {
                field: "logout_path",
                value: self.logout_path,
                reason: "it is the login path".into(),
            });
        }
        if self.cookie_name.is_empty()
            || !self
                .cookie_name
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"_-.".contains(&c))
        {
            return Err(LoginConfigError::InvalidPath {
                field: "cookie_name",
                value: self.cookie_name,
                reason: "letters, digits, `_`, `-` and `.` only".into(),
            });
        }
        let mut allow = ReturnTo::default();
        for entry in &self.return_to {
            if entry.starts_with('/') {
                if dangerous_path(entry.as_bytes()) || entry.contains(['?', '#', '%']) {
                    return Err(LoginConfigError::InvalidPath {
                        field: "allow_return_to",
                        value: entry.clone(),
                        reason: "a plain path prefix is needed".into(),
                    });
                }
                // `/todos/` and `/todos` are the same prefix; `/` stays `/`
                // (every path of this origin).
                let prefix = entry.trim_end_matches('/');
                allow
                    .paths
                    .push(if prefix.is_empty() { "/" } else { prefix }.to_owned());
            } else {
                let u = Url::parse(entry).map_err(|e| LoginConfigError::InvalidUrl {
                    field: "allow_return_to",
                    value: entry.clone(),
                    reason: e.to_string(),
                })?;
                if !matches!(u.scheme(), "https" | "http")
                    || u.path() != "/"
                    || u.query().is_some()
                    || !u.username().is_empty()
                {
                    return Err(LoginConfigError::InvalidUrl {
                        field: "allow_return_to",
                        value: entry.clone(),
                        reason:
                            "an origin (scheme://host[:port]) or a path starting with / is needed"
                                .into(),
                    });
                }
                allow.origins.push(u.origin().ascii_serialization());
            }
        }
        if allow.paths.is_empty() && allow.origins.is_empty() {
            allow.paths.push("/".into());
        }
        let default_return_to =
            allow
                .check(&self.default_return_to)
                .ok_or_else(|| LoginConfigError::InvalidPath {
                    field: "default_return_to",
                    value: self.default_return_to.clone(),
                    reason: "it is not allowed by allow_return_to".into(),
                })?;
        let http =
            auth_core::outbound::client().map_err(|e| LoginConfigError::Outbound(e.to_string()))?;
        let mut scopes = vec!["openid".to_owned()];
        for s in self.scopes {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        Ok(OidcLogin {
            inner: Arc::new(Inner {
                issuer: self.issuer,
                client_id: self.client_id,
                client_secret: self.client_secret,
                redirect_uri: self.redirect_uri,
                callback_path,
                key,
                scopes,
                login_path: self.login_path,
                logout_path: self.logout_path,
                cookie_name: self.cookie_name,
                cookie_ttl: self.cookie_ttl,
                secure_cookie: self.secure_cookie,
                return_to: allow,
                default_return_to,
                post_logout: self.post_logout,
                allowed_hosts: self.allowed_hosts,
                leeway: self.leeway,
                max_id_token_age: self.max_id_token_age,
                retry_after: self.retry_after,
                rediscover_every: self.rediscover_every,
                jwks_timing: self.jwks_timing,
                handler: self.handler,
                hint: self.hint,
                http: OutboundHttp(http),
                provider: std::sync::Mutex::new(Discovered::default()),
                discovering: tokio::sync::Mutex::new(()),
            }),
        })
    }
}

// ---------------------------------------------------------------------------
// The login

struct Provider {
    client: OidcClient,
    verifier: JwtStrategy,
    end_session: Option<Url>,
}

#[derive(Default)]
struct Discovered {
    provider: Option<(Instant, Arc<Provider>)>,
    retry_at: Option<Instant>,
}

/// What [`OidcLogin::provider`] can do without a discovery.
enum Known {
    /// A document to use.
    Use(Arc<Provider>),
    /// None, and the provider failed within `retry_after`: 503 for this long.
    Failed(Duration),
    /// Discovery is due; the document in hand, if any, meanwhile.
    Due(Option<Arc<Provider>>),
}

struct Inner {
    issuer: String,
    client_id: String,
    client_secret: Option<String>,
    redirect_uri: String,
    callback_path: String,
    key: CookieKey,
    scopes: Vec<String>,
    login_path: String,
    logout_path: String,
    cookie_name: String,
    cookie_ttl: Duration,
    secure_cookie: bool,
    return_to: ReturnTo,
    default_return_to: String,
    post_logout: Vec<String>,
    allowed_hosts: Vec<String>,
    leeway: u64,
    max_id_token_age: Duration,
    retry_after: Duration,
    rediscover_every: Duration,
    jwks_timing: Option<(Duration, Duration)>,
    handler: Arc<dyn LoginHandler>,
    hint: Option<HintFn>,
    http: OutboundHttp,
    provider: std::sync::Mutex<Discovered>,
    /// Held by the one request discovering the provider.
    discovering: tokio::sync::Mutex<()>,
}

/// OpenID Connect login for browser users (relying party): the
/// authorization code flow with PKCE (`S256`), `state` and `nonce` bound
/// to the browser in a signed, single-use cookie, the ID token verified
/// with the provider's JWK Set (auth-jwt), and the session handed to the
/// application ([`LoginHandler`]). Cheap to clone.
///
/// Routes ([`OidcLogin::configure`]):
///
/// | route | does |
/// |---|---|
/// | `GET {login_path}?return_to=/todos` | checks `return_to`, sets the login cookie, `303` to the provider |
/// | `GET {redirect URI's path}` | checks cookie and `state`, exchanges the code, verifies the ID token, calls the [`LoginHandler`]; clears the cookie |
/// | `GET {logout_path}` | `303` to the provider's `end_session_endpoint` |
///
/// ```no_run
/// use actix_web::{App, HttpResponse, HttpServer};
/// use auth_oauth2::{CookieKey, OidcLogin};
///
/// #[actix_web::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let login = OidcLogin::builder(
///         "https://login.example",
///         "todo-web",
///         "https://todo.example/auth/callback",
///     )
///     .client_secret(std::env::var("TODO_WEB_SECRET")?)
///     .cookie_key(CookieKey::from_base64(&std::env::var("LOGIN_COOKIE_KEY")?)?)
///     .allow_return_to("/todos")
///     .default_return_to("/todos")
///     .on_login(|_req, login: auth_oauth2::LoginSuccess| async move {
///         // Mint the application's own session here; then go back.
///         Ok(login.redirect())
///     })
///     .build()?;
///     HttpServer::new(move || {
///         let login = login.clone();
///         App::new().configure(move |cfg| login.configure(cfg))
///     })
///     .bind(("127.0.0.1", 8080))?
///     .run()
///     .await?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct OidcLogin {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("issuer", &self.inner.issuer)
            .field("client_id", &self.inner.client_id)
            .field("redirect_uri", &self.inner.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn unavailable(reason: impl Into<String>, retry_after: Duration) -> LoginError {
    LoginError::ProviderUnavailable {
        reason: reason.into(),
        retry_after,
    }
}

/// A provider's error code or description, kept to printable ASCII
/// without the characters that matter to HTML or JSON (`"`, `\`, `<`, `>`,
/// `&`, `'`), shortened; nothing left becomes `invalid`.
fn sanitise(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .filter(|c| matches!(c, ' '..='~') && !matches!(c, '"' | '\\' | '<' | '>' | '&' | '\''))
        .take(max)
        .collect();
    if clean.is_empty() {
        "invalid".into()
    } else {
        clean
    }
}

impl OidcLogin {
    /// A builder for the provider `issuer` (discovered at the first
    /// login), the client `client_id`, and the exact `redirect_uri`
    /// registered at the provider (its path is the callback route).
    pub fn builder(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        redirect_uri: impl Into<String>,
    ) -> OidcLoginBuilder {
        OidcLoginBuilder {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: None,
            redirect_uri: redirect_uri.into(),
            cookie_key: None,
            scopes: Vec::new(),
            login_path: "/auth/login".into(),
            logout_path: "/auth/logout".into(),
            cookie_name: "oidc_login".into(),
            cookie_ttl: Duration::from_secs(600),
            secure_cookie: true,
            return_to: Vec::new(),
            default_return_to: "/".into(),
            post_logout: Vec::new(),
            allowed_hosts: Vec::new(),
            leeway: 60,
            max_id_token_age: Duration::from_secs(600),
            retry_after: Duration::from_secs(10),
            rediscover_every: Duration::from_secs(3600),
            jwks_timing: None,
            handler: Arc::new(ClaimsJson),
            hint: None,
        }
    }

    /// The callback route: the redirect URI's path.
    pub fn callback_path(&self) -> &str {
        &self.inner.callback_path
    }

    /// The login route.
    pub fn login_path(&self) -> &str {
        &self.inner.login_path
    }

    /// The logout route.
    pub fn logout_path(&self) -> &str {
        &self.inner.logout_path
    }

    /// Mounts `GET` login, callback and logout routes (see [`OidcLogin`]).
    /// Use with `App::configure`.
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let start = self.clone();
        let callback = self.clone();
        let logout = self.clone();
        cfg.route(
            &self.inner.login_path,
            web::get().to(move |req: HttpRequest| {
                let login = start.clone();
                async move { login.start_response(&req).await }
            }),
        )
        .route(
            &self.inner.callback_path,
            web::get().to(move |req: HttpRequest| {
                let login = callback.clone();
                async move { login.callback_response(req).await }
            }),
        )
        .route(
            &self.inner.logout_path,
            web::get().to(move |req: HttpRequest| {
                let login = logout.clone();
                async move { login.logout_response(&req).await }
            }),
        );
    }

    /// The discovered provider, discovering it (again) when needed. A
    /// provider that failed is not asked again for `retry_after`; the last
    /// good document is used meanwhile, and without one this is a 503.
    ///
    /// One discovery at a time. A request that finds the document due for
    /// rediscovery while another request is rediscovering uses the document
    /// it has rather than wait (up to two 5-second fetches); only without
    /// any document does it wait for that discovery.
    async fn provider(&self) -> Result<Arc<Provider>, LoginError> {
        let inner = &self.inner;
        let stale = match self.known_provider(Instant::now()) {
            Known::Use(p) => return Ok(p),
            Known::Failed(retry_in) => {
                return Err(unavailable("the provider failed recently", retry_in));
            }
            Known::Due(stale) => stale,
        };
        let _one_at_a_time = match &stale {
            Some(p) => match inner.discovering.try_lock() {
                Ok(guard) => guard,
                Err(_) => return Ok(Arc::clone(p)),
            },
            None => inner.discovering.lock().await,
        };
        // Another request's discovery may have ended while this one waited.
        let now = Instant::now();
        let stale = match self.known_provider(now) {
            Known::Use(p) => return Ok(p),
            Known::Failed(retry_in) => {
                return Err(unavailable("the provider failed recently", retry_in));
            }
            Known::Due(stale) => stale,
        };
        let discovered = self.discover().await;
        let mut state = inner.provider.lock().unwrap_or_else(|e| e.into_inner());
        match discovered {
            Ok(p) => {
                let p = Arc::new(p);
                state.provider = Some((now, Arc::clone(&p)));
                state.retry_at = None;
                Ok(p)
            }
            Err(reason) => {
                tracing::warn!(issuer = %inner.issuer, "OpenID provider unusable: {reason}");
                // From when the discovery gave up (it may have taken two
                // fetches), not from when it began.
                state.retry_at = Some(Instant::now() + inner.retry_after);
                stale.ok_or_else(|| unavailable(reason, inner.retry_after))
            }
        }
    }

    /// What the discovered document allows at `now`, without waiting.
    fn known_provider(&self, now: Instant) -> Known {
        let inner = &self.inner;
        let state = inner.provider.lock().unwrap_or_else(|e| e.into_inner());
        let current = state.provider.as_ref().map(|(_, p)| Arc::clone(p));
        if let Some((at, p)) = &state.provider
            && now.duration_since(*at) < inner.rediscover_every
        {
            return Known::Use(Arc::clone(p));
        }
        if let Some(retry_at) = state.retry_at
            && now < retry_at
        {
            return match current {
                Some(p) => Known::Use(p),
                None => Known::Failed(retry_at - now),
            };
        }
        Known::Due(current)
    }

    async fn discover(&self) -> Result<Provider, String> {
        let inner = &self.inner;
        let meta =
            ProviderMetadata::discover_with(&inner.http.0, &inner.issuer, &inner.allowed_hosts)
                .await
                .map_err(|e| e.to_string())?;
        let need = |field, value: Option<&Url>| {
            meta.require(field, value)
                .map_err(|e: DiscoveryError| e.to_string())
        };
        let auth = need("authorization_endpoint", meta.authorization_endpoint())?;
        let token = need("token_endpoint", meta.token_endpoint())?;
        let jwks = need("jwks_uri", meta.jwks_uri())?;
        // SAFETY-NOTE: PKCE S256 only (RFC 9700 §2.1.1); a provider that
        // says it does not support S256 would ignore the challenge.
        if let Some(methods) = meta.code_challenge_methods()
            && !methods.iter().any(|m| m == "S256")
        {
            return Err("the provider does not support PKCE S256".into());
        }
        let mut keys = JwksKeys::from_url(jwks.as_str()).map_err(|e| e.to_string())?;
        if let Some((every, cooldown)) = inner.jwks_timing {
            keys = keys.with_timing(every, cooldown);
        }
        let verifier = JwtStrategy::builder()
            .name("oidc-login")
            .jwks(keys)
            .issuer(inner.issuer.clone())
            .audience(inner.client_id.clone())
            .leeway(inner.leeway)
            .max_token_len(crate::MAX_TOKEN_LEN)
            .build()
            .map_err(|e| e.to_string())?;
        let mut client = oauth2::Client::new(ClientId::new(inner.client_id.clone()))
            .set_auth_uri(AuthUrl::from_url(auth))
            .set_token_uri(TokenUrl::from_url(token))
            .set_redirect_uri(
                RedirectUrl::new(inner.redirect_uri.clone()).map_err(|e| e.to_string())?,
            );
        if let Some(secret) = &inner.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(Provider {
            client,
            verifier,
            end_session: meta.end_session_endpoint().cloned(),
        })
    }

    /// Starts a login: checks `return_to` (`None`: the default), and
    /// returns the provider's authorization URL and the login cookie to
    /// set. The mounted login route does this and answers `303`.
    ///
    /// ```no_run
    /// # async fn run(login: auth_oauth2::OidcLogin) -> Result<(), auth_oauth2::LoginError> {
    /// let (url, cookie) = login.start(Some("/todos")).await?;
    /// println!("redirect to {url}, set {}", cookie.name());
    /// # Ok(()) }
    /// ```
    pub async fn start(
        &self,
        return_to: Option<&str>,
    ) -> Result<(Url, Cookie<'static>), LoginError> {
        let inner = &self.inner;
        let return_to = match return_to {
            None => inner.default_return_to.clone(),
            Some(r) => inner
                .return_to
                .check(r)
                .ok_or(LoginError::ReturnToRefused)?,
        };
        let provider = self.provider().await?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let state = CsrfToken::new_random();
        let nonce = CsrfToken::new_random();
        let mut request = provider
            .client
            .authorize_url(|| state.clone())
            .set_pkce_challenge(challenge)
            .add_extra_param("nonce", nonce.secret().clone());
        for scope in &inner.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, _) = request.url();
        let sealed = seal(
            &inner.key,
            &inner.cookie_name,
            &LoginState {
                s: state.secret().clone(),
                n: nonce.secret().clone(),
                v: verifier.secret().clone(),
                r: return_to,
                e: now_secs() + inner.cookie_ttl.as_secs().max(1),
            },
        );
        let cookie = Cookie::build(inner.cookie_name.clone(), sealed)
            .path(inner.callback_path.clone())
            .http_only(true)
            .secure(inner.secure_cookie)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(
                inner.cookie_ttl.as_secs().max(1) as i64,
            ))
            .finish();
        Ok((url, cookie))
    }

    /// The cookie that clears the login cookie (set on every callback
    /// answer: the cookie is single-use).
    fn clear_cookie(&self) -> Cookie<'static> {
        let inner = &self.inner;
        let mut c = Cookie::build(inner.cookie_name.clone(), "")
            .path(inner.callback_path.clone())
            .http_only(true)
            .secure(inner.secure_cookie)
            .same_site(SameSite::Lax)
            .finish();
        c.make_removal();
        c
    }

    /// What the mounted login route answers: a `303` to the provider with
    /// the login cookie, or the error (a refused `return_to` is a 400, a
    /// provider that cannot be used a 503). For applications that declare
    /// their own routes, e.g. under auth-core's `DefaultPolicy`, where every
    /// handler carries `#[authenticate(..)]`:
    ///
    /// ```
    /// use actix_web::{get, web, HttpRequest, HttpResponse};
    /// use auth_macros::authenticate;
    ///
    /// #[authenticate(skip)]
    /// #[get("/auth/login")]
    /// async fn login(req: HttpRequest, oidc: web::Data<auth_oauth2::OidcLogin>) -> HttpResponse {
    ///     oidc.start_response(&req).await
    /// }
    /// ```
    pub async fn start_response(&self, req: &HttpRequest) -> HttpResponse {
        let result = async {
            let query = single_params(req.query_string())?;
            self.start(query.get("return_to").map(String::as_str)).await
        }
        .await;
        match result {
            Ok((url, cookie)) => no_store(
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, url.as_str()))
                    .cookie(cookie)
                    .finish(),
            ),
            Err(LoginError::BadCallback(_)) => self.error(req, &LoginError::ReturnToRefused),
            Err(e) => self.error(req, &e),
        }
    }

    fn error(&self, req: &HttpRequest, e: &LoginError) -> HttpResponse {
        tracing::debug!(issuer = %self.inner.issuer, "login step refused: {e}");
        no_store(auth_core::error_response(req, &e.to_auth_error(), &[]))
    }

    /// Completes a login from the callback request: the cookie, `state`,
    /// the provider's `error`, the code exchange (with the PKCE verifier)
    /// and the ID token checks. The mounted callback route calls this, then
    /// the [`LoginHandler`], and clears the cookie whatever the outcome.
    ///
    /// ```no_run
    /// # async fn run(login: auth_oauth2::OidcLogin, req: actix_web::HttpRequest) {
    /// match login.complete(&req).await {
    ///     Ok(done) => println!("{} logged in", done.claims.subject()),
    ///     Err(e) => println!("{}: {e}", e.to_auth_error().status()),
    /// }
    /// # }
    /// ```
    pub async fn complete(&self, req: &HttpRequest) -> Result<LoginSuccess, LoginError> {
        let inner = &self.inner;
        let cookie = req
            .cookie(&inner.cookie_name)
            .ok_or(LoginError::MissingCookie)?;
        let saved = open(&inner.key, &inner.cookie_name, cookie.value(), now_secs())
            .map_err(LoginError::InvalidCookie)?;
        let query = single_params(req.query_string())?;
        // SAFETY-NOTE: CSRF (RFC 6749 §10.12): the `state` the provider
        // echoed must be the one bound to this browser, compared in
        // constant time, before anything else in the query is believed.
        let state = query.get("state").ok_or(LoginError::StateMismatch)?;
        if !bool::from(state.as_bytes().ct_eq(saved.s.as_bytes())) {
            return Err(LoginError::StateMismatch);
        }
        // RFC 9207: a provider that names itself must name the configured
        // issuer (mix-up defence).
        if let Some(iss) = query.get("iss")
            && iss != &inner.issuer
        {
            return Err(LoginError::BadCallback("the response names another issuer"));
        }
        if let Some(error) = query.get("error") {
            return Err(LoginError::ProviderError {
                error: sanitise(error, 64),
                description: query.get("error_description").map(|d| sanitise(d, 200)),
            });
        }
        let code = query
            .get("code")
            .filter(|c| !c.is_empty())
            .ok_or(LoginError::BadCallback("the response has no code"))?;
        let provider = self.provider().await?;
        let response = provider
            .client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .set_pkce_verifier(PkceCodeVerifier::new(saved.v.clone()))
            .request_async(&inner.http)
            .await
            .map_err(|e| self.token_error(e, LoginError::CodeRefused))?;
        let tokens = ProviderTokens::from_response(&response);
        let id_token = tokens.id_token.as_deref().ok_or_else(|| {
            LoginError::InvalidIdToken("the token response has no id_token".into())
        })?;
        let claims = self
            .verify_id_token(&provider, id_token, Some(&saved.n), None)
            .await?;
        Ok(LoginSuccess {
            claims,
            tokens,
            return_to: saved.r,
        })
    }

    /// What the mounted callback route answers: [`complete`](Self::complete),
    /// then the [`LoginHandler`]'s response, or the error; the login cookie
    /// is cleared whatever the outcome. Serve it at exactly the redirect
    /// URI's path ([`callback_path`](Self::callback_path)).
    ///
    /// ```
    /// use actix_web::{get, web, HttpRequest, HttpResponse};
    /// use auth_macros::authenticate;
    ///
    /// #[authenticate(skip)]
    /// #[get("/auth/callback")]
    /// async fn callback(req: HttpRequest, oidc: web::Data<auth_oauth2::OidcLogin>) -> HttpResponse {
    ///     oidc.callback_response(req).await
    /// }
    /// ```
    pub async fn callback_response(&self, req: HttpRequest) -> HttpResponse {
        let clear = self.clear_cookie();
        let mut resp = match self.complete(&req).await {
            Ok(done) => match self.inner.handler.on_login(req.clone(), done).await {
                Ok(resp) => resp,
                Err(e) => auth_core::error_response(&req, &e, &[]),
            },
            Err(e) => self.error(&req, &e),
        };
        let _ = resp.add_cookie(&clear);
        no_store(resp)
    }

    fn token_error(
        &self,
        e: RequestTokenError<HttpError, BasicErrorResponse>,
        refused: fn(String) -> LoginError,
    ) -> LoginError {
        let wait = self.inner.retry_after;
        match e {
            RequestTokenError::ServerResponse(r) => {
                let code = sanitise(r.error().as_ref(), 64);
                match code.as_str() {
                    // The code or refresh token the browser brought: spent,
                    // expired, for another client, malformed.
                    "invalid_grant" | "invalid_request" => refused(code),
                    // RFC 6749 §5.2 has no `temporarily_unavailable` for the
                    // token endpoint, but providers send it (and `server_error`).
                    "server_error" | "temporarily_unavailable" => {
                        unavailable(format!("the token endpoint answered {code}"), wait)
                    }
                    // This application's registration or settings, nothing
                    // the browser did.
                    "invalid_client"
                    | "unauthorized_client"
                    | "unsupported_grant_type"
                    | "invalid_scope" => {
                        tracing::warn!(
                            issuer = %self.inner.issuer,
                            error = %code,
                            "the token endpoint refused this client: check its id, secret and grants"
                        );
                        unavailable(
                            format!("the token endpoint refused this client: {code}"),
                            wait,
                        )
                    }
                    // A code of the provider's own: as the browser's (a
                    // spent or expired code is the likely meaning).
                    _ => refused(code),
                }
            }
            RequestTokenError::Request(e) => unavailable(
                format!("the token endpoint could not be reached: {e}"),
                wait,
            ),
            RequestTokenError::Parse(e, _body) => unavailable(
                format!(
                    "the token endpoint's answer is not a token response: {}",
                    e.path()
                ),
                wait,
            ),
            RequestTokenError::Other(m) => unavailable(m, wait),
        }
    }

    /// Verifies an ID token: signature with the provider's JWK Set (a new
    /// `kid` fetches the set again: key rotation), `typ` not an access
    /// token's, `iss` the configured issuer, `aud` naming the client, `azp`
    /// the client when present (required with several audiences), `exp`,
    /// `iat` not in the future and not older than the maximum age (both
    /// with the leeway), a `sub`, and the `nonce` / `sub` expected.
    async fn verify_id_token(
        &self,
        provider: &Provider,
        token: &str,
        nonce: Option<&str>,
        subject: Option<&str>,
    ) -> Result<IdTokenClaims, LoginError> {
        let inner = &self.inner;
        let bad = |m: &str| LoginError::InvalidIdToken(m.to_owned());
        if let Some(typ) = peek_typ(token) {
            let typ = typ.to_ascii_lowercase();
            if typ != "jwt" && typ != "application/jwt" {
                return Err(bad("the token is not an ID token (typ)"));
            }
        }
        let profile = provider
            .verifier
            .authenticate_token(token)
            .await
            .map_err(|e| match e {
                AuthError::Unavailable { retry_after, .. } => unavailable(
                    "the provider's signing keys are unavailable",
                    retry_after.unwrap_or(inner.retry_after),
                ),
                other => LoginError::InvalidIdToken(other.public_message().into_owned()),
            })?;
        let claims = profile.claims.clone();
        let client_id = inner.client_id.as_str();
        let azp = claims.get("azp");
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1);
        // OpenID Connect Core §3.1.3.7 items 4 and 5.
        match azp {
            Some(Value::String(a)) if a == client_id => {}
            None if !several => {}
            None => return Err(bad("several audiences and no azp")),
            Some(_) => return Err(bad("azp is not this client")),
        }
        let now = now_secs();
        let iat = claims
            .get("iat")
            .and_then(Value::as_u64)
            .ok_or_else(|| bad("no iat"))?;
        if iat > now + inner.leeway {
            return Err(bad("iat is in the future"));
        }
        if now.saturating_sub(iat) > inner.max_id_token_age.as_secs() + inner.leeway {
            return Err(bad("the ID token is too old (iat)"));
        }
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| bad("no sub"))?;
        if let Some(expected) = subject
            && sub != expected
        {
            return Err(bad("sub is not the logged-in user's"));
        }
        if let Some(expected) = nonce {
            // SAFETY-NOTE: replay defence (OpenID Connect Core §3.1.3.7
            // item 11): the nonce bound to this browser, in constant time.
            let got = claims.get("nonce").and_then(Value::as_str).unwrap_or("");
            if !bool::from(got.as_bytes().ct_eq(expected.as_bytes())) {
                return Err(bad("the nonce is not this login's"));
            }
        }
        Ok(IdTokenClaims { claims })
    }

    /// Exchanges a refresh token at the provider's token endpoint. A
    /// returned ID token is verified like at login (no `nonce`) and must
    /// name `subject`, the logged-in user's `sub`.
    ///
    /// ```no_run
    /// # async fn run(login: auth_oauth2::OidcLogin, refresh_token: &str, sub: &str) -> Result<(), auth_oauth2::LoginError> {
    /// let refreshed = login.refresh(refresh_token, sub).await?;
    /// let new_access_token = refreshed.tokens.access_token();
    /// # let _ = new_access_token;
    /// # Ok(()) }
    /// ```
    pub async fn refresh(
        &self,
        refresh_token: &str,
        subject: &str,
    ) -> Result<Refreshed, LoginError> {
        let provider = self.provider().await?;
        let token = RefreshToken::new(refresh_token.to_owned());
        let response = provider
            .client
            .exchange_refresh_token(&token)
            .request_async(&self.inner.http)
            .await
            .map_err(|e| self.token_error(e, LoginError::RefreshRefused))?;
        let tokens = ProviderTokens::from_response(&response);
        let claims = match tokens.id_token.as_deref() {
            Some(id) => Some(
                self.verify_id_token(&provider, id, None, Some(subject))
                    .await?,
            ),
            None => None,
        };
        Ok(Refreshed { tokens, claims })
    }

    /// The provider's logout URL (OpenID Connect RP-Initiated Logout 1.0):
    /// `end_session_endpoint` with `client_id`, the `id_token_hint` and a
    /// `post_logout_redirect_uri` from the allow-list (`None`: the first
    /// allowed one, if any).
    ///
    /// ```no_run
    /// # async fn run(login: auth_oauth2::OidcLogin, id_token: &str) -> Result<(), auth_oauth2::LoginError> {
    /// let url = login.logout_url(Some(id_token), Some("https://todo.example/")).await?;
    /// println!("redirect to {url}");
    /// # Ok(()) }
    /// ```
    pub async fn logout_url(
        &self,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
    ) -> Result<Url, LoginError> {
        let inner = &self.inner;
        let target = match post_logout_redirect_uri {
            // Exact match only: the provider compares exactly too.
            Some(uri) => Some(
                inner
                    .post_logout
                    .iter()
                    .find(|a| a.as_str() == uri)
                    .ok_or(LoginError::PostLogoutRedirectRefused)?
                    .clone(),
            ),
            None => inner.post_logout.first().cloned(),
        };
        let provider = self.provider().await?;
        let mut url = provider
            .end_session
            .clone()
            .ok_or(LoginError::LogoutUnsupported)?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("client_id", &inner.client_id);
            if let Some(hint) = id_token_hint {
                q.append_pair("id_token_hint", hint);
            }
            if let Some(target) = &target {
                q.append_pair("post_logout_redirect_uri", target);
            }
        }
        Ok(url)
    }

    /// What the mounted logout route answers: a `303` to the provider's
    /// `end_session_endpoint` (see [`logout_url`](Self::logout_url)), or the
    /// error.
    ///
    /// ```
    /// use actix_web::{get, web, HttpRequest, HttpResponse};
    /// use auth_macros::authenticate;
    ///
    /// #[authenticate(skip)]
    /// #[get("/auth/logout")]
    /// async fn logout(req: HttpRequest, oidc: web::Data<auth_oauth2::OidcLogin>) -> HttpResponse {
    ///     oidc.logout_response(&req).await
    /// }
    /// ```
    pub async fn logout_response(&self, req: &HttpRequest) -> HttpResponse {
        let result = async {
            let query = single_params(req.query_string())
                .map_err(|_| LoginError::PostLogoutRedirectRefused)?;
            let hint = self.inner.hint.as_ref().and_then(|f| f(req));
            self.logout_url(
                hint.as_deref(),
                query.get("post_logout_redirect_uri").map(String::as_str),
            )
            .await
        }
        .await;
        match result {
            Ok(url) => no_store(
                HttpResponse::SeeOther()
                    .insert_header((header::LOCATION, url.as_str()))
                    .finish(),
            ),
            Err(e) => self.error(req, &e),
        }
    }
}

fn no_store(mut resp: HttpResponse) -> HttpResponse {
    let h = resp.headers_mut();
    h.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    // The callback URL carries the code: no Referer to other sites.
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    resp
}

/// The query's parameters; a repeated one is refused (RFC 6749 §3.1).
fn single_params(query: &str) -> Result<HashMap<String, String>, LoginError> {
    let mut out = HashMap::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        if out.insert(k.into_owned(), v.into_owned()).is_some() {
            return Err(LoginError::BadCallback("a parameter is repeated"));
        }
    }
    Ok(out)
}

fn peek_typ(token: &str) -> Option<String> {
    let header = token.split('.').next()?;
    if header.len() > 4096 {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(header).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("typ")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CookieKey {
        CookieKey::new([b; 32]).unwrap()
    }

    fn state(e: u64) -> LoginState {
        LoginState {
            s: "state-1".into(),
            n: "nonce-1".into(),
            v: "verifier-1".into(),
            r: "/todos".into(),
            e,
        }
    }

    #[test]
    fn cookie_round_trips_and_refuses_tampering_expiry_and_other_keys() {
        let now = 1_000_000;
        let sealed = seal(&key(1), "oidc_login", &state(now + 600));
        assert_eq!(
            open(&key(1), "oidc_login", &sealed, now).unwrap(),
            state(now + 600)
        );
        // Another key, another cookie name: bad signature.
        assert_eq!(
            open(&key(2), "oidc_login", &sealed, now).unwrap_err(),
            CookieError::BadSignature
        );
        assert_eq!(
            open(&key(1), "other", &sealed, now).unwrap_err(),
            CookieError::BadSignature
        );
        // Expired (exactly at and after the expiry).
        for t in [now + 600, now + 601, u64::MAX] {
            assert_eq!(
                open(&key(1), "oidc_login", &sealed, t).unwrap_err(),
                CookieError::Expired
            );
        }
        // Every payload change is caught by the MAC, including a re-signed
        // expiry with another key.
        let (payload, tag) = sealed.split_once('.').unwrap();
        let mut flipped = payload.as_bytes().to_vec();
        flipped[3] ^= 1;
        let flipped = String::from_utf8(flipped).unwrap();
        let forged_payload = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&LoginState {
                n: "attacker-nonce".into(),
                ..state(now + 600)
            })
            .unwrap(),
        );
        let longer = seal(&key(3), "oidc_login", &state(u64::MAX));
        for bad in [
            format!("{flipped}.{tag}"),
            format!("{forged_payload}.{tag}"),
            format!("{payload}.AAAA{tag}"),
            format!("{payload}.{}", &tag[..tag.len() - 4]),
            longer,
        ] {
            assert_eq!(
                open(&key(1), "oidc_login", &bad, now).unwrap_err(),
                CookieError::BadSignature,
                "{bad}"
            );
        }
        for bad in [
            "",
            "nodot",
            "a.b!c",
            &format!("{payload}.{tag}.x"),
            &format!("{payload}.{}", &tag[1..]),
        ] {
            assert!(open(&key(1), "oidc_login", bad, now).is_err(), "{bad}");
        }
        // A MAC-valid payload that is not a login state is malformed.
        let junk = URL_SAFE_NO_PAD.encode(b"[1,2]");
        let tag = URL_SAFE_NO_PAD.encode(key(1).mac("oidc_login", &junk).finalize().into_bytes());
        assert_eq!(
            open(&key(1), "oidc_login", &format!("{junk}.{tag}"), now).unwrap_err(),
            CookieError::Malformed
        );
    }

    #[test]
    fn cookie_keys_are_long_enough_and_never_shown() {
        assert!(CookieKey::new([0u8; 31]).is_err());
        assert!(CookieKey::new([0u8; 32]).is_ok());
        assert!(CookieKey::from_base64("c2hvcnQ=").is_err());
        assert!(CookieKey::from_base64("not base64 at all!").is_err());
        let k = CookieKey::from_base64(&URL_SAFE_NO_PAD.encode([9u8; 48])).unwrap();
        assert_eq!(format!("{k:?}"), "CookieKey(..)");
    }

    fn allow(entries: &[&str]) -> ReturnTo {
        let mut r = ReturnTo::default();
        for e in entries {
            if e.starts_with('/') {
                let prefix = e.trim_end_matches('/');
                r.paths
                    .push(if prefix.is_empty() { "/" } else { prefix }.to_owned());
            } else {
                r.origins.push((*e).to_owned());
            }
        }
        r
    }

    #[test]
    fn return_to_accepts_allowed_paths_and_origins_only() {
        let r = allow(&["/todos", "https://admin.example"]);
        for ok in [
            "/todos",
            "/todos/7",
            "/todos?filter=open",
            "/todos#top",
            "https://admin.example/",
            "https://admin.example/users?x=1",
        ] {
            assert!(r.check(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "/",
            "/todosx",
            "/admin",
            "//evil.example",
            "//evil.example/todos",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "/%252F%252Fevil.example",
            "/todos/../admin",
            "/todos/%2E%2E/admin",
            "/todos/%2e%2e%2fadmin",
            "/todos\r\nLocation: https://evil.example",
            "/todos\tx",
            "/todos x",
            "https://evil.example/todos",
            "https://admin.example.evil.example/",
            "https://admin.example@evil.example/",
            "https://user:pw@admin.example/",
            "http://admin.example/",
            "https://admin.example:8443/",
            "javascript:alert(1)",
            "data:text/html,x",
            "evil.example",
            "todos",
            "https:/evil.example",
            "https:evil.example",
            "/todos/\u{ff0f}evil",
            &format!("/todos/{}", "a".repeat(MAX_RETURN_TO_LEN)),
        ] {
            assert_eq!(r.check(bad), None, "{bad:?} must be refused");
        }
        let everything = allow(&["/"]);
        assert!(everything.check("/anything/here").is_some());
        assert!(everything.check("//evil.example").is_none());
        assert!(everything.check("/%2F%2Fevil.example").is_none());
    }

    #[test]
    fn build_refuses_unsafe_settings() {
        let b = || {
            OidcLogin::builder("https://login.example", "c", "https://app.example/cb")
                .cookie_key(key(1))
        };
        assert!(b().build().is_ok());
        // A trailing slash names the same prefix; `/` allows every path.
        assert!(
            b().allow_return_to("/todos/")
                .default_return_to("/todos/1")
                .build()
                .is_ok()
        );
        assert!(
            b().allow_return_to("/")
                .default_return_to("/x")
                .build()
                .is_ok()
        );
        assert!(matches!(
            OidcLogin::builder("https://login.example", "c", "https://app.example/cb")
                .build()
                .unwrap_err(),
            LoginConfigError::NoCookieKey
        ));
        assert!(matches!(
            OidcLogin::builder("https://login.example", "c", "http://127.0.0.1:8080/cb")
                .cookie_key(key(1))
                .build()
                .unwrap_err(),
            LoginConfigError::InsecureRedirect(_)
        ));
        assert!(
            OidcLogin::builder("https://login.example", "c", "http://127.0.0.1:8080/cb")
                .cookie_key(key(1))
                .dangerously_allow_insecure_cookie()
                .build()
                .is_ok()
        );
        for bad in [
            b().login_path("/cb"),
            b().login_path("auth/login"),
            b().logout_path("/auth/login"),
            b().allow_return_to("//evil"),
            b().allow_return_to("/a/../b"),
            b().allow_return_to("https://x.example/path"),
            b().allow_return_to("ftp://x.example"),
            b().allow_return_to("/todos").default_return_to("/"),
            b().cookie_name("a b"),
        ] {
            assert!(bad.build().is_err());
        }
        for bad in [
            OidcLogin::builder("http://login.example", "c", "https://app.example/cb"),
            OidcLogin::builder("https://login.example", "c", "https://app.example/cb#x"),
            OidcLogin::builder("https://login.example", "c", "https://app.example/cb?x=1"),
            OidcLogin::builder("https://login.example", "", "https://app.example/cb"),
        ] {
            assert!(bad.cookie_key(key(1)).build().is_err());
        }
    }

    #[test]
    fn provider_error_codes_are_sanitised_and_mapped() {
        assert_eq!(sanitise("access_denied", 64), "access_denied");
        assert_eq!(sanitise("<script>\"x\"\u{7}", 64), "scriptx");
        assert_eq!(sanitise("\u{1}", 64), "invalid");
        assert_eq!(sanitise(&"x".repeat(300), 200).len(), 200);
        let e = |error: &str| LoginError::ProviderError {
            error: error.into(),
            description: None,
        };
        assert_eq!(e("access_denied").to_auth_error().status(), 403);
        for other in ["invalid_scope", "login_required", "server_error"] {
            assert_eq!(e(other).to_auth_error().status(), 400, "{other}");
        }
    }

    #[test]
    fn repeated_query_parameters_are_refused() {
        assert!(single_params("code=a&state=b").is_ok());
        assert!(single_params("code=a&code=b&state=s").is_err());
        assert!(single_params("state=a&state=a").is_err());
    }
}
