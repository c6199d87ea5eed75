//! Issue 18.1: `AuthenticationMiddleware` decides "public" on what the router
//! reads (the decoded path, the resource it picks), never on the raw path.

use actix_http::Request;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, get, post, test, web};
use auth_core::{AuthenticationMiddleware, UserProfile};

use crate::fixtures::{
    challenges, health, protected_optional, protected_plain, protected_required, public_page,
    registry,
};

/// Where an anonymous request must land.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Anonymous {
    /// Refused by the middleware's policy.
    Refused,
    /// Answered by a public handler with this body.
    Public(&'static str),
}

use Anonymous::{Public, Refused};

/// The protected routes (registered before the public pattern) and the body
/// their handler answers for an authenticated `alice`.
const PROTECTED: [(&str, &str); 3] = [
    ("internal", "protected"),
    ("optional", "protected-optional:alice"),
    ("required", "protected-required:alice"),
];

fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/pages/internal", web::get().to(protected_plain))
        .route("/pages/optional", web::get().to(protected_optional))
        .route("/pages/required", web::get().to(protected_required))
        .route("/pages/{name}", web::get().to(public_page))
        .route("/health", web::get().to(health));
}

fn middleware(prefix: &str) -> AuthenticationMiddleware {
    AuthenticationMiddleware::with(["key"]).public([
        format!("{prefix}/pages/{{name}}"),
        format!("{prefix}/health"),
    ])
}

/// Every way of writing a protected path that the router still sends to
/// the protected route: percent-encoding of unreserved characters, in lower,
/// upper and mixed case, of one character or of all of them.
fn encodings_of(name: &str) -> Vec<String> {
    let hex = |c: char, upper: bool| {
        if upper {
            format!("%{:02X}", c as u32)
        } else {
            format!("%{:02x}", c as u32)
        }
    };
    let first = name.chars().next().unwrap();
    let rest = &name[1..];
    let all_lower: String = name.chars().map(|c| hex(c, false)).collect();
    let all_upper: String = name.chars().map(|c| hex(c, true)).collect();
    let mixed: String = name
        .chars()
        .enumerate()
        .map(|(i, c)| hex(c, i % 2 == 0))
        .collect();
    let pages: String = "pages".chars().map(|c| hex(c, true)).collect();
    let last = name.chars().last().unwrap();
    vec![
        format!("/pages/{name}"),
        format!("/pages/{}{rest}", hex(first, false)),
        format!("/pages/{}{rest}", hex(first, true)),
        format!("/pages/{}{}", &name[..name.len() - 1], hex(last, false)),
        format!("/pages/{all_lower}"),
        format!("/pages/{all_upper}"),
        format!("/pages/{mixed}"),
        format!("/{pages}/{name}"),
        format!("/{pages}/{mixed}"),
        format!("/p%61ges/{}{rest}", hex(first, true)),
    ]
}

/// Writings that do not reach the protected route, with where the router
/// does send them (a public handler, or nowhere: then the policy answers).
fn detours_of(name: &str) -> Vec<(String, Anonymous)> {
    let leaked = |body: String| Public(Box::leak(body.into_boxed_str()));
    let first = name.chars().next().unwrap();
    let rest = &name[1..];
    vec![
        // Slashes: not the same route for the router either.
        (format!("/pages/{name}/"), Refused),
        (format!("//pages/{name}"), Refused),
        (format!("/pages//{name}"), Refused),
        (format!("/pages%2F{name}"), Refused),
        (format!("/pages%2f{name}"), Refused),
        // Dot segments are not resolved by the router.
        (format!("/pages/x/%2e%2e/{name}"), Refused),
        (format!("/pages/x/../{name}"), Refused),
        (format!("/pages/%2E%2E/pages/{name}"), Refused),
        (format!("/PAGES/{name}"), Refused),
        // An encoded slash stays in the segment: the public pattern.
        (format!("/pages/%2F{name}"), leaked(format!("page:/{name}"))),
        (format!("/pages/%2f{name}"), leaked(format!("page:/{name}"))),
        // Double encoding decodes once only: the public pattern.
        (
            format!("/pages/%25{:02x}{rest}", first as u32),
            leaked(format!("page:%{:02x}{rest}", first as u32)),
        ),
        (
            format!("/pages/%2525{:02X}{rest}", first as u32),
            leaked(format!("page:%25{:02X}{rest}", first as u32)),
        ),
        // `;` parameters are part of the segment for actix-web.
        (
            format!("/pages/{name};x=1"),
            leaked(format!("page:{name};x=1")),
        ),
        (
            format!("/pages/{name}%3Bx"),
            leaked(format!("page:{name};x")),
        ),
        (format!("/pages/{name}%3b"), leaked(format!("page:{name};"))),
    ]
}

