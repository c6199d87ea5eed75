//! The brute-force guard's lockout cache (`GuardConfig::lockout_cache`): a
//! locked-out client's further attempts are refused without a store read
//! per attempt, `Retry-After` keeps counting down to the end of the window,
//! and nothing cached outlives its recheck time or its window.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, test, web};
use auth_core::testing::FlakyStore;
use auth_core::{
    AuthError, BruteForceGuard, GuardConfig, GuardFailurePolicy, ManualClock, StateStore,
    StrategyRegistry,
};

use crate::guard_fixtures::{HeaderPassword, RIGHT, guarded};

const WINDOW: Duration = Duration::from_secs(60);

fn ip(s: &str) -> Option<IpAddr> {
    Some(s.parse().unwrap())
}

/// A guard with `config` on a counting store, both on `clock`.
fn guard_with(clock: &ManualClock, config: GuardConfig) -> (BruteForceGuard, FlakyStore) {
    let store = FlakyStore::new().with_clock(Arc::new(clock.clone()));
    let guard = BruteForceGuard::with_store(config, Arc::new(store.clone()))
        .with_clock(Arc::new(clock.clone()));
    (guard, store)
}

/// 3 failures per user, 5 per client, a 60-second window.
fn guard(clock: &ManualClock, lockout_cache: Duration) -> (BruteForceGuard, FlakyStore) {
    guard_with(
        clock,
        GuardConfig {
            max_failures_per_user: 3,
            max_failures_per_client: 5,
            window: WINDOW,
            lockout_cache,
            ..GuardConfig::default()
        },
    )
}

async fn fail(guard: &BruteForceGuard, client: Option<IpAddr>, user: &str) {
    guard
        .check_addr(client, Some(user))
        .await
        .expect("not locked out yet")
        .record_failure()
        .await;
}

fn retry_after(result: Result<auth_core::Attempt, AuthError>) -> u64 {
    let err = result.expect_err("locked out");
    assert_eq!(err.status(), StatusCode::TOO_MANY_REQUESTS, "{err:?}");
    err.retry_after().expect("a 429 says when").as_secs()
}

#[tokio::test]
async fn a_locked_out_user_costs_one_store_read_per_key_and_period() {
    let clock = ManualClock::new(1_000_000);
    let (guard, store) = guard(&clock, Duration::from_secs(1));
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), "ada").await;
    }
    let before = store.reads();
    // The first refusal reads the client's and the user's counters ...
    assert_eq!(
        retry_after(guard.check_addr(ip("198.51.100.1"), Some("ada")).await),
        60
    );
    assert_eq!(store.reads(), before + 2);
    // ... the next ones, from any address, read nothing within the second.
    for i in 0..50 {
        let client = ip(&format!("198.51.100.{}", 2 + i));
        assert_eq!(retry_after(guard.check_addr(client, Some("ada")).await), 60);
        clock.advance(Duration::from_millis(10));
    }
    assert_eq!(store.reads(), before + 2, "refusals read the store");
    // Another user is not held up by ada's lockout.
    assert!(
        guard
            .check_addr(ip("198.51.100.1"), Some("bob"))
            .await
            .is_ok()
    );
    // Past the second the store is read again, and Retry-After counts down.
    clock.advance(Duration::from_millis(600));
    let reads = store.reads();
    assert_eq!(
        retry_after(guard.check_addr(ip("198.51.100.1"), Some("ada")).await),
        59
    );
    assert_eq!(store.reads(), reads + 2);
    // t = 2.05 s: 57.95 s left, still from the copy read at t = 1.1 s.
    clock.advance(Duration::from_millis(950));
    assert_eq!(
        retry_after(guard.check_addr(ip("198.51.100.9"), Some("ada")).await),
        58
    );
    assert_eq!(store.reads(), reads + 2);
}

#[tokio::test]
async fn a_locked_out_client_is_refused_for_every_username_without_a_read() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard(&clock, Duration::from_secs(1));
    for i in 0..5 {
        fail(&guard, ip("203.0.113.7"), &format!("user{i}")).await;
    }
    assert_eq!(
        retry_after(guard.check_addr(ip("203.0.113.7"), Some("new")).await),
        60
    );
    let reads = store.reads();
    for i in 0..100 {
        let user = format!("spray{i}");
        assert_eq!(
            retry_after(guard.check_addr(ip("203.0.113.7"), Some(&user)).await),
            60
        );
        assert_eq!(
            retry_after(guard.check_addr(ip("203.0.113.7"), None).await),
            60
        );
    }
    assert_eq!(store.reads(), reads, "a sprayed username read the store");
    // Other clients are unaffected.
    assert!(
        guard
            .check_addr(ip("203.0.113.8"), Some("spray1"))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn without_the_cache_every_refusal_reads_the_store() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard(&clock, Duration::ZERO);
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), "ada").await;
    }
    let reads = store.reads();
    for _ in 0..10 {
        assert_eq!(
            retry_after(guard.check_addr(ip("192.0.2.50"), Some("ada")).await),
            60
        );
    }
    assert_eq!(store.reads(), reads + 20);
}

