//! RFC 8693 token exchange (issue 15.3, on-behalf-of) against the OpenID
//! provider of `.ci/oidc` (oidc-provider from npm, with the token exchange
//! grant `.ci/oidc/token-exchange.mjs` registers): client `todo-api` (the
//! resource server `https://api.test`) exchanges its caller's access token
//! for a token for `https://downstream.test`, which the workspace's own
//! resource server (`IssuerStrategy`, auth-jwt underneath) verifies.
//!
//! Also: the cache (a counting proxy in front of the token endpoint shows
//! that a cached token costs no request), each class of bad input with
//! several inputs (garbage, expired and foreign subject tokens, unknown
//! targets, scopes beyond the subject's, clients without the grant or with
//! a wrong secret), a provider that is down, and a provider whose discovery
//! document does not offer the grant.

#[path = "common/oidc.rs"]
mod oidc;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use actix_web::test::{self as at, TestRequest};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, web};
use auth_core::{StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_oauth2::{
    DiscoveryError, Downstream, ExchangeRequest, IssuerStrategy, TOKEN_EXCHANGE_GRANT,
    TokenExchange, TokenExchangeError, TokenType, TrustedIssuer,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oidc::{OidcProvider, http};
use serde_json::{Value, json};

const CLIENT: &str = "todo-api";
const SECRET: &str = "todo-api-secret";
const DOWNSTREAM: &str = "https://downstream.test";

fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn exchange_for(provider: &OidcProvider) -> TokenExchange {
    TokenExchange::builder(CLIENT, SECRET)
        .issuer(&provider.issuer)
        .build()
        .await
        .unwrap()
}

/// The workspace's resource server for `audience` at `provider`.
async fn resource_server(provider: &OidcProvider, audience: &str) -> IssuerStrategy {
    IssuerStrategy::builder()
        .trust(
            TrustedIssuer::new(&provider.issuer)
                .audience(audience)
                .scopes_claim("scope"),
        )
        .build()
        .await
        .unwrap()
}

#[authenticate("oauth2")]
#[get("/whoami")]
async fn whoami(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "scopes": user.scopes,
        "act": user.claims.get("act"),
        "aud": user.claims.get("aud"),
        "client_id": user.claims.get("client_id"),
    }))
}

/// `GET /whoami` with `token` through `strategy`: (status, body).
async fn call(strategy: &IssuerStrategy, token: &str) -> (u16, String) {
    let registry = StrategyRegistry::builder()
        .register(strategy.clone())
        .build()
        .unwrap();
    let app = at::init_service(App::new().app_data(registry).service(whoami)).await;
    let req = TestRequest::get()
        .uri("/whoami")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = at::call_service(&app, req).await;
    let status = resp.status().as_u16();
    let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
    (status, body)
}

/// Every error of these tests: typed, and without a token or the secret in
/// its message or `Debug`.
fn assert_clean(e: &TokenExchangeError, secrets: &[&str]) {
    let shown = format!("{e} {e:?}");
    for s in secrets {
        assert!(!shown.contains(s), "{shown} shows a secret");
    }
}

// ---------------------------------------------------------------------------
// A counting proxy in front of the provider's token endpoint.

struct Proxy {
    base: String,
    handle: actix_web::dev::ServerHandle,
    hits: web::Data<Counter>,
}

struct Counter {
    target: String,
    token_requests: AtomicUsize,
}

async fn forward(body: web::Bytes, req: HttpRequest, state: web::Data<Counter>) -> HttpResponse {
    state.token_requests.fetch_add(1, Ordering::SeqCst);
    let mut out = http()
        .post(&state.target)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body.to_vec());
    if let Some(a) = req.headers().get("authorization") {
        out = out.header("authorization", a.to_str().unwrap());
    }
    match out.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            let body = resp.bytes().await.unwrap_or_default();
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .content_type("application/json")
                .body(body)
        }
        Err(_) => HttpResponse::BadGateway().finish(),
    }
}

