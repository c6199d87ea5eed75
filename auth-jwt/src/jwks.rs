//! Keys from a JWK Set URL.

use std::sync::Arc;

use crate::key::KeySet;
use crate::verify::VerifyError;

/// Keys fetched from a JWK Set URL (work in progress).
#[derive(Debug)]
pub struct JwksKeys {
    current: std::sync::RwLock<Option<Arc<KeySet>>>,
}

impl JwksKeys {
    pub(crate) async fn keys_for(
        &self,
        _kid: Option<&str>,
    ) -> Result<(Arc<KeySet>, bool), VerifyError> {
        let cur = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        cur.map(|k| (k, false)).ok_or(VerifyError::KeysUnavailable)
    }

    pub(crate) async fn refresh_for_unknown_kid(&self, _kid: &str) -> Option<Arc<KeySet>> {
        None
    }
}
