//! Digest (RFC 7616) over the wire: SHA-256 only by default, SHA-512-256 and
//! MD5 on request (strongest first), algorithms not offered refused with a
//! fresh challenge, replayed nonce counts, stale nonces, userhash (users.yml,
//! SQLite, PostgreSQL), bad input. The test client computes its responses
//! with the hash crates directly, not with the crate's helpers.

mod common;

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::{
    DigestAlgorithm, DigestStrategy, FileStoreOptions, FileUserStore,
    parse_digest_params as parse_params,
};
use auth_core::ManualClock;
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;

const REALM: &str = "http-auth@example.org";

#[get("/dir/index.html")]
#[authenticate("digest")]
async fn index(user: UserProfile) -> String {
    format!("{}:{}", user.id, user.roles.join(","))
}

struct Fixture {
    _dir: tempfile::TempDir,
    clock: ManualClock,
    strategy: Option<DigestStrategy>,
}

fn fixture(userhash: bool) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.yml");
    // The strategy's opt-in MD5 tests need the MD5 value too.
    common::put_user(
        &file,
        "Mufasa",
        &["king"],
        "Circle of Life",
        REALM,
        &DigestAlgorithm::ALL,
    );
    let store = FileUserStore::load(&file, FileStoreOptions::default()).unwrap();
    let clock = ManualClock::new(1_700_000_000_000);
    let strategy = DigestStrategy::new(REALM, Arc::new(store))
        .with_clock(Arc::new(clock.clone()))
        .with_nonce_ttl(Duration::from_secs(60))
        .with_userhash(userhash);
    Fixture {
        _dir: dir,
        clock,
        strategy: Some(strategy),
    }
}

struct Reply {
    status: StatusCode,
    challenges: Vec<String>,
    body: serde_json::Value,
}

async fn send<S>(app: &S, auth: Option<&str>, uri: &str) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let mut req = at::TestRequest::get().uri(uri);
    if let Some(auth) = auth {
        req = req.insert_header(("Authorization", auth));
    }
    let resp = at::call_service(app, req.to_request()).await;
    let status = resp.status();
    let challenges = auth_test_support::www_authenticate(resp.headers());
    let body = serde_json::from_slice(&at::read_body(resp).await).unwrap_or_default();
    Reply {
        status,
        challenges,
        body,
    }
}

