//! The `StateStore` contract, run against every backend: two stores `a` and
//! `b` stand for two instances sharing one backend.

use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_core::{RevocationOptions, Revocations, StateStore};

pub(crate) const MINUTE: Duration = Duration::from_secs(60);

pub(crate) use auth_test_support::now as now_secs;

/// Every operation's contract, across the two instances; `tag` keeps keys
/// apart when backends share a database.
pub(crate) async fn contract(a: Arc<dyn StateStore>, b: Arc<dyn StateStore>, tag: &str) {
    let k = |name: &str| format!("{tag}:{name}");
    // set_if_absent / get / take / delete.
    assert!(a.set_if_absent(&k("code"), b"ada", MINUTE).await.unwrap());
    assert!(!b.set_if_absent(&k("code"), b"eve", MINUTE).await.unwrap());
    let entry = b.get(&k("code")).await.unwrap().unwrap();
    assert_eq!(entry.value, b"ada");
    assert!(
        entry.ttl <= MINUTE && entry.ttl > Duration::from_secs(50),
        "{:?}",
        entry.ttl
    );
    assert_eq!(a.get(&k("absent")).await.unwrap(), None);
    assert_eq!(
        b.take(&k("code")).await.unwrap().as_deref(),
        Some(&b"ada"[..])
    );
    assert_eq!(a.take(&k("code")).await.unwrap(), None);
    assert!(a.set_if_absent(&k("del"), b"x", MINUTE).await.unwrap());
    assert!(b.delete(&k("del")).await.unwrap());
    assert!(!a.delete(&k("del")).await.unwrap());
    let bytes: Vec<u8> = (0..=255).collect();
    assert!(a.set_if_absent(&k("bin"), &bytes, MINUTE).await.unwrap());
    assert_eq!(b.get(&k("bin")).await.unwrap().unwrap().value, bytes);
    assert!(
        a.set_if_absent(&k("short"), b"1", Duration::from_millis(100))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(b.get(&k("short")).await.unwrap(), None);
    assert!(b.set_if_absent(&k("short"), b"2", MINUTE).await.unwrap());

    // Exactly one winner among concurrent callers on both instances.
    for round in 0..3 {
        let key = k(&format!("spent:{round}"));
        let wins = race(
            &a,
            &b,
            24,
            |s, key| async move { s.set_if_absent(&key, b"x", MINUTE).await.unwrap() },
            &key,
        )
        .await;
        assert_eq!(wins, 1, "set_if_absent round {round}");
        let taken = race(
            &a,
            &b,
            24,
            |s, key| async move { s.take(&key).await.unwrap().is_some() },
            &key,
        )
        .await;
        assert_eq!(taken, 1, "take round {round}");
    }

    // Counted once across instances, in one window.
    let mut handles = Vec::new();
    for i in 0..40 {
        let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let key = k("guard");
        handles.push(tokio::spawn(async move {
            s.increment(&key, MINUTE).await.unwrap().value
        }));
    }
    let mut values = Vec::new();
    for h in handles {
        values.push(h.await.unwrap());
    }
    values.sort_unstable();
    assert_eq!(values, (1..=40).collect::<Vec<u64>>());
    assert_eq!(
        a.get(&k("guard"))
            .await
            .unwrap()
            .unwrap()
            .as_count()
            .unwrap(),
        40
    );

    // raise: strictly greater only.
    for (value, expected) in [(5, true), (3, false), (5, false), (6, true)] {
        let s = if value % 2 == 0 { &a } else { &b };
        assert_eq!(
            s.raise(&k("nc"), value, MINUTE).await.unwrap(),
            expected,
            "{value}"
        );
    }

    // scan sees every live entry under a prefix, from either instance.
    for i in 0..30 {
        assert!(
            a.set_if_absent(&k(&format!("list:{i}")), b"v", MINUTE)
                .await
                .unwrap()
        );
    }
    assert!(
        a.set_if_absent(&k("lister"), b"not under list:", MINUTE)
            .await
            .unwrap()
    );
    let found = b.scan(&k("list:")).await.unwrap();
    assert_eq!(found.len(), 30);
    assert!(
        found
            .iter()
            .all(|(key, e)| key.starts_with(&k("list:")) && e.value == b"v")
    );

    // Sets: members added on either instance, read whole from the other;
    // apart from entries and from other sets; each member expires alone.
    let set = k("tokens:ada");
    assert_eq!(b.members(&set).await.unwrap(), Vec::<String>::new());
    for i in 0..20 {
        let s = if i % 2 == 0 { &a } else { &b };
        s.add_member(&set, &format!("m{i}"), MINUTE).await.unwrap();
    }
    a.add_member(&k("tokens:ada:x"), "other", MINUTE)
        .await
        .unwrap();
    a.add_member(&set, "m0", MINUTE).await.unwrap(); // again: still one
    let mut members = b.members(&set).await.unwrap();
    members.sort_unstable();
    let mut want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    want.sort_unstable();
    assert_eq!(members, want);
    assert_eq!(a.get(&set).await.unwrap(), None, "a set is not an entry");
    assert!(b.remove_member(&set, "m3").await.unwrap());
    assert!(!a.remove_member(&set, "m3").await.unwrap());
    assert!(!a.remove_member(&set, "never").await.unwrap());
    assert_eq!(a.members(&set).await.unwrap().len(), 19);
    // A member with a short life leaves alone; adding it again renews it.
    a.add_member(&set, "brief", Duration::from_millis(100))
        .await
        .unwrap();
    a.add_member(&set, "renewed", Duration::from_millis(100))
        .await
        .unwrap();
    b.add_member(&set, "renewed", MINUTE).await.unwrap();
    assert!(b.members(&set).await.unwrap().contains(&"brief".to_owned()));
    tokio::time::sleep(Duration::from_millis(250)).await;
    let members = b.members(&set).await.unwrap();
    assert!(!members.contains(&"brief".to_owned()), "{members:?}");
    assert!(members.contains(&"renewed".to_owned()), "{members:?}");
    assert_eq!(members.len(), 20);
    assert!(!a.remove_member(&set, "brief").await.unwrap(), "expired");
    // A set whose every member expired is empty.
    a.add_member(&k("short-set"), "x", Duration::from_millis(100))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(b.members(&k("short-set")).await.unwrap().is_empty());
    assert_eq!(
        b.members(&k("tokens:ada:x")).await.unwrap(),
        ["other".to_owned()]
    );
    // Concurrent adds from both instances: none lost.
    let handles: Vec<_> = (0..40)
        .map(|i| {
            let s = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let set = k("busy");
            tokio::spawn(async move { s.add_member(&set, &format!("c{i}"), MINUTE).await.unwrap() })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    assert_eq!(a.members(&k("busy")).await.unwrap().len(), 40);

    // A message published on one instance reaches the other.
    let mut sub = b.subscribe(&k("chan")).await.unwrap();
    a.publish(&k("chan"), b"jti-1").await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), sub.recv()).await;
    assert_eq!(got.expect("delivered").unwrap().unwrap(), b"jti-1");
}

/// Runs `n` copies of `op` alternating between `a` and `b`; counts `true`s.
async fn race<F, Fut>(
    a: &Arc<dyn StateStore>,
    b: &Arc<dyn StateStore>,
    n: usize,
    op: F,
    key: &str,
) -> usize
where
    F: Fn(Arc<dyn StateStore>, String) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let handles: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(op(
                Arc::clone(if i % 2 == 0 { a } else { b }),
                key.to_owned(),
            ))
        })
        .collect();
    let mut wins = 0;
    for h in handles {
        wins += usize::from(h.await.unwrap());
    }
    wins
}

