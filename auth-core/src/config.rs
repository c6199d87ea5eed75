//! Declarative configuration: strategies described in a TOML or YAML file,
//! overridden by environment variables, built by name.
//!
//! The file names each strategy (the name handlers use in
//! `#[authenticate("...")]`) and its `type`, which picks the
//! [`StrategyFactory`] that builds it:
//!
//! ```toml
//! renderer = "loopback"            # or "problem+json"
//!
//! [strategies.jwt]                 # #[authenticate("jwt")]
//! type = "jwt"                     # built by auth_jwt::JwtFactory
//! issuer = "https://issuer.example"
//! audience = ["todo-api"]
//!
//! [strategies.basic]
//! type = "basic"
//! realm = "todo"
//! ```
//!
//! Environment variables override the file (12-factor): with the prefix
//! `AUTH`, `AUTH__STRATEGIES__JWT__ISSUER=https://other.example` replaces
//! `strategies.jwt.issuer`. Segments are separated by a double underscore and
//! lower-cased; a numeric segment indexes an array
//! (`AUTH__STRATEGIES__JWT__KEYS__0__SECRET_ENV`). A value that reads as JSON
//! (`900`, `true`, `["a","b"]`) is taken as such, anything else as a string;
//! write `"\"123\""` for a numeric string.
//!
//! Every error names where the value came from (the file, or the variable
//! that overrode it), the strategy, and the field's path:
//! `auth.toml: strategies.jwt.leeway_secs (strategy 'jwt'): invalid type:
//! string "soon", expected u64`.
//!
//! Strategies are registered in the order of their names, so that the
//! registry does not depend on how a file orders its tables; the order of
//! strategies *tried* for a request is always the handler's own.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{
    AuthenticationStrategy, ConfigError, GuardConfig, LoopBackRenderer, ProblemJsonRenderer,
    StrategyRegistry, StrategyRegistryBuilder, TrustedProxy,
};

/// A configuration value that cannot be used, with where it came from.
///
/// ```
/// use auth_core::AuthConfig;
///
/// let err = AuthConfig::from_toml_str("auth.toml", "[strategies.jwt]\ntype = 7\n")
///     .unwrap()
///     .strategy_sections()
///     .unwrap_err();
/// let text = err.to_string();
/// assert!(text.starts_with("auth.toml: strategies.jwt.type (strategy 'jwt'):"), "{text}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {}{message}", location(.path, .strategy))]
pub struct AuthConfigError {
    /// The file, or `environment variable NAME` when a variable set the value.
    pub origin: String,
    /// The strategy the value belongs to, if any.
    pub strategy: Option<String>,
    /// The field's dotted path, e.g. `strategies.jwt.issuer`; empty for the
    /// whole file.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn location(path: &str, strategy: &Option<String>) -> String {
    match (path.is_empty(), strategy) {
        (true, None) => String::new(),
        (true, Some(s)) => format!("(strategy '{s}'): "),
        (false, None) => format!("{path}: "),
        (false, Some(s)) => format!("{path} (strategy '{s}'): "),
    }
}

/// A loaded configuration: a TOML or YAML document plus environment
/// overrides. Build a registry from it with [`StrategyRegistry::from_config`].
///
/// ```
/// use auth_core::AuthConfig;
///
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.jwt]
///     type = "jwt"
///     issuer = "https://issuer.example"
/// "#)
/// .unwrap()
/// .with_env_vars("AUTH", [("AUTH__STRATEGIES__JWT__ISSUER", "https://other.example")])
/// .unwrap();
/// let sections = config.strategy_sections().unwrap();
/// assert_eq!(sections[0].name(), "jwt");
/// assert_eq!(sections[0].value()["issuer"], "https://other.example");
/// ```
///
/// `Debug` shows the document with the values of keys that name a secret
/// or a password (`client_secret`, set by a variable) replaced by `"..."`:
///
/// ```
/// use auth_core::AuthConfig;
///
/// let config = AuthConfig::from_toml_str("auth.toml", "[strategies.x]\ntype = \"introspection\"\n")
///     .unwrap()
///     .with_env_vars("AUTH", [("AUTH__STRATEGIES__X__CLIENT_SECRET", "hunter2-hunter2")])
///     .unwrap();
/// let debug = format!("{config:?}");
/// assert!(!debug.contains("hunter2") && debug.contains("client_secret"), "{debug}");
/// ```
#[derive(Clone)]
pub struct AuthConfig {
    origin: String,
    base_dir: Option<PathBuf>,
    tree: Value,
    /// Dotted paths set by environment variables or by the application, and
    /// where each value came from (`environment variable NAME`...).
    overrides: BTreeMap<String, String>,
}

