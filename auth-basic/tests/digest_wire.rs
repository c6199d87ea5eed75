//! Digest (RFC 7616) over the wire: both challenges in order, SHA-256 and MD5
//! logins, replayed nonce counts, stale nonces, userhash, bad input.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::digest::{DigestAlgorithm, DigestStrategy, parse_params, response, userhash};
use auth_basic::file::{FileStoreOptions, FileUserStore};
use auth_basic::guard::ManualClock;
use auth_basic::password::HashParams;
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
    auth_basic::cli::users_add(
        &file,
        "Mufasa",
        &["king".into()],
        Some(REALM),
        &mut "Circle of Life\n".as_bytes(),
        &HashParams::insecure_for_tests(),
    )
    .unwrap();
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
    let challenges = resp
        .headers()
        .get_all("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = serde_json::from_slice(&at::read_body(resp).await).unwrap_or_default();
    Reply {
        status,
        challenges,
        body,
    }
}

/// What a client does with a challenge.
fn authorization(
    challenge: &str,
    user: &str,
    password: &str,
    nc: u32,
    uri: &str,
    hashed: bool,
) -> String {
    let params = parse_params(challenge.strip_prefix("Digest ").unwrap()).unwrap();
    let alg = DigestAlgorithm::parse(&params["algorithm"]).unwrap();
    let nonce = &params["nonce"];
    let nc = format!("{nc:08x}");
    let cnonce = "0a4f113b";
    let ha1 = auth_basic::digest::ha1(alg, user, REALM, password);
    let resp = response(alg, &ha1, nonce, &nc, cnonce, "auth", "GET", uri);
    let username = if hashed {
        userhash(alg, user, REALM)
    } else {
        user.to_owned()
    };
    format!(
        r#"Digest username="{username}", realm="{REALM}", uri="{uri}", algorithm={}, nonce="{nonce}", nc={nc}, cnonce="{cnonce}", qop=auth, response="{resp}", opaque="{}", userhash={hashed}"#,
        alg.as_str(),
        params["opaque"]
    )
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
async fn offers_sha256_then_md5_and_accepts_both() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let r = send(&app, None, "/dir/index.html").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenges.len(), 2);
    assert!(r.challenges[0].starts_with(&format!(
        r#"Digest realm="{REALM}", qop="auth", algorithm=SHA-256, nonce=""#
    )));
    assert!(r.challenges[1].contains("algorithm=MD5"));
    // Both challenges carry one nonce, so each login uses the next count.
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
    }
    let _ = f.clock;
}

#[actix_web::test]
async fn replayed_nonce_count_is_rejected_and_the_next_count_accepted() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    let first = authorization(
        &challenge,
        "Mufasa",
        "Circle of Life",
        1,
        "/dir/index.html",
        false,
    );
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

#[actix_web::test]
async fn expired_nonce_is_stale_only_with_the_right_password() {
    let mut f = fixture(false);
    let app = app!(f.strategy.take().unwrap());
    let challenge = send(&app, None, "/dir/index.html").await.challenges[0].clone();
    f.clock.advance(Duration::from_secs(61));
    let late = authorization(
        &challenge,
        "Mufasa",
        "Circle of Life",
        1,
        "/dir/index.html",
        false,
    );
    let r = send(&app, Some(&late), "/dir/index.html").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.body["error"]["code"], "STALE_NONCE");
    assert!(
        r.challenges.iter().all(|c| c.ends_with("stale=true")),
        "{:?}",
        r.challenges
    );
    // The fresh nonce works.
    let retry = authorization(
        &r.challenges[0],
        "Mufasa",
        "Circle of Life",
        1,
        "/dir/index.html",
        false,
    );
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
    let forged = r#"Digest realm="http-auth@example.org", qop="auth", algorithm=MD5, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="x""#;
    let auth = authorization(
        forged,
        "Mufasa",
        "Circle of Life",
        1,
        "/dir/index.html",
        false,
    );
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
