//! Basic over the wire: LoopBack's acceptance cases with their bodies, RFC 7617
//! examples, the brute-force guard, load shedding, and the unknown-user path.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::test as at;
use actix_web::{App, get};
use auth_basic::{
    BasicStrategy, BruteForceGuard, GuardConfig, MemoryUserStore, NewUser, PasswordAuthenticator,
};
use auth_basic::{HashParams, HasherConfig, PasswordHasher};
use auth_core::ManualClock;
use auth_core::MemoryStore;
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use serde_json::{Value, json};

#[get("/whoami")]
#[authenticate("basic")]
async fn whoami(user: UserProfile) -> String {
    format!("{}:{}", user.id, user.roles.join(","))
}

const CHALLENGE: &str = r#"Basic realm="test", charset="UTF-8""#;

fn hasher() -> PasswordHasher {
    PasswordHasher::new(HasherConfig {
        params: HashParams::insecure_for_tests(),
        threads: 1,
        queue: 16,
        ..HasherConfig::default()
    })
}

async fn users(hasher: &PasswordHasher) -> MemoryUserStore {
    let store = MemoryUserStore::new();
    store.insert(
        NewUser::new("joe888", hasher.hash("joepa55w0rd").await.unwrap())
            .with_id("joe-id")
            .with_roles(["user"]),
    );
    store.insert(NewUser::new("test", hasher.hash("123£").await.unwrap()));
    store.insert(NewUser::new(
        "Aladdin",
        hasher.hash("open sesame").await.unwrap(),
    ));
    store
}

fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", auth_test_support::basic_credentials(user, pass))
}

struct Reply {
    status: StatusCode,
    challenge: Option<String>,
    retry_after: Option<String>,
    body: Value,
    text: String,
}

async fn call(strategy: BasicStrategy, auth: Option<&str>) -> Reply {
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(whoami)).await;
    call_app(&app, auth).await
}

async fn call_app<S>(app: &S, auth: Option<&str>) -> Reply
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let mut req = at::TestRequest::get()
        .uri("/whoami")
        .peer_addr("192.0.2.10:5000".parse().unwrap());
    if let Some(auth) = auth {
        req = req.insert_header(("Authorization", auth));
    }
    let resp = at::call_service(app, req.to_request()).await;
    let status = resp.status();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let challenge = header("www-authenticate");
    let retry_after = header("retry-after");
    let bytes = at::read_body(resp).await;
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    Reply {
        status,
        challenge,
        retry_after,
        body: serde_json::from_str(&text).unwrap_or(Value::Null),
        text,
    }
}

fn error_body(status: u16, name: &str, message: &str, code: &str) -> Value {
    json!({"error": {"statusCode": status, "name": name, "message": message, "code": code}})
}

async fn strategy() -> BasicStrategy {
    let h = hasher();
    BasicStrategy::new("test", PasswordAuthenticator::new(users(&h).await, h))
}

