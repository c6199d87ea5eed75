//! `RedisStore` against a real redis-server on 127.0.0.1, started by the
//! test on a free port and stopped by its PID. Without redis-server the
//! tests are skipped, except under `CI=true`, where that is a failure.
#![cfg(feature = "redis")]

mod common;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{AuthError, StateStore, StoreError};
use auth_store::{RedisOptions, RedisStore};

/// A redis-server this test started.
struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Server {
    /// `None` when redis-server is not installed (and CI is not set).
    fn start() -> Option<Server> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        Server::start_on(port)
    }

    fn start_on(port: u16) -> Option<Server> {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let spawned = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("redis-server is required under CI=true: {e}")
            }
            Err(e) => {
                eprintln!("skipped: redis-server not available ({e})");
                return None;
            }
        };
        let server = Server {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(server)
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    fn options(&self) -> RedisOptions {
        RedisOptions::new(self.url())
            .response_timeout(Duration::from_millis(500))
            .connection_timeout(Duration::from_millis(500))
            .reconnect_delay(Duration::from_millis(50))
    }

    async fn store(&self) -> RedisStore {
        RedisStore::connect(self.options()).await.expect("connect")
    }

    /// Stops the server (our own child, by its PID).
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

use common::{MINUTE, contract, revocations_propagate};

#[tokio::test]
async fn the_contract_holds_on_redis_and_revocations_propagate() {
    let Some(server) = Server::start() else {
        return;
    };
    let (a, b): (Arc<dyn StateStore>, Arc<dyn StateStore>) = (
        Arc::new(server.store().await),
        Arc::new(server.store().await),
    );
    contract(Arc::clone(&a), Arc::clone(&b), "redis").await;
    let delays = revocations_propagate(a, b, "redis", 1000, Duration::from_secs(5)).await;
    eprintln!(
        "revocation A -> B over Redis pub/sub: p50 {:?}, p99 {:?}, max {:?}",
        delays[delays.len() / 2],
        delays[delays.len() * 99 / 100],
        delays[delays.len() - 1]
    );
}

#[tokio::test]
async fn raise_accepts_only_greater_values_exactly_for_every_u64() {
    let Some(server) = Server::start() else {
        return;
    };
    let store = server.store().await;
    for (value, expected) in [
        (5, true),
        (3, false),
        (5, false),
        (6, true),
        (9_007_199_254_740_993, true), // 2^53 + 1: not representable in a double
        (9_007_199_254_740_992, false),
        (9_007_199_254_740_993, false),
        (u64::MAX - 1, true),
        (u64::MAX, true),
        (u64::MAX, false),
    ] {
        assert_eq!(
            store.raise("nc:n1", value, MINUTE).await.unwrap(),
            expected,
            "{value}"
        );
    }
    // Concurrent raises of the same value: one wins.
    let store: Arc<dyn StateStore> = Arc::new(store);
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            store.raise("nc:n2", 7, MINUTE).await.unwrap()
        }));
    }
    let mut wins = 0;
    for t in tasks {
        wins += usize::from(t.await.unwrap());
    }
    assert_eq!(wins, 1);
    // A value that is not a counter is malformed data, not a panic.
    for junk in [&b"abc"[..], b"-1", b"1.5", b""] {
        store.delete("nc:junk").await.unwrap();
        assert!(store.set_if_absent("nc:junk", junk, MINUTE).await.unwrap());
        let err = store.raise("nc:junk", 1, MINUTE).await.unwrap_err();
        assert!(
            matches!(err, StoreError::Malformed { .. }),
            "{junk:?}: {err}"
        );
        assert_eq!(AuthError::from(err).status().as_u16(), 500);
    }
}

#[tokio::test]
async fn prefixes_keep_applications_apart() {
    let Some(server) = Server::start() else {
        return;
    };
    let a = RedisStore::connect(server.options().prefix("app-a:"))
        .await
        .unwrap();
    let b = RedisStore::connect(server.options().prefix("app-b:"))
        .await
        .unwrap();
    assert!(a.set_if_absent("k", b"a", MINUTE).await.unwrap());
    assert!(b.set_if_absent("k", b"b", MINUTE).await.unwrap());
    assert_eq!(a.get("k").await.unwrap().unwrap().value, b"a");
    assert_eq!(b.get("k").await.unwrap().unwrap().value, b"b");
}

