//! Revoking tokens and API keys when the store fails part-way, ids that try
//! to reach another owner's index entry, and the lifetime of an API key's
//! last-use entry.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use auth_core::{ManualClock, StateStore, UserProfile};
use auth_token::{ApiKeyError, ApiKeys, NewApiKey, TokenManager};
use common::TestStore;

const T0: u64 = 1_800_000_000_000;

fn manager(store: &Arc<TestStore>, clock: &ManualClock) -> TokenManager {
    // No local cache: every verification reads the store, as another
    // instance's would.
    TokenManager::new(store.clone())
        .clock(Arc::new(clock.clone()))
        .cache(0, Duration::ZERO)
}

fn api_keys(store: &Arc<TestStore>, clock: &ManualClock) -> ApiKeys {
    ApiKeys::new(store.clone()).clock(Arc::new(clock.clone()))
}

fn new_key(owner: &str, ttl: Option<Duration>) -> NewApiKey {
    NewApiKey {
        owner: owner.into(),
        name: "ci".into(),
        roles: Vec::new(),
        scopes: Vec::new(),
        ttl,
    }
}

/// Whichever of its deletes fails, a revocation that answered an error
/// leaves the token either still listed (so a retry finds it) or already
/// dead, and the retry finishes: never a live token that nobody can list or
/// revoke again.
#[actix_web::test]
async fn a_token_revocation_that_fails_part_way_is_finished_by_a_retry() {
    for (failing, dead_after_failure, sliding) in [
        ("authtoken:h:", false, false),
        ("authtoken:h:", false, true),
        ("authtoken:x:", true, true),
        ("authtoken:s:", true, false),
        ("authtoken:o:", true, false),
        ("authtoken:o:", true, true),
    ] {
        let clock = ManualClock::new(T0);
        let store = TestStore::new(&clock);
        let mut tokens = manager(&store, &clock);
        if sliding {
            tokens = tokens.sliding(Duration::from_secs(3600));
        }
        let issued = tokens.issue(&UserProfile::new("ada")).await.unwrap();
        assert!(tokens.verify(&issued.token).await.unwrap().is_some());

        store.fail_next_delete(failing);
        assert!(
            tokens.revoke("ada", &issued.record.id).await.is_err(),
            "{failing}"
        );
        assert_eq!(
            tokens.verify(&issued.token).await.unwrap().is_none(),
            dead_after_failure,
            "{failing}"
        );
        // Still listed, so the owner sees it and can revoke it again.
        let listed = tokens.list("ada").await.unwrap();
        if !dead_after_failure {
            assert_eq!(listed.len(), 1, "{failing}");
        }

        assert!(
            tokens.revoke("ada", &issued.record.id).await.unwrap(),
            "{failing}: the retry finds the token"
        );
        assert!(tokens.verify(&issued.token).await.unwrap().is_none());
        assert!(tokens.list("ada").await.unwrap().is_empty());
        assert!(store.scan("authtoken:").await.unwrap().is_empty());
        assert!(store.members("authtoken:s:ada").await.unwrap().is_empty());
        assert!(!tokens.revoke("ada", &issued.record.id).await.unwrap());
    }
}

/// With the local cache on: once the record is deleted, the token leaves
/// the cache, whichever later step of the revocation fails.
#[actix_web::test]
async fn a_revocation_that_fails_after_the_record_still_ends_the_cached_token() {
    for (failing, sliding) in [
        ("authtoken:x:", true),
        ("authtoken:s:", false),
        ("authtoken:o:", false),
    ] {
        let clock = ManualClock::new(T0);
        let store = TestStore::new(&clock);
        let mut tokens = TokenManager::new(store.clone()).clock(Arc::new(clock.clone()));
        if sliding {
            tokens = tokens.sliding(Duration::from_secs(3600));
        }
        let issued = tokens.issue(&UserProfile::new("ada")).await.unwrap();
        assert!(tokens.verify(&issued.token).await.unwrap().is_some());
        // Served from the cache now: no store read.
        let reads = store.gets.load(Ordering::SeqCst);
        assert!(tokens.verify(&issued.token).await.unwrap().is_some());
        assert_eq!(
            store.gets.load(Ordering::SeqCst),
            reads,
            "{failing}: cached"
        );

        store.fail_next_delete(failing);
        assert!(
            tokens.revoke("ada", &issued.record.id).await.is_err(),
            "{failing}"
        );
        assert!(
            tokens.verify(&issued.token).await.unwrap().is_none(),
            "{failing}: still served from the cache"
        );
    }
}

