//! The `jwt` strategy for the actix-web authentication framework.

mod cache;
mod issue;
mod jwks;
mod key;
mod strategy;
mod verify;

pub use issue::{
    IssueError, KIND_CLAIM, MemoryRefreshStore, RefreshRecord, RefreshStore, RefreshUse,
    TokenResponse, TokenService,
};
pub use jsonwebtoken::Algorithm;
pub use jwks::{HttpFetcher, JwksFetcher, JwksKeys};
pub use key::{JwtKey, KeyError, KeySet, MIN_RSA_BITS, SigningKey};
pub use strategy::{
    ExtraVerifier, JwtConfigError, JwtStrategy, JwtStrategyBuilder, TokenSource, to_auth_error,
    token_from_ws_message,
};
pub use verify::{
    ClaimRules, Clock, DEFAULT_MAX_TOKEN_LEN, VerifiedJws, VerifiedToken, VerifyError, verify_jws,
    verify_jwt,
};

/// Installs this crate's jsonwebtoken crypto backend as the process default,
/// unless one is installed already.
///
/// jsonwebtoken panics on first use when it cannot tell which backend to use
/// (both features on through feature unification, or none installed). Every
/// constructor of this crate calls this, so verification can never panic at
/// request time; applications may call it early too.
pub fn ensure_crypto_provider() {
    #[cfg(feature = "aws-lc-rs")]
    let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
    #[cfg(not(feature = "aws-lc-rs"))]
    let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
}