impl fmt::Debug for AuthConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("origin", &self.origin)
            .field("base_dir", &self.base_dir)
            .field("tree", &redacted(&self.tree))
            .field("overrides", &self.overrides)
            .finish()
    }
}

/// `tree` with the values of keys naming a secret or a password replaced
/// (`secret_env` and `secret_file` name a variable or a file, and stay).
fn redacted(tree: &Value) -> Value {
    match tree {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let key_lower = key.to_ascii_lowercase();
                    let names_a_place = key_lower.ends_with("_env") || key_lower.ends_with("_file");
                    let secret = (key_lower.contains("secret") || key_lower.contains("password"))
                        && !names_a_place;
                    let value = if secret {
                        Value::String("...".into())
                    } else {
                        redacted(value)
                    };
                    (key.clone(), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

impl AuthConfig {
    /// Reads a `.toml`, `.yaml` or `.yml` file. Relative paths inside it
    /// (key files, user files) are resolved against the file's directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, AuthConfigError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| AuthConfigError {
            origin: origin.clone(),
            strategy: None,
            path: String::new(),
            message: format!("cannot read the file: {e}"),
        })?;
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let mut config = match extension.as_deref() {
            Some("toml") => Self::from_toml_str(&origin, &text)?,
            Some("yaml" | "yml") => Self::from_yaml_str(&origin, &text)?,
            _ => {
                return Err(AuthConfigError {
                    origin,
                    strategy: None,
                    path: String::new(),
                    message: "the file name must end in .toml, .yaml or .yml".into(),
                });
            }
        };
        config.base_dir = path.parent().map(Path::to_path_buf);
        Ok(config)
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn from_toml_str(origin: &str, text: &str) -> Result<Self, AuthConfigError> {
        let tree: Value = toml::from_str(text).map_err(|e| file_error(origin, e.to_string()))?;
        Self::from_value(origin, tree)
    }

    /// Parses YAML text; `origin` names it in errors.
    pub fn from_yaml_str(origin: &str, text: &str) -> Result<Self, AuthConfigError> {
        let tree: Value =
            yaml_serde::from_str(text).map_err(|e| file_error(origin, e.to_string()))?;
        Self::from_value(origin, tree)
    }

    /// A configuration already parsed into a JSON value (an object).
    pub fn from_value(origin: &str, tree: Value) -> Result<Self, AuthConfigError> {
        let tree = match tree {
            Value::Null => Value::Object(Map::new()),
            Value::Object(_) => tree,
            _ => {
                return Err(file_error(
                    origin,
                    "the document must be a table of settings".into(),
                ));
            }
        };
        Ok(AuthConfig {
            origin: origin.to_owned(),
            base_dir: None,
            tree,
            overrides: BTreeMap::new(),
        })
    }

    /// Applies the process environment's variables named `PREFIX__...`.
    pub fn with_env(self, prefix: &str) -> Result<Self, AuthConfigError> {
        self.with_env_vars(prefix, std::env::vars())
    }

    /// Applies `PREFIX__A__B=value` pairs from `vars` (tests pass their own);
    /// pairs without the prefix are ignored.
    pub fn with_env_vars<I, K, V>(mut self, prefix: &str, vars: I) -> Result<Self, AuthConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let head = format!("{prefix}__");
        let mut pairs: Vec<(String, String)> = vars
            .into_iter()
            .filter(|(k, _)| k.as_ref().starts_with(&head))
            .map(|(k, v)| (k.as_ref().to_owned(), v.as_ref().to_owned()))
            .collect();
        // Deterministic: array elements in index order, whatever the
        // environment's order.
        pairs.sort();
        for (name, raw) in pairs {
            let segments: Vec<String> = name[head.len()..]
                .split("__")
                .map(str::to_ascii_lowercase)
                .collect();
            let origin = format!("environment variable {name}");
            if segments.iter().any(String::is_empty) {
                return Err(file_error(
                    &origin,
                    "empty path segment (three underscores?)".into(),
                ));
            }
            let value = serde_json::from_str(&raw).unwrap_or(Value::String(raw));
            set_path(&mut self.tree, &segments, value).map_err(|message| AuthConfigError {
                origin: origin.clone(),
                strategy: None,
                path: segments.join("."),
                message,
            })?;
            self.overrides.insert(segments.join("."), origin);
        }
        Ok(self)
    }

    /// Sets the value at a dotted `path` (`guard.max_failures_per_user`,
    /// `strategies.jwt.issuer`), as an environment variable would, for an
    /// application that maps settings of its own onto the file (a legacy
    /// variable, a command-line flag). `origin` names the value in errors,
    /// e.g. `"environment variable LOGIN_MAX_FAILURES"`. Never put a secret
    /// here: the document is not a secret store (use `*_env` / `*_file`).
    ///
    /// ```
    /// use auth_core::AuthConfig;
    ///
    /// let config = AuthConfig::from_toml_str("auth.toml", "[guard]\nmax_failures_per_user = 5\n")
    ///     .unwrap()
    ///     .with_override("guard.max_failures_per_user", "soon", "environment variable LOGIN_MAX_FAILURES")
    ///     .unwrap();
    /// let err = config.get::<u32>("guard.max_failures_per_user").unwrap_err();
    /// assert!(err.to_string().starts_with(
    ///     "environment variable LOGIN_MAX_FAILURES: guard.max_failures_per_user: invalid type"
    /// ), "{err}");
    /// ```
    pub fn with_override(
        mut self,
        path: &str,
        value: impl Into<Value>,
        origin: &str,
    ) -> Result<Self, AuthConfigError> {
        let segments: Vec<String> = path.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(file_error(
                origin,
                format!("`{path}` has an empty path segment"),
            ));
        }
        set_path(&mut self.tree, &segments, value.into()).map_err(|message| AuthConfigError {
            origin: origin.to_owned(),
            strategy: None,
            path: path.to_owned(),
            message,
        })?;
        self.overrides.insert(path.to_owned(), origin.to_owned());
        Ok(self)
    }

    /// The whole document, after overrides.
    pub fn value(&self) -> &Value {
        &self.tree
    }

    /// Deserializes the value at a dotted `path` (`""` for the whole
    /// document; a missing value reads as `null`, so `Option` fields work).
    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, AuthConfigError> {
        let value = lookup(&self.tree, path).cloned().unwrap_or(Value::Null);
        self.parse_at(path, None, value)
    }

    /// Deserializes the top-level table `name` (e.g. `guard`) into `T`, a
    /// missing table reading as an empty one, so that a struct whose fields
    /// all have defaults gets its defaults. Use `#[serde(deny_unknown_fields)]`.
    ///
    /// ```
    /// use auth_core::AuthConfig;
    ///
    /// #[derive(serde::Deserialize)]
    /// #[serde(deny_unknown_fields)]
    /// struct Limits {
    ///     #[serde(default)]
    ///     per_minute: Option<u32>,
    /// }
    /// let empty = AuthConfig::from_toml_str("auth.toml", "").unwrap();
    /// assert_eq!(empty.table::<Limits>("limits").unwrap().per_minute, None);
    /// let typo = AuthConfig::from_toml_str("auth.toml", "[limits]\nper_minut = 1\n").unwrap();
    /// let err = typo.table::<Limits>("limits").err().unwrap();
    /// assert!(err.to_string().starts_with("auth.toml: limits.per_minut: unknown field"), "{err}");
    /// ```
    pub fn table<T: DeserializeOwned>(&self, name: &str) -> Result<T, AuthConfigError> {
        let value = match self.tree.get(name) {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(value) => value.clone(),
        };
        self.parse_at(name, None, value)
    }

    /// Resolves a path written in the file: relative paths are taken from
    /// the configuration file's directory.
    pub fn resolve_path(&self, path: impl AsRef<Path>) -> PathBuf {
        let path = path.as_ref();
        match &self.base_dir {
            Some(dir) if path.is_relative() => dir.join(path),
            _ => path.to_path_buf(),
        }
    }

    /// The `[strategies.NAME]` table of one strategy; an error naming it
    /// when the configuration has none. What every factory's
    /// `from_config(config, name)` starts with.
    ///
    /// ```
    /// use auth_core::AuthConfig;
    /// let config = AuthConfig::from_toml_str("auth.toml", "[strategies.api]\ntype = \"jwt\"\n").unwrap();
    /// assert_eq!(config.strategy_section("api").unwrap().kind(), "jwt");
    /// assert!(config.strategy_section("web").unwrap_err().to_string().contains("no such strategy"));
    /// ```
    pub fn strategy_section(&self, name: &str) -> Result<StrategySection<'_>, AuthConfigError> {
        self.strategy_sections()?
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                self.error_at(
                    &format!("strategies.{name}"),
                    Some(name),
                    "no such strategy in the configuration",
                )
            })
    }

    /// The `[strategies.NAME]` tables, by name, each with its `type`.
    pub fn strategy_sections(&self) -> Result<Vec<StrategySection<'_>>, AuthConfigError> {
        let Some(strategies) = self.tree.get("strategies") else {
            return Ok(Vec::new());
        };
        let Value::Object(map) = strategies else {
            return Err(self.error_at("strategies", None, "must be a table of strategies by name"));
        };
        let mut sections = Vec::with_capacity(map.len());
        let mut names: Vec<&String> = map.keys().collect();
        names.sort();
        for name in names {
            let value = &map[name];
            let path = format!("strategies.{name}");
            let Value::Object(table) = value else {
                return Err(self.error_at(&path, Some(name), "must be a table"));
            };
            let kind = match table.get("type") {
                Some(Value::String(kind)) => kind.as_str(),
                Some(_) => {
                    return Err(self.error_at(
                        &format!("{path}.type"),
                        Some(name),
                        "must be a string",
                    ));
                }
                None => {
                    return Err(self.error_at(
                        &format!("{path}.type"),
                        Some(name),
                        "missing: say which kind of strategy this is (e.g. type = \"jwt\")",
                    ));
                }
            };
            sections.push(StrategySection {
                config: self,
                name,
                kind,
                table,
            });
        }
        Ok(sections)
    }

    /// An error about the value at `path`, naming the variable that set it
    /// when one did.
    pub fn error_at(
        &self,
        path: &str,
        strategy: Option<&str>,
        message: impl fmt::Display,
    ) -> AuthConfigError {
        AuthConfigError {
            origin: self.origin_of(path),
            strategy: strategy.map(str::to_owned),
            path: path.to_owned(),
            message: message.to_string(),
        }
    }

    /// An error about a whole top-level table, naming a variable that set
    /// part of it if one did (a misspelt table may exist only in the
    /// environment).
    fn error_within(&self, key: &str, message: impl fmt::Display) -> AuthConfigError {
        let mut error = self.error_at(key, None, message);
        let inner = format!("{key}.");
        if let Some(origin) = self
            .overrides
            .iter()
            .find(|(path, _)| path.starts_with(&inner))
            .map(|(_, origin)| origin)
        {
            error.origin = origin.clone();
        }
        error
    }

    /// Where the value at `path` came from: `environment variable NAME`
    /// when a variable (or [`with_override`](Self::with_override)) set it or
    /// one of its parents, else the file. A factory reading a secret uses it
    /// to refuse one written in the file.
    ///
    /// ```
    /// use auth_core::AuthConfig;
    ///
    /// let config = AuthConfig::from_toml_str("auth.toml", "[strategies.x]\ntype = \"introspection\"\nclient_id = \"api\"\n")
    ///     .unwrap()
    ///     .with_env_vars("AUTH", [("AUTH__STRATEGIES__X__CLIENT_SECRET", "s")])
    ///     .unwrap();
    /// assert_eq!(config.origin_of("strategies.x.client_secret"), "environment variable AUTH__STRATEGIES__X__CLIENT_SECRET");
    /// assert_eq!(config.origin_of("strategies.x.client_id"), "auth.toml");
    /// ```
    pub fn origin_of(&self, path: &str) -> String {
        // Errors write list indexes as `keys[0]`, variables as `keys.0`.
        let dotted = path.replace('[', ".").replace(']', "");
        let mut probe = dotted.as_str();
        loop {
            if let Some(origin) = self.overrides.get(probe) {
                return origin.clone();
            }
            match probe.rfind('.') {
                Some(dot) => probe = &probe[..dot],
                None => return self.origin.clone(),
            }
        }
    }

    fn parse_at<T: DeserializeOwned>(
        &self,
        base: &str,
        strategy: Option<&str>,
        value: Value,
    ) -> Result<T, AuthConfigError> {
        serde_path_to_error::deserialize(value).map_err(|e| {
            let inner = e.path().to_string();
            let path = match (base.is_empty(), inner.as_str()) {
                (_, ".") => base.to_owned(),
                (true, inner) => inner.to_owned(),
                (false, inner) => format!("{base}.{inner}"),
            };
            self.error_at(&path, strategy, e.into_inner())
        })
    }
}

