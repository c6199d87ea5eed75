//! Configuration: environment variables over an optional TOML file over defaults.
//!
//! Authentication (strategies, token lifetimes, the login guard) is described
//! in `auth.toml` ([`AUTH_TOML`], or the file `TODO_AUTH_CONFIG` names); the
//! todo's own variables that concern it (`JWT_ISSUER`, `ACCESS_TOKEN_TTL_SECS`,
//! `REFRESH_TOKEN_TTL_SECS`, `LOGIN_MAX_FAILURES`, `LOGIN_WINDOW_SECS`, and the
//! same keys of the `TODO_CONFIG` file) are mapped onto it
//! ([`Config::auth_overrides`]), and `AUTH__...` variables override both
//! ([`Config::auth_config`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use auth_core::{AuthConfig, AuthConfigError};
use serde::Deserialize;
use serde_json::{Value, json};

/// The authentication file the binary carries: `examples/todo/auth.toml`.
pub const AUTH_TOML: &str = include_str!("../auth.toml");

/// How errors name [`AUTH_TOML`].
pub const AUTH_TOML_ORIGIN: &str = "examples/todo/auth.toml (built in)";

/// A value of the todo's own configuration set on the authentication file.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthOverride {
    /// The dotted path in the file, e.g. `guard.window_secs`.
    pub path: &'static str,
    /// The value.
    pub value: Value,
    /// Where it came from, e.g. `environment variable LOGIN_WINDOW_SECS`.
    pub origin: String,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Interface to bind (`HOST`, default `127.0.0.1`).
    pub host: String,
    /// Port to bind (`PORT`, default 3000; 0 picks a free port).
    pub port: u16,
    /// Where the SQLite database and the generated signing key live
    /// (`TODO_DATA_DIR`, default `./data`).
    pub data_dir: PathBuf,
    /// `DATABASE_URL`; default: SQLite in the data directory.
    pub database_url: String,
    /// `REDIS_URL`: keep the shared authentication state (refresh-token
    /// families, login counters) in Redis, so that several instances agree;
    /// default: in the database.
    pub redis_url: Option<String>,
    /// HMAC signing secret (`JWT_SECRET`, base64 or raw); generated and stored
    /// in the data directory when absent.
    pub jwt_secret: Option<String>,
    /// E-mail addresses that receive the `admin` role at sign-up
    /// (`TODO_ADMIN_EMAILS`, comma-separated).
    pub admin_emails: Vec<String>,
    /// The authentication file (`TODO_AUTH_CONFIG`, or `auth_config` in the
    /// `TODO_CONFIG` file; `.toml`, `.yaml` or `.yml`); default:
    /// [`AUTH_TOML`].
    pub auth_file: Option<PathBuf>,
    /// The todo's settings that belong to the authentication file, as set:
    /// token issuer (`JWT_ISSUER`, file default `todo-example`), access- and
    /// refresh-token lifetimes (`ACCESS_TOKEN_TTL_SECS`, 900;
    /// `REFRESH_TOKEN_TTL_SECS`, 14 days), failed logins allowed per e-mail
    /// (`LOGIN_MAX_FAILURES`, 5; four times as many per client address) and
    /// the guard's window (`LOGIN_WINDOW_SECS`, 300).
    pub auth_overrides: Vec<AuthOverride>,
    /// `AUTH__...` variables, applied last ([`AuthConfig::with_env_vars`]).
    pub auth_env: Vec<(String, String)>,
    /// How often every instance re-reads the revocation list
    /// (`REVOCATION_RESYNC_SECS`, default 10).
    pub revocation_resync: Duration,
    /// How long an instance may go without reading the revocation list
    /// before token-checked routes answer 503
    /// (`REVOCATION_MAX_STALENESS_SECS`, default 30).
    pub revocation_max_staleness: Duration,
    /// The web page's browser sessions end after this long without a
    /// request (`SESSION_IDLE_SECS`, default 1800).
    pub session_idle: Duration,
    /// ... and this long after login, used or not
    /// (`SESSION_ABSOLUTE_SECS`, default 43200: 12 hours).
    pub session_absolute: Duration,
    /// `TODO_DANGEROUSLY_ALLOW_INSECURE_COOKIE=true`: the session cookie is
    /// not `Secure` (and so named `session`, not `__Host-session`), for a
    /// browser that refuses `Secure` cookies over plain `http` from a host
    /// other than `localhost`/`127.0.0.1`. Default `false`: Chromium and
    /// Firefox keep `Secure` cookies from `http://127.0.0.1` and
    /// `http://localhost`, which they treat as secure contexts.
    pub dangerously_allow_insecure_cookie: bool,
    /// "Log in with your identity provider" (OpenID Connect): on when
    /// `OIDC_ISSUER`, `OIDC_CLIENT_ID` and `OIDC_REDIRECT_URI` are set (or
    /// `oidc_issuer`, `oidc_client_id`, `oidc_redirect_uri` in the
    /// `TODO_CONFIG` file), off when none is.
    pub oidc: Option<OidcSettings>,
}