fn proxy(provider: &OidcProvider) -> Proxy {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = web::Data::new(Counter {
        target: format!("{}/token", provider.issuer),
        token_requests: AtomicUsize::new(0),
    });
    let shared = hits.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .route("/token", web::post().to(forward))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    Proxy {
        base: format!("http://127.0.0.1:{port}"),
        handle,
        hits,
    }
}

impl Proxy {
    fn count(&self) -> usize {
        self.hits.token_requests.load(Ordering::SeqCst)
    }
}

// ---------------------------------------------------------------------------
// The downstream service (a real server) and the front API calling it on
// behalf of its caller.

struct DownstreamServer {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

fn downstream_server(strategy: IssuerStrategy) -> DownstreamServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let server = HttpServer::new(move || App::new().app_data(registry.clone()).service(whoami))
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    DownstreamServer {
        base: format!("http://127.0.0.1:{port}"),
        handle,
    }
}

struct Front {
    exchange: TokenExchange,
    target: Downstream,
    downstream_url: String,
}

/// The front API's handler: authenticated by its own resource server, it
/// calls the downstream service with a token exchanged for its caller's.
#[authenticate("oauth2")]
#[get("/todos/owner")]
async fn owner(
    req: HttpRequest,
    _user: UserProfile,
    front: web::Data<Front>,
) -> Result<HttpResponse, TokenExchangeError> {
    let outgoing = front
        .exchange
        .authorize_for_caller(&req, &front.target, http().get(&front.downstream_url))
        .await?;
    let resp = outgoing
        .send()
        .await
        .map_err(|e| TokenExchangeError::Unreachable(e.to_string()))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    Ok(
        HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
            .content_type("application/json")
            .body(body),
    )
}

async fn call_front(front_strategy: &IssuerStrategy, front: Front, token: &str) -> (u16, String) {
    let registry = StrategyRegistry::builder()
        .register(front_strategy.clone())
        .build()
        .unwrap();
    let app = at::init_service(
        App::new()
            .app_data(registry)
            .app_data(web::Data::new(front))
            .service(owner),
    )
    .await;
    let req = TestRequest::get()
        .uri("/todos/owner")
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = at::call_service(&app, req).await;
    let status = resp.status().as_u16();
    let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
    (status, body)
}

// ---------------------------------------------------------------------------

