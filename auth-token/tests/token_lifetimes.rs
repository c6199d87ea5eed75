//! Auth-token lifetimes on a test clock: expiry to the second, sliding
//! renewal within its maximum, unknown and expired tokens alike on the wire
//! and in the store work they cost, and a second instance on the same SQL
//! store seeing renewals and revocations (these within the cache's bound).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::{App, HttpResponse, test, web};
use auth_core::{
    Count, Entry, ManualClock, MemoryStore, StateStore, StoreError, StrategyRegistry, Subscription,
    UserProfile,
};
use auth_macros::authenticate;
use auth_store::SqlStore;
use auth_token::{OpaqueBearerStrategy, TokenManager};

const T0: u64 = 1_800_000_000_000;

fn clocked(clock: &ManualClock) -> (Arc<MemoryStore>, TokenManager) {
    let store = Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone())));
    let manager = TokenManager::new(store.clone()).clock(Arc::new(clock.clone()));
    (store, manager)
}

#[authenticate("opaque")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

/// Status and body of `GET /me` with `Authorization: Bearer token`.
async fn bearer(tokens: &TokenManager, token: &str) -> (u16, String) {
    let registry = StrategyRegistry::builder()
        .register(OpaqueBearerStrategy::new("opaque", tokens.clone()))
        .build()
        .unwrap();
    let app = test::init_service(
        App::new()
            .app_data(registry)
            .route("/me", web::get().to(me)),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/me")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = test::call_service(&app, req).await;
    let status = resp.status().as_u16();
    let mut headers: Vec<String> = resp
        .headers()
        .iter()
        .map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("?")))
        .collect();
    headers.sort();
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    (status, format!("{}\n{body}", headers.join("\n")))
}

#[actix_web::test]
async fn a_token_lives_exactly_its_ttl() {
    for ttl in [1, 60, 900, 86_400] {
        let clock = ManualClock::new(T0);
        let (_, m) = clocked(&clock);
        let m = m.ttl(Duration::from_secs(ttl));
        let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
        assert_eq!(issued.record.expires_at - issued.record.created_at, ttl);
        clock.advance(Duration::from_secs(ttl) - Duration::from_millis(1));
        assert_eq!(
            bearer(&m, &issued.token).await.0,
            200,
            "ttl {ttl}: 1 ms before"
        );
        clock.advance(Duration::from_millis(1));
        assert_eq!(
            bearer(&m, &issued.token).await.0,
            401,
            "ttl {ttl}: at expiry"
        );
        assert!(m.verify(&issued.token).await.unwrap().is_none());
        assert!(m.get("ada", &issued.record.id).await.unwrap().is_none());
    }
}

#[actix_web::test]
async fn sliding_renewal_extends_on_use_and_stops_at_the_maximum() {
    let clock = ManualClock::new(T0);
    let (_, m) = clocked(&clock);
    let m = m
        .ttl(Duration::from_secs(600))
        .sliding(Duration::from_secs(1800));
    let issued = m.issue(&UserProfile::new("ada")).await.unwrap();
    let created = issued.record.created_at;
    assert_eq!(issued.record.max_expires_at, Some(created + 1800));

    // Each use moves the deadline to 600 s from then.
    for (at, deadline) in [(500, 1100), (1050, 1650), (1600, 1800), (1700, 1800)] {
        clock.set_ms(T0 + at * 1000);
        let record = m.verify(&issued.token).await.unwrap().expect("in use");
        assert_eq!(record.expires_at, created + deadline, "used at {at}");
        let shown = m.get("ada", &record.id).await.unwrap().unwrap();
        assert_eq!(
            shown.expires_at,
            created + deadline,
            "the location shows it"
        );
    }
    // Used a second before the maximum, it still ends there.
    clock.set_ms(T0 + 1799 * 1000);
    assert_eq!(bearer(&m, &issued.token).await.0, 200);
    clock.set_ms(T0 + 1800 * 1000);
    assert_eq!(bearer(&m, &issued.token).await.0, 401, "past the maximum");

    // Idle for the ttl: gone, however young.
    for idle in [600, 601, 1000] {
        clock.set_ms(T0);
        let fresh = m.issue(&UserProfile::new("eve")).await.unwrap();
        clock.advance(Duration::from_secs(300));
        assert_eq!(bearer(&m, &fresh.token).await.0, 200);
        clock.advance(Duration::from_secs(idle));
        assert_eq!(bearer(&m, &fresh.token).await.0, 401, "idle {idle} s");
        assert!(
            m.list("eve")
                .await
                .unwrap()
                .iter()
                .all(|r| r.id != fresh.record.id)
        );
    }

    // Revoked: gone at once, renewals or not.
    clock.set_ms(T0);
    let revoked = m.issue(&UserProfile::new("ada")).await.unwrap();
    assert_eq!(bearer(&m, &revoked.token).await.0, 200);
    assert!(m.revoke("ada", &revoked.record.id).await.unwrap());
    assert_eq!(bearer(&m, &revoked.token).await.0, 401);
}

