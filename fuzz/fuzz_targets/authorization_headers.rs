//! Arbitrary `Authorization` header bytes through the Basic parser, the
//! Digest parameter parser, and the JWT and Digest strategies as a request
//! carries them. Nothing may panic; a strategy may only answer "not mine"
//! or a 4xx (no input here can hold valid credentials).
#![no_main]

#[path = "common.rs"]
mod common;

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::test::TestRequest;
use auth_basic::digest::{DigestStrategy, parse_params};
use auth_basic::file::{FileStoreOptions, FileUserStore};
use auth_basic::password::HashParams;
use auth_core::{AuthOutcome, AuthenticationStrategy, StrategyOptions};
use auth_jwt::JwtStrategy;
use libfuzzer_sys::fuzz_target;

static STRATEGY: LazyLock<JwtStrategy> = LazyLock::new(|| {
    JwtStrategy::builder()
        .key_set(common::key_set())
        .any_issuer()
        .any_audience()
        .build()
        .unwrap()
});

/// A Digest strategy over a users.yml holding the RFC 7616 example user, so
/// a well-formed header for `Mufasa` reaches the response check.
static DIGEST: LazyLock<(tempfile::TempDir, DigestStrategy)> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.yml");
    auth_basic::cli::users_add(
        &file,
        "Mufasa",
        &[],
        Some(&auth_basic::cli::DigestHa1::new("http-auth@example.org")),
        &mut "Circle of Life\n".as_bytes(),
        &HashParams::insecure_for_tests(),
    )
    .unwrap();
    let store = FileUserStore::load(&file, FileStoreOptions::default()).unwrap();
    let strategy = DigestStrategy::new("http-auth@example.org", Arc::new(store));
    (dir, strategy)
});

fn check(strategy: &dyn AuthenticationStrategy, req: &actix_web::HttpRequest) {
    match common::ready(strategy.authenticate(req, &StrategyOptions::default())) {
        Ok(AuthOutcome::NotApplicable) => {}
        Ok(AuthOutcome::Authenticated(p)) => panic!("authenticated {} without credentials", p.id),
        Ok(_) => {}
        Err(e) => assert!(e.status().is_client_error(), "{e:?} is not a 4xx"),
    }
}

fuzz_target!(|data: &[u8]| {
    match auth_basic::basic::parse_basic(data) {
        Ok(Some(c)) => {
            // RFC 7617: the user-id never contains a colon.
            assert!(!c.username.contains(':'));
        }
        Ok(None) => {}
        Err(e) => assert_eq!(e.status().as_u16(), 400),
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(params) = parse_params(text) {
            // Names come out lower-cased and unique.
            assert!(
                params
                    .keys()
                    .all(|k| k.chars().all(|c| !c.is_ascii_uppercase()))
            );
        }
    }

    // The http crate refuses some bytes (CR, LF, NUL) before any strategy
    // could see them; those inputs are covered by the Basic parser above.
    let Ok(value) = HeaderValue::from_bytes(data) else {
        return;
    };
    let req = TestRequest::default()
        .insert_header((AUTHORIZATION, value))
        .to_http_request();
    check(&*STRATEGY, &req);
    check(&DIGEST.1, &req);
});
