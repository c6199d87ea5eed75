//! Issue 16.1: `DefaultPolicy` serves declared routes only; undeclared
//! handlers never run, whatever the path, method, scope or fallback.

use std::sync::atomic::{AtomicUsize, Ordering};

use actix_http::Request;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpRequest, HttpResponse, get, guard, post, test, web};
use auth_core::{
    AuthError, AuthOutcome, AuthenticationMiddleware, AuthenticationStrategy, Challenge,
    DefaultPolicy, PrincipalKind, StrategyOptions, StrategyRegistry, UserProfile, async_trait,
    policy_report_in,
};
use auth_macros::authenticate;

/// `X-User: alice` is the user `alice`; `X-User: service:indexer` the
/// service `indexer`.
struct Key;

#[async_trait(?Send)]
impl AuthenticationStrategy for Key {
    fn name(&self) -> &str {
        "key"
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(value) = req.headers().get("x-user").and_then(|v| v.to_str().ok()) else {
            return Ok(AuthOutcome::NotApplicable);
        };
        Ok(AuthOutcome::Authenticated(
            match value.strip_prefix("service:") {
                Some(name) => UserProfile::new(name).with_kind(PrincipalKind::Service),
                None => UserProfile::new(value),
            },
        ))
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer("api", failure))
    }
}

fn registry() -> StrategyRegistry {
    StrategyRegistry::builder().register(Key).build().unwrap()
}

// Declared handlers: the attribute above the route attribute (route known)...
#[authenticate("key")]
#[get("/todos")]
async fn todos(user: UserProfile) -> String {
    format!("todos of {}", user.id)
}

#[authenticate(skip)]
#[get("/health")]
async fn health() -> &'static str {
    "healthy"
}

#[authenticate("key", principal = "service")]
#[post("/reindex")]
async fn reindex(user: UserProfile) -> String {
    format!("reindexed by {}", user.id)
}

#[authenticate("key")]
#[get("/items/{id}")]
async fn item(path: web::Path<(String, u32)>) -> String {
    format!("item {}", path.1)
}

#[authenticate(skip)]
#[get("/shared")]
async fn shared_get() -> &'static str {
    "shared get"
}

#[authenticate("key")]
#[post("/shared")]
async fn shared_post() -> &'static str {
    "shared post"
}

#[authenticate(skip)]
#[get("/guarded")]
async fn guarded_public() -> &'static str {
    "guarded public"
}

// ... and below it (route unknown, recognised by the resource's name).
#[get("/below")]
#[authenticate("key")]
async fn below() -> &'static str {
    "below"
}

// Registered with `web::resource(..).name("assets")`.
#[authenticate(skip)]
async fn assets(req: HttpRequest) -> String {
    format!("asset {}", req.match_info().query("file"))
}

#[authenticate(skip)]
async fn fallback() -> HttpResponse {
    HttpResponse::NotFound().body("declared fallback")
}

/// How often the undeclared handlers of one App ran: it must stay at zero
/// except where the policy documents that they run (a guard routing past a
/// declared resource).
#[derive(Default)]
struct Runs(AtomicUsize);

impl Runs {
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

async fn undeclared(runs: web::Data<Runs>) -> HttpResponse {
    runs.0.fetch_add(1, Ordering::SeqCst);
    HttpResponse::Ok().body("undeclared")
}

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(todos)
        .service(health)
        .service(reindex)
        .service(below)
        .service(shared_get)
        .service(shared_post)
        // Shares /shared: POST is declared by `shared_post`, DELETE nowhere.
        .service(web::resource("/shared").route(web::delete().to(undeclared)))
        // Registered first: its guard picks it over the declared one.
        .service(
            web::resource("/guarded")
                .guard(guard::Header("x-admin", "1"))
                .to(undeclared),
        )
        .service(guarded_public)
        .service(web::scope("/api/{tenant}").service(item))
        // Ends like the declared `/api/{tenant}/items/{id}`.
        .service(web::scope("/admin").route("/items/{id}", web::get().to(undeclared)))
        .service(web::resource("/plain").to(undeclared))
        .service(web::resource("/static/{file:.*}").to(undeclared))
        .service(web::resource("/assets/{file:.*}").name("assets").to(assets))
        .service(
            web::scope("/mw")
                .wrap(AuthenticationMiddleware::with(["key"]))
                .service(web::resource("/below").name("below").to(undeclared)),
        );
}

type Body = actix_web::body::EitherBody<actix_web::body::BoxBody>;

