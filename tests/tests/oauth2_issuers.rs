//! auth-oauth2 against real servers on 127.0.0.1: the OpenID provider of
//! `.ci/oidc` (oidc-provider from npm), several at once, and a small actix
//! server serving crafted discovery documents, key sets and tokens signed
//! with a key of its own (and counting every request it gets).
//!
//! Resource server (issue 15.2): several issuers trusted by one strategy,
//! each with its own mapping; untrusted issuers refused without a network
//! call; audience and `typ` rules; discovery documents refused (issuer,
//! endpoint host, scheme, RFC 8414 fallback); provider down at start-up and
//! later. Client credentials (issue 15.3): caching, refresh ahead of expiry,
//! single flight, typed errors, the bearer helper.

#[path = "common/oidc.rs"]
mod oidc;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::test::{self as at, TestRequest};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, get, web};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::SigningKey;
use auth_macros::authenticate;
use auth_oauth2::{
    ClientCredentials, ClientCredentialsError, DiscoveryError, IssuerConfigError, IssuerStrategy,
    TrustedIssuer,
};
use base64::Engine as _;
use oidc::{OidcProvider, http};
use serde_json::{Value, json};

// A P-256 key that no provider publishes: the crafted server's own.
const PRIVATE_JWK: &str = r#"{"kty":"EC","crv":"P-256","kid":"crafted-1","alg":"ES256","x":"H7f8nZLNSg8DxYy-QFXPQQFnvNcEJ3D4KqVJaIQAWUk","y":"ctLzn2FGluBxHs-7HFJ8Nl_TvX8A65nlGE1B6BashNQ","d":"raFX5m60haepscX34s6n9AsxP72Tieq_nkDuLfSwqwo"}"#;

fn public_jwks() -> String {
    json!({"keys": [{
        "kty": "EC", "crv": "P-256", "kid": "crafted-1", "alg": "ES256", "use": "sig",
        "x": "H7f8nZLNSg8DxYy-QFXPQQFnvNcEJ3D4KqVJaIQAWUk",
        "y": "ctLzn2FGluBxHs-7HFJ8Nl_TvX8A65nlGE1B6BashNQ",
    }]})
    .to_string()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token signed with the crafted server's key.
fn mint(claims: Value, typ: &str) -> String {
    SigningKey::from_jwk_json(PRIVATE_JWK)
        .unwrap()
        .sign(&claims, Some(typ))
        .unwrap()
}

fn claims(iss: &str, aud: &str) -> Value {
    json!({"iss": iss, "aud": aud, "sub": "crafted-user", "iat": now(), "exp": now() + 300, "roles": ["auditor"]})
}

/// The payload of a JWT, unverified (to compare with what was mapped).
fn payload(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------
// The crafted server: answers each path from a table, proxies `/token` to a
// provider when told to, and records every request (path and Authorization).

#[derive(Default)]
struct Crafted {
    routes: Mutex<HashMap<String, (u16, String)>>,
    hits: Mutex<Vec<(String, Option<String>)>>,
    proxy_token_to: Mutex<Option<String>>,
}

struct CraftedServer {
    state: web::Data<Crafted>,
    base: String,
    port: u16,
    handle: actix_web::dev::ServerHandle,
}

impl CraftedServer {
    fn route(&self, path: &str, status: u16, body: impl Into<String>) {
        self.state
            .routes
            .lock()
            .unwrap()
            .insert(path.to_owned(), (status, body.into()));
    }

    fn clear(&self) {
        self.state.routes.lock().unwrap().clear();
    }

    fn hits(&self, path: &str) -> usize {
        self.state
            .hits
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    fn all_hits(&self) -> usize {
        self.state.hits.lock().unwrap().len()
    }

    fn authorization_of_last(&self, path: &str) -> Option<String> {
        self.state
            .hits
            .lock()
            .unwrap()
            .iter()
            .rev()
            .find(|(p, _)| p == path)
            .and_then(|(_, a)| a.clone())
    }

    /// Serves a discovery document naming `issuer` and `jwks_uri`, and the
    /// crafted key set at `/jwks`.
    fn serve_issuer(&self, issuer: &str, jwks_uri: &str) {
        self.route(
            "/.well-known/openid-configuration",
            200,
            json!({"issuer": issuer, "jwks_uri": jwks_uri}).to_string(),
        );
        self.route("/jwks", 200, public_jwks());
    }

    async fn stop(self) {
        self.handle.stop(false).await;
    }
}

async fn serve(req: HttpRequest, body: web::Bytes, state: web::Data<Crafted>) -> HttpResponse {
    let path = req.path().to_owned();
    let authorization = req
        .headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default().to_owned());
    state
        .hits
        .lock()
        .unwrap()
        .push((path.clone(), authorization.clone()));
    let proxy = state.proxy_token_to.lock().unwrap().clone();
    if path == "/token"
        && let Some(target) = proxy
    {
        let mut forward = http()
            .post(target)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_vec());
        if let Some(a) = authorization {
            forward = forward.header("authorization", a);
        }
        return match forward.send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let body = resp.bytes().await.unwrap_or_default();
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                    .content_type("application/json")
                    .body(body)
            }
            Err(_) => HttpResponse::BadGateway().finish(),
        };
    }
    let route = state.routes.lock().unwrap().get(&path).cloned();
    match route {
        Some((status, body)) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .content_type("application/json")
                .body(body)
        }
        None => HttpResponse::NotFound().finish(),
    }
}

