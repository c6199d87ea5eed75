//! `JwtConfig`: one table builds the strategy and the token service; every
//! class of bad configuration is refused with the file, strategy and field.
#![cfg(feature = "config")]

use std::path::Path;

use auth_core::{AuthConfig, StrategyRegistry, UserProfile};
use auth_jwt::{JwtConfig, JwtFactory};

const SECRET: &str = "a-configured-secret-that-is-long-enough";
const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

/// A configuration file in a temporary directory holding `secret.txt` and
/// copies of the test keys, so relative paths resolve against it.
fn write_config(text: &str) -> (tempfile::TempDir, AuthConfig) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), format!("{SECRET}\n")).unwrap();
    for key in [
        "rsa.pem",
        "rsa.pub.pem",
        "ec.pem",
        "ec.pub.pem",
        "rsa1024.pub.pem",
    ] {
        std::fs::copy(Path::new(KEYS).join(key), dir.path().join(key)).unwrap();
    }
    let path = dir.path().join("auth.toml");
    std::fs::write(&path, text).unwrap();
    let config = AuthConfig::from_file(&path).unwrap();
    (dir, config)
}

fn profile() -> UserProfile {
    let mut user = UserProfile::new("ada");
    user.roles = vec!["admin".into()];
    user
}

#[actix_web::test]
async fn one_table_issues_and_verifies_with_the_same_rules() {
    for table in [
        // One shared secret signs and verifies.
        r#"
        [strategies.jwt]
        type = "jwt"
        issuer = "todo-example"
        audience = "todo-api"
        roles_claim = "permissions"
        keys = [{ alg = "HS256", secret_file = "secret.txt" }]
        tokens = { access_ttl_secs = 60 }
        "#,
        // A key pair: public PEM verifies, private PEM signs.
        r#"
        [strategies.jwt]
        type = "jwt"
        issuer = ["todo-example", "legacy"]
        audience = ["todo-api"]
        typ = "at+jwt"
        keys = [{ alg = "RS256", pem_file = "rsa.pub.pem", kid = "r1" }]
        tokens = { signing_key = { alg = "RS256", pem_file = "rsa.pem", kid = "r1" } }
        "#,
        r#"
        [strategies.jwt]
        type = "jwt"
        issuer = "todo-example"
        audience = "todo-api"
        keys = [{ alg = "ES256", pem_file = "ec.pub.pem" }]
        tokens.signing_key = { alg = "ES256", pem_file = "ec.pem" }
        "#,
    ] {
        let (_dir, config) = write_config(table);
        let jwt = JwtConfig::from_config(&config, "jwt").unwrap();
        let strategy = jwt.strategy().unwrap();
        let tokens = jwt.token_service().unwrap();
        let token = tokens.sign_access(&profile()).unwrap();
        let user = strategy.authenticate_token(&token).await.unwrap();
        assert_eq!(user.id, "ada", "{table}");
        assert_eq!(user.roles, ["admin"], "{table}");
        // The registry builds the same strategy by name.
        let registry = StrategyRegistry::from_config(&config, &[&JwtFactory])
            .await
            .unwrap();
        assert!(registry.get("jwt").is_some());
    }
}

#[actix_web::test]
async fn a_token_from_a_drifted_service_is_refused() {
    let (_dir, config) = write_config(
        r#"
        [strategies.a]
        type = "jwt"
        issuer = "todo-example"
        audience = "todo-api"
        keys = [{ secret_file = "secret.txt" }]
        [strategies.b]
        type = "jwt"
        issuer = "todo-example"
        audience = "other-api"
        keys = [{ secret_file = "secret.txt" }]
        "#,
    );
    let a = JwtConfig::from_config(&config, "a").unwrap();
    let b = JwtConfig::from_config(&config, "b").unwrap();
    let token_for_b = b.token_service().unwrap().sign_access(&profile()).unwrap();
    assert!(
        a.strategy()
            .unwrap()
            .authenticate_token(&token_for_b)
            .await
            .is_err()
    );
    assert!(
        b.strategy()
            .unwrap()
            .authenticate_token(&token_for_b)
            .await
            .is_ok()
    );
}

