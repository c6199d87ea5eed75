//! A small server for `scripts/flood.sh`: `/basic` behind Basic (argon2id with
//! the default parameters and pool sizing, the brute-force guard with its
//! default limits, `X-Forwarded-For` believed from 127.0.0.1 so the script
//! can play several clients), `/open` without authentication.
//!
//! User `admin`, password `correct horse battery staple`.
//!
//! `cargo run --release -p auth-basic --example flood_server -- 127.0.0.1:8089`

use actix_web::{App, HttpServer, get};
use auth_basic::password::{HasherConfig, PasswordHasher};
use auth_basic::{
    BasicStrategy, BruteForceGuard, GuardConfig, MemoryUserStore, NewUser, PasswordAuthenticator,
};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;

#[get("/basic")]
#[authenticate("basic")]
async fn basic(user: UserProfile) -> String {
    user.id
}

#[get("/open")]
async fn open() -> &'static str {
    "ok"
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".to_owned());
    let config = HasherConfig::default();
    eprintln!(
        "hashing pool: {} thread(s), queue {}, {} per client",
        config.threads, config.queue, config.per_client
    );
    let hasher = PasswordHasher::new(config);
    let users = MemoryUserStore::new();
    let hash = hasher
        .hash("correct horse battery staple")
        .await
        .map_err(std::io::Error::other)?;
    users.insert(NewUser::new("admin", hash));
    let auth = PasswordAuthenticator::new(users, hasher);
    let guard = BruteForceGuard::new(GuardConfig {
        trusted_proxies: vec!["127.0.0.1".parse().map_err(std::io::Error::other)?],
        ..GuardConfig::default()
    });
    let registry = StrategyRegistry::builder()
        .register(BasicStrategy::new("flood", auth).with_guard(guard))
        .build()
        .map_err(std::io::Error::other)?;
    HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .service(basic)
            .service(open)
    })
    .workers(2)
    .bind(addr)?
    .run()
    .await
}
