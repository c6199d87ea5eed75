//! Configuration: environment variables over an optional TOML file over defaults.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
    /// HMAC signing secret (`JWT_SECRET`, base64 or raw); generated and stored
    /// in the data directory when absent.
    pub jwt_secret: Option<String>,
    /// Token issuer (`JWT_ISSUER`, default `todo-example`).
    pub issuer: String,
    /// Access-token lifetime (`ACCESS_TOKEN_TTL_SECS`, default 900).
    pub access_ttl: Duration,
    /// Refresh-token lifetime (`REFRESH_TOKEN_TTL_SECS`, default 14 days).
    pub refresh_ttl: Duration,
    /// E-mail addresses that receive the `admin` role at sign-up
    /// (`TODO_ADMIN_EMAILS`, comma-separated).
    pub admin_emails: Vec<String>,
    /// Failed logins allowed per client address or e-mail within
    /// `login_window` (`LOGIN_MAX_FAILURES`, default 5).
    pub login_max_failures: u32,
    /// The brute-force guard's window (`LOGIN_WINDOW_SECS`, default 300).
    pub login_window: Duration,
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
    jwt_secret: Option<String>,
    issuer: Option<String>,
    access_token_ttl_secs: Option<u64>,
    refresh_token_ttl_secs: Option<u64>,
    admin_emails: Option<Vec<String>>,
    login_max_failures: Option<u32>,
    login_window_secs: Option<u64>,
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
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `var` (tests pass a map).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let file = match var("TODO_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None => FileConfig::default(),
        };
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
            host: var("HOST")
                .or(file.host)
                .unwrap_or_else(|| "127.0.0.1".into()),
            port: parse(&var, "PORT", "a port number", file.port)?.unwrap_or(3000),
            data_dir,
            database_url,
            jwt_secret: var("JWT_SECRET").or(file.jwt_secret),
            issuer: var("JWT_ISSUER")
                .or(file.issuer)
                .unwrap_or_else(|| "todo-example".into()),
            access_ttl: Duration::from_secs(
                parse(
                    &var,
                    "ACCESS_TOKEN_TTL_SECS",
                    "a number of seconds",
                    file.access_token_ttl_secs,
                )?
                .unwrap_or(900),
            ),
            refresh_ttl: Duration::from_secs(
                parse(
                    &var,
                    "REFRESH_TOKEN_TTL_SECS",
                    "a number of seconds",
                    file.refresh_token_ttl_secs,
                )?
                .unwrap_or(14 * 24 * 3600),
            ),
            admin_emails,
            login_max_failures: parse(
                &var,
                "LOGIN_MAX_FAILURES",
                "a whole number",
                file.login_max_failures,
            )?
            .unwrap_or(5),
            login_window: Duration::from_secs(
                parse(
                    &var,
                    "LOGIN_WINDOW_SECS",
                    "a number of seconds",
                    file.login_window_secs,
                )?
                .unwrap_or(300),
            ),
        })
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
        assert_eq!(c.access_ttl, Duration::from_secs(900));
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
}