#[actix_web::test]
async fn an_api_key_revocation_that_fails_part_way_is_finished_by_a_retry() {
    for (failing, dead_after_failure) in [
        ("apikey:h:", false),
        ("apikey:u:", true),
        ("apikey:s:", true),
        ("apikey:o:", true),
    ] {
        let clock = ManualClock::new(T0);
        let store = TestStore::new(&clock);
        let keys = api_keys(&store, &clock);
        let (key, record) = keys.create(new_key("ada", None)).await.unwrap();
        assert!(keys.verify(&key).await.unwrap().is_some());

        store.fail_next_delete(failing);
        assert!(keys.revoke("ada", &record.id).await.is_err(), "{failing}");
        assert_eq!(
            keys.verify(&key).await.unwrap().is_none(),
            dead_after_failure,
            "{failing}"
        );
        assert_eq!(
            keys.list("ada").await.unwrap().len(),
            usize::from(!dead_after_failure),
            "{failing}"
        );

        keys.revoke("ada", &record.id).await.unwrap();
        assert!(keys.verify(&key).await.unwrap().is_none());
        // Nothing left but the note that ada's keys were looked for today.
        let left: Vec<String> = store
            .scan("apikey:")
            .await
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        assert_eq!(left, ["apikey:m:ada"], "{failing}");
        assert!(store.members("apikey:s:ada").await.unwrap().is_empty());
        assert!(matches!(
            keys.revoke("ada", &record.id).await,
            Err(ApiKeyError::NotFound)
        ));
    }
}

/// The owner index is keyed `OWNER:ID`. An id with a `:` (or anything an
/// id is not made of) names nothing: not another owner's token or key.
#[actix_web::test]
async fn an_id_cannot_reach_another_owners_token_or_key() {
    let clock = ManualClock::new(T0);
    let store = TestStore::new(&clock);
    let tokens = manager(&store, &clock);
    let keys = api_keys(&store, &clock);
    let issued = tokens.issue(&UserProfile::new("oidc:ada")).await.unwrap();
    let (key, record) = keys.create(new_key("oidc:ada", None)).await.unwrap();
    let token_id = &issued.record.id;
    for (owner, id) in [
        ("oidc", format!("ada:{token_id}")),
        ("oidc:", format!(":{token_id}")),
        ("oidc:ada", format!("{token_id}:")),
        ("oidc:ada", format!("{token_id}*")),
        ("oidc:ada", String::new()),
    ] {
        assert!(
            tokens.get(owner, &id).await.unwrap().is_none(),
            "{owner} {id}"
        );
        assert!(!tokens.revoke(owner, &id).await.unwrap(), "{owner} {id}");
    }
    let key_id = &record.id;
    for (owner, id) in [
        ("oidc", format!("ada:{key_id}")),
        ("oidc:", format!(":{key_id}")),
        ("oidc:ada", format!("{key_id}:")),
        ("oidc:ada", format!("{key_id}%")),
    ] {
        assert!(
            matches!(keys.last_used(owner, &id).await, Err(ApiKeyError::NotFound)),
            "{owner} {id}"
        );
        assert!(
            matches!(keys.revoke(owner, &id).await, Err(ApiKeyError::NotFound)),
            "{owner} {id}"
        );
    }
    // Both still live, and their owner reaches them by their own ids.
    assert!(tokens.verify(&issued.token).await.unwrap().is_some());
    assert!(keys.verify(&key).await.unwrap().is_some());
    assert!(tokens.get("oidc:ada", token_id).await.unwrap().is_some());
    assert!(tokens.revoke("oidc:ada", token_id).await.unwrap());
    keys.revoke("oidc:ada", key_id).await.unwrap();
    assert!(keys.verify(&key).await.unwrap().is_none());
}

/// An API key's last use is kept as long as the key, not ten years; a
/// revocation that lands between a verification and that write does not
/// leave the entry behind.
#[actix_web::test]
async fn an_api_keys_last_use_lives_no_longer_than_the_key() {
    let clock = ManualClock::new(T0);
    let store = TestStore::new(&clock);
    let keys = api_keys(&store, &clock);
    let (key, record) = keys
        .create(new_key("ada", Some(Duration::from_secs(60))))
        .await
        .unwrap();
    assert!(keys.verify(&key).await.unwrap().is_some());
    let used = store.scan("apikey:u:").await.unwrap();
    assert_eq!(used.len(), 1);
    assert!(
        used[0].1.ttl <= Duration::from_secs(60),
        "{:?}",
        used[0].1.ttl
    );
    assert_eq!(
        keys.last_used("ada", &record.id).await.unwrap(),
        Some(T0 / 1000)
    );
    clock.advance(Duration::from_secs(61));
    assert!(keys.verify(&key).await.unwrap().is_none());
    assert!(store.scan("apikey:").await.unwrap().is_empty());

    // A key without expiry, revoked elsewhere just after it was verified.
    let (key, _) = keys.create(new_key("bob", None)).await.unwrap();
    store.revoke_before_last_use.store(true, Ordering::SeqCst);
    assert!(keys.verify(&key).await.unwrap().is_some());
    assert!(!store.revoke_before_last_use.load(Ordering::SeqCst));
    assert!(
        store.scan("apikey:u:").await.unwrap().is_empty(),
        "the last use of a revoked key is not kept"
    );
}
