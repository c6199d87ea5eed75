//! The jwt strategy against a real OpenID provider (oidc-provider from npm,
//! OpenID certified) on 127.0.0.1: key discovery, RFC 9068 access tokens
//! from the client credentials grant, key rotation and provider outages,
//! all on the wire.

mod common;

use std::sync::Arc;
use std::time::Duration;

use actix_web::test::{self as at, TestRequest};
use actix_web::{HttpResponse, get};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::{Algorithm, JwksKeys, JwtStrategy, SigningKey};
use auth_macros::authenticate;
use base64::Engine as _;
use common::oidc::{self, OidcProvider, http};
use serde_json::{Value, json};

#[get("/whoami")]
#[authenticate("jwt")]
async fn whoami(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "kind": user.kind.as_str(),
        "scopes": user.scopes,
    }))
}

/// A strategy that trusts `provider` through its discovery document.
async fn strategy_for(
    provider: &OidcProvider,
    refresh_every: Duration,
    cooldown: Duration,
) -> (JwtStrategy, Arc<JwksKeys>) {
    let discovery = provider.discovery(&http()).await;
    assert_eq!(discovery["issuer"], provider.issuer.as_str());
    let jwks_uri = discovery["jwks_uri"].as_str().unwrap();
    let keys = JwksKeys::from_url(jwks_uri)
        .unwrap()
        .with_timing(refresh_every, cooldown);
    let strategy = JwtStrategy::builder()
        .jwks(Arc::clone(&keys))
        .issuer(provider.issuer.clone())
        .audience("https://api.test")
        .typ("at+jwt")
        .build()
        .unwrap();
    (strategy, keys)
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
    async fn get(&self, token: Option<&str>) -> (u16, Option<String>, Value) {
        let mut req = TestRequest::get().uri("/whoami");
        if let Some(token) = token {
            req = req.insert_header(("authorization", format!("Bearer {token}")));
        }
        let resp = at::call_service(&self.app, req.to_request()).await;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = at::read_body(resp).await;
        let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
        (status, retry_after, body)
    }
}

async fn api(
    strategy: JwtStrategy,
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

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(it.next().unwrap())
        .unwrap();
    let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(it.next().unwrap())
        .unwrap();
    (
        serde_json::from_slice(&header).unwrap(),
        serde_json::from_slice(&claims).unwrap(),
    )
}

#[actix_web::test]
async fn provider_tokens_are_accepted_and_forgeries_refused() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let (strategy, keys) =
        strategy_for(&provider, Duration::from_secs(600), Duration::from_secs(30)).await;
    let api = api(strategy).await;

    let token = provider.client_credentials_token(&http).await;
    let (header, claims) = parts(&token);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(claims["sub"], "service-a");

    let (status, _, body) = api.get(Some(&token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], "service-a");
    // RFC 9068: `sub` equal to `client_id` is a client acting for itself.
    assert_eq!(
        body["kind"], "service",
        "a client credentials token is not a user"
    );
    assert_eq!(body["scopes"], json!(["todos:read"]));
    // The second use is a cache hit and answers the same.
    assert_eq!(api.get(Some(&token)).await.0, 200);
    assert_eq!(keys.fetch_count(), 1, "one fetch of the provider's JWK Set");

    // Every change of a real token is refused.
    let (h, c, s) = {
        let mut it = token.split('.');
        (it.next().unwrap(), it.next().unwrap(), it.next().unwrap())
    };
    let mut other_claims = claims.clone();
    other_claims["sub"] = json!("admin");
    let tampered = [
        format!("{h}.{}.{s}", b64(other_claims.to_string().as_bytes())),
        format!("{h}.{c}.{}", &s[..s.len() - 4]),
        format!("{h}.{c}."),
        format!("{}.{c}.{s}", b64(br#"{"alg":"none","typ":"at+jwt"}"#)),
    ];
    for forged in &tampered {
        assert_eq!(api.get(Some(forged)).await.0, 401, "{forged}");
    }

    // Our own key, claiming the provider's key id and issuer, is refused.
    let pem = auth_test_support::keys::RSA_PRIVATE;
    let imposter = SigningKey::from_pem(pem, Algorithm::RS256)
        .unwrap()
        .with_kid(header["kid"].as_str().unwrap());
    let forged = imposter
        .sign(&claims, Some("at+jwt"))
        .expect("sign the forgery");
    assert_eq!(api.get(Some(&forged)).await.0, 401);

    // No token: 401 with a Bearer challenge.
    assert_eq!(api.get(None).await.0, 401);
    provider.stop();
}

#[actix_web::test]
async fn a_rotation_at_the_provider_is_followed_and_the_retired_key_stops_working() {
    if !oidc::available() {
        return;
    }
    let http = http();
    let first = OidcProvider::start(0);
    let port = first.port;
    let refresh_every = Duration::from_secs(2);
    let (strategy, keys) = strategy_for(&first, refresh_every, Duration::from_millis(200)).await;
    let api = api(strategy).await;

    let old = first.client_credentials_token(&http).await;
    assert_eq!(api.get(Some(&old)).await.0, 200);

    // The provider restarts with new keys (oidc-provider's keys are fixed
    // for its life, so a restart is a rotation): same issuer, new kid.
    first.stop();
    let second = OidcProvider::start(port);
    let new = second.client_credentials_token(&http).await;
    assert_ne!(parts(&new).0["kid"], parts(&old).0["kid"]);

    // The old token was verified (and cached) under a key that is no longer
    // published. Every request for it is a cache hit, and no other token
    // arrives: still, once the refresh deadline has passed the strategy
    // refreshes the set and refuses the token.
    tokio::time::sleep(refresh_every + Duration::from_millis(300)).await;
    let (status, _, body) = api.get(Some(&old)).await;
    assert_eq!(status, 401, "a retired key's token still works: {body}");

    // The new key was picked up by that refresh: no further fetch needed.
    let before = keys.fetch_count();
    let (status, _, body) = api.get(Some(&new)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(keys.fetch_count(), before);
    second.stop();
}

#[actix_web::test]
async fn an_unknown_kid_while_the_provider_is_down_is_503_with_retry_after() {
    if !oidc::available() {
        return;
    }
    let http = http();
    let first = OidcProvider::start(0);
    let port = first.port;
    let (strategy, _keys) =
        strategy_for(&first, Duration::from_secs(600), Duration::from_millis(100)).await;
    let api = api(strategy).await;
    let known = first.client_credentials_token(&http).await;
    assert_eq!(api.get(Some(&known)).await.0, 200);

    // A token from after a rotation that happened during the outage.
    first.stop();
    let rotated = OidcProvider::start(port);
    let unknown = rotated.client_credentials_token(&http).await;
    rotated.stop();

    // The provider is down: the unknown kid cannot be resolved. That is not
    // the client's fault, so not 401: 503, fail closed, with Retry-After.
    for _ in 0..3 {
        let (status, retry_after, body) = api.get(Some(&unknown)).await;
        assert_eq!(status, 503, "{body}");
        let secs: u64 = retry_after.expect("Retry-After on 503").parse().unwrap();
        assert!(secs >= 1, "Retry-After {secs}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // Tokens of the keys already known keep working from the last good set.
    assert_eq!(api.get(Some(&known)).await.0, 200);
}
