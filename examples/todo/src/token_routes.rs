//! Credentials for scripts and tools, next to the JWT login:
//!
//! - `POST /users/me/token`: log in with HTTP Basic (e-mail and password)
//!   and get a RESTHeart-style auth token (`Auth-Token`,
//!   `Auth-Token-Valid-Until`, `Auth-Token-Location`), sent back as
//!   `Authorization: Bearer <token>` (or `Basic base64(user-id:token)`)
//!   until it expires; `GET`/`DELETE` on its location shows or revokes it.
//! - `POST|GET /users/me/api-keys`, `DELETE /users/me/api-keys/{id}`: API
//!   keys (`todo_…`, shown once) for the caller's scripts, sent as
//!   `X-API-Key` (auth-token's `ApiKeyStrategy` can read
//!   `Authorization: ApiKey …` instead: `.scheme("ApiKey")`).
//!
//! Both live in the shared state store, so they work on every instance, and
//! both are accepted on the `/todos` routes. Managing API keys needs the
//! JWT of a login: a key cannot create or list keys.

use std::time::Duration;

use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, delete, get, post, web};
use auth_core::{AuthError, UserProfile, error_response};
use auth_macros::authenticate;
use auth_token::{ApiKeyError, ApiKeyRecord, ApiKeys, NewApiKey, TokenManager};
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;

/// What the token and key routes share.
pub struct CredentialState {
    /// RESTHeart-style auth tokens.
    pub tokens: TokenManager,
    /// API keys, prefix `todo_`.
    pub api_keys: ApiKeys,
}

/// Where auth-token locations live (`GET`/`DELETE` by their owner).
pub const TOKEN_LOCATION: &str = "/users/me/tokens";

/// Longest API key name accepted.
pub const MAX_KEY_NAME_CHARS: usize = 100;
/// Longest API key lifetime, in days.
pub const MAX_KEY_DAYS: u32 = 365;