/// `H(data)` computed here with the hash crates directly, not with the
/// crate's own helpers, so the server is checked against an independent
/// client.
fn h(algorithm: &str, data: &str) -> String {
    use sha2::Digest as _;
    let bytes: Vec<u8> = match algorithm {
        "SHA-256" => sha2::Sha256::digest(data.as_bytes()).to_vec(),
        "SHA-512-256" => sha2::Sha512_256::digest(data.as_bytes()).to_vec(),
        "MD5" => md5::Md5::digest(data.as_bytes()).to_vec(),
        other => panic!("no such algorithm in the test client: {other}"),
    };
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A client's answer to a nonce, with `algorithm` as named on the wire
/// (`None`: the parameter is left out, which RFC 7616 §3.3 reads as MD5;
/// `hash_with` is then what the client hashes with).
#[allow(clippy::too_many_arguments)]
fn answer(
    nonce: &str,
    opaque: &str,
    algorithm: Option<&str>,
    hash_with: &str,
    user: &str,
    password: &str,
    nc: u32,
    uri: &str,
    hashed: bool,
) -> String {
    let nc = format!("{nc:08x}");
    let cnonce = "0a4f113b";
    let ha1 = h(hash_with, &format!("{user}:{REALM}:{password}"));
    let ha2 = h(hash_with, &format!("GET:{uri}"));
    let resp = h(
        hash_with,
        &format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"),
    );
    let username = if hashed {
        h(hash_with, &format!("{user}:{REALM}"))
    } else {
        user.to_owned()
    };
    let algorithm = algorithm
        .map(|a| format!("algorithm={a}, "))
        .unwrap_or_default();
    format!(
        r#"Digest username="{username}", realm="{REALM}", uri="{uri}", {algorithm}nonce="{nonce}", nc={nc}, cnonce="{cnonce}", qop=auth, response="{resp}", opaque="{opaque}", userhash={hashed}"#
    )
}

/// What a client does with a challenge: answers with its algorithm.
fn authorization(
    challenge: &str,
    user: &str,
    password: &str,
    nc: u32,
    uri: &str,
    hashed: bool,
) -> String {
    let params = parse_params(challenge.strip_prefix("Digest ").unwrap()).unwrap();
    let alg = params["algorithm"].as_str();
    answer(
        &params["nonce"],
        &params["opaque"],
        Some(alg),
        alg,
        user,
        password,
        nc,
        uri,
        hashed,
    )
}

/// Mufasa's first answer (`nc=1`, no userhash) to `challenge`, for
/// `/dir/index.html` with the right password.
fn mufasa(challenge: &str) -> String {
    authorization(
        challenge,
        "Mufasa",
        "Circle of Life",
        1,
        "/dir/index.html",
        false,
    )
}

/// The `algorithm` of each Digest challenge, in order.
fn offered(challenges: &[String]) -> Vec<String> {
    challenges
        .iter()
        .filter(|c| c.starts_with("Digest "))
        .map(|c| parse_params(c.strip_prefix("Digest ").unwrap()).unwrap()["algorithm"].clone())
        .collect()
}

macro_rules! app {
    ($strategy:expr) => {{
        let registry = StrategyRegistry::builder()
            .register($strategy)
            .build()
            .unwrap();
        at::init_service(App::new().app_data(registry).service(index)).await
    }};
}

#[actix_web::test]
async fn default_challenge_is_sha256_only_whatever_the_request() {
    for userhash in [false, true] {
        let mut f = fixture(userhash);
        let app = app!(f.strategy.take().unwrap());
        let first = send(&app, None, "/dir/index.html").await;
        let nonce =
            parse_params(first.challenges[0].strip_prefix("Digest ").unwrap()).unwrap()["nonce"]
                .clone();
        let opaque =
            parse_params(first.challenges[0].strip_prefix("Digest ").unwrap()).unwrap()["opaque"]
                .clone();
        let wrong = authorization(
            &first.challenges[0],
            "Mufasa",
            "wrong",
            1,
            "/dir/index.html",
            false,
        );
        let md5 = answer(
            &nonce,
            &opaque,
            Some("MD5"),
            "MD5",
            "Mufasa",
            "Circle of Life",
            2,
            "/dir/index.html",
            false,
        );
        let shapes: Vec<(&str, Option<String>)> = vec![
            ("no header", None),
            ("another scheme", Some("Bearer abc.def.ghi".into())),
            ("Basic", Some("Basic TXVmYXNhOkNpcmNsZSBvZiBMaWZl".into())),
            ("wrong password", Some(wrong)),
            ("an MD5 answer", Some(md5)),
            (
                "an unknown user",
                Some(authorization(
                    &first.challenges[0],
                    "Scar",
                    "x",
                    3,
                    "/dir/index.html",
                    false,
                )),
            ),
        ];
        let mut replies = vec![first];
        for (what, auth) in &shapes {
            let r = send(&app, auth.as_deref(), "/dir/index.html").await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}");
            replies.push(r);
        }
        // A stale nonce too.
        f.clock.advance(Duration::from_secs(61));
        let late = mufasa(&replies[1].challenges[0]);
        let stale = send(&app, Some(&late), "/dir/index.html").await;
        assert_eq!(stale.body["error"]["code"], "STALE_NONCE");
        replies.push(stale);
        for r in &replies {
            assert_eq!(offered(&r.challenges), ["SHA-256"], "{:?}", r.challenges);
            assert!(
                r.challenges
                    .iter()
                    .all(|c| !c.contains("MD5") && !c.contains("512")),
                "{:?}",
                r.challenges
            );
        }
    }
}

