//! LoopBack 4's authentication suites (metadata, strategy lookup, the
//! authenticate action), ported as behaviour: one test each.

mod common;

use actix_web::test as at;
use actix_web::{App, HttpResponse, get, web};
use auth_core::{AuthError, UserProfile, handler_policy};
use auth_macros::authenticate;
use common::{CallLog, Script, challenges, registry, scripted};
use serde_json::{Value, json};

// ---- handlers under test ------------------------------------------------

#[get("/one")]
#[authenticate("first")]
async fn one(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "strategy": user.strategy}))
}

#[get("/two")]
#[authenticate("first", "second")]
async fn two(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "strategy": user.strategy}))
}

#[get("/two-strict")]
#[authenticate("first", "second", fail_on_error)]
async fn two_strict(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({"id": user.id, "strategy": user.strategy}))
}

#[get("/anonymous")]
async fn anonymous() -> &'static str {
    "hello, anyone"
}

#[get("/skipped")]
#[authenticate(skip)]
async fn skipped() -> &'static str {
    "skipped"
}

mod metadata_only {
    use auth_macros::authenticate;

    #[authenticate("jwt", "basic"(realm = "admin", cache = true, max = 3, tags = ["a", "b"]))]
    pub async fn ordered() -> &'static str {
        "ok"
    }

    #[authenticate("jwt", fail_on_error, roles = ["admin", "ops"], scopes = ["a:read"], principal = "service")]
    pub async fn options() -> &'static str {
        "ok"
    }

    #[authenticate("does-not-exist")]
    pub async fn misspelt() -> &'static str {
        "ok"
    }
}

async fn call(
    reg: auth_core::StrategyRegistry,
    uri: &str,
) -> (actix_web::http::StatusCode, Vec<String>, Value) {
    let app = at::init_service(
        App::new()
            .app_data(reg)
            .service(one)
            .service(two)
            .service(two_strict)
            .service(anonymous)
            .service(skipped)
            .route("/misspelt", web::get().to(metadata_only::misspelt)),
    )
    .await;
    let resp = at::call_service(&app, at::TestRequest::get().uri(uri).to_request()).await;
    let status = resp.status();
    let challenges = challenges(&resp);
    let body = at::read_body(resp).await;
    let body = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, challenges, body)
}

fn names(handler: &str) -> Vec<String> {
    handler_policy(handler)
        .unwrap_or_else(|| panic!("{handler} is not annotated"))
        .strategies()
        .iter()
        .map(|s| s.name().to_owned())
        .collect()
}

// ---- metadata -----------------------------------------------------------

#[test]
fn metadata_keeps_several_strategies_in_order() {
    assert_eq!(
        names("loopback_authentication::metadata_only::ordered"),
        ["jwt", "basic"]
    );
    assert_eq!(names("loopback_authentication::two"), ["first", "second"]);
}

#[test]
fn metadata_keeps_strategy_options() {
    let policy = handler_policy("loopback_authentication::metadata_only::ordered").unwrap();
    assert!(policy.strategies()[0].options().is_empty());
    assert_eq!(
        policy.strategies()[1].options().as_map(),
        json!({"realm": "admin", "cache": true, "max": 3, "tags": ["a", "b"]})
            .as_object()
            .unwrap()
    );
    let options = handler_policy("loopback_authentication::metadata_only::options").unwrap();
    assert!(options.is_fail_on_error());
    assert_eq!(options.required_roles(), ["admin", "ops"]);
    assert_eq!(options.required_scopes(), ["a:read"]);
    assert_eq!(
        options.required_principal(),
        Some(auth_core::PrincipalKind::Service)
    );
}

#[test]
fn metadata_records_skip() {
    let policy = handler_policy("loopback_authentication::skipped").unwrap();
    assert!(policy.is_skip());
    assert!(policy.strategies().is_empty());
    assert!(handler_policy("loopback_authentication::anonymous").is_none());
}

// ---- strategy lookup ----------------------------------------------------

#[actix_web::test]
async fn lookup_runs_strategies_in_declared_order() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted("second", Script::Succeed("bob"), &log),
        scripted("first", Script::NotMine, &log),
    ]);
    let (status, _, body) = call(reg, "/two").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": "bob", "strategy": "second"}));
    assert_eq!(log.calls(), ["first", "second"]);
}

#[actix_web::test]
async fn lookup_runs_only_the_named_strategies() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted("first", Script::Succeed("ada"), &log),
        scripted("second", Script::Succeed("bob"), &log),
        scripted("third", Script::Succeed("eve"), &log),
    ]);
    let (status, _, body) = call(reg, "/one").await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], "ada");
    assert_eq!(log.calls(), ["first"]);
}

#[actix_web::test]
async fn lookup_of_an_unknown_name_is_a_500_naming_it() {
    let reg = registry(vec![]);
    let (status, challenges, body) = call(reg, "/misspelt").await;
    assert_eq!(status, 500);
    assert!(challenges.is_empty());
    assert_eq!(
        body,
        json!({"error": {"statusCode": 500, "name": "InternalServerError",
            "message": "authentication strategy 'does-not-exist' is not registered",
            "code": "AUTHENTICATION_STRATEGY_NOT_FOUND"}})
    );
}

