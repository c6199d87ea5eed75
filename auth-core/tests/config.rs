//! Declarative configuration: every class of bad input gets an error naming
//! its origin (file or variable), the strategy and the field.
#![cfg(feature = "config")]

use std::sync::Arc;

use auth_core::{
    AuthConfig, AuthConfigError, AuthOutcome, AuthenticationStrategy, StrategyFactory,
    StrategyRegistry, StrategySection, async_trait, from_fn,
};
use serde::Deserialize;

/// A factory with typed options, like the real ones.
struct Probe;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeOptions {
    #[allow(dead_code)]
    realm: Option<String>,
    #[allow(dead_code)]
    #[serde(default)]
    leeway_secs: u64,
    #[allow(dead_code)]
    #[serde(default)]
    keys: Vec<ProbeKey>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProbeKey {
    #[allow(dead_code)]
    alg: String,
}

#[async_trait]
impl StrategyFactory for Probe {
    fn kind(&self) -> &str {
        "probe"
    }
    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        let _: ProbeOptions = section.parse()?;
        Ok(Arc::new(from_fn(section.name().to_owned(), |_, _| async {
            Ok(AuthOutcome::NotApplicable)
        })))
    }
}

/// A factory that registers the wrong name.
struct Liar;

#[async_trait]
impl StrategyFactory for Liar {
    fn kind(&self) -> &str {
        "liar"
    }
    async fn build(
        &self,
        _: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        Ok(Arc::new(from_fn("someone-else", |_, _| async {
            Ok(AuthOutcome::NotApplicable)
        })))
    }
}

async fn build(config: &AuthConfig) -> Result<StrategyRegistry, AuthConfigError> {
    StrategyRegistry::from_config(config, &[&Probe, &Liar]).await
}

#[actix_web::test]
async fn a_good_file_builds_every_strategy_by_name_in_toml_and_yaml() {
    let toml = AuthConfig::from_toml_str(
        "auth.toml",
        r#"
        renderer = "problem+json"
        [strategies.b]
        type = "probe"
        [strategies.a]
        type = "probe"
        realm = "api"
        keys = [{ alg = "HS256" }]
        "#,
    )
    .unwrap();
    let yaml = AuthConfig::from_yaml_str(
        "auth.yaml",
        "strategies:\n  b: {type: probe}\n  a:\n    type: probe\n    realm: api\n    keys:\n      - alg: HS256\n",
    )
    .unwrap();
    for config in [toml, yaml] {
        let registry = build(&config).await.unwrap();
        assert_eq!(registry.names().collect::<Vec<_>>().len(), 2);
        assert!(registry.get("a").is_some() && registry.get("b").is_some());
    }
    // An empty document is an empty registry.
    for empty in [
        AuthConfig::from_toml_str("e.toml", "").unwrap(),
        AuthConfig::from_yaml_str("e.yaml", "").unwrap(),
    ] {
        assert_eq!(build(&empty).await.unwrap().names().count(), 0);
    }
}

#[test]
fn syntax_errors_name_the_file() {
    for text in ["[strategies.a", "a = ", "x = \"unterminated", "= 1"] {
        let err = AuthConfig::from_toml_str("bad.toml", text).unwrap_err();
        assert_eq!(
            (err.origin.as_str(), err.path.as_str()),
            ("bad.toml", ""),
            "{text}: {err}"
        );
        assert!(err.to_string().starts_with("bad.toml: "), "{err}");
    }
    for text in ["a: [1, 2", "a: b: c", "\t- x\n y: :"] {
        let err = AuthConfig::from_yaml_str("bad.yaml", text).unwrap_err();
        assert_eq!(err.origin, "bad.yaml", "{text}: {err}");
    }
    for text in ["- 1\n- 2", "just a string", "42"] {
        let err = AuthConfig::from_yaml_str("list.yaml", text).unwrap_err();
        assert!(err.message.contains("table of settings"), "{text}: {err}");
    }
}

#[test]
fn files_are_read_by_extension_and_missing_ones_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("auth.toml", "[strategies.a]\ntype = \"probe\"\n"),
        ("auth.yaml", "strategies: {a: {type: probe}}\n"),
        ("auth.YML", "strategies: {a: {type: probe}}\n"),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        let config = AuthConfig::from_file(&path).unwrap();
        assert_eq!(config.strategy_sections().unwrap()[0].kind(), "probe");
        assert_eq!(
            config.resolve_path("keys/k.pem"),
            dir.path().join("keys/k.pem")
        );
        assert_eq!(
            config.resolve_path("/abs/k.pem"),
            std::path::PathBuf::from("/abs/k.pem")
        );
    }
    for name in ["auth.json", "auth", "auth.ini"] {
        let path = dir.path().join(name);
        std::fs::write(&path, "{}").unwrap();
        let err = AuthConfig::from_file(&path).unwrap_err();
        assert!(err.message.contains(".toml, .yaml or .yml"), "{err}");
    }
    let err = AuthConfig::from_file(dir.path().join("absent.toml")).unwrap_err();
    assert!(
        err.origin.ends_with("absent.toml") && err.message.contains("cannot read"),
        "{err}"
    );
}

