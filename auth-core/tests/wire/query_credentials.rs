//! Issue 18.5: a response to a request authenticated by an `access_token`
//! query parameter is `Cache-Control: private` (RFC 6750 §2.3).

use actix_web::{App, HttpResponse, get, test, web};
use auth_core::{AuthenticationMiddleware, StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwtStrategy, SigningKey, TokenService, TokenSource, VerifyingKey};
use auth_macros::authenticate;

use crate::fixtures::cache_control;

const SECRET: &[u8] = b"a test secret that is long enough";

fn registry() -> StrategyRegistry {
    let jwt = JwtStrategy::builder()
        .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .sources([TokenSource::Bearer, TokenSource::Query])
        .build()
        .unwrap();
    StrategyRegistry::builder().register(jwt).build().unwrap()
}

fn token() -> String {
    TokenService::new(SigningKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .sign_access(&UserProfile::new("alice"))
        .unwrap()
}

#[get("/macro/plain")]
#[authenticate("jwt")]
async fn macro_plain(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

#[get("/macro/public-cache")]
#[authenticate("jwt")]
async fn macro_public_cache(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "public, max-age=60"))
        .body(user.id.clone())
}

#[get("/macro/no-store")]
#[authenticate("jwt")]
async fn macro_no_store() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .finish()
}

#[get("/macro/optional")]
#[authenticate("jwt")]
async fn macro_optional(user: Option<UserProfile>) -> HttpResponse {
    HttpResponse::Ok().body(user.map(|u| u.id.clone()).unwrap_or_default())
}

async fn plain() -> HttpResponse {
    HttpResponse::Ok().body("plain")
}

async fn public_cache() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "max-age=60, public"))
        .finish()
}

async fn no_store() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("cache-control", "no-store, max-age=0"))
        .finish()
}

async fn with_profile(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

async fn app() -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
    Error = actix_web::Error,
> {
    test::init_service(
        App::new()
            .app_data(registry())
            .service(macro_plain)
            .service(macro_public_cache)
            .service(macro_no_store)
            .service(macro_optional)
            .service(
                web::scope("/mw")
                    .wrap(AuthenticationMiddleware::with(["jwt"]))
                    .route("/plain", web::get().to(plain))
                    .route("/public-cache", web::get().to(public_cache))
                    .route("/no-store", web::get().to(no_store))
                    .route("/profile", web::get().to(with_profile)),
            ),
    )
    .await
}

/// `(route, Cache-Control expected with a query token, without one)`.
const ROUTES: [(&str, &str, Option<&str>); 8] = [
    ("/macro/plain", "private", None),
    (
        "/macro/public-cache",
        "private, max-age=60",
        Some("public, max-age=60"),
    ),
    ("/macro/no-store", "no-store", Some("no-store")),
    ("/macro/optional", "private", None),
    ("/mw/plain", "private", None),
    (
        "/mw/public-cache",
        "private, max-age=60",
        Some("max-age=60, public"),
    ),
    (
        "/mw/no-store",
        "no-store, max-age=0",
        Some("no-store, max-age=0"),
    ),
    ("/mw/profile", "private", None),
];

#[actix_web::test]
async fn a_query_token_makes_the_response_private_and_a_header_token_does_not() {
    let app = app().await;
    let token = token();
    for (route, from_query, from_header) in ROUTES {
        let req = test::TestRequest::get().uri(&format!("{route}?access_token={token}"));
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), 200, "{route}");
        assert_eq!(
            cache_control(&resp).as_deref(),
            Some(from_query),
            "{route} (query)"
        );

        let req = test::TestRequest::get()
            .uri(&format!("{route}?x=1"))
            .insert_header(("authorization", format!("Bearer {token}")));
        let resp = test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), 200, "{route}");
        assert_eq!(
            cache_control(&resp).as_deref(),
            from_header,
            "{route} (header)"
        );
    }
}

#[actix_web::test]
async fn the_marker_does_not_leak_to_anonymous_or_failed_requests() {
    let app = app().await;
    // Anonymous on an optional route: nothing came from the query.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/macro/optional?access_token_x=1")
            .to_request(),
    )
    .await;
    assert_eq!(resp.status(), 200);
    assert_eq!(cache_control(&resp), None);
    // A bad query token is refused, and error answers stay `no-store`.
    for route in ["/macro/plain", "/mw/plain"] {
        let resp = test::call_service(
            &app,
            test::TestRequest::get()
                .uri(&format!("{route}?access_token=a.b.c"))
                .to_request(),
        )
        .await;
        assert_eq!(resp.status(), 401, "{route}");
        assert_eq!(cache_control(&resp).as_deref(), Some("no-store"), "{route}");
    }
}
