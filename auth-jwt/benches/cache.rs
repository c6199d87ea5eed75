//! The verified-token cache under churn, through the public path every
//! request takes (`JwtStrategy::verify_token`), with HS256 so that the
//! signature costs as little as possible next to the cache.
//!
//! - `hit`: one token, already cached, in a full cache of 10 000.
//! - `miss/no_cache`: a different token each call, cache disabled: parse,
//!   signature and claim rules only, the floor.
//! - `miss/churn_N`: each token twice in a row into a full cache of 10 000
//!   that has already taken N insertions (each one evicting). A full cache
//!   turns a token away on its first miss and takes it on the second, so
//!   every other call inserts and evicts: the cache's cost on a miss is
//!   this minus `no_cache`, and it must not grow with N (eviction in O(1)).
//! - `miss/once`: a different token each call into a full cache: each is
//!   turned away on its first miss, so nothing is inserted or evicted (the
//!   cold path of a stream of tokens each sent once).
//!
//! Tokens are minted outside the timed part; a cycle of 400 000 distinct
//! tokens (40 × the capacity) makes nearly every call of a `miss` case a
//! miss, whatever the eviction policy keeps.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use auth_jwt::{Algorithm, JwtStrategy, SigningKey, VerifyingKey};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;

const SECRET: &[u8] = b"a-bench-secret-that-is-long-enough-for-hs256";
const CAPACITY: usize = 10_000;
const CYCLE: usize = 40 * CAPACITY;

fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("verify_token waited with static keys"),
    }
}

fn tokens(n: usize) -> Vec<String> {
    let key = SigningKey::hmac(SECRET, Algorithm::HS256).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    (0..n)
        .map(|i| {
            key.sign(
                &json!({
                    "sub": format!("user-{i}"), "iat": now, "exp": now + 86_400,
                    "roles": ["user"], "scope": "todos:read todos:write",
                }),
                None,
            )
            .unwrap()
        })
        .collect()
}

fn strategy(capacity: usize) -> JwtStrategy {
    JwtStrategy::builder()
        .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .any_issuer()
        .any_audience()
        .cache_capacity(capacity)
        .build()
        .unwrap()
}

fn bench(c: &mut Criterion) {
    auth_jwt::ensure_crypto_provider();
    // Set-ups run only for the cases the filter selects, so that
    // `cache/hit` alone can run under callgrind.
    let cycle: OnceLock<Vec<String>> = OnceLock::new();
    let cycle = || cycle.get_or_init(|| tokens(CYCLE));

    let hit: OnceLock<(JwtStrategy, Vec<String>)> = OnceLock::new();
    c.bench_function("cache/hit", |b| {
        let (full, filled) = hit.get_or_init(|| {
            let filled = tokens(CAPACITY);
            let full = strategy(CAPACITY);
            for t in &filled {
                ready(full.verify_token(t)).unwrap();
            }
            (full, filled)
        });
        let hot = &filled[CAPACITY - 1];
        b.iter(|| ready(full.verify_token(black_box(hot))).unwrap())
    });

    let mut group = c.benchmark_group("cache/miss");
    let none = strategy(0);
    let mut i = 0;
    group.bench_function("no_cache", |b| {
        let cycle = cycle();
        b.iter(|| {
            i = (i + 1) % CYCLE;
            ready(none.verify_token(black_box(&cycle[i]))).unwrap()
        })
    });
    for churn in [0usize, 400_000, 2_000_000] {
        let churned: OnceLock<JwtStrategy> = OnceLock::new();
        // The loop starts with the first of a pair on the token after the
        // set-up's last (`i` counts each token twice).
        let next = (CAPACITY + churn) % CYCLE;
        let mut i = (2 * next + 2 * CYCLE - 1) % (2 * CYCLE);
        group.bench_function(format!("churn_{churn}"), |b| {
            let cycle = cycle();
            let s = churned.get_or_init(|| {
                let s = strategy(CAPACITY);
                for n in 0..CAPACITY + churn {
                    // Twice: a full cache takes a token on its second miss.
                    ready(s.verify_token(&cycle[n % CYCLE])).unwrap();
                    ready(s.verify_token(&cycle[n % CYCLE])).unwrap();
                }
                s
            });
            b.iter(|| {
                i = (i + 1) % (2 * CYCLE);
                ready(s.verify_token(black_box(&cycle[i / 2]))).unwrap()
            })
        });
    }
    let once: OnceLock<JwtStrategy> = OnceLock::new();
    let mut i = 0;
    group.bench_function("once", |b| {
        let cycle = cycle();
        let s = once.get_or_init(|| {
            let s = strategy(CAPACITY);
            for t in &cycle[CYCLE - CAPACITY..] {
                ready(s.verify_token(t)).unwrap();
            }
            assert_eq!(s.cached_tokens(), CAPACITY);
            s
        });
        b.iter(|| {
            i = (i + 1) % (CYCLE - CAPACITY);
            ready(s.verify_token(black_box(&cycle[i]))).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
