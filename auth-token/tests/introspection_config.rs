//! `type = "introspection"` from a configuration file: every class of bad
//! input is refused with the file (or variable), the strategy and the field;
//! the client secret comes from the environment or a file, never the file
//! itself, and is in no error and no `Debug` output. (The strategy asking a
//! real server is tested against oidc-provider in
//! tests/tests/config_oauth2.rs.)

use auth_core::{AuthConfig, AuthConfigError, StrategyRegistry};
use auth_token::{IntrospectionConfig, IntrospectionFactory};

const SECRET: &str = "the-introspection-client-secret-7f3a";
const SECRET_VAR: &str = "AUTH__STRATEGIES__OPAQUE__CLIENT_SECRET";

const GOOD: &str = r#"
url = "https://login.example/oauth/introspect"
client_id = "todo-api"
audience = "https://todo.example"
"#;

/// The table `[strategies.opaque]` with `text`, in a directory holding
/// `secret.txt`, and the secret set by its variable unless `text` says
/// otherwise (`client_secret`, `client_secret_file`).
fn config(text: &str, env: &[(&str, &str)]) -> (tempfile::TempDir, AuthConfig) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("secret.txt"), format!("{SECRET}\n")).unwrap();
    std::fs::write(dir.path().join("empty.txt"), "\n").unwrap();
    std::fs::write(dir.path().join("binary.txt"), [0xff, 0xfe, 0x00]).unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        format!("[strategies.opaque]\ntype = \"introspection\"\n{text}"),
    )
    .unwrap();
    let mut vars: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    if !text.contains("client_secret") && !env.iter().any(|(k, _)| *k == SECRET_VAR) {
        vars.push((SECRET_VAR.to_owned(), SECRET.to_owned()));
    }
    let config = AuthConfig::from_file(&path)
        .unwrap()
        .with_env_vars("AUTH", vars)
        .unwrap();
    (dir, config)
}

/// The error of a table, from the reader and from the registry (which must
/// agree).
async fn refusal(config: &AuthConfig, what: &str) -> AuthConfigError {
    let direct = match IntrospectionConfig::from_config(config, "opaque") {
        Err(e) => e,
        Ok(c) => match c.strategy() {
            Err(e) => e,
            Ok(_) => panic!("accepted: {what}"),
        },
    };
    let registry = StrategyRegistry::from_config(config, &[&IntrospectionFactory])
        .await
        .err()
        .unwrap_or_else(|| panic!("the registry accepted: {what}"));
    assert_eq!(direct, registry, "{what}");
    direct
}