/// The OpenID provider the todo lets users log in with.
#[derive(Clone)]
pub struct OidcSettings {
    /// The provider's issuer URL (`OIDC_ISSUER`).
    pub issuer: String,
    /// The todo's client id there (`OIDC_CLIENT_ID`).
    pub client_id: String,
    /// The client secret (`OIDC_CLIENT_SECRET`); none for a public client.
    pub client_secret: Option<String>,
    /// The redirect URI registered at the provider, exactly
    /// (`OIDC_REDIRECT_URI`, e.g. `https://todo.example/auth/oidc/callback`);
    /// its path is the callback route.
    pub redirect_uri: String,
    /// Sends the login cookie without `Secure`, for a redirect URI on
    /// `http://127.0.0.1` (`OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE=true`).
    pub dangerously_allow_insecure_cookie: bool,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field(
                "dangerously_allow_insecure_cookie",
                &self.dangerously_allow_insecure_cookie,
            )
            .finish_non_exhaustive()
    }
}

/// The optional file named by `TODO_CONFIG`; every field is optional and an
/// environment variable of the same meaning wins.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    host: Option<String>,
    port: Option<u16>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    redis_url: Option<String>,
    jwt_secret: Option<String>,
    issuer: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    admin_emails: Option<Vec<String>>,
    login_max_failures: Option<u32>,
    login_window_secs: Option<u64>,
    auth_config: Option<PathBuf>,
    login_on_store_error: Option<String>,
    revocation_resync_secs: Option<u64>,
    revocation_max_staleness_secs: Option<u64>,
    session_idle_secs: Option<u64>,
    session_absolute_secs: Option<u64>,
    dangerously_allow_insecure_cookie: Option<bool>,
    oidc_issuer: Option<String>,
    oidc_client_id: Option<String>,
    oidc_client_secret: Option<String>,
    oidc_redirect_uri: Option<String>,
    oidc_dangerously_allow_insecure_cookie: Option<bool>,
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file cannot be read or parsed.
    #[error("cannot read config file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// A variable holds a value of the wrong form.
    #[error("{name} must be {expected}, got {value:?}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What it must be.
        expected: &'static str,
        /// What it was.
        value: String,
    },
}

impl Config {
    /// Reads the process environment (and `TODO_CONFIG` if set).
    pub fn from_env() -> Result<Config, ConfigError> {
        let mut config = Self::from_lookup(|name| std::env::var(name).ok())?;
        config.auth_env = std::env::vars()
            .filter(|(name, _)| name.starts_with("AUTH__"))
            .collect();
        Ok(config)
    }

