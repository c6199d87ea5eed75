//! A [`MemoryStore`] that tests can watch and break, shared by the test
//! files that need one: it counts scans and reads, can act as a store
//! without sets or without scan (written before those existed), fails the
//! next `delete` (or `remove_member`) under a prefix once, and can play a
//! revocation landing between an API key's verification and the write of
//! its last use.
#![allow(dead_code)] // each test file uses part of it

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth_core::{Count, Entry, ManualClock, MemoryStore, StateStore, StoreError, Subscription};

pub(crate) struct TestStore {
    inner: MemoryStore,
    scans: AtomicUsize,
    pub(crate) gets: AtomicUsize,
    /// Set operations answer `Unsupported` while this is false.
    pub(crate) sets: AtomicBool,
    /// `scan` answers `Unsupported` while this is true.
    pub(crate) no_scan: AtomicBool,
    fail_delete: Mutex<Option<String>>,
    pub(crate) revoke_before_last_use: AtomicBool,
}

impl TestStore {
    pub(crate) fn new(clock: &ManualClock) -> Arc<Self> {
        Arc::new(TestStore {
            inner: MemoryStore::new().with_clock(Arc::new(clock.clone())),
            scans: AtomicUsize::new(0),
            gets: AtomicUsize::new(0),
            sets: AtomicBool::new(true),
            no_scan: AtomicBool::new(false),
            fail_delete: Mutex::new(None),
            revoke_before_last_use: AtomicBool::new(false),
        })
    }

    /// Scans since the last call.
    pub(crate) fn scans(&self) -> usize {
        self.scans.swap(0, Ordering::SeqCst)
    }

    /// The next `delete` of a key, or `remove_member` from a set, starting
    /// with `prefix` fails.
    pub(crate) fn fail_next_delete(&self, prefix: &str) {
        *self.fail_delete.lock().unwrap() = Some(prefix.to_owned());
    }

    fn maybe_fail(&self, key: &str) -> Result<(), StoreError> {
        let mut fail = self.fail_delete.lock().unwrap();
        if fail.as_deref().is_some_and(|p| key.starts_with(p)) {
            *fail = None;
            return Err(StoreError::Unavailable {
                message: "connection reset".into(),
                source: None,
            });
        }
        Ok(())
    }

    fn sets(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.sets.load(Ordering::SeqCst) {
            Ok(())
        } else {
            Err(StoreError::Unsupported { operation })
        }
    }
}

#[async_trait::async_trait]
impl StateStore for TestStore {
    async fn set_if_absent(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.inner.set_if_absent(key, value, ttl).await
    }
    async fn get(&self, key: &str) -> Result<Option<Entry>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(key).await
    }
    async fn take(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.take(key).await
    }
    async fn delete(&self, key: &str) -> Result<bool, StoreError> {
        self.maybe_fail(key)?;
        self.inner.delete(key).await
    }
    async fn increment(&self, key: &str, window: Duration) -> Result<Count, StoreError> {
        self.inner.increment(key, window).await
    }
    async fn raise(&self, key: &str, value: u64, ttl: Duration) -> Result<bool, StoreError> {
        if let Some(hash) = key.strip_prefix("apikey:u:")
            && self.revoke_before_last_use.swap(false, Ordering::SeqCst)
        {
            // Another instance revokes the key: record first, last use next.
            self.inner.delete(&format!("apikey:h:{hash}")).await?;
            self.inner.delete(key).await?;
        }
        self.inner.raise(key, value, ttl).await
    }
    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        self.inner.publish(channel, message).await
    }
    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        self.inner.subscribe(channel).await
    }
    async fn scan(&self, prefix: &str) -> Result<Vec<(String, Entry)>, StoreError> {
        if self.no_scan.load(Ordering::SeqCst) {
            return Err(StoreError::Unsupported { operation: "scan" });
        }
        self.scans.fetch_add(1, Ordering::SeqCst);
        self.inner.scan(prefix).await
    }
    async fn add_member(&self, key: &str, member: &str, ttl: Duration) -> Result<(), StoreError> {
        self.sets("add_member")?;
        self.inner.add_member(key, member, ttl).await
    }
    async fn members(&self, key: &str) -> Result<Vec<String>, StoreError> {
        self.sets("members")?;
        self.inner.members(key).await
    }
    async fn remove_member(&self, key: &str, member: &str) -> Result<bool, StoreError> {
        self.sets("remove_member")?;
        self.maybe_fail(key)?;
        self.inner.remove_member(key, member).await
    }
}