fn file_error(origin: &str, message: String) -> AuthConfigError {
    AuthConfigError {
        origin: origin.to_owned(),
        strategy: None,
        path: String::new(),
        message,
    }
}

fn lookup<'a>(tree: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return Some(tree);
    }
    path.split('.').try_fold(tree, |node, segment| match node {
        Value::Object(map) => map.get(segment),
        Value::Array(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Sets `value` at `segments`, creating tables (and array elements, one past
/// the end at most) on the way.
fn set_path(node: &mut Value, segments: &[String], value: Value) -> Result<(), String> {
    let Some((first, rest)) = segments.split_first() else {
        *node = value;
        return Ok(());
    };
    if node.is_null() {
        *node = if first.parse::<usize>().is_ok() {
            Value::Array(Vec::new())
        } else {
            Value::Object(Map::new())
        };
    }
    match node {
        Value::Object(map) => {
            set_path(map.entry(first.clone()).or_insert(Value::Null), rest, value)
        }
        Value::Array(items) => {
            let index: usize = first
                .parse()
                .map_err(|_| format!("`{first}` is not an index into a list"))?;
            if index == items.len() {
                items.push(Value::Null);
            }
            let len = items.len();
            let item = items.get_mut(index).ok_or_else(|| {
                format!("index {index} skips elements: the list has {len} element(s)")
            })?;
            set_path(item, rest, value)
        }
        _ => Err(format!(
            "cannot set `{first}` inside a value that is not a table"
        )),
    }
}

/// One `[strategies.NAME]` table, handed to the [`StrategyFactory`] of its
/// `type`.
#[derive(Debug, Clone, Copy)]
pub struct StrategySection<'a> {
    config: &'a AuthConfig,
    name: &'a str,
    kind: &'a str,
    table: &'a Map<String, Value>,
}

impl<'a> StrategySection<'a> {
    /// The strategy's name: what handlers write in `#[authenticate("...")]`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// Its `type`.
    pub fn kind(&self) -> &'a str {
        self.kind
    }

    /// The table, `type` included.
    pub fn value(&self) -> Value {
        Value::Object(self.table.clone())
    }

    /// The whole configuration (for paths and shared sections).
    pub fn config(&self) -> &'a AuthConfig {
        self.config
    }

    /// Deserializes the table without its `type` into `T` (use
    /// `#[serde(deny_unknown_fields)]` so that misspelt keys are errors).
    /// Errors name the file or variable, the strategy and the field.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, AuthConfigError> {
        let mut table = self.table.clone();
        table.remove("type");
        self.config.parse_at(
            &format!("strategies.{}", self.name),
            Some(self.name),
            Value::Object(table),
        )
    }

    /// An error about `field` of this strategy (`""` for the whole table).
    pub fn error(&self, field: &str, message: impl fmt::Display) -> AuthConfigError {
        let path = if field.is_empty() {
            format!("strategies.{}", self.name)
        } else {
            format!("strategies.{}.{field}", self.name)
        };
        self.config.error_at(&path, Some(self.name), message)
    }
}