#[test]
fn unknown_names_are_found_at_start_up_with_handler_and_strategy() {
    let reg = registry(vec![]);
    let err = reg
        .verify_handlers_in("loopback_authentication::metadata_only")
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(
            "handler `loopback_authentication::metadata_only::misspelt` uses strategy 'does-not-exist', which is not registered"
        ),
        "{message}"
    );
    assert!(
        message.contains("metadata_only::ordered` uses strategy 'basic'"),
        "{message}"
    );
    let log = CallLog::default();
    let full = registry(vec![
        scripted("jwt", Script::NotMine, &log),
        scripted("basic", Script::NotMine, &log),
        scripted("does-not-exist", Script::NotMine, &log),
    ]);
    full.verify_handlers_in("loopback_authentication::metadata_only")
        .unwrap();
}

// ---- the sequence -------------------------------------------------------

#[actix_web::test]
async fn success_returns_the_user() {
    let log = CallLog::default();
    let reg = registry(vec![scripted("first", Script::Succeed("ada"), &log)]);
    let (status, _, body) = call(reg, "/one").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": "ada", "strategy": "first"}));
}

#[actix_web::test]
async fn one_strategy_fails() {
    let log = CallLog::default();
    let reg = registry(vec![scripted(
        "first",
        Script::Fail(AuthError::invalid_token("bad signature")),
        &log,
    )]);
    let (status, challenges, body) = call(reg, "/one").await;
    assert_eq!(status, 401);
    assert_eq!(challenges, [r#"Bearer realm="first""#]);
    assert_eq!(
        body,
        json!({"error": {"statusCode": 401, "name": "UnauthorizedError",
            "message": "bad signature", "code": "INVALID_TOKEN"}})
    );
}

#[actix_web::test]
async fn both_fail_reports_the_first_failure() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted(
            "first",
            Script::Fail(AuthError::invalid_token("first says no")),
            &log,
        ),
        scripted(
            "second",
            Script::Fail(AuthError::invalid_credentials(
                "WRONG_PASSWORD",
                "second says no",
            )),
            &log,
        ),
    ]);
    let (status, challenges, body) = call(reg, "/two").await;
    assert_eq!(status, 401);
    assert_eq!(log.calls(), ["first", "second"]);
    assert_eq!(body["error"]["message"], "first says no");
    assert_eq!(body["error"]["code"], "INVALID_TOKEN");
    assert_eq!(
        challenges,
        [r#"Bearer realm="first""#, r#"Bearer realm="second""#]
    );
}

#[actix_web::test]
async fn one_of_two_succeeds_when_the_first_fails() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted(
            "first",
            Script::Fail(AuthError::invalid_token("nope")),
            &log,
        ),
        scripted("second", Script::Succeed("bob"), &log),
    ]);
    let (status, _, body) = call(reg, "/two").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": "bob", "strategy": "second"}));
    assert_eq!(log.calls(), ["first", "second"]);
}

#[actix_web::test]
async fn one_of_two_succeeds_when_the_second_fails() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted("first", Script::Succeed("ada"), &log),
        scripted(
            "second",
            Script::Fail(AuthError::invalid_token("nope")),
            &log,
        ),
    ]);
    let (status, _, body) = call(reg, "/two").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": "ada", "strategy": "first"}));
    assert_eq!(
        log.calls(),
        ["first"],
        "the sequence stops at the first success"
    );
}

#[actix_web::test]
async fn fail_on_error_with_fail_then_ok_rejects() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted(
            "first",
            Script::Fail(AuthError::invalid_token("first says no")),
            &log,
        ),
        scripted("second", Script::Succeed("bob"), &log),
    ]);
    let (status, _, body) = call(reg, "/two-strict").await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "first says no");
    assert_eq!(log.calls(), ["first"]);
}

#[actix_web::test]
async fn fail_on_error_with_ok_then_fail_succeeds() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted("first", Script::Succeed("ada"), &log),
        scripted(
            "second",
            Script::Fail(AuthError::invalid_token("nope")),
            &log,
        ),
    ]);
    let (status, _, body) = call(reg, "/two-strict").await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], "ada");
}

#[actix_web::test]
async fn nothing_returned_is_401_user_profile_not_found() {
    let log = CallLog::default();
    let reg = registry(vec![
        scripted("first", Script::NotMine, &log),
        scripted("second", Script::NotMine, &log),
    ]);
    let (status, challenges, body) = call(reg, "/two").await;
    assert_eq!(status, 401);
    assert_eq!(
        challenges,
        [r#"Bearer realm="first""#, r#"Bearer realm="second""#]
    );
    assert_eq!(
        body,
        json!({"error": {"statusCode": 401, "name": "UnauthorizedError",
            "message": "no credentials found (tried: first, second)",
            "code": "USER_PROFILE_NOT_FOUND"}})
    );
}

#[actix_web::test]
async fn handlers_without_the_attribute_are_anonymous() {
    let log = CallLog::default();
    let reg = registry(vec![scripted(
        "first",
        Script::Fail(AuthError::invalid_token("x")),
        &log,
    )]);
    let (status, _, body) = call(reg.clone(), "/anonymous").await;
    assert_eq!(status, 200);
    assert_eq!(body, Value::String("hello, anyone".into()));
    let (status, _, body) = call(reg, "/skipped").await;
    assert_eq!(status, 200);
    assert_eq!(body, Value::String("skipped".into()));
    assert!(
        log.calls().is_empty(),
        "no strategy runs for anonymous handlers"
    );
}
