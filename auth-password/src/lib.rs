//! Password hashing for the actix-web authentication framework, usable by
//! any strategy and by login handlers: argon2id PHC strings by default,
//! bcrypt verified (and marked for rehash) for migration, a bounded pool of
//! hashing threads that sheds load fairly per client, and an opt-in cache of
//! successful verifications bound to the stored hash.
//!
//! # Getting started
//!
//! ```
//! use auth_password::{HashParams, HasherConfig, PasswordHasher, Verification};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! // argon2id off the async workers, with a bound on concurrent hashes.
//! let hasher = PasswordHasher::new(HasherConfig {
//!     params: HashParams::insecure_for_tests(), // HashParams::default() in production
//!     ..HasherConfig::default()
//! });
//! let stored = hasher.hash("correct horse").await.unwrap();
//! assert!(stored.starts_with("$argon2id$"));
//! let verdict = hasher.verify("correct horse", Some(&stored)).await.unwrap();
//! assert_eq!(verdict, Verification::Match { needs_rehash: false });
//! assert_eq!(hasher.verify("wrong", Some(&stored)).await.unwrap(), Verification::Mismatch);
//! # });
//! ```
//!
//! The Basic and Digest strategies (auth-basic) use this crate through their
//! `PasswordAuthenticator`; a JSON login handler can use it directly, with
//! the brute-force guard of auth-core
//! ([`BruteForceGuard`](auth_core::BruteForceGuard)) in front, and
//! [`PasswordHasher::verify_for`] passing the client address the guard
//! counts so that one client holds only its share of the pool.
//!
//! # Rules
//!
//! - Hashes are PHC strings; new ones are argon2id with
//!   [`HashParams::default`] (OWASP's minimum: 19 MiB, 2 passes).
//! - A verification runs on the pool's threads, never on an async worker;
//!   a full pool answers 503 with `Retry-After` at once (never queues
//!   unboundedly), and one client over its share gets 429.
//! - Both libraries compare derived hashes in constant time; an unknown
//!   hash format is [`HashError::UnknownFormat`], which callers treat like
//!   an unknown user (a dummy verification, 401).
//! - bcrypt passwords longer than 72 bytes never match (bcrypt would ignore
//!   the rest).
//!
//! # Cargo features
//!
//! | feature | default? | what it adds |
//! |---|---|---|
//! | `bcrypt` | yes | verifying bcrypt hashes (`$2a$`, `$2b$`, `$2x$`, `$2y$`), always marked for rehash; without it they are an unknown format |
#![cfg_attr(docsrs, feature(doc_cfg))]

mod cache;
mod hash;

pub use cache::VerificationCache;
pub use hash::{
    HashError, HashParams, HasherConfig, PasswordHasher, Verification, hash_password, needs_rehash,
    verify_password,
};
