//! [`JwtConfig`]: one `[strategies.NAME]` table with `type = "jwt"` builds
//! both the [`JwtStrategy`] that verifies tokens and the [`TokenService`]
//! that issues them, so issuer, audience, `typ` and the roles claim cannot
//! drift apart.

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthConfig, AuthConfigError, AuthenticationStrategy, OneOrMany, StrategyFactory,
    StrategySection,
};
use serde::Deserialize;

use crate::{
    Algorithm, JwksKeys, JwsAlgorithm, JwtStrategy, KeySet, SigningKey, TokenService, TokenSource,
    VerifyingKey,
};

/// The `type` this module builds.
const KIND: &str = "jwt";

/// The options of a `type = "jwt"` strategy, as written in the file (every
/// key is documented in `docs/configuration.md`). Misspelt keys are errors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    realm: Option<String>,
    issuer: Option<OneOrMany>,
    audience: Option<OneOrMany>,
    #[serde(default)]
    any_issuer: bool,
    #[serde(default)]
    any_audience: bool,
    #[serde(default)]
    keys: Vec<KeyOptions>,
    jwks_url: Option<String>,
    jwks_file: Option<String>,
    jwks_rsa_algorithm: Option<String>,
    leeway_secs: Option<u64>,
    typ: Option<String>,
    username_claim: Option<String>,
    roles_claim: Option<String>,
    scopes_claim: Option<String>,
    sources: Option<Vec<SourceOptions>>,
    max_token_len: Option<usize>,
    cache_capacity: Option<usize>,
    tokens: Option<TokenOptions>,
}

/// One key: a secret (from a variable or a file), a PEM file or a JWK file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyOptions {
    alg: Option<String>,
    kid: Option<String>,
    secret_env: Option<String>,
    secret_file: Option<String>,
    #[serde(default)]
    secret_encoding: SecretEncoding,
    pem_file: Option<String>,
    jwk_file: Option<String>,
    /// Refused with an explanation: secrets do not belong in the file.
    secret: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum SecretEncoding {
    #[default]
    Raw,
    Base64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
enum SourceOptions {
    /// `"header"` or `"query"`.
    Named(String),
    /// `{ cookie = "name" }` or `{ websocket_protocol = "marker" }`.
    Table(SourceTable),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceTable {
    cookie: Option<String>,
    websocket_protocol: Option<String>,
}

/// The issuing side.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TokenOptions {
    access_ttl_secs: Option<u64>,
    refresh_ttl_secs: Option<u64>,
    signing_key: Option<KeyOptions>,
}

/// A `type = "jwt"` strategy's configuration, read and checked: build the
/// verifying [`strategy`](Self::strategy) and the issuing
/// [`token_service`](Self::token_service) from it.
///
/// ```toml
/// [strategies.jwt]
/// type = "jwt"
/// issuer = "todo-example"
/// audience = "todo-api"
/// keys = [{ alg = "HS256", secret_env = "JWT_SECRET" }]
/// tokens = { access_ttl_secs = 900 }
/// ```
///
/// ```
/// use auth_core::AuthConfig;
/// use auth_jwt::JwtConfig;
///
/// let dir = tempfile::tempdir().unwrap();
/// std::fs::write(dir.path().join("jwt.key"), "a-secret-of-at-least-thirty-two-bytes!!").unwrap();
/// std::fs::write(dir.path().join("auth.toml"), r#"
///     [strategies.jwt]
///     type = "jwt"
///     issuer = "todo-example"
///     audience = "todo-api"
///     keys = [{ alg = "HS256", secret_file = "jwt.key" }]
/// "#).unwrap();
/// let config = AuthConfig::from_file(dir.path().join("auth.toml")).unwrap();
/// let jwt = JwtConfig::from_config(&config, "jwt").unwrap();
/// let strategy = jwt.strategy().unwrap();
/// let tokens = jwt.token_service().unwrap();
/// # let _ = (strategy, tokens);
///
/// let inline = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.jwt]
///     type = "jwt"
///     keys = [{ alg = "HS256", secret = "in-the-file" }]
/// "#).unwrap();
/// let err = JwtConfig::from_config(&inline, "jwt").unwrap_err();
/// assert!(err.to_string().contains("secret_env or secret_file"), "{err}");
/// ```
///
/// What a file cannot hold is added in code, and applies to both sides:
/// keys held by the application ([`with_key`](Self::with_key),
/// [`with_signing_key`](Self::with_signing_key)) and the deny list
/// ([`with_revocations`](Self::with_revocations)). A `JwtConfig` is also the
/// [`StrategyFactory`] of its own table, so the registry gets the strategy
/// with those additions:
///
/// ```
/// use std::sync::Arc;
/// use auth_core::{AuthConfig, MemoryStore, Revocations, RevocationOptions, StrategyRegistry};
/// use auth_jwt::{Algorithm, JwtConfig, SigningKey, VerifyingKey};
///
/// # actix_web::rt::System::new().block_on(async {
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.jwt]
///     type = "jwt"
///     issuer = "todo-example"
///     audience = "todo-api"
/// "#).unwrap();
/// let secret = b"a key the application keeps itself, 32+ bytes";
/// let revocations = Revocations::start(Arc::new(MemoryStore::new()), RevocationOptions::default())
///     .await
///     .unwrap();
/// let jwt = JwtConfig::from_config(&config, "jwt")
///     .unwrap()
///     .with_key(VerifyingKey::hmac(secret, Algorithm::HS256).unwrap())
///     .with_signing_key(SigningKey::hmac(secret, Algorithm::HS256).unwrap())
///     .with_revocations(revocations);
/// let tokens = jwt.token_service().unwrap();
/// let registry = StrategyRegistry::from_config(&config, &[&jwt]).await.unwrap();
/// # let _ = (tokens, registry);
/// # });
/// ```
///
/// Pass the `JwtConfig` in place of [`JwtFactory`], not next to it: the
/// registry takes the first factory of a type.
#[derive(Debug, Clone)]
pub struct JwtConfig {
    config: AuthConfig,
    name: String,
    options: Options,
    verifying: Vec<VerifyingKey>,
    signing: Option<SigningKey>,
    revocations: Option<Arc<auth_core::Revocations>>,
}