#[actix_web::test]
async fn oauth_token_exchange_token_verified_downstream_keeps_sub_and_names_the_actor() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let meta = provider.discovery(&http).await;
    assert!(
        meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == TOKEN_EXCHANGE_GRANT),
        "{meta}"
    );
    // The caller: service-a's access token for https://api.test.
    let subject = provider.client_credentials_token(&http).await;
    assert_eq!(payload(&subject)["sub"], "service-a");
    assert_eq!(payload(&subject)["aud"], "https://api.test");

    let exchange = exchange_for(&provider).await;
    assert_eq!(
        exchange.token_endpoint(),
        format!("{}/token", provider.issuer)
    );
    let downstream = resource_server(&provider, DOWNSTREAM).await;
    let api = resource_server(&provider, "https://api.test").await;

    // By logical audience, by resource, and by both naming the same target.
    for target in [
        Downstream::audience("downstream"),
        Downstream::resource(DOWNSTREAM),
        Downstream::resource(DOWNSTREAM).and_audience("downstream"),
        Downstream::audience(DOWNSTREAM).scope("todos:read"),
    ] {
        let token = exchange.on_behalf_of(&subject, &target).await.unwrap();
        assert_eq!(token.issued_token_type(), &TokenType::AccessToken);
        assert!(token.is_bearer(), "{token:?}");
        assert_eq!(token.scope(), Some("todos:read"));
        assert!(token.refresh_token().is_none());
        assert!(!format!("{token:?}").contains(token.secret()));
        let claims = payload(token.secret());
        assert_eq!(claims["sub"], "service-a", "{claims}");
        assert_eq!(claims["act"], json!({"sub": CLIENT}), "{claims}");
        assert_eq!(claims["aud"], DOWNSTREAM, "{claims}");

        // The workspace's resource server for the downstream audience
        // accepts it, with the caller as the principal and the actor kept.
        let (status, body) = call(&downstream, token.secret()).await;
        assert_eq!(status, 200, "{body}");
        let who: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(who["id"], "service-a", "{who}");
        assert_eq!(who["act"], json!({"sub": CLIENT}), "{who}");
        assert_eq!(who["scopes"], json!(["todos:read"]), "{who}");
        // It is for the downstream service only.
        let (status, body) = call(&api, token.secret()).await;
        assert_eq!(status, 401, "{body}");
    }

    // requested_token_type jwt is echoed in issued_token_type.
    let jwt = exchange
        .on_behalf_of(
            &subject,
            &Downstream::audience("downstream").requested_token_type(TokenType::Jwt),
        )
        .await
        .unwrap();
    assert_eq!(jwt.issued_token_type(), &TokenType::Jwt);
    assert_eq!(call(&downstream, jwt.secret()).await.0, 200);

    // Delegation: an actor token names the actor (service-a acting for
    // itself here, its own token as actor); a subject that already carries
    // `act` keeps it nested.
    let actor = provider.client_credentials_token(&http).await;
    let delegated = exchange
        .exchange(
            &ExchangeRequest::new(&subject, TokenType::AccessToken)
                .actor_token(&actor, TokenType::AccessToken)
                .target(Downstream::audience("api")),
        )
        .await
        .unwrap();
    let claims = payload(delegated.secret());
    assert_eq!(claims["act"], json!({"sub": "service-a"}), "{claims}");
    assert_eq!(claims["aud"], "https://api.test");
    let chained = exchange
        .on_behalf_of(delegated.secret(), &Downstream::audience("downstream"))
        .await
        .unwrap();
    let claims = payload(chained.secret());
    assert_eq!(
        claims["act"],
        json!({"sub": CLIENT, "act": {"sub": "service-a"}}),
        "{claims}"
    );
    assert_eq!(call(&downstream, chained.secret()).await.0, 200);

    // client_secret_post authenticates as well.
    let post = TokenExchange::builder(CLIENT, SECRET)
        .token_endpoint(format!("{}/token", provider.issuer))
        .client_secret_post()
        .build()
        .await
        .unwrap();
    let token = post
        .on_behalf_of(&subject, &Downstream::audience("downstream"))
        .await
        .unwrap();
    assert_eq!(payload(token.secret())["sub"], "service-a");
}

#[actix_web::test]
async fn oauth_token_exchange_front_api_calls_downstream_on_behalf_of_its_caller() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let subject = provider.client_credentials_token(&http).await;
    let front_strategy = resource_server(&provider, "https://api.test").await;
    let down = downstream_server(resource_server(&provider, DOWNSTREAM).await);
    let exchange = exchange_for(&provider).await;
    let front = |target: Downstream| Front {
        exchange: exchange.clone(),
        target,
        downstream_url: format!("{}/whoami", down.base),
    };

    let (status, body) = call_front(
        &front_strategy,
        front(Downstream::audience("downstream").scope("todos:read")),
        &subject,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let who: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(who["id"], "service-a", "{who}");
    assert_eq!(who["act"], json!({"sub": CLIENT}), "{who}");
    assert_eq!(who["aud"], DOWNSTREAM, "{who}");
    assert_eq!(exchange.fetch_count(), 1);
    // The same caller again: the cached token, no second exchange.
    let (status, _) = call_front(
        &front_strategy,
        front(Downstream::audience("downstream").scope("todos:read")),
        &subject,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(exchange.fetch_count(), 1);

    // The caller may not reach that target or scope: 403, no token echoed.
    for target in [
        Downstream::audience("elsewhere"),
        Downstream::audience("downstream").scope("todos:write"),
    ] {
        let (status, body) = call_front(&front_strategy, front(target.clone()), &subject).await;
        assert_eq!(status, 403, "{target:?}: {body}");
        assert!(body.contains("TOKEN_EXCHANGE_FORBIDDEN"), "{body}");
        assert!(!body.contains(&subject));
    }

    // The provider goes down: a new caller's exchange fails closed (503).
    let other_caller = provider.client_credentials_token(&http).await;
    provider.stop();
    let (status, body) = call_front(
        &front_strategy,
        front(Downstream::audience("downstream")),
        &other_caller,
    )
    .await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains(&other_caller) && !body.contains(SECRET));
    down.handle.stop(false).await;
}

