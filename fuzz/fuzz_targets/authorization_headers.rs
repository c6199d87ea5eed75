//! Arbitrary `Authorization` header bytes through auth-core's parser, the
//! Basic parser, the typed Digest credentials, the Digest parameter parser,
//! and the JWT and Digest strategies as a request carries them. Nothing may
//! panic; a strategy may only answer "not mine" or a 4xx (no input here can
//! hold valid credentials).
#![no_main]

use std::sync::{Arc, LazyLock};

use actix_web::http::header::{AUTHORIZATION, HeaderValue};
use actix_web::test::TestRequest;
use auth_basic::password::hash_password;
use auth_basic::{
    DigestAlgorithm, DigestStrategy, FileStoreOptions, FileUser, FileUserStore, HashParams,
    UsersFile, ha1, parse_digest_params as parse_params,
};
use auth_core::{AuthOutcome, AuthenticationStrategy, StrategyOptions};
use auth_jwt::JwtStrategy;
use libfuzzer_sys::fuzz_target;

/// The HS256 secret of the fixed key set (no input here carries its
/// signature).
const SECRET: &[u8] = b"fuzzing-secret-that-is-long-enough-for-hs256";

static STRATEGY: LazyLock<JwtStrategy> = LazyLock::new(|| {
    JwtStrategy::builder()
        .key_set(auth_test_support::keys::fixed_key_set(SECRET))
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
    // What `auth-cli users add --realm http-auth@example.org Mufasa` writes.
    let (realm, password) = ("http-auth@example.org", "Circle of Life");
    let hash = hash_password(&HashParams::insecure_for_tests(), password).unwrap();
    let mut user = FileUser::new("Mufasa", hash, Vec::new());
    let values = user.digest.entry(realm.to_owned()).or_default();
    for alg in [DigestAlgorithm::Sha512_256, DigestAlgorithm::Sha256] {
        values.insert(alg.as_str().to_owned(), ha1(alg, "Mufasa", realm, password));
    }
    UsersFile { users: vec![user] }.write(&file).unwrap();
    let store = FileUserStore::load(&file, FileStoreOptions::default()).unwrap();
    let strategy = DigestStrategy::new("http-auth@example.org", Arc::new(store));
    (dir, strategy)
});

fn check(strategy: &dyn AuthenticationStrategy, req: &actix_web::HttpRequest) {
    match auth_test_support::ready(strategy.authenticate(req, &StrategyOptions::default())) {
        Ok(AuthOutcome::NotApplicable) => {}
        Ok(AuthOutcome::Authenticated(p)) => panic!("authenticated {} without credentials", p.id),
        Ok(_) => {}
        Err(e) => assert!(e.status().is_client_error(), "{e:?} is not a 4xx"),
    }
}

fuzz_target!(|data: &[u8]| {
    // auth-core's one `Authorization` parser: whatever parses names a
    // scheme the value starts with.
    let auth = auth_core::Authorization::from_bytes(data);
    if let Ok(creds) = auth.parse() {
        assert!(auth.has_scheme(creds.scheme()));
    }
    match auth_basic::DigestCredentials::parse(data) {
        Ok(_) => {}
        Err(e) => assert_eq!(e.status().as_u16(), 400),
    }
    match auth_basic::parse_basic(data) {
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