fn crafted() -> CraftedServer {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let state = web::Data::new(Crafted::default());
    let shared = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .default_service(web::to(serve))
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(0)
    .listen(listener)
    .unwrap()
    .run();
    let handle = server.handle();
    actix_web::rt::spawn(server);
    CraftedServer {
        state,
        base: format!("http://127.0.0.1:{port}"),
        port,
        handle,
    }
}

// ---------------------------------------------------------------------------
// The API under test.

#[authenticate("oauth2")]
#[get("/whoami")]
async fn whoami(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "roles": user.roles,
        "scopes": user.scopes,
        "iss": user.claims.get("iss"),
        "strategy": user.strategy,
    }))
}

struct Reply {
    status: u16,
    challenge: String,
    retry_after: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }
}

async fn call(strategy: &IssuerStrategy, token: &str) -> Reply {
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
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let challenge = header("www-authenticate").unwrap_or_default();
    let retry_after = header("retry-after");
    let status = resp.status().as_u16();
    let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
    Reply {
        status,
        challenge,
        retry_after,
        body,
    }
}

/// A 401 `invalid_token` that does not echo the token.
fn assert_invalid_token(reply: &Reply, token: &str, why: &str) {
    assert_eq!(reply.status, 401, "{why}: {}", reply.body);
    assert!(
        reply.challenge.contains(r#"error="invalid_token""#),
        "{why}: {}",
        reply.challenge
    );
    if token.len() > 8 {
        assert!(
            !reply.body.contains(token),
            "{why}: the body echoes the token"
        );
    }
}

fn quick_keys(issuer: TrustedIssuer) -> TrustedIssuer {
    // No cooldown between unknown-kid fetches: the tests count them.
    issuer.jwks_timing(Duration::from_secs(600), Duration::ZERO)
}

// ---------------------------------------------------------------------------
// 15.2: resource server.

#[actix_web::test]
async fn oauth_issuer_two_providers_trusted_at_once_each_mapped_its_own_way() {
    if !oidc::available() {
        return;
    }
    let a = OidcProvider::start(0);
    let b = OidcProvider::start(0);
    let untrusted = OidcProvider::start(0);
    let strategy = IssuerStrategy::builder()
        .trust(
            TrustedIssuer::new(&a.issuer)
                .audience("https://api.test")
                .subject_prefix("a:")
                .scopes_claim("scope"),
        )
        .trust(
            TrustedIssuer::new(&b.issuer)
                .audience("https://api.test")
                .subject_prefix("b:")
                .username_claim("jti")
                .scopes_claim("scp")
                .configure(|builder| builder.fixed_roles(["partner"])),
        )
        .build()
        .await
        .unwrap();
    let mut issuers: Vec<_> = strategy.issuers().map(str::to_owned).collect();
    issuers.sort();
    let mut want = vec![a.issuer.clone(), b.issuer.clone()];
    want.sort();
    assert_eq!(issuers, want);
    let client = http();
    // What the strategy discovered: the provider's own document.
    let doc = a.discovery(&client).await;
    assert_eq!(doc["issuer"], a.issuer.as_str());
    assert_eq!(doc["jwks_uri"], format!("{}/jwks", a.issuer));
    for _ in 0..2 {
        let token = a.client_credentials_token(&client).await;
        let reply = call(&strategy, &token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(body["id"], "a:service-a");
        assert_eq!(body["scopes"], json!(["todos:read"]));
        assert_eq!(body["roles"], json!([]));
        assert_eq!(body["iss"], a.issuer.as_str());
        assert_eq!(body["strategy"], "oauth2");

        let token = b.client_credentials_token(&client).await;
        let reply = call(&strategy, &token).await;
        assert_eq!(reply.status, 200, "{}", reply.body);
        let body = reply.json();
        assert_eq!(
            body["id"],
            format!("b:{}", payload(&token)["jti"].as_str().unwrap()),
            "B maps the id from jti"
        );
        assert_eq!(body["roles"], json!(["partner"]));
        assert_eq!(body["scopes"], json!([]), "B maps no scopes");
        assert_eq!(body["iss"], b.issuer.as_str());

        // A provider of the same software, same clients, not trusted.
        let token = untrusted.client_credentials_token(&client).await;
        let reply = call(&strategy, &token).await;
        assert_invalid_token(&reply, &token, "untrusted provider");
        assert!(reply.body.contains("not trusted"), "{}", reply.body);
    }
}

/// The same `sub` from two issuers is two users: each issuer's ids carry
/// its own prefix, and a trust map that could mix them up is refused
/// before any network call, unless the issuers are said to share one.
#[actix_web::test]
async fn oauth_issuer_the_same_subject_of_two_issuers_is_two_users() {
    let a = crafted();
    let b = crafted();
    a.serve_issuer(&a.base, &format!("{}/jwks", a.base));
    b.serve_issuer(&b.base, &format!("{}/jwks", b.base));
    let trust = |server: &CraftedServer, prefix: Option<&str>| {
        let t = quick_keys(TrustedIssuer::new(&server.base).audience("api"));
        match prefix {
            Some(p) => t.subject_prefix(p),
            None => t,
        }
    };
    // Same key at both issuers, same `sub` and roles: only `iss` differs.
    let token_a = mint(claims(&a.base, "api"), "at+jwt");
    let token_b = mint(claims(&b.base, "api"), "at+jwt");

    for (prefixes, why) in [
        ((None, None), "no prefixes"),
        ((Some("t:"), None), "one prefix"),
        ((Some("t:"), Some("t:")), "the same prefix"),
        ((Some("t:"), Some("t:x:")), "a prefix starting the other"),
        ((Some(""), Some("b:")), "an empty prefix"),
    ] {
        let err = IssuerStrategy::builder()
            .trust(trust(&a, prefixes.0))
            .trust(trust(&b, prefixes.1))
            .build()
            .await
            .unwrap_err();
        match &err {
            IssuerConfigError::SubjectsCollide { first, second } => {
                assert_eq!((first, second), (&a.base, &b.base), "{why}");
            }
            other => panic!("{why}: {other}"),
        }
        assert!(err.to_string().contains("subject_prefix"), "{why}: {err}");
    }
    assert_eq!(
        a.all_hits() + b.all_hits(),
        0,
        "refused before any discovery"
    );

    let strategy = IssuerStrategy::builder()
        .trust(trust(&a, Some("a:")))
        .trust(trust(&b, Some("b:")))
        .build()
        .await
        .unwrap();
    for _ in 0..2 {
        // The second round is served from each issuer's token cache.
        let from_a = call(&strategy, &token_a).await;
        let from_b = call(&strategy, &token_b).await;
        assert_eq!(
            (from_a.status, from_b.status),
            (200, 200),
            "{}",
            from_b.body
        );
        assert_eq!(from_a.json()["id"], "a:crafted-user");
        assert_eq!(from_b.json()["id"], "b:crafted-user");
        assert_eq!(from_b.json()["iss"], b.base.as_str());
    }

    // Said to share one user base: the bare subject from both.
    let shared = IssuerStrategy::builder()
        .trust(trust(&a, None))
        .trust(trust(&b, None))
        .dangerously_share_subjects()
        .build()
        .await
        .unwrap();
    assert_eq!(call(&shared, &token_a).await.json()["id"], "crafted-user");
    assert_eq!(call(&shared, &token_b).await.json()["id"], "crafted-user");
    // One issuer alone needs no prefix, and may have one.
    let alone = IssuerStrategy::builder()
        .trust(trust(&a, None))
        .build()
        .await
        .unwrap();
    assert_eq!(call(&alone, &token_a).await.json()["id"], "crafted-user");
    let alone = IssuerStrategy::builder()
        .trust(trust(&a, Some("a:")))
        .build()
        .await
        .unwrap();
    assert_eq!(call(&alone, &token_a).await.json()["id"], "a:crafted-user");
    // A partner trusted for identity, not for roles: its tokens' `roles`
    // ("auditor" here) are not read; the fixed roles are all it gets.
    let partner = IssuerStrategy::builder()
        .trust(
            trust(&a, None)
                .no_claim_roles()
                .configure(|b| b.fixed_roles(["partner"])),
        )
        .build()
        .await
        .unwrap();
    assert_eq!(
        call(&partner, &token_a).await.json()["roles"],
        json!(["partner"])
    );
    assert_eq!(
        call(&alone, &token_a).await.json()["roles"],
        json!(["auditor"])
    );
    let both = IssuerStrategy::builder()
        .trust(trust(&a, None).roles_claim("roles").no_claim_roles())
        .build()
        .await
        .unwrap_err();
    assert!(matches!(both, IssuerConfigError::Jwt { .. }), "{both}");
    a.stop().await;
    b.stop().await;
}

#[actix_web::test]
async fn oauth_issuer_untrusted_or_unreadable_iss_is_refused_without_any_network_call() {
    let server = crafted();
    server.serve_issuer(&server.base, &format!("{}/jwks", server.base));
    let strategy = IssuerStrategy::builder()
        .trust(quick_keys(TrustedIssuer::new(&server.base).audience("api")))
        .build()
        .await
        .unwrap();
    let good = mint(claims(&server.base, "api"), "at+jwt");
    assert_eq!(call(&strategy, &good).await.status, 200);
    let before = server.all_hits();
    let mut two_iss = {
        let header = good.split('.').next().unwrap().to_owned();
        let body = format!(
            r#"{{"iss":"{}","iss":"http://127.0.0.1:1","aud":"api","sub":"x","exp":{}}}"#,
            server.base,
            now() + 300
        );
        format!(
            "{header}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(body)
        )
    };
    two_iss.push_str("c2ln");
    let untrusted: Vec<(&str, String)> = vec![
        // Signed with the trusted key, and a kid it knows: still refused,
        // because the issuer named is not in the trust map.
        (
            "another issuer",
            mint(claims("http://127.0.0.1:1", "api"), "at+jwt"),
        ),
        (
            "an issuer URL with a trailing slash",
            mint(claims(&format!("{}/", server.base), "api"), "at+jwt"),
        ),
        (
            "an issuer in another case",
            mint(claims(&server.base.to_uppercase(), "api"), "at+jwt"),
        ),
        (
            "no iss",
            mint(
                json!({"aud": "api", "sub": "x", "exp": now() + 300}),
                "at+jwt",
            ),
        ),
        (
            "a numeric iss",
            mint(
                json!({"iss": 7, "aud": "api", "sub": "x", "exp": now() + 300}),
                "at+jwt",
            ),
        ),
        ("two iss members", two_iss),
        ("not a JWT", "opaque-token-value".to_owned()),
        ("four parts", format!("{good}.extra")),
        (
            "a payload that is not base64url",
            "eyJhbGciOiJFUzI1NiJ9.a+b/c.c2ln".to_owned(),
        ),
        (
            "a token over 8 KiB",
            format!("{}.{}.sig", "e".repeat(10), "A".repeat(9000)),
        ),
    ];
    for (why, token) in &untrusted {
        let reply = call(&strategy, token).await;
        assert_invalid_token(&reply, token, why);
    }
    assert_eq!(
        server.all_hits(),
        before,
        "an untrusted or unreadable issuer caused a network call"
    );
    // The contrast: a trusted issuer and an unknown kid does fetch the keys.
    let mut unknown_kid = claims(&server.base, "api");
    unknown_kid["jti"] = json!("k");
    let token = SigningKey::from_jwk_json(&PRIVATE_JWK.replace("crafted-1", "crafted-2"))
        .unwrap()
        .sign(&unknown_kid, Some("at+jwt"))
        .unwrap();
    assert_invalid_token(&call(&strategy, &token).await, &token, "unknown kid");
    assert_eq!(
        server.hits("/jwks"),
        2,
        "the trusted issuer's keys were asked again"
    );
    server.stop().await;
}

#[actix_web::test]
async fn oauth_issuer_wrong_audience_is_refused() {
    let server = crafted();
    server.serve_issuer(&server.base, &format!("{}/jwks", server.base));
    let strategy = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&server.base).audience("https://api.test"))
        .build()
        .await
        .unwrap();
    for (aud, want) in [
        (json!("https://api.test"), 200),
        (json!(["https://other.test", "https://api.test"]), 200),
        (json!("https://other.test"), 401),
        (json!("https://api.test/"), 401),
        (json!(["https://other.test"]), 401),
        (json!(null), 401),
    ] {
        let mut c = claims(&server.base, "");
        c["aud"] = aud.clone();
        if aud.is_null() {
            c.as_object_mut().unwrap().remove("aud");
        }
        let token = mint(c, "at+jwt");
        let reply = call(&strategy, &token).await;
        assert_eq!(reply.status, want, "aud {aud}: {}", reply.body);
        if want == 401 {
            assert_invalid_token(&reply, &token, "wrong audience");
        }
    }
    // The audience must be named or waived explicitly.
    let err = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&server.base))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, IssuerConfigError::Jwt { .. }), "{err}");
    let any = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&server.base).any_audience())
        .build()
        .await
        .unwrap();
    let token = mint(claims(&server.base, "https://other.test"), "at+jwt");
    assert_eq!(call(&any, &token).await.status, 200);
    server.stop().await;

    // The same against the real provider: its tokens are for https://api.test.
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let token = provider.client_credentials_token(&http()).await;
    let other = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&provider.issuer).audience("https://other.test"))
        .build()
        .await
        .unwrap();
    assert_invalid_token(
        &call(&other, &token).await,
        &token,
        "provider, wrong audience",
    );
    let right = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&provider.issuer).audience("https://api.test"))
        .build()
        .await
        .unwrap();
    assert_eq!(call(&right, &token).await.status, 200);
}

