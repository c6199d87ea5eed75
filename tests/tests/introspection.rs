//! auth-token's RFC 7662 introspection strategy against a real OAuth 2.0
//! server (oidc-provider from npm) on 127.0.0.1: opaque access tokens from
//! the client credentials grant, the audience rule, the revocation budget of
//! the cache, revocation here and at the server, and the server failing.

#[path = "common/oidc.rs"]
mod oidc;

use std::time::{Duration, Instant};

use actix_web::test::{self as at, TestRequest};
use actix_web::{HttpResponse, get};
use auth_core::{PrincipalKind, StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_token::IntrospectionStrategy;
use oidc::{OidcProvider, http};
use serde_json::Value;

#[authenticate("opaque")]
#[get("/whoami")]
async fn whoami(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": user.id,
        "service": user.kind == PrincipalKind::Service,
        "scopes": user.scopes,
        "client_id": user.claims.get("client_id"),
    }))
}

struct Api<S> {
    app: S,
}

impl<S> Api<S>
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    /// Status, `Retry-After`, `WWW-Authenticate` and body of `GET /whoami`.
    async fn get(&self, token: &str) -> (u16, Option<String>, String, String) {
        let req = TestRequest::get()
            .uri("/whoami")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request();
        let resp = at::call_service(&self.app, req).await;
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (status, retry, challenge) = (
            resp.status().as_u16(),
            header("retry-after"),
            header("www-authenticate").unwrap_or_default(),
        );
        let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
        (status, retry, challenge, body)
    }
}

async fn api(
    strategy: IntrospectionStrategy,
) -> Api<
    impl actix_web::dev::Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse,
        Error = actix_web::Error,
    >,
> {
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = at::init_service(actix_web::App::new().app_data(registry).service(whoami)).await;
    Api { app }
}

fn strategy(provider: &OidcProvider, secret: &str, budget: Duration) -> IntrospectionStrategy {
    IntrospectionStrategy::builder("opaque", format!("{}/token/introspection", provider.issuer))
        .client("api-gateway", secret)
        .audience("https://opaque.test")
        .issuer(provider.issuer.clone())
        .revocation_endpoint(format!("{}/token/revocation", provider.issuer))
        .cache(1000, budget)
        .build()
        .unwrap()
}

/// Revokes `token` at the provider directly, as another party would.
async fn revoke_at_provider(provider: &OidcProvider, token: &str) {
    let resp = http()
        .post(format!("{}/token/revocation", provider.issuer))
        .basic_auth("api-gateway", Some("api-gateway-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[actix_web::test]
async fn active_opaque_tokens_are_accepted_and_everything_else_refused() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let discovery = provider.discovery(&http).await;
    assert_eq!(
        discovery["introspection_endpoint"],
        format!("{}/token/introspection", provider.issuer)
    );
    let api = api(strategy(
        &provider,
        "api-gateway-secret",
        Duration::from_secs(30),
    ))
    .await;

    let token = provider.opaque_token(&http).await;
    let (status, _, _, body) = api.get(&token).await;
    assert_eq!(status, 200, "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["id"], "service-a", "no sub: the client is the principal");
    assert_eq!(me["service"], true);
    assert_eq!(me["scopes"], serde_json::json!(["todos:read"]));
    assert_eq!(me["client_id"], "service-a");

    // Active at the provider, but for another audience (the JWT resource).
    let other_audience = provider.client_credentials_token(&http).await;
    // Unknown, guessed and malformed tokens: inactive at the provider, or
    // refused before asking it.
    let mut guessed = token.clone().into_bytes();
    guessed[5] = if guessed[5] == b'a' { b'b' } else { b'a' };
    for bad in [
        other_audience,
        String::from_utf8(guessed).unwrap(),
        "A".repeat(43),
        "x".into(),
        "t".repeat(5000),
    ] {
        let (status, _, challenge, body) = api.get(&bad).await;
        assert_eq!(status, 401, "{bad:.40}: {body}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
        assert!(!body.contains(&bad[..bad.len().min(40)]), "no token echoed");
    }
    provider.stop();
}

#[actix_web::test]
async fn the_cache_keeps_a_token_revoked_elsewhere_at_most_the_budget_and_a_revocation_here_at_once()
 {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let budget = Duration::from_secs(2);
    let here = strategy(&provider, "api-gateway-secret", budget);
    let app = api(here.clone()).await;

    // Revoked at the provider by someone else: served from the cache until
    // the budget ends, then refused.
    let token = provider.opaque_token(&http).await;
    let cached_at = Instant::now();
    assert_eq!(app.get(&token).await.0, 200);
    revoke_at_provider(&provider, &token).await;
    let (status, ..) = app.get(&token).await;
    if cached_at.elapsed() < budget {
        assert_eq!(status, 200, "within the budget, from the cache");
    }
    tokio::time::sleep(budget.saturating_sub(cached_at.elapsed()) + Duration::from_millis(100))
        .await;
    assert_eq!(app.get(&token).await.0, 401, "the budget is over");

    // Revoked here: refused at once on this instance, and at the provider.
    let token = provider.opaque_token(&http).await;
    assert_eq!(app.get(&token).await.0, 200);
    here.revoke(&token).await.unwrap();
    assert_eq!(
        app.get(&token).await.0,
        401,
        "dropped from the cache at once"
    );
    let fresh = api(strategy(
        &provider,
        "api-gateway-secret",
        Duration::from_secs(30),
    ))
    .await;
    assert_eq!(
        fresh.get(&token).await.0,
        401,
        "revoked at the provider too"
    );
    provider.stop();
}

#[actix_web::test]
async fn a_server_that_cannot_answer_is_503_with_retry_after_never_401_or_500() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let token = provider.opaque_token(&http).await;

    // Our credentials refused by the server: it is not the client's fault.
    let wrong = api(strategy(
        &provider,
        "not-the-secret",
        Duration::from_secs(30),
    ))
    .await;
    for _ in 0..2 {
        let (status, retry, _, body) = wrong.get(&token).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(retry.as_deref(), Some("5"));
        assert!(!body.contains("not-the-secret") && !body.contains(&token));
    }

    // The server down: an uncached token is 503, fail closed; a cached one
    // keeps working within the budget.
    let right = api(strategy(
        &provider,
        "api-gateway-secret",
        Duration::from_secs(30),
    ))
    .await;
    let cached = provider.opaque_token(&http).await;
    assert_eq!(right.get(&cached).await.0, 200);
    provider.stop();
    for unknown in [token.as_str(), "B".repeat(43).as_str()] {
        let (status, retry, _, body) = right.get(unknown).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(retry.as_deref(), Some("5"));
    }
    assert_eq!(right.get(&cached).await.0, 200, "cached within the budget");
}
