//! The strategy on the wire: statuses, challenges and LoopBack bodies.

mod fixtures;

use fixtures::*;
use jsonwebtoken::Header;
use serde_json::json;

#[actix_web::test]
async fn valid_token_gives_profile() {
    let app = app(strategy()).await;
    let token = hs256(&valid_claims());
    let (status, _, body) = call(&app, "/whoami", &[("authorization", &bearer(&token))]).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"id": "alice", "name": "Alice", "roles": ["user"], "scopes": ["todos:read", "todos:write"], "kind": "user", "strategy": "jwt"})
    );
}

#[actix_web::test]
async fn scheme_is_case_insensitive() {
    let app = app(strategy()).await;
    let token = hs256(&valid_claims());
    let (status, _, _) = call(
        &app,
        "/whoami",
        &[("authorization", &format!("bEaReR {token}"))],
    )
    .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn missing_header_is_401_without_error() {
    let app = app(strategy()).await;
    let (status, challenges, body) = call(&app, "/whoami", &[]).await;
    assert_eq!(status, 401);
    assert_eq!(challenges, vec![r#"Bearer realm="api""#.to_owned()]);
    assert_eq!(body["error"]["statusCode"], 401);
    assert_eq!(body["error"]["name"], "UnauthorizedError");
    assert_eq!(body["error"]["code"], "USER_PROFILE_NOT_FOUND");
}

#[actix_web::test]
async fn wrong_scheme_is_not_mine() {
    let app = app(strategy()).await;
    let (status, challenges, body) =
        call(&app, "/whoami", &[("authorization", "Basic YWxpY2U6cHc=")]).await;
    assert_eq!(status, 401);
    assert_eq!(challenges, vec![r#"Bearer realm="api""#.to_owned()]);
    assert_eq!(body["error"]["code"], "USER_PROFILE_NOT_FOUND");
}

#[actix_web::test]
async fn too_many_parts_is_400() {
    let app = app(strategy()).await;
    let (status, challenges, body) = call(
        &app,
        "/whoami",
        &[("authorization", "Bearer xx.yy.zz extra")],
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        challenges,
        vec![r#"Bearer realm="api", error="invalid_request", error_description="the Authorization header value has too many parts: use 'Bearer <token>'""#.to_owned()]
    );
    assert_eq!(
        body,
        json!({"error": {"statusCode": 400, "name": "BadRequestError", "message": "the Authorization header value has too many parts: use 'Bearer <token>'", "code": "INVALID_REQUEST"}})
    );
}

#[actix_web::test]
async fn empty_bearer_is_400() {
    let app = app(strategy()).await;
    let (status, _, body) = call(&app, "/whoami", &[("authorization", "Bearer")]).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "INVALID_REQUEST");
}

#[actix_web::test]
async fn expired_token_is_401_token_expired() {
    let app = app(strategy()).await;
    let token = hs256(&json!({"sub": "alice", "exp": now() - 3600}));
    assert_unauthorized(&app, &token, "token expired", "TOKEN_EXPIRED").await;
}

#[actix_web::test]
async fn malformed_tokens_are_401_invalid_token() {
    let app = app(strategy()).await;
    for bad in [
        "abc",
        "a.b",
        "a.b.c.d",
        "a~b.c+d.e/f",
        "eyJhbGciOiJIUzI1NiJ9.e30.",
        "xx.yy.zz",
    ] {
        let (status, challenges, body) =
            call(&app, "/whoami", &[("authorization", &bearer(bad))]).await;
        assert_eq!(status, 401, "{bad}");
        assert!(challenges[0].contains(r#"error="invalid_token""#), "{bad}");
        assert_eq!(body["error"]["code"], "INVALID_TOKEN", "{bad}");
        assert!(
            !body.to_string().contains(bad),
            "message echoes the token: {bad}"
        );
    }
}

#[actix_web::test]
async fn wrong_secret_is_invalid_signature() {
    let app = app(strategy()).await;
    let token = sign(
        Header::new(auth_jwt::Algorithm::HS256),
        &valid_claims(),
        b"another-secret-that-is-long-enough-too",
    );
    let (status, _, body) = call(&app, "/whoami", &[("authorization", &bearer(&token))]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "invalid token signature");
}

#[actix_web::test]
async fn unknown_strategy_is_500_naming_it() {
    let app = app(strategy()).await;
    let (status, _, body) = call(&app, "/unknown", &[]).await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["code"], "AUTHENTICATION_STRATEGY_NOT_FOUND");
}

#[actix_web::test]
async fn token_without_subject_has_no_profile() {
    let app = app(strategy()).await;
    let token = hs256(&json!({"exp": now() + 60}));
    let (status, _, body) = call(&app, "/whoami", &[("authorization", &bearer(&token))]).await;
    assert_eq!(status, 401);
    assert_eq!(body["error"]["message"], "token lacks the sub claim");
}

#[actix_web::test]
async fn user_token_on_service_route_is_403() {
    let app = app(strategy()).await;
    let token = hs256(&valid_claims());
    let (status, _, _) = call(&app, "/service", &[("authorization", &bearer(&token))]).await;
    assert_eq!(status, 403);
    let token = hs256(&json!({"sub": "billing", "exp": now() + 60, "kind": "service"}));
    let (status, _, _) = call(&app, "/service", &[("authorization", &bearer(&token))]).await;
    assert_eq!(status, 200);
}

/// One policy for several `Authorization` headers, whatever their schemes
/// and order: 400 `invalid_request`, even when one of them holds a valid
/// token, and the token is not echoed.
#[actix_web::test]
async fn two_authorization_headers_are_400_whatever_their_schemes() {
    let app = app(strategy()).await;
    let token = hs256(&valid_claims());
    let good = bearer(&token);
    for (first, second) in [
        (good.as_str(), good.as_str()),
        (good.as_str(), "Basic YWxpY2U6cHc="),
        ("Basic YWxpY2U6cHc=", good.as_str()),
        (r#"Digest username="alice""#, good.as_str()),
    ] {
        let req = actix_web::test::TestRequest::get()
            .uri("/whoami")
            .append_header(("authorization", first))
            .append_header(("authorization", second));
        let resp = actix_web::test::call_service(&app, req.to_request()).await;
        assert_eq!(resp.status(), 400, "{first} / {second}");
        assert_eq!(
            www_authenticate(&resp),
            vec![r#"Bearer realm="api", error="invalid_request", error_description="the request has more than one Authorization header""#.to_owned()]
        );
        let body: serde_json::Value = actix_web::test::read_body_json(resp).await;
        assert_eq!(
            body,
            json!({"error": {"statusCode": 400, "name": "BadRequestError", "message": "the request has more than one Authorization header", "code": "INVALID_REQUEST"}})
        );
    }
    // Control: the same token in one header passes.
    let (status, _, _) = call(&app, "/whoami", &[("authorization", &good)]).await;
    assert_eq!(status, 200);
}