/// The literal entry `/health` and the ways of writing it.
fn health_cases() -> Vec<(&'static str, Anonymous)> {
    vec![
        ("/health", Public("healthy")),
        ("/h%65alth", Public("healthy")),
        ("/H%65ALTH", Refused),
        ("/%68%65%61%6c%74%68", Public("healthy")),
        ("/%68%65%61%6C%74%68", Public("healthy")),
        ("/health/", Refused),
        ("//health", Refused),
        ("/health;x=1", Refused),
        ("/health%3B", Refused),
        ("/health%2F", Refused),
        ("/HEALTH", Refused),
        ("/pages/%2e%2e/health", Refused),
        ("/pages/%2e%2e", Public("page:..")),
        ("/pages/%2E%2e", Public("page:..")),
        ("/pages/about", Public("page:about")),
        ("/pages/%61bout", Public("page:about")),
    ]
}

async fn get<S, B>(app: &S, uri: &str, user: Option<&str>) -> (u16, Vec<String>, String)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut req = test::TestRequest::get().uri(uri);
    if let Some(user) = user {
        req = req.insert_header(("x-user", user));
    }
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    let challenges = challenges(&resp);
    let body = test::read_body(resp).await;
    (
        status,
        challenges,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn assert_anonymous<S, B>(app: &S, uri: &str, expected: Anonymous)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let (status, challenges, body) = get(app, uri, None).await;
    match expected {
        Refused => {
            assert_eq!(status, 401, "{uri} must be refused, got {status} {body}");
            assert_eq!(challenges, [r#"Bearer realm="api""#], "{uri}");
            assert!(!body.contains("protected"), "{uri}: {body}");
        }
        Public(expected) => {
            assert_eq!((status, body.as_str()), (200, expected), "{uri}");
        }
    }
}

/// Runs every case against `app`, whose routes live under `prefix`.
async fn run_cases<S, B>(app: &S, prefix: &str)
where
    S: Service<Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut checked = 0;
    for (name, authenticated_body) in PROTECTED {
        for path in encodings_of(name) {
            let uri = format!("{prefix}{path}");
            assert_anonymous(app, &uri, Refused).await;
            // The same writing with credentials reaches the protected handler:
            // proof that the router does route it there.
            let (status, _, body) = get(app, &uri, Some("alice")).await;
            assert_eq!((status, body.as_str()), (200, authenticated_body), "{uri}");
            checked += 1;
        }
        for (path, expected) in detours_of(name) {
            assert_anonymous(app, &format!("{prefix}{path}"), expected).await;
            checked += 1;
        }
    }
    for (path, expected) in health_cases() {
        assert_anonymous(app, &format!("{prefix}{path}"), expected).await;
        checked += 1;
    }
    assert!(checked > 80, "{checked} cases");
}

#[actix_web::test]
async fn encoded_paths_never_reach_a_protected_route_anonymously_at_app_level() {
    let app = test::init_service(
        App::new()
            .app_data(registry())
            .wrap(middleware(""))
            .configure(routes),
    )
    .await;
    run_cases(&app, "").await;
}

#[actix_web::test]
async fn encoded_paths_never_reach_a_protected_route_anonymously_inside_a_scope() {
    let app = test::init_service(
        App::new()
            .app_data(registry())
            .service(web::scope("/s").wrap(middleware("/s")).configure(routes))
            .route("/outside", web::get().to(health)),
    )
    .await;
    run_cases(&app, "/s").await;
    // The scope's own prefix, encoded, is routed to the scope all the same.
    assert_anonymous(&app, "/%73/pages/%69nternal", Refused).await;
    assert_anonymous(&app, "/%73/pages/%6Fptional", Refused).await;
    assert_anonymous(&app, "/%73/pages/%72equired", Refused).await;
    assert_anonymous(&app, "/%73/h%65alth", Public("healthy")).await;
    assert_anonymous(&app, "/outside", Public("healthy")).await;
}

#[actix_web::test]
async fn nested_scopes_use_the_full_pattern() {
    let app = test::init_service(
        App::new().app_data(registry()).service(
            web::scope("/v1").service(
                web::scope("/{tenant}")
                    .wrap(
                        AuthenticationMiddleware::with(["key"])
                            .public(["/v1/{tenant}/pages/{name}"]),
                    )
                    .configure(routes),
            ),
        ),
    )
    .await;
    assert_anonymous(&app, "/v1/acme/pages/about", Public("page:about")).await;
    assert_anonymous(&app, "/v1/acme/pages/%69nternal", Refused).await;
    assert_anonymous(&app, "/v1/acme/pages/%72equired", Refused).await;
    assert_anonymous(&app, "/v1/%61cme/pages/%6Fptional", Refused).await;
    assert_anonymous(&app, "/v1/acme/health", Refused).await;
}

// A public pattern whose resource a guard (the method guard of `#[post]`)
// refuses, registered before a protected route of the same path: the router
// skips it, which no middleware can know before routing. The policy applies
// after routing: in the `UserProfile` extractor (before the handler) and on
// the response of a handler that takes no profile or an optional one.

#[post("/forms/{name}")]
async fn public_form(name: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(format!("form:{}", name.into_inner()))
}

#[get("/forms/internal")]
async fn internal_form() -> HttpResponse {
    HttpResponse::Ok().body("protected")
}

#[get("/forms/optional")]
async fn optional_form(user: Option<UserProfile>) -> HttpResponse {
    let who = user.map_or_else(|| "anonymous".to_owned(), |u| u.id.clone());
    HttpResponse::Ok().body(format!("protected-optional:{who}"))
}

#[get("/forms/required")]
async fn required_form(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(format!("protected-required:{}", user.id))
}

#[actix_web::test]
async fn a_public_pattern_skipped_by_a_guard_does_not_open_the_route_chosen_instead() {
    for prefix in ["", "/g"] {
        let mw =
            AuthenticationMiddleware::with(["key"]).public([format!("* {prefix}/forms/{{name}}")]);
        let scope = web::scope(prefix)
            .wrap(mw)
            .service(public_form)
            .service(internal_form)
            .service(optional_form)
            .service(required_form);
        let app = test::init_service(App::new().app_data(registry()).service(scope)).await;
        for (name, authenticated_body) in PROTECTED {
            for path in [
                format!("/forms/{name}"),
                format!("/forms/%{:02x}{}", name.as_bytes()[0], &name[1..]),
            ] {
                let uri = format!("{prefix}{path}");
                assert_anonymous(&app, &uri, Refused).await;
                let (status, _, body) = get(&app, &uri, Some("alice")).await;
                assert_eq!((status, body.as_str()), (200, authenticated_body), "{uri}");
            }
            // The public route itself stays public for the method it takes.
            let req = test::TestRequest::post().uri(&format!("{prefix}/forms/{name}"));
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), 200);
            assert_eq!(test::read_body(resp).await, format!("form:{name}"));
        }
    }
}

