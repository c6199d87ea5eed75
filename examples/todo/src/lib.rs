//! LoopBack's todo-jwt example, ported to actix-web with this framework.
//!
//! `cargo run -p todo` starts it on `127.0.0.1:3000` with SQLite in `./data`
//! (created, migrated, and given a freshly generated signing key on first
//! start). `DATABASE_URL=postgres://…` runs the same code on PostgreSQL.
//! See the workspace README for a curl walkthrough.
//!
//! Authentication is described in `auth.toml` (strategies `jwt` and `basic`,
//! token lifetimes, the login guard), loaded at start-up; see
//! [`config`] for how the todo's variables map onto it. The code adds what a
//! file cannot hold: the signing key, the user store it shares with sign-up,
//! the shared state store and the revocation list.
//!
//! Where this differs from LoopBack's example, on purpose:
//! - sign-up refuses a duplicate e-mail (409) and a weak password or a
//!   malformed address (422);
//! - login answers an access token *and* a refresh token; refresh tokens
//!   rotate, and a reused one revokes its family;
//! - login is guarded against password guessing (429 with `Retry-After`);
//! - another user's todo is 404, exactly like a missing one;
//! - `whoAmI` answers the profile as JSON rather than the bare id;
//! - a web page at `/app` ([`page`]) signs up, logs in with a browser
//!   session (an `HttpOnly` `__Host-session` cookie, CSRF-protected) and
//!   manages todos; the JSON API works for bearer clients as before;
//! - with `OIDC_*` configured ([`oidc_routes`]), "log in with your identity
//!   provider": from the page it ends in the same browser session, without
//!   `return_to` in the todo's own token pair.

pub mod auth_routes;
pub mod config;
pub mod digest;
pub mod error;
pub mod keys;
pub mod oidc_routes;
pub mod page;
pub mod todo_routes;
pub mod todos;
pub mod token_routes;
pub mod validate;

use std::sync::Arc;

use actix_web::web;
use auth_basic::{BasicFactory, PasswordAuthenticator, SqlStoreOptions, SqlUserStore, UserStore};
use auth_core::StrategyRegistry;
use auth_core::{AuthConfigError, RevocationOptions, Revocations, StateStore};
use auth_jwt::{Algorithm, JwtConfig, SigningKey, VerifyingKey};
use auth_store::{RedisOptions, RedisStore, SqlStore};
use auth_token::{
    ApiKeyStrategy, ApiKeys, BrowserSessions, OpaqueBearerStrategy, SessionStrategy,
    TokenBasicStrategy, TokenManager,
};

use crate::auth_routes::AuthState;
use crate::config::Config;
use crate::keys::KeySource;
use crate::todos::Todos;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    /// The authentication file (or a value set on it) cannot be used; the
    /// message names the file or variable, the strategy and the field.
    #[error(transparent)]
    AuthConfig(#[from] AuthConfigError),
    /// The data directory or key file.
    #[error("data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The database could not be opened or migrated.
    #[error("database: {0}")]
    Database(String),
    /// A strategy or the registry refused its configuration.
    #[error("authentication setup: {0}")]
    Auth(String),
}

/// Everything the routes need, built once at start-up and shared by workers.
#[derive(Clone)]
pub struct AppState {
    /// Strategies: `jwt`, `basic`, `digest`, `opaque` and `token-basic`
    /// (auth tokens), `api-key`, `session` (the web page's cookie).
    pub registry: StrategyRegistry,
    /// Auth tokens and API keys.
    pub credentials: web::Data<token_routes::CredentialState>,
    /// Todo storage.
    pub todos: web::Data<Todos>,
    /// Users, passwords, tokens, login guard.
    pub auth: web::Data<AuthState>,
    /// The web page's browser sessions.
    pub sessions: BrowserSessions,
    /// "Log in with your identity provider", when configured
    /// ([`oidc_routes`]).
    pub oidc: Option<auth_oauth2::OidcLogin>,
    /// The OpenAPI document served at `/openapi.json`, made at start-up
    /// from the routes' declarations ([`openapi`]).
    pub openapi: web::Data<OpenApiJson>,
}

/// The OpenAPI document as JSON; see [`openapi`].
#[derive(Debug, Default)]
pub struct OpenApiJson(pub std::sync::OnceLock<String>);

