//! Sign-up, login, token refresh, logout, `whoAmI` and the admin route.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use auth_basic::{NewUser, PasswordAuthenticator, SqlUserStore, StoreError};
use auth_core::{AuthError, UserProfile, error_response};
use auth_core::{BruteForceGuard, Revocations};
use auth_jwt::{IssueError, TokenService};
use auth_macros::authenticate;
use rand::RngCore;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::todos::Todos;
use crate::validate;

/// What the auth routes share.
pub struct AuthState {
    /// Users by e-mail.
    pub users: Arc<SqlUserStore>,
    /// Password verification (argon2id, bounded hashing pool).
    pub passwords: PasswordAuthenticator<SqlUserStore>,
    /// Access and refresh tokens.
    pub tokens: TokenService,
    /// Brute-force guard for `/users/login`.
    pub guard: BruteForceGuard,
    /// Revoked access tokens and subjects, shared by every instance.
    pub revocations: Arc<Revocations>,
    /// E-mails that become admins at sign-up.
    pub admin_emails: Vec<String>,
}

/// `POST /signup` and `POST /users/login` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    email: String,
    password: String,
}

/// `POST /refresh` and `POST /users/logout` body: `{"refresh_token": ..}`
/// (RFC 6749 §6's name); `refreshToken`, LoopBack's spelling, is accepted too.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RefreshBody {
    #[serde(alias = "refreshToken")]
    refresh_token: String,
}

fn new_user_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One token-response shape everywhere: `TokenService`'s, with RFC 6749
/// §5.1's field names and `Cache-Control: no-store`.
fn token_body(issued: auth_jwt::TokenResponse) -> HttpResponse {
    issued.into_response()
}

fn issue_failure(req: &HttpRequest, e: IssueError) -> HttpResponse {
    error_response(req, &AuthError::from(e), &[])
}

/// `POST /signup {email, password}` → `{id, email}`; 409 for a known e-mail,
/// 422 for an invalid address or a weak password.
#[authenticate(skip)]
#[post("/signup")]
async fn signup(
    req: HttpRequest,
    body: web::Json<Credentials>,
    state: web::Data<AuthState>,
) -> Result<HttpResponse, ApiError> {
    let Credentials { email, password } = body.into_inner();
    let email = validate::email(&email)?;
    validate::password(&password, &email)?;
    let hash = match state.passwords.hasher().hash(&password).await {
        Ok(hash) => hash,
        Err(e) => return Ok(error_response(&req, &e, &[])),
    };
    let mut roles = vec!["user".to_owned()];
    if state.admin_emails.contains(&email) {
        roles.push("admin".to_owned());
    }
    let id = new_user_id();
    let user = NewUser::new(email.clone(), hash)
        .with_id(id.clone())
        .with_roles(roles);
    match state.users.create_user(user).await {
        Ok(_) => {
            // For the `digest` strategy (GET /users/me): H(email:realm:password).
            let ha1 = crate::digest::ha1(&email, &password);
            let algorithm = crate::digest::ALGORITHM.as_str();
            if let Err(e) = (state.users)
                .set_digest_ha1(&email, crate::digest::REALM, algorithm, &ha1)
                .await
            {
                return Ok(error_response(&req, &AuthError::from(e), &[]));
            }
            Ok(HttpResponse::Ok().json(json!({"id": id, "email": email})))
        }
        Err(StoreError::Duplicate(_)) => Err(ApiError::Conflict(format!(
            "a user with email {email} already exists"
        ))),
        Err(e) => Ok(error_response(&req, &AuthError::from(e), &[])),
    }
}

/// `POST /users/login {email, password}` → `{access_token, token_type,
/// expires_in, refresh_token}` (RFC 6749 §5.1).
/// Guarded against password guessing per client address and per e-mail.
#[authenticate(skip)]
#[post("/users/login")]
async fn login(
    req: HttpRequest,
    body: web::Json<Credentials>,
    state: web::Data<AuthState>,
) -> HttpResponse {
    let profile = match check_password(&req, body.into_inner(), &state).await {
        Ok(profile) => profile,
        Err(refused) => return refused,
    };
    match state.tokens.issue(&profile).await {
        Ok(issued) => token_body(issued),
        Err(e) => issue_failure(&req, e),
    }
}

/// Checks an e-mail and password under the login guard: the profile, or
/// the response refusing them (401, 429 with `Retry-After`, 503). Shared by
/// the token login and the web page's session login, so both draw on one
/// budget of guesses.
pub(crate) async fn check_password(
    req: &HttpRequest,
    credentials: Credentials,
    state: &AuthState,
) -> Result<UserProfile, HttpResponse> {
    let Credentials { email, password } = credentials;
    let email = email.trim().to_ascii_lowercase();
    let attempt = state.guard.check_login(req, &email).await?;
    // Within this client's share of the hashing pool: a flood from one
    // address is refused (429, counted by the guard), others still log in.
    let result = state
        .passwords
        .verify_from(attempt.client(), &email, &password)
        .await;
    attempt.record(&result).await;
    match result {
        Ok(record) => Ok(record.profile().with_email(email)),
        Err(e) => Err(error_response(req, &e, &[])),
    }
}