#[actix_web::test]
async fn oauth_token_exchange_caches_per_subject_target_and_scope_bounded() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let proxy = proxy(&provider);
    let exchange = TokenExchange::builder(CLIENT, SECRET)
        .token_endpoint(format!("{}/token", proxy.base))
        .max_entries(3)
        .build()
        .await
        .unwrap();
    let subject = provider.client_credentials_token(&http).await;
    let target = Downstream::audience("downstream").scope("todos:read");

    let first = exchange.on_behalf_of(&subject, &target).await.unwrap();
    assert_eq!((proxy.count(), exchange.fetch_count()), (1, 1));
    // The same subject, target and scope: the same token (the provider
    // would have issued a new `jti`), and no request.
    for _ in 0..3 {
        let again = exchange.on_behalf_of(&subject, &target).await.unwrap();
        assert_eq!(again.secret(), first.secret());
    }
    // An equal target built anew is the same key.
    let same = Downstream::audience("downstream").scope("todos:read");
    exchange.on_behalf_of(&subject, &same).await.unwrap();
    assert_eq!((proxy.count(), exchange.fetch_count()), (1, 1));

    // Concurrent callers for a new key share one request.
    let fresh = provider.client_credentials_token(&http).await;
    let results =
        futures_util::future::join_all((0..8).map(|_| exchange.on_behalf_of(&fresh, &target)))
            .await;
    let secrets: Vec<_> = results
        .iter()
        .map(|r| r.as_ref().unwrap().secret().to_owned())
        .collect();
    assert!(secrets.iter().all(|s| s == &secrets[0]));
    assert_ne!(secrets[0], first.secret());
    assert_eq!((proxy.count(), exchange.fetch_count()), (2, 2));

    // Another target, another scope: each its own exchange.
    let resource = exchange
        .on_behalf_of(&subject, &Downstream::resource(DOWNSTREAM))
        .await
        .unwrap();
    assert_ne!(resource.secret(), first.secret());
    assert_eq!(proxy.count(), 3);
    assert_eq!(exchange.cached_entries(), 3);
    // Full (3 entries): a fourth key evicts one, the cache stays bounded.
    exchange
        .on_behalf_of(&subject, &Downstream::audience("api"))
        .await
        .unwrap();
    assert_eq!(proxy.count(), 4);
    assert_eq!(exchange.cached_entries(), 3);

    // A refusal is not cached: asked again, asked again.
    for n in 5..7 {
        let e = exchange
            .on_behalf_of("not-a-token", &target)
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidRequest { .. }),
            "{e:?}"
        );
        assert_eq!(proxy.count(), n);
    }
    proxy.handle.stop(false).await;
}

#[actix_web::test]
async fn oauth_token_exchange_cached_tokens_are_replaced_before_expiry() {
    if !oidc::available() {
        return;
    }
    // Tokens live 4 s: an exchanged token is served at most 2 s (half its
    // lifetime) and never past the subject token's own `exp`.
    let provider = OidcProvider::start_with(0, &[("OIDC_ACCESS_TOKEN_TTL", "4")]);
    let http = http();
    let exchange = exchange_for(&provider).await;
    let target = Downstream::audience("downstream");
    let subject = provider.client_credentials_token(&http).await;
    let first = exchange.on_behalf_of(&subject, &target).await.unwrap();
    assert_eq!(exchange.fetch_count(), 1);
    assert_eq!(
        exchange
            .on_behalf_of(&subject, &target)
            .await
            .unwrap()
            .secret(),
        first.secret()
    );
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let second = exchange.on_behalf_of(&subject, &target).await.unwrap();
    assert_ne!(second.secret(), first.secret());
    assert_eq!(exchange.fetch_count(), 2);
    // Past the subject token's expiry the provider refuses it, and the
    // cache does not answer for it either.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let e = exchange.on_behalf_of(&subject, &target).await.unwrap_err();
    assert!(
        matches!(e, TokenExchangeError::InvalidRequest { .. }),
        "{e:?}"
    );
    assert_eq!(exchange.fetch_count(), 3);

    // max_cache_lifetime bounds it further (here: no caching at all).
    let uncached = TokenExchange::builder(CLIENT, SECRET)
        .issuer(&provider.issuer)
        .max_cache_lifetime(Duration::ZERO)
        .build()
        .await
        .unwrap();
    let subject = provider.client_credentials_token(&http).await;
    let a = uncached.on_behalf_of(&subject, &target).await.unwrap();
    let b = uncached.on_behalf_of(&subject, &target).await.unwrap();
    assert_ne!(a.secret(), b.secret());
    assert_eq!((uncached.fetch_count(), uncached.cached_entries()), (2, 0));
}