#[actix_web::test]
async fn oauth_issuer_requires_rfc9068_typ_unless_dangerously_waived() {
    let server = crafted();
    server.serve_issuer(&server.base, &format!("{}/jwks", server.base));
    let strict = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&server.base).audience("api"))
        .build()
        .await
        .unwrap();
    let lax = IssuerStrategy::builder()
        .trust(
            TrustedIssuer::new(&server.base)
                .audience("api")
                .dangerously_accept_any_typ(),
        )
        .build()
        .await
        .unwrap();
    for (typ, strict_status) in [
        ("at+jwt", 200),
        ("application/at+jwt", 200),
        ("AT+JWT", 200),
        ("JWT", 401),
        ("jwt", 401),
        ("id_token+jwt", 401),
        ("at+jwt2", 401),
    ] {
        let token = mint(claims(&server.base, "api"), typ);
        let reply = call(&strict, &token).await;
        assert_eq!(reply.status, strict_status, "typ {typ}: {}", reply.body);
        if strict_status == 401 {
            assert_invalid_token(&reply, &token, typ);
        }
        assert_eq!(call(&lax, &token).await.status, 200, "typ {typ}, waived");
    }
    server.stop().await;
}

#[actix_web::test]
async fn oauth_issuer_discovery_documents_refused_unless_allowed() {
    let server = crafted();
    let base = server.base.clone();
    let port = server.port;
    let build = |issuer: TrustedIssuer| async move {
        IssuerStrategy::builder().trust(issuer).build().await
    };
    let discovery_error = |r: Result<IssuerStrategy, IssuerConfigError>| match r {
        Err(IssuerConfigError::Discovery { source, .. }) => source,
        other => panic!("expected a discovery error, got {other:?}"),
    };

    // The document's issuer must be the configured one, exactly.
    for named in [
        format!("http://localhost:{port}"),
        format!("{base}/"),
        format!("{base}/tenant"),
        "https://login.example".to_owned(),
    ] {
        server.clear();
        server.serve_issuer(&named, &format!("{base}/jwks"));
        let err = discovery_error(build(TrustedIssuer::new(&base).audience("api")).await);
        assert!(
            matches!(&err, DiscoveryError::IssuerMismatch { found, .. } if *found == named),
            "{named}: {err}"
        );
        assert_eq!(
            server.hits("/jwks"),
            0,
            "keys fetched for a refused document"
        );
    }

    // jwks_uri on another host: refused unless that host is allowed.
    server.clear();
    server.serve_issuer(&base, &format!("http://localhost:{port}/jwks"));
    let err = discovery_error(build(TrustedIssuer::new(&base).audience("api")).await);
    assert!(
        matches!(&err, DiscoveryError::ForeignHost { host, field: "jwks_uri", .. } if host == "localhost"),
        "{err}"
    );
    let jwks_before = server.hits("/jwks");
    assert_eq!(jwks_before, 0);
    let allowed = build(
        TrustedIssuer::new(&base)
            .audience("api")
            .allow_endpoint_host("localhost"),
    )
    .await
    .unwrap();
    assert_eq!(
        server.hits("/jwks"),
        1,
        "the keys came from the allowed host"
    );
    let token = mint(claims(&base, "api"), "at+jwt");
    assert_eq!(call(&allowed, &token).await.status, 200);
    // Allowing one host allows no other.
    server.serve_issuer(&base, "https://keys.example/jwks");
    let err = discovery_error(
        build(
            TrustedIssuer::new(&base)
                .audience("api")
                .allow_endpoint_host("localhost"),
        )
        .await,
    );
    assert!(matches!(err, DiscoveryError::ForeignHost { .. }), "{err}");

    // Plain http to a host that is not loopback, other schemes.
    for uri in [
        "http://keys.example/jwks",
        "file:///etc/passwd",
        "not a url",
    ] {
        server.serve_issuer(&base, uri);
        let err = discovery_error(
            build(
                TrustedIssuer::new(&base)
                    .audience("api")
                    .allow_endpoint_host("keys.example"),
            )
            .await,
        );
        assert!(
            matches!(err, DiscoveryError::BadEndpoint { .. }),
            "{uri}: {err}"
        );
    }

    // No jwks_uri; not JSON; a 500 (no fallback behind a failing provider).
    server.clear();
    server.route(
        "/.well-known/openid-configuration",
        200,
        json!({"issuer": base}).to_string(),
    );
    let err = discovery_error(build(TrustedIssuer::new(&base).audience("api")).await);
    assert!(
        matches!(
            err,
            DiscoveryError::Missing {
                field: "jwks_uri",
                ..
            }
        ),
        "{err}"
    );
    server.route("/.well-known/openid-configuration", 200, "<html>");
    let err = discovery_error(build(TrustedIssuer::new(&base).audience("api")).await);
    assert!(matches!(err, DiscoveryError::Malformed { .. }), "{err}");
    server.route("/.well-known/openid-configuration", 500, "{}");
    server.route(
        "/.well-known/oauth-authorization-server",
        200,
        json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string(),
    );
    let err = discovery_error(build(TrustedIssuer::new(&base).audience("api")).await);
    assert!(
        matches!(err, DiscoveryError::Status { status: 500, .. }),
        "{err}"
    );

    // RFC 8414 form when the OpenID one is missing, for an issuer with a
    // path too (the well-known segment goes between host and path).
    server.clear();
    server.route("/jwks", 200, public_jwks());
    server.route(
        "/.well-known/oauth-authorization-server",
        200,
        json!({"issuer": base, "jwks_uri": format!("{base}/jwks")}).to_string(),
    );
    let rfc8414 = build(TrustedIssuer::new(&base).audience("api"))
        .await
        .unwrap();
    assert_eq!(
        call(&rfc8414, &mint(claims(&base, "api"), "at+jwt"))
            .await
            .status,
        200
    );
    let tenant = format!("{base}/tenant-a");
    server.route(
        "/.well-known/oauth-authorization-server/tenant-a",
        200,
        json!({"issuer": tenant, "jwks_uri": format!("{base}/jwks")}).to_string(),
    );
    let with_path = build(TrustedIssuer::new(&tenant).audience("api"))
        .await
        .unwrap();
    assert_eq!(
        call(&with_path, &mint(claims(&tenant, "api"), "at+jwt"))
            .await
            .status,
        200
    );
    assert!(
        server.hits("/tenant-a/.well-known/openid-configuration") >= 1,
        "OpenID form asked first"
    );
    // Neither form: 404.
    server.clear();
    let err = discovery_error(build(TrustedIssuer::new(&base).audience("api")).await);
    assert!(
        matches!(err, DiscoveryError::Status { status: 404, .. }),
        "{err}"
    );
    server.stop().await;
}

