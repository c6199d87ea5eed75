//! The brute-force guard while its shared counter store is down, for both
//! failure policies, on the wire: a JSON login handler, a strategy that
//! checks a password from a header, and a route without the guard.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServiceResponse;
use actix_web::{App, HttpRequest, HttpResponse, get, post, test, web};
use auth_core::testing::FlakyStore;
use auth_core::{BruteForceGuard, GuardConfig, GuardFailurePolicy, StateStore, StrategyRegistry};
use auth_macros::authenticate;

use crate::guard_fixtures::{HeaderPassword, RIGHT, check_password, guarded};

#[derive(serde::Deserialize)]
struct Login {
    user: String,
    password: String,
}

#[post("/login")]
#[authenticate(skip)]
async fn login(
    req: HttpRequest,
    body: web::Json<Login>,
    guard: web::Data<BruteForceGuard>,
) -> HttpResponse {
    let attempt = match guard.check_login(&req, &body.user).await {
        Ok(attempt) => attempt,
        Err(refused) => return refused,
    };
    let result = check_password(&body.user, &body.password);
    attempt.record(&result).await;
    match result {
        Ok(profile) => HttpResponse::Ok().body(profile.id.clone()),
        Err(e) => auth_core::error_response(&req, &e, &[]),
    }
}

#[get("/open")]
#[authenticate(skip)]
async fn open() -> HttpResponse {
    HttpResponse::Ok().body("open")
}

fn guard(store: &FlakyStore, policy: GuardFailurePolicy, window: Duration) -> BruteForceGuard {
    BruteForceGuard::with_store(
        GuardConfig {
            max_failures_per_user: 3,
            max_failures_per_client: 100,
            window,
            on_store_error: policy,
            ..GuardConfig::default()
        },
        Arc::new(store.clone()),
    )
}