#[actix_web::test]
async fn strategy_tables_must_say_a_known_type() {
    for (text, path, needle) in [
        ("strategies = 3", "strategies", "table of strategies"),
        ("strategies = [\"a\"]", "strategies", "table of strategies"),
        ("[strategies]\na = 1", "strategies.a", "must be a table"),
        (
            "[strategies.a]\nrealm = \"x\"",
            "strategies.a.type",
            "missing",
        ),
        (
            "[strategies.a]\ntype = 1",
            "strategies.a.type",
            "must be a string",
        ),
        (
            "[strategies.a]\ntype = \"jtw\"",
            "strategies.a.type",
            "unknown strategy type `jtw`; known types: probe, liar",
        ),
        (
            "[strategies.a]\ntype = \"liar\"",
            "strategies.a",
            "named 'someone-else'",
        ),
        ("renderer = \"html\"", "renderer", "unknown renderer"),
        ("renderer = 5", "renderer", "invalid type"),
    ] {
        let config = AuthConfig::from_toml_str("auth.toml", text).unwrap();
        let err = build(&config).await.unwrap_err();
        assert_eq!(err.origin, "auth.toml", "{text}");
        assert_eq!(err.path, path, "{text}: {err}");
        assert!(err.message.contains(needle), "{text}: {err}");
    }
}

#[actix_web::test]
async fn field_errors_name_the_strategy_and_the_field() {
    for (text, path, needle) in [
        (
            "[strategies.a]\ntype = \"probe\"\nrealm = 1",
            "strategies.a.realm",
            "invalid type",
        ),
        (
            "[strategies.a]\ntype = \"probe\"\nleeway_secs = \"soon\"",
            "strategies.a.leeway_secs",
            "invalid type",
        ),
        (
            "[strategies.a]\ntype = \"probe\"\nleeway_secs = -1",
            "strategies.a.leeway_secs",
            "invalid value",
        ),
        (
            "[strategies.a]\ntype = \"probe\"\nrelam = \"x\"",
            "strategies.a.relam",
            "unknown field `relam`",
        ),
        (
            "[strategies.a]\ntype = \"probe\"\nkeys = [{ alg = \"HS256\" }, { algo = \"x\" }]",
            "strategies.a.keys[1].algo",
            "unknown field `algo`",
        ),
        (
            "[strategies.a]\ntype = \"probe\"\nkeys = [{}]",
            "strategies.a.keys[0]",
            "missing field `alg`",
        ),
    ] {
        let config = AuthConfig::from_toml_str("auth.toml", text).unwrap();
        let err = build(&config).await.unwrap_err();
        assert_eq!(err.strategy.as_deref(), Some("a"), "{text}: {err}");
        assert_eq!(err.path, path, "{text}: {err}");
        assert!(err.message.contains(needle), "{text}: {err}");
        assert!(
            err.to_string()
                .starts_with(&format!("auth.toml: {path} (strategy 'a'): ")),
            "{err}"
        );
    }
}

#[actix_web::test]
async fn environment_variables_override_the_file_and_are_named_in_errors() {
    let file = "[strategies.a]\ntype = \"probe\"\nrealm = \"file\"\nkeys = [{ alg = \"HS256\" }]\n";
    let config = AuthConfig::from_toml_str("auth.toml", file)
        .unwrap()
        .with_env_vars(
            "AUTH",
            [
                ("AUTH__STRATEGIES__A__REALM", "env"),
                ("AUTH__STRATEGIES__A__LEEWAY_SECS", "30"),
                ("AUTH__STRATEGIES__A__KEYS__1__ALG", "RS256"),
                ("AUTH__STRATEGIES__B__TYPE", "probe"),
                ("OTHER__STRATEGIES__A__REALM", "ignored"),
                ("AUTHX__STRATEGIES__A__REALM", "ignored"),
            ],
        )
        .unwrap();
    let value = config.value();
    assert_eq!(value["strategies"]["a"]["realm"], "env");
    assert_eq!(value["strategies"]["a"]["leeway_secs"], 30);
    assert_eq!(value["strategies"]["a"]["keys"][1]["alg"], "RS256");
    assert_eq!(build(&config).await.unwrap().names().count(), 2);

    // A bad value set by a variable names the variable, not the file.
    for (name, raw, path) in [
        (
            "AUTH__STRATEGIES__A__LEEWAY_SECS",
            "soon",
            "strategies.a.leeway_secs",
        ),
        ("AUTH__STRATEGIES__A__REALM", "[1]", "strategies.a.realm"),
        (
            "AUTH__STRATEGIES__A__KEYS__0__ALGO",
            "x",
            "strategies.a.keys[0].algo",
        ),
    ] {
        let config = AuthConfig::from_toml_str("auth.toml", file)
            .unwrap()
            .with_env_vars("AUTH", [(name, raw)])
            .unwrap();
        let err = build(&config).await.unwrap_err();
        assert_eq!(err.path, path, "{name}: {err}");
        assert_eq!(err.origin, format!("environment variable {name}"), "{err}");
    }
    // Paths a variable cannot set.
    for (name, needle) in [
        ("AUTH__STRATEGIES____REALM", "empty path segment"),
        ("AUTH__STRATEGIES__A__KEYS__5__ALG", "skips elements"),
        ("AUTH__STRATEGIES__A__KEYS__X__ALG", "not an index"),
        ("AUTH__STRATEGIES__A__REALM__INNER", "not a table"),
    ] {
        let err = AuthConfig::from_toml_str("auth.toml", file)
            .unwrap()
            .with_env_vars("AUTH", [(name, "v")])
            .unwrap_err();
        assert_eq!(err.origin, format!("environment variable {name}"), "{err}");
        assert!(err.message.contains(needle), "{name}: {err}");
    }
}

