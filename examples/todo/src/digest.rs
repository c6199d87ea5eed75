//! The `digest` strategy (RFC 7616, SHA-256) on the same users as login and
//! Basic, for `GET /users/me`. Its nonces are MACed with a key derived from
//! the signing secret, so every instance sharing `JWT_SECRET` accepts the
//! nonces of the others; its nonce counts live in the shared state store,
//! so a count used on one instance is a replay on every other.

use std::sync::Arc;

use auth_basic::{DigestAlgorithm, DigestStrategy, SqlUserStore};
use auth_core::{BruteForceGuard, StateStore};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The Digest realm. HA1 values depend on it: changing it invalidates
/// every stored one.
pub const REALM: &str = "todo";

/// The algorithm offered and stored at sign-up.
pub const ALGORITHM: DigestAlgorithm = DigestAlgorithm::Sha256;

/// `HMAC-SHA256(secret, label)`: a key for nonces that is not the signing
/// key itself (one key, one purpose) yet is the same on every instance.
fn nonce_key(secret: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(b"todo: digest nonce key v1");
    mac.finalize().into_bytes().into()
}

/// The strategy: nonce counts in `state`, failures counted by `guard`.
pub fn strategy(
    secret: &[u8],
    users: Arc<SqlUserStore>,
    state: Arc<dyn StateStore>,
    guard: &BruteForceGuard,
) -> DigestStrategy {
    DigestStrategy::new(REALM, users)
        .with_key(nonce_key(secret))
        .with_store(state)
        .with_guard(guard.clone())
}

/// The HA1 stored at sign-up for `email` (the Digest username).
pub fn ha1(email: &str, password: &str) -> String {
    auth_basic::ha1(ALGORITHM, email, REALM, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nonce_key_depends_on_the_secret_and_is_not_the_secret() {
        let a = nonce_key(&[1; 32]);
        assert_eq!(a, nonce_key(&[1; 32]));
        assert_ne!(a, nonce_key(&[2; 32]));
        assert_ne!(a, [1; 32]);
    }
}