#[actix_web::test]
async fn opt_in_algorithms_are_offered_strongest_first_and_each_logs_in() {
    type Build = fn(DigestStrategy) -> DigestStrategy;
    let cases: [(Build, &[&str]); 4] = [
        (
            |s| s.dangerously_allow_md5().with_sha512_256(),
            &["SHA-512-256", "SHA-256", "MD5"],
        ),
        (
            |s| {
                s.with_sha512_256()
                    .dangerously_allow_md5()
                    .with_sha512_256()
            },
            &["SHA-512-256", "SHA-256", "MD5"],
        ),
        (|s| s.with_sha512_256(), &["SHA-512-256", "SHA-256"]),
        (|s| s.dangerously_allow_md5(), &["SHA-256", "MD5"]),
    ];
    for (build, expected) in cases {
        let mut f = fixture(false);
        let app = app!(build(f.strategy.take().unwrap()));
        let r = send(&app, None, "/dir/index.html").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(offered(&r.challenges), expected);
        // All challenges carry one nonce, so each login uses the next count.
        for (i, challenge) in r.challenges.iter().enumerate() {
            let auth = authorization(
                challenge,
                "Mufasa",
                "Circle of Life",
                i as u32 + 1,
                "/dir/index.html",
                false,
            );
            let ok = send(&app, Some(&auth), "/dir/index.html").await;
            assert_eq!(ok.status, StatusCode::OK, "{challenge} {}", ok.body);
            // The same answer with a wrong password is refused.
            let bad = authorization(
                challenge,
                "Mufasa",
                "Circle of Life!",
                i as u32 + 11,
                "/dir/index.html",
                false,
            );
            assert_eq!(
                send(&app, Some(&bad), "/dir/index.html").await.status,
                StatusCode::UNAUTHORIZED
            );
        }
    }
}

#[actix_web::test]
async fn a_response_with_an_algorithm_not_offered_is_401_with_a_fresh_challenge() {
    // (strategy, wire name or None for "left out", what the client hashes with)
    type Build = fn(DigestStrategy) -> DigestStrategy;
    let cases: [(Build, Option<&str>, &str); 7] = [
        (|s| s, Some("MD5"), "MD5"),
        (|s| s, None, "MD5"),
        (|s| s, Some("SHA-512-256"), "SHA-512-256"),
        (|s| s, Some("SHA-256-sess"), "SHA-256"),
        (|s| s, Some("SHA-1"), "SHA-256"),
        (|s| s.with_sha512_256(), Some("md5"), "MD5"),
        (
            |s| s.dangerously_allow_md5(),
            Some("SHA-512-256"),
            "SHA-512-256",
        ),
    ];
    for (build, wire, hash_with) in cases {
        let mut f = fixture(false);
        let strategy = build(f.strategy.take().unwrap());
        let on_offer: Vec<String> = strategy
            .algorithms()
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect();
        let app = app!(strategy);
        let first = send(&app, None, "/dir/index.html").await;
        let params = parse_params(first.challenges[0].strip_prefix("Digest ").unwrap()).unwrap();
        // A correct computation for the right password, with the wrong algorithm.
        let auth = answer(
            &params["nonce"],
            &params["opaque"],
            wire,
            hash_with,
            "Mufasa",
            "Circle of Life",
            1,
            "/dir/index.html",
            false,
        );
        let r = send(&app, Some(&auth), "/dir/index.html").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{wire:?}");
        assert_eq!(
            r.body["error"]["code"], "DIGEST_ALGORITHM_NOT_OFFERED",
            "{wire:?}"
        );
        assert_eq!(offered(&r.challenges), on_offer, "{wire:?}");
        let fresh = parse_params(r.challenges[0].strip_prefix("Digest ").unwrap()).unwrap();
        assert_ne!(fresh["nonce"], params["nonce"], "{wire:?}");
        // Answering the fresh challenge as offered works.
        let retry = mufasa(&r.challenges[0]);
        assert_eq!(
            send(&app, Some(&retry), "/dir/index.html").await.status,
            StatusCode::OK,
            "{wire:?}"
        );
    }
}

#[actix_web::test]
async fn replayed_nonce_count_is_rejected_and_the_next_count_accepted() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    let first = mufasa(&challenge);
    assert_eq!(
        send(&app, Some(&first), "/dir/index.html").await.status,
        StatusCode::OK
    );
    let replay = send(&app, Some(&first), "/dir/index.html").await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(replay.body["error"]["code"], "NONCE_REPLAYED");
    let second = authorization(
        &challenge,
        "Mufasa",
        "Circle of Life",
        2,
        "/dir/index.html",
        false,
    );
    assert_eq!(
        send(&app, Some(&second), "/dir/index.html").await.status,
        StatusCode::OK
    );
}

