//! HTTP Basic authentication (RFC 7617) for the actix-web authentication
//! framework, with password hashing, user stores and a brute-force guard.
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
//! - Shed hashing requests (queue full) and store outages are 503s and are not
//!   counted by the brute-force guard; malformed Basic headers are.
//!
//! # Features
//!
//! | feature | default? | what |
//! |---|---|---|
//! | (none yet) | | SQLite and PostgreSQL support are always compiled in |

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
pub use file::{FileStoreOptions, FileUserStore};
pub use guard::{Attempt, BruteForceGuard, GuardConfig};
pub use sql::{SqlStoreOptions, SqlUserStore};
pub use store::{MemoryUserStore, NewUser, StoreError, UserRecord, UserStore};
