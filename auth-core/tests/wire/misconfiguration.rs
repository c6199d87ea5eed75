//! Issue 11.10: a registry in `web::Data` works, a missing one is a clean 500
//! with a hint on stderr once, `check_app` finds both at start-up, and a bare
//! extractor without the attribute is reported.

use actix_web::{App, HttpResponse, get, test, web};
use auth_core::{
    AuthenticationMiddleware, ConfigError, ProblemJsonRenderer, StrategyRegistry, UserProfile,
    check_app, check_app_in,
};
use auth_macros::authenticate;

use crate::fixtures::{ApiKey, HeaderKey, challenges, protected_required, registry};

#[get("/annotated")]
#[authenticate("key")]
async fn annotated(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

fn problem_registry() -> StrategyRegistry {
    StrategyRegistry::builder()
        .register(HeaderKey)
        .register(ApiKey)
        .renderer(ProblemJsonRenderer)
        .build()
        .unwrap()
}

#[actix_web::test]
async fn a_registry_in_web_data_works_like_a_plain_one() {
    for data in [false, true] {
        let app = App::new().service(annotated).service(
            web::scope("/mw")
                .wrap(AuthenticationMiddleware::with(["key"]))
                .route("/me", web::get().to(protected_required)),
        );
        let app = if data {
            test::init_service(app.app_data(web::Data::new(problem_registry()))).await
        } else {
            test::init_service(app.app_data(problem_registry())).await
        };
        for uri in ["/annotated", "/mw/me"] {
            let resp =
                test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(resp.status(), 401, "{uri} data={data}");
            assert_eq!(challenges(&resp)[0], r#"Bearer realm="api""#);
            // The registry's renderer is the one used.
            assert_eq!(
                resp.headers().get("content-type").unwrap(),
                "application/problem+json"
            );

            let req = test::TestRequest::get()
                .uri(uri)
                .insert_header(("x-user", "alice"));
            let resp = test::call_service(&app, req.to_request()).await;
            assert_eq!(resp.status(), 200, "{uri} data={data}");
            let body = test::read_body(resp).await;
            assert!(body.ends_with(b"alice"), "{uri}");
        }
    }
}

const CLEAN_500: &str = r#"{"error":{"statusCode":500,"name":"InternalServerError","message":"Internal Server Error","code":"INTERNAL_SERVER_ERROR"}}"#;

async fn without_registry_requests() {
    let app = test::init_service(
        App::new().service(annotated).service(
            web::scope("/mw")
                .wrap(AuthenticationMiddleware::with(["key"]))
                .route("/me", web::get().to(protected_required)),
        ),
    )
    .await;
    for uri in ["/annotated", "/mw/me", "/annotated"] {
        let req = test::TestRequest::get()
            .uri(uri)
            .insert_header(("x-user", "alice"));
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), 500, "{uri}");
        assert!(challenges(&resp).is_empty());
        let body = test::read_body(resp).await;
        assert_eq!(body, CLEAN_500, "{uri}");
    }
}

#[actix_web::test]
async fn a_missing_registry_is_500_with_a_body_that_names_no_internals() {
    without_registry_requests().await;
}

const CHILD: &str = "AUTH_CORE_WIRE_CHILD";

/// Runs in a child process without a `tracing` subscriber, so that its
/// stderr shows what an operator who installed none would see.
#[actix_web::test]
async fn the_missing_registry_hint_reaches_stderr_once_without_a_subscriber() {
    if std::env::var_os(CHILD).is_some() {
        without_registry_requests().await;
        return;
    }
    let output = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "misconfiguration::the_missing_registry_hint_reaches_stderr_once_without_a_subscriber",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed: {stderr}");
    assert_eq!(
        stderr.matches("no StrategyRegistry in app_data").count(),
        1,
        "stderr: {stderr}"
    );
    assert!(
        stderr.contains(".app_data(web::Data::new(registry))"),
        "{stderr}"
    );
    assert!(stderr.contains("auth_core::check_app"), "{stderr}");
}

mod unregistered {
    use actix_web::{HttpResponse, get};
    use auth_macros::authenticate;

