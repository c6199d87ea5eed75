//! The comparison point of `scripts/bench.sh`: the JWT routes of
//! `bench-server`, written by hand the way an actix-web team would without
//! this project, with `actix-web-httpauth`'s bearer middleware and
//! `jsonwebtoken` (the same build of it, so the same crypto backend).
//!
//! ```text
//! peer-server --secret-file FILE [--workers N] [--port P]
//! ```
//!
//! Binds 127.0.0.1 and prints `listening http://ADDR`, then `READY`.
//!
//! | route | key |
//! |---|---|
//! | `/open` | none |
//! | `/jwt/hs256` | the HS256 secret in `FILE` (written by `bench-server --tokens-dir`) |
//! | `/jwt/rs256`, `/jwt/es256`, `/jwt/eddsa` | the public test keys of `auth-test-support` |
//!
//! Each protected route checks what `bench-server`'s strategies check:
//! signature with a pinned algorithm, `exp` (30 s leeway), `iss`, `aud`.

use actix_web::dev::ServiceRequest;
use actix_web::{App, HttpMessage, HttpResponse, HttpServer, web};
use actix_web_httpauth::extractors::AuthenticationError;
use actix_web_httpauth::extractors::bearer::{BearerAuth, Config};
use actix_web_httpauth::middleware::HttpAuthentication;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use serde::Deserialize;

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!("peer-server needs a jsonwebtoken backend: feature `aws-lc-rs` or `rust-crypto`");

use auth_test_support::keys::{EC_PUBLIC, ED_PUBLIC, RSA_PUBLIC};

/// The same issuer and audience as `bench-server`.
const ISSUER: &str = "bench-server";
const AUDIENCE: &str = "bench-api";

#[derive(Debug, Clone, Deserialize)]
struct Claims {
    sub: String,
}

/// One route's key and rules.
#[derive(Clone)]
struct Verifier {
    key: DecodingKey,
    validation: Validation,
}

impl Verifier {
    fn new(key: DecodingKey, alg: Algorithm) -> Self {
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.leeway = 30;
        Verifier { key, validation }
    }
}

async fn validator(
    req: ServiceRequest,
    credentials: BearerAuth,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    let Some(verifier) = req.app_data::<web::Data<Verifier>>() else {
        return Err((actix_web::error::ErrorInternalServerError("no key"), req));
    };
    match decode::<Claims>(credentials.token(), &verifier.key, &verifier.validation) {
        Ok(data) => {
            req.extensions_mut().insert(data.claims);
            Ok(req)
        }
        Err(_) => {
            let config = req.app_data::<Config>().cloned().unwrap_or_default();
            Err((AuthenticationError::from(config).into(), req))
        }
    }
}

async fn who(claims: web::ReqData<Claims>) -> HttpResponse {
    HttpResponse::Ok().body(claims.into_inner().sub)
}

async fn open() -> HttpResponse {
    HttpResponse::Ok().body("ok")
}

fn protected(path: &str, verifier: Verifier) -> impl actix_web::dev::HttpServiceFactory + use<> {
    web::scope(path)
        .app_data(web::Data::new(verifier))
        .wrap(HttpAuthentication::bearer(validator))
        .route("", web::get().to(who))
}

struct Args {
    workers: usize,
    port: u16,
    secret_file: String,
}

fn parse_args() -> Result<Args, String> {
    let mut workers = 1;
    let mut port = 0;
    let mut secret_file = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--workers" => {
                workers = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or("--workers must be a positive number")?;
            }
            "--port" => port = value.parse().map_err(|_| "--port must be a port")?,
            "--secret-file" => secret_file = Some(value),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(Args {
        workers,
        port,
        secret_file: secret_file.ok_or("--secret-file is required")?,
    })
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    // The backend auth-jwt would choose with the same features: aws-lc-rs
    // when on (the default), else RustCrypto.
    #[cfg(feature = "aws-lc-rs")]
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    let secret = std::fs::read(&args.secret_file)
        .map_err(|e| format!("cannot read {}: {e}", args.secret_file))?;
    let hs = Verifier::new(DecodingKey::from_secret(&secret), Algorithm::HS256);
    let rs = Verifier::new(DecodingKey::from_rsa_pem(RSA_PUBLIC)?, Algorithm::RS256);
    let es = Verifier::new(DecodingKey::from_ec_pem(EC_PUBLIC)?, Algorithm::ES256);
    let ed = Verifier::new(DecodingKey::from_ed_pem(ED_PUBLIC)?, Algorithm::EdDSA);

    let server = HttpServer::new(move || {
        App::new()
            .route("/open", web::get().to(open))
            .service(protected("/jwt/hs256", hs.clone()))
            .service(protected("/jwt/rs256", rs.clone()))
            .service(protected("/jwt/es256", es.clone()))
            .service(protected("/jwt/eddsa", ed.clone()))
    })
    .workers(args.workers)
    .bind(("127.0.0.1", args.port))?;
    for addr in server.addrs() {
        println!("listening http://{addr}");
    }
    println!("READY");
    server.run().await?;
    Ok(())
}
