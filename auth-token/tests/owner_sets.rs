//! A user's tokens and API keys are found through their set in the store
//! (`StateStore::members`), never by a scan of the whole store on the
//! request path; stores without sets fall back to the scan; API keys made
//! without their set (an earlier version) join it on a listing, looked for
//! at most once a day per owner.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use auth_core::{ManualClock, StoreError, UserProfile};
use auth_token::{ApiKeys, NewApiKey, TokenManager};
use common::TestStore;

const T0: u64 = 1_800_000_000_000;

fn with_sets(sets: bool, clock: &ManualClock) -> Arc<TestStore> {
    let store = TestStore::new(clock);
    store.sets.store(sets, Ordering::SeqCst);
    store
}

fn ids(records: &[auth_token::TokenRecord]) -> Vec<String> {
    records.iter().map(|r| r.id.clone()).collect()
}

/// Issuing (with its per-user cap), listing and revoking read the owner's
/// set: no scan. A store without sets gives the same answers by scanning.
#[actix_web::test]
async fn tokens_are_listed_and_capped_from_the_owners_set_without_a_scan() {
    for sets in [true, false] {
        let clock = ManualClock::new(T0);
        let store = with_sets(sets, &clock);
        let tokens = TokenManager::new(store.clone())
            .clock(Arc::new(clock.clone()))
            .max_per_user(3);
        let mut issued = Vec::new();
        for _ in 0..5 {
            issued.push(tokens.issue(&UserProfile::new("ada")).await.unwrap());
            // Oldest first is by issue time: one millisecond apart at least.
            clock.advance(Duration::from_millis(10));
        }
        // Another owner whose name starts with ada's.
        let other = tokens.issue(&UserProfile::new("ada:x")).await.unwrap();
        let held = tokens.list("ada").await.unwrap();
        // The cap kept the three newest; the two oldest were revoked.
        let newest: Vec<String> = issued[2..].iter().map(|t| t.record.id.clone()).collect();
        assert_eq!(ids(&held), newest, "sets: {sets}");
        for old in &issued[..2] {
            assert!(tokens.verify(&old.token).await.unwrap().is_none());
        }
        assert!(tokens.revoke("ada", &issued[3].record.id).await.unwrap());
        let held = tokens.list("ada").await.unwrap();
        assert_eq!(ids(&held), [newest[0].clone(), newest[2].clone()]);
        assert_eq!(ids(&tokens.list("ada:x").await.unwrap()), [other.record.id]);
        let scans = store.scans();
        if sets {
            assert_eq!(scans, 0, "the request path scanned the store");
        } else {
            // Every issue (its cap) and every listing.
            assert_eq!(scans, 5 + 1 + 3, "sets: {sets}");
        }
    }
}

fn new_key(owner: &str) -> NewApiKey {
    NewApiKey {
        owner: owner.into(),
        name: "ci".into(),
        roles: Vec::new(),
        scopes: Vec::new(),
        ttl: None,
    }
}

/// API keys made on a store without sets (an older version) are found on
/// a listing by one scan, and from the set afterwards; one made without its
/// set later (an instance still on the older version) is found the next
/// day.
#[actix_web::test]
async fn api_keys_made_before_the_sets_join_them_on_the_first_listing() {
    let clock = ManualClock::new(T0);
    let store = with_sets(false, &clock);
    let keys = ApiKeys::new(store.clone()).clock(Arc::new(clock.clone()));
    let (old_key, old) = keys.create(new_key("ada")).await.unwrap();
    let (_, other) = keys.create(new_key("ada:x")).await.unwrap();
    assert_eq!(keys.list("ada").await.unwrap()[0].id, old.id);
    store.scans();

    // The upgrade: the same store now has sets.
    store.sets.store(true, Ordering::SeqCst);
    let (_, new) = keys.create(new_key("ada")).await.unwrap();
    let mut listed: Vec<String> = keys
        .list("ada")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    listed.sort();
    let mut want = [old.id.clone(), new.id.clone()];
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(store.scans(), 1, "one scan, for the keys made before");
    for _ in 0..3 {
        assert_eq!(keys.list("ada").await.unwrap().len(), 2);
    }
    assert_eq!(keys.list("ada:x").await.unwrap()[0].id, other.id);
    assert_eq!(store.scans(), 1, "ada:x's own first listing only");
    keys.revoke("ada", &old.id).await.unwrap();
    assert!(keys.verify(&old_key).await.unwrap().is_none());
    let listed = keys.list("ada").await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, new.id);
    assert_eq!(store.scans(), 0);

    // During a rolling upgrade, an instance still on the older version
    // makes a key without adding it to the set.
    store.sets.store(false, Ordering::SeqCst);
    let (_, late) = keys.create(new_key("ada")).await.unwrap();
    store.sets.store(true, Ordering::SeqCst);
    assert_eq!(
        keys.list("ada").await.unwrap().len(),
        1,
        "looked for today already"
    );
    assert_eq!(store.scans(), 0);
    clock.advance(Duration::from_secs(24 * 3600 + 1));
    let ids: Vec<String> = keys
        .list("ada")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert!(ids.contains(&late.id), "{ids:?}");
    assert_eq!(ids.len(), 2);
    assert_eq!(store.scans(), 1);
    assert_eq!(keys.list("ada").await.unwrap().len(), 2);
    assert_eq!(store.scans(), 0);
}

/// A store with neither sets nor scan cannot list keys: an error, not an
/// empty list.
#[actix_web::test]
async fn a_store_that_can_neither_list_nor_scan_says_so() {
    let clock = ManualClock::new(T0);
    let store = with_sets(false, &clock);
    store.no_scan.store(true, Ordering::SeqCst);
    let keys = ApiKeys::new(store.clone()).clock(Arc::new(clock.clone()));
    keys.create(new_key("ada")).await.unwrap();
    assert!(matches!(
        keys.list("ada").await,
        Err(auth_token::ApiKeyError::Store(
            StoreError::Unsupported { .. }
        ))
    ));
    // With sets, the daily look outside them is skipped, not an error.
    store.sets.store(true, Ordering::SeqCst);
    keys.create(new_key("ada")).await.unwrap();
    assert_eq!(keys.list("ada").await.unwrap().len(), 1);
}