/// Builds the strategies of one `type` from their configuration. Strategy
/// crates provide one each (`auth_jwt::JwtFactory` for `type = "jwt"`...);
/// an application can add its own.
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{
///     async_trait, from_fn, AuthConfig, AuthConfigError, AuthOutcome, AuthenticationStrategy,
///     StrategyFactory, StrategyRegistry, StrategySection,
/// };
///
/// struct Never;
///
/// #[async_trait]
/// impl StrategyFactory for Never {
///     fn kind(&self) -> &str {
///         "never"
///     }
///     async fn build(
///         &self,
///         section: &StrategySection<'_>,
///     ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
///         #[derive(serde::Deserialize)]
///         #[serde(deny_unknown_fields)]
///         struct Options {}
///         let _: Options = section.parse()?;
///         Ok(Arc::new(from_fn(section.name().to_owned(), |_, _| async { Ok(AuthOutcome::NotApplicable) })))
///     }
/// }
///
/// # actix_web::rt::System::new().block_on(async {
/// let config = AuthConfig::from_toml_str("auth.toml", "[strategies.nobody]\ntype = \"never\"\n").unwrap();
/// let registry = StrategyRegistry::from_config(&config, &[&Never]).await.unwrap();
/// assert!(registry.get("nobody").is_some());
///
/// let typo = AuthConfig::from_toml_str("auth.toml", "[strategies.x]\ntype = \"never\"\nrealm = 1\n").unwrap();
/// let err = StrategyRegistry::from_config(&typo, &[&Never]).await.unwrap_err();
/// assert!(err.to_string().contains("strategies.x.realm"), "{err}");
/// # });
/// ```
#[async_trait::async_trait]
pub trait StrategyFactory: Send + Sync {
    /// The `type` this factory builds, e.g. `"jwt"`.
    fn kind(&self) -> &str;

    /// The top-level tables this factory reads besides its strategies' own
    /// (auth-basic's factories read `guard` and `password_hasher`). A
    /// top-level key that neither auth-core (`renderer`, `strategies`) nor a
    /// factory reads is an error, so a misspelt `[gaurd]` cannot leave the
    /// defaults in force unnoticed. None by default.
    fn tables(&self) -> &[&str] {
        &[]
    }

    /// Builds the strategy `section` describes, registered under
    /// `section.name()`.
    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError>;
}

impl StrategyRegistry {
    /// Builds a registry from `config`: one strategy per
    /// `[strategies.NAME]` table, built by the factory of its `type`, and
    /// the error renderer named by the top-level `renderer` (`"loopback"`,
    /// the default, or `"problem+json"`). See [`StrategyFactory`] for an
    /// example.
    pub async fn from_config(
        config: &AuthConfig,
        factories: &[&dyn StrategyFactory],
    ) -> Result<StrategyRegistry, AuthConfigError> {
        Self::builder_from_config(config, factories)
            .await?
            .build()
            .map_err(|e: ConfigError| config.error_at("strategies", None, e))
    }

    /// What [`from_config`](Self::from_config) builds, before
    /// [`build`](StrategyRegistryBuilder::build): register strategies made
    /// in code next to the file's (names must not collide).
    ///
    /// ```
    /// use auth_core::{from_fn, AuthConfig, AuthOutcome, StrategyRegistry};
    ///
    /// # actix_web::rt::System::new().block_on(async {
    /// let config = AuthConfig::from_toml_str("auth.toml", "renderer = \"problem+json\"\n").unwrap();
    /// let registry = StrategyRegistry::builder_from_config(&config, &[])
    ///     .await
    ///     .unwrap()
    ///     .register(from_fn("in-code", |_, _| async { Ok(AuthOutcome::NotApplicable) }))
    ///     .build()
    ///     .unwrap();
    /// assert!(registry.get("in-code").is_some());
    /// # });
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "config")))]
    pub async fn builder_from_config(
        config: &AuthConfig,
        factories: &[&dyn StrategyFactory],
    ) -> Result<StrategyRegistryBuilder, AuthConfigError> {
        check_top_level(config, factories)?;
        let mut builder = StrategyRegistry::builder();
        match config.get::<Option<String>>("renderer")?.as_deref() {
            None | Some("loopback") => builder = builder.renderer(LoopBackRenderer),
            Some("problem+json") => builder = builder.renderer(ProblemJsonRenderer),
            Some(other) => {
                return Err(config.error_at(
                    "renderer",
                    None,
                    format!("unknown renderer `{other}`: use \"loopback\" or \"problem+json\""),
                ));
            }
        }
        for section in config.strategy_sections()? {
            let Some(factory) = factories.iter().find(|f| f.kind() == section.kind()) else {
                let known: Vec<&str> = factories.iter().map(|f| f.kind()).collect();
                return Err(section.error(
                    "type",
                    format!(
                        "unknown strategy type `{}`; known types: {}",
                        section.kind(),
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            };
            let strategy = factory.build(&section).await?;
            if strategy.name() != section.name() {
                return Err(section.error(
                    "",
                    format!(
                        "the `{}` factory built a strategy named '{}' instead",
                        section.kind(),
                        strategy.name()
                    ),
                ));
            }
            builder = builder.register_arc(strategy);
        }
        Ok(builder)
    }
}

/// Refuses a top-level key that nobody reads.
fn check_top_level(
    config: &AuthConfig,
    factories: &[&dyn StrategyFactory],
) -> Result<(), AuthConfigError> {
    let Value::Object(top) = config.value() else {
        return Ok(());
    };
    let mut known: Vec<&str> = vec!["renderer", "strategies"];
    for factory in factories {
        for table in factory.tables() {
            if !known.contains(table) {
                known.push(table);
            }
        }
    }
    for key in top.keys() {
        if !known.contains(&key.as_str()) {
            return Err(config.error_within(
                key,
                format!(
                    "unknown top-level key `{key}`; known keys (with these strategy types): {}",
                    known.join(", ")
                ),
            ));
        }
    }
    Ok(())
}

/// The `[guard]` table, as written in the file.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GuardOptions {
    max_failures_per_user: Option<u32>,
    max_failures_per_client: Option<u32>,
    window_secs: Option<u64>,
    #[serde(default)]
    trusted_proxies: Vec<String>,
    on_store_error: Option<String>,
    lockout_cache_ms: Option<u64>,
}

impl GuardConfig {
    /// Reads the top-level `[guard]` table (every key optional; a missing
    /// table is [`GuardConfig::default`]):
    ///
    /// ```toml
    /// [guard]
    /// max_failures_per_user = 5        # per username, inside the window
    /// max_failures_per_client = 20     # per client address
    /// window_secs = 900
    /// trusted_proxies = ["10.0.0.0/8"] # whose X-Forwarded-For is believed
    /// on_store_error = "closed"        # or "local": see GuardFailurePolicy
    /// lockout_cache_ms = 1000          # see GuardConfig::lockout_cache; 0 reads the store every time
    /// ```
    ///
    /// One table for the whole application, not one per strategy: the
    /// counters are per client address and per username, and a client
    /// guessing one user's password through Basic, Digest and a login form
    /// is one client guessing one password. Strategies built from one
    /// configuration share one [`BruteForceGuard`](crate::BruteForceGuard)
    /// (auth-basic's factories), so one budget covers every way in.
    ///
    /// ```
    /// use std::time::Duration;
    /// use auth_core::{AuthConfig, GuardConfig};
    ///
    /// let config = AuthConfig::from_toml_str("auth.toml", "[guard]\nwindow_secs = 60\ntrusted_proxies = [\"::1\"]\n").unwrap();
    /// let guard = GuardConfig::from_config(&config).unwrap();
    /// assert_eq!(guard.window, Duration::from_secs(60));
    /// assert_eq!(guard.max_failures_per_user, 5);
    ///
    /// let bad = AuthConfig::from_toml_str("auth.toml", "[guard]\ntrusted_proxies = [\"10.0.0.0/33\"]\n").unwrap();
    /// let err = GuardConfig::from_config(&bad).unwrap_err();
    /// assert!(err.to_string().starts_with("auth.toml: guard.trusted_proxies[0]: "), "{err}");
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "config")))]
    pub fn from_config(config: &AuthConfig) -> Result<GuardConfig, AuthConfigError> {
        let options: GuardOptions = config.table("guard")?;
        let defaults = GuardConfig::default();
        let at_least_one = |field: &str, value: Option<u32>, default: u32| match value {
            Some(0) => Err(config.error_at(
                &format!("guard.{field}"),
                None,
                "must be at least 1 (0 would lock every client out at its first failure)",
            )),
            Some(n) => Ok(n),
            None => Ok(default),
        };
        let window = match options.window_secs {
            Some(0) => {
                return Err(config.error_at(
                    "guard.window_secs",
                    None,
                    "must be at least 1 second",
                ));
            }
            Some(secs) => std::time::Duration::from_secs(secs),
            None => defaults.window,
        };
        let trusted_proxies = options
            .trusted_proxies
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                entry
                    .parse::<TrustedProxy>()
                    .map_err(|e| config.error_at(&format!("guard.trusted_proxies[{i}]"), None, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let on_store_error = match options.on_store_error.as_deref() {
            None | Some("closed") => crate::GuardFailurePolicy::FailClosed,
            Some("local") => crate::GuardFailurePolicy::LocalFallback,
            Some(other) => {
                return Err(config.error_at(
                    "guard.on_store_error",
                    None,
                    format!("`{other}`: use \"closed\" (503 while the store is down, the default) or \"local\" (count on this instance alone)"),
                ));
            }
        };
        Ok(GuardConfig {
            max_failures_per_user: at_least_one(
                "max_failures_per_user",
                options.max_failures_per_user,
                defaults.max_failures_per_user,
            )?,
            max_failures_per_client: at_least_one(
                "max_failures_per_client",
                options.max_failures_per_client,
                defaults.max_failures_per_client,
            )?,
            window,
            trusted_proxies,
            on_store_error,
            lockout_cache: options
                .lockout_cache_ms
                .map_or(defaults.lockout_cache, std::time::Duration::from_millis),
        })
    }
}

/// A configuration value written as one string or as a list of them
/// (`audience = "a"` or `audience = ["a", "b"]`), for factories' options.
///
/// ```
/// use auth_core::OneOrMany;
/// let one: OneOrMany = serde_json::from_str(r#""a""#).unwrap();
/// let many: OneOrMany = serde_json::from_str(r#"["a", "b"]"#).unwrap();
/// assert_eq!(one.into_vec(), ["a"]);
/// assert_eq!(many.into_vec(), ["a", "b"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One string.
    One(String),
    /// A list of strings.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The strings, as a list.
    pub fn into_vec(self) -> Vec<String> {
        match self {
            OneOrMany::One(one) => vec![one],
            OneOrMany::Many(many) => many,
        }
    }
}
