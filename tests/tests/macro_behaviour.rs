//! What `#[authenticate]` generates, observed from outside: placement,
//! ordering against the body, optional profiles, application types, the
//! scope middleware and tracing.

mod common;

use std::future::{Ready, ready};
use std::io::{Read, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::dev::Payload;
use actix_web::test as at;
use actix_web::{App, FromRequest, HttpRequest, HttpResponse, HttpServer, get, post, web};
use auth_core::{
    AuthError, AuthOutcome, Authenticated, AuthenticationMiddleware, Challenge, FromProfile,
    StrategyRegistry, UserProfile, from_fn,
};
use auth_macros::authenticate;
use serde::Deserialize;
use serde_json::{Value, json};

/// Accepts `Authorization: Token <user>`; `Token` alone is malformed,
/// `Token bad` is rejected. Counts its calls.
fn token_strategy(calls: Arc<AtomicUsize>) -> auth_core::FnStrategy {
    named_token_strategy("token", calls)
}

fn named_token_strategy(name: &'static str, calls: Arc<AtomicUsize>) -> auth_core::FnStrategy {
    from_fn(
        name,
        move |req: &HttpRequest, opts: &auth_core::StrategyOptions| {
            calls.fetch_add(1, Ordering::SeqCst);
            let header = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let role = opts.get_str("grant_role").map(str::to_owned);
            async move {
                let Some(value) = header else {
                    return Ok(AuthOutcome::NotApplicable);
                };
                let Some(rest) = value.strip_prefix("Token") else {
                    return Ok(AuthOutcome::NotApplicable);
                };
                match rest.trim() {
                    "" => Err(AuthError::invalid_request("empty token")),
                    "bad" => Err(AuthError::invalid_token("unknown token")),
                    user => {
                        let mut profile = UserProfile::new(user);
                        if let Some(role) = role {
                            profile = profile.with_roles([role]);
                        }
                        Ok(AuthOutcome::Authenticated(profile))
                    }
                }
            }
        },
    )
    .with_challenge(Challenge::new("Token").param("realm", "tests"))
}

fn registry(calls: Arc<AtomicUsize>) -> StrategyRegistry {
    StrategyRegistry::builder()
        .register(token_strategy(calls))
        .build()
        .unwrap()
}

// ---- placement ----------------------------------------------------------

#[get("/below")]
#[authenticate("token")]
async fn below_route_attribute(user: UserProfile) -> String {
    user.id.clone()
}

#[authenticate("token")]
#[get("/above")]
async fn above_route_attribute(user: UserProfile) -> String {
    user.id.clone()
}

#[get("/no-profile-argument")]
#[authenticate("token")]
async fn no_profile_argument() -> &'static str {
    "secret"
}

#[authenticate("token")]
async fn resource_handler(path: web::Path<u32>, user: UserProfile) -> String {
    format!("{}:{}", user.id, path.into_inner())
}

#[actix_web::test]
async fn works_above_and_below_route_attributes_and_on_resources() {
    let app = at::init_service(
        App::new()
            .app_data(registry(Default::default()))
            .service(below_route_attribute)
            .service(above_route_attribute)
            .service(no_profile_argument)
            .service(web::resource("/items/{id}").route(web::get().to(resource_handler))),
    )
    .await;
    for uri in ["/below", "/above", "/no-profile-argument", "/items/7"] {
        let resp = at::call_service(&app, at::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), 401, "{uri} must be protected");
        let req = at::TestRequest::get()
            .uri(uri)
            .insert_header(("authorization", "Token ada"));
        let resp = at::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), 200, "{uri}");
    }
    let req = at::TestRequest::get()
        .uri("/items/7")
        .insert_header(("authorization", "Token ada"));
    assert_eq!(
        at::call_and_read_body(&app, req.to_request()).await,
        "ada:7"
    );
}

// ---- authentication before the body ------------------------------------

static BODY_EXTRACTOR_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An extractor that records that it ran (it would read the body).
struct BodyProbe;

impl FromRequest for BodyProbe {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;
    fn from_request(_: &HttpRequest, _: &mut Payload) -> Self::Future {
        BODY_EXTRACTOR_RUNS.fetch_add(1, Ordering::SeqCst);
        ready(Ok(BodyProbe))
    }
}

#[derive(Deserialize)]
struct NewTodo {
    title: String,
}

#[post("/probe")]
#[authenticate("token")]
async fn probe(_body: BodyProbe) -> &'static str {
    "read"
}

#[post("/todos")]
#[authenticate("token")]
async fn create(user: UserProfile, todo: web::Json<NewTodo>) -> HttpResponse {
    HttpResponse::Created().json(json!({"owner": user.id, "title": todo.title}))
}

#[actix_web::test]
async fn no_extractor_runs_before_authentication() {
    let app = at::init_service(
        App::new()
            .app_data(registry(Default::default()))
            .service(probe),
    )
    .await;
    let before = BODY_EXTRACTOR_RUNS.load(Ordering::SeqCst);
    let req = at::TestRequest::post()
        .uri("/probe")
        .set_payload(vec![b'x'; 1024]);
    let resp = at::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(BODY_EXTRACTOR_RUNS.load(Ordering::SeqCst), before);

    let req = at::TestRequest::post()
        .uri("/probe")
        .insert_header(("authorization", "Token ada"));
    let resp = at::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(BODY_EXTRACTOR_RUNS.load(Ordering::SeqCst), before + 1);
}

