//! `type = "oauth2-issuers"` from a configuration file: every class of bad
//! input is refused with the file (or variable), the strategy and the
//! field, before any network call; a provider that cannot be discovered
//! names the issuer's table. (The strategy accepting a real provider's
//! tokens is tested against oidc-provider in tests/tests/config_oauth2.rs.)
#![cfg(feature = "config")]

use auth_core::{AuthConfig, AuthConfigError, StrategyRegistry};
use auth_oauth2::{IssuerConfig, IssuerFactory};

const GOOD: &str = r#"
[[strategies.api.issuers]]
issuer = "https://login.example"
audience = "https://todo.example"
"#;

fn config(text: &str) -> AuthConfig {
    AuthConfig::from_toml_str(
        "auth.toml",
        &format!("[strategies.api]\ntype = \"oauth2-issuers\"\n{text}"),
    )
    .unwrap()
}

/// The error of `text`, from the config reader and from the registry
/// (which must agree), or a panic naming the accepted table.
async fn refusal(config: &AuthConfig, text: &str) -> AuthConfigError {
    let direct = match IssuerConfig::from_config(config, "api") {
        Err(e) => e,
        Ok(_) => panic!("accepted: {text}"),
    };
    let registry = StrategyRegistry::from_config(config, &[&IssuerFactory])
        .await
        .err()
        .unwrap_or_else(|| panic!("the registry accepted: {text}"));
    assert_eq!(direct, registry, "{text}");
    direct
}

