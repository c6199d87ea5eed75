//! RFC 7662 introspection and RFC 7009 revocation endpoints for the
//! application's own tokens, on the wire: client authentication, request
//! classes, opaque auth tokens, JWT access tokens and refresh tokens, and a
//! store that cannot answer.
#![cfg(feature = "jwt")]

use std::sync::Arc;

use actix_web::dev::{Service, ServiceResponse};
use actix_web::{App, HttpResponse, test, web};
use auth_core::{
    MemoryStore, RevocationOptions, Revocations, StateStore, StrategyRegistry, UserProfile,
};
use auth_jwt::{Algorithm, JwtStrategy, SigningKey, TokenService, VerifyingKey};
use auth_macros::authenticate;
use auth_token::{JwtAuthority, TokenEndpoints, TokenManager};
use base64::Engine as _;
use serde_json::Value;

const SECRET: [u8; 32] = [42; 32];
const CLIENT_SECRET: &str = "gateway-secret-with-enough-entropy";

fn basic(id: &str, secret: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
    )
}

struct Setup {
    manager: TokenManager,
    tokens: TokenService,
    strategy: JwtStrategy,
}

async fn setup(with_revocations: bool) -> Setup {
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let mut strategy = JwtStrategy::builder()
        .key(VerifyingKey::hmac(&SECRET, Algorithm::HS256).unwrap())
        .issuer("todo")
        .audience("todo-api");
    let mut tokens = TokenService::new(SigningKey::hmac(&SECRET, Algorithm::HS256).unwrap())
        .issuer("todo")
        .audience("todo-api")
        .store(Arc::clone(&store));
    if with_revocations {
        let revocations = Revocations::start(Arc::clone(&store), RevocationOptions::default())
            .await
            .unwrap();
        strategy = strategy.revocations(Arc::clone(&revocations));
        tokens = tokens.revocations(revocations);
    }
    Setup {
        manager: TokenManager::new(store),
        tokens,
        strategy: strategy.build().unwrap(),
    }
}

#[authenticate("jwt")]
async fn protected(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().body(user.id.clone())
}

macro_rules! app {
    ($setup:expr) => {{
        let s: &Setup = &$setup;
        let endpoints = TokenEndpoints::new()
            .client("gateway", CLIENT_SECRET)
            .client("other-gateway", "another-secret-entirely")
            .authority(s.manager.clone())
            .authority(JwtAuthority::new(s.strategy.clone(), s.tokens.clone()));
        let registry = StrategyRegistry::builder()
            .register(s.strategy.clone())
            .build()
            .unwrap();
        test::init_service(
            App::new()
                .app_data(registry)
                .service(
                    web::scope("/oauth").configure(endpoints.configure("/introspect", "/revoke")),
                )
                .route("/protected", web::get().to(protected)),
        )
        .await
    }};
}

async fn post<S, B>(
    app: &S,
    path: &str,
    auth: Option<&str>,
    content_type: &str,
    body: String,
) -> (u16, Value, Option<String>)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let mut req = test::TestRequest::post()
        .uri(path)
        .insert_header(("Content-Type", content_type))
        .set_payload(body);
    if let Some(auth) = auth {
        req = req.insert_header(("Authorization", auth.to_owned()));
    }
    let resp = test::call_service(app, req.to_request()).await;
    let status = resp.status().as_u16();
    assert_eq!(
        resp.headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap()),
        Some("no-store"),
        "{path} {status}"
    );
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let bytes = test::read_body(resp).await;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (status, json, challenge)
}

