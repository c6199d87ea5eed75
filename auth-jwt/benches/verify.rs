//! Strategy verification against a raw `jsonwebtoken::decode` of the same
//! token, for HS256, RS256, ES256 and EdDSA.
//!
//! For each algorithm, one token (signed once, outside the timed part) is
//! measured three ways:
//!
//! - `raw`: `jsonwebtoken::decode` with a prepared `DecodingKey` and
//!   `Validation` (signature, `exp`), the floor any JWT library pays;
//! - `strategy_cold`: `JwtStrategy::verify_token`, the public method every
//!   request goes through (the `HttpRequest` plumbing around it is not
//!   measured), on a strategy built with `cache_capacity(0)`, so each call
//!   does the full path: size check, header parse, `kid`/algorithm pinning,
//!   `crit`, signature, claim rules;
//! - `strategy_cached`: the same method on a strategy with the default
//!   verified-token cache, already holding the token: a lookup, the
//!   `exp`/`nbf` re-check and the clone of header and claims.
//!
//! Both strategies check no issuer or audience (`any_issuer()`,
//! `any_audience()`), as the raw `Validation` checks none either. With static keys
//! `verify_token` never waits, so it is polled once with a no-op waker
//! rather than through a runtime, which would add its own cost.
//!
//! Keys are the `tests/keys/*.pem` fixtures.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth_jwt::{Algorithm, JwtKey, JwtStrategy, SigningKey, VerifiedToken, VerifyError};
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Map, Value, json};

const SECRET: &[u8] = b"a-bench-secret-that-is-long-enough-for-hs256";

/// Runs a future that is ready on its first poll.
fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        // Static keys never wait; a pending future would be a bug in the
        // bench set-up, not something to measure.
        Poll::Pending => unreachable!("verify_token waited with static keys"),
    }
}

struct Case {
    name: &'static str,
    token: String,
    raw_key: DecodingKey,
    validation: Validation,
    cold: JwtStrategy,
    cached: JwtStrategy,
}

fn case(name: &'static str, alg: Algorithm, private: &[u8], public: &[u8]) -> Case {
    let (signing, verifying, raw_key) = if alg == Algorithm::HS256 {
        (
            SigningKey::hmac(SECRET, alg).unwrap(),
            JwtKey::hmac(SECRET, alg).unwrap(),
            DecodingKey::from_secret(SECRET),
        )
    } else {
        let raw = match alg {
            Algorithm::RS256 => DecodingKey::from_rsa_pem(public),
            Algorithm::ES256 => DecodingKey::from_ec_pem(public),
            _ => DecodingKey::from_ed_pem(public),
        }
        .unwrap();
        (
            SigningKey::from_pem(private, alg).unwrap(),
            JwtKey::from_pem(public, alg).unwrap(),
            raw,
        )
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "sub": "alice", "name": "Alice", "iat": now, "exp": now + 86_400,
        "roles": ["user", "admin"], "scope": "todos:read todos:write",
    });
    let token = signing.sign(&claims, None).unwrap();
    let strategy = |capacity| {
        JwtStrategy::builder()
            .key(verifying.clone())
            .any_issuer()
            .any_audience()
            .cache_capacity(capacity)
            .build()
            .unwrap()
    };
    let cached = strategy(16);
    // Fill the cache outside the timed part.
    ready(cached.verify_token(&token)).unwrap();
    assert_eq!(cached.cached_tokens(), 1);
    Case {
        name,
        raw_key,
        validation: Validation::new(alg),
        cold: strategy(0),
        cached,
        token,
    }
}

fn check(result: Result<VerifiedToken, VerifyError>) -> VerifiedToken {
    result.expect("the bench token verifies")
}

fn bench(c: &mut Criterion) {
    auth_jwt::ensure_crypto_provider();
    let cases = [
        case("HS256", Algorithm::HS256, b"", b""),
        case(
            "RS256",
            Algorithm::RS256,
            include_bytes!("../tests/keys/rsa.pem"),
            include_bytes!("../tests/keys/rsa.pub.pem"),
        ),
        case(
            "ES256",
            Algorithm::ES256,
            include_bytes!("../tests/keys/ec.pem"),
            include_bytes!("../tests/keys/ec.pub.pem"),
        ),
        case(
            "EdDSA",
            Algorithm::EdDSA,
            include_bytes!("../tests/keys/ed.pem"),
            include_bytes!("../tests/keys/ed.pub.pem"),
        ),
    ];
    for case in &cases {
        // The three ways must agree before they are compared.
        let raw = jsonwebtoken::decode::<Map<String, Value>>(
            &case.token,
            &case.raw_key,
            &case.validation,
        )
        .unwrap();
        assert_eq!(
            raw.claims,
            *check(ready(case.cold.verify_token(&case.token))).claims
        );
        assert_eq!(
            raw.claims,
            *check(ready(case.cached.verify_token(&case.token))).claims
        );

        let mut group = c.benchmark_group(format!("verify/{}", case.name));
        group.bench_function("raw", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<Map<String, Value>>(
                    black_box(&case.token),
                    &case.raw_key,
                    &case.validation,
                )
                .unwrap()
            })
        });
        group.bench_function("strategy_cold", |b| {
            b.iter(|| check(ready(case.cold.verify_token(black_box(&case.token)))))
        });
        group.bench_function("strategy_cached", |b| {
            b.iter(|| check(ready(case.cached.verify_token(black_box(&case.token)))))
        });
        group.finish();
        // A hit must stay a hit: the cache held the one token throughout.
        assert_eq!(case.cached.cached_tokens(), 1);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