/// `(table after the type, expected path, text the message must contain)`.
fn bad_tables() -> Vec<(String, &'static str, &'static str)> {
    let one = |extra: &str| {
        format!(
            "[[strategies.api.issuers]]\nissuer = \"https://login.example\"\naudience = \"api\"\n{extra}"
        )
    };
    let issuer =
        |url: &str| format!("[[strategies.api.issuers]]\nissuer = \"{url}\"\naudience = \"api\"\n");
    vec![
        // Wrong types.
        (
            "issuers = \"https://login.example\"".into(),
            "strategies.api.issuers",
            "invalid type",
        ),
        (
            "issuers = [{ issuer = 7, audience = \"api\" }]".into(),
            "strategies.api.issuers[0].issuer",
            "invalid type",
        ),
        (
            "[[strategies.api.issuers]]\nissuer = \"https://login.example\"\naudience = 5\n".into(),
            "strategies.api.issuers[0].audience",
            "",
        ),
        (
            one("any_audience = \"yes\""),
            "strategies.api.issuers[0].any_audience",
            "invalid type",
        ),
        (
            one("jwks_refresh_secs = \"10m\""),
            "strategies.api.issuers[0].jwks_refresh_secs",
            "invalid type",
        ),
        (
            one("leeway_secs = -1"),
            "strategies.api.issuers[0].leeway_secs",
            "invalid value",
        ),
        (
            format!("realm = 3\n{GOOD}"),
            "strategies.api.realm",
            "invalid type",
        ),
        (
            one("allowed_endpoint_hosts = \"keys.example\""),
            "strategies.api.issuers[0].allowed_endpoint_hosts",
            "invalid type",
        ),
        // Unknown keys, at every level.
        (
            format!("isuers = []\n{GOOD}"),
            "strategies.api.isuers",
            "unknown field",
        ),
        (
            one("audiance = \"api\""),
            "strategies.api.issuers[0].audiance",
            "unknown field",
        ),
        (
            one("any_typ = true"),
            "strategies.api.issuers[0].any_typ",
            "unknown field",
        ),
        (
            "[[strategies.api.issuers]]\naudience = \"api\"\n".into(),
            "strategies.api.issuers[0]",
            "missing field `issuer`",
        ),
        // Issuer URLs.
        (
            issuer("http://login.example"),
            "strategies.api.issuers[0].issuer",
            "must be https",
        ),
        (
            issuer("http://10.0.0.1:8080"),
            "strategies.api.issuers[0].issuer",
            "must be https",
        ),
        (
            issuer("ftp://127.0.0.1/x"),
            "strategies.api.issuers[0].issuer",
            "must be https",
        ),
        (
            issuer("login.example"),
            "strategies.api.issuers[0].issuer",
            "invalid URL",
        ),
        (
            issuer(""),
            "strategies.api.issuers[0].issuer",
            "invalid URL",
        ),
        (
            issuer("https://login.example/?tenant=7"),
            "strategies.api.issuers[0].issuer",
            "no query or fragment",
        ),
        (
            issuer("https://login.example/#x"),
            "strategies.api.issuers[0].issuer",
            "no query or fragment",
        ),
        // No issuer.
        ("".into(), "strategies.api.issuers", "trusts no issuer"),
        (
            "issuers = []".into(),
            "strategies.api.issuers",
            "trusts no issuer",
        ),
        // Duplicates.
        (
            format!("{GOOD}{GOOD}"),
            "strategies.api.issuers[1].issuer",
            "already trusted by issuers[0]",
        ),
        (
            format!("{GOOD}{}{GOOD}", issuer("https://other.example")),
            "strategies.api.issuers[2].issuer",
            "already trusted by issuers[0]",
        ),
        (
            one("roles_claim = \"roles\"\nno_claim_roles = true"),
            "strategies.api.issuers[0].no_claim_roles",
            "not both",
        ),
        (
            one("no_claim_roles = \"yes\""),
            "strategies.api.issuers[0].no_claim_roles",
            "invalid type",
        ),
        // Several issuers, and subjects that could be one user's.
        (
            format!("{}{}", issuer("https://a.example"), issuer("https://b.example")),
            "strategies.api.issuers[1].subject_prefix",
            "the same profile id",
        ),
        (
            format!(
                "{}subject_prefix = \"a:\"\n{}",
                issuer("https://a.example"),
                issuer("https://b.example")
            ),
            "strategies.api.issuers[1].subject_prefix",
            "dangerously_share_subjects",
        ),
        (
            format!(
                "{}subject_prefix = \"a:\"\n{}subject_prefix = \"a:\"\n",
                issuer("https://a.example"),
                issuer("https://b.example")
            ),
            "strategies.api.issuers[1].subject_prefix",
            "none the start of another",
        ),
        (
            format!(
                "{}subject_prefix = \"a:\"\n{}subject_prefix = \"b:\"\n{}subject_prefix = \"a:b:\"\n",
                issuer("https://a.example"),
                issuer("https://b.example"),
                issuer("https://c.example")
            ),
            "strategies.api.issuers[2].subject_prefix",
            "issuers[0]'s \"a:\"",
        ),
        (
            one("subject_prefix = \"\""),
            "strategies.api.issuers[0].subject_prefix",
            "must not be empty",
        ),
        (
            one("subject_prefix = \"a\\u0007:\""),
            "strategies.api.issuers[0].subject_prefix",
            "control characters",
        ),
        (
            format!(
                "dangerously_share_subjects = \"yes\"\n{}",
                issuer("https://a.example")
            ),
            "strategies.api.dangerously_share_subjects",
            "invalid type",
        ),
        // The audience rule.
        (
            "[[strategies.api.issuers]]\nissuer = \"https://login.example\"\n".into(),
            "strategies.api.issuers[0].audience",
            "any_audience = true",
        ),
        (
            one("any_audience = true"),
            "strategies.api.issuers[0].any_audience",
            "not both",
        ),
        (
            "[[strategies.api.issuers]]\nissuer = \"https://login.example\"\naudience = []\n"
                .into(),
            "strategies.api.issuers[0].audience",
            "at least one audience",
        ),
        (
            "[[strategies.api.issuers]]\nissuer = \"https://login.example\"\naudience = [\"a\", \" \"]\n"
                .into(),
            "strategies.api.issuers[0].audience[1]",
            "must not be empty",
        ),
        // Out-of-range numbers.
        (
            one("jwks_refresh_secs = 0"),
            "strategies.api.issuers[0].jwks_refresh_secs",
            "out of range",
        ),
        (
            one("jwks_refresh_secs = 5"),
            "strategies.api.issuers[0].jwks_refresh_secs",
            "out of range",
        ),
        (
            one("jwks_refresh_secs = 100000"),
            "strategies.api.issuers[0].jwks_refresh_secs",
            "out of range",
        ),
        (
            one("jwks_cooldown_secs = 7200"),
            "strategies.api.issuers[0].jwks_cooldown_secs",
            "out of range",
        ),
        (
            one("leeway_secs = 301"),
            "strategies.api.issuers[0].leeway_secs",
            "out of range",
        ),
        (
            one("cache_capacity = 2000000"),
            "strategies.api.issuers[0].cache_capacity",
            "out of range",
        ),
        // Claims, roles, hosts, realm.
        (
            one("username_claim = \"\""),
            "strategies.api.issuers[0].username_claim",
            "must not be empty",
        ),
        (
            one("roles_claim = \"roles\\n\""),
            "strategies.api.issuers[0].roles_claim",
            "control characters",
        ),
        (
            one("fixed_roles = [\"partner\", \"\"]"),
            "strategies.api.issuers[0].fixed_roles[1]",
            "must not be empty",
        ),
        (
            one("allowed_endpoint_hosts = [\"https://keys.example\"]"),
            "strategies.api.issuers[0].allowed_endpoint_hosts[0]",
            "bare host name",
        ),
        (
            one("allowed_endpoint_hosts = [\"keys.example\", \"keys.example:8443\"]"),
            "strategies.api.issuers[0].allowed_endpoint_hosts[1]",
            "bare host name",
        ),
        (
            one("allowed_endpoint_hosts = [\"keys.example/jwks\"]"),
            "strategies.api.issuers[0].allowed_endpoint_hosts[0]",
            "bare host name",
        ),
        (
            one("allowed_endpoint_hosts = [\"\"]"),
            "strategies.api.issuers[0].allowed_endpoint_hosts[0]",
            "must not be empty",
        ),
        (
            format!("realm = \"\"\n{GOOD}"),
            "strategies.api.realm",
            "must not be empty",
        ),
        (
            format!("realm = \"a\\\"b\"\n{GOOD}"),
            "strategies.api.realm",
            "must not contain",
        ),
    ]
}

