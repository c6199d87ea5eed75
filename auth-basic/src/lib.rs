//! HTTP Basic (RFC 7617) and Digest (RFC 7616) authentication for the
//! actix-web authentication framework, with the `Authenticator`/`UserStore`
//! seam and user stores (memory, users.yml, SQLite/PostgreSQL).
//!
//! Password hashing and the verification cache live in `auth-password`, the
//! brute-force guard in `auth-core`, so that every strategy and login handler
//! can use them without this crate; they are re-exported here
//! ([`password`] is `auth-password`; [`BruteForceGuard`], [`GuardConfig`],
//! [`Attempt`], [`PasswordHasher`], [`VerificationCache`] at the root).
//!
//! # Getting started
//!
//! ```
//! use actix_web::{App, get};
//! use auth_basic::{BasicStrategy, MemoryUserStore, NewUser, PasswordAuthenticator};
//! use auth_basic::PasswordHasher;
//! use auth_core::{StrategyRegistry, UserProfile};
//! use auth_macros::authenticate;
//!
//! #[get("/admin")]
//! #[authenticate("basic")]
//! async fn admin(user: UserProfile) -> String {
//!     format!("hello {}", user.id)
//! }
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let hasher = PasswordHasher::default(); // argon2id, bounded pool of threads
//! let users = MemoryUserStore::new();
//! users.insert(NewUser::new("admin", hasher.hash("s3cret").await.unwrap()).with_roles(["admin"]));
//!
//! let basic = BasicStrategy::new("admin area", PasswordAuthenticator::new(users, hasher));
//! let registry = StrategyRegistry::builder().register(basic).build().unwrap();
//! let app = App::new().app_data(registry).service(admin);
//! # let _ = app;
//! # });
//! ```
//!
//! # Decisions where the specification is silent
//!
//! - A missing `Authorization` header or another scheme is "not mine" (the
//!   sequence answers 401 with every strategy's challenge); a Basic header
//!   that is malformed is a 400 with LoopBack's message for the case. The
//!   header is read by `auth-core`'s one parser
//!   ([`auth_core::Authorization`]): two `Authorization` headers are a 400
//!   whatever their schemes, and Digest parameters follow RFC 9110's quoting
//!   rules ([`DigestCredentials`]), a repeated parameter being a 400.
//! - The password may contain colons (RFC 7617 splits at the first colon);
//!   LoopBack rejects them, this crate does not.
//! - Several spaces between `Basic` and the token are accepted (RFC 9110
//!   `1*SP`); a second token is "too many parts".
//! - A wrong username and a wrong password get one 401 message,
//!   `Invalid username or password.`, code `INVALID_CREDENTIALS`.
//! - bcrypt passwords longer than 72 bytes never match (bcrypt would ignore
//!   the rest).
//! - Hashing is shed fairly: one client (the address the brute-force guard
//!   counts, trusted proxies applied) holds at most
//!   [`HasherConfig::per_client`] places
//!   of the pool (2 by default; the pool has `threads + queue`, 5 on 2 CPUs).
//!   One more request from it is refused at once with 429 + `Retry-After`
//!   and counted by the guard as a failure of that client (not of the
//!   username), so a client flooding wrong passwords over many connections
//!   reaches the guard's limit within its first burst while other clients
//!   keep their places and log in. A request shed because the whole pool is
//!   full, and a store outage, are 503s counted by nobody; malformed
//!   credentials (400) and wrong ones (401) count against the client and the
//!   username. The guard's own 429 is answered before any hashing and is not
//!   counted. Many addresses (a botnet, an IPv6 prefix) are many clients.
//! - While the guard's counter store is down, Basic and Digest follow the
//!   guard's [`GuardFailurePolicy`]: 503 + `Retry-After` (the default), or
//!   per-instance limits (`LocalFallback`). Digest's nonce counts fail closed
//!   (503) under either: a replay must never pass because a store is down.
//! - [`PasswordHasher::verifications`]
//!   counts verifications that ran; [`PasswordHasher::shed`]
//!   counts requests refused without running (503 or 429).
//! - The verification cache is bound to the stored hash: an entry holds an
//!   HMAC of username, stored PHC string and password, the store is read on
//!   every request (cached or not) and the entry matches only while the
//!   store's current hash is the one it was verified against (compared in
//!   constant time). A password changed by any means (the authenticator,
//!   `update_password_hash`, SQL from elsewhere, `auth-cli users passwd` and
//!   a reload) is refused from the next request on.
//! - A successful login clears the username's failure count, not the client
//!   address's (one valid account must not reset a guessing client).
//! - Without trusted proxies `X-Forwarded-For` is ignored; with them, the
//!   right-most entry that is not a trusted proxy is the client.
//! - Password hashes of unknown format in a store verify like an unknown user
//!   (dummy hash, 401) and log a warning.
//! - The users.yml store is read-only at run time (the CLI edits the file;
//!   call `reload`); plaintext passwords, when allowed, are hashed in memory
//!   at load so that they take the same verification path.
//! - SQL: roles are a JSON array in a text column; the table prefix allows
//!   several stores (or test runs) in one database; changing a password drops
//!   that user's stored Digest HA1 values.
//! - Digest: SHA-256 only by default. SHA-512-256 (`with_sha512_256`) and
//!   MD5 (`dangerously_allow_md5`) are opt-in per strategy; the challenges
//!   list exactly the enabled algorithms, strongest first. A response with
//!   an algorithm not enabled (an absent `algorithm` means MD5, RFC 7616
//!   §3.3) is a 401 `DIGEST_ALGORITHM_NOT_OFFERED` with fresh challenges.
//!   `qop=auth` only (no `auth-int`), no `-sess` algorithms; `stale=true`
//!   only when the response was right for the expired nonce; nonce counts
//!   live in a [`StateStore`](auth_core::StateStore) (in memory per
//!   instance unless [`DigestStrategy::with_store`] shares one), a count
//!   accepted only when greater than every count seen for its nonce.
//! - Digest `userhash` works with every store that can find a user by
//!   `H(username:realm)`: users.yml (a map computed at load) and SQL (an
//!   indexed column next to each HA1 value; see [`SqlUserStore`] for why).
//!
//! # Configuration files (feature `config`)
//!
//! `BasicFactory` (`type = "basic"`) and `DigestFactory` (`type = "digest"`)
//! build the strategies of a file for `StrategyRegistry::from_config`; every
//! key is in `docs/configuration.md`. Rules:
//!
//! - One `[guard]` and one `[password_hasher]` per application, at the top
//!   level: a factory and its twin (`BasicFactory::digest`) build one
//!   `BruteForceGuard` and one `PasswordHasher` per distinct table and give
//!   them to every strategy, so failures through Basic, Digest and the
//!   login handler (`BasicFactory::guard`) count against one budget, and
//!   hashing stays inside one bound (`BasicFactory::hasher`).
//! - The guard's counters and Digest's nonce counts live in the
//!   `StateStore` given to `BasicFactory::new` (a `MemoryStore` of the
//!   process with `default()`); give every instance the same store.
//! - Every strategy built from a file is guarded unless it says
//!   `dangerously_disable_guard = true`.
//! - Secrets are never written in the file: the Digest nonce key comes from
//!   `nonce_key_env` or `nonce_key_file` (exactly 32 bytes), a database URL
//!   with a password from `url_env` or `url_file`; `nonce_key = "..."` and a
//!   URL with `user:password@` or `?password=` are refused without echoing
//!   the value.
//! - MD5 is never listed in `algorithms` but enabled with
//!   `dangerously_allow_md5`; SHA-256 is always offered and must be listed.
//! - argon2id parameters below OWASP's minimum need
//!   `dangerously_weak_params`; plaintext users.yml passwords need
//!   `dangerously_allow_plaintext`.
//! - A store whose cargo feature is off (`file-store`, `sqlite`,
//!   `postgres`) is an error that names the feature. Stores are opened once
//!   per factory (one users.yml loaded for Basic and Digest, one pool per
//!   URL); `store = { provided = "NAME" }` names a store the application
//!   passed with `with_user_store`.
//! - Unknown keys are errors, and every error names the file (or the
//!   variable that set the value), the strategy and the field.
//!
//! # Cargo features
//!
//! | feature | default? | what it adds |
//! |---|---|---|
//! | `file-store` | yes | [`FileUserStore`]: users.yml (YAML) |
//! | `sqlite` | yes | [`SqlUserStore`] on SQLite (bundled, no system library) |
//! | `postgres` | yes | [`SqlUserStore`] on PostgreSQL (no TLS) |
//! | `bcrypt` | yes | verifying bcrypt hashes (auth-password's `bcrypt`) |
//! | `openapi` | no | `AuthenticationStrategy::security_scheme`: `http` `basic` and `http` `digest` (auth-core's `openapi`) |
//! | `config` | no | `BasicFactory` and `DigestFactory`: strategies from a TOML or YAML file (auth-core's `config`; keys in `docs/configuration.md`) |
//!
//! A users.yml-only application builds no sqlx:
//!
//! ```toml
//! auth-basic = { version = "0.1", default-features = false, features = ["file-store"] }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod authenticator;
mod basic;
#[cfg(feature = "config")]
mod config;
mod digest;
#[cfg(feature = "file-store")]
mod file;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod sql;
mod store;