async fn introspect<S, B>(app: &S, token: &str) -> Value
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let auth = basic("gateway", CLIENT_SECRET);
    let (status, body, _) = post(
        app,
        "/oauth/introspect",
        Some(&auth),
        "application/x-www-form-urlencoded",
        format!("token={token}"),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn revoke<S, B>(app: &S, token: &str) -> (u16, Value)
where
    S: Service<actix_http::Request, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: actix_web::body::MessageBody,
{
    let auth = basic("gateway", CLIENT_SECRET);
    let (status, body, _) = post(
        app,
        "/oauth/revoke",
        Some(&auth),
        "application/x-www-form-urlencoded",
        format!("token={token}&token_type_hint=access_token"),
    )
    .await;
    (status, body)
}

#[actix_web::test]
async fn callers_must_be_registered_clients() {
    let s = setup(false).await;
    let app = app!(s);
    let issued = s.manager.issue(&UserProfile::new("ada")).await.unwrap();
    let form = format!("token={}", issued.token);
    let not_base64 = "Basic !!!not-base64!!!".to_owned();
    let no_colon = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("gateway")
    );
    let bearer = format!("Bearer {}", issued.token);
    let mut bodies = vec![form.clone()];
    for size in [16 * 1024 + 1, 300 * 1024, 2 * 1024 * 1024] {
        bodies.push(format!("token={}&pad={}", issued.token, "x".repeat(size)));
    }
    for auth in [
        None,
        Some(basic("gateway", "wrong-secret")),
        Some(basic("gateway", "")),
        Some(basic("unknown", CLIENT_SECRET)),
        Some(basic("other-gateway", CLIENT_SECRET)),
        Some(basic("gateway", &CLIENT_SECRET[..CLIENT_SECRET.len() - 1])),
        Some(not_base64.clone()),
        Some(no_colon.clone()),
        Some(bearer.clone()),
    ] {
        // The client is refused before its body is read: a body of any size,
        // past actix's own default limit (256 KiB) too, is the same 401.
        for body in &bodies {
            for path in ["/oauth/introspect", "/oauth/revoke"] {
                let (status, reply, challenge) = post(
                    &app,
                    path,
                    auth.as_deref(),
                    "application/x-www-form-urlencoded",
                    body.clone(),
                )
                .await;
                assert_eq!(
                    (status, reply["error"].as_str()),
                    (401, Some("invalid_client")),
                    "{} bytes {auth:?} {path}",
                    body.len()
                );
                assert_eq!(
                    challenge.as_deref(),
                    Some("Basic realm=\"token-endpoints\"")
                );
                assert!(!reply.to_string().contains(&issued.token));
            }
        }
    }
    // Nothing was revoked by the refused callers.
    assert_eq!(introspect(&app, &issued.token).await["active"], true);
    // Both registered clients work; RFC 6749 §2.3.1 form-encoding is decoded.
    let (status, ..) = post(
        &app,
        "/oauth/introspect",
        Some(&basic("other-gateway", "another-secret-entirely")),
        "application/x-www-form-urlencoded",
        form.clone(),
    )
    .await;
    assert_eq!(status, 200);
    let (status, ..) = post(
        &app,
        "/oauth/introspect",
        Some(&basic("other%2Dgateway", "another%2Dsecret%2Dentirely")),
        "application/x-www-form-urlencoded",
        form,
    )
    .await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn malformed_requests_are_400_invalid_request() {
    let s = setup(false).await;
    let app = app!(s);
    let auth = basic("gateway", CLIENT_SECRET);
    let issued = s.manager.issue(&UserProfile::new("ada")).await.unwrap();
    let big = format!("token={}&pad={}", issued.token, "x".repeat(20_000));
    let just_over = format!("token={}&pad=", issued.token);
    let just_over = format!("{just_over}{}", "x".repeat(16 * 1024 + 1 - just_over.len()));
    let past_actix_limit = format!("token={}&pad={}", issued.token, "x".repeat(300 * 1024));
    for (content_type, body) in [
        (
            "application/json",
            format!("{{\"token\":\"{}\"}}", issued.token),
        ),
        ("text/plain", format!("token={}", issued.token)),
        ("application/x-www-form-urlencoded", String::new()),
        ("application/x-www-form-urlencoded", "token=".to_owned()),
        (
            "application/x-www-form-urlencoded",
            "token_type_hint=access_token".to_owned(),
        ),
        (
            "application/x-www-form-urlencoded",
            format!("token={0}&token={0}", issued.token),
        ),
        ("application/x-www-form-urlencoded", big),
        ("application/x-www-form-urlencoded", just_over),
        ("application/x-www-form-urlencoded", past_actix_limit),
    ] {
        for path in ["/oauth/introspect", "/oauth/revoke"] {
            let (status, json, _) = post(&app, path, Some(&auth), content_type, body.clone()).await;
            assert_eq!(
                (status, json["error"].as_str()),
                (400, Some("invalid_request")),
                "{content_type} {body:.60} {path}"
            );
        }
    }
    assert_eq!(
        introspect(&app, &issued.token).await["active"],
        true,
        "nothing revoked"
    );
}

#[actix_web::test]
async fn opaque_auth_tokens_introspect_and_revoke() {
    let s = setup(false).await;
    let app = app!(s);
    let issued = s
        .manager
        .issue(&UserProfile::new("ada").with_scopes(["todos:read", "todos:write"]))
        .await
        .unwrap();
    let body = introspect(&app, &issued.token).await;
    assert_eq!(body["active"], true);
    assert_eq!(body["sub"], "ada");
    assert_eq!(body["scope"], "todos:read todos:write");
    assert_eq!(body["exp"], issued.record.expires_at);
    for unknown in ["A".repeat(43), "x".into(), format!("{}.", issued.token)] {
        assert_eq!(
            introspect(&app, &unknown).await,
            serde_json::json!({"active": false}),
            "{unknown}"
        );
        assert_eq!(
            revoke(&app, &unknown).await.0,
            200,
            "unknown tokens are not an error"
        );
    }
    assert_eq!(revoke(&app, &issued.token).await.0, 200);
    assert_eq!(
        introspect(&app, &issued.token).await,
        serde_json::json!({"active": false})
    );
    assert!(s.manager.verify(&issued.token).await.unwrap().is_none());
}

#[actix_web::test]
async fn jwt_access_and_refresh_tokens_introspect_and_revoke_everywhere() {
    let s = setup(true).await;
    let app = app!(s);
    let pair = s
        .tokens
        .issue(&UserProfile::new("ada").with_scopes(["todos:read"]))
        .await
        .unwrap();
    let access = pair.access_token.clone();
    let refresh = pair.refresh_token.clone().unwrap();

    let body = introspect(&app, &access).await;
    assert_eq!(body["active"], true, "{body}");
    assert_eq!(
        (
            body["sub"].as_str(),
            body["iss"].as_str(),
            body["aud"].as_str()
        ),
        (Some("ada"), Some("todo"), Some("todo-api"))
    );
    assert!(body["jti"].is_string() && body["exp"].is_u64(), "{body}");
    let body = introspect(&app, &refresh).await;
    assert_eq!(
        (
            body["active"].as_bool(),
            body["sub"].as_str(),
            body["token_type"].as_str()
        ),
        (Some(true), Some("ada"), Some("refresh_token")),
        "{body}"
    );

    // Forged, tampered, for another audience: not active.
    let other = TokenService::new(SigningKey::hmac(&SECRET, Algorithm::HS256).unwrap())
        .issuer("todo")
        .audience("elsewhere");
    let foreign = other.sign_access(&UserProfile::new("ada")).unwrap();
    let forged = TokenService::new(SigningKey::hmac(&[1; 32], Algorithm::HS256).unwrap())
        .issuer("todo")
        .audience("todo-api")
        .sign_access(&UserProfile::new("ada"))
        .unwrap();
    let mut tampered = access.clone();
    tampered.insert(tampered.len() / 2, 'x');
    for bad in [foreign, forged, tampered] {
        assert_eq!(
            introspect(&app, &bad).await,
            serde_json::json!({"active": false}),
            "{bad}"
        );
    }

    // Revoking the access token: refused by introspection and by the
    // strategy on a protected route alike.
    let get = |token: String| {
        test::TestRequest::get()
            .uri("/protected")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request()
    };
    assert_eq!(
        test::call_service(&app, get(access.clone())).await.status(),
        200
    );
    assert_eq!(revoke(&app, &access).await.0, 200);
    assert_eq!(
        introspect(&app, &access).await,
        serde_json::json!({"active": false})
    );
    assert_eq!(
        test::call_service(&app, get(access.clone())).await.status(),
        401
    );

    // Revoking the refresh token ends its family.
    assert_eq!(revoke(&app, &refresh).await.0, 200);
    assert_eq!(
        introspect(&app, &refresh).await,
        serde_json::json!({"active": false})
    );
    assert!(s.tokens.refresh(&refresh).await.is_err());
}

#[actix_web::test]
async fn an_access_token_that_cannot_be_revoked_says_so() {
    let s = setup(false).await;
    let app = app!(s);
    let pair = s.tokens.issue(&UserProfile::new("ada")).await.unwrap();
    let (status, body) = revoke(&app, &pair.access_token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_token_type"))
    );
    assert_eq!(introspect(&app, &pair.access_token).await["active"], true);
}

#[actix_web::test]
async fn a_store_that_cannot_answer_is_503_not_inactive() {
    // A store that went away, as a Redis that cannot be reached.
    let down = auth_core::testing::FlakyStore::new();
    down.go_down();
    let endpoints = TokenEndpoints::new()
        .client("gateway", CLIENT_SECRET)
        .authority(TokenManager::new(Arc::new(down)));
    let app =
        test::init_service(App::new().configure(endpoints.configure("/introspect", "/revoke")))
            .await;
    let auth = basic("gateway", CLIENT_SECRET);
    for path in ["/introspect", "/revoke"] {
        for token in ["A".repeat(43), "B".repeat(43)] {
            let req = test::TestRequest::post()
                .uri(path)
                .insert_header(("Authorization", auth.clone()))
                .insert_header(("Content-Type", "application/x-www-form-urlencoded"))
                .set_payload(format!("token={token}"))
                .to_request();
            let resp = test::call_service(&app, req).await;
            assert_eq!(resp.status(), 503, "{path}");
            assert_eq!(resp.headers().get("retry-after").unwrap(), "1");
            let body: Value = test::read_body_json(resp).await;
            assert_eq!(body["error"], "temporarily_unavailable");
        }
    }
}
