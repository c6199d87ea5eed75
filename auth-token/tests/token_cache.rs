//! The local cache of live token records (`TokenManager::cache`): hits read
//! nothing from the store; revocations (by `revoke`, by the per-user cap,
//! on the wire) reach a second instance on the same store within the
//! bound; an expired token is never served; a lost subscription makes every
//! request read the store until it is back; the cache stays within its
//! capacity. Two managers on one store are two instances.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use auth_core::testing::FlakyStore;
use auth_core::{AuthenticationMiddleware, Clock, ManualClock, StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_token::{OpaqueBearerStrategy, TokenBasicStrategy, TokenManager};

const T0: u64 = 1_800_000_000_000;

/// The revocation bound of the issue family: enforced on another instance
/// within 1 s.
const BOUND: Duration = Duration::from_secs(1);

/// A maximum age far beyond the bound, so that only the published
/// revocation (or a reported gap) can end a hit within it.
const LONG: Duration = Duration::from_secs(3600);

/// A manager (an instance) on `store`, reading time from `clock`.
fn clocked(store: &FlakyStore, clock: &ManualClock) -> TokenManager {
    TokenManager::new(Arc::new(store.clone())).clock(Arc::new(clock.clone()))
}

/// How many store reads `f` costs.
async fn reads<T>(store: &FlakyStore, f: impl std::future::Future<Output = T>) -> (T, u64) {
    let before = store.reads();
    let out = f.await;
    (out, store.reads() - before)
}

async fn live(m: &TokenManager, token: &str) -> bool {
    m.verify(token).await.unwrap().is_some()
}

/// Polls `m` until it refuses `token`; how long that took (fails past the
/// bound).
async fn refused_within_bound(m: &TokenManager, token: &str) -> Duration {
    let start = Instant::now();
    while live(m, token).await {
        assert!(start.elapsed() < BOUND, "still accepted after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[actix_web::test]
async fn a_hit_reads_nothing_and_revocations_reach_the_other_instance_within_the_bound() {
    for sliding in [false, true] {
        let store = FlakyStore::new();
        let instance = || {
            let m = TokenManager::new(Arc::new(store.clone())).cache(100, LONG);
            if sliding {
                m.sliding(Duration::from_secs(3600))
            } else {
                m
            }
        };
        let (a, b) = (instance(), instance());
        let issued = a.issue(&UserProfile::new("ada")).await.unwrap();
        // The first verification reads (the deadline too when sliding), the
        // next ones are hits.
        let (ok, first) = reads(&store, live(&b, &issued.token)).await;
        assert!(ok);
        assert_eq!(first, if sliding { 2 } else { 1 });
        for _ in 0..5 {
            let (ok, n) = reads(&store, live(&b, &issued.token)).await;
            assert_eq!((ok, n), (true, 0), "sliding {sliding}");
        }
        let record = b.verify(&issued.token).await.unwrap().unwrap();
        assert_eq!(
            (record.owner.as_str(), &record.id),
            ("ada", &issued.record.id)
        );
        // Revoked on A: at once on A, within the bound on B, whose hits stop.
        assert!(live(&a, &issued.token).await);
        assert!(a.revoke("ada", &issued.record.id).await.unwrap());
        assert!(!live(&a, &issued.token).await);
        let took = refused_within_bound(&b, &issued.token).await;
        eprintln!("sliding {sliding}: revocation A -> B in {took:?}");
        assert!(!live(&b, &issued.token).await);
    }
}

#[actix_web::test]
async fn the_per_user_cap_invalidates_the_evicted_token_everywhere() {
    let store = FlakyStore::new();
    let a = TokenManager::new(Arc::new(store.clone()))
        .max_per_user(2)
        .cache(100, LONG);
    let b = TokenManager::new(Arc::new(store.clone()))
        .max_per_user(2)
        .cache(100, LONG);
    // A millisecond apart at least: the cap orders by issue time.
    let first = a.issue(&UserProfile::new("ada")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2)).await;
    let second = a.issue(&UserProfile::new("ada")).await.unwrap();
    for m in [&a, &b] {
        for token in [&first.token, &second.token] {
            assert!(live(m, token).await);
            assert_eq!(reads(&store, live(m, token)).await, (true, 0));
        }
    }
    // A third token: the first is revoked by the cap, here at once and on
    // the other instance within the bound; the second stays cached.
    let third = a.issue(&UserProfile::new("ada")).await.unwrap();
    assert!(!live(&a, &first.token).await);
    refused_within_bound(&b, &first.token).await;
    for m in [&a, &b] {
        assert!(live(m, &third.token).await);
    }
    assert_eq!(reads(&store, live(&b, &second.token)).await, (true, 0));
}

#[actix_web::test]
async fn an_expired_token_is_never_served_from_the_cache() {
    let (clock, store) = (ManualClock::new(T0), FlakyStore::new());
    // A maximum age far beyond the lifetime: only the deadline check can
    // end these hits.
    let m = clocked(&store, &clock)
        .ttl(Duration::from_secs(60))
        .cache(100, LONG);
    let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
    assert!(live(&m, &issued.token).await);
    clock.advance(Duration::from_millis(59_999));
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (true, 0));
    clock.advance(Duration::from_millis(1));
    // Expired: refused, after the same store read an unknown token costs.
    let unknown = format!(
        "{}{}",
        &issued.token[..42],
        if issued.token.ends_with('A') {
            'B'
        } else {
            'A'
        }
    );
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (false, 1));
    assert_eq!(reads(&store, live(&m, &unknown)).await, (false, 1));
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (false, 1));
}