#[test]
fn secrets_come_from_a_variable_or_a_file_never_the_configuration() {
    // A variable every test process has (cargo sets it), long enough for
    // HS256.
    let var = "CARGO_PKG_DESCRIPTION";
    assert!(std::env::var(var).is_ok_and(|v| v.len() >= 32));
    let (_dir, config) = write_config(&format!(
        "[strategies.jwt]\ntype = \"jwt\"\nkeys = [{{ secret_env = \"{var}\" }}]\n"
    ));
    JwtConfig::from_config(&config, "jwt")
        .unwrap()
        .strategy()
        .unwrap();
    // Base64 files decode.
    let (dir, _) = write_config("");
    std::fs::write(
        dir.path().join("b64.txt"),
        "YS1jb25maWd1cmVkLXNlY3JldC10aGF0LWlzLWxvbmctZW5vdWdo\n",
    )
    .unwrap();
    let path = dir.path().join("b64.toml");
    std::fs::write(
        &path,
        "[strategies.jwt]\ntype = \"jwt\"\nkeys = [{ secret_file = \"b64.txt\", secret_encoding = \"base64\" }]\n",
    )
    .unwrap();
    let config = AuthConfig::from_file(&path).unwrap();
    JwtConfig::from_config(&config, "jwt")
        .unwrap()
        .strategy()
        .unwrap();
}

/// `(table, expected path, text the message must contain)`.
fn bad_tables() -> Vec<(&'static str, &'static str, &'static str)> {
    vec![
        // Secrets in the file.
        (
            "keys = [{ secret = \"x\" }]",
            "strategies.jwt.keys[0].secret",
            "secret_env or secret_file",
        ),
        (
            "keys = [{ alg = \"HS256\", secret = \"x\" }]",
            "strategies.jwt.keys[0].secret",
            "not written in the configuration",
        ),
        // Not exactly one source per key.
        (
            "keys = [{ alg = \"HS256\" }]",
            "strategies.jwt.keys[0]",
            "exactly one of",
        ),
        (
            "keys = [{ secret_file = \"secret.txt\", pem_file = \"rsa.pub.pem\", alg = \"RS256\" }]",
            "strategies.jwt.keys[0]",
            "exactly one of",
        ),
        (
            "keys = [{ secret_file = \"secret.txt\", secret_env = \"X\" }]",
            "strategies.jwt.keys[0]",
            "not both",
        ),
        // Sources that cannot be read.
        (
            "keys = [{ secret_env = \"AUTH_JWT_CONFIG_TEST_UNSET_VARIABLE\" }]",
            "strategies.jwt.keys[0].secret_env",
            "is not set",
        ),
        (
            "keys = [{ secret_file = \"absent.txt\" }]",
            "strategies.jwt.keys[0].secret_file",
            "cannot read",
        ),
        (
            "keys = [{ alg = \"RS256\", pem_file = \"absent.pem\" }]",
            "strategies.jwt.keys[0].pem_file",
            "cannot read",
        ),
        (
            "keys = [{ secret_file = \"secret.txt\", secret_encoding = \"base64\" }]",
            "strategies.jwt.keys[0].secret_encoding",
            "not valid base64",
        ),
        // Algorithms.
        (
            "keys = [{ alg = \"RS256\", secret_file = \"secret.txt\" }]",
            "strategies.jwt.keys[0].alg",
            "not an HMAC algorithm",
        ),
        (
            "keys = [{ alg = \"HS999\", secret_file = \"secret.txt\" }]",
            "strategies.jwt.keys[0].alg",
            "not a supported JWS algorithm",
        ),
        (
            "keys = [{ pem_file = \"rsa.pub.pem\" }]",
            "strategies.jwt.keys[0].alg",
            "needs its alg",
        ),
        (
            "keys = [{ alg = \"none\", pem_file = \"rsa.pub.pem\" }]",
            "strategies.jwt.keys[0].alg",
            "not a supported JWS algorithm",
        ),
        // Keys the verifier refuses.
        (
            "audience = \"a\"\nissuer = \"i\"\nkeys = [{ alg = \"RS256\", pem_file = \"rsa1024.pub.pem\" }]",
            "strategies.jwt.keys[0]",
            "2048",
        ),
        (
            "audience = \"a\"\nissuer = \"i\"\nkeys = [{ alg = \"ES256\", pem_file = \"rsa.pub.pem\" }]",
            "strategies.jwt.keys[0]",
            "",
        ),
        // Public keys without audience or issuer do not build.
        (
            "issuer = \"i\"\nkeys = [{ alg = \"RS256\", pem_file = \"rsa.pub.pem\" }]",
            "strategies.jwt",
            "audience",
        ),
        // Shapes.
        (
            "issuer = 5\nkeys = [{ secret_file = \"secret.txt\" }]",
            "strategies.jwt.issuer",
            "",
        ),
        (
            "leeway_secs = \"soon\"\nkeys = [{ secret_file = \"secret.txt\" }]",
            "strategies.jwt.leeway_secs",
            "invalid type",
        ),
        ("keyz = []", "strategies.jwt.keyz", "unknown field"),
        (
            "sources = [\"cookies\"]\nkeys = [{ secret_file = \"secret.txt\" }]",
            "strategies.jwt.sources[0]",
            "unknown source",
        ),
        (
            "sources = [{ cookie = \"a\", websocket_protocol = \"b\" }]\nkeys = [{ secret_file = \"secret.txt\" }]",
            "strategies.jwt.sources[0]",
            "exactly one",
        ),
        (
            "jwks_rsa_algorithm = \"RS256\"\nkeys = [{ secret_file = \"secret.txt\" }]",
            "strategies.jwt.jwks_rsa_algorithm",
            "only applies with jwks_url",
        ),
        (
            "jwks_url = \"ftp://keys.example/jwks\"\naudience = \"a\"\nissuer = \"i\"",
            "strategies.jwt.jwks_url",
            "",
        ),
        // No key at all: no built-in default key.
        ("issuer = \"i\"", "strategies.jwt", "no key"),
        // A signing key that cannot sign.
        (
            "keys = [{ alg = \"RS256\", pem_file = \"rsa.pub.pem\" }]\naudience = \"a\"\nissuer = \"i\"\ntokens = { signing_key = { jwk_file = \"k.json\" } }",
            "strategies.jwt.tokens.signing_key.jwk_file",
            "private PEM",
        ),
        (
            "keys = [{ alg = \"RS256\", pem_file = \"rsa.pub.pem\" }]\naudience = \"a\"\nissuer = \"i\"\ntokens = { signing_key = { alg = \"RS256\", pem_file = \"rsa.pub.pem\" } }",
            "strategies.jwt.tokens.signing_key",
            "",
        ),
    ]
}