/// A store that counts the operations it is asked for.
struct Counting {
    inner: MemoryStore,
    ops: AtomicUsize,
}

#[async_trait::async_trait]
impl StateStore for Counting {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        self.inner.take(key).await
    }
    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, window: Duration) -> Result<Count, StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        self.inner.increment(key, window).await
    }
    async fn raise(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        self.ops.fetch_add(1, Ordering::SeqCst);
        self.inner.raise(key, value, ttl).await
    }
    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.inner.publish(channel, message).await
    }
    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        self.inner.subscribe(channel).await
    }
    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        self.inner.scan(prefix).await
    }
}

/// What an attacker can observe of an unknown and of an expired token: the
/// same response, byte for byte, after the same store work (no early exit
/// that would tell them apart by time).
#[actix_web::test]
async fn unknown_and_expired_tokens_look_and_cost_the_same() {
    for sliding in [false, true] {
        let clock = ManualClock::new(T0);
        let store = Arc::new(Counting {
            inner: MemoryStore::new().with_clock(Arc::new(clock.clone())),
            ops: AtomicUsize::new(0),
        });
        let mut m = TokenManager::new(store.clone())
            .clock(Arc::new(clock.clone()))
            .ttl(Duration::from_secs(60));
        if sliding {
            m = m.sliding(Duration::from_secs(600));
        }
        let expired = m.issue(&UserProfile::new("ada")).await.unwrap();
        clock.advance(Duration::from_secs(61));
        let unknown = {
            let mut t = expired.token.clone().into_bytes();
            t[10] = if t[10] == b'x' { b'y' } else { b'x' };
            String::from_utf8(t).unwrap()
        };
        let mut seen = Vec::new();
        for token in [&expired.token, &unknown] {
            let before = store.ops.load(Ordering::SeqCst);
            let answer = bearer(&m, token).await;
            seen.push((answer, store.ops.load(Ordering::SeqCst) - before));
        }
        assert_eq!(seen[0].0.0, 401, "sliding {sliding}");
        assert_eq!(seen[0], seen[1], "sliding {sliding}: expired vs unknown");
    }
}

/// Two instances: two managers, each on its own connection pool to one
/// SQL store. A renewal on A keeps the token alive on B; a revocation on A
/// is refused on B within the bound of 1 s.
#[actix_web::test]
async fn a_second_instance_sees_renewals_and_revocations() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let clock = ManualClock::new(T0);
    let instance = || async {
        let store = SqlStore::connect(&url)
            .await
            .unwrap()
            .with_clock(Arc::new(clock.clone()));
        TokenManager::new(Arc::new(store))
            .clock(Arc::new(clock.clone()))
            .ttl(Duration::from_secs(600))
            .sliding(Duration::from_secs(3600))
    };
    let (a, b) = (instance().await, instance().await);
    let issued = a.issue(&UserProfile::new("ada")).await.unwrap();
    assert_eq!(
        bearer(&b, &issued.token).await.0,
        200,
        "issued on A, used on B"
    );
    for _ in 0..3 {
        // Used on A only: B sees the renewed deadline.
        clock.advance(Duration::from_secs(500));
        assert_eq!(bearer(&a, &issued.token).await.0, 200);
    }
    clock.advance(Duration::from_secs(500));
    assert_eq!(
        bearer(&b, &issued.token).await.0,
        200,
        "1500 s after issue, renewed on A"
    );
    assert!(a.revoke("ada", &issued.record.id).await.unwrap());
    // B had it cached: refused once the published revocation arrives,
    // within the bound of 1 s (auth-token/tests/token_cache.rs).
    let start = std::time::Instant::now();
    while bearer(&b, &issued.token).await.0 == 200 {
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "revoked on A, still accepted on B"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(bearer(&b, &issued.token).await.0, 401, "revoked on A");
    assert!(b.get("ada", &issued.record.id).await.unwrap().is_none());
}
