//! Shared by the store tests: a cheap hasher, the PostgreSQL URL and a
//! store on it with tables of its own.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};

use auth_basic::password::{HashParams, HasherConfig, PasswordHasher};
use auth_basic::{SqlStoreOptions, SqlUserStore};

/// A hasher with the cheap test parameters, one thread, a queue of 8.
pub fn hasher() -> PasswordHasher {
    PasswordHasher::new(HasherConfig {
        params: HashParams::insecure_for_tests(),
        threads: 1,
        queue: 8,
        ..HasherConfig::default()
    })
}

/// The PostgreSQL URL, or `None` (with a message) outside CI. In CI a missing
/// URL is a failure, so the PostgreSQL path is never skipped silently.
pub fn postgres_url() -> Option<String> {
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but AUTH_TEST_POSTGRES_URL is not set: source .ci/services.sh")
        }
        _ => {
            eprintln!("skipping PostgreSQL test: AUTH_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A table prefix no other test (or concurrent run) uses.
pub fn unique_prefix(test: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "t{}_{}_{}_",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        test
    )
}

/// A PostgreSQL store whose tables carry a prefix of their own (returned
/// with it), or `None` outside CI when no URL is set.
pub async fn postgres(test: &str) -> Option<(SqlUserStore, String)> {
    let url = postgres_url()?;
    let prefix = unique_prefix(test);
    let options = SqlStoreOptions {
        table_prefix: prefix.clone(),
        max_connections: 2,
        ..SqlStoreOptions::default()
    };
    Some((
        SqlUserStore::connect_with(&url, options).await.unwrap(),
        prefix,
    ))
}