    /// Reads configuration through `var` (tests pass a map); no `AUTH__`
    /// variables.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let config_file = var("TODO_CONFIG");
        let file = match &config_file {
            Some(path) => read_file(Path::new(path))?,
            None => FileConfig::default(),
        };
        let oidc = oidc_settings(&var, &file)?;
        // Where a setting came from: the variable, else the TODO_CONFIG file.
        let origin = |name: &str, key: &str| match var(name) {
            Some(_) => format!("environment variable {name}"),
            None => format!("{}: {key}", config_file.as_deref().unwrap_or_default()),
        };
        let mut auth_overrides = Vec::new();
        let mut set = |path: &'static str, value: Value, origin: String| {
            auth_overrides.push(AuthOverride {
                path,
                value,
                origin,
            })
        };
        if let Some(issuer) = var("JWT_ISSUER").or(file.issuer) {
            set(
                "strategies.jwt.issuer",
                json!(issuer),
                origin("JWT_ISSUER", "issuer"),
            );
        }
        let secs = "a number of seconds";
        if let Some(ttl) = parse(
            &var,
            "ACCESS_TOKEN_TTL_SECS",
            secs,
            file.access_token_ttl_secs,
        )? {
            set(
                "strategies.jwt.tokens.access_ttl_secs",
                json!(ttl),
                origin("ACCESS_TOKEN_TTL_SECS", "access_token_ttl_secs"),
            );
        }
        if let Some(ttl) = parse(
            &var,
            "REFRESH_TOKEN_TTL_SECS",
            secs,
            file.refresh_token_ttl_secs,
        )? {
            set(
                "strategies.jwt.tokens.refresh_ttl_secs",
                json!(ttl),
                origin("REFRESH_TOKEN_TTL_SECS", "refresh_token_ttl_secs"),
            );
        }
        if let Some(n) = parse::<u32>(
            &var,
            "LOGIN_MAX_FAILURES",
            "a whole number",
            file.login_max_failures,
        )? {
            let origin = origin("LOGIN_MAX_FAILURES", "login_max_failures");
            set("guard.max_failures_per_user", json!(n), origin.clone());
            set(
                "guard.max_failures_per_client",
                json!(n.saturating_mul(4)),
                origin,
            );
        }
        if let Some(window) = parse(&var, "LOGIN_WINDOW_SECS", secs, file.login_window_secs)? {
            set(
                "guard.window_secs",
                json!(window),
                origin("LOGIN_WINDOW_SECS", "login_window_secs"),
            );
        }
        // What the login guard does while the shared store is down:
        // `closed` (503, the default) or `local` (this instance counts alone).
        if let Some(policy) = var("LOGIN_ON_STORE_ERROR").or(file.login_on_store_error.clone()) {
            let policy = policy.trim().to_owned();
            if policy != "closed" && policy != "local" {
                return Err(ConfigError::Invalid {
                    name: "LOGIN_ON_STORE_ERROR",
                    expected: "`closed` or `local`",
                    value: policy,
                });
            }
            set(
                "guard.on_store_error",
                json!(policy),
                origin("LOGIN_ON_STORE_ERROR", "login_on_store_error"),
            );
        }
        let data_dir = var("TODO_DATA_DIR")
            .map(PathBuf::from)
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = var("DATABASE_URL")
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", data_dir.join("todo.db").display()));
        let admin_emails = match var("TODO_ADMIN_EMAILS") {
            Some(list) => list
                .split(',')
                .map(|e| e.trim().to_ascii_lowercase())
                .filter(|e| !e.is_empty())
                .collect(),
            None => file
                .admin_emails
                .unwrap_or_default()
                .into_iter()
                .map(|e| e.to_ascii_lowercase())
                .collect(),
        };
        Ok(Config {
            oidc,
            host: var("HOST")
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: parse(&var, "PORT", "a port number", file.port)?.unwrap_or(3000),
            data_dir,
            database_url,
            redis_url: var("REDIS_URL").or(file.redis_url),
            jwt_secret: var("JWT_SECRET").or(file.jwt_secret),
            admin_emails,
            auth_file: var("TODO_AUTH_CONFIG")
                .map(PathBuf::from)
                .or(file.auth_config),
            auth_overrides,
            auth_env: Vec::new(),
            revocation_resync: Duration::from_secs(
                parse(
                    &var,
                    "REVOCATION_RESYNC_SECS",
                    secs,
                    file.revocation_resync_secs,
                )?
                .unwrap_or(10),
            ),
            revocation_max_staleness: Duration::from_secs(
                parse(
                    &var,
                    "REVOCATION_MAX_STALENESS_SECS",
                    secs,
                    file.revocation_max_staleness_secs,
                )?
                .unwrap_or(30),
            ),
            session_idle: Duration::from_secs(
                parse(&var, "SESSION_IDLE_SECS", secs, file.session_idle_secs)?.unwrap_or(1800),
            ),
            session_absolute: Duration::from_secs(
                parse(
                    &var,
                    "SESSION_ABSOLUTE_SECS",
                    secs,
                    file.session_absolute_secs,
                )?
                .unwrap_or(12 * 3600),
            ),
            dangerously_allow_insecure_cookie: parse(
                &var,
                "TODO_DANGEROUSLY_ALLOW_INSECURE_COOKIE",
                "`true` or `false`",
                file.dangerously_allow_insecure_cookie,
            )?
            .unwrap_or(false),
        })
    }

    /// The authentication configuration: the file, then
    /// [`auth_overrides`](Self::auth_overrides), then
    /// [`auth_env`](Self::auth_env). Errors name the file or the variable,
    /// the strategy and the field.
    pub fn auth_config(&self) -> Result<AuthConfig, AuthConfigError> {
        let mut config = match &self.auth_file {
            Some(path) => AuthConfig::from_file(path)?,
            None => AuthConfig::from_toml_str(AUTH_TOML_ORIGIN, AUTH_TOML)?,
        };
        for o in &self.auth_overrides {
            config = config.with_override(o.path, o.value.clone(), &o.origin)?;
        }
        config.with_env_vars("AUTH", self.auth_env.iter().cloned())
    }
}

