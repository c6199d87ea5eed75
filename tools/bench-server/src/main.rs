//! The benchmark server that `scripts/bench.sh` drives with `wrk`.
//!
//! ```text
//! bench-server [--workers N] [--port P] [--open-routes]
//!              [--tokens-dir DIR --tokens hs256=N,rs256=N,es256=N,eddsa=N,hs256-expired=N [--token-pad BYTES]]
//! ```
//!
//! It binds 127.0.0.1 (port 0 by default: a free one), 1 worker by default,
//! and prints on stdout, one per line, `listening http://ADDR` and then the
//! credentials the load generator needs as `NAME=value` lines (first
//! `BACKEND=`, auth-jwt's crypto backend: `aws-lc-rs`, or `rust-crypto` when
//! built with `--no-default-features --features rust-crypto`):
//!
//! | route | strategies | credential printed |
//! |---|---|---|
//! | `/open` | none | |
//! | `/jwt/hs256` | `hs256` | `HS256_TOKEN` |
//! | `/jwt/rs256` | `rs256` | `RS256_TOKEN` |
//! | `/jwt/es256` | `es256` | `ES256_TOKEN` |
//! | `/jwt/eddsa` | `eddsa` | `EDDSA_TOKEN` |
//! | `/basic` | `basic` (argon2id, default parameters) | `BASIC` (base64 of `user:password`), `BASIC_WRONG` |
//! | `/basic-cached` | `basic-cached` (same, with the verification cache) | `BASIC` |
//! | `/basic-guarded` | `basic-guarded` (same user, a hashing pool of its own, the brute-force guard with its default limits; `X-Forwarded-For` believed from 127.0.0.1) | `BASIC` |
//! | `/three` | `basic`, `cookie`, `hs256` | `HS256_TOKEN` |
//! | `/jwt/hs256-revocable` | `hs256-revocable` (`hs256` checking `Revocations`) | `HS256_JTI_TOKEN` (live), `HS256_REVOKED_TOKEN` (revoked) |
//! | `/opaque` | `opaque` (auth-token's `OpaqueBearerStrategy`, `TokenManager` on an in-memory store with its default local cache) | `OPAQUE_TOKEN` |
//! | `/stats` | none: `{"hs256_cached_tokens":N}`, the number of tokens in `hs256`'s verified-token cache | |
//!
//! `/jwt/hs256-revocable` checks every request against a revocation list
//! (auth-core's `Revocations` on an in-memory store) holding 10 000
//! revoked `jti`s and 1 000 revoked subjects, none of them the bench
//! user's: it measures the per-request lookup in the local mirror, which
//! is the same whatever store feeds the mirror (Redis, PostgreSQL).
//!
//! With `--open-routes` every protected route is replaced by a twin on the
//! same path, in the same place in the App, that answers the same body
//! without authentication: `scripts/bench-warm.sh` compares a route on the
//! two servers, so that the comparison holds actix's routing constant (it
//! tries the routes in registration order, and `/open` is the first).
//!
//! On `/three` the first two strategies find nothing of their kind in a
//! Bearer request (no Basic header, no `session` cookie) and the third
//! succeeds: it measures what a failed-over sequence costs.
//!
//! With `--tokens-dir DIR --tokens hs256=N,...` it also writes, before
//! `READY`, `DIR/ALG.tokens` for each listed algorithm (N distinct valid
//! tokens, one per line, for the cold-path rows: every request a different
//! token) and
//! `DIR/hs256.secret` (the HS256 secret, for `peer-server --secret-file`).
//! `hs256-expired=N` writes `DIR/hs256-expired.tokens`: N distinct HS256
//! tokens, validly signed, that expired an hour ago (the expired-token
//! flood). With `--token-pad BYTES` every minted token also carries a
//! `pad` claim of BYTES characters (long tokens, so that the verified-token
//! cache's byte bound, not its entry bound, is what limits it). The tokens
//! are written as they are minted, a thousand at a time, so that minting
//! does not raise the server's peak memory.
//!
//! Keys: RS256, ES256 and EdDSA use the test keys of `auth-test-support`
//! (compiled in); the HS256 secret is random per run, so nothing here is a default
//! secret anyone could rely on. Tokens live one day.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpResponse, HttpServer, get, web};
use auth_basic::{
    BasicStrategy, BruteForceGuard, GuardConfig, MemoryUserStore, NewUser, PasswordAuthenticator,
    VerificationCache,
};
use auth_core::{MemoryStore, RevocationOptions, Revocations, StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwtStrategy, SigningKey, TokenSource, VerifyingKey};
use auth_macros::authenticate;
use auth_password::PasswordHasher;
use auth_test_support::basic_credentials;
use auth_token::{OpaqueBearerStrategy, TokenManager};
use rand::RngCore as _;