#[actix_web::test]
async fn authenticates_with_roles_from_the_store() {
    let r = call(strategy().await, Some(&basic("joe888", "joepa55w0rd"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text, "joe-id:user");
}

#[actix_web::test]
async fn rfc7617_examples_over_the_wire() {
    let r = call(strategy().await, Some("Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==")).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "Aladdin:"));
    // §2.1: test / 123£ with charset="UTF-8".
    let r = call(strategy().await, Some("Basic dGVzdDoxMjPCow==")).await;
    assert_eq!((r.status, r.text.as_str()), (StatusCode::OK, "test:"));
    let r = call(strategy().await, Some("bAsIc dGVzdDoxMjPCow==")).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[actix_web::test]
async fn missing_header_is_401_with_the_basic_challenge() {
    let r = call(strategy().await, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(r.body["error"]["code"], "USER_PROFILE_NOT_FOUND");
}

#[actix_web::test]
async fn other_scheme_is_not_basic() {
    let r = call(strategy().await, Some("Bearer sometoken")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.challenge.as_deref(), Some(CHALLENGE));
    assert_eq!(r.body["error"]["code"], "USER_PROFILE_NOT_FOUND");
}

#[actix_web::test]
async fn loopback_malformed_cases_are_400_with_loopback_messages() {
    let cases = [
        (
            "Basic xxx yyy",
            "Authorization header value has too many parts. It must follow the pattern: 'Basic xxyyzz' where xxyyzz is a base64 string.",
        ),
        (
            "Basic am9lODg4am9lcGE1NXcwcmQ=", // "joe888joepa55w0rd": no colon
            "Authorization header 'Basic' value does not contain two parts separated by ':'.",
        ),
        (
            "Basic am9l!!",
            "Authorization header 'Basic' value is not valid base64.",
        ),
    ];
    for (header, message) in cases {
        let r = call(strategy().await, Some(header)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{header}");
        assert_eq!(
            r.body,
            error_body(400, "BadRequestError", message, "INVALID_REQUEST"),
            "{header}"
        );
        assert_eq!(r.challenge.as_deref(), Some(CHALLENGE));
    }
    let r = call(strategy().await, Some(&basic("joe\u{1}", "pw"))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn wrong_password_and_unknown_user_get_one_body() {
    let wrong = call(strategy().await, Some(&basic("joe888", "nope"))).await;
    let unknown = call(strategy().await, Some(&basic("nobody", "nope"))).await;
    let expected = error_body(
        401,
        "UnauthorizedError",
        "Invalid username or password.",
        "INVALID_CREDENTIALS",
    );
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.body, expected);
    assert_eq!(unknown.body, expected);
    assert_eq!(wrong.challenge.as_deref(), Some(CHALLENGE));
    assert!(!wrong.text.contains("nope"));
}

#[actix_web::test]
async fn unknown_user_and_wrong_password_take_the_same_path() {
    // Structural: each costs exactly one verification on the pool, and the
    // unknown user's is against a hash made with the same parameters.
    let h = hasher();
    let store = users(&h).await;
    let auth = PasswordAuthenticator::new(store, h.clone());
    let before = h.verifications();
    let registry = StrategyRegistry::builder()
        .register(BasicStrategy::new("test", auth))
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(whoami)).await;
    call_app(&app, Some(&basic("joe888", "nope"))).await;
    assert_eq!(h.verifications(), before + 1);
    call_app(&app, Some(&basic("nobody", "nope"))).await;
    assert_eq!(h.verifications(), before + 2);
    call_app(&app, Some(&basic("joe888", "joepa55w0rd"))).await;
    assert_eq!(h.verifications(), before + 3);
}

#[actix_web::test]
async fn guard_answers_429_after_n_failures_and_lets_in_after_the_window() {
    let h = hasher();
    let clock = ManualClock::new(10_000_000);
    let guard = BruteForceGuard::with_store(
        GuardConfig {
            max_failures_per_user: 3,
            max_failures_per_client: 10,
            window: Duration::from_secs(300),
            trusted_proxies: vec![],
            ..GuardConfig::default()
        },
        Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone()))),
    )
    .with_clock(Arc::new(clock.clone()));
    let strategy = BasicStrategy::new(
        "test",
        PasswordAuthenticator::new(users(&h).await, h.clone()),
    )
    .with_guard(guard);
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(whoami)).await;
    for _ in 0..3 {
        let r = call_app(&app, Some(&basic("joe888", "guess"))).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let verified = h.verifications();
    // The 4th attempt, even with the right password, is refused before hashing.
    let r = call_app(&app, Some(&basic("joe888", "joepa55w0rd"))).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.retry_after.as_deref(), Some("300"));
    assert_eq!(r.challenge, None);
    assert_eq!(
        r.body,
        error_body(
            429,
            "TooManyRequestsError",
            "too many failed authentication attempts",
            "TOO_MANY_REQUESTS"
        )
    );
    assert_eq!(h.verifications(), verified);
    clock.advance(Duration::from_secs(300));
    let r = call_app(&app, Some(&basic("joe888", "joepa55w0rd"))).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[actix_web::test]
async fn full_hash_queue_is_503_with_retry_after() {
    let h = PasswordHasher::new(HasherConfig {
        params: HashParams::insecure_for_tests(),
        threads: 1,
        queue: 1,
        per_client: 2,
        retry_after: Duration::from_secs(7),
    });
    let store = users(&hasher()).await;
    let strategy = BasicStrategy::new("test", PasswordAuthenticator::new(store, h.clone()));
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(whoami)).await;

    // Occupy the only thread, then the only queue slot.
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (started_tx, started_rx) = std::sync::mpsc::channel::<()>();
    let busy = h.clone();
    let blocker = tokio::task::spawn_local(async move {
        busy.run(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
        })
        .await
    });
    while started_rx.try_recv().is_err() {
        tokio::task::yield_now().await;
    }
    let filler = h.clone();
    let filler = tokio::task::spawn_local(async move { filler.run(|| ()).await });
    while h.queued() < 1 {
        tokio::task::yield_now().await;
    }

    let r = call_app(&app, Some(&basic("joe888", "joepa55w0rd"))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.retry_after.as_deref(), Some("7"));
    assert_eq!(r.challenge, None);
    assert_eq!(r.body["error"]["code"], "SERVICE_UNAVAILABLE");

    release_tx.send(()).unwrap();
    blocker.await.unwrap().unwrap();
    filler.await.unwrap().unwrap();
    let r = call_app(&app, Some(&basic("joe888", "joepa55w0rd"))).await;
    assert_eq!(r.status, StatusCode::OK);
}