/// Password hashing: the `auth-password` crate, re-exported so that
/// `auth_basic::password::PasswordHasher` keeps working.
pub use auth_password as password;

pub use auth_core::{Attempt, BruteForceGuard, GuardConfig, GuardFailurePolicy, TrustedProxy};
pub use auth_password::{
    HashError, HashParams, HasherConfig, PasswordHasher, Verification, VerificationCache,
};
pub use authenticator::{
    Authenticator, INVALID_CREDENTIALS_MESSAGE, PasswordAuthenticator, invalid_credentials,
};
pub use basic::{
    BasicCredentials, BasicStrategy, MSG_BAD_BASE64, MSG_CONTROL, MSG_NO_COLON, MSG_NOT_UTF8,
    MSG_TOO_MANY_PARTS, parse_basic,
};
#[cfg(feature = "config")]
#[cfg_attr(docsrs, doc(cfg(feature = "config")))]
pub use config::{BasicFactory, DigestFactory};
pub use digest::{
    ALGORITHM_NOT_OFFERED, DigestAlgorithm, DigestCredentials, DigestStrategy, STALE_NONCE, ha1,
    parse_params as parse_digest_params, response as digest_response, userhash,
};
#[cfg(feature = "file-store")]
#[cfg_attr(docsrs, doc(cfg(feature = "file-store")))]
pub use file::{FileStoreOptions, FileUser, FileUserStore, UsersFile};
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "sqlite", feature = "postgres"))))]
pub use sql::{SqlStoreOptions, SqlUserStore};
pub use store::{MemoryUserStore, NewUser, StoreError, UserRecord, UserStore};
