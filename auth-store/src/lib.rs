//! Shared state for the actix-web authentication framework: backends of
//! auth-core's [`StateStore`](auth_core::StateStore) seam, so that several
//! instances of an application behind a load balancer act as one.
//!
//! What goes through the seam: refresh-token families (a token spent on one
//! instance is spent everywhere), brute-force counters (counted once across
//! instances), Digest nonce counts (a replay to another instance is still a
//! replay), and invalidations published to every instance.
//!
//! | feature | backend |
//! |---|---|
//! | `redis` | [`RedisStore`]: Redis ≥ 7.0 or Valkey, through the redis crate |
//! | `postgres` | [`SqlStore`] on PostgreSQL (notifications with `LISTEN`/`NOTIFY`) |
//! | `sqlite` | [`SqlStore`] on SQLite (one machine) |
//!
//! Why the redis crate (with its `ConnectionManager`) rather than fred or a
//! deadpool pool: every operation here is one short command, pipeline or
//! script, which a single multiplexed connection serves concurrently
//! without a pool; the redis crate's reconnecting manager, timeouts and
//! cached scripts (`EVALSHA` with an `EVAL` fallback) cover what the seam
//! needs with far fewer dependencies than fred, and pub/sub gets its own
//! connection, which [`RedisStore`] re-establishes itself.
//!
//! ```no_run
//! use std::sync::Arc;
//! use auth_core::StateStore;
//! use auth_store::{RedisOptions, RedisStore};
//!
//! # async fn run() -> Result<(), auth_core::StoreError> {
//! let shared: Arc<dyn StateStore> = Arc::new(
//!     RedisStore::connect(RedisOptions::new("redis://127.0.0.1:6379").prefix("todo:")).await?,
//! );
//! // Hand `shared` to the token service, the brute-force guard and Digest.
//! # let _ = shared; Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "redis")]
mod redis_store;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use redis_store::{RedisOptions, RedisStore};

#[cfg(any(feature = "postgres", feature = "sqlite"))]
mod sql_store;

#[cfg(any(feature = "postgres", feature = "sqlite"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "postgres", feature = "sqlite"))))]
pub use sql_store::SqlStore;
