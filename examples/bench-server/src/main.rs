//! The benchmark server that `scripts/bench.sh` drives with `wrk`.
//!
//! ```text
//! bench-server [--workers N] [--port P]
//! ```
//!
//! It binds 127.0.0.1 (port 0 by default: a free one), 1 worker by default,
//! and prints on stdout, one per line, `listening http://ADDR` and then the
//! credentials the load generator needs as `NAME=value` lines:
//!
//! | route | strategies | credential printed |
//! |---|---|---|
//! | `/open` | none | |
//! | `/jwt/hs256` | `hs256` | `HS256_TOKEN` |
//! | `/jwt/rs256` | `rs256` | `RS256_TOKEN` |
//! | `/jwt/es256` | `es256` | `ES256_TOKEN` |
//! | `/basic` | `basic` (argon2id, default parameters) | `BASIC` (base64 of `user:password`), `BASIC_WRONG` |
//! | `/basic-cached` | `basic-cached` (same, with the verification cache) | `BASIC` |
//! | `/three` | `basic`, `cookie`, `hs256` | `HS256_TOKEN` |
//!
//! On `/three` the first two strategies find nothing of their kind in a
//! Bearer request (no Basic header, no `session` cookie) and the third
//! succeeds: it measures what a failed-over sequence costs.
//!
//! Keys: RS256 and ES256 use the `auth-jwt/tests/keys` fixtures (compiled
//! in); the HS256 secret is random per run, so nothing here is a default
//! secret anyone could rely on. Tokens live one day.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actix_web::{App, HttpResponse, HttpServer, get};
use auth_basic::password::PasswordHasher;
use auth_basic::{
    BasicStrategy, MemoryUserStore, NewUser, PasswordAuthenticator, VerificationCache,
};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwtKey, JwtStrategy, SigningKey, TokenSource};
use auth_macros::authenticate;
use base64::Engine as _;
use rand::RngCore as _;

const RSA_PRIVATE: &[u8] = include_bytes!("../../../auth-jwt/tests/keys/rsa.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("../../../auth-jwt/tests/keys/rsa.pub.pem");
const EC_PRIVATE: &[u8] = include_bytes!("../../../auth-jwt/tests/keys/ec.pem");
const EC_PUBLIC: &[u8] = include_bytes!("../../../auth-jwt/tests/keys/ec.pub.pem");

const USER: &str = "bench";
const PASSWORD: &str = "correct horse battery staple";

#[get("/open")]
#[authenticate(skip)]
async fn open() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

#[get("/jwt/hs256")]
#[authenticate("hs256")]
async fn hs256(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id)
}

#[get("/jwt/rs256")]
#[authenticate("rs256")]
async fn rs256(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id)
}

#[get("/jwt/es256")]
#[authenticate("es256")]
async fn es256(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id)
}

#[get("/basic")]
#[authenticate("basic")]
async fn basic(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id)
}

#[get("/basic-cached")]
#[authenticate("basic-cached")]
async fn basic_cached(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id)
}

#[get("/three")]
#[authenticate("basic", "cookie", "hs256")]
async fn three(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id)
}

struct Args {
    workers: usize,
    port: u16,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        workers: 1,
        port: 0,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--workers" => {
                args.workers = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--workers must be a positive number")?;
            }
            "--port" => args.port = value.parse().map_err(|_| "--port must be a port")?,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(args)
}

/// Issuer and audience of the bench tokens: verified as a real deployment
/// would (public-key strategies must name both).
const ISSUER: &str = "bench-server";
const AUDIENCE: &str = "bench-api";

/// Mints a token for `USER` that lives one day.
fn mint(key: &SigningKey) -> Result<String, Box<dyn std::error::Error>> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let claims = serde_json::json!({
        "sub": USER,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "name": "Bench User",
        "roles": ["user"],
        "iat": now,
        "exp": now + 86_400,
    });
    Ok(key.sign(&claims, None)?)
}

fn basic_header(user: &str, password: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;

    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let hs_sign = SigningKey::hmac(&secret, Algorithm::HS256)?;
    let rs_sign = SigningKey::from_pem(RSA_PRIVATE, Algorithm::RS256)?;
    let es_sign = SigningKey::from_pem(EC_PRIVATE, Algorithm::ES256)?;

    let hs = JwtStrategy::builder()
        .name("hs256")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(JwtKey::hmac(&secret, Algorithm::HS256)?)
        .build()?;
    let rs = JwtStrategy::builder()
        .name("rs256")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(JwtKey::from_pem(RSA_PUBLIC, Algorithm::RS256)?)
        .build()?;
    let es = JwtStrategy::builder()
        .name("es256")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(JwtKey::from_pem(EC_PUBLIC, Algorithm::ES256)?)
        .build()?;
    // A second JWT strategy that only reads a cookie: on `/three` it finds
    // nothing and passes, as a real cookie-or-bearer set-up would.
    let cookie = JwtStrategy::builder()
        .name("cookie")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(JwtKey::hmac(&secret, Algorithm::HS256)?)
        .sources([TokenSource::Cookie("session".into())])
        .build()?;

    // Default argon2id parameters and pool sizing, as an application gets
    // them: the point of `/basic` is what a real password check costs.
    let hasher = PasswordHasher::default();
    let store = Arc::new(MemoryUserStore::new());
    store.insert(NewUser::new(USER, hasher.hash(PASSWORD).await?));
    let basic_strategy = BasicStrategy::new(
        "bench",
        PasswordAuthenticator::from_arc(store.clone(), hasher.clone()),
    );
    let cached_strategy = BasicStrategy::new(
        "bench",
        PasswordAuthenticator::from_arc(store, hasher)
            .with_cache(VerificationCache::new(Duration::from_secs(600))),
    )
    .with_name("basic-cached");

    let registry = StrategyRegistry::builder()
        .register(hs)
        .register(rs)
        .register(es)
        .register(cookie)
        .register(basic_strategy)
        .register(cached_strategy)
        .build()?;
    registry.verify_handlers()?;

    let server = HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .service(open)
            .service(hs256)
            .service(rs256)
            .service(es256)
            .service(basic)
            .service(basic_cached)
            .service(three)
    })
    .workers(args.workers)
    .bind(("127.0.0.1", args.port))?;

    for addr in server.addrs() {
        println!("listening http://{addr}");
    }
    println!("HS256_TOKEN={}", mint(&hs_sign)?);
    println!("RS256_TOKEN={}", mint(&rs_sign)?);
    println!("ES256_TOKEN={}", mint(&es_sign)?);
    println!("BASIC={}", basic_header(USER, PASSWORD));
    println!("BASIC_WRONG={}", basic_header(USER, "not the password"));
    println!("READY");
    server.run().await?;
    Ok(())
}
