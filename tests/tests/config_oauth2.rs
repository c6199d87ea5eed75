//! Strategies of auth-oauth2 and auth-token built from a configuration file
//! and used on the wire against the real OpenID provider of `.ci/oidc`
//! (oidc-provider from npm) on 127.0.0.1: `type = "oauth2-issuers"`
//! accepts the trusted provider's RFC 9068 access tokens and refuses a
//! foreign provider's; `type = "introspection"` asks the provider's RFC 7662
//! endpoint with the client secret from the environment override.

#[path = "common/oidc.rs"]
mod oidc;

use actix_web::test::{self as at, TestRequest};
use actix_web::{App, HttpResponse, get};
use auth_core::{AuthConfig, StrategyRegistry, UserProfile};
use auth_macros::authenticate;
use auth_oauth2::IssuerFactory;
use auth_token::IntrospectionFactory;
use oidc::{OidcProvider, http};
use serde_json::{Value, json};

#[authenticate("oauth2")]
#[get("/jwt")]
async fn jwt(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "scopes": user.scopes,
        "roles": user.roles,
        "iss": user.claims.get("iss"),
    }))
}

#[authenticate("opaque")]
#[get("/opaque")]
async fn opaque(user: UserProfile) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": user.id,
        "scopes": user.scopes,
        "client_id": user.claims.get("client_id"),
    }))
}

/// Status, `WWW-Authenticate` and body of `GET path` with `token`.
async fn call(registry: &StrategyRegistry, path: &str, token: &str) -> (u16, String, String) {
    let app = at::init_service(
        App::new()
            .app_data(registry.clone())
            .service(jwt)
            .service(opaque),
    )
    .await;
    let req = TestRequest::get()
        .uri(path)
        .insert_header(("Authorization", format!("Bearer {token}")))
        .to_request();
    let resp = at::call_service(&app, req).await;
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let status = resp.status().as_u16();
    let body = String::from_utf8(at::read_body(resp).await.to_vec()).unwrap();
    (status, challenge, body)
}

#[actix_web::test]
async fn configured_issuer_strategy_accepts_the_trusted_providers_tokens_and_refuses_a_foreign_one()
{
    if !oidc::available() {
        return;
    }
    let trusted = OidcProvider::start(0);
    let foreign = OidcProvider::start(0);
    let client = http();

    // TOML, the issuer set by the environment override (as a deployment
    // would point the same file at its own provider).
    let toml = AuthConfig::from_toml_str(
        "auth.toml",
        r#"
        [strategies.oauth2]
        type = "oauth2-issuers"
        realm = "todo"
        [[strategies.oauth2.issuers]]
        issuer = "https://login.example"
        audience = "https://api.test"
        scopes_claim = "scope"
        fixed_roles = ["partner"]
        jwks_refresh_secs = 300
        jwks_cooldown_secs = 0
        leeway_secs = 5
        "#,
    )
    .unwrap()
    .with_env_vars(
        "AUTH",
        [(
            "AUTH__STRATEGIES__OAUTH2__ISSUERS__0__ISSUER",
            trusted.issuer.as_str(),
        )],
    )
    .unwrap();
    // YAML, the same strategy.
    let yaml = AuthConfig::from_yaml_str(
        "auth.yaml",
        &format!(
            "strategies:\n  oauth2:\n    type: oauth2-issuers\n    realm: todo\n    issuers:\n      - issuer: \"{}\"\n        audience: [\"https://api.test\"]\n        fixed_roles: [partner]\n",
            trusted.issuer
        ),
    )
    .unwrap();
    for config in [toml, yaml] {
        let registry = StrategyRegistry::from_config(&config, &[&IssuerFactory])
            .await
            .unwrap();
        for _ in 0..2 {
            let token = trusted.client_credentials_token(&client).await;
            let (status, _, body) = call(&registry, "/jwt", &token).await;
            assert_eq!(status, 200, "{body}");
            let me: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(me["id"], "service-a");
            assert_eq!(me["scopes"], json!(["todos:read"]));
            assert_eq!(me["roles"], json!(["partner"]));
            assert_eq!(me["iss"], trusted.issuer.as_str());

            // Same software, same clients, same audience: not trusted.
            let token = foreign.client_credentials_token(&client).await;
            let (status, challenge, body) = call(&registry, "/jwt", &token).await;
            assert_eq!(status, 401, "{body}");
            assert!(challenge.contains("realm=\"todo\""), "{challenge}");
            assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
            assert!(!body.contains(&token), "the token is not echoed");
        }
    }

    // The trusted provider's token, for an audience this table does not
    // name: refused.
    let other_audience = AuthConfig::from_toml_str(
        "auth.toml",
        &format!(
            "[strategies.oauth2]\ntype = \"oauth2-issuers\"\n[[strategies.oauth2.issuers]]\nissuer = \"{}\"\naudience = \"https://other.test\"\n",
            trusted.issuer
        ),
    )
    .unwrap();
    let registry = StrategyRegistry::from_config(&other_audience, &[&IssuerFactory])
        .await
        .unwrap();
    let token = trusted.client_credentials_token(&client).await;
    let (status, challenge, body) = call(&registry, "/jwt", &token).await;
    assert_eq!(status, 401, "{body}");
    assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

    // An issuer whose discovery document names another issuer (a trailing
    // slash is another issuer): the start-up stops, naming the table.
    let mismatch = AuthConfig::from_toml_str(
        "auth.toml",
        &format!(
            "[strategies.oauth2]\ntype = \"oauth2-issuers\"\n[[strategies.oauth2.issuers]]\nissuer = \"{}\"\naudience = \"https://api.test\"\nsubject_prefix = \"trusted:\"\n[[strategies.oauth2.issuers]]\nissuer = \"{}/\"\naudience = \"https://api.test\"\nsubject_prefix = \"foreign:\"\n",
            trusted.issuer, foreign.issuer
        ),
    )
    .unwrap();
    let err = StrategyRegistry::from_config(&mismatch, &[&IssuerFactory])
        .await
        .unwrap_err();
    assert_eq!(err.path, "strategies.oauth2.issuers[1]", "{err}");
    assert_eq!(err.strategy.as_deref(), Some("oauth2"));
    trusted.stop();
    foreign.stop();
}