use auth_test_support::keys::{
    EC_PRIVATE, EC_PUBLIC, ED_PRIVATE, ED_PUBLIC, RSA_PRIVATE, RSA_PUBLIC,
};

const USER: &str = "bench";
const PASSWORD: &str = "correct horse battery staple";

#[get("/open")]
#[authenticate(skip)]
async fn open() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

/// `hs256`'s strategy, for `/stats`.
struct Hs256(JwtStrategy);

#[get("/stats")]
#[authenticate(skip)]
async fn stats(hs: web::Data<Hs256>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "hs256_cached_tokens": hs.0.cached_tokens() }))
}

#[get("/jwt/hs256")]
#[authenticate("hs256")]
async fn hs256(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/jwt/hs256-revocable")]
#[authenticate("hs256-revocable")]
async fn hs256_revocable(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/jwt/rs256")]
#[authenticate("rs256")]
async fn rs256(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/jwt/es256")]
#[authenticate("es256")]
async fn es256(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/jwt/eddsa")]
#[authenticate("eddsa")]
async fn eddsa(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/opaque")]
#[authenticate("opaque")]
async fn opaque(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/basic")]
#[authenticate("basic")]
async fn basic(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/basic-cached")]
#[authenticate("basic-cached")]
async fn basic_cached(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/basic-guarded")]
#[authenticate("basic-guarded")]
async fn basic_guarded(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/three")]
#[authenticate("basic", "cookie", "hs256")]
async fn three(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

/// The protected routes in the order the App registers them, each with
/// its twin for `--open-routes`: on the same path and made the same way
/// (`#[get]`, `#[authenticate(skip)]` as `/open`), the twin answers what
/// the protected one answers (the user's name, allocated as the protected
/// handlers copy it out of the profile) without authentication. One list
/// makes both registrations, so the twins take the protected routes'
/// places and actix's router, which tries the routes in order, costs the
/// same for a path on either server (a test checks each path reaches the
/// resource named here).
macro_rules! protected_routes {
    ($($service:ident $twin:ident $path:tt),* $(,)?) => {
        $(
            #[get($path)]
            #[authenticate(skip)]
            async fn $twin() -> HttpResponse {
                HttpResponse::Ok().body(USER.to_owned())
            }
        )*

        /// Registers the protected routes, or with `open_routes` their
        /// twins, in the list's order.
        fn register_protected(cfg: &mut web::ServiceConfig, open_routes: bool) {
            if open_routes {
                $(cfg.service($twin);)*
            } else {
                $(cfg.service($service);)*
            }
        }

        /// `(protected resource, twin resource, path)`, in the list's order.
        #[cfg(test)]
        const PROTECTED: &[(&str, &str, &str)] =
            &[$((stringify!($service), stringify!($twin), $path)),*];
    };
}

protected_routes!(
    hs256 hs256_open "/jwt/hs256",
    hs256_revocable hs256_revocable_open "/jwt/hs256-revocable",
    rs256 rs256_open "/jwt/rs256",
    es256 es256_open "/jwt/es256",
    eddsa eddsa_open "/jwt/eddsa",
    basic basic_open "/basic",
    basic_cached basic_cached_open "/basic-cached",
    basic_guarded basic_guarded_open "/basic-guarded",
    opaque opaque_open "/opaque",
    three three_open "/three",
);

/// The routes: `/open` first, then the protected routes (with
/// `open_routes`, their twins instead), then `/stats`.
fn routes(cfg: &mut web::ServiceConfig, open_routes: bool) {
    cfg.service(open);
    register_protected(cfg, open_routes);
    // Last, so that it does not lengthen the other routes' matching.
    cfg.service(stats);
}

struct Args {
    workers: usize,
    port: u16,
    tokens_dir: Option<std::path::PathBuf>,
    tokens: Vec<(String, usize)>,
    token_pad: usize,
    open_routes: bool,
}

/// Parses the command line (without the program name).
fn parse_args(argv: impl IntoIterator<Item = String>) -> Result<Args, String> {
    let mut args = Args {
        workers: 1,
        port: 0,
        tokens_dir: None,
        tokens: Vec::new(),
        token_pad: 0,
        open_routes: false,
    };
    let mut it = argv.into_iter();
    while let Some(flag) = it.next() {
        if flag == "--open-routes" {
            args.open_routes = true;
            continue;
        }
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
            "--tokens-dir" => args.tokens_dir = Some(value.into()),
            "--token-pad" => {
                args.token_pad = value
                    .parse()
                    .ok()
                    .filter(|n| *n <= 1 << 20)
                    .ok_or("--token-pad must be a number of bytes up to 1048576")?;
            }
            "--tokens" => {
                for pair in value.split(',') {
                    let (alg, n) = pair
                        .split_once('=')
                        .ok_or("--tokens takes alg=N pairs, e.g. hs256=1000,rs256=100")?;
                    if !["hs256", "rs256", "es256", "eddsa", "hs256-expired"].contains(&alg) {
                        return Err(format!("--tokens: unknown algorithm {alg}"));
                    }
                    let n = n
                        .parse()
                        .ok()
                        .filter(|n: &usize| *n > 0)
                        .ok_or("--tokens: N must be a positive number")?;
                    args.tokens.push((alg.to_owned(), n));
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.tokens_dir.is_some() == args.tokens.is_empty() {
        return Err("--tokens-dir and --tokens go together".into());
    }
    if args.token_pad > 0 && args.tokens.is_empty() {
        return Err("--token-pad needs --tokens".into());
    }
    Ok(args)
}

/// Issuer and audience of the bench tokens: verified as a real deployment
/// would (public-key strategies must name both).
const ISSUER: &str = "bench-server";
const AUDIENCE: &str = "bench-api";

/// Mints a token for `USER` that lives one day.
fn mint(key: &SigningKey) -> Result<String, Box<dyn std::error::Error>> {
    mint_for(key, USER)
}

/// Mints a token for `USER` with a `jti` that lives one day.
fn mint_with_jti(key: &SigningKey, jti: &str) -> Result<String, Box<dyn std::error::Error>> {
    let now = auth_test_support::now();
    let mut claims = claims_for(USER, now);
    claims["jti"] = jti.into();
    Ok(key.sign(&claims, None)?)
}

/// The claims of a bench token for `sub` issued at `now`.
fn claims_for(sub: &str, now: u64) -> serde_json::Value {
    serde_json::json!({
        "sub": sub,
        "iss": ISSUER,
        "aud": AUDIENCE,
        "name": "Bench User",
        "roles": ["user"],
        "iat": now,
        "exp": now + 86_400,
    })
}

/// Mints a token for `sub` that lives one day.
fn mint_for(key: &SigningKey, sub: &str) -> Result<String, Box<dyn std::error::Error>> {
    let now = auth_test_support::now();
    Ok(key.sign(&claims_for(sub, now), None)?)
}

/// What `write_tokens` mints.
#[derive(Clone, Copy)]
struct Minting {
    /// Characters of the `pad` claim (0: none).
    pad: usize,
    /// Tokens that expired an hour ago instead of living one day.
    expired: bool,
}

/// A token for `sub` as `minting` says.
fn mint_cold(
    key: &SigningKey,
    sub: &str,
    minting: Minting,
) -> Result<String, Box<dyn std::error::Error>> {
    let now = auth_test_support::now();
    let mut claims = claims_for(sub, now);
    if minting.expired {
        claims["iat"] = (now - 7_200).into();
        claims["exp"] = (now - 3_600).into();
    }
    if minting.pad > 0 {
        claims["pad"] = "x".repeat(minting.pad).into();
    }
    Ok(key.sign(&claims, None)?)
}

/// Writes `n` distinct tokens (subjects `user-0` ...) to `path`, one per
/// line, signing on every CPU (RSA signing is slow). Each thread appends a
/// thousand tokens at a time, so that memory does not grow with `n`.
fn write_tokens(
    key: &SigningKey,
    n: usize,
    minting: Minting,
    path: &std::path::Path,
) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::Write as _;
    const BATCH: usize = 1_000;
    let file = std::sync::Mutex::new(std::io::BufWriter::new(std::fs::File::create(path)?));
    let threads = std::thread::available_parallelism().map_or(1, |p| p.get());
    let results: Vec<Result<(), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let file = &file;
                scope.spawn(move || {
                    let mut out = String::new();
                    let flush = |out: &mut String| -> Result<(), String> {
                        let mut file = file.lock().map_err(|_| "token file lock poisoned")?;
                        file.write_all(out.as_bytes()).map_err(|e| e.to_string())?;
                        out.clear();
                        Ok(())
                    };
                    for (k, i) in (t..n).step_by(threads).enumerate() {
                        let token = mint_cold(key, &format!("user-{i}"), minting)
                            .map_err(|e| e.to_string())?;
                        out.push_str(&token);
                        out.push('\n');
                        if (k + 1) % BATCH == 0 {
                            flush(&mut out)?;
                        }
                    }
                    flush(&mut out)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a minting thread panicked".into()))
            })
            .collect()
    });
    for result in results {
        result?;
    }
    file.into_inner()
        .map_err(|_| "token file lock poisoned")?
        .flush()?;
    Ok(())
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args(std::env::args().skip(1))?;

    let mut secret = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut secret);
    let hs_sign = SigningKey::hmac(&secret, Algorithm::HS256)?;
    let rs_sign = SigningKey::from_pem(RSA_PRIVATE, Algorithm::RS256)?;
    let es_sign = SigningKey::from_pem(EC_PRIVATE, Algorithm::ES256)?;
    let ed_sign = SigningKey::from_pem(ED_PRIVATE, Algorithm::EdDSA)?;

    let hs = JwtStrategy::builder()
        .name("hs256")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(VerifyingKey::hmac(&secret, Algorithm::HS256)?)
        .build()?;
    let rs = JwtStrategy::builder()
        .name("rs256")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(VerifyingKey::from_pem(RSA_PUBLIC, Algorithm::RS256)?)
        .build()?;
    let es = JwtStrategy::builder()
        .name("es256")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(VerifyingKey::from_pem(EC_PUBLIC, Algorithm::ES256)?)
        .build()?;
    let ed = JwtStrategy::builder()
        .name("eddsa")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(VerifyingKey::from_pem(ED_PUBLIC, Algorithm::EdDSA)?)
        .build()?;
    // The same HS256 strategy, checking a revocation list on every request
    // (cache hits included).
    let revocations =
        Revocations::start(Arc::new(MemoryStore::new()), RevocationOptions::default()).await?;
    let now = auth_test_support::now();
    for i in 0..10_000 {
        revocations
            .revoke_token(&format!("revoked-{i}"), now + 86_400)
            .await?;
    }
    for i in 0..1_000 {
        revocations
            .revoke_subject(&format!("gone-{i}"), now)
            .await?;
    }
    let hs_revocable = JwtStrategy::builder()
        .name("hs256-revocable")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(VerifyingKey::hmac(&secret, Algorithm::HS256)?)
        .revocations(Arc::clone(&revocations))
        .build()?;
    // A second JWT strategy that only reads a cookie: on `/three` it finds
    // nothing and passes, as a real cookie-or-bearer set-up would.
    let cookie = JwtStrategy::builder()
        .name("cookie")
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .key(VerifyingKey::hmac(&secret, Algorithm::HS256)?)
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
        PasswordAuthenticator::from_arc(store.clone(), hasher)
            .with_cache(VerificationCache::new(Duration::from_secs(600))),
    )
    .with_name("basic-cached");
    // The two-client fairness rows: a hashing pool of its own (default
    // sizing, so its per-client share is the default) and the brute-force
    // guard with its default limits, believing `X-Forwarded-For` from
    // 127.0.0.1 so that the load generator can play several clients, as
    // behind a reverse proxy.
    let guarded_strategy = BasicStrategy::new(
        "bench",
        PasswordAuthenticator::from_arc(store, PasswordHasher::default()),
    )
    .with_name("basic-guarded")
    .with_guard(BruteForceGuard::new(GuardConfig {
        trusted_proxies: vec!["127.0.0.1".parse()?],
        ..GuardConfig::default()
    }));

    // An opaque auth token (auth-token's TokenManager) on the in-process
    // store, with the manager's default local cache: after the first
    // request the route's cost is a SHA-256 and a cache hit (a store read
    // and the record's decoding once a second at most).
    let auth_tokens =
        TokenManager::new(Arc::new(MemoryStore::new())).ttl(Duration::from_secs(86_400));
    let opaque_token = auth_tokens.issue(&UserProfile::new(USER)).await?.token;
    let registry = StrategyRegistry::builder()
        .register(OpaqueBearerStrategy::new("opaque", auth_tokens))
        .register(hs.clone())
        .register(hs_revocable)
        .register(rs)
        .register(es)
        .register(ed)
        .register(cookie)
        .register(basic_strategy)
        .register(cached_strategy)
        .register(guarded_strategy)
        .build()?;
    registry.verify_handlers()?;

    let hs_stats = web::Data::new(Hs256(hs));
    let open_routes = args.open_routes;
    let server = HttpServer::new(move || {
        App::new()
            .app_data(registry.clone())
            .app_data(hs_stats.clone())
            .configure(|cfg| routes(cfg, open_routes))
    })
    .workers(args.workers)
    .bind(("127.0.0.1", args.port))?;

    for addr in server.addrs() {
        println!("listening http://{addr}");
    }
    // Which crypto backend this build verifies with (and that it passed
    // its self-test).
    println!("BACKEND={}", auth_jwt::check_crypto_provider()?);
    println!("HS256_TOKEN={}", mint(&hs_sign)?);
    println!("HS256_JTI_TOKEN={}", mint_with_jti(&hs_sign, "live-1")?);
    println!(
        "HS256_REVOKED_TOKEN={}",
        mint_with_jti(&hs_sign, "revoked-7")?
    );
    println!("RS256_TOKEN={}", mint(&rs_sign)?);
    println!("ES256_TOKEN={}", mint(&es_sign)?);
    println!("EDDSA_TOKEN={}", mint(&ed_sign)?);
    println!("OPAQUE_TOKEN={opaque_token}");
    if let Some(dir) = &args.tokens_dir {
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join("hs256.secret"), secret)?;
        for (alg, n) in &args.tokens {
            let key = match alg.as_str() {
                "hs256" | "hs256-expired" => &hs_sign,
                "rs256" => &rs_sign,
                "es256" => &es_sign,
                _ => &ed_sign,
            };
            let minting = Minting {
                pad: args.token_pad,
                expired: alg == "hs256-expired",
            };
            write_tokens(key, *n, minting, &dir.join(format!("{alg}.tokens")))?;
        }
    }
    println!("BASIC={}", basic_credentials(USER, PASSWORD));
    println!(
        "BASIC_WRONG={}",
        basic_credentials(USER, "not the password")
    );
    println!("READY");
    server.run().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Args, String> {
        parse_args(args.iter().map(|a| (*a).to_owned()))
    }

    #[test]
    fn open_routes_is_a_flag() {
        assert!(!parse(&[]).unwrap().open_routes);
        let args = parse(&["--open-routes", "--workers", "2"]).unwrap();
        assert!(args.open_routes);
        assert_eq!(args.workers, 2);
    }

    /// Every protected path has its twin, and the twins authenticate nothing.
    #[actix_web::test]
    async fn open_routes_twin_every_protected_route() {
        use actix_web::test;
        let tokens = TokenManager::new(Arc::new(MemoryStore::new()));
        let secret = [9u8; 32];
        let hs = |name: &str| {
            JwtStrategy::builder()
                .name(name)
                .key(VerifyingKey::hmac(&secret, Algorithm::HS256).unwrap())
                .any_audience()
                .build()
                .unwrap()
        };
        let users = Arc::new(MemoryUserStore::new());
        let basic_named = |name: &'static str| {
            BasicStrategy::new(
                "bench",
                PasswordAuthenticator::from_arc(users.clone(), PasswordHasher::default()),
            )
            .with_name(name)
        };
        let mut builder =
            StrategyRegistry::builder().register(OpaqueBearerStrategy::new("opaque", tokens));
        for name in [
            "hs256",
            "hs256-revocable",
            "rs256",
            "es256",
            "eddsa",
            "cookie",
        ] {
            builder = builder.register(hs(name));
        }
        for name in ["basic", "basic-cached", "basic-guarded"] {
            builder = builder.register(basic_named(name));
        }
        let registry = builder.build().unwrap();
        let hs_stats = web::Data::new(Hs256(hs("hs256")));
        for open_routes in [true, false] {
            let app = test::init_service(
                App::new()
                    .app_data(registry.clone())
                    .app_data(hs_stats.clone())
                    .configure(|cfg| routes(cfg, open_routes)),
            )
            .await;
            let open_req = test::TestRequest::get().uri("/open").to_request();
            let res = test::call_service(&app, open_req).await;
            assert_eq!(res.request().match_name(), Some("open"));
            assert_eq!(&test::read_body(res).await[..], b"ok");
            for (service, twin, path) in PROTECTED {
                let res =
                    test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
                // The resource the router reached: the protected one, or
                // its twin in its place.
                let reached = res.request().match_name().map(str::to_owned);
                let status = res.status().as_u16();
                let body = test::read_body(res).await;
                if open_routes {
                    assert_eq!(reached.as_deref(), Some(*twin), "{path}");
                    assert_eq!(status, 200, "{path}");
                    assert_eq!(&body[..], USER.as_bytes(), "{path}");
                } else {
                    assert_eq!(reached.as_deref(), Some(*service), "{path}");
                    assert_eq!(status, 401, "{path} answered without credentials");
                }
            }
        }
    }

    #[test]
    fn token_options_parse() {
        let args = parse(&[
            "--tokens-dir",
            "/tmp/x",
            "--tokens",
            "hs256=3,hs256-expired=2",
            "--token-pad",
            "1500",
        ])
        .unwrap();
        assert_eq!(
            args.tokens,
            vec![("hs256".to_owned(), 3), ("hs256-expired".to_owned(), 2)]
        );
        assert_eq!(args.token_pad, 1500);
        assert_eq!(parse(&[]).unwrap().token_pad, 0);
    }

    #[test]
    fn bad_token_options_are_refused() {
        for (args, wanted) in [
            (&["--token-pad", "10"][..], "--token-pad needs --tokens"),
            (
                &[
                    "--tokens-dir",
                    "d",
                    "--tokens",
                    "hs256=1",
                    "--token-pad",
                    "x",
                ][..],
                "--token-pad must be",
            ),
            (
                &[
                    "--tokens-dir",
                    "d",
                    "--tokens",
                    "hs256=1",
                    "--token-pad",
                    "2000000",
                ][..],
                "--token-pad must be",
            ),
            (
                &["--tokens-dir", "d", "--tokens", "hs512-expired=1"][..],
                "unknown algorithm hs512-expired",
            ),
            (
                &["--tokens-dir", "d", "--tokens", "hs256-expired=0"][..],
                "N must be a positive number",
            ),
            (&["--tokens", "hs256=1"][..], "go together"),
            (&["--token-pad"][..], "needs a value"),
        ] {
            let err = parse(args)
                .err()
                .unwrap_or_else(|| panic!("{args:?} parsed"));
            assert!(err.contains(wanted), "{args:?}: {err}");
        }
    }

    #[test]
    fn minted_tokens_are_distinct_padded_and_expired_as_asked() {
        let dir = std::env::temp_dir().join(format!("bench-server-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secret = [7u8; 32];
        let key = SigningKey::hmac(&secret, Algorithm::HS256).unwrap();
        let verifier = JwtStrategy::builder()
            .issuer(ISSUER)
            .audience(AUDIENCE)
            .key(VerifyingKey::hmac(&secret, Algorithm::HS256).unwrap())
            .build()
            .unwrap();
        let rt = actix_web::rt::Runtime::new().unwrap();
        for (expired, pad) in [(false, 0), (false, 300), (true, 0), (true, 300)] {
            let path = dir.join(format!("t-{expired}-{pad}"));
            // More than one batch of a thousand, so that batches are joined.
            write_tokens(&key, 2_500, Minting { pad, expired }, &path).unwrap();
            let text = std::fs::read_to_string(&path).unwrap();
            let tokens: Vec<&str> = text.lines().collect();
            assert_eq!(tokens.len(), 2_500);
            let distinct: std::collections::HashSet<&str> = tokens.iter().copied().collect();
            assert_eq!(distinct.len(), 2_500);
            for token in [tokens[0], tokens[1_234], tokens[2_499]] {
                let verified = rt.block_on(verifier.verify_token(token));
                assert_eq!(verified.is_ok(), !expired, "expired={expired} pad={pad}");
                if pad > 0 {
                    assert!(token.len() > pad, "{} bytes", token.len());
                } else {
                    assert!(token.len() < 400, "{} bytes", token.len());
                }
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