/// Reads the bytes of a key: a variable, a file (relative to the
/// configuration file) or, for [`KeyOptions::secret`], a refusal.
fn secret_bytes(
    section: &Section<'_>,
    field: &str,
    key: &KeyOptions,
) -> Result<Option<Vec<u8>>, AuthConfigError> {
    if key.secret.is_some() {
        return Err(section.error(
            &format!("{field}.secret"),
            "secrets are not written in the configuration: use secret_env or secret_file",
        ));
    }
    let raw = match (&key.secret_env, &key.secret_file) {
        (Some(_), Some(_)) => {
            return Err(section.error(field, "give secret_env or secret_file, not both"));
        }
        (Some(var), None) => std::env::var(var).map_err(|_| {
            section.error(
                &format!("{field}.secret_env"),
                format!("the environment variable {var} is not set (or not UTF-8)"),
            )
        })?,
        (None, Some(file)) => {
            let path = section.config.resolve_path(file);
            std::fs::read_to_string(&path).map_err(|e| {
                section.error(
                    &format!("{field}.secret_file"),
                    format!("cannot read {}: {e}", path.display()),
                )
            })?
        }
        (None, None) => return Ok(None),
    };
    let raw = raw.trim_end_matches(['\r', '\n']);
    match key.secret_encoding {
        SecretEncoding::Raw => Ok(Some(raw.as_bytes().to_vec())),
        SecretEncoding::Base64 => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(raw.trim())
                .map(Some)
                .map_err(|_| {
                    section.error(
                        &format!("{field}.secret_encoding"),
                        "the secret is not valid base64",
                    )
                })
        }
    }
}