#[actix_web::test]
async fn oauth_token_exchange_bad_subject_tokens_are_invalid_request() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    // Tokens of a second provider live 1 s: expired ones, and foreign ones.
    let short = OidcProvider::start_with(0, &[("OIDC_ACCESS_TOKEN_TTL", "1")]);
    let http = http();
    let exchange = exchange_for(&provider).await;
    let short_exchange = exchange_for(&short).await;
    let target = Downstream::audience("downstream");

    let valid = provider.client_credentials_token(&http).await;
    let parts: Vec<&str> = valid.split('.').collect();
    let mut claims = payload(&valid);
    claims["sub"] = json!("admin");
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"at+jwt"}"#),
        parts[1]
    );
    let foreign = short.client_credentials_token(&http).await;
    let opaque = provider.opaque_token(&http).await; // for https://opaque.test
    let for_downstream = exchange
        .on_behalf_of(&valid, &target)
        .await
        .unwrap()
        .secret()
        .to_owned();

    let not_signed = "not signed by this provider";
    let not_for_us = "not issued for this client";
    for (subject, reason) in [
        (
            "garbage",
            "not an active access token issued by this provider",
        ),
        ("a.b.c", "is not a JWT issued by this provider"),
        ("eyJhbGciOiJSUzI1NiJ9.e30.c2ln", not_signed),
        (tampered.as_str(), not_signed),
        (unsigned.as_str(), not_signed),
        (foreign.as_str(), not_signed),
        (opaque.as_str(), not_for_us),
        (for_downstream.as_str(), not_for_us),
    ] {
        let e = exchange.on_behalf_of(subject, &target).await.unwrap_err();
        match &e {
            TokenExchangeError::InvalidRequest {
                description: Some(d),
            } => assert!(d.contains(reason), "{subject}: {d}"),
            other => panic!("{subject}: {other:?}"),
        }
        assert_eq!(e.error_code(), Some("invalid_request"));
        assert_eq!(e.to_auth_error().status().as_u16(), 401);
        assert_clean(&e, &[subject, SECRET]);
    }
    // Expired: two tokens of the short-lived provider, one exchanged while
    // valid (so the cache holds a token for it), one never.
    let expiring = short.client_credentials_token(&http).await;
    let unused = short.client_credentials_token(&http).await;
    short_exchange
        .on_behalf_of(&expiring, &target)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    for subject in [&expiring, &unused] {
        let e = short_exchange
            .on_behalf_of(subject, &target)
            .await
            .unwrap_err();
        match &e {
            TokenExchangeError::InvalidRequest {
                description: Some(d),
            } => assert!(d.contains("expired"), "{d}"),
            other => panic!("{other:?}"),
        }
        assert_clean(&e, &[subject, SECRET]);
    }
    assert_eq!(short_exchange.fetch_count(), 3);

    // Unsupported token types, and a JWT type for an opaque token.
    let fresh = provider.client_credentials_token(&http).await;
    for (token, token_type) in [
        (fresh.as_str(), TokenType::IdToken),
        (fresh.as_str(), TokenType::Saml2),
        (fresh.as_str(), TokenType::Other("urn:example:mine".into())),
        (opaque.as_str(), TokenType::Jwt),
    ] {
        let e = exchange
            .exchange(&ExchangeRequest::new(token, token_type.clone()).target(target.clone()))
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidRequest { .. }),
            "{token_type:?}: {e:?}"
        );
        assert_clean(&e, &[token, SECRET]);
    }
    // Bad actor tokens.
    for actor in ["garbage", foreign.as_str(), tampered.as_str()] {
        let e = exchange
            .exchange(
                &ExchangeRequest::new(&fresh, TokenType::AccessToken)
                    .actor_token(actor, TokenType::AccessToken)
                    .target(target.clone()),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidRequest { .. }),
            "{e:?}"
        );
    }
    // Refused locally, nothing sent.
    let before = exchange.fetch_count();
    for subject in ["", "with space", "line\nbreak"] {
        let e = exchange.on_behalf_of(subject, &target).await.unwrap_err();
        assert!(
            matches!(
                e,
                TokenExchangeError::InvalidParameter {
                    parameter: "subject_token",
                    ..
                }
            ),
            "{e:?}"
        );
    }
    assert_eq!(exchange.fetch_count(), before);
}