#[tokio::test]
async fn a_lockout_lifted_in_the_store_holds_here_at_most_the_cache_period() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard(&clock, Duration::from_secs(1));
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), "ada").await;
    }
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
        60
    );
    // An administrator unlocks ada (or another instance saw her log in).
    assert!(store.memory().delete("guard:user:ada").await.unwrap());
    clock.advance(Duration::from_millis(999));
    assert!(
        guard
            .check_addr(ip("192.0.2.9"), Some("ada"))
            .await
            .is_err()
    );
    clock.advance(Duration::from_millis(1));
    assert!(guard.check_addr(ip("192.0.2.9"), Some("ada")).await.is_ok());
}

#[tokio::test]
async fn a_cached_lockout_never_outlives_its_window() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard_with(
        &clock,
        GuardConfig {
            max_failures_per_user: 1,
            window: Duration::from_secs(2),
            // Longer than the window: the window still ends the lockout.
            lockout_cache: Duration::from_secs(30),
            ..GuardConfig::default()
        },
    );
    fail(&guard, ip("192.0.2.1"), "ada").await;
    clock.advance(Duration::from_millis(500));
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.1"), Some("ada")).await),
        2
    );
    clock.advance(Duration::from_millis(1_000));
    // 500 ms left: rounded up to a whole second, from the cache.
    let reads = store.reads();
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.1"), Some("ada")).await),
        1
    );
    assert_eq!(store.reads(), reads);
    clock.advance(Duration::from_millis(500));
    assert!(guard.check_addr(ip("192.0.2.1"), Some("ada")).await.is_ok());
}

#[tokio::test]
async fn during_an_outage_a_cached_lockout_is_429_then_the_policy_answers() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard(&clock, Duration::from_secs(1));
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), "ada").await;
    }
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
        60
    );
    store.go_down();
    // What this instance read a moment ago still holds ...
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
        60
    );
    assert_eq!(store.failures(), 0);
    // ... and once it is due for a recheck, fail-closed answers 503.
    clock.advance(Duration::from_secs(1));
    let err = guard
        .check_addr(ip("192.0.2.9"), Some("ada"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE, "{err:?}");
    // Another user was never cached: the outage answers at once.
    let err = guard
        .check_addr(ip("192.0.2.9"), Some("bob"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), StatusCode::SERVICE_UNAVAILABLE, "{err:?}");
}

#[tokio::test]
async fn the_cache_is_bounded_and_takes_new_lockouts_once_old_ones_expire() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard_with(
        &clock,
        GuardConfig {
            max_failures_per_client: 1,
            max_failures_per_user: 1_000,
            ..GuardConfig::default()
        },
    );
    let addr = |i: u32| Some(IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i)));
    // 10 000 locked-out clients fill the cache.
    for i in 0..10_000 {
        guard
            .check_addr(addr(i), None)
            .await
            .unwrap()
            .record_failure()
            .await;
        assert!(guard.check_addr(addr(i), None).await.is_err());
    }
    // One more is still refused, from the store every time.
    let late = addr(10_000);
    guard
        .check_addr(late, None)
        .await
        .unwrap()
        .record_failure()
        .await;
    let reads = store.reads();
    for _ in 0..3 {
        assert!(guard.check_addr(late, None).await.is_err());
    }
    assert_eq!(store.reads(), reads + 3);
    // Once the cached ones are due for a recheck, the new one is cached.
    clock.advance(Duration::from_secs(1));
    assert!(guard.check_addr(late, None).await.is_err());
    let reads = store.reads();
    for _ in 0..3 {
        assert!(guard.check_addr(late, None).await.is_err());
    }
    assert_eq!(store.reads(), reads);
}

#[tokio::test]
async fn a_success_here_clears_the_cached_lockout_at_once() {
    let clock = ManualClock::new(0);
    let (guard, _store) = guard(&clock, Duration::from_secs(1));
    // An attempt that passed the check before ada was locked out ...
    let early = guard
        .check_addr(ip("192.0.2.50"), Some("ada"))
        .await
        .unwrap();
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), "ada").await;
    }
    // ... the lockout is read and cached ...
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
        60
    );
    // ... and the early attempt turns out right: ada's count is cleared
    // in the store and in this instance's cache, with no time passing.
    early.record_success().await;
    assert!(guard.check_addr(ip("192.0.2.9"), Some("ada")).await.is_ok());
}