/// Errors of one strategy table.
struct Section<'a> {
    config: &'a AuthConfig,
    name: &'a str,
}

impl Section<'_> {
    fn error(&self, field: &str, message: impl std::fmt::Display) -> AuthConfigError {
        let path = if field.is_empty() {
            format!("strategies.{}", self.name)
        } else {
            format!("strategies.{}.{field}", self.name)
        };
        self.config.error_at(&path, Some(self.name), message)
    }

    fn read_file(&self, field: &str, file: &str) -> Result<Vec<u8>, AuthConfigError> {
        let path = self.config.resolve_path(file);
        std::fs::read(&path)
            .map_err(|e| self.error(field, format!("cannot read {}: {e}", path.display())))
    }
}

fn algorithm(
    section: &Section<'_>,
    field: &str,
    alg: &str,
) -> Result<JwsAlgorithm, AuthConfigError> {
    alg.parse::<JwsAlgorithm>()
        .map_err(|e| section.error(field, e))
}

fn hmac_algorithm(
    section: &Section<'_>,
    field: &str,
    alg: Option<&str>,
) -> Result<Algorithm, AuthConfigError> {
    let alg = algorithm(section, &format!("{field}.alg"), alg.unwrap_or("HS256"))?;
    match alg.to_jsonwebtoken() {
        Some(jwt) if alg.is_hmac() => Ok(jwt),
        _ => Err(section.error(
            &format!("{field}.alg"),
            format!("{alg} is not an HMAC algorithm: a secret needs HS256, HS384 or HS512"),
        )),
    }
}

/// What a key entry holds, read and checked for its source.
enum Material {
    Secret(Vec<u8>, Algorithm),
    Pem(Vec<u8>, JwsAlgorithm),
    Jwk(String),
}

/// Reads the one source of `key` (a secret, a PEM file or a JWK file).
fn material(
    section: &Section<'_>,
    field: &str,
    key: &KeyOptions,
) -> Result<Material, AuthConfigError> {
    let sources = [
        key.secret_env.is_some() || key.secret_file.is_some() || key.secret.is_some(),
        key.pem_file.is_some(),
        key.jwk_file.is_some(),
    ];
    if sources.iter().filter(|s| **s).count() != 1 {
        return Err(section.error(
            field,
            "give exactly one of secret_env, secret_file, pem_file or jwk_file",
        ));
    }
    if let Some(secret) = secret_bytes(section, field, key)? {
        let alg = hmac_algorithm(section, field, key.alg.as_deref())?;
        Ok(Material::Secret(secret, alg))
    } else if let Some(file) = &key.pem_file {
        let Some(alg) = &key.alg else {
            return Err(section.error(&format!("{field}.alg"), "a PEM key needs its alg"));
        };
        let alg = algorithm(section, &format!("{field}.alg"), alg)?;
        Ok(Material::Pem(
            section.read_file(&format!("{field}.pem_file"), file)?,
            alg,
        ))
    } else {
        let file = key.jwk_file.as_deref().unwrap_or_default();
        let bytes = section.read_file(&format!("{field}.jwk_file"), file)?;
        String::from_utf8(bytes)
            .map(Material::Jwk)
            .map_err(|_| section.error(&format!("{field}.jwk_file"), "the file is not UTF-8"))
    }
}

/// The key `key` describes, verifying side.
fn verifying_key(
    section: &Section<'_>,
    field: &str,
    key: &KeyOptions,
) -> Result<VerifyingKey, AuthConfigError> {
    let built = match material(section, field, key)? {
        Material::Secret(secret, alg) => VerifyingKey::hmac(&secret, alg),
        Material::Pem(pem, alg) => VerifyingKey::from_pem(&pem, alg),
        Material::Jwk(json) => VerifyingKey::from_jwk_json(&json),
    }
    .map_err(|e| section.error(field, e))?;
    Ok(match &key.kid {
        Some(kid) => built.with_kid(kid),
        None => built,
    })
}

