//! Strategy verification against a raw `jsonwebtoken::decode` of the same
//! token, for HS256, RS256, ES256, ES512 and EdDSA.
//!
//! For each algorithm, one token (signed once, outside the timed part) is
//! measured three ways:
//!
//! - `raw`: `jsonwebtoken::decode` with a prepared `DecodingKey` and
//!   `Validation` (signature, `exp`), the floor any JWT library pays; for
//!   ES512, which jsonwebtoken lacks, `p521`'s own verification of the same
//!   signature with a prepared key (no decoding, no claims);
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

use auth_jwt::{
    Algorithm, JwsAlgorithm, JwtStrategy, SigningKey, VerifiedToken, VerifyError, VerifyingKey,
};
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
    /// jsonwebtoken's key and rules; `None` for ES512.
    raw: Option<(DecodingKey, Validation)>,
    cold: JwtStrategy,
    cached: JwtStrategy,
}

fn case(name: &'static str, alg: JwsAlgorithm, private: &[u8], public: &[u8]) -> Case {
    let (signing, verifying, raw_key) = if alg == Algorithm::HS256 {
        (
            SigningKey::hmac(SECRET, Algorithm::HS256).unwrap(),
            VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap(),
            Some(DecodingKey::from_secret(SECRET)),
        )
    } else {
        let raw = match alg {
            JwsAlgorithm::RS256 => Some(DecodingKey::from_rsa_pem(public).unwrap()),
            JwsAlgorithm::ES256 => Some(DecodingKey::from_ec_pem(public).unwrap()),
            JwsAlgorithm::EdDSA => Some(DecodingKey::from_ed_pem(public).unwrap()),
            _ => None,
        };
        (
            SigningKey::from_pem(private, alg).unwrap(),
            VerifyingKey::from_pem(public, alg).unwrap(),
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
        raw: raw_key.map(|k| (k, Validation::new(alg.to_jsonwebtoken().unwrap()))),
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
        case("HS256", JwsAlgorithm::HS256, b"", b""),
        case(
            "RS256",
            JwsAlgorithm::RS256,
            include_bytes!("../tests/keys/rsa.pem"),
            include_bytes!("../tests/keys/rsa.pub.pem"),
        ),
        case(
            "ES256",
            JwsAlgorithm::ES256,
            include_bytes!("../tests/keys/ec.pem"),
            include_bytes!("../tests/keys/ec.pub.pem"),
        ),
        case(
            "ES512",
            JwsAlgorithm::ES512,
            include_bytes!("../tests/keys/p521.pem"),
            include_bytes!("../tests/keys/p521.pub.pem"),
        ),
        case(
            "EdDSA",
            JwsAlgorithm::EdDSA,
            include_bytes!("../tests/keys/ed.pem"),
            include_bytes!("../tests/keys/ed.pub.pem"),
        ),
    ];
    for case in &cases {
        // The three ways must agree before they are compared.
        let cold = check(ready(case.cold.verify_token(&case.token))).claims;
        assert_eq!(
            cold,
            check(ready(case.cached.verify_token(&case.token))).claims
        );

        let mut group = c.benchmark_group(format!("verify/{}", case.name));
        if let Some((raw_key, validation)) = &case.raw {
            let raw = jsonwebtoken::decode::<Map<String, Value>>(&case.token, raw_key, validation)
                .unwrap();
            assert_eq!(raw.claims, *cold);
            group.bench_function("raw", |b| {
                b.iter(|| {
                    jsonwebtoken::decode::<Map<String, Value>>(
                        black_box(&case.token),
                        raw_key,
                        validation,
                    )
                    .unwrap()
                })
            });
        } else {
            use p521::ecdsa::signature::Verifier as _;
            use p521::elliptic_curve::sec1::ToEncodedPoint as _;
            use p521::pkcs8::DecodePublicKey as _;
            let public =
                p521::PublicKey::from_public_key_pem(include_str!("../tests/keys/p521.pub.pem"))
                    .unwrap();
            let key =
                p521::ecdsa::VerifyingKey::from_encoded_point(&public.to_encoded_point(false))
                    .unwrap();
            let (input, sig) = case.token.rsplit_once('.').unwrap();
            let sig = p521::ecdsa::Signature::from_slice(
                &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
                    .unwrap(),
            )
            .unwrap();
            group.bench_function("raw", |b| {
                b.iter(|| key.verify(black_box(input.as_bytes()), &sig).unwrap())
            });
        }
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