async fn app(
    guard: BruteForceGuard,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = ServiceResponse,
    Error = actix_web::Error,
> {
    let registry = StrategyRegistry::builder()
        .register(HeaderPassword(guard.clone()))
        .build()
        .unwrap();
    test::init_service(
        App::new()
            .app_data(registry)
            .app_data(web::Data::new(guard))
            .service(login)
            .service(guarded)
            .service(open),
    )
    .await
}

/// The status, `Retry-After` and body of a request.
async fn call<S>(app: &S, req: test::TestRequest) -> (u16, Option<String>, String)
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = ServiceResponse,
            Error = actix_web::Error,
        >,
{
    let req = req.peer_addr("192.0.2.10:4000".parse().unwrap());
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(test::read_body(resp).await.to_vec()).unwrap();
    (status, retry, body)
}

fn login_req(user: &str, password: &str) -> test::TestRequest {
    test::TestRequest::post()
        .uri("/login")
        .set_json(serde_json::json!({"user": user, "password": password}))
}

fn pass_req(user: &str, password: &str) -> test::TestRequest {
    test::TestRequest::get()
        .uri("/guarded")
        .insert_header(("x-pass", format!("{user}:{password}")))
}

async fn shared_count(store: &FlakyStore, key: &str) -> u64 {
    store
        .memory()
        .get(key)
        .await
        .unwrap()
        .map_or(0, |e| e.as_count().unwrap())
}

#[actix_web::test]
async fn fail_closed_answers_503_to_every_guarded_request_while_down_and_recovers_without_restart()
{
    let store = FlakyStore::new();
    let app = app(guard(
        &store,
        GuardFailurePolicy::default(),
        Duration::from_secs(60),
    ))
    .await;
    store.go_down();
    for (what, req) in [
        ("login, wrong password", login_req("ada", "guess")),
        ("login, right password", login_req("ada", RIGHT)),
        ("login, another user", login_req("bob", RIGHT)),
        ("header password, right", pass_req("ada", RIGHT)),
        ("header password, wrong", pass_req("eve", "guess")),
    ] {
        let (status, retry, body) = call(&app, req).await;
        assert_eq!(status, 503, "{what}: {body}");
        assert_eq!(retry.as_deref(), Some("1"), "{what}");
        assert!(!body.contains("FlakyStore"), "{what}: internals in {body}");
    }
    // Routes without the guard are untouched.
    assert_eq!(
        call(&app, test::TestRequest::get().uri("/open")).await.0,
        200
    );
    assert!(store.failures() >= 5);

    // Back: the same guard and app work again, and count in the shared store.
    store.come_back();
    assert_eq!(call(&app, login_req("ada", RIGHT)).await.0, 200);
    assert_eq!(call(&app, pass_req("ada", RIGHT)).await.0, 200);
    for _ in 0..3 {
        assert_eq!(call(&app, login_req("eve", "guess")).await.0, 401);
    }
    assert_eq!(shared_count(&store, "guard:user:eve").await, 3);
    let (status, retry, _) = call(&app, pass_req("eve", RIGHT)).await;
    assert_eq!(status, 429);
    assert!(retry.is_some());
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn lines_with(&self, level: &str, text: &str) -> usize {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .filter(|l| l.contains(level) && l.contains(text))
            .count()
    }
}

const OUTAGE_BEGINS: &str = "counting failures on this instance only";
const OUTAGE_ENDS: &str = "answers again";

#[actix_web::test]
async fn local_fallback_keeps_the_limits_per_instance_logs_each_outage_once_and_recovers() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _log = tracing::subscriber::set_default(subscriber);

    let store = FlakyStore::new();
    let guard = guard(
        &store,
        GuardFailurePolicy::LocalFallback,
        Duration::from_secs(60),
    );
    let app = app(guard.clone()).await;
    // One failure counted in the shared store before the outage.
    assert_eq!(call(&app, login_req("ada", "guess 1")).await.0, 401);
    assert_eq!(shared_count(&store, "guard:user:ada").await, 1);
    assert!(!guard.is_falling_back());

    store.go_down();
    // Every kind of request is answered as if the store were there, against
    // this instance's own counts: right passwords get in, wrong ones 401.
    assert_eq!(call(&app, login_req("bob", RIGHT)).await.0, 200);
    assert_eq!(call(&app, pass_req("bob", RIGHT)).await.0, 200);
    assert!(guard.is_falling_back());
    for i in 0..3 {
        let (status, _, body) = call(&app, login_req("ada", &format!("guess {i}"))).await;
        assert_eq!(status, 401, "local failure {i}: {body}");
    }
    // The limit (3 per user) holds on this instance: 429 for the login
    // handler and for the strategy, with the right password too.
    for (what, req) in [
        ("login", login_req("ada", RIGHT)),
        ("header password", pass_req("ada", RIGHT)),
    ] {
        let (status, retry, body) = call(&app, req).await;
        assert_eq!(status, 429, "{what}: {body}");
        let secs: u64 = retry.expect("Retry-After").parse().unwrap();
        assert!((1..=60).contains(&secs), "{what}: {secs}");
    }
    // The header strategy's failures count locally as well.
    for _ in 0..3 {
        assert_eq!(call(&app, pass_req("eve", "guess")).await.0, 401);
    }
    assert_eq!(call(&app, login_req("eve", RIGHT)).await.0, 429);
    // Nothing reached the shared store, and the outage was logged once.
    assert_eq!(shared_count(&store, "guard:user:ada").await, 1);
    assert_eq!(shared_count(&store, "guard:user:eve").await, 0);
    assert_eq!(captured.lines_with("WARN", OUTAGE_BEGINS), 1);
    assert_eq!(captured.lines_with("INFO", OUTAGE_ENDS), 0);

    // The store is back: no restart. Its end is logged once; failures count
    // in the shared store again; local lockouts last until their window ends.
    store.come_back();
    assert_eq!(call(&app, login_req("carl", "guess")).await.0, 401);
    assert!(!guard.is_falling_back());
    assert_eq!(captured.lines_with("INFO", OUTAGE_ENDS), 1);
    assert_eq!(shared_count(&store, "guard:user:carl").await, 1);
    assert_eq!(call(&app, login_req("ada", RIGHT)).await.0, 429);
    assert_eq!(call(&app, login_req("bob", RIGHT)).await.0, 200);
    assert_eq!(captured.lines_with("INFO", OUTAGE_ENDS), 1);

    // A second outage is a second warning, and only one.
    store.go_down();
    for _ in 0..3 {
        assert_eq!(call(&app, login_req("dan", "guess")).await.0, 401);
    }
    assert_eq!(captured.lines_with("WARN", OUTAGE_BEGINS), 2);
}

#[actix_web::test]
async fn local_fallback_counts_expire_with_their_window() {
    let store = FlakyStore::new();
    let app = app(guard(
        &store,
        GuardFailurePolicy::LocalFallback,
        Duration::from_secs(1),
    ))
    .await;
    store.go_down();
    for _ in 0..3 {
        assert_eq!(call(&app, login_req("ada", "guess")).await.0, 401);
    }
    let (status, retry, _) = call(&app, login_req("ada", RIGHT)).await;
    assert_eq!((status, retry.as_deref()), (429, Some("1")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(call(&app, login_req("ada", RIGHT)).await.0, 200);
}