async fn app(
    policy: DefaultPolicy,
) -> (
    impl Service<Request, Response = ServiceResponse<Body>, Error = actix_web::Error>,
    web::Data<Runs>,
) {
    let runs = web::Data::new(Runs::default());
    let app = test::init_service(
        App::new()
            .app_data(registry())
            .app_data(runs.clone())
            .wrap(policy)
            .configure(routes)
            .default_service(web::to(undeclared)),
    )
    .await;
    (app, runs)
}

fn policy() -> DefaultPolicy {
    DefaultPolicy::in_module(module_path!())
}

/// The status, the body and the `WWW-Authenticate` challenges.
async fn call<S>(app: &S, req: test::TestRequest) -> (u16, String, Vec<String>)
where
    S: Service<Request, Response = ServiceResponse<Body>, Error = actix_web::Error>,
{
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    let challenges = auth_test_support::www_authenticate(resp.headers());
    let body = test::read_body(resp).await;
    (
        status,
        String::from_utf8(body.to_vec()).unwrap(),
        challenges,
    )
}

fn assert_not_found(status: u16, body: &str, what: &str) {
    assert_eq!(status, 404, "{what}: {body}");
    let json: serde_json::Value = serde_json::from_str(body).expect(what);
    assert_eq!(json["error"]["code"], "NOT_FOUND", "{what}");
    assert!(!body.contains("undeclared"), "{what}");
}

#[actix_web::test]
async fn declared_routes_decide_for_themselves() {
    let (app, runs) = app(policy()).await;
    let user = |r: test::TestRequest| r.insert_header(("x-user", "alice"));
    for (req, status, body) in [
        (test::TestRequest::get().uri("/health"), 200, "healthy"),
        (test::TestRequest::get().uri("/h%65alth"), 200, "healthy"),
        (
            user(test::TestRequest::get().uri("/todos")),
            200,
            "todos of alice",
        ),
        (user(test::TestRequest::get().uri("/below")), 200, "below"),
        (
            user(test::TestRequest::get().uri("/api/acme/items/7")),
            200,
            "item 7",
        ),
        (test::TestRequest::get().uri("/shared"), 200, "shared get"),
        (
            user(test::TestRequest::post().uri("/shared")),
            200,
            "shared post",
        ),
        (
            test::TestRequest::get().uri("/guarded"),
            200,
            "guarded public",
        ),
        (
            test::TestRequest::get().uri("/assets/app.css"),
            200,
            "asset app.css",
        ),
        (
            test::TestRequest::post()
                .uri("/reindex")
                .insert_header(("x-user", "service:indexer")),
            200,
            "reindexed by indexer",
        ),
    ] {
        let (got, text, _) = call(&app, req).await;
        assert_eq!((got, text.as_str()), (status, body));
    }
    assert_eq!(runs.get(), 0);
}