#[tokio::test]
async fn an_outage_is_a_fast_503_and_the_store_recovers_with_the_server() {
    let Some(mut server) = Server::start() else {
        return;
    };
    let store = server.store().await;
    let mut sub = store.subscribe("events").await.unwrap();
    assert!(store.set_if_absent("before", b"1", MINUTE).await.unwrap());

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let err = store.increment("guard:x", MINUTE).await.unwrap_err();
        assert!(err.is_transient(), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
        let auth = AuthError::from(err);
        assert_eq!(auth.status().as_u16(), 503);
        assert!(auth.retry_after().is_some());
    }
    // The subscription says it may have missed messages.
    let gap = tokio::time::timeout(Duration::from_secs(5), sub.recv())
        .await
        .unwrap();
    assert!(
        matches!(gap, Some(Err(StoreError::Lagged { .. }))),
        "{gap:?}"
    );

    // The server comes back on the same port: the store works again by
    // itself, and the subscription resumes after reporting the gap.
    let port = server.port;
    let _restarted = Server::start_on(port).expect("restart");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match store.set_if_absent("after", b"1", MINUTE).await {
            Ok(stored) => {
                assert!(stored);
                break;
            }
            Err(e) => {
                assert!(e.is_transient(), "{e}");
                assert!(Instant::now() < deadline, "no reconnection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        store.publish("events", b"back").await.unwrap();
        match tokio::time::timeout(Duration::from_millis(300), sub.recv()).await {
            Ok(Some(Ok(message))) => {
                assert_eq!(message, b"back");
                break;
            }
            Ok(Some(Err(StoreError::Lagged { .. }))) | Err(_) => {}
            other => panic!("{other:?}"),
        }
        assert!(Instant::now() < deadline, "the subscription did not resume");
    }
}

#[tokio::test]
async fn nothing_listening_or_a_bad_url_is_an_error_not_a_panic() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("redis://127.0.0.1:{port}/0"),
        "not a url".to_owned(),
        "http://127.0.0.1:1/".to_owned(),
        "redis://127.0.0.1:1/notadb".to_owned(),
    ] {
        let started = Instant::now();
        let err = RedisStore::connect(
            RedisOptions::new(url.clone()).connection_timeout(Duration::from_millis(500)),
        )
        .await
        .unwrap_err();
        assert!(err.is_transient(), "{url}: {err}");
        assert!(started.elapsed() < Duration::from_secs(5), "{url}");
        // The error never shows the URL's password.
        let with_password = format!("redis://:hunter2@127.0.0.1:{port}/0");
        let err = RedisStore::connect(
            RedisOptions::new(with_password).connection_timeout(Duration::from_millis(300)),
        )
        .await
        .unwrap_err();
        assert!(!format!("{err} {err:?}").contains("hunter2"), "{err:?}");
    }
}

#[tokio::test]
async fn scan_lists_live_entries_under_a_prefix_only() {
    let Some(server) = Server::start() else {
        return;
    };
    let store = RedisStore::connect(server.options().prefix("app[1]*:"))
        .await
        .unwrap();
    let other = RedisStore::connect(server.options().prefix("app[2]*:"))
        .await
        .unwrap();
    for i in 0..1200 {
        assert!(
            store
                .set_if_absent(
                    &format!("revoked:jti:{i}"),
                    i.to_string().as_bytes(),
                    MINUTE
                )
                .await
                .unwrap()
        );
    }
    assert!(store.set_if_absent("guard:x", b"1", MINUTE).await.unwrap());
    assert!(
        other
            .set_if_absent("revoked:jti:foreign", b"1", MINUTE)
            .await
            .unwrap()
    );
    let mut found = store.scan("revoked:").await.unwrap();
    found.sort_by_key(|(k, _)| k[12..].parse::<u32>().unwrap());
    assert_eq!(found.len(), 1200);
    for (i, (key, entry)) in found.iter().enumerate() {
        assert_eq!(key, &format!("revoked:jti:{i}"));
        assert_eq!(entry.value, i.to_string().as_bytes());
        assert!(entry.ttl > Duration::from_secs(50));
    }
    assert!(store.scan("nothing:").await.unwrap().is_empty());
    assert_eq!(other.scan("revoked:").await.unwrap().len(), 1);
    // Sets live under `members:`; a scan covering them lists entries only.
    store.add_member("guard:set", "m", MINUTE).await.unwrap();
    let everything = store.scan("").await.unwrap();
    assert_eq!(everything.len(), 1201, "entries, not the set");
    assert!(everything.iter().all(|(k, _)| !k.starts_with("members:")));
}

#[tokio::test]
async fn with_redis_down_longer_than_the_bound_checks_fail_closed_then_recover() {
    use auth_core::{RevocationOptions, Revocations};
    let Some(mut server) = Server::start() else {
        return;
    };
    let options = RevocationOptions::default()
        .resync_every(Duration::from_millis(100))
        .max_staleness(Duration::from_millis(400));
    let r = Revocations::start(Arc::new(server.store().await), options)
        .await
        .unwrap();
    let now = common::now_secs();
    assert!(r.check(Some("x"), "ada", Some(now)).is_ok());
    server.stop();
    let started = Instant::now();
    let status = loop {
        match r.check(Some("x"), "ada", Some(now)) {
            Ok(()) => {
                assert!(
                    started.elapsed() < Duration::from_secs(5),
                    "never went stale"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => break e.status().as_u16(),
        }
    };
    assert_eq!(status, 503);
    assert!(
        started.elapsed() >= Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    let _restarted = Server::start_on(server.port).expect("restart");
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.check(Some("x"), "ada", Some(now)).is_err() {
        assert!(
            Instant::now() < deadline,
            "the mirror never became fresh again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