/// The key `key` describes, signing side: a secret or a private PEM key.
fn signing_key(
    section: &Section<'_>,
    field: &str,
    key: &KeyOptions,
) -> Result<SigningKey, AuthConfigError> {
    if key.jwk_file.is_some() {
        return Err(section.error(
            &format!("{field}.jwk_file"),
            "a signing key is a secret or a private PEM key (pem_file)",
        ));
    }
    let built = match material(section, field, key)? {
        Material::Secret(secret, alg) => SigningKey::hmac(&secret, alg),
        Material::Pem(pem, alg) => SigningKey::from_pem(&pem, alg),
        Material::Jwk(_) => unreachable!("refused above"),
    }
    .map_err(|e| section.error(field, e))?;
    Ok(match &key.kid {
        Some(kid) => built.with_kid(kid),
        None => built,
    })
}

impl JwtConfig {
    /// Reads `[strategies.NAME]`, which must have `type = "jwt"`, and loads
    /// its keys (secrets from their variables or files, PEM and JWK files).
    pub fn from_config(config: &AuthConfig, name: &str) -> Result<JwtConfig, AuthConfigError> {
        Self::from_section(&config.strategy_section(name)?)
    }

    /// Reads one strategy table (what [`JwtFactory`] does).
    pub fn from_section(section: &StrategySection<'_>) -> Result<JwtConfig, AuthConfigError> {
        if section.kind() != KIND {
            return Err(section.error("type", format!("is `{}`, not `{KIND}`", section.kind())));
        }
        let options: Options = section.parse()?;
        let config = section.config();
        let at = Section {
            config,
            name: section.name(),
        };
        let mut verifying = options
            .keys
            .iter()
            .enumerate()
            .map(|(i, key)| verifying_key(&at, &format!("keys[{i}]"), key))
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(file) = &options.jwks_file {
            let bytes = at.read_file("jwks_file", file)?;
            let text = String::from_utf8(bytes)
                .map_err(|_| at.error("jwks_file", "the file is not UTF-8"))?;
            let set = KeySet::from_jwks_json(&text).map_err(|e| at.error("jwks_file", e))?;
            verifying.extend(set.keys().iter().cloned());
        }
        let signing = match options.tokens.as_ref().and_then(|t| t.signing_key.as_ref()) {
            Some(key) => Some(signing_key(&at, "tokens.signing_key", key)?),
            // One shared secret verifies and signs: the usual setup of a
            // service that issues its own tokens.
            None => match options.keys.as_slice() {
                [key] if key.secret_env.is_some() || key.secret_file.is_some() => {
                    Some(signing_key(&at, "keys[0]", key)?)
                }
                _ => None,
            },
        };
        Ok(JwtConfig {
            config: config.clone(),
            name: section.name().to_owned(),
            options,
            verifying,
            signing,
            revocations: None,
        })
    }

    /// Adds a verifying key held by the application (next to the file's
    /// `keys`), e.g. a secret generated at first start.
    pub fn with_key(mut self, key: VerifyingKey) -> Self {
        self.verifying.push(key);
        self
    }

    /// The token service's signing key, held by the application; replaces
    /// `tokens.signing_key` (or the file's single secret).
    pub fn with_signing_key(mut self, key: SigningKey) -> Self {
        self.signing = Some(key);
        self
    }

