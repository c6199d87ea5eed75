//! RFC 7662 introspection and RFC 7009 revocation endpoints for this
//! application's own tokens, so that a gateway in front of it can ask.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, PRAGMA, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use auth_core::{AuthError, credentials_for};
use base64::Engine as _;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq as _;

use crate::TokenManager;

/// Largest form body the endpoints read.
const MAX_FORM_BYTES: usize = 16 * 1024;

/// A kind of token the endpoints can introspect and revoke: auth-token's
/// [`TokenManager`] tokens, JWTs and refresh tokens of auth-jwt's
/// `TokenService` (`JwtAuthority`, feature `jwt`), or your own.
///
/// ```
/// use auth_core::AuthError;
/// use auth_token::{TokenAuthority, TokenEndpoints, unsupported_token_type};
/// use serde_json::{Map, Value};
///
/// /// Session ids of a legacy system: introspected, never revoked here.
/// struct Legacy;
///
/// #[auth_core::async_trait(?Send)]
/// impl TokenAuthority for Legacy {
///     async fn introspect(&self, token: &str) -> Result<Option<Map<String, Value>>, AuthError> {
///         Ok(token.strip_prefix("legacy-").map(|user| {
///             let mut members = Map::new();
///             members.insert("sub".into(), user.into());
///             members
///         }))
///     }
///     async fn revoke(&self, token: &str) -> Result<(), AuthError> {
///         if token.starts_with("legacy-") {
///             return Err(unsupported_token_type());
///         }
///         Ok(())
///     }
/// }
///
/// let endpoints = TokenEndpoints::new().client("gateway", "a-long-client-secret").authority(Legacy);
/// # let _ = endpoints;
/// ```
#[async_trait::async_trait(?Send)]
pub trait TokenAuthority {
    /// The RFC 7662 members of `token` (`sub`, `scope`, `exp`...; `active`
    /// is added) when it is one of this authority's tokens and valid now;
    /// `None` when it is not (unknown, expired, revoked, malformed). An
    /// error only when the authority cannot tell (its store is down).
    async fn introspect(&self, token: &str) -> Result<Option<Map<String, Value>>, AuthError>;

    /// Revokes `token` if it is one of this authority's; anything else is
    /// `Ok` (RFC 7009 §2.2: an unknown token is not an error). A token of
    /// this authority that it cannot revoke is
    /// [`unsupported_token_type`] (400).
    async fn revoke(&self, token: &str) -> Result<(), AuthError>;
}

#[async_trait::async_trait(?Send)]
impl TokenAuthority for TokenManager {
    async fn introspect(&self, token: &str) -> Result<Option<Map<String, Value>>, AuthError> {
        let Some(record) = self.verify(token).await? else {
            return Ok(None);
        };
        let mut members = Map::new();
        members.insert("sub".into(), record.owner.clone().into());
        members.insert("scope".into(), record.scopes.join(" ").into());
        members.insert("iat".into(), record.created_at.into());
        members.insert("exp".into(), record.expires_at.into());
        members.insert("token_type".into(), "Bearer".into());
        Ok(Some(members))
    }

    async fn revoke(&self, token: &str) -> Result<(), AuthError> {
        if let Some(record) = self.verify(token).await? {
            TokenManager::revoke(self, &record.owner, &record.id).await?;
        }
        Ok(())
    }
}

/// The error a [`TokenAuthority::revoke`] returns for one of its tokens it
/// cannot revoke: RFC 7009's 400 `unsupported_token_type`.
///
/// ```
/// let err = auth_token::unsupported_token_type();
/// assert_eq!((err.status().as_u16(), err.code()), (400, "unsupported_token_type"));
/// ```
pub fn unsupported_token_type() -> AuthError {
    AuthError::rejected(
        StatusCode::BAD_REQUEST,
        UNSUPPORTED,
        "this kind of token cannot be revoked here",
    )
}

const UNSUPPORTED: &str = "unsupported_token_type";

/// A client allowed to call the endpoints: its id and the SHA-256 of its
/// secret (the secret itself is not kept).
#[derive(Clone)]
struct Client {
    id: String,
    secret_hash: [u8; 32],
}