// With the method in the entry, the middleware knows before routing which
// requests the public route can take: any other method is authenticated
// first, so a protected handler the router would choose instead never runs
// anonymously (its side effect is counted).

static EFFECTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn effect() -> usize {
    EFFECTS.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
}

fn effects() -> usize {
    EFFECTS.load(std::sync::atomic::Ordering::SeqCst)
}

#[post("/notes/{name}")]
async fn public_note(name: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(format!("note:{}", name.into_inner()))
}

async fn delete_note_plain() -> HttpResponse {
    effect();
    HttpResponse::Ok().body("deleted")
}

async fn delete_note_optional(user: Option<UserProfile>) -> HttpResponse {
    effect();
    HttpResponse::Ok().body(format!(
        "deleted-by:{}",
        user.map_or("nobody".into(), |u| u.id.clone())
    ))
}

#[actix_web::test]
async fn a_public_entry_with_a_method_never_lets_another_method_reach_a_protected_handler() {
    for prefix in ["", "/m"] {
        let mw = AuthenticationMiddleware::with(["key"])
            .public([format!("POST {prefix}/notes/{{name}}")]);
        let scope = web::scope(prefix)
            .wrap(mw)
            .service(public_note)
            .route("/notes/plain", web::to(delete_note_plain))
            .route("/notes/optional", web::to(delete_note_optional));
        let app = test::init_service(App::new().app_data(registry()).service(scope)).await;
        for name in ["plain", "optional", "%70lain", "%6Fptional"] {
            for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
                let before = effects();
                let req = test::TestRequest::default()
                    .method(method.parse().unwrap())
                    .uri(&format!("{prefix}/notes/{name}"));
                let resp = test::call_service(&app, req.to_request()).await;
                assert_eq!(resp.status(), 401, "{method} {prefix}/notes/{name}");
                assert_eq!(effects(), before, "{method} {name}: the handler ran");
                // With credentials the same request reaches that handler.
                let req = test::TestRequest::default()
                    .method(method.parse().unwrap())
                    .insert_header(("x-user", "alice"))
                    .uri(&format!("{prefix}/notes/{name}"));
                let resp = test::call_service(&app, req.to_request()).await;
                assert_eq!(resp.status(), 200, "{method} {name}");
                assert_eq!(effects(), before + 1);
            }
            // The public route stays public for its method.
            let req = test::TestRequest::post().uri(&format!("{prefix}/notes/{name}"));
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), 200, "POST {name}");
            let body = test::read_body(resp).await;
            assert!(body.starts_with(b"note:"), "{body:?}");
        }
    }
}

