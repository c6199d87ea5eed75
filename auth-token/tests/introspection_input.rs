//! The introspection strategy's input classes that a real server does not
//! produce on demand: answers it must refuse (401) or cannot trust (503),
//! from a server on 127.0.0.1 that answers what each test needs, and
//! configurations refused when built. The real server: the workspace test
//! `introspection` (oidc-provider).
#![cfg(feature = "introspection")]

use std::time::Duration;

use actix_web::test as at;
use actix_web::{App, HttpResponse, HttpServer, web};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_token::{IntrospectionError, IntrospectionStrategy};

#[authenticate("opaque")]
async fn me(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

/// A server whose `/{answer}` endpoint answers with the body and status of
/// that name; returns its base URL.
fn answering_server() -> String {
    let server = HttpServer::new(|| {
        App::new().route(
            "/{answer}",
            web::post().to(|answer: web::Path<String>| async move {
                let json = |v: serde_json::Value| HttpResponse::Ok().json(v);
                match answer.as_str() {
                    "active" => json(serde_json::json!({"active": true, "sub": "ada", "aud": "api", "scope": "a b"})),
                    "inactive" => json(serde_json::json!({"active": false})),
                    "expired" => json(serde_json::json!({"active": true, "sub": "ada", "aud": "api", "exp": 1})),
                    "not-yet" => json(serde_json::json!({"active": true, "sub": "ada", "aud": "api", "nbf": 4_000_000_000u64})),
                    "refresh" => json(serde_json::json!({"active": true, "sub": "ada", "aud": "api", "token_type": "refresh_token"})),
                    "no-identity" => json(serde_json::json!({"active": true, "aud": "api"})),
                    "empty-sub" => json(serde_json::json!({"active": true, "sub": "", "aud": "api"})),
                    "other-audience" => json(serde_json::json!({"active": true, "sub": "ada", "aud": ["web", "mobile"]})),
                    "no-audience" => json(serde_json::json!({"active": true, "sub": "ada"})),
                    "active-string" => json(serde_json::json!({"active": "true", "sub": "ada", "aud": "api"})),
                    "no-active" => json(serde_json::json!({"sub": "ada", "aud": "api"})),
                    "wrong-issuer" => json(serde_json::json!({"active": true, "sub": "ada", "aud": "api", "iss": "https://evil.example"})),
                    // Answers that say nothing trustworthy: 503.
                    "not-json" => HttpResponse::Ok().body("<html>login</html>"),
                    "array" => json(serde_json::json!([{"active": true}])),
                    "huge" => HttpResponse::Ok()
                        .content_type("application/json")
                        .body(format!("{{\"active\":true,\"pad\":\"{}\"}}", "x".repeat(70_000))),
                    "error" => HttpResponse::InternalServerError().finish(),
                    "unauthorized" => HttpResponse::Unauthorized().json(serde_json::json!({"error": "invalid_client"})),
                    "bad-request" => HttpResponse::BadRequest().json(serde_json::json!({"error": "invalid_request"})),
                    "redirect" => HttpResponse::Found()
                        .insert_header(("Location", "http://169.254.169.254/latest/meta-data"))
                        .finish(),
                    "unsupported" => HttpResponse::BadRequest()
                        .json(serde_json::json!({"error": "unsupported_token_type"})),
                    _ => HttpResponse::NotFound().finish(),
                }
            }),
        )
    })
    .workers(1)
    .bind(("127.0.0.1", 0))
    .unwrap();
    let port = server.addrs()[0].port();
    actix_web::rt::spawn(server.run());
    format!("http://127.0.0.1:{port}")
}

/// Status of `GET /me` with a Bearer token, against `/{answer}`.
async fn status(base: &str, answer: &str, issuer: Option<&str>) -> (u16, Option<String>) {
    let mut builder = IntrospectionStrategy::builder("opaque", format!("{base}/{answer}"))
        .client("api", "s3cret-client-secret")
        .audience("api")
        .cache(0, Duration::ZERO);
    if let Some(issuer) = issuer {
        builder = builder.issuer(issuer);
    }
    let registry = StrategyRegistry::builder()
        .register(builder.build().unwrap())
        .build()
        .unwrap();
    let app = at::init_service(
        App::new()
            .app_data(registry)
            .route("/me", web::get().to(me)),
    )
    .await;
    let req = at::TestRequest::get()
        .uri("/me")
        .insert_header(("Authorization", "Bearer some-opaque-token"))
        .to_request();
    let resp = at::call_service(&app, req).await;
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
    assert!(
        !body.contains("s3cret") && !body.contains("some-opaque-token"),
        "{body}"
    );
    (status, retry)
}

#[actix_web::test]
async fn answers_that_do_not_vouch_for_the_token_are_401() {
    let base = answering_server();
    assert_eq!(
        status(&base, "active", None).await.0,
        200,
        "the control case"
    );
    for answer in [
        "inactive",
        "expired",
        "not-yet",
        "refresh",
        "no-identity",
        "empty-sub",
        "other-audience",
        "no-audience",
        "no-active",
        "unsupported",
    ] {
        assert_eq!(status(&base, answer, None).await, (401, None), "{answer}");
    }
    assert_eq!(
        status(&base, "wrong-issuer", Some("https://login.example"))
            .await
            .0,
        401
    );
    assert_eq!(
        status(&base, "active", Some("https://login.example"))
            .await
            .0,
        401,
        "no iss"
    );
}

#[actix_web::test]
async fn answers_that_cannot_be_trusted_are_503_with_retry_after() {
    let base = answering_server();
    for answer in [
        "not-json",
        "array",
        "active-string",
        "huge",
        "error",
        "unauthorized",
        "bad-request",
        "redirect",
        "missing-endpoint",
    ] {
        assert_eq!(
            status(&base, answer, None).await,
            (503, Some("5".to_owned())),
            "{answer}"
        );
    }
    // Nobody listening.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let (code, retry) = status(&format!("http://127.0.0.1:{closed}"), "active", None).await;
    assert_eq!((code, retry.as_deref()), (503, Some("5")));
}

#[test]
fn configurations_that_cannot_be_used_are_refused_when_built() {
    let ok = || {
        IntrospectionStrategy::builder("opaque", "https://login.example/introspect")
            .client("api", "s3cret-value")
    };
    assert!(matches!(ok().build(), Err(IntrospectionError::NoAudience)));
    assert!(matches!(
        IntrospectionStrategy::builder("opaque", "https://login.example/introspect")
            .audience("api")
            .build(),
        Err(IntrospectionError::NoClient)
    ));
    for url in [
        "http://login.example/introspect",
        "ftp://127.0.0.1/x",
        "file:///etc/passwd",
        "not a url",
        "",
    ] {
        let err = IntrospectionStrategy::builder("opaque", url)
            .client("api", "secret")
            .any_audience()
            .build()
            .unwrap_err();
        assert!(
            matches!(
                err,
                IntrospectionError::Endpoint {
                    which: "introspection",
                    ..
                }
            ),
            "{url}: {err}"
        );
    }
    let err = ok()
        .any_audience()
        .revocation_endpoint("http://login.example/revoke")
        .build()
        .unwrap_err();
    assert!(
        matches!(
            err,
            IntrospectionError::Endpoint {
                which: "revocation",
                ..
            }
        ),
        "{err}"
    );
    let built = ok().audience("api").build().unwrap();
    assert!(!format!("{built:?}").contains("s3cret-value"), "{built:?}");
}
