//! DESIGN.md's status table, row by row: status, exact `WWW-Authenticate`,
//! other headers, and the error body.

mod common;

use std::time::Duration;

use actix_web::test as at;
use actix_web::{App, HttpRequest, HttpResponse, get, web};
use auth_core::{
    AuthError, Challenge, ErrorRenderer, ProblemJsonRenderer, StrategyRegistry, UserProfile,
};
use auth_macros::authenticate;
use common::{CallLog, Script, challenges, scripted};
use serde_json::{Value, json};

#[get("/api")]
#[authenticate("jwt", "basic")]
async fn api(user: UserProfile) -> String {
    user.id.clone()
}

#[authenticate("jwt", "basic")]
async fn plain_handler(user: UserProfile) -> String {
    user.id.clone()
}

#[get("/admin")]
#[authenticate("jwt", roles = ["admin"])]
async fn admin() -> &'static str {
    "admin"
}

#[get("/scoped")]
#[authenticate("jwt", scopes = ["todos:read", "todos:write"])]
async fn scoped() -> &'static str {
    "scoped"
}

#[get("/services-only")]
#[authenticate("jwt", principal = "service")]
async fn services_only() -> &'static str {
    "service"
}

/// A bearer strategy whose challenge follows RFC 6750 (error, description,
/// scope), like the real JWT strategy's.
struct Bearer {
    script: Script,
}

#[auth_core::async_trait(?Send)]
impl auth_core::AuthenticationStrategy for Bearer {
    fn name(&self) -> &str {
        "jwt"
    }
    async fn authenticate(
        &self,
        _req: &HttpRequest,
        _opts: &auth_core::StrategyOptions,
    ) -> Result<auth_core::AuthOutcome, AuthError> {
        match &self.script {
            Script::Succeed(id) => Ok(auth_core::AuthOutcome::Authenticated(
                UserProfile::new(*id)
                    .with_roles(["user"])
                    .with_scopes(["todos:read"]),
            )),
            Script::NotMine => Ok(auth_core::AuthOutcome::NotApplicable),
            Script::Fail(e) => Err(e.clone()),
        }
    }
    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer("api", failure))
    }
}

fn basic_not_mine(log: &CallLog) -> auth_core::FnStrategy {
    auth_core::from_fn("basic", {
        let log = log.clone();
        move |_, _| {
            let _ = &log;
            async { Ok(auth_core::AuthOutcome::NotApplicable) }
        }
    })
    .with_challenge(
        Challenge::new("Basic")
            .param("realm", "api")
            .param("charset", "UTF-8"),
    )
}

fn registry_with(script: Script) -> StrategyRegistry {
    let log = CallLog::default();
    StrategyRegistry::builder()
        .register(Bearer { script })
        .register(basic_not_mine(&log))
        .build()
        .unwrap()
}

async fn get(
    registry: StrategyRegistry,
    req: at::TestRequest,
) -> (u16, Vec<String>, actix_web::http::header::HeaderMap, Value) {
    let app = at::init_service(
        App::new()
            .app_data(registry)
            .service(api)
            .service(admin)
            .service(scoped)
            .service(services_only),
    )
    .await;
    let resp = at::call_service(&app, req.to_request()).await;
    let status = resp.status().as_u16();
    let challenges = challenges(&resp);
    let headers = resp.headers().clone();
    let body = at::read_body(resp).await;
    let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, challenges, headers, body)
}

fn lb(status: u16, name: &str, message: &str, code: &str) -> Value {
    json!({"error": {"statusCode": status, "name": name, "message": message, "code": code}})
}

#[actix_web::test]
async fn no_credentials_is_401_with_one_challenge_per_strategy() {
    let (status, challenges, headers, body) = get(
        registry_with(Script::NotMine),
        at::TestRequest::get().uri("/api"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="api""#,
            r#"Basic realm="api", charset="UTF-8""#
        ]
    );
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(headers.get("content-type").unwrap(), "application/json");
    assert_eq!(
        body,
        lb(
            401,
            "UnauthorizedError",
            "no credentials found (tried: jwt, basic)",
            "USER_PROFILE_NOT_FOUND"
        )
    );
}