/// Revocations made on instance A are enforced on instance B: the delays
/// are measured and returned (sorted), each one bounded by `max`.
pub(crate) async fn revocations_propagate(
    a: Arc<dyn StateStore>,
    b: Arc<dyn StateStore>,
    tag: &str,
    count: usize,
    max: Duration,
) -> Vec<Duration> {
    let options = RevocationOptions::default().channel(format!("{tag}:revocations"));
    let ra = Revocations::start(a, options.clone()).await.unwrap();
    let rb = Revocations::start(b, options).await.unwrap();
    let now = now_secs();
    let mut delays = Vec::new();
    for i in 0..count {
        let jti = format!("{tag}-jti-{i}");
        let sub = format!("{tag}-user-{i}");
        assert!(rb.check(Some(&jti), &sub, Some(now)).is_ok());
        let started = Instant::now();
        if i % 10 == 0 {
            ra.revoke_subject(&sub, now).await.unwrap();
        } else {
            ra.revoke_token(&jti, now + 900).await.unwrap();
        }
        assert!(
            ra.check(Some(&jti), &sub, Some(now - 1)).is_err(),
            "A enforces at once"
        );
        while rb.check(Some(&jti), &sub, Some(now - 1)).is_ok() {
            assert!(
                started.elapsed() < max,
                "revocation {i} not enforced on B within {max:?}"
            );
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        delays.push(started.elapsed());
    }
    delays.sort_unstable();
    delays
}