#[actix_web::test]
async fn oauth_token_exchange_unknown_targets_and_scopes_are_refused() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let exchange = exchange_for(&provider).await;
    let subject = provider.client_credentials_token(&http).await;
    for target in [
        Downstream::audience("nope"),
        Downstream::resource("https://unknown.test"),
        Downstream::resource("https://downstream.test/other"),
        Downstream::resource(DOWNSTREAM).and_audience("api"),
        Downstream::resource(DOWNSTREAM).and_resource("https://api.test"),
        Downstream::default(),
    ] {
        let e = exchange.on_behalf_of(&subject, &target).await.unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidTarget { .. }),
            "{target:?}: {e:?}"
        );
        assert_eq!(e.error_code(), Some("invalid_target"));
        assert_eq!(e.to_auth_error().status().as_u16(), 403);
        assert_clean(&e, &[&subject, SECRET]);
    }
    // service-a's token has todos:read only.
    for scope in ["todos:write", "openid", "admin"] {
        let e = exchange
            .on_behalf_of(&subject, &Downstream::audience("downstream").scope(scope))
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidScope { .. }),
            "{scope}: {e:?}"
        );
    }
    // requested_token_type the provider does not issue.
    for requested in [TokenType::IdToken, TokenType::RefreshToken] {
        let e = exchange
            .on_behalf_of(
                &subject,
                &Downstream::audience("downstream").requested_token_type(requested.clone()),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidRequest { .. }),
            "{requested:?}: {e:?}"
        );
    }
}

#[actix_web::test]
async fn oauth_token_exchange_clients_without_the_grant_or_secret_are_refused() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let http = http();
    let subject = provider.client_credentials_token(&http).await;
    let target = Downstream::audience("downstream");
    let endpoint = format!("{}/token", provider.issuer);
    // Registered clients without the token exchange grant.
    for (id, secret) in [
        ("service-a", "service-a-secret"),
        ("api-gateway", "api-gateway-secret"),
        ("todo-web", "todo-web-secret"),
    ] {
        let exchange = TokenExchange::builder(id, secret)
            .token_endpoint(&endpoint)
            .build()
            .await
            .unwrap();
        let e = exchange.on_behalf_of(&subject, &target).await.unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::UnauthorizedClient { .. }),
            "{id}: {e:?}"
        );
        assert_eq!(e.to_auth_error().status().as_u16(), 503);
        assert_clean(&e, &[&subject, secret]);
    }
    // Wrong secret, unknown client, secret in the body but wrong.
    for (id, secret, post) in [
        (CLIENT, "wrong-secret", false),
        (CLIENT, "todo-api-secreT", false),
        ("nobody", "nobody-secret", false),
        (CLIENT, "wrong-secret", true),
    ] {
        let mut builder = TokenExchange::builder(id, secret).token_endpoint(&endpoint);
        if post {
            builder = builder.client_secret_post();
        }
        let exchange = builder.build().await.unwrap();
        let e = exchange.on_behalf_of(&subject, &target).await.unwrap_err();
        assert!(
            matches!(e, TokenExchangeError::InvalidClient { .. }),
            "{id}/{secret}: {e:?}"
        );
        assert_clean(&e, &[&subject, "wrong-secret", "nobody-secret"]);
    }
    // An empty id or secret is refused before anything is sent.
    for (id, secret, parameter) in [(CLIENT, "", "client_secret"), ("", SECRET, "client_id")] {
        let err = TokenExchange::builder(id, secret)
            .token_endpoint(&endpoint)
            .build()
            .await
            .unwrap_err();
        assert!(
            matches!(&err, TokenExchangeError::InvalidParameter { parameter: p, .. } if *p == parameter),
            "{err:?}"
        );
    }
}