#[actix_web::test]
async fn oauth_issuer_provider_down_at_start_up_is_a_typed_error() {
    // Nobody listens: discovery fails.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(format!("http://127.0.0.1:{closed}")).audience("api"))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            IssuerConfigError::Discovery {
                source: DiscoveryError::Unreachable { .. },
                ..
            }
        ),
        "{err}"
    );
    // Discovery works, the key set does not.
    let server = crafted();
    server.route(
        "/.well-known/openid-configuration",
        200,
        json!({"issuer": server.base, "jwks_uri": format!("{}/jwks", server.base)}).to_string(),
    );
    for (status, body) in [(503, "{}".to_owned()), (200, "{\"keys\": 5}".to_owned())] {
        server.route("/jwks", status, body);
        let err = IssuerStrategy::builder()
            .trust(TrustedIssuer::new(&server.base).audience("api"))
            .build()
            .await
            .unwrap_err();
        assert!(matches!(err, IssuerConfigError::Keys { .. }), "{err}");
    }
    // One of several issuers down: the whole strategy does not start.
    server.serve_issuer(&server.base, &format!("{}/jwks", server.base));
    let err = IssuerStrategy::builder()
        .trust(
            TrustedIssuer::new(&server.base)
                .audience("api")
                .subject_prefix("up:"),
        )
        .trust(
            TrustedIssuer::new(format!("http://127.0.0.1:{closed}"))
                .audience("api")
                .subject_prefix("down:"),
        )
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&err, IssuerConfigError::Discovery { issuer, .. } if issuer.ends_with(&format!(":{closed}"))),
        "{err}"
    );
    server.stop().await;

    // The real provider, stopped.
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let issuer = provider.issuer.clone();
    provider.stop();
    let err = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&issuer).audience("https://api.test"))
        .build()
        .await
        .unwrap_err();
    assert!(matches!(err, IssuerConfigError::Discovery { .. }), "{err}");
}

