//! An API-key strategy, written the way a strategy author outside this
//! project would write one: it depends only on `auth-core`'s public API.
//!
//! Keys look like `ak_<id>_<secret>`. The `id` is public and selects the
//! record; only a SHA-256 digest of the secret is stored, and the digest of a
//! presented secret is compared in constant time. The guide in
//! `docs/custom-strategy.md` walks through this file.
//!
//! ```
//! use custom_strategy::{ApiKeyStore, ApiKeyStrategy};
//! use auth_core::{StrategyRegistry, UserProfile};
//!
//! let mut store = ApiKeyStore::new();
//! let key = store.issue(UserProfile::new("reporting-bot").with_roles(["reader"]));
//! assert!(key.starts_with("ak_"));
//! let registry = StrategyRegistry::builder()
//!     .register(ApiKeyStrategy::new(store))
//!     .build()
//!     .unwrap();
//! # let _ = registry;
//! ```

use std::collections::HashMap;

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, CredentialsData, StrategyOptions,
    UserProfile, async_trait, credentials_for,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The header an API key may be sent in (besides `Authorization: ApiKey <key>`).
pub const API_KEY_HEADER: &str = "x-api-key";

/// API keys are long random strings, not passwords: a fast hash is enough to
/// keep a leaked store from revealing usable keys, and an expensive one
/// (argon2) would only slow every request down.
fn digest(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// Issued keys: `id → (SHA-256 of the secret, profile)`.
#[derive(Debug, Default, Clone)]
pub struct ApiKeyStore {
    keys: HashMap<String, ([u8; 32], UserProfile)>,
}

impl ApiKeyStore {
    /// An empty store.
    pub fn new() -> Self {
        ApiKeyStore::default()
    }

    /// Issues a new key for `profile` and returns it. The key is shown once;
    /// only its digest is kept.
    pub fn issue(&mut self, profile: UserProfile) -> String {
        let mut raw = [0u8; 9];
        rand::rngs::OsRng.fill_bytes(&mut raw);
        let id = URL_SAFE_NO_PAD.encode(raw).replace(['-', '_'], "x");
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let secret = URL_SAFE_NO_PAD.encode(secret);
        self.keys.insert(id.clone(), (digest(&secret), profile));
        format!("ak_{id}_{secret}")
    }

    /// Revokes the key with this id.
    pub fn revoke(&mut self, id: &str) -> bool {
        self.keys.remove(id).is_some()
    }

    /// The profile for `key`, or `None` when it is unknown or wrong.
    ///
    /// An unknown id costs the same as a wrong secret: both hash the presented
    /// secret and compare it with a stored digest.
    pub fn verify(&self, key: &str) -> Option<&UserProfile> {
        let (id, secret) = split_key(key)?;
        const UNKNOWN: [u8; 32] = [0u8; 32];
        let (stored, profile) = match self.keys.get(id) {
            Some((stored, profile)) => (stored, Some(profile)),
            None => (&UNKNOWN, None),
        };
        let matches: bool = digest(secret).ct_eq(stored).into();
        profile.filter(|_| matches)
    }
}

/// Splits `ak_<id>_<secret>`; `None` when the key does not have that shape.
fn split_key(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix("ak_")?;
    let (id, secret) = rest.split_once('_')?;
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// The strategy: registered as `"api-key"`, used with `#[authenticate("api-key")]`.
#[derive(Debug)]
pub struct ApiKeyStrategy {
    store: ApiKeyStore,
    realm: String,
}

impl ApiKeyStrategy {
    /// A strategy that checks keys against `store`.
    pub fn new(store: ApiKeyStore) -> Self {
        ApiKeyStrategy {
            store,
            realm: "api".to_owned(),
        }
    }

    /// Sets the realm named in the challenge.
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// The presented key: `X-API-Key`, or `Authorization: ApiKey <key>`.
    /// `Ok(None)` when neither is present (not our request); an error when the
    /// key is sent twice or is not text.
    fn presented<'r>(&self, req: &'r HttpRequest) -> Result<Option<&'r str>, AuthError> {
        let from_header = req.headers().get(API_KEY_HEADER);
        // auth-core's one `Authorization` parser: scheme case-insensitive,
        // several `Authorization` headers refused (400), the key a token68.
        let from_authorization = match credentials_for(req, "apikey")? {
            None => None,
            Some(creds) => match creds.data() {
                CredentialsData::Token68(key) => Some(*key),
                CredentialsData::Empty => Some(""),
                _ => {
                    return Err(AuthError::invalid_request(
                        "send the API key as 'Authorization: ApiKey <key>'",
                    ));
                }
            },
        };
        match (from_header, from_authorization) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(AuthError::invalid_request(
                "send the API key in one place only",
            )),
            (Some(value), None) => value
                .to_str()
                .map(Some)
                .map_err(|_| AuthError::invalid_request("the API key must be visible ASCII")),
            (None, Some(key)) => Ok(Some(key)),
        }
    }
}

#[async_trait(?Send)]
impl AuthenticationStrategy for ApiKeyStrategy {
    fn name(&self) -> &str {
        "api-key"
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(key) = self.presented(req)? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        if key.is_empty() {
            return Err(AuthError::invalid_request("the API key is empty"));
        }
        match self.store.verify(key) {
            Some(profile) => Ok(AuthOutcome::Authenticated(profile.clone())),
            // One message for every bad key: do not tell an attacker which part was wrong.
            None => Err(AuthError::invalid_credentials(
                "INVALID_API_KEY",
                "the API key is not valid",
            )),
        }
    }

    fn challenge(&self, _failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::new("ApiKey").param("realm", self.realm.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_keys_verify_and_others_do_not() {
        let mut store = ApiKeyStore::new();
        let key = store.issue(UserProfile::new("bot"));
        assert_eq!(store.verify(&key).map(|p| p.id.as_str()), Some("bot"));
        let (id, secret) = split_key(&key).unwrap();
        let mut wrong = secret.to_owned();
        wrong.replace_range(0..1, if secret.starts_with('A') { "B" } else { "A" });
        assert!(store.verify(&format!("ak_{id}_{wrong}")).is_none());
        assert!(store.verify(&format!("ak_unknown_{secret}")).is_none());
        assert!(store.verify("not-a-key").is_none());
        assert!(store.verify("ak__").is_none());
        assert!(store.revoke(id));
        assert!(store.verify(&key).is_none());
    }

    #[test]
    fn only_digests_are_stored() {
        let mut store = ApiKeyStore::new();
        let key = store.issue(UserProfile::new("bot"));
        let (_, secret) = split_key(&key).unwrap();
        let dump = format!("{store:?}");
        assert!(!dump.contains(secret));
    }
}