#[actix_web::test]
async fn malformed_credentials_are_400_invalid_request() {
    let script = Script::Fail(AuthError::invalid_request("the bearer token is empty"));
    let (status, challenges, headers, body) =
        get(registry_with(script), at::TestRequest::get().uri("/api")).await;
    assert_eq!(status, 400);
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="api", error="invalid_request", error_description="the bearer token is empty""#
        ]
    );
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        body,
        lb(
            400,
            "BadRequestError",
            "the bearer token is empty",
            "INVALID_REQUEST"
        )
    );
}

#[actix_web::test]
async fn bad_token_is_401_invalid_token() {
    let script = Script::Fail(AuthError::invalid_credentials(
        "TOKEN_EXPIRED",
        "token expired",
    ));
    let (status, challenges, _, body) =
        get(registry_with(script), at::TestRequest::get().uri("/api")).await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="api", error="invalid_token", error_description="token expired""#,
            r#"Basic realm="api", charset="UTF-8""#
        ]
    );
    assert_eq!(
        body,
        lb(401, "UnauthorizedError", "token expired", "TOKEN_EXPIRED")
    );
}

#[actix_web::test]
async fn missing_role_is_403_insufficient_scope() {
    let (status, challenges, headers, body) = get(
        registry_with(Script::Succeed("ada")),
        at::TestRequest::get().uri("/admin"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="api", error="insufficient_scope", error_description="access denied: requires one of the roles admin""#
        ]
    );
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    assert_eq!(
        body,
        lb(
            403,
            "ForbiddenError",
            "access denied: requires one of the roles admin",
            "ACCESS_DENIED"
        )
    );
}

#[actix_web::test]
async fn missing_scope_is_403_with_scope_parameter() {
    let (status, challenges, _, body) = get(
        registry_with(Script::Succeed("ada")),
        at::TestRequest::get().uri("/scoped"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        challenges,
        [
            r#"Bearer realm="api", error="insufficient_scope", error_description="insufficient scope: requires todos:read todos:write", scope="todos:read todos:write""#
        ]
    );
    assert_eq!(body["error"]["code"], "INSUFFICIENT_SCOPE");
}

#[actix_web::test]
async fn wrong_principal_kind_is_403() {
    let (status, challenges, _, body) = get(
        registry_with(Script::Succeed("ada")),
        at::TestRequest::get().uri("/services-only"),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        body,
        lb(
            403,
            "ForbiddenError",
            "this resource requires a service principal, not a user",
            "WRONG_PRINCIPAL_KIND"
        )
    );
    assert!(
        challenges.is_empty(),
        "not insufficient_scope, nor any other challenge: {challenges:?}"
    );
}

#[actix_web::test]
async fn too_many_failures_is_429_with_retry_after_and_no_challenge() {
    let script = Script::Fail(AuthError::too_many_requests(Duration::from_millis(30_500)));
    let (status, challenges, headers, body) =
        get(registry_with(script), at::TestRequest::get().uri("/api")).await;
    assert_eq!(status, 429);
    assert!(challenges.is_empty());
    assert_eq!(headers.get("retry-after").unwrap(), "31");
    assert_eq!(
        body,
        lb(
            429,
            "TooManyRequestsError",
            "too many failed authentication attempts",
            "TOO_MANY_REQUESTS"
        )
    );
}

#[actix_web::test]
async fn backend_down_is_503_without_challenge() {
    let script = Script::Fail(AuthError::unavailable("the key server is unreachable"));
    let (status, challenges, _, body) =
        get(registry_with(script), at::TestRequest::get().uri("/api")).await;
    assert_eq!(status, 503);
    assert!(challenges.is_empty());
    assert_eq!(
        body,
        lb(
            503,
            "ServiceUnavailableError",
            "the key server is unreachable",
            "SERVICE_UNAVAILABLE"
        )
    );
}

#[actix_web::test]
async fn a_bug_is_500_and_the_body_carries_no_internals() {
    let script = Script::Fail(AuthError::internal(
        "pool poisoned at db.rs:42 password=hunter2",
    ));
    let (status, challenges, _, body) =
        get(registry_with(script), at::TestRequest::get().uri("/api")).await;
    assert_eq!(status, 500);
    assert!(challenges.is_empty());
    assert_eq!(
        body,
        lb(
            500,
            "InternalServerError",
            "Internal Server Error",
            "INTERNAL_SERVER_ERROR"
        )
    );
}

#[actix_web::test]
async fn missing_registry_is_500_not_a_pass() {
    let app = at::init_service(App::new().service(api)).await;
    let resp = at::call_service(&app, at::TestRequest::get().uri("/api").to_request()).await;
    assert_eq!(resp.status(), 500);
}

#[actix_web::test]
async fn no_auth_challenge_header_and_query_suppress_challenges() {
    let (status, challenges, _, _) = get(
        registry_with(Script::NotMine),
        at::TestRequest::get()
            .uri("/api")
            .insert_header(("No-Auth-Challenge", "true")),
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenges.is_empty());

    let (status, challenges, _, _) = get(
        registry_with(Script::NotMine),
        at::TestRequest::get().uri("/api?x=1&noauthchallenge"),
    )
    .await;
    assert_eq!(status, 401);
    assert!(challenges.is_empty());

    // A parameter that merely contains the word does not suppress anything.
    let (_, challenges, _, _) = get(
        registry_with(Script::NotMine),
        at::TestRequest::get().uri("/api?xnoauthchallenge=1"),
    )
    .await;
    assert_eq!(challenges.len(), 2);
}

#[actix_web::test]
async fn problem_json_renderer() {
    let registry = StrategyRegistry::builder()
        .register(Bearer {
            script: Script::Fail(AuthError::invalid_token("bad signature")),
        })
        .renderer(ProblemJsonRenderer)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(admin)).await;
    let resp = at::call_service(&app, at::TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert_eq!(
        challenges(&resp),
        [r#"Bearer realm="api", error="invalid_token", error_description="bad signature""#]
    );
    let body: Value = at::read_body_json(resp).await;
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Unauthorized", "status": 401,
               "detail": "bad signature", "code": "INVALID_TOKEN"})
    );
}

