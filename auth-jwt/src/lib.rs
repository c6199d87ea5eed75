//! The `jwt` strategy for the actix-web authentication framework: verifies
//! bearer JWTs (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384,
//! EdDSA) against pinned keys, maps claims to a [`auth_core::UserProfile`],
//! and issues access and refresh tokens with [`TokenService`].
//!
//! # Getting started
//!
//! ```
//! use actix_web::{get, App, HttpResponse};
//! use auth_core::{StrategyRegistry, UserProfile};
//! use auth_jwt::{Algorithm, JwtKey, JwtStrategy, SigningKey, TokenService};
//!
//! #[get("/todos")]
//! #[auth_macros::authenticate("jwt")]
//! async fn todos(user: UserProfile) -> HttpResponse {
//!     HttpResponse::Ok().body(user.id)
//! }
//!
//! let secret = b"load me from the environment, 32+ bytes";
//! let strategy = JwtStrategy::builder()
//!     .key(JwtKey::hmac(secret, Algorithm::HS256).unwrap())
//!     .issuer("todo")
//!     .roles_claim("realm_access.roles")
//!     .build()
//!     .unwrap();
//! let tokens = TokenService::new(SigningKey::hmac(secret, Algorithm::HS256).unwrap())
//!     .issuer("todo")
//!     .roles_claim("realm_access.roles");
//! let registry = StrategyRegistry::builder().register(strategy).build().unwrap();
//! let app = App::new().app_data(registry).app_data(actix_web::web::Data::new(tokens)).service(todos);
//! # let _ = app;
//! ```
//!
//! # Cargo features
//!
//! | feature | default? | what |
//! |---|---|---|
//! | `aws-lc-rs` | no | aws-lc-rs instead of RustCrypto for signatures (faster RSA) and for the JWK Set client's TLS (instead of ring) |
//!
//! # Decisions where the specification is silent
//!
//! - The algorithm always comes from the key: a JWK's `alg`, or the
//!   algorithm passed with a secret or PEM. RSA and `oct` JWKs without
//!   `alg` are refused at load rather than guessed; EC and Ed25519 keys
//!   derive it from their curve.
//! - `crit` is rejected whenever present (no extension is implemented).
//! - Default leeway 30 s; default size limit 8 KiB; `exp` required.
//! - Token sources default to `Authorization: Bearer` only. The WebSocket
//!   protocol source reads the entry after a marker entry (e.g.
//!   `Sec-WebSocket-Protocol: access_token, <jwt>`).
//! - Profile: `id` from `sub` (configurable), `name` from `name` or
//!   `preferred_username`, `email`, roles from `roles` (dot path
//!   configurable), scopes from `scope` then `scp`; `"kind": "service"`
//!   marks a service principal. On-behalf-of service tokens name the user
//!   and carry the service in `act.sub` (RFC 8693).
//! - Refresh tokens are opaque random strings; only their SHA-256 is stored.
//! - The verified-token cache evicts an arbitrary entry when full and is
//!   emptied on every key change; the extra verifier runs on cache hits too.
//! - A JWK Set URL must be `https`, except for loopback hosts.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod cache;
mod es512;
mod issue;
mod jwks;
mod key;
mod strategy;
mod verify;

pub use algorithm::{JwsAlgorithm, ParseAlgorithmError};
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
/// Costs one atomic load after the first call, so the verification and
/// signing functions call it on every use: a caller that reaches
/// [`verify_jwt`] without any constructor of this crate is covered too.
pub fn ensure_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        #[cfg(feature = "aws-lc-rs")]
        let _ = jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.install_default();
        #[cfg(not(feature = "aws-lc-rs"))]
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
    });
}