/// `POST /refresh {refresh_token}` → a new token response. The old
/// refresh token is spent; presenting it again revokes the whole family.
#[authenticate(skip)]
#[post("/refresh")]
async fn refresh(
    req: HttpRequest,
    body: web::Json<RefreshBody>,
    state: web::Data<AuthState>,
) -> HttpResponse {
    match state.tokens.refresh(&body.refresh_token).await {
        Ok(issued) => token_body(issued),
        Err(e) => issue_failure(&req, e),
    }
}

/// `POST /users/logout {refresh_token}` → 204; the refresh family is
/// revoked, and so is the access token the request carries, if any, on
/// every instance, until it expires.
#[authenticate("jwt")]
#[post("/users/logout")]
async fn logout(
    req: HttpRequest,
    user: Option<UserProfile>,
    body: web::Json<RefreshBody>,
    state: web::Data<AuthState>,
) -> HttpResponse {
    if let Some(user) = user
        && let (Some(jti), Some(exp)) = (
            user.claims.get("jti").and_then(|v| v.as_str()),
            user.claims.get("exp").and_then(|v| v.as_u64()),
        )
        && let Err(e) = state.revocations.revoke_token(jti, exp).await
    {
        return error_response(&req, &AuthError::from(e), &[]);
    }
    match state.tokens.revoke(&body.refresh_token).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => issue_failure(&req, e),
    }
}

/// `POST /users/logout-all` (Bearer) → 204: every access token of the
/// caller issued until now is refused, and every refresh-token family
/// begun until now ends, on every instance.
#[authenticate("jwt")]
#[post("/users/logout-all")]
async fn logout_all(
    req: HttpRequest,
    user: UserProfile,
    state: web::Data<AuthState>,
) -> HttpResponse {
    // Tokens issued within this very second are refused too: `iat` has a
    // resolution of one second.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    match state.revocations.revoke_subject(&user.id, now + 1).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => error_response(&req, &AuthError::from(e), &[]),
    }
}

/// `GET /whoAmI`: the caller's profile (LoopBack answers only the id).
#[authenticate("jwt")]
#[get("/whoAmI")]
async fn who_am_i(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "email": user.email,
        "roles": user.roles,
    }))
}

/// `GET /users/me`: the caller's profile, with a token or with HTTP Digest
/// credentials (RFC 7616, SHA-256, realm `todo`; the nonce counts are
/// shared by every instance, so a replay to another one is refused).
#[authenticate("jwt", "digest")]
#[get("/users/me")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "email": user.email,
        "roles": user.roles,
    }))
}

/// `GET /admin/todos/count`: every user's todos, for administrators, with a
/// token or with Basic credentials.
#[authenticate("jwt", "basic", roles = ["admin"])]
#[get("/admin/todos/count")]
async fn admin_count(todos: web::Data<Todos>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(json!({"count": todos.count_all().await?})))
}

/// `GET /`: a short index of the API.
#[authenticate(skip)]
#[get("/")]
async fn index() -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "name": "todo",
        "endpoints": {
            "POST /signup": "{email, password} -> {id, email}",
            "POST /users/login": "{email, password} -> {access_token, token_type, expires_in, refresh_token}",
            "POST /refresh": "{refresh_token} -> {access_token, token_type, expires_in, refresh_token}",
            "POST /users/logout": "{refresh_token} (+ Bearer) -> 204",
            "POST /users/logout-all": "Bearer -> 204, every session ends",
            "GET /whoAmI": "Bearer token -> your profile",
            "GET /openapi.json": "the OpenAPI document (security of every route)",
            "GET /users/me": "Bearer token or HTTP Digest -> your profile",
            "POST /users/me/token": "HTTP Basic (email, password) -> 201 {token, userId, validUntil, location} and Auth-Token headers",
            "GET|DELETE /users/me/tokens/{id}": "an auth token's metadata, or revoke it",
            "POST /users/me/api-keys": "Bearer (login JWT), {name, scopes?, expiresInDays?} -> 201 {id, key, ...}",
            "GET /users/me/api-keys": "Bearer (login JWT) -> your keys",
            "DELETE /users/me/api-keys/{id}": "Bearer (login JWT) -> 204",
            "GET /todos": "your todos (login JWT, auth token, X-API-Key or the page's session cookie)",
            "GET /todos/count": "{count}",
            "GET /todos/{id}": "one todo",
            "POST /todos": "{title, desc?, isComplete?}",
            "PUT /todos/{id}": "replace",
            "PATCH /todos/{id}": "change fields",
            "DELETE /todos/{id}": "204",
            "GET /admin/todos/count": "admins (Bearer or Basic)",
            "GET /app": "the web page (browser session in an HttpOnly cookie, CSRF-protected)",
            "POST /session/login": "{email, password} -> session cookie + {user, csrf_token, ...}",
            "GET /session": "session cookie -> {user, csrf_token, ...}",
            "POST /session/logout": "session cookie + X-CSRF-Token -> 204, cookie cleared"
        }
    }))
}

/// `GET /openapi.json`: the OpenAPI document, security from the routes'
/// declarations.
#[authenticate(skip)]
#[get("/openapi.json")]
async fn openapi_json(doc: web::Data<crate::OpenApiJson>) -> HttpResponse {
    match doc.0.get() {
        Some(json) => HttpResponse::Ok()
            .content_type("application/json")
            .body(json.clone()),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

/// Registers the auth routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(index)
        .service(openapi_json)
        .service(signup)
        .service(login)
        .service(refresh)
        .service(logout)
        .service(logout_all)
        .service(who_am_i)
        .service(me)
        .service(admin_count);
}