/// `(table, expected path, text the message must contain)`.
fn bad_tables() -> Vec<(String, &'static str, &'static str)> {
    let with = |extra: &str| format!("{GOOD}{extra}\n");
    let without = |key: &str, extra: &str| {
        let kept: Vec<&str> = GOOD
            .lines()
            .filter(|l| !l.starts_with(&format!("{key} ")))
            .collect();
        format!("{}\n{extra}\n", kept.join("\n"))
    };
    vec![
        // Wrong types.
        (
            without("url", "url = 443"),
            "strategies.opaque.url",
            "invalid type",
        ),
        (
            without("client_id", "client_id = [\"a\"]"),
            "strategies.opaque.client_id",
            "invalid type",
        ),
        (
            with("any_audience = \"no\""),
            "strategies.opaque.any_audience",
            "invalid type",
        ),
        (
            with("cache_capacity = \"lots\""),
            "strategies.opaque.cache_capacity",
            "invalid type",
        ),
        (
            with("revocation_budget_secs = -5"),
            "strategies.opaque.revocation_budget_secs",
            "invalid value",
        ),
        (
            without("audience", "audience = 7"),
            "strategies.opaque.audience",
            "",
        ),
        // Unknown keys.
        (
            with("endpoint = \"https://x.example\""),
            "strategies.opaque.endpoint",
            "unknown field",
        ),
        (
            with("client_secret_env = \"X\""),
            "strategies.opaque.client_secret_env",
            "unknown field",
        ),
        (
            with("cache = { capacity = 5 }"),
            "strategies.opaque.cache",
            "unknown field",
        ),
        // Missing keys.
        (
            without("url", ""),
            "strategies.opaque",
            "missing field `url`",
        ),
        (
            without("client_id", ""),
            "strategies.opaque",
            "missing field `client_id`",
        ),
        // URLs.
        (
            without("url", "url = \"http://login.example/introspect\""),
            "strategies.opaque.url",
            "must be https",
        ),
        (
            without("url", "url = \"http://192.168.1.10/introspect\""),
            "strategies.opaque.url",
            "must be https",
        ),
        (
            without("url", "url = \"file:///etc/passwd\""),
            "strategies.opaque.url",
            "must be https",
        ),
        (
            without("url", "url = \"login.example/introspect\""),
            "strategies.opaque.url",
            "invalid URL",
        ),
        (
            with("revocation_url = \"http://login.example/revoke\""),
            "strategies.opaque.revocation_url",
            "must be https",
        ),
        (
            with("revocation_url = \"\""),
            "strategies.opaque.revocation_url",
            "invalid URL",
        ),
        // The client.
        (
            without("client_id", "client_id = \"\""),
            "strategies.opaque.client_id",
            "must not be empty",
        ),
        (
            without("client_id", "client_id = \"todo:api\""),
            "strategies.opaque.client_id",
            "must not contain `:`",
        ),
        // The secret: not in the file, present, readable, not empty.
        (
            with("client_secret = \"written-in-the-file\""),
            "strategies.opaque.client_secret",
            "not written in the configuration",
        ),
        (
            with("client_secret = 12345"),
            "strategies.opaque.client_secret",
            "not written in the configuration",
        ),
        (
            with("client_secret_file = \"absent.txt\""),
            "strategies.opaque.client_secret_file",
            "cannot read",
        ),
        (
            with("client_secret_file = \"empty.txt\""),
            "strategies.opaque.client_secret_file",
            "the secret is empty",
        ),
        (
            with("client_secret_file = \"binary.txt\""),
            "strategies.opaque.client_secret_file",
            "not UTF-8",
        ),
        // The audience rule.
        (
            without("audience", ""),
            "strategies.opaque.audience",
            "any_audience = true",
        ),
        (
            with("any_audience = true"),
            "strategies.opaque.any_audience",
            "not both",
        ),
        (
            without("audience", "audience = []"),
            "strategies.opaque.audience",
            "at least one",
        ),
        (
            without("audience", "audience = [\"a\", \"\"]"),
            "strategies.opaque.audience[1]",
            "must not be empty",
        ),
        // Out-of-range numbers.
        (
            with("cache_capacity = 1000001"),
            "strategies.opaque.cache_capacity",
            "out of range",
        ),
        (
            with("revocation_budget_secs = 3601"),
            "strategies.opaque.revocation_budget_secs",
            "out of range",
        ),
        (
            with("revocation_budget_secs = 86400"),
            "strategies.opaque.revocation_budget_secs",
            "out of range",
        ),
        // Other strings.
        (
            with("issuer = \"\""),
            "strategies.opaque.issuer",
            "must not be empty",
        ),
        (
            with("realm = \"a\\\"b\""),
            "strategies.opaque.realm",
            "must not contain",
        ),
    ]
}

