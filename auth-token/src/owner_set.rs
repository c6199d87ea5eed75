//! The set of an owner's tokens or API keys in the store
//! (`StateStore::add_member`): what listings and the per-user cap read,
//! one round trip instead of a scan of the whole store. Shared by
//! [`TokenManager`](crate::TokenManager) and [`ApiKeys`](crate::ApiKeys).

use std::time::Duration;

use auth_core::{StateStore, StoreError};

/// One owner's set, under `key`.
pub(crate) struct OwnerSet<'a> {
    store: &'a dyn StateStore,
    key: String,
}

impl<'a> OwnerSet<'a> {
    pub(crate) fn new(store: &'a dyn StateStore, key: String) -> Self {
        OwnerSet { store, key }
    }

    /// Adds `hash` for `ttl`; nothing on a store without sets (listings
    /// then scan).
    pub(crate) async fn add(&self, hash: &str, ttl: Duration) -> Result<(), StoreError> {
        match self.store.add_member(&self.key, hash, ttl).await {
            Ok(()) | Err(StoreError::Unsupported { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The hashes in the set; `None` on a store without sets.
    pub(crate) async fn hashes(&self) -> Result<Option<Vec<String>>, StoreError> {
        match self.store.members(&self.key).await {
            Ok(hashes) => Ok(Some(hashes)),
            Err(StoreError::Unsupported { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes `hash` (a revocation: an error is the caller's).
    pub(crate) async fn remove(&self, hash: &str) -> Result<(), StoreError> {
        match self.store.remove_member(&self.key, hash).await {
            Ok(_) | Err(StoreError::Unsupported { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Removes the hash of a record found gone while listing (revoked while
    /// its membership stayed: a failure between the two); best effort.
    pub(crate) async fn forget(&self, hash: &str) {
        if let Err(e) = self.remove(hash).await {
            tracing::debug!(error = %e, "could not drop a revoked credential from its owner's set");
        }
    }
}