#[actix_web::test]
async fn a_public_entry_that_is_not_a_path_is_refused_at_start_up() {
    for entry in ["", "pages", "GET pages", "G{T /pages", "GET", "/x\u{0}y z"] {
        let result = std::panic::catch_unwind(|| {
            AuthenticationMiddleware::with(["key"]).public([entry]);
        });
        assert!(result.is_err(), "{entry:?} was accepted");
    }
    for entry in [
        "/health",
        "GET /health",
        "DELETE /a/{b}",
        "PROPFIND /dav",
        "* /x",
    ] {
        AuthenticationMiddleware::with(["key"]).public([entry]);
    }
}

#[get("/notes/{name}")]
async fn public_note_read(name: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().body(format!("read:{}", name.into_inner()))
}

#[actix_web::test]
async fn an_entry_without_a_method_covers_only_get_and_head() {
    let mw = AuthenticationMiddleware::with(["key"]).public(["/notes/{name}", "/ping"]);
    let app = test::init_service(
        App::new().app_data(registry()).service(
            web::scope("")
                .wrap(mw)
                .service(public_note_read)
                .route("/notes/plain", web::to(delete_note_plain))
                .route("/notes/optional", web::to(delete_note_optional))
                .route("/ping", web::to(HttpResponse::Ok)),
        ),
    )
    .await;
    for name in ["plain", "optional", "%70lain"] {
        for method in ["POST", "PUT", "DELETE", "PATCH"] {
            let before = effects();
            let req = test::TestRequest::default()
                .method(method.parse().unwrap())
                .uri(&format!("/notes/{name}"));
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), 401, "{method} /notes/{name}");
            assert_eq!(effects(), before, "{method} {name}: the handler ran");
        }
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("/notes/{name}"))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), 200, "GET {name}");
        assert!(test::read_body(resp).await.starts_with(b"read:"));
    }
    for (method, status) in [("GET", 200), ("HEAD", 200), ("POST", 401), ("DELETE", 401)] {
        let req = test::TestRequest::default()
            .method(method.parse().unwrap())
            .uri("/ping");
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), status, "{method} /ping");
    }
}