    #[get("/nope")]
    #[authenticate("key", "nope")]
    pub(super) async fn uses_nope() -> HttpResponse {
        HttpResponse::Ok().finish()
    }
}

#[actix_web::test]
async fn check_app_names_what_is_missing() {
    let here = module_path!();

    let err = check_app_in(App::new().service(annotated), here)
        .await
        .unwrap_err();
    assert_eq!(err, ConfigError::MissingRegistry);
    let message = err.to_string();
    assert!(message.contains("StrategyRegistry"), "{message}");
    assert!(message.contains("app_data"), "{message}");

    // A registry held by a scope only is not the App's.
    let scoped = App::new().service(web::scope("/x").app_data(registry()));
    assert_eq!(
        check_app_in(scoped, here).await,
        Err(ConfigError::MissingRegistry)
    );

    check_app_in(
        App::new().app_data(registry()).service(annotated),
        &format!("{here}::annotated"),
    )
    .await
    .unwrap();
    check_app_in(
        App::new().app_data(web::Data::new(registry())),
        &format!("{here}::annotated"),
    )
    .await
    .unwrap();

    let unregistered = format!("{here}::unregistered");
    let err = check_app_in(
        App::new()
            .app_data(registry())
            .service(unregistered::uses_nope),
        &unregistered,
    )
    .await
    .unwrap_err();
    let message = err.to_string();
    assert!(
        matches!(err, ConfigError::UnknownStrategies { .. }),
        "{err:?}"
    );
    assert!(message.contains("unregistered::uses_nope"), "{message}");
    assert!(message.contains("'nope'"), "{message}");
    assert!(!message.contains("'key'"), "{message}");

    // Over the whole binary, the handler naming "nope" is found too.
    assert!(check_app(App::new().app_data(registry())).await.is_err());

    // The check answers the probe itself: no handler runs.
    static RAN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    let app = App::new()
        .app_data(registry())
        .default_service(web::to(|| async {
            RAN.store(true, std::sync::atomic::Ordering::SeqCst);
            HttpResponse::Ok().finish()
        }));
    check_app_in(app, &format!("{here}::annotated"))
        .await
        .unwrap();
    assert!(!RAN.load(std::sync::atomic::Ordering::SeqCst));
}

async fn bare(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/warn/optional")]
#[authenticate("key")]
async fn warn_optional(user: Option<UserProfile>) -> HttpResponse {
    HttpResponse::Ok().body(user.map(|u| u.id.clone()).unwrap_or_default())
}

#[get("/warn/skip")]
#[authenticate(skip)]
async fn warn_skip(user: Option<UserProfile>) -> HttpResponse {
    HttpResponse::Ok().body(user.map(|u| u.id.clone()).unwrap_or_default())
}

#[actix_web::test]
async fn a_bare_extractor_without_the_attribute_is_reported_once_per_route() {
    let (log, _guard) = auth_test_support::log::Log::capture();

    let app = test::init_service(
        App::new()
            .app_data(registry())
            .route("/warn/bare/a", web::get().to(bare))
            .route("/warn/bare/{id}", web::get().to(bare))
            .service(warn_optional)
            .service(warn_skip)
            .service(
                web::scope("/warn/mw")
                    .wrap(AuthenticationMiddleware::with(["key"]).public(["/warn/mw/open"]))
                    .route("/open", web::get().to(bare)),
            ),
    )
    .await;
    let uris = [
        ("/warn/bare/a", 401),
        ("/warn/bare/a", 401),
        ("/warn/bare/1", 401),
        ("/warn/bare/2", 401),
        ("/warn/bare/a", 401),
        ("/warn/optional", 200),
        ("/warn/skip", 200),
        ("/warn/mw/open", 401),
    ];
    for (uri, status) in uris {
        let resp = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), status, "{uri}");
    }
    let logs = log.text();
    let warnings: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("no #[authenticate] attribute"))
        .collect();
    assert_eq!(warnings.len(), 2, "{logs}");
    assert!(warnings[0].contains("WARN"), "{logs}");
    assert!(warnings[0].contains("route=/warn/bare/a"), "{logs}");
    assert!(warnings[1].contains("route=/warn/bare/{id}"), "{logs}");
}