#[actix_web::test]
async fn oauth_token_exchange_provider_down_is_unreachable() {
    // Nothing listens: at the token endpoint, and at discovery.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let exchange = TokenExchange::builder(CLIENT, "top-secret-value")
        .token_endpoint(format!("http://127.0.0.1:{closed}/token"))
        .build()
        .await
        .unwrap();
    let target = Downstream::audience("downstream");
    for subject in ["caller-token-1", "caller-token-2", "a.b.c"] {
        let results =
            futures_util::future::join_all((0..4).map(|_| exchange.on_behalf_of(subject, &target)))
                .await;
        for r in results {
            let e = r.unwrap_err();
            assert!(matches!(e, TokenExchangeError::Unreachable(_)), "{e:?}");
            assert_eq!(e.to_auth_error().status().as_u16(), 503);
            assert_clean(&e, &[subject, "top-secret-value"]);
        }
    }
    assert_eq!(
        exchange.fetch_count(),
        3,
        "concurrent callers shared each failure"
    );
    let err = TokenExchange::builder(CLIENT, SECRET)
        .issuer(format!("http://127.0.0.1:{closed}"))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            TokenExchangeError::Discovery(DiscoveryError::Unreachable { .. })
        ),
        "{err:?}"
    );

    if !oidc::available() {
        return;
    }
    // A provider that stops after a token was cached: the cached token is
    // still served while valid; a new caller gets Unreachable.
    let provider = OidcProvider::start(0);
    let http = http();
    let exchange = exchange_for(&provider).await;
    let subject = provider.client_credentials_token(&http).await;
    let other = provider.client_credentials_token(&http).await;
    let cached = exchange.on_behalf_of(&subject, &target).await.unwrap();
    provider.stop();
    let again = exchange.on_behalf_of(&subject, &target).await.unwrap();
    assert_eq!(again.secret(), cached.secret());
    let e = exchange.on_behalf_of(&other, &target).await.unwrap_err();
    assert!(matches!(e, TokenExchangeError::Unreachable(_)), "{e:?}");
    assert_clean(&e, &[&other, SECRET]);
}

#[actix_web::test]
async fn oauth_token_exchange_not_offered_by_discovery_is_a_clear_error() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start_with(0, &[("OIDC_TOKEN_EXCHANGE", "off")]);
    let http = http();
    let meta = provider.discovery(&http).await;
    assert!(
        !meta["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g == TOKEN_EXCHANGE_GRANT),
        "{meta}"
    );
    for id in [CLIENT, "service-a"] {
        let err = TokenExchange::builder(id, SECRET)
            .issuer(&provider.issuer)
            .build()
            .await
            .unwrap_err();
        match &err {
            TokenExchangeError::NotOffered { issuer } => assert_eq!(issuer, &provider.issuer),
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("does not offer token exchange"));
    }
    // Asked anyway (explicit endpoint): the provider says so itself.
    let exchange = TokenExchange::builder("service-a", "service-a-secret")
        .token_endpoint(format!("{}/token", provider.issuer))
        .build()
        .await
        .unwrap();
    let subject = provider.client_credentials_token(&http).await;
    let e = exchange
        .on_behalf_of(&subject, &Downstream::audience("downstream"))
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some("unsupported_grant_type"), "{e:?}");
    assert_eq!(e.to_auth_error().status().as_u16(), 503);

    // auth-oauth2's metadata reading agrees.
    let meta = auth_oauth2::ProviderMetadata::discover(&provider.issuer, &[])
        .await
        .unwrap();
    assert!(meta.supports_grant("client_credentials"));
    assert!(!meta.supports_grant(TOKEN_EXCHANGE_GRANT));
}