#[actix_web::test]
async fn oauth_issuer_key_rotation_then_provider_down_with_unknown_kid_is_503() {
    if !oidc::available() {
        return;
    }
    let client = http();
    let first = OidcProvider::start(0);
    let port = first.port;
    let strategy = IssuerStrategy::builder()
        .trust(quick_keys(
            TrustedIssuer::new(&first.issuer).audience("https://api.test"),
        ))
        .build()
        .await
        .unwrap();
    let token1 = first.client_credentials_token(&client).await;
    assert_eq!(call(&strategy, &token1).await.status, 200);
    first.stop();

    // A restart is a key rotation: the new kid makes the keys be fetched again.
    let second = OidcProvider::start(port);
    let token2 = second.client_credentials_token(&client).await;
    assert_ne!(
        serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token1.split('.').next().unwrap())
                .unwrap()
        )
        .unwrap()["kid"],
        serde_json::from_slice::<Value>(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(token2.split('.').next().unwrap())
                .unwrap()
        )
        .unwrap()["kid"]
    );
    assert_eq!(call(&strategy, &token2).await.status, 200, "rotated key");
    second.stop();

    // A third key, and the provider gone before this service saw it.
    let third = OidcProvider::start(port);
    let token3 = third.client_credentials_token(&client).await;
    third.stop();
    let reply = call(&strategy, &token3).await;
    assert_eq!(reply.status, 503, "{}", reply.body);
    assert!(reply.retry_after.is_some(), "503 without Retry-After");
    assert!(!reply.body.contains(&token3));
    // Tokens of the keys still held keep working while it is down.
    assert_eq!(call(&strategy, &token2).await.status, 200);
}

