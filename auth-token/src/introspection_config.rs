//! [`IntrospectionConfig`] and [`IntrospectionFactory`]: a
//! `type = "introspection"` table builds an [`IntrospectionStrategy`].

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthConfig, AuthConfigError, AuthenticationStrategy, OneOrMany, StrategyFactory,
    StrategySection,
};
use serde::Deserialize;
use serde_json::Value;

use crate::{IntrospectionBuilder, IntrospectionError, IntrospectionStrategy};

/// The `type` this module builds.
const KIND: &str = "introspection";

/// Accepted ranges of the numeric keys.
const CACHE_CAPACITY_MAX: usize = 1_000_000;
const BUDGET_MAX_SECS: u64 = 3_600;

/// The options of a `type = "introspection"` strategy, as written in the
/// file (every key is documented in `docs/configuration.md`). No `Debug`:
/// it holds the secret.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    url: String,
    revocation_url: Option<String>,
    client_id: String,
    /// Read as any value, so that a value of the wrong type is refused
    /// without serde quoting it.
    client_secret: Option<Value>,
    client_secret_file: Option<String>,
    audience: Option<OneOrMany>,
    #[serde(default)]
    any_audience: bool,
    issuer: Option<String>,
    realm: Option<String>,
    cache_capacity: Option<usize>,
    revocation_budget_secs: Option<u64>,
}

/// The client secret: never printed.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A `type = "introspection"` strategy's configuration, read and checked:
/// the RFC 7662 client of an external authorization server.
///
/// ```toml
/// [strategies.opaque]
/// type = "introspection"
/// url = "https://login.example/oauth/introspect"
/// revocation_url = "https://login.example/oauth/revoke"
/// client_id = "todo-api"
/// # client_secret: from the environment, AUTH__STRATEGIES__OPAQUE__CLIENT_SECRET
/// audience = "https://todo.example"
/// issuer = "https://login.example"
/// cache_capacity = 10000
/// revocation_budget_secs = 30
/// ```
///
/// The client secret is never written in the file: it comes from the
/// environment override of `client_secret`
/// (`AUTH__STRATEGIES__OPAQUE__CLIENT_SECRET=...` with the prefix `AUTH`),
/// or from `client_secret_file` (a mounted secret). A `client_secret` the
/// file itself holds is refused. The secret is in no error message and no
/// `Debug` output.
///
/// ```
/// use auth_core::AuthConfig;
/// use auth_token::IntrospectionConfig;
///
/// let text = r#"
///     [strategies.opaque]
///     type = "introspection"
///     url = "https://login.example/oauth/introspect"
///     client_id = "todo-api"
///     audience = "https://todo.example"
/// "#;
/// let config = AuthConfig::from_toml_str("auth.toml", text)
///     .unwrap()
///     .with_env_vars("AUTH", [("AUTH__STRATEGIES__OPAQUE__CLIENT_SECRET", "a-secret-from-the-vault")])
///     .unwrap();
/// let opaque = IntrospectionConfig::from_config(&config, "opaque").unwrap();
/// assert!(!format!("{opaque:?}").contains("a-secret-from-the-vault"));
/// let strategy = opaque.strategy().unwrap();
/// # let _ = strategy;
///
/// let in_the_file = AuthConfig::from_toml_str("auth.toml", &format!("{text}client_secret = \"oops\"\n")).unwrap();
/// let err = IntrospectionConfig::from_config(&in_the_file, "opaque").unwrap_err();
/// assert_eq!(err.path, "strategies.opaque.client_secret");
/// assert!(!err.to_string().contains("oops"), "{err}");
/// ```
#[derive(Clone)]
pub struct IntrospectionConfig {
    name: String,
    url: String,
    revocation_url: Option<String>,
    client_id: String,
    secret: Secret,
    audiences: Vec<String>,
    any_audience: bool,
    issuer: Option<String>,
    realm: Option<String>,
    cache_capacity: Option<usize>,
    budget: Option<Duration>,
    config: AuthConfig,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("revocation_url", &self.revocation_url)
            .field("client_id", &self.client_id)
            .field("secret", &self.secret)
            .field("audiences", &self.audiences)
            .field("any_audience", &self.any_audience)
            .field("issuer", &self.issuer)
            .field("realm", &self.realm)
            .field("cache_capacity", &self.cache_capacity)
            .field("budget", &self.budget)
            .finish_non_exhaustive()
    }
}

/// Errors of one strategy table.
struct Section<'a> {
    config: &'a AuthConfig,
    name: &'a str,
}

impl Section<'_> {
    fn path(&self, field: &str) -> String {
        if field.is_empty() {
            format!("strategies.{}", self.name)
        } else {
            format!("strategies.{}.{field}", self.name)
        }
    }

    fn error(&self, field: &str, message: impl std::fmt::Display) -> AuthConfigError {
        self.config
            .error_at(&self.path(field), Some(self.name), message)
    }
}

