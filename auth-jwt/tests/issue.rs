//! TokenService: access tokens, refresh rotation and reuse detection,
//! revocation, service-to-service tokens, token responses.

mod fixtures;

use std::time::Duration;

use actix_web::{HttpResponse, test as at, web};
use auth_core::{PrincipalKind, StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, IssueError, JwtStrategy, SigningKey, TokenService, VerifyingKey};
use fixtures::*;

fn service() -> TokenService {
    TokenService::new(SigningKey::hmac(SECRET, Algorithm::HS256).unwrap())
        .issuer("todo")
        .access_ttl(Duration::from_secs(300))
}

fn verifier() -> JwtStrategy {
    JwtStrategy::builder()
        .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
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
    assert!(matches!(
        tokens.refresh(&r1).await.unwrap_err(),
        IssueError::InvalidRefreshToken
    ));
    assert!(matches!(
        tokens.refresh(&r2).await.unwrap_err(),
        IssueError::InvalidRefreshToken
    ));
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
        .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
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

/// Two instances on one store: a token spent on one is a reuse on the other.
#[actix_web::test]
async fn instances_sharing_a_store_agree_on_rotation_and_reuse() {
    let shared: std::sync::Arc<dyn auth_core::StateStore> =
        std::sync::Arc::new(auth_core::MemoryStore::new());
    let a = service().store(shared.clone());
    let b = service().store(shared);
    let issued = a.issue(&UserProfile::new("42")).await.unwrap();
    let r1 = issued.refresh_token.unwrap();
    let rotated = b.refresh(&r1).await.unwrap();
    assert!(matches!(
        a.refresh(&r1).await.unwrap_err(),
        IssueError::InvalidRefreshToken
    ));
    // The reuse revoked the family on both.
    assert!(
        b.refresh(rotated.refresh_token.as_deref().unwrap())
            .await
            .is_err()
    );
}

#[actix_web::test]
async fn of_concurrent_refreshes_with_one_token_exactly_one_succeeds() {
    let tokens = service();
    let r1 = tokens
        .issue(&UserProfile::new("42"))
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    let results = futures_util::future::join_all((0..8).map(|_| tokens.refresh(&r1))).await;
    let winners: Vec<_> = results.into_iter().filter_map(Result::ok).collect();
    assert_eq!(winners.len(), 1);
    // The others were replays: the winner's token died with its family.
    assert!(
        tokens
            .refresh(winners[0].refresh_token.as_deref().unwrap())
            .await
            .is_err()
    );
}

#[actix_web::test]
async fn refresh_tokens_expire_with_the_services_clock() {
    let clock = auth_core::ManualClock::at_secs(1_700_000_000);
    let tokens = service()
        .refresh_ttl(Duration::from_secs(3600))
        .with_clock(std::sync::Arc::new(clock.clone()));
    let r1 = tokens
        .issue(&UserProfile::new("42"))
        .await
        .unwrap()
        .refresh_token
        .unwrap();
    clock.advance(Duration::from_secs(3600));
    assert!(matches!(
        tokens.refresh(&r1).await.unwrap_err(),
        IssueError::InvalidRefreshToken
    ));
}

/// A store that is down: refresh fails closed with 503, never a 500 or a pass.
#[actix_web::test]
async fn a_store_outage_is_a_503() {
    #[derive(Debug)]
    struct Down;
    #[auth_core::async_trait]
    impl auth_core::StateStore for Down {
        async fn set_if_absent(
            &self,
            _: &str,
            _: &[u8],
            _: Duration,
        ) -> Result<bool, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
        async fn get(&self, _: &str) -> Result<Option<auth_core::Entry>, auth_core::StoreError> {
            Err(auth_core::StoreError::timeout(Duration::from_secs(1)))
        }
        async fn take(&self, _: &str) -> Result<Option<Vec<u8>>, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
        async fn delete(&self, _: &str) -> Result<bool, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
        async fn increment(
            &self,
            _: &str,
            _: Duration,
        ) -> Result<auth_core::Count, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
        async fn raise(&self, _: &str, _: u64, _: Duration) -> Result<bool, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
        async fn publish(&self, _: &str, _: &[u8]) -> Result<(), auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
        async fn subscribe(
            &self,
            _: &str,
        ) -> Result<auth_core::Subscription, auth_core::StoreError> {
            Err(auth_core::StoreError::unavailable("connection refused"))
        }
    }
    let tokens = service().store(std::sync::Arc::new(Down));
    let issue = tokens.issue(&UserProfile::new("42")).await.unwrap_err();
    assert_eq!(auth_core::AuthError::from(issue).status().as_u16(), 503);
    let refresh = tokens.refresh("whatever").await.unwrap_err();
    assert!(matches!(refresh, IssueError::Store(ref e) if e.is_transient()));
    let err = auth_core::AuthError::from(refresh);
    assert_eq!(err.status().as_u16(), 503);
    assert!(!err.public_message().contains("refused"));
}