/// The OpenID login settings: all three of issuer, client id and redirect
/// URI, or none.
fn oidc_settings(
    var: &impl Fn(&str) -> Option<String>,
    file: &FileConfig,
) -> Result<Option<OidcSettings>, ConfigError> {
    let issuer = var("OIDC_ISSUER").or(file.oidc_issuer.clone());
    let client_id = var("OIDC_CLIENT_ID").or(file.oidc_client_id.clone());
    let redirect_uri = var("OIDC_REDIRECT_URI").or(file.oidc_redirect_uri.clone());
    let insecure = match var("OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE") {
        Some(v) => match v.trim() {
            "true" | "1" => true,
            "false" | "0" | "" => false,
            _ => {
                return Err(ConfigError::Invalid {
                    name: "OIDC_DANGEROUSLY_ALLOW_INSECURE_COOKIE",
                    expected: "`true` or `false`",
                    value: v,
                });
            }
        },
        None => file.oidc_dangerously_allow_insecure_cookie.unwrap_or(false),
    };
    match (issuer, client_id, redirect_uri) {
        (None, None, None) => Ok(None),
        (Some(issuer), Some(client_id), Some(redirect_uri)) => Ok(Some(OidcSettings {
            issuer,
            client_id,
            client_secret: var("OIDC_CLIENT_SECRET").or(file.oidc_client_secret.clone()),
            redirect_uri,
            dangerously_allow_insecure_cookie: insecure,
        })),
        (issuer, client_id, _) => Err(ConfigError::Invalid {
            name: if issuer.is_none() {
                "OIDC_ISSUER"
            } else if client_id.is_none() {
                "OIDC_CLIENT_ID"
            } else {
                "OIDC_REDIRECT_URI"
            },
            expected: "set together with the other OIDC_ISSUER, OIDC_CLIENT_ID and OIDC_REDIRECT_URI (or none of them)",
            value: String::new(),
        }),
    }
}