// ---------------------------------------------------------------------------
// 15.3: client credentials.

/// A crafted server that proxies `/token` to `provider` (counting the
/// requests) and serves a discovery document naming itself.
fn token_proxy(provider: &OidcProvider) -> CraftedServer {
    let server = crafted();
    *server.state.proxy_token_to.lock().unwrap() = Some(format!("{}/token", provider.issuer));
    server.route(
        "/.well-known/openid-configuration",
        200,
        json!({"issuer": server.base, "token_endpoint": format!("{}/token", server.base)})
            .to_string(),
    );
    server
}

/// Sleeps until `margin` before `deadline`; fails when that moment has
/// already passed (the set-up took longer than the test allows for).
async fn sleep_until_before(deadline: Instant, margin: Duration) {
    let wait = deadline
        .saturating_duration_since(Instant::now())
        .checked_sub(margin)
        .expect("the set-up outlasted the window this check needs");
    tokio::time::sleep(wait).await;
    assert!(Instant::now() < deadline, "the token has not expired yet");
}

#[actix_web::test]
async fn oauth_client_credentials_caches_and_refreshes_before_expiry() {
    if !oidc::available() {
        return;
    }
    // Tokens live 12 s here and are replaced 6 s before they expire. The
    // checks below run 3 s before a token's expiry (past its refresh point)
    // and 1 s after it, timed from the token itself, so a slow set-up on a
    // loaded machine does not move them out of their windows.
    let provider = OidcProvider::start_with(0, &[("OIDC_ACCESS_TOKEN_TTL", "12")]);
    let proxy = token_proxy(&provider);
    let source = ClientCredentials::builder("service-a", "service-a-secret")
        .issuer(&proxy.base)
        .scope("todos:read")
        .refresh_ahead(Duration::from_secs(6))
        .build()
        .await
        .unwrap();
    assert_eq!(source.token_endpoint(), format!("{}/token", proxy.base));
    assert_eq!(proxy.hits("/token"), 0, "no token before the first call");
    let t1 = source.token().await.unwrap();
    for _ in 0..5 {
        assert_eq!(source.token().await.unwrap().secret(), t1.secret());
    }
    assert_eq!(proxy.hits("/token"), 1, "cached: one token request");
    assert_eq!(source.fetch_count(), 1);
    let lifetime = t1.expires_at() - Instant::now();
    assert!(
        lifetime > Duration::from_secs(10) && lifetime <= Duration::from_secs(12),
        "{lifetime:?}"
    );

    // The token works at a resource server trusting the provider.
    let strategy = IssuerStrategy::builder()
        .trust(
            TrustedIssuer::new(&provider.issuer)
                .audience("https://api.test")
                .scopes_claim("scope"),
        )
        .build()
        .await
        .unwrap();
    let reply = call(&strategy, t1.secret()).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.json()["scopes"], json!(["todos:read"]));

    // Past the refresh point, before expiry: a new token.
    sleep_until_before(t1.expires_at(), Duration::from_secs(3)).await;
    let t2 = source.token().await.unwrap();
    assert_ne!(t2.secret(), t1.secret(), "refreshed ahead of expiry");
    assert_eq!(proxy.hits("/token"), 2);
    assert_eq!(source.token().await.unwrap().secret(), t2.secret());
    assert_eq!(proxy.hits("/token"), 2);

    // The bearer helper sends the cached token, sensitive header and all.
    proxy.route("/api", 200, "{}");
    let resp = source
        .authorize(http().get(format!("{}/api", proxy.base)))
        .await
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(
        proxy.authorization_of_last("/api").as_deref(),
        Some(format!("Bearer {}", t2.secret()).as_str())
    );
    assert_eq!(proxy.hits("/token"), 2, "the helper used the cache");

    // A refresh that fails while the cached token is valid: the cached one.
    sleep_until_before(t2.expires_at(), Duration::from_secs(3)).await;
    *proxy.state.proxy_token_to.lock().unwrap() = None; // /token now 404
    let t3 = source.token().await.unwrap();
    assert_eq!(
        t3.secret(),
        t2.secret(),
        "served the cached token during the failure"
    );
    // Expired and not refreshable: the error.
    tokio::time::sleep(
        t2.expires_at().saturating_duration_since(Instant::now()) + Duration::from_secs(1),
    )
    .await;
    let err = source.token().await.unwrap_err();
    assert!(
        matches!(
            err,
            ClientCredentialsError::InvalidResponse(_) | ClientCredentialsError::Server { .. }
        ),
        "{err:?}"
    );
    proxy.stop().await;
}