/// The OpenAPI document of the App `configure(state)` builds: every
/// declared route with its `security` (from its `#[authenticate]`), the
/// security schemes of the strategies they name, the auth-token routes with
/// their scope's policy.
pub async fn openapi(state: &AppState) -> Result<String, StartError> {
    let report = default_policy()
        .report(actix_web::App::new().configure(configure(state.clone())))
        .await
        .map_err(|e| StartError::Auth(e.to_string()))?;
    let token_policy = token_routes::token_scope_policy();
    let doc = auth_core::openapi::security_document(
        "todo",
        env!("CARGO_PKG_VERSION"),
        &state.registry,
        &report,
        &[(
            token_routes::TOKEN_LOCATION,
            &token_routes::TOKEN_METHODS,
            &token_policy,
        )],
    )
    .map_err(|e| StartError::Auth(format!("OpenAPI document: {e}")))?;
    doc.to_pretty_json()
        .map_err(|e| StartError::Auth(format!("OpenAPI document: {e}")))
}

/// Opens the database (creating the SQLite file and data directory on first
/// use), applies migrations, loads or generates the signing key, and builds
/// the strategies.
pub async fn build(config: &Config) -> Result<AppState, StartError> {
    // A mistake in the authentication file stops the start before anything
    // is created.
    let auth = config.auth_config()?;
    std::fs::create_dir_all(&config.data_dir)?;
    // One pool for users (auth-basic's tables) and todos (ours).
    let users = Arc::new(
        SqlUserStore::connect_with(
            &config.database_url,
            SqlStoreOptions {
                max_connections: 8,
                ..SqlStoreOptions::default()
            },
        )
        .await
        .map_err(|e| StartError::Database(e.to_string()))?,
    );
    let pool = users.pool().clone();
    let todos = Todos::new(pool.clone());
    todos
        .migrate(&config.database_url)
        .await
        .map_err(|e| StartError::Database(e.to_string()))?;

    // The state every instance must share: in Redis when REDIS_URL is set,
    // else in the database.
    let state: Arc<dyn StateStore> = match &config.redis_url {
        Some(url) => Arc::new(
            RedisStore::connect(RedisOptions::new(url.clone()).prefix("todo:"))
                .await
                .map_err(|e| StartError::Database(format!("redis: {e}")))?,
        ),
        None => Arc::new(
            SqlStore::connect(&config.database_url)
                .await
                .map_err(|e| StartError::Database(e.to_string()))?,
        ),
    };

    // Logout and "log out everywhere" are enforced on every instance sharing
    // the state (a local mirror, no round trip per request).
    let revocation_options = RevocationOptions::default()
        .resync_every(config.revocation_resync)
        .max_staleness(config.revocation_max_staleness);
    let revocations = Revocations::start(Arc::clone(&state), revocation_options)
        .await
        .map_err(|e| StartError::Database(format!("revocations: {e}")))?;

    let (secret, source) = keys::load_or_create(config.jwt_secret.as_deref(), &config.data_dir)?;
    match source {
        KeySource::Generated => tracing::info!(
            path = %config.data_dir.join(keys::KEY_FILE).display(),
            "generated a new signing key (owner-only permissions); set JWT_SECRET to use your own"
        ),
        KeySource::Stored => tracing::debug!("using the signing key stored in the data directory"),
        KeySource::Configured => tracing::debug!("using the configured signing key"),
    }
    let auth_err = |e: &dyn std::fmt::Display| StartError::Auth(e.to_string());
    // The file describes the strategies; the code supplies the key, the
    // state, the user store sign-up writes to and the revocation list.
    let jwt = JwtConfig::from_config(&auth, "jwt")?
        .with_key(VerifyingKey::hmac(&secret, Algorithm::HS256).map_err(|e| auth_err(&e))?)
        .with_signing_key(SigningKey::hmac(&secret, Algorithm::HS256).map_err(|e| auth_err(&e))?)
        .with_revocations(Arc::clone(&revocations));
    // The same table issues the tokens the strategy verifies.
    let tokens = jwt.token_service()?.store(Arc::clone(&state));
    let basic = BasicFactory::new(Arc::clone(&state))
        .with_user_store("users", Arc::clone(&users) as Arc<dyn UserStore>);
    // Login shares the Basic strategy's hashing pool and guard (counters
    // and limits): one budget for every way to guess a password.
    let passwords = PasswordAuthenticator::from_arc(Arc::clone(&users), basic.hasher(&auth)?)
        .rehash_on_login(true);
    let guard = basic.guard(&auth)?;
    // Digest on the same users, guard and shared state (nonce counts), for
    // `GET /users/me` (`curl --digest`).
    let digest = digest::strategy(&secret, Arc::clone(&users), Arc::clone(&state), &guard);
    // Auth tokens (RESTHeart's, issued by `POST /users/me/token`) and API
    // keys for scripts, in the shared state: valid on every instance.
    let auth_tokens = TokenManager::new(Arc::clone(&state)).location(token_routes::TOKEN_LOCATION);
    let api_keys = ApiKeys::new(Arc::clone(&state))
        .with_prefix("todo_")
        .map_err(|e| auth_err(&e))?;
    // The web page's sessions, in the shared state too: a login on one
    // instance is a session on all, and so is a logout.
    let mut sessions = BrowserSessions::new(Arc::clone(&state))
        .idle_timeout(config.session_idle)
        .absolute_timeout(config.session_absolute);
    if config.dangerously_allow_insecure_cookie {
        tracing::warn!(
            "TODO_DANGEROUSLY_ALLOW_INSECURE_COOKIE: the session cookie is not Secure; local development only"
        );
        sessions = sessions.dangerously_allow_insecure_cookie();
    }
    let registry = StrategyRegistry::builder_from_config(&auth, &[&jwt, &basic, &basic.digest()])
        .await?
        .register(digest)
        .register(OpaqueBearerStrategy::new("opaque", auth_tokens.clone()))
        .register(TokenBasicStrategy::new("token-basic", auth_tokens.clone()).realm("todo"))
        .register(ApiKeyStrategy::new("api-key", api_keys.clone()))
        .register(SessionStrategy::new("session", sessions.clone()))
        .build()
        .map_err(|e| auth_err(&e))?;
    // Refuse to start when a handler names a strategy that is not registered.
    registry.verify_handlers().map_err(|e| auth_err(&e))?;
    // OpenID Connect login, ending in this todo's own token pair. The
    // provider is discovered at the first login: the todo starts while it
    // is down, and those routes answer 503 meanwhile.
    let oidc = match &config.oidc {
        Some(settings) => Some(
            oidc_routes::login(settings, &secret, tokens.clone(), sessions.clone())
                .map_err(|e| StartError::Auth(format!("OpenID Connect login: {e}")))?,
        ),
        None => None,
    };

    let state = AppState {
        oidc,
        registry,
        credentials: web::Data::new(token_routes::CredentialState {
            tokens: auth_tokens,
            api_keys,
        }),
        todos: web::Data::new(todos),
        auth: web::Data::new(AuthState {
            users,
            passwords,
            tokens,
            guard,
            revocations,
            admin_emails: config.admin_emails.clone(),
        }),
        sessions,
        openapi: web::Data::new(OpenApiJson::default()),
    };
    let document = openapi(&state).await?;
    // Set once, here, before any request.
    let _ = state.openapi.0.set(document);
    Ok(state)
}

/// The App's default-deny policy: only routes whose handler carries
/// `#[authenticate(..)]` (or `#[authenticate(skip)]`) are served; every
/// other request is answered 404. The auth-token routes under
/// [`token_routes::TOKEN_LOCATION`] are auth-token's handlers, protected by
/// the `AuthenticationMiddleware` of their scope, so they are declared by
/// that prefix.
pub fn default_policy() -> auth_core::DefaultPolicy {
    auth_core::DefaultPolicy::new().middleware_scope(token_routes::TOKEN_LOCATION)
}

/// Registers the state and every route.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        let tokens = state.credentials.tokens.clone();
        cfg.app_data(state.registry)
            .app_data(state.credentials)
            .app_data(state.todos)
            .app_data(state.auth)
            .app_data(state.openapi)
            .configure(auth_core::input_errors(64 * 1024))
            .configure(auth_routes::configure)
            .configure(token_routes::configure(tokens))
            .configure(page::configure(state.sessions))
            .configure(todo_routes::configure);
        if let Some(login) = state.oidc {
            cfg.configure(oidc_routes::configure(login));
        }
    }
}
