//! A changed password takes effect on the next request, whatever changed it
//! (issue 18.2): the verification cache is bound to the stored hash, so the
//! old password is refused and the new one accepted, over the wire with
//! Basic, for the memory, SQLite, PostgreSQL and users.yml stores.

mod common;

use common::hasher;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::{
    BasicStrategy, MemoryUserStore, NewUser, PasswordAuthenticator, SqlUserStore, UserStore,
    VerificationCache,
};
use auth_basic::{DigestAlgorithm, FileStoreOptions, FileUserStore, HashParams, UsersFile};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_password::hash_password;

const OLD: &str = "old pässword";
const NEW: &str = "new password";

#[get("/whoami")]
#[authenticate("basic")]
async fn whoami(user: UserProfile) -> String {
    user.id.clone()
}

fn params() -> HashParams {
    HashParams::insecure_for_tests()
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", auth_test_support::basic_credentials(user, pass))
}

macro_rules! app {
    ($auth:expr) => {{
        let registry = StrategyRegistry::builder()
            .register(BasicStrategy::new("test", $auth))
            .build()
            .unwrap();
        at::init_service(App::new().app_data(registry).service(whoami)).await
    }};
}

async fn status<S>(app: &S, user: &str, pass: &str) -> StatusCode
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let req = at::TestRequest::get()
        .uri("/whoami")
        .peer_addr("192.0.2.10:5000".parse().unwrap())
        .insert_header(("Authorization", basic(user, pass)))
        .to_request();
    at::call_service(app, req).await.status()
}

/// The old password logs in twice, the second time from the cache (no
/// hash runs), then `change` runs; afterwards the old password is 401 on
/// its very next use and the new one 200 (then cached in turn).
macro_rules! old_password_stops_working {
    ($store:expr, $change:expr) => {{
        let store = $store;
        let h = hasher();
        let cache = VerificationCache::new(Duration::from_secs(3600));
        let auth = PasswordAuthenticator::from_arc(Arc::clone(&store), h.clone()).with_cache(cache);
        let app = app!(auth.clone());
        assert_eq!(status(&app, "ada", OLD).await, StatusCode::OK);
        let hashed = h.verifications();
        assert_eq!(status(&app, "ada", OLD).await, StatusCode::OK);
        assert_eq!(h.verifications(), hashed, "the second login is a cache hit");

        #[allow(clippy::redundant_closure_call)]
        ($change)(auth.clone(), Arc::clone(&store)).await;

        assert_eq!(status(&app, "ada", OLD).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&app, "ada", OLD).await, StatusCode::UNAUTHORIZED);
        assert_eq!(status(&app, "ada", NEW).await, StatusCode::OK);
        let hashed = h.verifications();
        assert_eq!(status(&app, "ada", NEW).await, StatusCode::OK);
        assert_eq!(h.verifications(), hashed, "the new password is cached");
        assert_eq!(status(&app, "ada", OLD).await, StatusCode::UNAUTHORIZED);
    }};
}

fn new_hash() -> String {
    hash_password(&params(), NEW).unwrap()
}

/// The change that writes the new hash straight into the store.
async fn update_directly<S: UserStore>(_: PasswordAuthenticator<S>, store: Arc<S>) {
    store
        .update_password_hash("ada", &new_hash())
        .await
        .unwrap();
}

async fn memory() -> Arc<MemoryUserStore> {
    let store = MemoryUserStore::new();
    store.insert(NewUser::new("ada", hash_password(&params(), OLD).unwrap()));
    Arc::new(store)
}

async fn sql(store: SqlUserStore) -> Arc<SqlUserStore> {
    store
        .create_user(NewUser::new("ada", hash_password(&params(), OLD).unwrap()))
        .await
        .unwrap();
    Arc::new(store)
}

/// The Digest algorithms `auth-cli` stores by default.
const STRONG: [DigestAlgorithm; 2] = [DigestAlgorithm::Sha512_256, DigestAlgorithm::Sha256];

fn users_file(dir: &tempfile::TempDir) -> std::path::PathBuf {
    let path = dir.path().join("users.yml");
    common::put_user(&path, "ada", &[], OLD, "api", &STRONG);
    path
}

#[actix_web::test]
async fn memory_store_updated_directly() {
    old_password_stops_working!(memory().await, update_directly);
}