#[actix_web::test]
async fn oauth_client_credentials_concurrent_callers_share_one_fetch() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start_with(0, &[("OIDC_ACCESS_TOKEN_TTL", "4")]);
    let proxy = token_proxy(&provider);
    let source = ClientCredentials::builder("service-a", "service-a-secret")
        .token_endpoint(format!("{}/token", proxy.base))
        .scope("todos:read")
        .refresh_ahead(Duration::from_secs(2))
        .build()
        .await
        .unwrap();
    for round in 1..=2u64 {
        let calls = (0..32).map(|_| {
            let source = source.clone();
            async move { source.token().await.unwrap() }
        });
        let tokens = futures_util::future::join_all(calls).await;
        let first = tokens[0].secret().to_owned();
        assert!(
            tokens.iter().all(|t| t.secret() == first),
            "round {round}: one token for all"
        );
        assert_eq!(
            proxy.hits("/token") as u64,
            round,
            "round {round}: one request for 32 callers"
        );
        // Past the refresh point for the next round.
        tokio::time::sleep(Duration::from_millis(2300)).await;
    }
    // On a multi-threaded runtime too: tasks on several threads.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    let shared = source.clone();
    let before = proxy.hits("/token");
    // Not blocking this runtime meanwhile: it drives the pooled
    // connections the source opened here.
    let tokens = tokio::task::spawn_blocking(move || {
        rt.block_on(async move {
            let handles: Vec<_> = (0..32)
                .map(|_| {
                    let s = shared.clone();
                    tokio::spawn(async move { s.token().await.unwrap().secret().to_owned() })
                })
                .collect();
            let mut out = Vec::new();
            for h in handles {
                out.push(h.await.unwrap());
            }
            out
        })
    })
    .await
    .unwrap();
    assert!(tokens.iter().all(|t| *t == tokens[0]));
    assert_eq!(
        proxy.hits("/token"),
        before + 1,
        "one request from 32 tasks on 4 threads"
    );
    proxy.stop().await;
}