#[actix_web::test]
async fn configured_introspection_asks_the_provider_with_the_secret_from_the_environment() {
    if !oidc::available() {
        return;
    }
    let provider = OidcProvider::start(0);
    let client = http();
    // The endpoints the table names are the provider's own.
    let doc = provider.discovery(&client).await;
    assert_eq!(
        doc["introspection_endpoint"],
        format!("{}/token/introspection", provider.issuer)
    );
    assert_eq!(
        doc["revocation_endpoint"],
        format!("{}/token/revocation", provider.issuer)
    );
    let text = format!(
        r#"
        [strategies.opaque]
        type = "introspection"
        url = "{0}/token/introspection"
        revocation_url = "{0}/token/revocation"
        client_id = "api-gateway"
        audience = "https://opaque.test"
        issuer = "{0}"
        cache_capacity = 100
        revocation_budget_secs = 0
        "#,
        provider.issuer
    );
    let with_secret = |secret: &str| {
        AuthConfig::from_toml_str("auth.toml", &text)
            .unwrap()
            .with_env_vars(
                "AUTH",
                [("AUTH__STRATEGIES__OPAQUE__CLIENT_SECRET", secret)],
            )
            .unwrap()
    };
    let registry =
        StrategyRegistry::from_config(&with_secret("api-gateway-secret"), &[&IntrospectionFactory])
            .await
            .unwrap();
    let token = provider.opaque_token(&client).await;
    let (status, _, body) = call(&registry, "/opaque", &token).await;
    assert_eq!(status, 200, "{body}");
    let me: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(me["id"], "service-a");
    assert_eq!(me["scopes"], json!(["todos:read"]));
    assert_eq!(me["client_id"], "service-a");

    // Active at the provider but for another audience (a JWT for the API
    // resource), and tokens the provider never issued.
    let other_audience = provider.client_credentials_token(&client).await;
    for bad in [other_audience, "A".repeat(43), "not-issued-here".into()] {
        let (status, challenge, body) = call(&registry, "/opaque", &bad).await;
        assert_eq!(status, 401, "{bad:.40}: {body}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");
    }

    // No cache (budget 0): a token revoked at the provider is refused on
    // the next request.
    let revoked = provider.opaque_token(&client).await;
    assert_eq!(call(&registry, "/opaque", &revoked).await.0, 200);
    let resp = client
        .post(format!("{}/token/revocation", provider.issuer))
        .basic_auth("api-gateway", Some("api-gateway-secret"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("token={revoked}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(call(&registry, "/opaque", &revoked).await.0, 401);

    // A wrong secret in the environment: the provider refuses this client,
    // which is not the caller's fault: 503, the secret nowhere in the body.
    let wrong = StrategyRegistry::from_config(
        &with_secret("not-the-gateway-secret"),
        &[&IntrospectionFactory],
    )
    .await
    .unwrap();
    let (status, _, body) = call(&wrong, "/opaque", &token).await;
    assert_eq!(status, 503, "{body}");
    assert!(!body.contains("not-the-gateway-secret"), "{body}");
    provider.stop();
}