#[actix_web::test]
async fn every_class_of_bad_configuration_names_the_strategy_and_the_field() {
    let mut wrong = Vec::new();
    for (table, path, needle) in bad_tables() {
        let err = refusal(&config(&table), &table).await;
        let matches = err.strategy.as_deref() == Some("api")
            && err.path == path
            && err.message.contains(needle)
            && err.origin == "auth.toml";
        if !matches {
            wrong.push(format!(
                "{table}\n  expected {path} / {needle}\n  got {err}"
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[actix_web::test]
async fn a_value_set_by_a_variable_is_named_by_the_variable() {
    for (name, value, path, needle) in [
        (
            "AUTH__STRATEGIES__API__ISSUERS__0__ISSUER",
            "http://login.example",
            "strategies.api.issuers[0].issuer",
            "must be https",
        ),
        (
            "AUTH__STRATEGIES__API__ISSUERS__0__LEEWAY_SECS",
            "3600",
            "strategies.api.issuers[0].leeway_secs",
            "out of range",
        ),
        (
            "AUTH__STRATEGIES__API__ISSUERS__0__ANY_AUDIENCE",
            "true",
            "strategies.api.issuers[0].any_audience",
            "not both",
        ),
        (
            "AUTH__STRATEGIES__API__ISSUERS__0__ALLOWED_ENDPOINT_HOSTS",
            "[\"keys.example\", \"https://evil.example\"]",
            "strategies.api.issuers[0].allowed_endpoint_hosts[1]",
            "bare host name",
        ),
    ] {
        let config = config(GOOD).with_env_vars("AUTH", [(name, value)]).unwrap();
        let err = match IssuerConfig::from_config(&config, "api") {
            Err(e) => e,
            Ok(_) => panic!("accepted {name}={value}"),
        };
        assert_eq!(err.origin, format!("environment variable {name}"), "{err}");
        assert_eq!(err.path, path, "{err}");
        assert!(err.message.contains(needle), "{err}");
    }
}

#[actix_web::test]
async fn a_provider_that_cannot_be_discovered_stops_the_start_up_naming_its_table() {
    // Nothing listens on port 9 of the loopback interface.
    let config = config(&format!(
        "{GOOD}subject_prefix = \"login:\"\n[[strategies.api.issuers]]\nissuer = \"http://127.0.0.1:9\"\naudience = \"api\"\nsubject_prefix = \"local:\"\n"
    ));
    let read = IssuerConfig::from_config(&config, "api").unwrap();
    assert_eq!(
        read.issuers().collect::<Vec<_>>(),
        ["https://login.example", "http://127.0.0.1:9"]
    );
    // The first issuer is not reachable from here either (no DNS for
    // login.example): whichever fails, the error names its table.
    let only_local = AuthConfig::from_toml_str(
        "auth.toml",
        "[strategies.api]\ntype = \"oauth2-issuers\"\n[[strategies.api.issuers]]\nissuer = \"http://127.0.0.1:9\"\naudience = \"api\"\n",
    )
    .unwrap();
    let err = StrategyRegistry::from_config(&only_local, &[&IssuerFactory])
        .await
        .unwrap_err();
    assert_eq!(err.path, "strategies.api.issuers[0]", "{err}");
    assert_eq!(err.strategy.as_deref(), Some("api"));
    assert!(err.message.contains("discovery"), "{err}");
    assert!(err.message.contains("http://127.0.0.1:9"), "{err}");
}

#[test]
fn a_table_of_another_type_or_a_missing_one_is_refused() {
    let config = AuthConfig::from_toml_str(
        "auth.toml",
        "[strategies.jwt]\ntype = \"jwt\"\nissuer = \"x\"\n",
    )
    .unwrap();
    let err = IssuerConfig::from_config(&config, "jwt").unwrap_err();
    assert_eq!(err.path, "strategies.jwt.type", "{err}");
    assert!(err.message.contains("oauth2-issuers"), "{err}");
    let err = IssuerConfig::from_config(&config, "api").unwrap_err();
    assert_eq!(err.path, "strategies.api", "{err}");
}

#[test]
fn every_key_is_read_and_the_defaults_are_the_builders() {
    let full = config(
        r#"
        realm = "todo"
        [[strategies.api.issuers]]
        issuer = "https://login.example"
        audience = ["https://todo.example", "todo"]
        username_claim = "client_id"
        roles_claim = "realm_access.roles"
        scopes_claim = "scp"
        allowed_endpoint_hosts = ["keys.login-cdn.example"]
        jwks_refresh_secs = 300
        jwks_cooldown_secs = 0
        leeway_secs = 10
        fixed_roles = ["partner"]
        cache_capacity = 0
        subject_prefix = "login:"
        [[strategies.api.issuers]]
        issuer = "https://legacy.example"
        any_audience = true
        dangerously_accept_any_typ = true
        subject_prefix = "legacy:"
        no_claim_roles = true
        "#,
    );
    let read = IssuerConfig::from_config(&full, "api").unwrap();
    assert_eq!(read.name(), "api");
    let debug = format!("{:?}", read.strategy_builder());
    for needle in [
        "name: \"api\"",
        "realm: \"todo\"",
        "audiences: [\"https://todo.example\", \"todo\"]",
        "allowed_hosts: [\"keys.login-cdn.example\"]",
        "any_audience: true, any_typ: true",
        "subject_prefix: \"login:\"",
        "subject_prefix: \"legacy:\"",
        "claim_roles: true",
        "claim_roles: false",
        "shared_subjects: false",
    ] {
        assert!(debug.contains(needle), "{needle} in {debug}");
    }
    // Issuers with one user base, said so: no prefixes needed.
    let shared = config(&format!(
        "dangerously_share_subjects = true\n{GOOD}[[strategies.api.issuers]]\nissuer = \"https://login-next.example\"\naudience = \"api\"\n"
    ));
    let read = IssuerConfig::from_config(&shared, "api").unwrap();
    let debug = format!("{:?}", read.strategy_builder());
    assert!(debug.contains("shared_subjects: true"), "{debug}");
    // The defaults: named `api` realm, `typ` checked, audience required.
    let plain = IssuerConfig::from_config(&config(GOOD), "api").unwrap();
    let debug = format!("{:?}", plain.strategy_builder());
    assert!(debug.contains("realm: \"api\""), "{debug}");
    assert!(
        debug.contains("any_audience: false, any_typ: false"),
        "{debug}"
    );
}

/// The first fenced block of `lang` after `heading` in docs/configuration.md.
fn doc_block(heading: &str, lang: &str) -> String {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let section = &doc[doc.find(heading).expect(heading)..];
    let start = section.find(&format!("```{lang}\n")).unwrap() + lang.len() + 4;
    let end = start + section[start..].find("```").unwrap();
    section[start..end].to_owned()
}

#[test]
fn the_example_of_the_documentation_is_read() {
    let text = doc_block("## `type = \"oauth2-issuers\"`", "toml");
    let config = AuthConfig::from_toml_str("configuration.md", &text).unwrap();
    let read = IssuerConfig::from_config(&config, "oauth2").unwrap();
    assert_eq!(
        read.issuers().collect::<Vec<_>>(),
        ["https://login.example", "https://partner.example/tenant-7"]
    );
}

// ---------------------------------------------------------------------------
// The defaults and the opt-outs on tokens: a small provider on 127.0.0.1
// serving a discovery document and a key set, tokens signed with its key.

mod provider {
    use std::time::{SystemTime, UNIX_EPOCH};

    use actix_web::{App, HttpResponse, HttpServer, web};
    use auth_jwt::SigningKey;
    use serde_json::{Value, json};

    const PRIVATE_JWK: &str = r#"{"kty":"EC","crv":"P-256","kid":"cfg-1","alg":"ES256","x":"H7f8nZLNSg8DxYy-QFXPQQFnvNcEJ3D4KqVJaIQAWUk","y":"ctLzn2FGluBxHs-7HFJ8Nl_TvX8A65nlGE1B6BashNQ","d":"raFX5m60haepscX34s6n9AsxP72Tieq_nkDuLfSwqwo"}"#;

    pub(crate) fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// Starts the provider; its issuer is `http://127.0.0.1:PORT`, its
    /// discovery document names `http://JWKS_HOST:PORT/jwks`.
    pub(crate) fn start(jwks_host: &str) -> (String, actix_web::dev::ServerHandle) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let issuer = format!("http://127.0.0.1:{port}");
        let document =
            json!({"issuer": issuer, "jwks_uri": format!("http://{jwks_host}:{port}/jwks")})
                .to_string();
        let jwks = json!({"keys": [{
            "kty": "EC", "crv": "P-256", "kid": "cfg-1", "alg": "ES256", "use": "sig",
            "x": "H7f8nZLNSg8DxYy-QFXPQQFnvNcEJ3D4KqVJaIQAWUk",
            "y": "ctLzn2FGluBxHs-7HFJ8Nl_TvX8A65nlGE1B6BashNQ",
        }]})
        .to_string();
        let server = HttpServer::new(move || {
            let (document, jwks) = (document.clone(), jwks.clone());
            App::new()
                .route(
                    "/.well-known/openid-configuration",
                    web::get().to(move || {
                        let d = document.clone();
                        async move { HttpResponse::Ok().content_type("application/json").body(d) }
                    }),
                )
                .route(
                    "/jwks",
                    web::get().to(move || {
                        let j = jwks.clone();
                        async move { HttpResponse::Ok().content_type("application/json").body(j) }
                    }),
                )
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        (issuer, handle)
    }

    /// A token of this provider with `claims` and header `typ`.
    pub(crate) fn mint(claims: Value, typ: &str) -> String {
        SigningKey::from_jwk_json(PRIVATE_JWK)
            .unwrap()
            .sign(&claims, Some(typ))
            .unwrap()
    }
}

/// The strategy `[[strategies.api.issuers]]` with `issuer` and `extra`
/// builds, through the registry's factory path.
async fn built(issuer: &str, extra: &str) -> auth_oauth2::IssuerStrategy {
    let config = config(&format!(
        "[[strategies.api.issuers]]\nissuer = \"{issuer}\"\n{extra}\n"
    ));
    let registry = StrategyRegistry::from_config(&config, &[&IssuerFactory])
        .await
        .unwrap();
    assert!(registry.get("api").is_some());
    IssuerConfig::from_config(&config, "api")
        .unwrap()
        .strategy()
        .await
        .unwrap()
}

#[actix_web::test]
async fn the_files_defaults_are_the_builders_and_each_opt_out_does_what_it_says() {
    use provider::{mint, now};
    use serde_json::json;

    let (issuer, server) = provider::start("127.0.0.1");
    let claims = |aud: &str, exp: u64| json!({"iss": issuer, "aud": aud, "sub": "user-1", "client_id": "app-7", "exp": exp, "roles": ["reader"]});
    let good = mint(claims("api", now() + 300), "at+jwt");
    let plain_jwt = mint(claims("api", now() + 300), "JWT");
    let other_audience = mint(claims("other-api", now() + 300), "at+jwt");
    let just_expired = mint(claims("api", now() - 10), "at+jwt");

    // Defaults: audience checked, RFC 9068 typ required, 30 s leeway.
    let strict = built(&issuer, "audience = \"api\"").await;
    let user = strict.authenticate_token(&good).await.unwrap();
    assert_eq!(user.id, "user-1");
    assert_eq!(user.roles, ["reader"]);
    assert!(strict.authenticate_token(&just_expired).await.is_ok());
    for (why, token) in [
        ("typ JWT", &plain_jwt),
        ("another audience", &other_audience),
    ] {
        let err = strict.authenticate_token(token).await.unwrap_err();
        assert_eq!(err.status().as_u16(), 401, "{why}");
    }

    // Each opt-out, and nothing else.
    let any_typ = built(
        &issuer,
        "audience = \"api\"\ndangerously_accept_any_typ = true",
    )
    .await;
    assert!(any_typ.authenticate_token(&plain_jwt).await.is_ok());
    assert!(any_typ.authenticate_token(&other_audience).await.is_err());
    let any_audience = built(&issuer, "any_audience = true").await;
    assert!(
        any_audience
            .authenticate_token(&other_audience)
            .await
            .is_ok()
    );
    assert!(any_audience.authenticate_token(&plain_jwt).await.is_err());

    // Leeway, mapping and fixed roles reach the verifier.
    let mapped = built(
        &issuer,
        "audience = [\"other-api\", \"api\"]\nleeway_secs = 0\nusername_claim = \"client_id\"\nroles_claim = \"none\"\nfixed_roles = [\"partner\"]",
    )
    .await;
    let user = mapped.authenticate_token(&good).await.unwrap();
    assert_eq!(user.id, "app-7");
    assert_eq!(user.roles, ["partner"]);
    assert!(mapped.authenticate_token(&other_audience).await.is_ok());
    assert!(mapped.authenticate_token(&just_expired).await.is_err());
    server.stop(false).await;
}

#[actix_web::test]
async fn keys_on_another_host_are_refused_unless_the_file_allows_that_host() {
    let (issuer, server) = provider::start("localhost");
    let config = config(&format!(
        "[[strategies.api.issuers]]\nissuer = \"{issuer}\"\naudience = \"api\"\n"
    ));
    let err = StrategyRegistry::from_config(&config, &[&IssuerFactory])
        .await
        .unwrap_err();
    assert_eq!(err.path, "strategies.api.issuers[0]", "{err}");
    assert!(err.message.contains("localhost"), "{err}");
    let allowed = built(
        &issuer,
        "audience = \"api\"\nallowed_endpoint_hosts = [\"localhost\"]",
    )
    .await;
    let token = provider::mint(
        serde_json::json!({"iss": issuer, "aud": "api", "sub": "u", "exp": provider::now() + 60}),
        "at+jwt",
    );
    assert!(allowed.authenticate_token(&token).await.is_ok());
    server.stop(false).await;
}
