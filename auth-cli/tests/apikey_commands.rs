//! `apikey create|list|revoke`, run as the real binary against the SQL state
//! store an application reads its keys from (SQLite here; PostgreSQL too when
//! `AUTH_TEST_POSTGRES_URL` is set, required under `CI=true`).
#![cfg(feature = "apikey")]

mod common;

use std::sync::Arc;

use auth_store::SqlStore;
use auth_token::ApiKeys;

fn run(args: &[&str]) -> std::process::Output {
    common::run_cli(args, b"")
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn postgres_url() -> Option<String> {
    match std::env::var("AUTH_TEST_POSTGRES_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("CI=true but AUTH_TEST_POSTGRES_URL is not set: source .ci/services.sh")
        }
        Err(_) => {
            eprintln!("skipped PostgreSQL: AUTH_TEST_POSTGRES_URL is not set");
            None
        }
    }
}

/// A fresh owner per run: PostgreSQL's state table is shared by test runs.
fn owner() -> String {
    format!("cli-{}", rand::random::<u64>())
}

/// What the application sees: the same store and prefix.
async fn app_keys(url: &str, prefix: &str) -> ApiKeys {
    ApiKeys::new(Arc::new(SqlStore::connect(url).await.unwrap()))
        .with_prefix(prefix.to_owned())
        .unwrap()
}

async fn create_list_revoke(url: &str) {
    let owner = owner();
    let out = run(&[
        "apikey",
        "create",
        "--database-url",
        url,
        "--prefix",
        "todo_",
        "--owner",
        &owner,
        "--name",
        "CI deploy",
        "--role",
        "deployer",
        "--scope",
        "todos:read",
        "--scope",
        "todos:write",
        "--expires-in",
        "30d",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = String::from_utf8(out.stdout.clone())
        .unwrap()
        .trim()
        .to_owned();
    assert!(key.starts_with("todo_"), "{key}");
    assert!(!stderr(&out).contains(&key), "the key is on stdout only");

    // The application accepts it with what the command gave it.
    let keys = app_keys(url, "todo_").await;
    let record = keys.verify(&key).await.unwrap().expect("the new key works");
    assert_eq!(record.owner, owner);
    assert_eq!(record.name, "CI deploy");
    assert_eq!(record.roles, ["deployer"]);
    assert_eq!(record.scopes, ["todos:read", "todos:write"]);
    let expires = record.expires_at.expect("an expiry") - record.created_at;
    assert_eq!(expires, 30 * 86_400);

    // list: the record and its last use, never the key.
    let out = run(&[
        "apikey",
        "list",
        "--database-url",
        url,
        "--prefix",
        "todo_",
        "--owner",
        &owner,
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        !text.contains(&key[5..]),
        "list shows no key material: {text}"
    );
    let listed: serde_json::Value = serde_json::from_str(&text).unwrap();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{text}");
    assert_eq!(rows[0]["id"], record.id.as_str());
    assert_eq!(rows[0]["name"], "CI deploy");
    assert!(rows[0]["lastUsedAt"].is_string(), "verified once: {text}");
    let table = run(&[
        "apikey",
        "list",
        "--database-url",
        url,
        "--prefix",
        "todo_",
        "--owner",
        &owner,
    ]);
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.starts_with("ID\tNAME\t"), "{table}");
    assert!(
        table.contains(&format!(
            "{}\tCI deploy\tdeployer\ttodos:read,todos:write\t",
            record.id
        )),
        "{table}"
    );

    // revoke: the application refuses the key at once; a second revoke, or
    // another owner's revoke, is NOT_FOUND.
    let someone_else = run(&[
        "apikey",
        "revoke",
        "--database-url",
        url,
        "--owner",
        "mallory",
        &record.id,
    ]);
    assert_eq!(someone_else.status.code(), Some(1));
    assert!(
        stderr(&someone_else).starts_with("NOT_FOUND: "),
        "{}",
        stderr(&someone_else)
    );
    assert!(
        keys.verify(&key).await.unwrap().is_some(),
        "another owner cannot revoke it"
    );
    let out = run(&[
        "apikey",
        "revoke",
        "--database-url",
        url,
        "--owner",
        &owner,
        &record.id,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        keys.verify(&key).await.unwrap().is_none(),
        "revoked, and refused"
    );
    let again = run(&[
        "apikey",
        "revoke",
        "--database-url",
        url,
        "--owner",
        &owner,
        &record.id,
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).starts_with("NOT_FOUND: "),
        "{}",
        stderr(&again)
    );
    let empty = run(&[
        "apikey",
        "list",
        "--database-url",
        url,
        "--owner",
        &owner,
        "--json",
    ]);
    assert_eq!(String::from_utf8(empty.stdout).unwrap().trim(), "[]");
}

#[tokio::test]
async fn create_list_revoke_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    create_list_revoke(&url).await;
}

#[tokio::test]
async fn create_list_revoke_on_postgres() {
    if let Some(url) = postgres_url() {
        create_list_revoke(&url).await;
    }
}

#[test]
fn a_key_without_expiry_and_the_default_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let out = run(&["apikey", "create", "--database-url", &url, "--owner", "ada"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(key.starts_with("ak_") && key.len() == 3 + 43 + 6, "{key}");
    let record = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(async { app_keys(&url, "ak_").await.verify(&key).await.unwrap() })
        .expect("valid");
    assert_eq!(record.expires_at, None);
}

#[test]
fn bad_input_is_a_clear_error_and_no_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("state.db").display()
    );
    let missing = dir.path().join("absent/state.db");
    let absent = format!("sqlite://{}", missing.display());

    // Usage errors (clap, exit 2): bad lifetimes, missing owner or URL.
    for lifetime in ["0", "1w", "-5d", "1.5h", "forever"] {
        let out = run(&[
            "apikey",
            "create",
            "--database-url",
            &url,
            "--owner",
            "ada",
            "--expires-in",
            lifetime,
        ]);
        assert_eq!(out.status.code(), Some(2), "{lifetime}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
    let out = run(&["apikey", "create", "--database-url", &url]);
    assert_eq!(out.status.code(), Some(2), "no owner");
    let out = common::run_cli_env(
        &["apikey", "list", "--owner", "ada"],
        &[("DATABASE_URL", None)],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "no database: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Refused by the command (exit 1, a code): prefixes, owners, databases.
    for prefix in ["AK_", "ak", "a-k_", "_", ""] {
        let out = run(&[
            "apikey",
            "create",
            "--database-url",
            &url,
            "--owner",
            "ada",
            "--prefix",
            prefix,
        ]);
        assert_eq!(out.status.code(), Some(1), "{prefix:?}");
        assert!(
            stderr(&out).starts_with("INVALID_INPUT: "),
            "{prefix:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty());
    }
    let out = run(&["apikey", "create", "--database-url", &url, "--owner", ""]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("INVALID_INPUT: "),
        "{}",
        stderr(&out)
    );
    for db in [
        absent.as_str(),
        "mysql://root:pw@127.0.0.1/x",
        "not a url",
        "postgres://nobody:s3cretpw@127.0.0.1:1/x",
    ] {
        let out = run(&["apikey", "list", "--database-url", db, "--owner", "ada"]);
        assert_eq!(out.status.code(), Some(1), "{db}");
        let err = stderr(&out);
        assert!(
            err.starts_with("STATE_STORE: cannot open the database"),
            "{db}: {err}"
        );
        assert!(
            !err.contains("s3cretpw") && !err.contains(":pw@"),
            "no password in errors: {err}"
        );
    }
}