#[actix_web::test]
async fn custom_renderer_hook() {
    struct Teapot;
    impl ErrorRenderer for Teapot {
        fn render(&self, _req: &HttpRequest, error: &AuthError) -> HttpResponse {
            HttpResponse::build(error.status())
                .content_type("text/plain")
                .body(format!("denied: {}", error.code()))
        }
    }
    let registry = StrategyRegistry::builder()
        .register(Bearer {
            script: Script::NotMine,
        })
        .renderer(Teapot)
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(admin)).await;
    let resp = at::call_service(&app, at::TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(challenges(&resp), [r#"Bearer realm="api""#]);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    assert_eq!(at::read_body(resp).await, "denied: USER_PROFILE_NOT_FOUND");
}

#[actix_web::test]
async fn redirect_outcome_answers_with_location() {
    let registry = StrategyRegistry::builder()
        .register(auth_core::from_fn("jwt", |_, _| async {
            Ok(auth_core::AuthOutcome::Redirect(
                auth_core::Redirect::to("https://idp.example/authorize?state=s1")
                    .with_header("set-cookie", "state=s1; HttpOnly"),
            ))
        }))
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(admin)).await;
    let resp = at::call_service(&app, at::TestRequest::get().uri("/admin").to_request()).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers().get("location").unwrap(),
        "https://idp.example/authorize?state=s1"
    );
    assert_eq!(
        resp.headers().get("set-cookie").unwrap(),
        "state=s1; HttpOnly"
    );
}

#[actix_web::test]
async fn duplicate_and_invalid_names_are_rejected_when_building() {
    let log = CallLog::default();
    let err = StrategyRegistry::builder()
        .register(scripted("jwt", Script::NotMine, &log))
        .register(scripted("jwt", Script::NotMine, &log))
        .build()
        .unwrap_err();
    assert_eq!(err.to_string(), "strategy 'jwt' is registered twice");
    let err = StrategyRegistry::builder()
        .register(scripted("bad name", Script::NotMine, &log))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("'bad name' is not valid"));
}

#[actix_web::test]
async fn web_resource_registration_is_protected_too() {
    let app = at::init_service(
        App::new()
            .app_data(registry_with(Script::NotMine))
            .service(web::resource("/res").route(web::get().to(plain_handler))),
    )
    .await;
    let resp = at::call_service(&app, at::TestRequest::get().uri("/res").to_request()).await;
    assert_eq!(resp.status(), 401);
}