#[actix_web::test]
async fn a_declared_route_without_credentials_is_its_own_401_not_a_404() {
    let (app, _) = app(policy()).await;
    for req in [
        test::TestRequest::get().uri("/todos"),
        test::TestRequest::get().uri("/below"),
        test::TestRequest::get().uri("/api/acme/items/7"),
        test::TestRequest::post().uri("/shared"),
        test::TestRequest::post().uri("/reindex"),
    ] {
        let (status, body, challenges) = call(&app, req).await;
        assert_eq!(status, 401, "{body}");
        assert_eq!(challenges, [r#"Bearer realm="api""#]);
    }
}

#[actix_web::test]
async fn a_service_only_route_refuses_users_with_403() {
    let (app, _) = app(policy()).await;
    for user in ["alice", "service", "bob"] {
        let req = test::TestRequest::post()
            .uri("/reindex")
            .insert_header(("x-user", user));
        let (status, body, _) = call(&app, req).await;
        assert_eq!(status, 403, "{user}");
        assert!(body.contains("WRONG_PRINCIPAL_KIND"), "{body}");
    }
}

/// Undeclared routes, however reached, answer 404 and never run.
#[actix_web::test]
async fn undeclared_routes_are_404_and_never_run() {
    let (app, runs) = app(policy()).await;
    let cases = [
        // `web::resource(..).to(..)` without a declared handler, any method.
        test::TestRequest::get().uri("/plain"),
        test::TestRequest::post().uri("/plain"),
        test::TestRequest::get().uri("/%70lain"),
        // Static files through an undeclared handler.
        test::TestRequest::get().uri("/static/app.css"),
        test::TestRequest::get().uri("/static/../todos"),
        // A path shared with declared routes, for a method none declares.
        test::TestRequest::delete().uri("/shared"),
        test::TestRequest::put().uri("/shared"),
        // A scope whose route ends like a declared one in another scope.
        test::TestRequest::get().uri("/admin/items/7"),
        // A declared handler's path with a method it does not declare.
        test::TestRequest::post().uri("/todos"),
        test::TestRequest::default()
            .method(actix_web::http::Method::HEAD)
            .uri("/todos"),
        test::TestRequest::default()
            .method(actix_web::http::Method::from_bytes(b"FOO").unwrap())
            .uri("/health"),
        // Paths no resource matches: the App's (undeclared) default service.
        test::TestRequest::get().uri("/nowhere"),
        test::TestRequest::get().uri("/todos/"),
        test::TestRequest::get().uri("//todos"),
        test::TestRequest::get().uri("/todos;x"),
        test::TestRequest::get().uri("/TODOS"),
        test::TestRequest::get().uri("/api/acme/items"),
    ];
    for req in cases {
        let (status, body, _) = call(&app, req.insert_header(("x-user", "alice"))).await;
        assert_not_found(status, &body, "undeclared");
    }
    assert_eq!(runs.get(), 0);
}

/// A handler registered under a declared handler's name inside a scope whose
/// middleware refuses: the middleware's 401 is kept, not turned into a 404.
#[actix_web::test]
async fn an_inner_middleware_refusal_is_kept() {
    let (app, _) = app(policy()).await;
    let (status, _, challenges) = call(&app, test::TestRequest::get().uri("/mw/below")).await;
    assert_eq!(status, 401);
    assert_eq!(challenges, [r#"Bearer realm="api""#]);
}

/// A guard routes past the declared resource to an undeclared one: the
/// policy let the request through before routing (the path and method are
/// declared), the undeclared handler runs, and its answer is replaced.
#[actix_web::test]
async fn an_undeclared_handler_chosen_by_a_guard_does_not_answer() {
    let (app, runs) = app(policy()).await;
    for user in [None, Some("alice"), Some("service:indexer")] {
        let mut req = test::TestRequest::get()
            .uri("/guarded")
            .insert_header(("x-admin", "1"));
        if let Some(user) = user {
            req = req.insert_header(("x-user", user));
        }
        let (status, body, _) = call(&app, req).await;
        assert_not_found(status, &body, "guard");
    }
    // `/mw/below` with credentials: named like the declared `below`, so let
    // through, but its handler is not declared.
    let req = test::TestRequest::get()
        .uri("/mw/below")
        .insert_header(("x-user", "alice"));
    let (status, body, _) = call(&app, req).await;
    assert_not_found(status, &body, "name clash");
    // It ran each time; its answer was never sent.
    assert_eq!(runs.get(), 4);
}

#[actix_web::test]
async fn the_default_service_runs_only_when_asked_and_answers_only_when_declared() {
    // Asked, but undeclared: it runs, its answer is replaced.
    let (app, _) = app(policy().with_default_service()).await;
    let (status, body, _) = call(&app, test::TestRequest::get().uri("/nowhere")).await;
    assert_not_found(status, &body, "undeclared default service");

    // Asked and declared (`#[authenticate(skip)]`): its own answer.
    let app = test::init_service(
        App::new()
            .app_data(registry())
            .app_data(web::Data::new(Runs::default()))
            .wrap(policy().with_default_service())
            .configure(routes)
            .default_service(web::to(fallback)),
    )
    .await;
    for uri in ["/nowhere", "/favicon.ico", "/todos/", "/api/acme/items"] {
        let (status, body, _) = call(&app, test::TestRequest::get().uri(uri)).await;
        assert_eq!((status, body.as_str()), (404, "declared fallback"), "{uri}");
    }
    // Undeclared routes stay refused by the policy, not the fallback.
    let (status, body, _) = call(&app, test::TestRequest::get().uri("/plain")).await;
    assert_not_found(status, &body, "undeclared route");
}

#[actix_web::test]
async fn the_opt_out_is_explicit() {
    let (app, _) = app(policy().dangerously_disable_default_policy()).await;
    let (status, body, _) = call(&app, test::TestRequest::get().uri("/plain")).await;
    assert_eq!((status, body.as_str()), (200, "undeclared"));
    let (status, _, _) = call(&app, test::TestRequest::get().uri("/todos")).await;
    assert_eq!(status, 401);
}

#[actix_web::test]
async fn the_report_lists_every_route_and_warns_about_the_undeclared() {
    let app = App::new()
        .app_data(registry())
        .app_data(web::Data::new(Runs::default()))
        .configure(routes)
        .default_service(web::to(undeclared));
    let report = policy_report_in(app, module_path!()).await.unwrap();
    let routes = report.routes().unwrap();
    let row = |pattern: &str| {
        routes
            .iter()
            .filter(|r| r.pattern() == pattern)
            .map(|r| (r.is_declared(), r.methods()))
            .collect::<Vec<_>>()
    };
    assert_eq!(row("/todos"), [(true, Some(vec!["GET"]))]);
    assert_eq!(row("/below"), [(true, None)]);
    assert_eq!(row("/api/{tenant}/items/{id}"), [(true, Some(vec!["GET"]))]);
    assert_eq!(
        row("/shared"),
        [
            (true, Some(vec!["GET"])),
            (true, Some(vec!["POST"])),
            (false, Some(vec![]))
        ]
    );
    assert_eq!(row("/assets/{file:.*}"), [(true, None)]);
    for undeclared in ["/plain", "/static/{file:.*}", "/admin/items/{id}"] {
        assert_eq!(row(undeclared), [(false, Some(vec![]))], "{undeclared}");
        assert!(
            report
                .warnings()
                .iter()
                .any(|w| w.starts_with(undeclared) && w.contains("refuses it with 404")),
            "{undeclared}: {:#?}",
            report.warnings()
        );
    }
    for shared in [
        "/shared is served by several",
        "/guarded is served by several",
    ] {
        assert!(
            report.warnings().iter().any(|w| w.starts_with(shared)),
            "{shared}: {:#?}",
            report.warnings()
        );
    }
    assert!(
        report
            .warnings()
            .iter()
            .any(|w| w.contains("\"below\" is used by /below, /mw/below")),
        "{:#?}",
        report.warnings()
    );
    // Every declared handler of this module is routed in this App.
    let unrouted: Vec<&str> = report.unrouted().iter().map(|h| h.function()).collect();
    assert_eq!(unrouted, ["fallback"]);
    let text = report.to_string();
    assert!(text.contains("key; principal: service"), "{text}");
    assert!(text.contains("UNDECLARED"), "{text}");
}

/// Routes a library registers, under a scope its `AuthenticationMiddleware`
/// protects, are declared by their prefix.
#[actix_web::test]
async fn middleware_scopes_are_declared_by_prefix() {
    let runs = web::Data::new(Runs::default());
    let app = test::init_service(
        App::new()
            .app_data(registry())
            .app_data(runs.clone())
            .wrap(
                policy()
                    .middleware_scope("/lib/{tenant}/")
                    .middleware_scope("/forgot"),
            )
            .service(
                web::scope("/lib/{tenant}")
                    .wrap(AuthenticationMiddleware::with(["key"]))
                    .route("", web::get().to(undeclared))
                    .route("/books/{id}", web::get().to(undeclared)),
            )
            // Ends like a middleware scope, is not one.
            .service(web::scope("/library").route("/books/{id}", web::get().to(undeclared)))
            // Declared as a middleware scope, but nothing wraps it.
            .service(web::scope("/forgot").route("/x", web::get().to(undeclared))),
    )
    .await;
    for uri in ["/lib/acme", "/lib/acme/books/1"] {
        let (status, _, challenges) = call(&app, test::TestRequest::get().uri(uri)).await;
        assert_eq!((status, challenges.len()), (401, 1), "{uri}");
        let req = test::TestRequest::get()
            .uri(uri)
            .insert_header(("x-user", "alice"));
        let (status, body, _) = call(&app, req).await;
        assert_eq!((status, body.as_str()), (200, "undeclared"), "{uri}");
    }
    assert_eq!(runs.get(), 2);
    for uri in ["/library/books/1", "/lib/acme/books", "/libacme/books/1"] {
        let req = test::TestRequest::get()
            .uri(uri)
            .insert_header(("x-user", "alice"));
        let (status, body, _) = call(&app, req).await;
        assert_not_found(status, &body, uri);
    }
    assert_eq!(runs.get(), 2);
    // The forgotten middleware: the handler runs, its answer is not sent.
    let (status, body, _) = call(&app, test::TestRequest::get().uri("/forgot/x")).await;
    assert_not_found(status, &body, "forgotten middleware");
    assert_eq!(runs.get(), 3);
}

#[::core::prelude::v1::test]
#[should_panic(expected = "is not a route pattern")]
fn a_middleware_scope_is_a_pattern() {
    let _ = DefaultPolicy::new().middleware_scope("lib");
}
