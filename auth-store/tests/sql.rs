//! `SqlStore` on SQLite (a temporary file) and on a real PostgreSQL
//! (`AUTH_TEST_POSTGRES_URL`, started by .ci/services.sh; skipped without
//! it, except under `CI=true`).
#![cfg(all(feature = "sqlite", feature = "postgres"))]

mod common;

use std::sync::Arc;
use std::time::Duration;

use auth_core::{StateStore, StoreError};
use auth_store::SqlStore;
use auth_test_support::postgres_url;
use common::{contract, revocations_propagate};

/// A tag no earlier run used, so that rows left by one run (the database
/// outlives it) never meet the next.
fn tag(backend: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{backend}{nanos}")
}

async fn two(url: &str) -> (Arc<dyn StateStore>, Arc<dyn StateStore>) {
    (
        Arc::new(SqlStore::connect(url).await.unwrap()),
        Arc::new(SqlStore::connect(url).await.unwrap()),
    )
}

fn sqlite_url(dir: &tempfile::TempDir) -> String {
    format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    )
}

#[tokio::test]
async fn the_contract_holds_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(&sqlite_url(&dir)).await;
    contract(a, b, &tag("sqlite")).await;
}

#[tokio::test]
async fn the_contract_holds_on_postgresql() {
    let Some(url) = postgres_url() else { return };
    let (a, b) = two(&url).await;
    contract(a, b, &tag("pg")).await;
}

#[tokio::test]
async fn revocations_propagate_between_instances_on_postgresql_and_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = two(&sqlite_url(&dir)).await;
    let delays = revocations_propagate(a, b, &tag("sqlite"), 200, Duration::from_secs(5)).await;
    eprintln!(
        "revocation A -> B on SQLite (same process): p50 {:?}, p99 {:?}",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100]
    );
    let Some(url) = postgres_url() else { return };
    let (a, b) = two(&url).await;
    let delays = revocations_propagate(a, b, &tag("pg"), 1000, Duration::from_secs(5)).await;
    eprintln!(
        "revocation A -> B over PostgreSQL LISTEN/NOTIFY: p50 {:?}, p99 {:?}, max {:?}",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100],
        delays[delays.len() - 1]
    );
}

#[tokio::test]
async fn bad_urls_and_unreachable_databases_are_errors_not_panics() {
    for url in ["mysql://127.0.0.1/x", "redis://127.0.0.1", "", "sqlite"] {
        let err = SqlStore::connect(url).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Unsupported { .. }),
            "{url}: {err}"
        );
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("postgres://nobody:hunter2@127.0.0.1:{port}/db"),
        "sqlite:///nonexistent-dir/for/sure/state.db".to_owned(),
    ] {
        let err = SqlStore::connect(&url).await.unwrap_err();
        assert!(err.is_transient(), "{url}: {err}");
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}

#[tokio::test]
async fn a_value_that_is_not_a_counter_is_malformed_data() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqlStore::connect(&sqlite_url(&dir)).await.unwrap();
    assert!(
        store
            .set_if_absent("bytes", b"x", common::MINUTE)
            .await
            .unwrap()
    );
    let err = store.increment("bytes", common::MINUTE).await.unwrap_err();
    assert!(matches!(err, StoreError::Malformed { .. }), "{err}");
}