#[actix_web::test]
async fn the_maximum_age_sends_a_hit_back_to_the_store() {
    let (clock, store) = (ManualClock::new(T0), FlakyStore::new());
    let m = clocked(&store, &clock).cache(100, Duration::from_millis(250));
    let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (true, 1));
    clock.advance(Duration::from_millis(249));
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (true, 0));
    clock.advance(Duration::from_millis(1));
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (true, 1));
    assert_eq!(reads(&store, live(&m, &issued.token)).await, (true, 0));
    // Turned off: every verification reads.
    let off = TokenManager::new(Arc::new(store.clone())).cache(0, Duration::from_secs(1));
    for _ in 0..3 {
        assert_eq!(reads(&store, live(&off, &issued.token)).await, (true, 1));
    }
}

#[actix_web::test]
async fn sliding_renewal_keeps_working_with_the_cache() {
    let (clock, store) = (ManualClock::new(T0), FlakyStore::new());
    let m = clocked(&store, &clock)
        .ttl(Duration::from_secs(10))
        .sliding(Duration::from_secs(3600));
    let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
    // In use every 100 ms for a minute, six times the idle timeout: alive
    // throughout, renewed on the store at least once per maximum age (1 s),
    // most uses served from the cache.
    let (mut uses, mut read) = (0, 0);
    for _ in 0..600 {
        clock.advance(Duration::from_millis(100));
        let (ok, n) = reads(&store, live(&m, &issued.token)).await;
        assert!(ok);
        (uses, read) = (uses + 1, read + n);
    }
    // A read (deadline and record) per second of use, not per use.
    assert!(read <= 2 * 61, "{read} reads for {uses} uses");
    // The stored deadline (read without renewing it) lags the last use by
    // at most the maximum age: ttl after it, give or take that second.
    let last_use = clock.now_secs();
    let record = m.get("ada", &issued.record.id).await.unwrap().unwrap();
    assert!(
        (last_use + 9..=last_use + 10).contains(&record.expires_at),
        "deadline {} for a last use at {last_use}",
        record.expires_at
    );
    // Idle past the timeout: gone, cache or not.
    clock.advance(Duration::from_secs(21));
    assert!(!live(&m, &issued.token).await);
}

/// Waits until `m` no longer serves `token` from its cache (its
/// subscription reported the gap).
async fn until_it_reads(store: &FlakyStore, m: &TokenManager, token: &str) {
    let start = Instant::now();
    while reads(store, live(m, token)).await.1 == 0 {
        assert!(start.elapsed() < BOUND, "the gap was not noticed");
        tokio::task::yield_now().await;
    }
}

#[actix_web::test]
async fn without_its_subscription_the_cache_is_not_trusted() {
    let (clock, store) = (ManualClock::new(T0), FlakyStore::new());
    let instance = || clocked(&store, &clock).cache(100, LONG);
    let (a, b) = (instance(), instance());
    let kept = a.issue(&UserProfile::new("ada")).await.unwrap();
    let revoked = a.issue(&UserProfile::new("bob")).await.unwrap();
    for token in [&kept.token, &revoked.token] {
        assert!(live(&b, token).await);
        assert_eq!(reads(&store, live(&b, token)).await, (true, 0));
    }
    store.cut_pubsub();
    until_it_reads(&store, &b, &kept.token).await;
    // While publish/subscribe is down every verification reads the store,
    // so a revocation B cannot hear of (A's message fails) holds at once.
    assert!(a.revoke("bob", &revoked.record.id).await.unwrap());
    assert_eq!(reads(&store, live(&b, &revoked.token)).await, (false, 1));
    for _ in 0..3 {
        assert_eq!(reads(&store, live(&b, &kept.token)).await, (true, 1));
    }
    // Back: the next attempt (a second later) subscribes, and hits resume.
    store.restore_pubsub();
    clock.advance(Duration::from_secs(1));
    assert_eq!(reads(&store, live(&b, &kept.token)).await, (true, 1));
    assert_eq!(reads(&store, live(&b, &kept.token)).await, (true, 0));
    assert_eq!(reads(&store, live(&b, &revoked.token)).await, (false, 1));
}