#[actix_web::test]
async fn missing_token_beats_an_invalid_body() {
    let app = at::init_service(
        App::new()
            .app_data(registry(Default::default()))
            .service(create),
    )
    .await;
    let req = at::TestRequest::post()
        .uri("/todos")
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    let resp = at::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), 401);

    // With a token, the same body is the handler's problem: 400.
    let req = at::TestRequest::post()
        .uri("/todos")
        .insert_header(("authorization", "Token ada"))
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json");
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 400);

    let req = at::TestRequest::post()
        .uri("/todos")
        .insert_header(("authorization", "Token ada"))
        .set_json(json!({"title": "milk"}));
    let body: Value = at::call_and_read_body_json(&app, req.to_request()).await;
    assert_eq!(body, json!({"owner": "ada", "title": "milk"}));
}

/// A real server on 127.0.0.1: the client announces a 10 MB JSON body and
/// sends only its first kilobyte. The 401 arrives anyway, which proves the
/// server answered without reading the body.
#[actix_web::test]
async fn unauthenticated_10_mb_post_gets_401_without_the_body_being_read() {
    let calls = Arc::new(AtomicUsize::new(0));
    let reg = registry(calls);
    let server = HttpServer::new(move || App::new().app_data(reg.clone()).service(create))
        .workers(1)
        .bind(("127.0.0.1", 0))
        .unwrap();
    let addr = server.addrs()[0];
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let response = web::block(move || {
        let mut stream = std::net::TcpStream::connect(addr).unwrap();
        // Bounds the test if the server wrongly waits for the body.
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(20)))
            .unwrap();
        let head = format!(
            "POST /todos HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            10 * 1024 * 1024
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&[b' '; 1024]).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = stream.read(&mut buf).expect("a response before the body was sent");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    })
    .await
    .unwrap();
    handle.stop(true).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("www-authenticate: token realm=\"tests\"")
    );
}

// ---- optional authentication and application types ---------------------

#[get("/maybe")]
#[authenticate("token")]
async fn maybe(user: Option<UserProfile>) -> String {
    user.map_or_else(|| "anonymous".to_owned(), |u| u.id.clone())
}

#[derive(Debug)]
struct Admin {
    id: String,
}

impl FromProfile for Admin {
    fn from_profile(profile: &UserProfile) -> Result<Self, AuthError> {
        if profile.has_role("admin") {
            Ok(Admin {
                id: profile.id.clone(),
            })
        } else {
            Err(AuthError::forbidden("administrators only"))
        }
    }
}

#[get("/admin-type")]
#[authenticate("token"(grant_role = "admin"))]
async fn admin_type(Authenticated(admin): Authenticated<Admin>) -> String {
    admin.id
}

#[get("/admin-type-no-grant")]
#[authenticate("token")]
async fn admin_type_no_grant(admin: Authenticated<Admin>) -> String {
    admin.0.id
}

#[actix_web::test]
async fn option_profile_makes_authentication_optional_but_not_lax() {
    let app = at::init_service(
        App::new()
            .app_data(registry(Default::default()))
            .service(maybe),
    )
    .await;
    let body =
        at::call_and_read_body(&app, at::TestRequest::get().uri("/maybe").to_request()).await;
    assert_eq!(body, "anonymous");
    let req = at::TestRequest::get()
        .uri("/maybe")
        .insert_header(("authorization", "Token ada"));
    assert_eq!(at::call_and_read_body(&app, req.to_request()).await, "ada");
    let req = at::TestRequest::get()
        .uri("/maybe")
        .insert_header(("authorization", "Token bad"));
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 401);
    let req = at::TestRequest::get()
        .uri("/maybe")
        .insert_header(("authorization", "Token"));
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 400);
}

#[actix_web::test]
async fn application_types_and_per_handler_options() {
    let app = at::init_service(
        App::new()
            .app_data(registry(Default::default()))
            .service(admin_type)
            .service(admin_type_no_grant),
    )
    .await;
    let req = at::TestRequest::get()
        .uri("/admin-type")
        .insert_header(("authorization", "Token ada"));
    assert_eq!(at::call_and_read_body(&app, req.to_request()).await, "ada");
    let req = at::TestRequest::get()
        .uri("/admin-type-no-grant")
        .insert_header(("authorization", "Token ada"));
    let resp = at::call_service(&app, req.to_request()).await;
    assert_eq!(resp.status(), 403);
    let body: Value = at::read_body_json(resp).await;
    assert_eq!(body["error"]["message"], "administrators only");
}

// ---- the scope middleware -----------------------------------------------

#[get("/annotated")]
#[authenticate("token")]
async fn annotated_in_scope(user: UserProfile) -> String {
    user.id.clone()
}

async fn plain_in_scope(user: UserProfile) -> String {
    format!("plain:{}", user.id)
}