#[actix_web::test]
async fn change_password_through_the_authenticator() {
    old_password_stops_working!(
        memory().await,
        |auth: PasswordAuthenticator<MemoryUserStore>, _| async move {
            auth.change_password("ada", NEW).await.unwrap();
        }
    );
}

#[actix_web::test]
async fn change_password_through_another_authenticator_with_its_own_cache() {
    // Another instance (its own cache) changes the password in the shared store.
    old_password_stops_working!(
        memory().await,
        |_, store: Arc<MemoryUserStore>| async move {
            let other = PasswordAuthenticator::from_arc(store, hasher())
                .with_cache(VerificationCache::new(Duration::from_secs(3600)));
            other.change_password("ada", NEW).await.unwrap();
        }
    );
}

#[actix_web::test]
async fn sqlite_store_updated_directly() {
    let dir = tempfile::tempdir().unwrap();
    let store = sql(SqlUserStore::sqlite(dir.path().join("u.db")).await.unwrap()).await;
    old_password_stops_working!(store, update_directly);
}

#[actix_web::test]
async fn sqlite_store_updated_by_another_process_with_plain_sql() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("u.db");
    let store = sql(SqlUserStore::sqlite(&path).await.unwrap()).await;
    old_password_stops_working!(store, |_, _| async move {
        // A second connection pool on the same file, as an admin tool would.
        let other = SqlUserStore::sqlite(&path).await.unwrap();
        sqlx::query("UPDATE users SET password_hash = $1 WHERE username = $2")
            .bind(new_hash())
            .bind("ada")
            .execute(other.pool())
            .await
            .unwrap();
    });
}

#[actix_web::test]
async fn sqlite_change_password() {
    let dir = tempfile::tempdir().unwrap();
    let store = sql(SqlUserStore::sqlite(dir.path().join("u.db")).await.unwrap()).await;
    old_password_stops_working!(
        store,
        |auth: PasswordAuthenticator<SqlUserStore>, _| async move {
            auth.change_password("ada", NEW).await.unwrap();
        }
    );
}

#[actix_web::test]
async fn postgres_store_updated_directly() {
    let Some((pg, _)) = common::postgres("pwchg").await else {
        return;
    };
    let store = sql(pg.clone()).await;
    old_password_stops_working!(store, update_directly);
    pg.drop_tables().await.unwrap();
}

#[actix_web::test]
async fn users_file_changed_as_the_cli_does_then_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = users_file(&dir);
    let store = Arc::new(FileUserStore::load(&path, FileStoreOptions::default()).unwrap());
    old_password_stops_working!(store, |_, store: Arc<FileUserStore>| {
        let path = path.clone();
        async move {
            // What `auth-cli users passwd --file users.yml ada` writes.
            common::put_user(&path, "ada", &[], NEW, "api", &STRONG);
            store.reload().unwrap();
        }
    });
}

#[actix_web::test]
async fn users_file_rewritten_by_hand_then_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let path = users_file(&dir);
    let store = Arc::new(FileUserStore::load(&path, FileStoreOptions::default()).unwrap());
    old_password_stops_working!(store, |_, store: Arc<FileUserStore>| {
        let path = path.clone();
        async move {
            let mut doc = UsersFile::read(&path).unwrap();
            doc.get_mut("ada").unwrap().password = new_hash();
            doc.write(&path).unwrap();
            store.reload().unwrap();
        }
    });
}

#[actix_web::test]
async fn rehash_on_login_keeps_the_login_cached() {
    // A login that replaces an outdated hash caches the new hash, so the next
    // request is a hit and no hash runs.
    let store = Arc::new(MemoryUserStore::new());
    store.insert(NewUser::new("ada", bcrypt::hash(OLD, 4).unwrap()));
    let h = hasher();
    let auth = PasswordAuthenticator::from_arc(Arc::clone(&store), h.clone())
        .rehash_on_login(true)
        .with_cache(VerificationCache::new(Duration::from_secs(3600)));
    let app = app!(auth);
    assert_eq!(status(&app, "ada", OLD).await, StatusCode::OK);
    let now = store.find_user("ada").await.unwrap().unwrap().password_hash;
    assert!(now.starts_with("$argon2id$"), "{now}");
    let hashed = h.verifications();
    assert_eq!(status(&app, "ada", OLD).await, StatusCode::OK);
    assert_eq!(h.verifications(), hashed);
}