/// Two instances with one nonce key and one state store: a nonce count used
/// on one is a replay on the other, and so is any lower count; a full store
/// is a 503, never a pass.
#[actix_web::test]
async fn nonce_counts_are_shared_through_the_state_store() {
    let key = [7u8; 32];
    let shared = Arc::new(auth_core::MemoryStore::with_capacity(1));
    let mut fa = fixture(false);
    let mut fb = fixture(false);
    let a = app!(
        fa.strategy
            .take()
            .unwrap()
            .with_key(key)
            .with_store(shared.clone())
    );
    let b = app!(fb.strategy.take().unwrap().with_key(key).with_store(shared));
    let challenge = send(&a, None, "/dir/index.html").await.challenges[0].clone();
    let with_nc = |nc: u32| {
        authorization(
            &challenge,
            "Mufasa",
            "Circle of Life",
            nc,
            "/dir/index.html",
            false,
        )
    };
    assert_eq!(
        send(&a, Some(&with_nc(3)), "/dir/index.html").await.status,
        StatusCode::OK
    );
    for nc in [3, 2, 0] {
        let replay = send(&b, Some(&with_nc(nc)), "/dir/index.html").await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "nc {nc}");
        assert_eq!(replay.body["error"]["code"], "NONCE_REPLAYED", "nc {nc}");
    }
    assert_eq!(
        send(&b, Some(&with_nc(4)), "/dir/index.html").await.status,
        StatusCode::OK
    );
    // The store holds one nonce: a second nonce cannot be tracked, so it is
    // refused with 503 rather than accepted untracked.
    let other = send(&b, None, "/dir/index.html").await.challenges[0].clone();
    let r = send(&b, Some(&mufasa(&other)), "/dir/index.html").await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[actix_web::test]
async fn expired_nonce_is_stale_only_with_the_right_password() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    f.clock.advance(Duration::from_secs(61));
    let late = mufasa(&challenge);
    let r = send(&app, Some(&late), "/dir/index.html").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "STALE_NONCE");
    assert!(
        r.challenges.iter().all(|c| c.ends_with("stale=true")),
        "{:?}",
        r.challenges
    );
    // The fresh nonce works.
    let retry = mufasa(&r.challenges[0]);
    assert_eq!(
        send(&app, Some(&retry), "/dir/index.html").await.status,
        StatusCode::OK
    );
    // A wrong password with an old nonce is not "stale", just wrong.
    f.clock.advance(Duration::from_secs(61));
    let wrong = authorization(
        &r.challenges[0],
        "Mufasa",
        "nope",
        2,
        "/dir/index.html",
        false,
    );
    let r = send(&app, Some(&wrong), "/dir/index.html").await;
    assert_eq!(r.body["error"]["code"], "INVALID_CREDENTIALS");
    assert!(r.challenges.iter().all(|c| !c.contains("stale")));
}