/// A factory that reads the top-level `extra` table.
struct ReadsExtra;

#[async_trait]
impl StrategyFactory for ReadsExtra {
    fn kind(&self) -> &str {
        "reads-extra"
    }
    fn tables(&self) -> &[&str] {
        &["extra"]
    }
    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        Ok(Arc::new(from_fn(section.name().to_owned(), |_, _| async {
            Ok(AuthOutcome::NotApplicable)
        })))
    }
}

#[actix_web::test]
async fn a_top_level_key_nobody_reads_is_an_error() {
    for (text, key) in [
        ("rendrer = \"loopback\"\n", "rendrer"),
        ("[gaurd]\nmax_failures_per_user = 3\n", "gaurd"),
        ("[extra]\nx = 1\n", "extra"),
        ("strategy = {}\n", "strategy"),
    ] {
        for config in [
            AuthConfig::from_toml_str("auth.toml", text).unwrap(),
            AuthConfig::from_value("auth.yaml", serde_json::json!({ key: 1 })).unwrap(),
        ] {
            let err = build(&config).await.unwrap_err();
            assert_eq!(err.path, key, "{text}: {err}");
            assert_eq!(err.strategy, None, "{err}");
            assert!(
                err.message
                    .contains(&format!("unknown top-level key `{key}`")),
                "{err}"
            );
            assert!(
                err.message.ends_with("renderer, strategies"),
                "names what is known: {err}"
            );
        }
    }
    // A factory that reads a table makes it known.
    let config = AuthConfig::from_toml_str("auth.toml", "[extra]\nx = 1\n").unwrap();
    StrategyRegistry::from_config(&config, &[&Probe, &ReadsExtra])
        .await
        .unwrap();
    // A variable that adds a misspelt table is named.
    let config = AuthConfig::from_toml_str("auth.toml", "")
        .unwrap()
        .with_env_vars("AUTH", [("AUTH__GAURD__WINDOW_SECS", "60")])
        .unwrap();
    let err = build(&config).await.unwrap_err();
    assert_eq!(err.origin, "environment variable AUTH__GAURD__WINDOW_SECS");
}

