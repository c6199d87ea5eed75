//! Issue 18.4: every 401 carries a challenge; `No-Auth-Challenge` hides it on
//! 401 only, and its value counts.

use actix_web::{App, HttpResponse, get, test, web};
use auth_core::{
    AuthError, AuthOutcome, Authenticated, AuthenticationMiddleware, StrategyRegistry, UserProfile,
    from_fn,
};
use auth_macros::authenticate;

use crate::fixtures::{challenges, protected_required, registry};

const BOTH: [&str; 2] = [r#"Bearer realm="api""#, r#"ApiKey realm="api""#];

async fn bare_profile(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

async fn bare_authenticated(user: Authenticated) -> HttpResponse {
    HttpResponse::Ok().body(user.0.id.clone())
}

#[actix_web::test]
async fn the_fail_closed_401_of_an_extractor_carries_every_registered_challenge() {
    // Without the attribute and without middleware, in registration order,
    // for `UserProfile` and `Authenticated<T>`, registry plain or in Data.
    for data in [false, true] {
        let app = App::new()
            .route("/profile", web::get().to(bare_profile))
            .route("/authenticated", web::get().to(bare_authenticated));
        let app = if data {
            test::init_service(app.app_data(web::Data::new(registry()))).await
        } else {
            test::init_service(app.app_data(registry())).await
        };
        for uri in ["/profile", "/authenticated"] {
            let resp =
                test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(resp.status(), 401, "{uri}");
            assert_eq!(challenges(&resp), BOTH, "{uri}");
            assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
            let body: serde_json::Value = test::read_body_json(resp).await;
            assert_eq!(body["error"]["code"], "USER_PROFILE_NOT_FOUND");
        }
    }
}

#[actix_web::test]
async fn the_fail_closed_401_behind_a_public_middleware_route_carries_a_challenge() {
    let app = test::init_service(
        App::new().app_data(registry()).service(
            web::scope("/api")
                .wrap(AuthenticationMiddleware::with(["key"]).public(["/api/me"]))
                .route("/me", web::get().to(protected_required)),
        ),
    )
    .await;
    let resp = test::call_service(&app, test::TestRequest::get().uri("/api/me").to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(challenges(&resp), BOTH);
}

#[actix_web::test]
async fn without_any_challenge_to_offer_a_401_says_bearer() {
    // No registry at all, and a registry whose strategies have no challenge.
    let app = test::init_service(App::new().route("/me", web::get().to(bare_profile))).await;
    let resp = test::call_service(&app, test::TestRequest::get().uri("/me").to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(challenges(&resp), ["Bearer"]);

    let silent = StrategyRegistry::builder()
        .register(from_fn("silent", |_, _| async {
            Ok(AuthOutcome::NotApplicable)
        }))
        .build()
        .unwrap();
    let app = test::init_service(
        App::new()
            .app_data(silent)
            .service(silent_route)
            .route("/me", web::get().to(bare_profile)),
    )
    .await;
    for uri in ["/silent", "/me"] {
        let resp = test::call_service(&app, test::TestRequest::get().uri(uri).to_request()).await;
        assert_eq!(resp.status(), 401, "{uri}");
        assert_eq!(challenges(&resp), ["Bearer"], "{uri}");
    }
}

#[actix_web::test]
async fn an_auth_error_returned_by_a_handler_is_a_401_with_a_challenge() {
    async fn refuses() -> Result<HttpResponse, AuthError> {
        Err(AuthError::invalid_token("expired"))
    }
    let app = test::init_service(App::new().route("/refuses", web::get().to(refuses))).await;
    let resp =
        test::call_service(&app, test::TestRequest::get().uri("/refuses").to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(challenges(&resp), ["Bearer"]);
}

#[get("/silent")]
#[authenticate("silent")]
async fn silent_route() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[get("/scoped")]
#[authenticate("key", scopes = ["write"])]
async fn scoped() -> HttpResponse {
    HttpResponse::Ok().finish()
}

#[get("/keyed")]
#[authenticate("key", "apikey")]
async fn keyed() -> HttpResponse {
    HttpResponse::Ok().finish()
}

async fn app() -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse,
    Error = actix_web::Error,
> {
    test::init_service(
        App::new()
            .app_data(registry())
            .service(scoped)
            .service(keyed)
            .route("/bare", web::get().to(bare_profile)),
    )
    .await
}

/// `(uri, extra header)` for each way of asking, with the given value.
fn asks(value: &str) -> Vec<(String, Option<(&'static str, String)>)> {
    let encoded: String = value.bytes().map(|b| format!("%{b:02X}")).collect();
    vec![
        (String::new(), Some(("No-Auth-Challenge", value.to_owned()))),
        (format!("noauthchallenge={encoded}"), None),
        // Form encoding: `+` is a space.
        (
            format!("x=1&NoAuthChallenge={}", value.replace(' ', "+")),
            None,
        ),
    ]
}

async fn challenges_for(
    uri: &str,
    query: &str,
    header: Option<(&'static str, String)>,
    user: Option<&str>,
) -> (u16, Vec<String>) {
    let app = app().await;
    let sep = if query.is_empty() { "" } else { "?" };
    let mut req = test::TestRequest::get().uri(&format!("{uri}{sep}{query}"));
    if let Some(h) = header {
        req = req.insert_header(h);
    }
    if let Some(user) = user {
        req = req.insert_header(("x-user", user));
    }
    let resp = test::call_service(&app, req.to_request()).await;
    (resp.status().as_u16(), challenges(&resp))
}

const SUPPRESSING: [&str; 9] = [
    "", "true", "1", "yes", "on", "TRUE", " On ", "Yes", "anything",
];
const NOT_SUPPRESSING: [&str; 8] = ["false", "0", "no", "off", "False", "OFF", " no ", "No"];

#[actix_web::test]
async fn no_auth_challenge_hides_the_challenge_of_a_401_unless_its_value_says_no() {
    for value in SUPPRESSING {
        for (query, header) in asks(value) {
            for (uri, user) in [("/keyed", None), ("/keyed", Some("bad")), ("/bare", None)] {
                let (status, got) = challenges_for(uri, &query, header.clone(), user).await;
                assert_eq!(status, 401);
                assert!(
                    got.is_empty(),
                    "{value:?} {query} {header:?} {uri}: {got:?}"
                );
            }
        }
    }
    for value in NOT_SUPPRESSING {
        for (query, header) in asks(value) {
            let (status, got) = challenges_for("/keyed", &query, header.clone(), None).await;
            assert_eq!(status, 401);
            assert_eq!(got, BOTH, "{value:?} {query} {header:?}");
            let (_, got) = challenges_for("/keyed", &query, header.clone(), Some("bad")).await;
            assert_eq!(
                got,
                [
                    r#"Bearer realm="api", error="invalid_token", error_description="unknown key""#,
                    r#"ApiKey realm="api""#
                ],
                "{value:?} {query} {header:?}"
            );
        }
    }
    // The bare flag, and a parameter that only contains the word.
    let (_, got) = challenges_for("/keyed", "noauthchallenge", None, None).await;
    assert!(got.is_empty());
    let (_, got) = challenges_for("/keyed", "xnoauthchallenge=1", None, None).await;
    assert_eq!(got, BOTH);
}

#[actix_web::test]
async fn no_auth_challenge_keeps_the_rfc_6750_error_of_a_400_and_a_403() {
    for value in SUPPRESSING.iter().chain(&NOT_SUPPRESSING) {
        for (query, header) in asks(value) {
            let (status, got) =
                challenges_for("/keyed", &query, header.clone(), Some("malformed")).await;
            assert_eq!(status, 400);
            assert_eq!(
                got,
                [
                    r#"Bearer realm="api", error="invalid_request", error_description="x-user is malformed""#
                ],
                "{value:?} {query} {header:?}"
            );
            let (status, got) =
                challenges_for("/scoped", &query, header.clone(), Some("alice")).await;
            assert_eq!(status, 403);
            assert_eq!(
                got,
                [
                    r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope: requires write", scope="write""#
                ],
                "{value:?} {query} {header:?}"
            );
        }
    }
}