/// The introspection (RFC 7662) and revocation (RFC 7009) endpoints.
///
/// - Callers authenticate as a registered client with HTTP Basic
///   (`client_id:client_secret`, each form-urlencoded as RFC 6749 §2.3.1
///   asks); the secret is compared in constant time, by its SHA-256. A
///   missing or wrong client is 401 `invalid_client` with a `Basic`
///   challenge.
/// - The request is a form with `token` (required, once) and an optional
///   `token_type_hint`; each [`TokenAuthority`] is asked in turn.
/// - Introspection answers `{"active": false}` for anything not valid now,
///   and `{"active": true, ...}` with the authority's members otherwise;
///   `Cache-Control: no-store`.
/// - Revocation answers 200 whether or not the token was known.
/// - Errors follow RFC 6749 §5.2 (`{"error": "invalid_request"}`): these
///   endpoints speak OAuth to gateways, not the application's error shape.
///   An authority that cannot tell (its store down) makes it 503.
///
/// ```
/// use std::sync::Arc;
/// use actix_web::{test, web, App};
/// use auth_core::{MemoryStore, UserProfile};
/// use auth_token::{TokenEndpoints, TokenManager};
/// use base64::Engine as _;
///
/// # actix_web::rt::System::new().block_on(async {
/// let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
/// let endpoints = TokenEndpoints::new()
///     .client("gateway", "a-long-random-client-secret")
///     .authority(tokens.clone());
/// let app = test::init_service(
///     App::new().service(web::scope("/oauth").configure(endpoints.configure("/introspect", "/revoke"))),
/// )
/// .await;
///
/// let issued = tokens.issue(&UserProfile::new("ada")).await.unwrap();
/// let basic = base64::engine::general_purpose::STANDARD.encode("gateway:a-long-random-client-secret");
/// let req = test::TestRequest::post()
///     .uri("/oauth/introspect")
///     .insert_header(("Authorization", format!("Basic {basic}")))
///     .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
///     .set_payload(format!("token={}", issued.token))
///     .to_request();
/// let body: serde_json::Value = test::call_and_read_body_json(&app, req).await;
/// assert_eq!((body["active"].as_bool(), body["sub"].as_str()), (Some(true), Some("ada")));
/// # });
/// ```
#[derive(Clone, Default)]
pub struct TokenEndpoints {
    clients: Vec<Client>,
    authorities: Vec<Arc<dyn TokenAuthority>>,
    realm: Option<String>,
}

impl std::fmt::Debug for TokenEndpoints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.clients.iter().map(|c| c.id.as_str()).collect();
        f.debug_struct("TokenEndpoints")
            .field("clients", &ids)
            .field("authorities", &self.authorities.len())
            .finish_non_exhaustive()
    }
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// An RFC 6749 §5.2 error.
fn oauth_error(status: StatusCode, error: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, "no-store"))
        .insert_header((PRAGMA, "no-cache"))
        .json(serde_json::json!({ "error": error }))
}

impl TokenEndpoints {
    /// No clients and no authorities yet.
    pub fn new() -> Self {
        TokenEndpoints::default()
    }

    /// Allows the client `id` with `secret` (read it from the environment
    /// or a file). Only the secret's SHA-256 is kept.
    pub fn client(mut self, id: impl Into<String>, secret: impl AsRef<[u8]>) -> Self {
        self.clients.push(Client {
            id: id.into(),
            secret_hash: sha256(secret.as_ref()),
        });
        self
    }

    /// Adds a kind of token, asked after the ones added before.
    pub fn authority(mut self, authority: impl TokenAuthority + 'static) -> Self {
        self.authorities.push(Arc::new(authority));
        self
    }

    /// `realm` of the `Basic` challenge to unauthenticated callers
    /// (default `token-endpoints`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Mounts `POST introspect` and `POST revoke` (paths relative to the
    /// scope it is configured in).
    pub fn configure(
        self,
        introspect: &str,
        revoke: &str,
    ) -> impl FnOnce(&mut web::ServiceConfig) + use<> {
        let (introspect, revoke) = (introspect.to_owned(), revoke.to_owned());
        let this = web::Data::new(self);
        move |cfg| {
            cfg.service(
                web::resource(introspect)
                    .app_data(this.clone())
                    .route(web::post().to(introspect_handler)),
            )
            .service(
                web::resource(revoke)
                    .app_data(this)
                    .route(web::post().to(revoke_handler)),
            );
        }
    }

