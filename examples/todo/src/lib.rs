//! LoopBack's todo-jwt example, ported to actix-web with this framework.
//!
//! `cargo run -p todo` starts it on `127.0.0.1:3000` with SQLite in `./data`
//! (created, migrated, and given a freshly generated signing key on first
//! start). `DATABASE_URL=postgres://…` runs the same code on PostgreSQL.
//! See the workspace README for a curl walkthrough.
//!
//! Where this differs from LoopBack's example, on purpose:
//! - sign-up refuses a duplicate e-mail (409) and a weak password or a
//!   malformed address (422);
//! - login answers an access token *and* a refresh token; refresh tokens
//!   rotate, and a reused one revokes its family;
//! - login is guarded against password guessing (429 with `Retry-After`);
//! - another user's todo is 404, exactly like a missing one;
//! - `whoAmI` answers the profile as JSON rather than the bare id.

pub mod auth_routes;
pub mod config;
pub mod error;
pub mod keys;
pub mod refresh_store;
pub mod todo_routes;
pub mod todos;
pub mod validate;

use std::sync::Arc;

use actix_web::web;
use auth_basic::password::{HasherConfig, PasswordHasher};
use auth_basic::{
    BasicStrategy, BruteForceGuard, GuardConfig, PasswordAuthenticator, SqlStoreOptions,
    SqlUserStore,
};
use auth_core::StrategyRegistry;
use auth_jwt::{Algorithm, JwtKey, JwtStrategy, SigningKey, TokenService};

use crate::auth_routes::AuthState;
use crate::config::Config;
use crate::keys::KeySource;
use crate::refresh_store::SqlRefreshStore;
use crate::todos::Todos;

/// The audience of this service's access tokens.
pub const AUDIENCE: &str = "todo-api";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Bad configuration.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
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
    /// Strategies: `jwt` and `basic`.
    pub registry: StrategyRegistry,
    /// Todo storage.
    pub todos: web::Data<Todos>,
    /// Users, passwords, tokens, login guard.
    pub auth: web::Data<AuthState>,
}

/// Opens the database (creating the SQLite file and data directory on first
/// use), applies migrations, loads or generates the signing key, and builds
/// the strategies.
pub async fn build(config: &Config) -> Result<AppState, StartError> {
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
    let jwt = JwtStrategy::builder()
        .key(JwtKey::hmac(&secret, Algorithm::HS256).map_err(|e| auth_err(&e))?)
        .issuer(config.issuer.clone())
        .audience(AUDIENCE)
        .build()
        .map_err(|e| auth_err(&e))?;
    let tokens =
        TokenService::new(SigningKey::hmac(&secret, Algorithm::HS256).map_err(|e| auth_err(&e))?)
            .issuer(config.issuer.clone())
            .audience(AUDIENCE)
            .access_ttl(config.access_ttl)
            .refresh_ttl(config.refresh_ttl)
            .store(Arc::new(SqlRefreshStore::new(pool.clone())));

    let hasher = PasswordHasher::new(HasherConfig::default());
    let passwords =
        PasswordAuthenticator::from_arc(Arc::clone(&users), hasher).rehash_on_login(true);
    let guard = BruteForceGuard::new(GuardConfig {
        max_failures_per_user: config.login_max_failures,
        max_failures_per_client: config.login_max_failures.saturating_mul(4),
        window: config.login_window,
        ..GuardConfig::default()
    });
    let basic = BasicStrategy::new("todo", passwords.clone()).with_guard(guard.clone());
    let registry = StrategyRegistry::builder()
        .register(jwt)
        .register(basic)
        .build()
        .map_err(|e| auth_err(&e))?;
    // Refuse to start when a handler names a strategy that is not registered.
    registry.verify_handlers().map_err(|e| auth_err(&e))?;

    Ok(AppState {
        registry,
        todos: web::Data::new(todos),
        auth: web::Data::new(AuthState {
            users,
            passwords,
            tokens,
            guard,
            admin_emails: config.admin_emails.clone(),
        }),
    })
}

/// Registers the state and every route.
pub fn configure(state: AppState) -> impl FnOnce(&mut web::ServiceConfig) {
    move |cfg| {
        cfg.app_data(state.registry)
            .app_data(state.todos)
            .app_data(state.auth)
            .app_data(web::JsonConfig::default().limit(64 * 1024))
            .configure(auth_routes::configure)
            .configure(todo_routes::configure);
    }
}
