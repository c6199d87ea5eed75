//! The `jwt` strategy for the actix-web authentication framework: verifies
//! bearer JWTs (HS256/384/512, RS256/384/512, PS256/384/512, ES256/384/512,
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
//! # Algorithms
//!
//! Each key verifies (or signs with) exactly one algorithm, a
//! [`JwsAlgorithm`]; a token's `alg` header only has to agree with it.
//!
//! | `alg` | key | verified and signed by | PEM | JWK |
//! |---|---|---|---|---|
//! | HS256, HS384, HS512 | secret of at least 32/48/64 bytes | jsonwebtoken | — | `oct` with `alg` |
//! | RS256/384/512, PS256/384/512 | RSA, modulus ≥ 2048 bits | jsonwebtoken | SPKI or PKCS#1 public, PKCS#1/PKCS#8 private | `RSA` with `alg` (verification; sign with PEM) |
//! | ES256 | EC P-256 | jsonwebtoken | SPKI public, PKCS#8 private | `EC`, `crv: P-256` |
//! | ES384 | EC P-384 | jsonwebtoken | SPKI public, PKCS#8 private | `EC`, `crv: P-384` |
//! | ES512 | EC P-521 | this crate, with RustCrypto `p521` (jsonwebtoken has no ES512) | SPKI public, PKCS#8 private | `EC`, `crv: P-521`, `x`/`y` (and `d`) of exactly 66 bytes |
//! | EdDSA | Ed25519 | jsonwebtoken | SPKI public, PKCS#8 private | `OKP`, `crv: Ed25519` |
//!
//! `none` is never accepted, in any spelling. ES512 follows the same rules as
//! the others: the key pins it (an ES512 token never verifies with a P-256
//! key, nor an ES256 token with a P-521 key), its signature is exactly
//! R‖S in 132 bytes (RFC 7518 §3.4; DER, any other length, and R or S that
//! is zero or not below the group order are an invalid signature), and a
//! verified token goes through the same claim checks and verified-token
//! cache. S above n/2 is valid ECDSA and accepted, as for ES256/ES384 (other
//! implementations produce it half of the time). A P-521 JWK may omit `alg`
//! or say `ES512`; any other `alg` on it, or `ES512` on another key type, is
//! refused at load. `SigningKey` signs ES512 with a fresh random nonce from
//! the operating system (p521 0.13 offers no RFC 6979 for P-521).
//!
//! ```
//! use auth_jwt::{JwsAlgorithm, JwtKey, KeySet, verify_jws};
//! // RFC 7515 appendix A.4.
//! let jwk = r#"{"kty":"EC","crv":"P-521",
//!   "x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
//!   "y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}"#;
//! let key = JwtKey::from_jwk_json(jwk).unwrap();
//! assert_eq!(key.algorithm(), JwsAlgorithm::ES512);
//! let jws = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
//! let verified = verify_jws(jws, &KeySet::new([key]).unwrap(), 8192).unwrap();
//! assert_eq!(verified.payload, b"Payload");
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
//!   `alg` are refused at load rather than guessed; EC (P-256, P-384,
//!   P-521) and Ed25519 keys derive it from their curve.
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