mod login {
    use super::*;
    use actix_web::{HttpRequest, HttpResponse, post, web};
    use auth_basic::Authenticator;

    #[derive(serde::Deserialize)]
    struct Login {
        username: String,
        password: String,
    }

    #[post("/login")]
    async fn login(
        req: HttpRequest,
        body: web::Json<Login>,
        guard: web::Data<BruteForceGuard>,
        auth: web::Data<PasswordAuthenticator<MemoryUserStore>>,
    ) -> HttpResponse {
        let attempt = match guard.check_login(&req, &body.username).await {
            Ok(attempt) => attempt,
            Err(response) => return response,
        };
        let result = auth.authenticate(&body.username, &body.password).await;
        attempt.record(&result).await;
        match result {
            Ok(profile) => HttpResponse::Ok().json(profile),
            Err(e) => auth_core::error_response(&req, &e, &[]),
        }
    }

    #[actix_web::test]
    async fn login_handler_uses_the_guard() {
        let h = hasher();
        let clock = ManualClock::new(0);
        let guard = BruteForceGuard::with_store(
            GuardConfig {
                max_failures_per_user: 2,
                ..GuardConfig::default()
            },
            Arc::new(MemoryStore::new().with_clock(Arc::new(clock.clone()))),
        )
        .with_clock(Arc::new(clock.clone()));
        let auth = PasswordAuthenticator::new(users(&h).await, h);
        let app = at::init_service(
            App::new()
                .app_data(web::Data::new(guard))
                .app_data(web::Data::new(auth))
                .service(login),
        )
        .await;
        let post = |pw: &str| {
            at::TestRequest::post()
                .uri("/login")
                .peer_addr("192.0.2.1:1".parse().unwrap())
                .set_json(json!({"username": "joe888", "password": pw}))
                .to_request()
        };
        for _ in 0..2 {
            let resp = at::call_service(&app, post("bad")).await;
            assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
        }
        let resp = at::call_service(&app, post("joepa55w0rd")).await;
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "900");
        let body: Value = at::read_body_json(resp).await;
        assert_eq!(body["error"]["code"], "TOO_MANY_REQUESTS");
        clock.advance(Duration::from_secs(900));
        let resp = at::call_service(&app, post("joepa55w0rd")).await;
        assert_eq!(resp.status(), StatusCode::OK);
        let body: Value = at::read_body_json(resp).await;
        assert_eq!(body["securityId"], "joe-id");
    }
}

/// One policy for several `Authorization` headers (shared with Bearer and
/// Digest through auth-core's parser): 400, even when the first is a valid
/// Basic header, where Basic used to read the first one.
#[actix_web::test]
async fn two_authorization_headers_are_400_whatever_their_schemes() {
    let registry = StrategyRegistry::builder()
        .register(strategy().await)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(whoami)).await;
    let good = basic("joe888", "joepa55w0rd");
    for (first, second) in [
        (good.as_str(), good.as_str()),
        (good.as_str(), "Bearer abc.def.ghi"),
        ("Bearer abc.def.ghi", good.as_str()),
        (good.as_str(), r#"Digest username="joe888""#),
    ] {
        let req = at::TestRequest::get()
            .uri("/whoami")
            .append_header(("authorization", first))
            .append_header(("authorization", second));
        let resp = at::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{first} / {second}");
        assert_eq!(
            resp.headers().get("www-authenticate").unwrap(),
            CHALLENGE,
            "{first} / {second}"
        );
        let body: Value = at::read_body_json(resp).await;
        assert_eq!(
            body,
            error_body(
                400,
                "BadRequestError",
                "the request has more than one Authorization header",
                "INVALID_REQUEST"
            )
        );
    }
    // Control: the same header once logs in.
    assert_eq!(call_app(&app, Some(&good)).await.status, StatusCode::OK);
}
