//! auth-token's local record cache on a real Redis, two instances (two
//! `TokenManager`s, each on its own `RedisStore` connections): a revocation
//! on A is refused on B within 1 s although B had the token cached; when
//! Redis goes away B serves nothing from its cache (503, the store's
//! answer, never a stale 200), and when it is back B subscribes again and
//! still refuses what was revoked meanwhile.

#[path = "common/redis.rs"]
mod redis;

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{AuthError, StateStore, UserProfile};
use auth_store::{RedisOptions, RedisStore};
use auth_token::TokenManager;

/// The revocation bound of the issue family.
const BOUND: Duration = Duration::from_secs(1);

async fn instance(redis: &redis::RedisServer) -> TokenManager {
    let options = RedisOptions::new(redis.url()).prefix("cachetest:");
    let store: Arc<dyn StateStore> = Arc::new(RedisStore::connect(options).await.unwrap());
    // A maximum age far beyond the bound: only the published revocation,
    // or the gap the subscription reports, can end a hit within it.
    TokenManager::new(store).cache(10_000, Duration::from_secs(3600))
}

/// Polls until `m` refuses `token`; fails past the bound.
async fn refused_within_bound(m: &TokenManager, token: &str) -> Duration {
    let start = Instant::now();
    while m.verify(token).await.unwrap().is_some() {
        assert!(start.elapsed() < BOUND, "still accepted after {BOUND:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    start.elapsed()
}

#[actix_web::test]
async fn a_revocation_on_one_redis_instance_reaches_the_others_cache_within_1s() {
    let Some(mut redis) = redis::RedisServer::start() else {
        return;
    };
    let (a, b) = (instance(&redis).await, instance(&redis).await);

    // Revocations by hand, by the per-user cap and by a logout-like
    // revoke: each cached on B first.
    let mut took = Vec::new();
    for round in 0..20 {
        let user = UserProfile::new(format!("u{round}"));
        let issued = a.issue(&user).await.unwrap();
        for _ in 0..3 {
            assert!(b.verify(&issued.token).await.unwrap().is_some());
        }
        assert!(a.revoke(&user.id, &issued.record.id).await.unwrap());
        took.push(refused_within_bound(&b, &issued.token).await);
    }
    took.sort();
    eprintln!(
        "token cache revocation A -> B over Redis: p50 {:?}, max {:?}",
        took[took.len() / 2],
        took[took.len() - 1]
    );
    let capped = a.clone().max_per_user(1);
    let first = capped.issue(&UserProfile::new("ada")).await.unwrap();
    assert!(b.verify(&first.token).await.unwrap().is_some());
    assert!(b.verify(&first.token).await.unwrap().is_some());
    capped.issue(&UserProfile::new("ada")).await.unwrap();
    refused_within_bound(&b, &first.token).await;

    // Redis goes away: B's subscription reports the gap and its cache is
    // not trusted; the store's failure is what B answers.
    let kept = a.issue(&UserProfile::new("bob")).await.unwrap();
    let revoked = a.issue(&UserProfile::new("cy")).await.unwrap();
    for token in [&kept.token, &revoked.token] {
        assert!(b.verify(token).await.unwrap().is_some());
    }
    redis.stop();
    let start = Instant::now();
    loop {
        match b.verify(&kept.token).await {
            Ok(Some(_)) => {}
            Err(e) => {
                let e = AuthError::from(e);
                assert_eq!(e.status().as_u16(), 503);
                break;
            }
            Ok(None) => panic!("a live token refused"),
        }
        assert!(
            start.elapsed() < BOUND,
            "B served from its cache without Redis"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Back on the same port and data: A revokes one of them, which B hears
    // of only once it subscribes again; nothing cached before is trusted.
    redis.restart();
    let start = Instant::now();
    let revoke = loop {
        match a.revoke("cy", &revoked.record.id).await {
            Ok(done) => break done,
            Err(_) => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "redis did not come back"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert!(revoke);
    let start = Instant::now();
    loop {
        match b.verify(&revoked.token).await {
            Ok(None) => break,
            Ok(Some(_)) => panic!("a token revoked during the outage was served"),
            Err(_) => {
                assert!(
                    start.elapsed() < Duration::from_secs(10),
                    "B never recovered"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    assert!(b.verify(&kept.token).await.unwrap().is_some());
    // Subscribed again: a new revocation reaches B's cache within the bound.
    assert!(b.verify(&kept.token).await.unwrap().is_some());
    assert!(a.revoke("bob", &kept.record.id).await.unwrap());
    refused_within_bound(&b, &kept.token).await;
}