fn rfc3339(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// `POST /users/me/token` with HTTP Basic (e-mail and password): 201 with
/// the token in the body and in RESTHeart's three headers.
#[authenticate("basic")]
#[post("/users/me/token")]
async fn issue_token(
    req: HttpRequest,
    user: UserProfile,
    state: web::Data<CredentialState>,
) -> HttpResponse {
    let issued = match state.tokens.issue(&user).await {
        Ok(issued) => issued,
        Err(e) => return error_response(&req, &AuthError::from(e), &[]),
    };
    let valid_until = rfc3339(issued.record.expires_at);
    let mut resp = HttpResponse::Created()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(json!({
            "token": issued.token,
            "userId": issued.record.owner,
            "validUntil": valid_until,
            "location": issued.location,
        }));
    for (name, value) in [
        ("auth-token", issued.token.as_str()),
        ("auth-token-valid-until", valid_until.as_str()),
        ("auth-token-location", issued.location.as_str()),
    ] {
        if let Ok(value) = HeaderValue::from_str(value) {
            resp.headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    resp
}

/// `POST /users/me/api-keys` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewKeyBody {
    name: String,
    #[serde(default)]
    scopes: Vec<String>,
    expires_in_days: Option<u32>,
}

fn key_json(record: &ApiKeyRecord) -> serde_json::Value {
    json!({
        "id": record.id,
        "name": record.name,
        "scopes": record.scopes,
        "createdAt": rfc3339(record.created_at),
        "expiresAt": record.expires_at.map(rfc3339),
    })
}

fn key_failure(req: &HttpRequest, e: ApiKeyError) -> HttpResponse {
    match e {
        ApiKeyError::NotFound => {
            actix_web::ResponseError::error_response(&ApiError::NotFound("no such API key".into()))
        }
        ApiKeyError::Store(e) => error_response(req, &AuthError::from(e), &[]),
        other => error_response(req, &AuthError::internal(other.to_string()), &[]),
    }
}

/// `POST /users/me/api-keys {name, scopes?, expiresInDays?}` with a login
/// JWT: 201 with the key, shown this once (only its hash is stored).
#[authenticate("jwt")]
#[post("/users/me/api-keys")]
async fn create_key(
    req: HttpRequest,
    user: UserProfile,
    body: web::Json<NewKeyBody>,
    state: web::Data<CredentialState>,
) -> Result<HttpResponse, ApiError> {
    let NewKeyBody {
        name,
        scopes,
        expires_in_days,
    } = body.into_inner();
    let name = name.trim().to_owned();
    if name.is_empty()
        || name.chars().count() > MAX_KEY_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(ApiError::unprocessable(
            "INVALID_KEY_NAME",
            format!("name must be 1 to {MAX_KEY_NAME_CHARS} printable characters"),
        ));
    }
    if let Some(days) = expires_in_days
        && !(1..=MAX_KEY_DAYS).contains(&days)
    {
        return Err(ApiError::unprocessable(
            "INVALID_KEY_LIFETIME",
            format!("expiresInDays must be between 1 and {MAX_KEY_DAYS}"),
        ));
    }
    if scopes.len() > 20
        || scopes.iter().any(|s| {
            s.is_empty()
                || s.len() > 64
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        })
    {
        return Err(ApiError::unprocessable(
            "INVALID_KEY_SCOPES",
            "scopes are at most 20 words of 1 to 64 visible characters",
        ));
    }
    let created = state
        .api_keys
        .create(NewApiKey {
            owner: user.id.clone(),
            name,
            // A key acts as its owner, never with more: no admin role.
            roles: Vec::new(),
            scopes,
            ttl: expires_in_days.map(|d| Duration::from_secs(u64::from(d) * 86_400)),
        })
        .await;
    Ok(match created {
        Ok((key, record)) => {
            let mut body = key_json(&record);
            body["key"] = key.into();
            HttpResponse::Created()
                .insert_header((CACHE_CONTROL, "no-store"))
                .json(body)
        }
        Err(e) => key_failure(&req, e),
    })
}

/// `GET /users/me/api-keys`: the caller's keys (never the keys themselves).
#[authenticate("jwt")]
#[get("/users/me/api-keys")]
async fn list_keys(
    req: HttpRequest,
    user: UserProfile,
    state: web::Data<CredentialState>,
) -> HttpResponse {
    match state.api_keys.list(&user.id).await {
        Ok(records) => {
            let mut keys = Vec::new();
            for record in &records {
                let mut item = key_json(record);
                let last = state.api_keys.last_used(&user.id, &record.id).await;
                item["lastUsedAt"] = last.ok().flatten().map(rfc3339).into();
                keys.push(item);
            }
            HttpResponse::Ok().json(keys)
        }
        Err(e) => key_failure(&req, e),
    }
}

/// `DELETE /users/me/api-keys/{id}`: revokes one of the caller's keys, on
/// every instance at once; 404 for anyone else's.
#[authenticate("jwt")]
#[delete("/users/me/api-keys/{id}")]
async fn revoke_key(
    req: HttpRequest,
    user: UserProfile,
    id: web::Path<String>,
    state: web::Data<CredentialState>,
) -> HttpResponse {
    match state.api_keys.revoke(&user.id, &id).await {
        Ok(()) => HttpResponse::NoContent().finish(),
        Err(e) => key_failure(&req, e),
    }
}

/// The policy of the auth-token routes under [`TOKEN_LOCATION`] (their
/// scope's `AuthenticationMiddleware`), also what the OpenAPI document says
/// of them.
pub fn token_scope_policy() -> auth_core::AuthPolicy {
    auth_core::AuthPolicy::new()
        .strategy("opaque")
        .strategy("jwt")
        .strategy("basic")
}

/// The methods auth-token's routes under [`TOKEN_LOCATION`] serve.
pub const TOKEN_METHODS: [&str; 2] = ["GET", "DELETE"];

/// Registers the token and API-key routes; `tokens` serves the token
/// locations under [`TOKEN_LOCATION`] to their owners (with the token
/// itself, a login JWT or Basic).
pub fn configure(tokens: TokenManager) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.service(issue_token)
            .service(create_key)
            .service(list_keys)
            .service(revoke_key)
            .service(
                web::scope(TOKEN_LOCATION)
                    .wrap(auth_core::AuthenticationMiddleware::new(
                        token_scope_policy(),
                    ))
                    .configure(tokens.routes()),
            );
    }
}