#[actix_web::test]
async fn a_full_cache_stays_within_its_capacity() {
    let store = FlakyStore::new();
    let m = TokenManager::new(Arc::new(store.clone())).cache(2, LONG);
    let mut tokens = Vec::new();
    for user in ["ada", "bob", "cy"] {
        tokens.push(m.issue(&UserProfile::new(user)).await.unwrap().token);
    }
    for token in &tokens {
        assert_eq!(reads(&store, live(&m, token)).await, (true, 1));
    }
    // Two fit: the least recently used (the first) went.
    assert_eq!(reads(&store, live(&m, &tokens[2])).await, (true, 0));
    assert_eq!(reads(&store, live(&m, &tokens[1])).await, (true, 0));
    assert_eq!(reads(&store, live(&m, &tokens[0])).await, (true, 1));
    // Which pushed out the third (used longest ago), not the second.
    assert_eq!(reads(&store, live(&m, &tokens[1])).await, (true, 0));
    assert_eq!(reads(&store, live(&m, &tokens[2])).await, (true, 1));
    // Many more tokens: every one still verifies, none from a cache that
    // grew past two.
    let many: Vec<String> = {
        let mut v = Vec::new();
        for i in 0..50 {
            v.push(
                m.issue(&UserProfile::new(format!("u{i}")))
                    .await
                    .unwrap()
                    .token,
            );
        }
        v
    };
    for token in &many {
        assert!(live(&m, token).await);
    }
    for token in &many[..48] {
        assert_eq!(reads(&store, live(&m, token)).await, (true, 1));
    }
}

#[authenticate("token-basic", "opaque")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(format!("{} {}", user.id, user.strategy))
}

/// An instance on the wire: `/me` and the token locations under
/// `/auth/tokens`.
async fn server(
    tokens: &TokenManager,
) -> impl Service<actix_http::Request, Response = ServiceResponse, Error = actix_web::Error> {
    let registry = StrategyRegistry::builder()
        .register(TokenBasicStrategy::new("token-basic", tokens.clone()))
        .register(OpaqueBearerStrategy::new("opaque", tokens.clone()))
        .build()
        .unwrap();
    test::init_service(
        App::new()
            .app_data(registry)
            .route("/me", web::get().to(me))
            .service(
                web::scope("/auth/tokens")
                    .wrap(AuthenticationMiddleware::with(["token-basic", "opaque"]))
                    .configure(tokens.routes()),
            ),
    )
    .await
}