#[tokio::test]
async fn long_usernames_are_refused_without_being_cached() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard(&clock, Duration::from_secs(1));
    let long = "x".repeat(300);
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), &long).await;
    }
    let reads = store.reads();
    for _ in 0..5 {
        assert_eq!(
            retry_after(guard.check_addr(ip("192.0.2.9"), Some(&long)).await),
            60
        );
    }
    // Client and user read every time: the name is not kept.
    assert_eq!(store.reads(), reads + 10);
    // At the limit of 256 bytes it is.
    let fits = "y".repeat(256);
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{}", 20 + i)), &fits).await;
    }
    assert!(
        guard
            .check_addr(ip("192.0.2.30"), Some(&fits))
            .await
            .is_err()
    );
    let reads = store.reads();
    assert!(
        guard
            .check_addr(ip("192.0.2.31"), Some(&fits))
            .await
            .is_err()
    );
    assert_eq!(store.reads(), reads);
}

#[tokio::test]
async fn local_fallback_lockouts_are_cached_too_and_the_store_is_tried_after_the_period() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard_with(
        &clock,
        GuardConfig {
            max_failures_per_user: 3,
            window: WINDOW,
            on_store_error: GuardFailurePolicy::LocalFallback,
            ..GuardConfig::default()
        },
    );
    store.go_down();
    for i in 0..3 {
        fail(&guard, ip(&format!("192.0.2.{i}")), "ada").await;
    }
    assert!(guard.is_falling_back());
    // Counted on this instance: 429, and the refusal is cached.
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
        60
    );
    let (reads, failures) = (store.reads(), store.failures());
    for _ in 0..10 {
        assert_eq!(
            retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
            60
        );
    }
    assert_eq!((store.reads(), store.failures()), (reads, failures));
    // Past the period the shared store is tried again (still down), and
    // the local count still refuses.
    clock.advance(Duration::from_secs(1));
    assert_eq!(
        retry_after(guard.check_addr(ip("192.0.2.9"), Some("ada")).await),
        59
    );
    assert!(store.failures() > failures);
}

#[actix_web::test]
async fn on_the_wire_a_flood_behind_a_trusted_proxy_is_refused_from_the_cache() {
    let clock = ManualClock::new(0);
    let (guard, store) = guard_with(
        &clock,
        GuardConfig {
            max_failures_per_user: 3,
            max_failures_per_client: 5,
            window: WINDOW,
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..GuardConfig::default()
        },
    );
    let registry = StrategyRegistry::builder()
        .register(HeaderPassword(guard))
        .build()
        .unwrap();
    let app = test::init_service(
        App::new()
            .app_data(registry)
            .app_data(web::Data::new(()))
            .service(guarded),
    )
    .await;
    let call = |client: &'static str, user: &'static str, password: &'static str| {
        test::TestRequest::get()
            .uri("/guarded")
            .peer_addr("10.0.0.2:4711".parse().unwrap())
            // Several lines and entries, read from the last line's last
            // entry leftwards: the first one not a trusted proxy counts.
            .append_header(("X-Forwarded-For", "6.6.6.6"))
            .append_header(("X-Forwarded-For", format!("7.7.7.7, {client}")))
            .append_header(("X-Forwarded-For", "10.0.0.8, 10.0.0.9"))
            .insert_header(("X-Pass", format!("{user}:{password}")))
            .to_request()
    };
    for i in 0..5 {
        let user = ["u1", "u2", "u3", "u4", "u5"][i];
        let resp = test::call_service(&app, call("192.0.2.66", user, "wrong")).await;
        assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    }
    let resp = test::call_service(&app, call("192.0.2.66", "u6", RIGHT)).await;
    assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "60");
    let reads = store.reads();
    for _ in 0..20 {
        let resp = test::call_service(&app, call("192.0.2.66", "u7", RIGHT)).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "60");
    }
    assert_eq!(store.reads(), reads);
    // The same user from another client behind the same proxy gets in.
    let resp = test::call_service(&app, call("192.0.2.67", "u7", RIGHT)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    // The entries further left were written by the client, those further
    // right by trusted proxies: none of them was counted.
    for other in ["6.6.6.6", "7.7.7.7", "10.0.0.8", "10.0.0.9"] {
        let key = format!("guard:client:{other}");
        assert_eq!(store.memory().get(&key).await.unwrap(), None, "{key}");
    }
    assert!(
        store
            .memory()
            .get("guard:client:192.0.2.66")
            .await
            .unwrap()
            .is_some()
    );
}