    /// The deny list both sides consult: the strategy refuses revoked
    /// tokens ([`JwtStrategyBuilder::revocations`](crate::JwtStrategyBuilder::revocations)),
    /// the token service ends the refresh families of revoked subjects
    /// ([`TokenService::revocations`]). Set once here, it cannot be
    /// forgotten on one side.
    pub fn with_revocations(mut self, revocations: Arc<auth_core::Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    fn at(&self) -> Section<'_> {
        Section {
            config: &self.config,
            name: &self.name,
        }
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifying strategy, registered under the table's name.
    pub fn strategy(&self) -> Result<JwtStrategy, AuthConfigError> {
        let at = self.at();
        self.strategy_builder()?
            .build()
            .map_err(|e| at.error("", e))
    }

    /// The strategy's builder with everything the table (and the `with_*`
    /// methods) set, for what only code can add: a verifier hook, principal
    /// rules, a clock.
    ///
    /// ```
    /// use auth_core::AuthConfig;
    /// use auth_jwt::JwtConfig;
    ///
    /// let dir = tempfile::tempdir().unwrap();
    /// std::fs::write(dir.path().join("jwt.key"), "a-secret-of-at-least-thirty-two-bytes!!").unwrap();
    /// std::fs::write(dir.path().join("auth.toml"), r#"
    ///     [strategies.jwt]
    ///     type = "jwt"
    ///     keys = [{ secret_file = "jwt.key" }]
    /// "#).unwrap();
    /// let config = AuthConfig::from_file(dir.path().join("auth.toml")).unwrap();
    /// let strategy = JwtConfig::from_config(&config, "jwt")
    ///     .unwrap()
    ///     .strategy_builder()
    ///     .unwrap()
    ///     .fixed_roles(["reader"])
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn strategy_builder(&self) -> Result<crate::JwtStrategyBuilder, AuthConfigError> {
        let o = &self.options;
        let at = self.at();
        let mut builder = JwtStrategy::builder().name(self.name.clone());
        if let Some(realm) = &o.realm {
            builder = builder.realm(realm.clone());
        }
        for iss in o
            .issuer
            .clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
        {
            builder = builder.issuer(iss);
        }
        for aud in o
            .audience
            .clone()
            .map(OneOrMany::into_vec)
            .unwrap_or_default()
        {
            builder = builder.audience(aud);
        }
        if o.any_issuer {
            builder = builder.any_issuer();
        }
        if o.any_audience {
            builder = builder.any_audience();
        }
        if !self.verifying.is_empty() {
            let set = KeySet::new(self.verifying.clone()).map_err(|e| at.error("keys", e))?;
            builder = builder.key_set(set);
        }
        if let Some(url) = &o.jwks_url {
            let mut jwks = JwksKeys::from_url(url).map_err(|e| at.error("jwks_url", e))?;
            if let Some(alg) = &o.jwks_rsa_algorithm {
                let alg = algorithm(&at, "jwks_rsa_algorithm", alg)?
                    .to_jsonwebtoken()
                    .ok_or_else(|| at.error("jwks_rsa_algorithm", "must be an RSA algorithm"))?;
                jwks = jwks
                    .default_rsa_algorithm(alg)
                    .map_err(|e| at.error("jwks_rsa_algorithm", e))?;
            }
            builder = builder.jwks(jwks);
        } else if o.jwks_rsa_algorithm.is_some() {
            return Err(at.error("jwks_rsa_algorithm", "only applies with jwks_url"));
        }
        if let Some(leeway) = o.leeway_secs {
            builder = builder.leeway(leeway);
        }
        if let Some(typ) = &o.typ {
            builder = builder.typ(typ.clone());
        }
        if let Some(claim) = &o.username_claim {
            builder = builder.username_claim(claim.clone());
        }
        if let Some(claim) = &o.roles_claim {
            builder = builder.roles_claim(claim.clone());
        }
        if let Some(claim) = &o.scopes_claim {
            builder = builder.scopes_claim(claim.clone());
        }
        if let Some(len) = o.max_token_len {
            builder = builder.max_token_len(len);
        }
        if let Some(n) = o.cache_capacity {
            builder = builder.cache_capacity(n);
        }
        if let Some(sources) = &o.sources {
            let sources = sources
                .iter()
                .enumerate()
                .map(|(i, s)| source(&at, i, s))
                .collect::<Result<Vec<_>, _>>()?;
            builder = builder.sources(sources);
        }
        if let Some(revocations) = &self.revocations {
            builder = builder.revocations(Arc::clone(revocations));
        }
        Ok(builder)
    }

    /// The issuing service: the same issuer (the first one listed),
    /// audience (the first), `typ` and roles claim as the strategy, signing
    /// with `tokens.signing_key`, or with the strategy's single secret.
    pub fn token_service(&self) -> Result<TokenService, AuthConfigError> {
        let o = &self.options;
        let at = self.at();
        let Some(key) = self.signing.clone() else {
            return Err(at.error(
                "tokens.signing_key",
                "no signing key: set tokens.signing_key, or use one shared secret in keys",
            ));
        };
        let mut tokens = TokenService::new(key);
        if let Some(iss) = o
            .issuer
            .clone()
            .and_then(|i| i.into_vec().into_iter().next())
        {
            tokens = tokens.issuer(iss);
        }
        if let Some(aud) = o
            .audience
            .clone()
            .and_then(|a| a.into_vec().into_iter().next())
        {
            tokens = tokens.audience(aud);
        }
        if let Some(typ) = &o.typ {
            tokens = tokens.typ(typ.clone());
        }
        if let Some(claim) = &o.roles_claim {
            tokens = tokens.roles_claim(claim.clone());
        }
        let t = o.tokens.clone().unwrap_or_default();
        if let Some(secs) = t.access_ttl_secs {
            tokens = tokens.access_ttl(Duration::from_secs(secs));
        }
        if let Some(secs) = t.refresh_ttl_secs {
            tokens = tokens.refresh_ttl(Duration::from_secs(secs));
        }
        if let Some(revocations) = &self.revocations {
            tokens = tokens.revocations(Arc::clone(revocations));
        }
        Ok(tokens)
    }
}

fn source(at: &Section<'_>, i: usize, s: &SourceOptions) -> Result<TokenSource, AuthConfigError> {
    let field = format!("sources[{i}]");
    match s {
        SourceOptions::Named(name) => match name.as_str() {
            "header" | "bearer" => Ok(TokenSource::Bearer),
            "query" => Ok(TokenSource::Query),
            other => Err(at.error(
                &field,
                format!(
                    "unknown source `{other}`: use \"header\", \"query\", {{ cookie = \"name\" }} \
                     or {{ websocket_protocol = \"marker\" }}"
                ),
            )),
        },
        SourceOptions::Table(t) => match (&t.cookie, &t.websocket_protocol) {
            (Some(cookie), None) => Ok(TokenSource::Cookie(cookie.clone())),
            (None, Some(marker)) => Ok(TokenSource::WebSocketProtocol(marker.clone())),
            _ => Err(at.error(&field, "give exactly one of cookie or websocket_protocol")),
        },
    }
}

/// Builds `type = "jwt"` strategies for
/// [`StrategyRegistry::from_config`](auth_core::StrategyRegistry::from_config).
///
/// ```
/// use auth_core::{AuthConfig, StrategyRegistry};
/// use auth_jwt::JwtFactory;
///
/// # actix_web::rt::System::new().block_on(async {
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.api]
///     type = "jwt"
///     issuer = "me"
///     audience = "api"
///     jwks_url = "https://login.example/.well-known/jwks.json"
/// "#).unwrap();
/// let registry = StrategyRegistry::from_config(&config, &[&JwtFactory]).await.unwrap();
/// assert!(registry.get("api").is_some());
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct JwtFactory;

#[async_trait::async_trait]
impl StrategyFactory for JwtFactory {
    fn kind(&self) -> &str {
        KIND
    }

    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        Ok(Arc::new(JwtConfig::from_section(section)?.strategy()?))
    }
}

/// A `JwtConfig` builds its own table, with what code added to it; any other
/// `type = "jwt"` table is built as [`JwtFactory`] builds it.
#[async_trait::async_trait]
impl StrategyFactory for JwtConfig {
    fn kind(&self) -> &str {
        KIND
    }

    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        if section.name() == self.name {
            Ok(Arc::new(self.strategy()?))
        } else {
            JwtFactory.build(section).await
        }
    }
}