#[actix_web::test]
async fn wrong_password_unknown_user_and_forged_nonce_are_401() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    for (user, pw) in [("Mufasa", "wrong"), ("Scar", "Circle of Life")] {
        let auth = authorization(&challenge, user, pw, 1, "/dir/index.html", false);
        let r = send(&app, Some(&auth), "/dir/index.html").await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.body["error"]["message"], "Invalid username or password.");
    }
    // The RFC's own nonce was not made by this server.
    let forged = r#"Digest realm="http-auth@example.org", qop="auth", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="x""#;
    let auth = mufasa(forged);
    assert_eq!(
        send(&app, Some(&auth), "/dir/index.html").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[actix_web::test]
async fn malformed_credentials_are_400() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    let other_uri = authorization(
        &challenge,
        "Mufasa",
        "Circle of Life",
        1,
        "/elsewhere",
        false,
    );
    assert_eq!(
        send(&app, Some(&other_uri), "/dir/index.html").await.status,
        StatusCode::BAD_REQUEST
    );
    for bad in [
        r#"Digest username="Mufasa""#,
        r#"Digest username="Mufasa, realm=x"#,
        "Digest nc=1, nc=2",
    ] {
        let r = send(&app, Some(bad), "/dir/index.html").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[actix_web::test]
async fn userhash_hides_the_username() {
    let mut f = fixture(true);
    let app = app!(f.strategy.take().unwrap());
    let r = send(&app, None, "/dir/index.html").await;
    assert!(r.challenges[0].contains("userhash=true"));
    let auth = authorization(
        &r.challenges[0],
        "Mufasa",
        "Circle of Life",
        1,
        "/dir/index.html",
        true,
    );
    assert!(!auth.contains("Mufasa"));
    let ok = send(&app, Some(&auth), "/dir/index.html").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

/// `userhash` with the SQL store, SQLite and PostgreSQL (issue 11.8).
mod sql {
    use super::*;
    use crate::common::postgres;
    use auth_basic::{NewUser, SqlUserStore, UserStore};

    async fn sqlite(dir: &tempfile::TempDir) -> SqlUserStore {
        SqlUserStore::sqlite(dir.path().join("users.db"))
            .await
            .unwrap()
    }

    async fn add(store: &SqlUserStore, user: &str, password: &str, roles: &[&str]) {
        store
            .create_user(
                NewUser::new(user, "$argon2id$unused-here").with_roles(roles.iter().copied()),
            )
            .await
            .unwrap();
        for alg in ["SHA-512-256", "SHA-256", "MD5"] {
            let ha1 = h(alg, &format!("{user}:{REALM}:{password}"));
            store.set_digest_ha1(user, REALM, alg, &ha1).await.unwrap();
        }
    }

    async fn login_by_userhash(store: SqlUserStore) {
        add(&store, "Mufasa", "Circle of Life", &["king"]).await;
        add(&store, "Nala", "pride rock", &[]).await;
        let strategy = DigestStrategy::new(REALM, Arc::new(store.clone()))
            .with_userhash(true)
            .with_sha512_256();
        let app = app!(strategy);
        let r = send(&app, None, "/dir/index.html").await;
        assert_eq!(offered(&r.challenges), ["SHA-512-256", "SHA-256"]);
        let mut nc = 0;
        for challenge in &r.challenges {
            assert!(challenge.contains("userhash=true"), "{challenge}");
            for (user, password, body) in [
                ("Mufasa", "Circle of Life", "Mufasa:king"),
                ("Nala", "pride rock", "Nala:"),
            ] {
                nc += 1;
                let auth = authorization(challenge, user, password, nc, "/dir/index.html", true);
                assert!(!auth.contains(user), "{auth}");
                let req = at::TestRequest::get()
                    .uri("/dir/index.html")
                    .insert_header(("Authorization", auth))
                    .to_request();
                let resp = at::call_service(&app, req).await;
                assert_eq!(resp.status(), StatusCode::OK, "{user} {challenge}");
                assert_eq!(at::read_body(resp).await, body.as_bytes());
            }
            // The userhash of a user who does not exist, and a right password
            // under another user's hash, are 401.
            nc += 1;
            let scar = authorization(challenge, "Scar", "x", nc, "/dir/index.html", true);
            assert_eq!(
                send(&app, Some(&scar), "/dir/index.html").await.status,
                StatusCode::UNAUTHORIZED
            );
            nc += 1;
            let swapped = authorization(
                challenge,
                "Nala",
                "Circle of Life",
                nc,
                "/dir/index.html",
                true,
            );
            assert_eq!(
                send(&app, Some(&swapped), "/dir/index.html").await.status,
                StatusCode::UNAUTHORIZED
            );
        }
        // A password change drops the HA1 rows, and their userhash with them.
        store
            .update_password_hash("Mufasa", "$argon2id$another")
            .await
            .unwrap();
        let r = send(&app, None, "/dir/index.html").await;
        let auth = authorization(
            &r.challenges[1],
            "Mufasa",
            "Circle of Life",
            1,
            "/dir/index.html",
            true,
        );
        assert_eq!(
            send(&app, Some(&auth), "/dir/index.html").await.status,
            StatusCode::UNAUTHORIZED
        );
    }

    /// HA1 rows written before the userhash column existed get their hash
    /// from `migrate`.
    async fn migrate_fills_in_older_rows(store: SqlUserStore, prefix: &str) {
        store
            .create_user(NewUser::new("Mufasa", "$argon2id$unused-here"))
            .await
            .unwrap();
        let ha1 = h("SHA-256", &format!("Mufasa:{REALM}:Circle of Life"));
        sqlx::query(&format!(
            "INSERT INTO {prefix}user_digest (username, realm, algorithm, ha1) VALUES ($1, $2, $3, $4)"
        ))
        .bind("Mufasa")
        .bind(REALM)
        .bind("SHA-256")
        .bind(&ha1)
        .execute(store.pool())
        .await
        .unwrap();
        let hashed = h("SHA-256", &format!("Mufasa:{REALM}"));
        assert_eq!(
            store
                .username_by_userhash(&hashed, REALM, "SHA-256")
                .await
                .unwrap(),
            None
        );
        store.migrate().await.unwrap();
        assert_eq!(
            store
                .username_by_userhash(&hashed.to_uppercase(), REALM, "sha-256")
                .await
                .unwrap()
                .as_deref(),
            Some("Mufasa")
        );
        assert_eq!(
            store
                .username_by_userhash(&hashed, "other realm", "SHA-256")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .username_by_userhash(&hashed, REALM, "MD5")
                .await
                .unwrap(),
            None
        );
    }

    #[actix_web::test]
    async fn userhash_logs_in_with_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        login_by_userhash(sqlite(&dir).await).await;
    }

    #[actix_web::test]
    async fn userhash_logs_in_with_postgres() {
        let Some((store, _)) = postgres("uh").await else {
            return;
        };
        login_by_userhash(store.clone()).await;
        store.drop_tables().await.unwrap();
    }

    #[actix_web::test]
    async fn migrate_computes_the_userhash_of_older_rows_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        migrate_fills_in_older_rows(sqlite(&dir).await, "").await;
    }

    #[actix_web::test]
    async fn migrate_computes_the_userhash_of_older_rows_postgres() {
        let Some((store, prefix)) = postgres("uhm").await else {
            return;
        };
        migrate_fills_in_older_rows(store.clone(), &prefix).await;
        store.drop_tables().await.unwrap();
    }
}

/// One policy for several `Authorization` headers (shared with Bearer and
/// Basic through auth-core's parser): 400, even when one of them is a right
/// Digest answer, where Digest used to read the first one.
#[actix_web::test]
async fn two_authorization_headers_are_400_whatever_their_schemes() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    let good = mufasa(&challenge);
    for (first, second) in [
        (good.as_str(), good.as_str()),
        (good.as_str(), "Bearer abc.def.ghi"),
        ("Basic TXVmYXNhOng=", good.as_str()),
    ] {
        let req = at::TestRequest::get()
            .uri("/dir/index.html")
            .append_header(("authorization", first))
            .append_header(("authorization", second));
        let resp = at::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{second}");
        let body: serde_json::Value = at::read_body_json(resp).await;
        assert_eq!(body["error"]["code"], "INVALID_REQUEST");
        assert_eq!(
            body["error"]["message"],
            "the request has more than one Authorization header"
        );
    }
    // Control: the same answer once logs in (its nonce count unused so far).
    assert_eq!(
        send(&app, Some(&good), "/dir/index.html").await.status,
        StatusCode::OK
    );
}

