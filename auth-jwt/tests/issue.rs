//! TokenService: access tokens, refresh rotation and reuse detection,
//! revocation, service-to-service tokens, token responses.

mod fixtures;

use std::time::Duration;

use actix_web::{HttpResponse, test as at, web};
use auth_core::{PrincipalKind, StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, IssueError, JwtKey, JwtStrategy, SigningKey, TokenService};
use fixtures::*;

fn service() -> TokenService {
    TokenService::new(SigningKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .issuer("todo")
        .access_ttl(Duration::from_secs(300))
}

fn verifier() -> JwtStrategy {
    JwtStrategy::builder()
        .key(JwtKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .issuer("todo")
        .build()
        .unwrap()
}

#[actix_web::test]
async fn access_token_round_trips_into_the_same_profile() {
    let profile = UserProfile::new("42")
        .with_name("Ada")
        .with_email("ada@example.com")
        .with_roles(["admin", "user"])
        .with_scopes(["todos:read"]);
    let token = service().sign_access(&profile).unwrap();
    let back = verifier().authenticate_token(&token).await.unwrap();
    assert_eq!(back.id, "42");
    assert_eq!(back.name.as_deref(), Some("Ada"));
    assert_eq!(back.email.as_deref(), Some("ada@example.com"));
    assert_eq!(back.roles, ["admin", "user"]);
    assert_eq!(back.scopes, ["todos:read"]);
    assert_eq!(back.kind, PrincipalKind::User);
    assert_eq!(back.claims["iss"], "todo");
    let exp = back.claims["exp"].as_u64().unwrap();
    let iat = back.claims["iat"].as_u64().unwrap();
    assert_eq!(exp - iat, 300);
}

#[actix_web::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let tokens = service();
    let first = tokens.issue(&UserProfile::new("42")).await.unwrap();
    let r1 = first.refresh_token.clone().unwrap();
    let second = tokens.refresh(&r1).await.unwrap();
    let r2 = second.refresh_token.clone().unwrap();
    assert_ne!(r1, r2);
    assert_eq!(
        verifier()
            .authenticate_token(&second.access_token)
            .await
            .unwrap()
            .id,
        "42"
    );
    // Replaying r1 is reuse: refused, and r2 dies with it.
    assert_eq!(
        tokens.refresh(&r1).await.unwrap_err(),
        IssueError::InvalidRefreshToken
    );
    assert_eq!(
        tokens.refresh(&r2).await.unwrap_err(),
        IssueError::InvalidRefreshToken
    );
    // Another login is a separate family and unaffected.
    let other = tokens.issue(&UserProfile::new("42")).await.unwrap();
    assert!(
        tokens
            .refresh(other.refresh_token.as_deref().unwrap())
            .await
            .is_ok()
    );
}

#[actix_web::test]
async fn revoke_and_expiry_end_a_refresh_token() {
    let tokens = service();
    let issued = tokens.issue(&UserProfile::new("7")).await.unwrap();
    let r = issued.refresh_token.unwrap();
    tokens.revoke(&r).await.unwrap();
    tokens.revoke(&r).await.unwrap();
    assert!(tokens.refresh(&r).await.is_err());
    assert!(tokens.refresh("never-issued").await.is_err());

    let t0 = now();
    let expiring = service()
        .refresh_ttl(Duration::from_secs(10))
        .clock(move || t0);
    let issued = expiring.issue(&UserProfile::new("7")).await.unwrap();
    let later = expiring.clone().clock(move || t0 + 11);
    assert!(
        later
            .refresh(issued.refresh_token.as_deref().unwrap())
            .await
            .is_err()
    );
}

#[actix_web::test]
async fn service_tokens_carry_audience_and_kind() {
    let tokens = service();
    let billing = JwtStrategy::builder()
        .key(JwtKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .audience("billing")
        .build()
        .unwrap();
    let t = tokens
        .service_token("todo", "billing", None, Duration::from_secs(60))
        .unwrap();
    let p = billing.authenticate_token(&t).await.unwrap();
    assert_eq!(p.id, "todo");
    assert_eq!(p.kind, PrincipalKind::Service);

    let user = UserProfile::new("42").with_roles(["user"]);
    let t = tokens
        .service_token("todo", "billing", Some(&user), Duration::from_secs(60))
        .unwrap();
    let p = billing.authenticate_token(&t).await.unwrap();
    assert_eq!(p.id, "42");
    assert_eq!(p.kind, PrincipalKind::User);
    assert_eq!(p.claims["act"]["sub"], "todo");

    // A token for another service is refused by this one.
    let t = tokens
        .service_token("todo", "search", None, Duration::from_secs(60))
        .unwrap();
    assert!(billing.authenticate_token(&t).await.is_err());
}

#[actix_web::test]
async fn token_response_is_no_store() {
    let tokens = web::Data::new(service());
    let registry = StrategyRegistry::builder()
        .register(verifier())
        .build()
        .unwrap();
    let app = auth_core::testing::init_service(registry, move |cfg| {
        cfg.app_data(tokens.clone()).route(
            "/login",
            web::post().to(|t: web::Data<TokenService>| async move {
                match t.issue(&UserProfile::new("42")).await {
                    Ok(r) => r.into_response(),
                    Err(_) => HttpResponse::InternalServerError().finish(),
                }
            }),
        );
    })
    .await;
    let resp = at::call_service(&app, at::TestRequest::post().uri("/login").to_request()).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers().get("cache-control").unwrap(), "no-store");
    let body: serde_json::Value = at::read_body_json(resp).await;
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert!(body["refresh_token"].is_string());
}