#[actix_web::test]
async fn every_class_of_bad_configuration_names_the_strategy_and_the_field() {
    let mut wrong = Vec::new();
    for (table, path, needle) in bad_tables() {
        let (_dir, config) = config(&table, &[]);
        let err = refusal(&config, &table).await;
        let matches = err.strategy.as_deref() == Some("opaque")
            && err.path == path
            && err.message.contains(needle)
            && err.origin.ends_with("auth.toml");
        if !matches {
            wrong.push(format!(
                "{table}\n  expected {path} / {needle}\n  got {err}"
            ));
        }
        for shown in [err.to_string(), format!("{err:?}")] {
            assert!(!shown.contains(SECRET), "{shown}");
            assert!(!shown.contains("written-in-the-file"), "{shown}");
            assert!(!shown.contains("12345"), "{shown}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[actix_web::test]
async fn the_secret_comes_from_the_environment_or_a_file_and_is_never_shown() {
    // From the variable (the override of `client_secret`).
    let (_dir, from_env) = config(GOOD, &[]);
    let read = IntrospectionConfig::from_config(&from_env, "opaque").unwrap();
    let strategy = read.strategy().unwrap();
    for shown in [
        format!("{read:?}"),
        format!("{strategy:?}"),
        format!("{from_env:?}"),
        format!("{:?}", read.strategy_builder()),
    ] {
        assert!(!shown.contains(SECRET), "{shown}");
    }
    assert!(format!("{read:?}").contains("todo-api"));
    let registry = StrategyRegistry::from_config(&from_env, &[&IntrospectionFactory])
        .await
        .unwrap();
    assert!(registry.get("opaque").is_some());

    // From a file next to the configuration.
    let (_dir, from_file) = config(&format!("{GOOD}client_secret_file = \"secret.txt\"\n"), &[]);
    IntrospectionConfig::from_config(&from_file, "opaque")
        .unwrap()
        .strategy()
        .unwrap();

    // Both: refused, naming the file key.
    let (_dir, both) = config(
        &format!("{GOOD}client_secret_file = \"secret.txt\"\n"),
        &[(SECRET_VAR, SECRET)],
    );
    let err = refusal(&both, "both").await;
    assert_eq!(err.path, "strategies.opaque.client_secret_file", "{err}");
    assert!(err.message.contains("not both"), "{err}");

    // Set by a variable but not a string: refused without the value, the
    // variable named.
    for (value, kind) in [
        ("123456789", "number"),
        ("true", "bool"),
        ("[\"x\"]", "list"),
    ] {
        let (_dir, config) = config(GOOD, &[(SECRET_VAR, value)]);
        let err = refusal(&config, kind).await;
        assert_eq!(err.path, "strategies.opaque.client_secret", "{err}");
        assert_eq!(err.origin, format!("environment variable {SECRET_VAR}"));
        assert!(err.message.contains("must be a string"), "{err}");
        assert!(
            !err.to_string()
                .contains(value.trim_matches(['[', ']', '"'])),
            "{err}"
        );
    }
    // Empty, or with a control character.
    for (value, needle) in [("", "empty"), ("a\nb", "control characters")] {
        let (_dir, config) = config(GOOD, &[(SECRET_VAR, value)]);
        let err = refusal(&config, needle).await;
        assert_eq!(err.path, "strategies.opaque.client_secret", "{err}");
        assert!(err.message.contains(needle), "{err}");
    }
    // Missing altogether.
    let (_dir, config) = config(
        &format!("{GOOD}# no client_secret\n"),
        &[("AUTH__UNRELATED", "1")],
    );
    let err = match IntrospectionConfig::from_config(&config, "opaque") {
        Err(e) => e,
        Ok(_) => panic!("accepted without a secret"),
    };
    assert_eq!(err.path, "strategies.opaque.client_secret", "{err}");
    assert!(err.message.contains("missing"), "{err}");
    assert!(
        err.message
            .contains("PREFIX__STRATEGIES__OPAQUE__CLIENT_SECRET"),
        "{err}"
    );
}

#[actix_web::test]
async fn a_value_set_by_a_variable_is_named_by_the_variable() {
    for (name, value, path, needle) in [
        (
            "AUTH__STRATEGIES__OPAQUE__URL",
            "http://login.example/x",
            "strategies.opaque.url",
            "must be https",
        ),
        (
            "AUTH__STRATEGIES__OPAQUE__REVOCATION_BUDGET_SECS",
            "7200",
            "strategies.opaque.revocation_budget_secs",
            "out of range",
        ),
        (
            "AUTH__STRATEGIES__OPAQUE__CLIENT_ID",
            "a:b",
            "strategies.opaque.client_id",
            "`:`",
        ),
    ] {
        let (_dir, config) = config(GOOD, &[(name, value)]);
        let err = refusal(&config, name).await;
        assert_eq!(err.origin, format!("environment variable {name}"), "{err}");
        assert_eq!(err.path, path, "{err}");
        assert!(err.message.contains(needle), "{err}");
    }
}

#[test]
fn a_table_of_another_type_or_a_missing_one_is_refused() {
    let config =
        AuthConfig::from_toml_str("auth.toml", "[strategies.jwt]\ntype = \"jwt\"\n").unwrap();
    let err = IntrospectionConfig::from_config(&config, "jwt").unwrap_err();
    assert_eq!(err.path, "strategies.jwt.type", "{err}");
    assert!(err.message.contains("introspection"), "{err}");
    let err = IntrospectionConfig::from_config(&config, "opaque").unwrap_err();
    assert_eq!(err.path, "strategies.opaque", "{err}");
}

#[test]
fn the_example_of_the_documentation_is_read() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))
    .unwrap();
    let section = &doc[doc.find("## `type = \"introspection\"`").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + section[start..].find("```").unwrap();
    let config = AuthConfig::from_toml_str("configuration.md", &section[start..end])
        .unwrap()
        .with_env_vars("AUTH", [(SECRET_VAR, SECRET)])
        .unwrap();
    let read = IntrospectionConfig::from_config(&config, "opaque").unwrap();
    assert_eq!(read.name(), "opaque");
    read.strategy().unwrap();
}