/// A non-empty string without control characters.
fn text(at: &Section<'_>, field: &str, value: &str) -> Result<(), AuthConfigError> {
    if value.trim().is_empty() {
        return Err(at.error(field, "must not be empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(at.error(field, "must not contain control characters"));
    }
    Ok(())
}

fn url(at: &Section<'_>, field: &str, value: &str) -> Result<(), AuthConfigError> {
    auth_core::outbound::checked_url(value)
        .map(|_| ())
        .map_err(|e| at.error(field, format!("`{value}`: {e}")))
}

/// The secret, from the environment override of `client_secret` or from
/// `client_secret_file`; never quoted in an error.
fn secret(at: &Section<'_>, options: &Options) -> Result<Secret, AuthConfigError> {
    let value = match (&options.client_secret, &options.client_secret_file) {
        (Some(_), Some(_)) => {
            return Err(at.error(
                "client_secret_file",
                "give client_secret (from the environment) or client_secret_file, not both",
            ));
        }
        (Some(value), None) => {
            let origin = at.config.origin_of(&at.path("client_secret"));
            if !origin.starts_with("environment variable ") {
                return Err(at.error(
                    "client_secret",
                    format!(
                        "secrets are not written in the configuration: set the environment \
                         variable PREFIX__STRATEGIES__{}__CLIENT_SECRET (e.g. AUTH__...), or use \
                         client_secret_file",
                        at.name.to_ascii_uppercase()
                    ),
                ));
            }
            match value {
                Value::String(s) => s.clone(),
                _ => {
                    return Err(at.error(
                        "client_secret",
                        "must be a string (the value is not shown; a secret that reads as \
                         JSON, such as digits, is written \"\\\"...\\\"\")",
                    ));
                }
            }
        }
        (None, Some(file)) => {
            let path = at.config.resolve_path(file);
            let bytes = std::fs::read(&path).map_err(|e| {
                at.error(
                    "client_secret_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let text = String::from_utf8(bytes)
                .map_err(|_| at.error("client_secret_file", "the file is not UTF-8"))?;
            text.trim_end_matches(['\r', '\n']).to_owned()
        }
        (None, None) => {
            return Err(at.error(
                "client_secret",
                format!(
                    "missing: the introspection endpoint authenticates this client; set \
                     PREFIX__STRATEGIES__{}__CLIENT_SECRET in the environment, or \
                     client_secret_file",
                    at.name.to_ascii_uppercase()
                ),
            ));
        }
    };
    let field = if options.client_secret.is_some() {
        "client_secret"
    } else {
        "client_secret_file"
    };
    if value.is_empty() {
        return Err(at.error(field, "the secret is empty"));
    }
    if value.chars().any(char::is_control) {
        return Err(at.error(field, "the secret contains control characters"));
    }
    Ok(Secret(value))
}

impl IntrospectionConfig {
    /// Reads `[strategies.NAME]`, which must have `type = "introspection"`.
    pub fn from_config(
        config: &AuthConfig,
        name: &str,
    ) -> Result<IntrospectionConfig, AuthConfigError> {
        Self::from_section(&config.strategy_section(name)?)
    }

    /// Reads one strategy table (what [`IntrospectionFactory`] does) and
    /// checks every value.
    pub fn from_section(
        section: &StrategySection<'_>,
    ) -> Result<IntrospectionConfig, AuthConfigError> {
        if section.kind() != KIND {
            return Err(section.error("type", format!("is `{}`, not `{KIND}`", section.kind())));
        }
        let options: Options = section.parse()?;
        let at = Section {
            config: section.config(),
            name: section.name(),
        };
        url(&at, "url", &options.url)?;
        if let Some(revocation) = &options.revocation_url {
            url(&at, "revocation_url", revocation)?;
        }
        text(&at, "client_id", &options.client_id)?;
        if options.client_id.contains(':') {
            // client_secret_basic joins id and secret with a colon.
            return Err(at.error(
                "client_id",
                "must not contain `:` (it separates the id from the secret in Basic)",
            ));
        }
        let secret = secret(&at, &options)?;
        let audiences = options.audience.map(OneOrMany::into_vec);
        match (&audiences, options.any_audience) {
            (Some(_), true) => {
                return Err(at.error(
                    "any_audience",
                    "give audience or any_audience = true, not both",
                ));
            }
            (None, false) => {
                return Err(at.error(
                    "audience",
                    "missing: name the audience this API accepts (audience = \"...\"), or \
                     accept tokens for any audience explicitly with any_audience = true",
                ));
            }
            (Some(list), false) if list.is_empty() => {
                return Err(at.error("audience", "must name at least one audience"));
            }
            _ => {}
        }
        let audiences = audiences.unwrap_or_default();
        for (i, aud) in audiences.iter().enumerate() {
            text(&at, &format!("audience[{i}]"), aud)?;
        }
        if let Some(issuer) = &options.issuer {
            text(&at, "issuer", issuer)?;
        }
        if let Some(realm) = &options.realm {
            text(&at, "realm", realm)?;
            if realm.contains('"') || realm.contains('\\') {
                return Err(at.error("realm", "must not contain `\"` or `\\`"));
            }
        }
        if let Some(n) = options.cache_capacity
            && n > CACHE_CAPACITY_MAX
        {
            return Err(at.error(
                "cache_capacity",
                format!("{n} is out of range: 0 (no cache) to {CACHE_CAPACITY_MAX}"),
            ));
        }
        if let Some(secs) = options.revocation_budget_secs
            && secs > BUDGET_MAX_SECS
        {
            return Err(at.error(
                "revocation_budget_secs",
                format!(
                    "{secs} is out of range: 0 (no cache) to {BUDGET_MAX_SECS} seconds; a token \
                     revoked at the server is accepted here for up to this long"
                ),
            ));
        }
        Ok(IntrospectionConfig {
            name: section.name().to_owned(),
            url: options.url,
            revocation_url: options.revocation_url,
            client_id: options.client_id,
            secret,
            audiences,
            any_audience: options.any_audience,
            issuer: options.issuer,
            realm: options.realm,
            cache_capacity: options.cache_capacity,
            budget: options.revocation_budget_secs.map(Duration::from_secs),
            config: section.config().clone(),
        })
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The strategy's builder with everything the table set, for what only
    /// code can add (a clock in tests).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{AuthConfig, SystemClock};
    /// use auth_token::IntrospectionConfig;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("introspection.secret"), "from-a-mounted-file\n").unwrap();
    /// std::fs::write(dir.path().join("auth.toml"), r#"
    ///     [strategies.opaque]
    ///     type = "introspection"
    ///     url = "https://login.example/oauth/introspect"
    ///     client_id = "todo-api"
    ///     client_secret_file = "introspection.secret"
    ///     any_audience = true
    /// "#).unwrap();
    /// let config = AuthConfig::from_file(dir.path().join("auth.toml")).unwrap();
    /// let strategy = IntrospectionConfig::from_config(&config, "opaque")
    ///     .unwrap()
    ///     .strategy_builder()
    ///     .clock(Arc::new(SystemClock))
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn strategy_builder(&self) -> IntrospectionBuilder {
        let mut b = IntrospectionStrategy::builder(self.name.clone(), self.url.clone())
            .client(self.client_id.clone(), self.secret.0.clone());
        for aud in &self.audiences {
            b = b.audience(aud.clone());
        }
        if self.any_audience {
            b = b.any_audience();
        }
        if let Some(issuer) = &self.issuer {
            b = b.issuer(issuer.clone());
        }
        if let Some(url) = &self.revocation_url {
            b = b.revocation_endpoint(url.clone());
        }
        if let Some(realm) = &self.realm {
            b = b.realm(realm.clone());
        }
        if self.cache_capacity.is_some() || self.budget.is_some() {
            // The builder's defaults for the one not given.
            b = b.cache(
                self.cache_capacity.unwrap_or(10_000),
                self.budget.unwrap_or(Duration::from_secs(30)),
            );
        }
        b
    }

    /// The strategy, registered under the table's name.
    pub fn strategy(&self) -> Result<IntrospectionStrategy, AuthConfigError> {
        let at = Section {
            config: &self.config,
            name: &self.name,
        };
        self.strategy_builder().build().map_err(|e| {
            let field = match &e {
                IntrospectionError::Endpoint {
                    which: "revocation",
                    ..
                } => "revocation_url",
                IntrospectionError::Endpoint { .. } => "url",
                IntrospectionError::NoAudience => "audience",
                IntrospectionError::NoClient => "client_id",
                _ => "",
            };
            at.error(field, e)
        })
    }
}

/// Builds `type = "introspection"` strategies for
/// [`StrategyRegistry::from_config`](auth_core::StrategyRegistry::from_config).
///
/// ```
/// use auth_core::{AuthConfig, StrategyRegistry};
/// use auth_token::IntrospectionFactory;
///
/// # actix_web::rt::System::new().block_on(async {
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.opaque]
///     type = "introspection"
///     url = "https://login.example/oauth/introspect"
///     client_id = "todo-api"
///     audience = "https://todo.example"
/// "#)
/// .unwrap()
/// // In production: `.with_env("AUTH")`, the secret in the process environment.
/// .with_env_vars("AUTH", [("AUTH__STRATEGIES__OPAQUE__CLIENT_SECRET", "from-the-environment")])
/// .unwrap();
/// let registry = StrategyRegistry::from_config(&config, &[&IntrospectionFactory]).await.unwrap();
/// assert!(registry.get("opaque").is_some());
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IntrospectionFactory;

#[async_trait::async_trait]
impl StrategyFactory for IntrospectionFactory {
    fn kind(&self) -> &str {
        KIND
    }

    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        Ok(Arc::new(
            IntrospectionConfig::from_section(section)?.strategy()?,
        ))
    }
}