fn parse<T: std::str::FromStr>(
    var: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    expected: &'static str,
    fallback: Option<T>,
) -> Result<Option<T>, ConfigError> {
    match var(name) {
        None => Ok(fallback),
        Some(value) => value
            .trim()
            .parse()
            .map(Some)
            .map_err(|_| ConfigError::Invalid {
                name,
                expected,
                value,
            }),
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::File {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults() {
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!((c.host.as_str(), c.port), ("127.0.0.1", 3000));
        assert_eq!(c.database_url, "sqlite://data/todo.db?mode=rwc");
        assert!(c.jwt_secret.is_none());
        // Token lifetimes and the guard come from auth.toml unless set.
        assert!(c.auth_overrides.is_empty());
        let auth = c.auth_config().unwrap();
        assert_eq!(
            auth.get::<u64>("strategies.jwt.tokens.access_ttl_secs")
                .unwrap(),
            900
        );
    }

    #[test]
    fn environment_wins_over_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("todo.toml");
        std::fs::write(
            &file,
            "port = 4000\nhost = \"127.0.0.2\"\nadmin_emails = [\"Boss@Example.com\"]\n",
        )
        .unwrap();
        let c = Config::from_lookup(lookup(&[
            ("TODO_CONFIG", file.to_str().unwrap()),
            ("PORT", "5000"),
        ]))
        .unwrap();
        assert_eq!(c.port, 5000);
        assert_eq!(c.host, "127.0.0.2");
        assert_eq!(c.admin_emails, ["boss@example.com"]);
    }

    #[test]
    fn session_settings_default_to_secure_cookies_and_can_be_set() {
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(c.session_idle, Duration::from_secs(1800));
        assert_eq!(c.session_absolute, Duration::from_secs(12 * 3600));
        assert!(!c.dangerously_allow_insecure_cookie);
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("todo.toml");
        std::fs::write(
            &file,
            "session_idle_secs = 60\ndangerously_allow_insecure_cookie = true\n",
        )
        .unwrap();
        let c = Config::from_lookup(lookup(&[
            ("TODO_CONFIG", file.to_str().unwrap()),
            ("SESSION_ABSOLUTE_SECS", "600"),
        ]))
        .unwrap();
        assert_eq!(c.session_idle, Duration::from_secs(60));
        assert_eq!(c.session_absolute, Duration::from_secs(600));
        assert!(c.dangerously_allow_insecure_cookie);
        for (name, value) in [
            ("SESSION_IDLE_SECS", "half an hour"),
            ("SESSION_ABSOLUTE_SECS", "-1"),
            ("TODO_DANGEROUSLY_ALLOW_INSECURE_COOKIE", "yes"),
        ] {
            let err = Config::from_lookup(lookup(&[(name, value)])).unwrap_err();
            assert!(
                err.to_string().starts_with(&format!("{name} must be")),
                "{err}"
            );
        }
    }

    #[test]
    fn bad_values_are_named() {
        let err = Config::from_lookup(lookup(&[("PORT", "eighty")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "PORT must be a port number, got \"eighty\""
        );
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("todo.toml");
        std::fs::write(&file, "prot = 1\n").unwrap();
        let err =
            Config::from_lookup(lookup(&[("TODO_CONFIG", file.to_str().unwrap())])).unwrap_err();
        assert!(err.to_string().contains("unknown field `prot`"), "{err}");
    }

    /// The values of `auth` at the paths the todo's variables set.
    fn auth_values(c: &Config) -> Vec<Value> {
        let auth = c.auth_config().unwrap();
        [
            "strategies.jwt.issuer",
            "strategies.jwt.tokens.access_ttl_secs",
            "strategies.jwt.tokens.refresh_ttl_secs",
            "guard.max_failures_per_user",
            "guard.max_failures_per_client",
            "guard.window_secs",
        ]
        .iter()
        .map(|p| auth.get::<Value>(p).unwrap())
        .collect()
    }

    #[test]
    fn the_shipped_file_holds_the_todos_defaults() {
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(
            auth_values(&c),
            [
                json!("todo-example"),
                json!(900),
                json!(14 * 24 * 3600),
                json!(5),
                json!(20),
                json!(300)
            ]
        );
        let auth = c.auth_config().unwrap();
        assert_eq!(
            auth.get::<String>("strategies.jwt.audience").unwrap(),
            "todo-api"
        );
        assert_eq!(
            auth.get::<String>("strategies.basic.realm").unwrap(),
            "todo"
        );
    }

    #[test]
    fn the_todos_variables_and_file_keys_map_onto_the_authentication_file() {
        let vars = [
            ("JWT_ISSUER", "https://todo.example"),
            ("ACCESS_TOKEN_TTL_SECS", "60"),
            ("REFRESH_TOKEN_TTL_SECS", "3600"),
            ("LOGIN_MAX_FAILURES", "3"),
            ("LOGIN_WINDOW_SECS", "30"),
        ];
        let from_env = Config::from_lookup(lookup(&vars)).unwrap();
        let expected = [
            json!("https://todo.example"),
            json!(60),
            json!(3600),
            json!(3),
            json!(12),
            json!(30),
        ];
        assert_eq!(auth_values(&from_env), expected);
        assert!(
            from_env
                .auth_overrides
                .iter()
                .all(|o| o.origin.starts_with("environment variable ")),
            "{:?}",
            from_env.auth_overrides
        );
        // The same keys in the TODO_CONFIG file.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("todo.toml");
        std::fs::write(
            &file,
            "issuer = \"https://todo.example\"\naccess_token_ttl_secs = 60\n\
             refresh_token_ttl_secs = 3600\nlogin_max_failures = 3\nlogin_window_secs = 30\n",
        )
        .unwrap();
        let from_file =
            Config::from_lookup(lookup(&[("TODO_CONFIG", file.to_str().unwrap())])).unwrap();
        assert_eq!(auth_values(&from_file), expected);
        assert_eq!(
            from_file.auth_overrides[0].origin,
            format!("{}: issuer", file.display())
        );
    }

    #[test]
    fn auth_variables_win_and_bad_values_name_their_origin() {
        let mut c = Config::from_lookup(lookup(&[("LOGIN_WINDOW_SECS", "30")])).unwrap();
        c.auth_env = vec![("AUTH__GUARD__WINDOW_SECS".into(), "10".into())];
        assert_eq!(auth_values(&c)[5], json!(10));
        // A value of the todo's variable that the guard refuses names the
        // variable and the field it set.
        let c = Config::from_lookup(lookup(&[("LOGIN_MAX_FAILURES", "0")])).unwrap();
        let err = auth_core::GuardConfig::from_config(&c.auth_config().unwrap()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable LOGIN_MAX_FAILURES: guard.max_failures_per_user: \
             must be at least 1 (0 would lock every client out at its first failure)"
        );
        // Another authentication file, by name; a missing one is named.
        let dir = tempfile::tempdir().unwrap();
        let yaml = dir.path().join("auth.yaml");
        std::fs::write(
            &yaml,
            "strategies:\n  jwt: {type: jwt, issuer: from-yaml}\n",
        )
        .unwrap();
        let c =
            Config::from_lookup(lookup(&[("TODO_AUTH_CONFIG", yaml.to_str().unwrap())])).unwrap();
        assert_eq!(auth_values(&c)[0], json!("from-yaml"));
        let absent = dir.path().join("absent.toml");
        let c =
            Config::from_lookup(lookup(&[("TODO_AUTH_CONFIG", absent.to_str().unwrap())])).unwrap();
        let err = c.auth_config().unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{}: cannot read", absent.display())),
            "{err}"
        );
    }

    #[test]
    fn the_login_guard_fails_closed_unless_told_otherwise() {
        use auth_core::GuardFailurePolicy;
        let policy = |c: &Config| {
            auth_core::GuardConfig::from_config(&c.auth_config().unwrap())
                .unwrap()
                .on_store_error
        };
        let c = Config::from_lookup(lookup(&[])).unwrap();
        assert_eq!(policy(&c), GuardFailurePolicy::FailClosed);
        assert_eq!(c.revocation_max_staleness, Duration::from_secs(30));
        assert_eq!(c.revocation_resync, Duration::from_secs(10));
        for (value, expected) in [
            ("closed", GuardFailurePolicy::FailClosed),
            ("local", GuardFailurePolicy::LocalFallback),
            (" local ", GuardFailurePolicy::LocalFallback),
        ] {
            let c = Config::from_lookup(lookup(&[("LOGIN_ON_STORE_ERROR", value)])).unwrap();
            assert_eq!(policy(&c), expected, "{value}");
        }
        for bad in ["open", "", "LOCAL", "fail-open"] {
            let err = Config::from_lookup(lookup(&[("LOGIN_ON_STORE_ERROR", bad)])).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!(
                    "LOGIN_ON_STORE_ERROR must be `closed` or `local`, got \"{}\"",
                    bad.trim()
                )
            );
        }
        // The same setting in auth.toml's own terms, with its origin.
        let mut c = Config::from_lookup(lookup(&[])).unwrap();
        c.auth_env = vec![("AUTH__GUARD__ON_STORE_ERROR".into(), "sometimes".into())];
        let err = auth_core::GuardConfig::from_config(&c.auth_config().unwrap()).unwrap_err();
        assert!(err.to_string().contains("guard.on_store_error"), "{err}");
    }
}