#[actix_web::test]
async fn on_the_wire_hits_cost_no_read_and_a_delete_on_one_instance_holds_on_the_other() {
    let store = FlakyStore::new();
    let a = TokenManager::new(Arc::new(store.clone())).cache(100, LONG);
    let b = TokenManager::new(Arc::new(store.clone())).cache(100, LONG);
    let (app_a, app_b) = (server(&a).await, server(&b).await);
    let issued = a.issue(&UserProfile::new("ada")).await.unwrap();
    let bearer = format!("Bearer {}", issued.token);
    let basic = format!(
        "Basic {}",
        auth_test_support::basic_credentials("ada", &issued.token)
    );
    let get = |auth: &str| {
        test::TestRequest::get()
            .uri("/me")
            .insert_header(("Authorization", auth.to_owned()))
            .to_request()
    };
    for (auth, strategy) in [(&bearer, "opaque"), (&basic, "token-basic")] {
        let (body, n) = reads(&store, test::call_and_read_body(&app_b, get(auth))).await;
        assert_eq!(body, format!("ada {strategy}"));
        assert!(n <= 1);
        let (body, n) = reads(&store, test::call_and_read_body(&app_b, get(auth))).await;
        assert_eq!(body, format!("ada {strategy}"));
        assert_eq!(n, 0, "{strategy}: a hit");
    }
    // A cached token of the right owner only: token-basic with another id.
    let wrong = format!(
        "Basic {}",
        auth_test_support::basic_credentials("eve", &issued.token)
    );
    assert_eq!(test::call_service(&app_b, get(&wrong)).await.status(), 401);
    // Logged out on A: 401 there at once, on B within the bound.
    let delete = test::TestRequest::delete()
        .uri(&issued.location)
        .insert_header(("Authorization", bearer.clone()))
        .to_request();
    assert_eq!(test::call_service(&app_a, delete).await.status(), 204);
    assert_eq!(test::call_service(&app_a, get(&bearer)).await.status(), 401);
    let start = Instant::now();
    while test::call_service(&app_b, get(&bearer)).await.status() == 200 {
        assert!(start.elapsed() < BOUND, "B still accepts a deleted token");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for auth in [&bearer, &basic] {
        assert_eq!(test::call_service(&app_b, get(auth)).await.status(), 401);
    }
}

/// A cache hit hands every request the one cached profile, named after the
/// strategy, so the sequence has nothing to rename and nothing is copied;
/// a second strategy on the same manager gets a profile named after it.
#[actix_web::test]
async fn cached_profiles_are_shared_and_named_after_their_strategy() {
    use auth_core::{AuthOutcome, AuthenticationStrategy, StrategyOptions};
    let store = FlakyStore::new();
    let m = TokenManager::new(Arc::new(store.clone())).cache(100, LONG);
    let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
    let bearer = OpaqueBearerStrategy::new("opaque", m.clone());
    let basic = TokenBasicStrategy::new("token-basic", m.clone());
    let profile = |outcome: AuthOutcome| match outcome {
        AuthOutcome::Authenticated(p) => p,
        other => panic!("{other:?}"),
    };
    let with_bearer = || {
        test::TestRequest::default()
            .insert_header(("authorization", format!("Bearer {}", issued.token)))
            .to_http_request()
    };
    let options = StrategyOptions::default();
    let first = profile(bearer.authenticate(&with_bearer(), &options).await.unwrap());
    let second = profile(bearer.authenticate(&with_bearer(), &options).await.unwrap());
    assert_eq!(first.strategy, "opaque");
    assert!(first.ptr_eq(&second), "a hit copied the profile");
    let basic_req = test::TestRequest::default()
        .insert_header((
            "authorization",
            format!(
                "Basic {}",
                auth_test_support::basic_credentials("ada", &issued.token)
            ),
        ))
        .to_http_request();
    let other = profile(basic.authenticate(&basic_req, &options).await.unwrap());
    assert_eq!(other.strategy, "token-basic");
    assert_eq!(other.id, "ada");
    assert!(!other.ptr_eq(&first));
}

/// A store without publish/subscribe: everything else of `MemoryStore`,
/// and a count of reads.
struct NoPubSub {
    inner: auth_core::MemoryStore,
    reads: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl auth_core::StateStore for NoPubSub {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, auth_core::StoreError> {
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<auth_core::Entry>, auth_core::StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, auth_core::StoreError> {
        self.inner.take(key).await
    }
    async fn delete(&self, key: &str) -> Result<bool, auth_core::StoreError> {
        self.inner.delete(key).await
    }
    async fn increment(
        &self,
        key: &str,
        window: Duration,
    ) -> Result<auth_core::Count, auth_core::StoreError> {
        self.inner.increment(key, window).await
    }
    async fn raise(
        &self,
        key: &str,
        value: u64,
        ttl: Duration,
    ) -> Result<bool, auth_core::StoreError> {
        self.inner.raise(key, value, ttl).await
    }
    async fn publish(&self, _: &str, _: &[u8]) -> Result<(), auth_core::StoreError> {
        Err(auth_core::StoreError::Unsupported {
            operation: "publish",
        })
    }
    async fn subscribe(&self, _: &str) -> Result<auth_core::Subscription, auth_core::StoreError> {
        Err(auth_core::StoreError::Unsupported {
            operation: "subscribe",
        })
    }
    async fn scan(
        &self,
        prefix: &str,
    ) -> Result<Vec<(String, auth_core::Entry)>, auth_core::StoreError> {
        self.inner.scan(prefix).await
    }
}

/// Without publish/subscribe no instance could hear of another's
/// revocation, so the cache is never trusted: every verification reads the
/// store, and a revocation through a second manager holds at once.
#[actix_web::test]
async fn a_store_without_publish_subscribe_gets_no_cache() {
    let store = Arc::new(NoPubSub {
        inner: auth_core::MemoryStore::new(),
        reads: Default::default(),
    });
    let a = TokenManager::new(store.clone()).cache(100, LONG);
    let b = TokenManager::new(store.clone()).cache(100, LONG);
    let issued = a.issue(&UserProfile::new("ada")).await.unwrap();
    for _ in 0..3 {
        let before = store.reads.load(std::sync::atomic::Ordering::SeqCst);
        assert!(live(&a, &issued.token).await);
        assert!(store.reads.load(std::sync::atomic::Ordering::SeqCst) > before);
    }
    assert!(b.revoke("ada", &issued.record.id).await.unwrap());
    assert!(!live(&a, &issued.token).await);
}
