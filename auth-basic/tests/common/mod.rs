//! Shared by the store tests: a cheap hasher, the PostgreSQL URL and a
//! store on it with tables of its own.

#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};

use std::path::Path;

use auth_basic::{
    DigestAlgorithm, FileUser, HashParams, HasherConfig, PasswordHasher, SqlStoreOptions,
    SqlUserStore, UsersFile, ha1,
};
use auth_password::hash_password;

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
pub use auth_test_support::postgres_url;

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

/// Writes `user` with `password` to a users.yml file as `auth-cli users add`
/// and `users passwd` do: an argon2id hash (cheap test parameters) and the
/// Digest HA1 values of `realm` for `algorithms`, replacing the user (and
/// every older HA1 value) if present.
pub fn put_user(
    file: &Path,
    user: &str,
    roles: &[&str],
    password: &str,
    realm: &str,
    algorithms: &[DigestAlgorithm],
) {
    let mut doc = UsersFile::read(file).unwrap();
    doc.users.retain(|u| u.userid != user);
    let hash = hash_password(&HashParams::insecure_for_tests(), password).unwrap();
    let mut entry = FileUser::new(user, hash, roles.iter().map(|r| r.to_string()).collect());
    let values = entry.digest.entry(realm.to_owned()).or_default();
    for &alg in algorithms {
        values.insert(alg.as_str().to_owned(), ha1(alg, user, realm, password));
    }
    doc.users.push(entry);
    doc.write(file).unwrap();
}