async fn health() -> &'static str {
    "ok"
}

#[actix_web::test]
async fn scope_middleware_protects_everything_and_runs_strategies_once() {
    let calls = Arc::new(AtomicUsize::new(0));
    let app = at::init_service(
        App::new().app_data(registry(calls.clone())).service(
            web::scope("/api")
                .wrap(AuthenticationMiddleware::with(["token"]).public(["/api/health"]))
                .service(annotated_in_scope)
                .route("/plain", web::get().to(plain_in_scope))
                .route("/health", web::get().to(health)),
        ),
    )
    .await;

    for uri in ["/api/annotated", "/api/plain", "/api/unrouted"] {
        let resp = at::call_service(&app, at::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), 401, "{uri}");
        assert_eq!(
            resp.headers().get("www-authenticate").unwrap(),
            r#"Token realm="tests""#
        );
    }
    let resp = at::call_service(&app, at::TestRequest::get().uri("/api/health").to_request()).await;
    assert_eq!(resp.status(), 200);

    calls.store(0, Ordering::SeqCst);
    let req = at::TestRequest::get()
        .uri("/api/annotated")
        .insert_header(("authorization", "Token ada"));
    assert_eq!(at::call_and_read_body(&app, req.to_request()).await, "ada");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the strategy ran twice");

    let req = at::TestRequest::get()
        .uri("/api/plain")
        .insert_header(("authorization", "Token bob"));
    assert_eq!(
        at::call_and_read_body(&app, req.to_request()).await,
        "plain:bob"
    );
}

#[actix_web::test]
async fn profile_extractor_outside_authentication_fails_closed() {
    let app = at::init_service(
        App::new()
            .app_data(registry(Default::default()))
            .route("/leak", web::get().to(plain_in_scope)),
    )
    .await;
    let resp = at::call_service(&app, at::TestRequest::get().uri("/leak").to_request()).await;
    assert_eq!(resp.status(), 401);
}

// ---- tracing ------------------------------------------------------------

mod spans {
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing_subscriber::layer::{Context, Layer};

    /// Every field value recorded on `auth.strategy` spans, as
    /// `(span id, field, value)`.
    #[derive(Clone, Default)]
    pub(crate) struct Recorder(pub(crate) Arc<Mutex<Vec<(u64, String, String)>>>);

    struct Collect<'a>(u64, &'a mut Vec<(u64, String, String)>);

    impl Visit for Collect<'_> {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.1
                .push((self.0, field.name().to_owned(), format!("{value:?}")));
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            self.1
                .push((self.0, field.name().to_owned(), value.to_owned()));
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Recorder {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
            if attrs.metadata().name() == "auth.strategy" {
                attrs.record(&mut Collect(id.into_u64(), &mut self.0.lock().unwrap()));
            }
        }
        fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
            values.record(&mut Collect(id.into_u64(), &mut self.0.lock().unwrap()));
        }
    }
}

#[get("/traced")]
#[authenticate("traced")]
async fn traced(user: UserProfile) -> String {
    user.id.clone()
}

#[actix_web::test]
async fn one_span_per_strategy_attempt_with_name_and_outcome_and_no_credential() {
    use tracing_subscriber::layer::SubscriberExt;

    // A global subscriber: scoped ones race with tracing's per-callsite
    // interest cache when other tests hit the same callsite first. Only this
    // test uses the strategy name "traced", so other tests' spans are ignored.
    let recorder = spans::Recorder::default();
    let subscriber = tracing_subscriber::registry()
        .with(recorder.clone())
        .with(tracing_subscriber::filter::LevelFilter::TRACE);
    tracing::subscriber::set_global_default(subscriber).expect("only this test sets one");
    tracing::callsite::rebuild_interest_cache();

    let calls = Arc::new(AtomicUsize::new(0));
    let strategy = named_token_strategy("traced", calls);
    let reg = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(reg).service(traced)).await;
    let req = at::TestRequest::get()
        .uri("/traced")
        .insert_header(("authorization", "Token bad"));
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 401);
    let req = at::TestRequest::get()
        .uri("/traced")
        .insert_header(("authorization", "Token s3cr3t-user"));
    assert_eq!(at::call_service(&app, req.to_request()).await.status(), 200);

    let fields = recorder.0.lock().unwrap().clone();
    let our_spans: Vec<u64> = fields
        .iter()
        .filter(|(_, k, v)| k == "strategy" && v == "traced")
        .map(|(id, _, _)| *id)
        .collect();
    assert_eq!(our_spans.len(), 2, "one span per attempt: {fields:?}");
    let outcomes: Vec<&str> = our_spans
        .iter()
        .map(|id| {
            fields
                .iter()
                .find(|(i, k, _)| i == id && k == "outcome")
                .map(|(_, _, v)| v.as_str())
                .expect("every attempt records its outcome")
        })
        .collect();
    assert_eq!(outcomes, ["INVALID_TOKEN", "authenticated"]);
    assert!(
        fields
            .iter()
            .all(|(_, _, v)| !v.contains("s3cr3t") && !v.contains("Token")),
        "a credential reached a span: {fields:?}"
    );
}