#[actix_web::test]
async fn oauth_client_credentials_errors_are_typed_and_never_show_the_secret() {
    // Provider down: an error for every caller, one request for all of them.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let down = ClientCredentials::builder("service-a", "top-secret-value")
        .token_endpoint(format!("http://127.0.0.1:{closed}/token"))
        .build()
        .await
        .unwrap();
    let results = futures_util::future::join_all((0..8).map(|_| down.token())).await;
    for r in &results {
        let e = r.as_ref().unwrap_err();
        assert!(matches!(e, ClientCredentialsError::Unreachable(_)), "{e:?}");
        assert!(!format!("{e} {e:?}").contains("top-secret-value"));
    }
    assert_eq!(
        down.fetch_count(),
        1,
        "concurrent callers shared the failed attempt"
    );
    assert!(!format!("{down:?}").contains("top-secret-value"));
    // Discovery of a provider that is down.
    let err = ClientCredentials::builder("service-a", "x")
        .issuer(format!("http://127.0.0.1:{closed}"))
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientCredentialsError::Discovery(DiscoveryError::Unreachable { .. })
        ),
        "{err:?}"
    );
    // A discovered token endpoint on another host: the secret is not sent there.
    let server = crafted();
    server.route(
        "/.well-known/openid-configuration",
        200,
        json!({"issuer": server.base, "token_endpoint": format!("http://localhost:{}/token", server.port)})
            .to_string(),
    );
    let err = ClientCredentials::builder("service-a", "x")
        .issuer(&server.base)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientCredentialsError::Discovery(DiscoveryError::ForeignHost {
                field: "token_endpoint",
                ..
            })
        ),
        "{err:?}"
    );
    server.stop().await;

    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let endpoint = format!("{}/token", provider.issuer);
    for (id, secret, scope, want) in [
        (
            "service-a",
            "wrong-secret-value",
            "todos:read",
            "invalid_client",
        ),
        (
            "nobody",
            "wrong-secret-value",
            "todos:read",
            "invalid_client",
        ),
        (
            "service-a",
            "service-a-secret",
            "todos:write",
            "invalid_scope",
        ),
    ] {
        let source = ClientCredentials::builder(id, secret)
            .token_endpoint(&endpoint)
            .scope(scope)
            .build()
            .await
            .unwrap();
        let err = source.token().await.unwrap_err();
        match &err {
            ClientCredentialsError::Server { error, .. } => assert_eq!(error, want, "{id}/{scope}"),
            other => panic!("{id}/{scope}: {other:?}"),
        }
        assert!(!format!("{err} {err:?} {source:?}").contains(secret));
    }
    // client_secret_post: the credentials in the body (oidc-provider takes
    // them; a wrong secret there is refused the same way).
    for (secret, ok) in [("service-a-secret", true), ("wrong-secret-value", false)] {
        let post = ClientCredentials::builder("service-a", secret)
            .token_endpoint(&endpoint)
            .client_secret_post()
            .build()
            .await
            .unwrap();
        match post.token().await {
            Ok(token) => assert!(ok && payload(token.secret())["client_id"] == "service-a"),
            Err(ClientCredentialsError::Server { error, .. }) => {
                assert!(!ok && error == "invalid_client", "{error}")
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    // Discovery against the provider itself, and a token for a resource.
    let ok = ClientCredentials::builder("service-a", "service-a-secret")
        .issuer(&provider.issuer)
        .resource("https://api.test")
        .scope("todos:read")
        .build()
        .await
        .unwrap();
    assert_eq!(ok.token_endpoint(), endpoint);
    let token = ok.token().await.unwrap();
    assert_eq!(payload(token.secret())["aud"], "https://api.test");
    assert!(!format!("{token:?}").contains(token.secret()));
}

/// Issue 16.2: the strategy's OpenAPI scheme is the issuer's discovery
/// document (one issuer), or bearer JWTs naming each issuer's (several).
#[actix_web::test]
async fn oauth_issuer_describes_its_openapi_scheme_by_discovery_url() {
    use auth_core::AuthenticationStrategy;
    if !oidc::available() {
        return;
    }
    let a = OidcProvider::start(0);
    let b = OidcProvider::start(0);
    let one = IssuerStrategy::builder()
        .trust(TrustedIssuer::new(&a.issuer).audience("https://api.test"))
        .build()
        .await
        .unwrap();
    let scheme = serde_json::to_value(one.security_scheme().unwrap()).unwrap();
    let url = format!("{}/.well-known/openid-configuration", a.issuer);
    assert_eq!(
        scheme,
        json!({"type": "openIdConnect", "openIdConnectUrl": url})
    );
    // The URL is the provider's discovery document.
    let doc: Value = serde_json::from_slice(
        &http()
            .get(&url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(doc["issuer"], a.issuer.as_str());

    let two = IssuerStrategy::builder()
        .trust(
            TrustedIssuer::new(&a.issuer)
                .audience("https://api.test")
                .subject_prefix("a:"),
        )
        .trust(
            TrustedIssuer::new(&b.issuer)
                .audience("https://api.test")
                .subject_prefix("b:"),
        )
        .build()
        .await
        .unwrap();
    let scheme = serde_json::to_value(two.security_scheme().unwrap()).unwrap();
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(scheme["bearerFormat"], "JWT");
    for provider in [&a, &b] {
        let url = format!("{}/.well-known/openid-configuration", provider.issuer);
        assert!(
            scheme["description"].as_str().unwrap().contains(&url),
            "{scheme}"
        );
    }
}
