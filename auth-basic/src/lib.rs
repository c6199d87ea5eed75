//! HTTP Basic (RFC 7617) and Digest (RFC 7616) authentication for the
//! actix-web authentication framework, with password hashing (argon2id, bcrypt
//! verification), user stores (memory, users.yml, SQLite/PostgreSQL), a
//! verification cache and a brute-force guard.
//!
//! # Getting started
//!
//! ```
//! use actix_web::{App, get};
//! use auth_basic::{BasicStrategy, MemoryUserStore, NewUser, PasswordAuthenticator};
//! use auth_basic::password::PasswordHasher;
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
//!   that is malformed is a 400 with LoopBack's message for the case.
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
//!   [`HasherConfig::per_client`](password::HasherConfig::per_client) places
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
//! - [`PasswordHasher::verifications`](password::PasswordHasher::verifications)
//!   counts verifications that ran; [`PasswordHasher::shed`](password::PasswordHasher::shed)
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
//!   are tracked in memory per instance.
//! - Digest `userhash` works with every store that can find a user by
//!   `H(username:realm)`: users.yml (a map computed at load) and SQL (an
//!   indexed column next to each HA1 value; see [`sql`] for why).
//!
//! # Features
//!
//! | feature | default? | what |
//! |---|---|---|
//! | (none) | — | SQLite and PostgreSQL (no TLS) support are always compiled in |

pub mod authenticator;
pub mod basic;
pub mod cache;
pub mod cli;
pub mod digest;
pub mod file;
pub mod guard;
pub mod password;
pub mod sql;
pub mod store;

pub use authenticator::{Authenticator, PasswordAuthenticator, invalid_credentials};
pub use basic::{BasicCredentials, BasicStrategy};
pub use cache::VerificationCache;
pub use digest::DigestStrategy;
pub use file::{FileStoreOptions, FileUserStore};
pub use guard::{Attempt, BruteForceGuard, GuardConfig};
pub use sql::{SqlStoreOptions, SqlUserStore};
pub use store::{MemoryUserStore, NewUser, StoreError, UserRecord, UserStore};