#[actix_web::test]
async fn strategies_from_a_file_and_from_code_share_one_registry() {
    let config = AuthConfig::from_toml_str(
        "auth.toml",
        "renderer = \"problem+json\"\n[strategies.file]\ntype = \"probe\"\n",
    )
    .unwrap();
    let registry = StrategyRegistry::builder_from_config(&config, &[&Probe])
        .await
        .unwrap()
        .register(from_fn("code", |_, _| async {
            Ok(AuthOutcome::NotApplicable)
        }))
        .build()
        .unwrap();
    let mut names: Vec<&str> = registry.names().collect();
    names.sort_unstable();
    assert_eq!(names, ["code", "file"]);
    // The file's renderer holds for the whole registry.
    let err = auth_core::AuthError::no_credentials("none");
    let req = actix_web::test::TestRequest::default().to_http_request();
    let resp = registry.renderer().render(&req, &err);
    assert_eq!(
        resp.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    // Collisions are found when the builder finishes.
    let dup = StrategyRegistry::builder_from_config(&config, &[&Probe])
        .await
        .unwrap()
        .register(from_fn("file", |_, _| async {
            Ok(AuthOutcome::NotApplicable)
        }))
        .build();
    assert!(dup.is_err());
}

#[test]
fn the_application_sets_values_named_by_their_origin() {
    let file = "[strategies.a]\ntype = \"probe\"\nrealm = \"file\"\n[guard]\nwindow_secs = 60\n";
    let config = AuthConfig::from_toml_str("auth.toml", file)
        .unwrap()
        .with_override(
            "strategies.a.realm",
            "legacy",
            "environment variable API_REALM",
        )
        .unwrap()
        .with_override("guard.max_failures_per_user", 3, "the --max-failures flag")
        .unwrap();
    assert_eq!(config.value()["strategies"]["a"]["realm"], "legacy");
    let guard = auth_core::GuardConfig::from_config(&config).unwrap();
    assert_eq!(guard.max_failures_per_user, 3);
    assert_eq!(guard.window, std::time::Duration::from_secs(60));
    // Variables applied afterwards win, and each value names its origin.
    let config = config
        .with_override(
            "guard.window_secs",
            "soon",
            "environment variable LOGIN_WINDOW",
        )
        .unwrap();
    let err = auth_core::GuardConfig::from_config(&config).unwrap_err();
    assert_eq!(err.origin, "environment variable LOGIN_WINDOW");
    assert_eq!(err.path, "guard.window_secs");
    for (path, needle) in [
        ("", "empty path segment"),
        ("guard..window_secs", "empty path segment"),
        ("strategies.a.realm.inner", "not a table"),
    ] {
        let err = AuthConfig::from_toml_str("auth.toml", file)
            .unwrap()
            .with_override(path, 1, "the flag")
            .unwrap_err();
        assert_eq!(err.origin, "the flag");
        assert!(err.message.contains(needle), "{path}: {err}");
    }
}

#[test]
fn the_guard_table_maps_onto_guard_config() {
    use auth_core::GuardConfig;
    use std::time::Duration;
    // Absent: the defaults.
    let empty = AuthConfig::from_toml_str("auth.toml", "").unwrap();
    assert_eq!(
        GuardConfig::from_config(&empty).unwrap(),
        GuardConfig::default()
    );
    let toml = AuthConfig::from_toml_str(
        "auth.toml",
        "[guard]\nmax_failures_per_user = 3\nmax_failures_per_client = 12\nwindow_secs = 60\n\
         trusted_proxies = [\"10.0.0.0/8\", \"::1\"]\nlockout_cache_ms = 250\n",
    )
    .unwrap();
    let yaml = AuthConfig::from_yaml_str(
        "auth.yaml",
        "guard:\n  max_failures_per_user: 3\n  max_failures_per_client: 12\n  window_secs: 60\n  \
         trusted_proxies: [10.0.0.0/8, '::1']\n  lockout_cache_ms: 250\n",
    )
    .unwrap();
    for config in [toml, yaml] {
        let guard = GuardConfig::from_config(&config).unwrap();
        assert_eq!(
            (
                guard.max_failures_per_user,
                guard.max_failures_per_client,
                guard.window
            ),
            (3, 12, Duration::from_secs(60))
        );
        assert_eq!(guard.lockout_cache, Duration::from_millis(250));
        assert_eq!(guard.trusted_proxies.len(), 2);
        assert!(guard.trusted_proxies[0].contains("10.9.8.7".parse().unwrap()));
        assert!(guard.trusted_proxies[1].contains("::1".parse().unwrap()));
    }
    for (text, path, needle) in [
        (
            "[guard]\nmax_failures = 3",
            "guard.max_failures",
            "unknown field",
        ),
        (
            "[guard]\nwindow_secs = \"15m\"",
            "guard.window_secs",
            "invalid type",
        ),
        (
            "[guard]\nwindow_secs = 0",
            "guard.window_secs",
            "at least 1",
        ),
        (
            "[guard]\nmax_failures_per_user = 0",
            "guard.max_failures_per_user",
            "at least 1",
        ),
        (
            "[guard]\nmax_failures_per_client = -1",
            "guard.max_failures_per_client",
            "invalid value",
        ),
        (
            "[guard]\ntrusted_proxies = [\"10.0.0.1\", \"10.0.0.0/40\"]",
            "guard.trusted_proxies[1]",
            "invalid prefix length",
        ),
        (
            "[guard]\ntrusted_proxies = [\"proxy.internal\"]",
            "guard.trusted_proxies[0]",
            "not an IP address",
        ),
        ("guard = 3", "guard", "invalid type"),
        ("guard = \"strict\"", "guard", "invalid type"),
    ] {
        let config = AuthConfig::from_toml_str("auth.toml", text).unwrap();
        let err = GuardConfig::from_config(&config).unwrap_err();
        assert_eq!(err.path, path, "{text}: {err}");
        assert!(err.message.contains(needle), "{text}: {err}");
        assert!(
            err.to_string().starts_with(&format!("auth.toml: {path}: ")),
            "{err}"
        );
    }
}
