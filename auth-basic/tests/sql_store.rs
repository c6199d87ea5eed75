//! The SQL user store against SQLite (a temporary file) and PostgreSQL
//! (`AUTH_TEST_POSTGRES_URL`, started by `.ci/services.sh`).

mod common;

use common::hasher;

use auth_basic::{
    Authenticator, NewUser, PasswordAuthenticator, SqlStoreOptions, SqlUserStore, StoreError,
    UserStore, VerificationCache,
};
use auth_basic::{DigestAlgorithm, ha1};

async fn exercise(store: SqlUserStore) {
    let hasher = hasher();
    let created = store
        .create_user(
            NewUser::new("ada", hasher.hash("first £ pw").await.unwrap())
                .with_id("u-1")
                .with_roles(["admin", "user"]),
        )
        .await
        .unwrap();
    assert_eq!(created.id, "u-1");
    assert_eq!(
        store
            .create_user(NewUser::new("ada", "x"))
            .await
            .unwrap_err(),
        StoreError::Duplicate("ada".into())
    );
    assert!(matches!(
        store.create_user(NewUser::new("a:b", "x")).await,
        Err(StoreError::Invalid(_))
    ));
    let found = store.find_user("ada").await.unwrap().unwrap();
    assert_eq!(found.roles, vec!["admin", "user"]);
    assert_eq!(
        store.find_by_id("u-1").await.unwrap().unwrap().username,
        "ada"
    );
    assert!(store.find_user("nobody").await.unwrap().is_none());

    let cache = VerificationCache::new(std::time::Duration::from_secs(60));
    let auth = PasswordAuthenticator::new(store.clone(), hasher.clone()).with_cache(cache.clone());
    let profile = auth.authenticate("ada", "first £ pw").await.unwrap();
    assert_eq!(profile.id, "u-1");
    assert_eq!(profile.name.as_deref(), Some("ada"));
    assert!(profile.has_role("admin"));
    assert_eq!(
        auth.authenticate("ada", "wrong").await.unwrap_err().code(),
        "INVALID_CREDENTIALS"
    );

    // Digest HA1 values are kept per realm and dropped on a password change.
    let h = ha1(DigestAlgorithm::Sha256, "ada", "api", "first £ pw");
    store
        .set_digest_ha1("ada", "api", "SHA-256", &h)
        .await
        .unwrap();
    store
        .set_digest_ha1("ada", "api", "SHA-256", &h)
        .await
        .unwrap();
    assert_eq!(
        store.digest_ha1("ada", "api", "SHA-256").await.unwrap(),
        Some(h)
    );
    assert_eq!(
        store.digest_ha1("ada", "other", "SHA-256").await.unwrap(),
        None
    );

    auth.change_password("ada", "second pw").await.unwrap();
    assert!(auth.authenticate("ada", "first £ pw").await.is_err());
    assert!(auth.authenticate("ada", "second pw").await.is_ok());
    assert_eq!(
        store.digest_ha1("ada", "api", "SHA-256").await.unwrap(),
        None
    );
    assert_eq!(
        auth.change_password("nobody", "x")
            .await
            .unwrap_err()
            .status()
            .as_u16(),
        500
    );

    store.set_roles("ada", &["user".to_owned()]).await.unwrap();
    assert_eq!(
        store.find_user("ada").await.unwrap().unwrap().roles,
        vec!["user"]
    );

    // Migrations are idempotent.
    store.migrate().await.unwrap();

    store.delete_user("ada").await.unwrap();
    assert!(store.find_user("ada").await.unwrap().is_none());
    assert_eq!(
        store.delete_user("ada").await.unwrap_err(),
        StoreError::NotFound("ada".into())
    );
}

#[tokio::test]
async fn sqlite_file_is_created_with_its_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested-name.db");
    assert!(!path.exists());
    let store = SqlUserStore::sqlite(&path).await.unwrap();
    assert!(path.exists());
    exercise(store).await;
}

#[tokio::test]
async fn sqlite_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("users.db");
    {
        let store = SqlUserStore::sqlite(&path).await.unwrap();
        store
            .create_user(NewUser::new("bob", "$argon2id$x"))
            .await
            .unwrap();
        store.pool().close().await;
    }
    let store = SqlUserStore::sqlite(&path).await.unwrap();
    assert!(store.find_user("bob").await.unwrap().is_some());
}

#[tokio::test]
async fn bad_prefix_is_refused() {
    let err = SqlUserStore::connect_with(
        "sqlite::memory:",
        SqlStoreOptions {
            table_prefix: "x; DROP TABLE users".into(),
            ..SqlStoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Invalid(_)));
}

#[tokio::test]
async fn unreachable_database_is_a_503() {
    // Nothing listens on port 1.
    let err = SqlUserStore::connect_with(
        "postgres://nobody@127.0.0.1:1/none",
        SqlStoreOptions {
            acquire_timeout: std::time::Duration::from_millis(200),
            ..SqlStoreOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, StoreError::Backend(_)));
    assert_eq!(auth_core::AuthError::from(err).status().as_u16(), 503);
}

#[tokio::test]
async fn postgres_same_code_other_url() {
    let Some((store, _)) = common::postgres("pg").await else {
        return;
    };
    exercise(store.clone()).await;
    store.drop_tables().await.unwrap();
}

#[tokio::test]
async fn postgres_rehash_on_login_replaces_bcrypt() {
    let Some((store, _)) = common::postgres("rehash").await else {
        return;
    };
    let legacy = bcrypt_hash("legacy pw");
    store
        .create_user(NewUser::new("old", legacy.clone()))
        .await
        .unwrap();
    let auth = PasswordAuthenticator::new(store.clone(), hasher()).rehash_on_login(true);
    auth.authenticate("old", "legacy pw").await.unwrap();
    let now = store.find_user("old").await.unwrap().unwrap().password_hash;
    assert!(now.starts_with("$argon2id$"), "{now}");
    auth.authenticate("old", "legacy pw").await.unwrap();
    store.drop_tables().await.unwrap();
}

fn bcrypt_hash(pw: &str) -> String {
    // Cost 4: the minimum, fine for a test.
    bcrypt::hash(pw, 4).unwrap()
}