/// The Digest credentials come from auth-core's parser: quoting, case and
/// list rules as RFC 9110 has them, duplicate parameters refused.
#[test]
fn digest_credentials_are_typed_and_strict() {
    use auth_basic::DigestCredentials;
    let creds = DigestCredentials::parse(
        br#"DIGEST  Username = "Mu\"fasa" ,, realm="r", nonce="n", uri="/", response="AB", qop=AUTH, nc=0000000a, cnonce="c", userhash=TRUE,"#,
    )
    .unwrap()
    .unwrap();
    assert_eq!(creds.username, "Mu\"fasa");
    assert_eq!(creds.nonce_count(), 10);
    assert!(creds.userhash);
    assert_eq!(creds.algorithm, None);
    assert!(
        !format!("{creds:?}").contains("AB"),
        "Debug shows the response"
    );
    for bad in [
        &br#"Digest username="a", username="b""#[..],
        br#"Digest username="a", USERNAME="a""#,
        br#"Digest username="a"#,
        b"Digest abc",
        b"Digest a=1 b=2",
        b"Digest username=\"a\x01\"",
        br#"Digest username="a", realm="r", nonce="n", uri="/", response="x", qop=auth-int, nc=00000001, cnonce="c""#,
        br#"Digest username="a", realm="r", nonce="n", uri="/", response="x", qop=auth, nc=1, cnonce="c""#,
    ] {
        let err = DigestCredentials::parse(bad).unwrap_err();
        assert_eq!(err.status(), 400, "{}", String::from_utf8_lossy(bad));
    }
    assert_eq!(DigestCredentials::parse(b"Bearer abc").unwrap(), None);
}