    /// Whether the request carries a registered client's credentials.
    fn authenticated(&self, req: &HttpRequest) -> bool {
        let Ok(Some(credentials)) = credentials_for(req, "Basic") else {
            return false;
        };
        let Some(decoded) = credentials
            .token68()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .and_then(|b| String::from_utf8(b).ok())
        else {
            return false;
        };
        let Some((id, secret)) = decoded.split_once(':') else {
            return false;
        };
        // RFC 6749 §2.3.1: both are form-urlencoded before being joined.
        let decode = |s: &str| -> String {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (decode(id), decode(secret));
        let presented = sha256(secret.as_bytes());
        // Every client is compared, so the time taken does not tell which
        // ids exist.
        let mut ok = false;
        for client in &self.clients {
            let same = bool::from(client.secret_hash.ct_eq(&presented)) & (client.id == id);
            ok |= same;
        }
        ok
    }

    fn unauthorized(&self) -> HttpResponse {
        let realm = self.realm.as_deref().unwrap_or("token-endpoints");
        let mut resp = oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
        if let Ok(value) = format!("Basic realm=\"{realm}\"").parse() {
            resp.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        resp
    }
}

impl TokenEndpoints {
    /// The `token` of a request from a registered client, or the response
    /// refusing it (401 `invalid_client`, 400 `invalid_request`). The client
    /// is authenticated before the body is read, and the body is read up to
    /// its bound only: an unauthenticated request never has it buffered.
    #[allow(clippy::result_large_err)] // the refusal is the response itself
    async fn token_request(
        &self,
        req: &HttpRequest,
        body: web::Payload,
    ) -> Result<String, HttpResponse> {
        if !self.authenticated(req) {
            return Err(self.unauthorized());
        }
        let invalid = || oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
        let body = match body.to_bytes_limited(MAX_FORM_BYTES).await {
            Ok(Ok(body)) => body,
            // Too long, or the body broke off.
            Ok(Err(_)) | Err(_) => return Err(invalid()),
        };
        token_of(req, &body).ok_or_else(invalid)
    }
}

/// The `token` of a form body; `None`: an `invalid_request`.
fn token_of(req: &HttpRequest, body: &[u8]) -> Option<String> {
    let form_type = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    if !form_type {
        return None;
    }
    let mut token = None;
    for (name, value) in form_urlencoded::parse(body) {
        if name == "token" {
            if token.is_some() {
                // RFC 6749 §3.1: parameters must not be included more than once.
                return None;
            }
            token = Some(value.into_owned());
        }
    }
    token.filter(|t| !t.is_empty())
}

fn unavailable(e: &AuthError) -> HttpResponse {
    tracing::warn!(error = %e, "a token endpoint cannot answer");
    let mut resp = oauth_error(StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable");
    resp.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from_static("1"),
    );
    resp
}

async fn introspect_handler(
    req: HttpRequest,
    body: web::Payload,
    endpoints: web::Data<TokenEndpoints>,
) -> HttpResponse {
    let token = match endpoints.token_request(&req, body).await {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    for authority in &endpoints.authorities {
        match authority.introspect(&token).await {
            Ok(Some(mut members)) => {
                members.insert("active".into(), true.into());
                return HttpResponse::Ok()
                    .insert_header((CACHE_CONTROL, "no-store"))
                    .json(Value::Object(members));
            }
            Ok(None) => {}
            Err(e) if e.status() == StatusCode::SERVICE_UNAVAILABLE => return unavailable(&e),
            // Anything else (an invalid token) is "not active".
            Err(_) => {}
        }
    }
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "active": false }))
}

async fn revoke_handler(
    req: HttpRequest,
    body: web::Payload,
    endpoints: web::Data<TokenEndpoints>,
) -> HttpResponse {
    let token = match endpoints.token_request(&req, body).await {
        Ok(token) => token,
        Err(refused) => return refused,
    };
    for authority in &endpoints.authorities {
        match authority.revoke(&token).await {
            Ok(()) => {}
            Err(e) if e.status() == StatusCode::SERVICE_UNAVAILABLE => return unavailable(&e),
            Err(e) if e.code() == UNSUPPORTED => {
                return oauth_error(StatusCode::BAD_REQUEST, UNSUPPORTED);
            }
            Err(e) => tracing::debug!(error = %e, "revocation: not this authority's token"),
        }
    }
    HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, "no-store"))
        .finish()
}