#[actix_web::test]
async fn every_class_of_bad_configuration_names_the_strategy_and_the_field() {
    let mut wrong = Vec::new();
    for (table, path, needle) in bad_tables() {
        let (_dir, config) = write_config(&format!("[strategies.jwt]\ntype = \"jwt\"\n{table}\n"));
        let err = match JwtConfig::from_config(&config, "jwt") {
            Err(e) => e,
            Ok(jwt) => match jwt.strategy() {
                Err(e) => e,
                Ok(_) => {
                    // Registry path and the issuing side must refuse it then.
                    StrategyRegistry::from_config(&config, &[&JwtFactory])
                        .await
                        .err()
                        .or_else(|| jwt.token_service().err())
                        .unwrap_or_else(|| panic!("accepted: {table}"))
                }
            },
        };
        let matches = err.strategy.as_deref() == Some("jwt")
            && err.path == path
            && err.message.contains(needle)
            && err.origin.ends_with("auth.toml");
        if !matches {
            wrong.push(format!(
                "{table}\n  expected {path} / {needle}\n  got {err}"
            ));
        }
        assert!(!err.to_string().contains(SECRET), "{err}");
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_table_of_another_type_or_a_missing_one_is_refused() {
    let (_dir, config) = write_config("[strategies.basic]\ntype = \"basic\"\n");
    let err = JwtConfig::from_config(&config, "basic").unwrap_err();
    assert_eq!(err.path, "strategies.basic.type", "{err}");
    let err = JwtConfig::from_config(&config, "jwt").unwrap_err();
    assert!(err.message.contains("no such strategy"), "{err}");
}

#[test]
fn without_a_signing_key_there_is_no_token_service() {
    let (_dir, config) = write_config(
        "[strategies.jwt]\ntype = \"jwt\"\naudience = \"a\"\nissuer = \"i\"\nkeys = [{ alg = \"RS256\", pem_file = \"rsa.pub.pem\" }]\n",
    );
    let jwt = JwtConfig::from_config(&config, "jwt").unwrap();
    jwt.strategy().unwrap();
    let err = jwt.token_service().unwrap_err();
    assert_eq!(err.path, "strategies.jwt.tokens.signing_key", "{err}");
}

/// A table without keys: the application holds the key.
const KEYLESS: &str = r#"
[strategies.jwt]
type = "jwt"
issuer = "todo-example"
audience = "todo-api"
tokens = { access_ttl_secs = 120 }
"#;

fn code_key(secret: &[u8]) -> (auth_jwt::VerifyingKey, auth_jwt::SigningKey) {
    use auth_jwt::{Algorithm, SigningKey, VerifyingKey};
    (
        VerifyingKey::hmac(secret, Algorithm::HS256).unwrap(),
        SigningKey::hmac(secret, Algorithm::HS256).unwrap(),
    )
}

#[actix_web::test]
async fn a_key_held_by_the_application_serves_both_sides_with_the_files_rules() {
    let (_dir, config) = write_config(KEYLESS);
    // Without the key the table builds neither side: no built-in key.
    let bare = JwtConfig::from_config(&config, "jwt").unwrap();
    assert!(bare.strategy().is_err());
    assert!(
        bare.token_service()
            .unwrap_err()
            .to_string()
            .contains("no signing key")
    );
    let (verifying, signing) = code_key(SECRET.as_bytes());
    let jwt = JwtConfig::from_config(&config, "jwt")
        .unwrap()
        .with_key(verifying)
        .with_signing_key(signing);
    let tokens = jwt.token_service().unwrap();
    let issued = tokens.issue(&profile()).await.unwrap();
    assert_eq!(issued.expires_in, 120);
    // The registry gets the same strategy from the JwtConfig itself.
    let registry = StrategyRegistry::from_config(&config, &[&jwt])
        .await
        .unwrap();
    #[actix_web::get("/me")]
    #[auth_macros::authenticate("jwt")]
    async fn me(user: UserProfile) -> String {
        user.id.clone()
    }
    let app =
        actix_web::test::init_service(actix_web::App::new().app_data(registry.clone()).service(me))
            .await;
    let call = |token: String| {
        actix_web::test::TestRequest::get()
            .uri("/me")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request()
    };
    let resp = actix_web::test::call_service(&app, call(issued.access_token.clone())).await;
    assert_eq!(resp.status(), 200);
    // A token from another key, or for another audience, is refused: the
    // strategy kept the file's rules.
    let (_, other_key) = code_key(b"another application's key, 32+ bytes");
    let foreign = auth_jwt::TokenService::new(other_key)
        .issuer("todo-example")
        .audience("todo-api")
        .sign_access(&profile())
        .unwrap();
    let (_, same_key) = code_key(SECRET.as_bytes());
    let other_audience = auth_jwt::TokenService::new(same_key)
        .issuer("todo-example")
        .audience("other-api")
        .sign_access(&profile())
        .unwrap();
    for token in [foreign, other_audience] {
        let resp = actix_web::test::call_service(&app, call(token)).await;
        assert_eq!(resp.status(), 401);
    }
}

#[actix_web::test]
async fn revocations_set_once_reach_the_strategy_and_the_token_service() {
    use auth_core::{MemoryStore, RevocationOptions, Revocations, StateStore};
    use std::sync::Arc;
    let (_dir, config) = write_config(KEYLESS);
    let store: Arc<dyn StateStore> = Arc::new(MemoryStore::new());
    let revocations = Revocations::start(Arc::clone(&store), RevocationOptions::default())
        .await
        .unwrap();
    let (verifying, signing) = code_key(SECRET.as_bytes());
    let jwt = JwtConfig::from_config(&config, "jwt")
        .unwrap()
        .with_key(verifying)
        .with_signing_key(signing)
        .with_revocations(Arc::clone(&revocations));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let tokens = jwt
        .token_service()
        .unwrap()
        .store(store)
        .clock(move || now - 60);
    let registry = StrategyRegistry::from_config(&config, &[&jwt])
        .await
        .unwrap();
    let strategy = JwtConfig::strategy(&jwt).unwrap();
    let issued = tokens.issue(&profile()).await.unwrap();
    strategy
        .authenticate_token(&issued.access_token)
        .await
        .unwrap();
    revocations.revoke_subject("ada", now - 59).await.unwrap();
    // The strategy built by the registry, the strategy built directly and
    // the token service all see the revocation.
    let req = actix_web::test::TestRequest::default()
        .insert_header(("Authorization", format!("Bearer {}", issued.access_token)))
        .to_http_request();
    let outcome = registry
        .get("jwt")
        .unwrap()
        .authenticate(&req, &auth_core::StrategyOptions::default())
        .await;
    assert_eq!(outcome.unwrap_err().status(), 401);
    assert!(
        strategy
            .authenticate_token(&issued.access_token)
            .await
            .is_err()
    );
    assert!(matches!(
        tokens
            .refresh(issued.refresh_token.as_deref().unwrap())
            .await,
        Err(auth_jwt::IssueError::InvalidRefreshToken)
    ));
}

#[actix_web::test]
async fn a_jwt_config_builds_other_jwt_tables_as_the_factory_does() {
    let (_dir, config) = write_config(
        r#"
        [strategies.jwt]
        type = "jwt"
        issuer = "todo-example"
        audience = "todo-api"
        [strategies.partner]
        type = "jwt"
        issuer = "partner"
        audience = "todo-api"
        keys = [{ secret_file = "secret.txt" }]
        "#,
    );
    let (verifying, signing) = code_key(b"the application's own key, 32+ bytes");
    let jwt = JwtConfig::from_config(&config, "jwt")
        .unwrap()
        .with_key(verifying)
        .with_signing_key(signing);
    let registry = StrategyRegistry::from_config(&config, &[&jwt])
        .await
        .unwrap();
    assert!(registry.get("jwt").is_some() && registry.get("partner").is_some());
    // Without the code key, the keyless table does not build.
    let err = StrategyRegistry::from_config(&config, &[&JwtFactory])
        .await
        .unwrap_err();
    assert_eq!(err.strategy.as_deref(), Some("jwt"), "{err}");
}
