//! [`IssuerConfig`] and [`IssuerFactory`]: a `type = "oauth2-issuers"`
//! table builds an [`IssuerStrategy`] trusting the issuers it lists, with
//! the builder's secure defaults (audience required, RFC 9068 `typ`, keys
//! on the issuer's host).

use std::sync::Arc;
use std::time::Duration;

use auth_core::{
    AuthConfig, AuthConfigError, AuthenticationStrategy, OneOrMany, StrategyFactory,
    StrategySection,
};
use serde::Deserialize;

use crate::{IssuerConfigError, IssuerStrategy, IssuerStrategyBuilder, TrustedIssuer};

/// The `type` this module builds.
const KIND: &str = "oauth2-issuers";

/// Default JWK Set refresh period and unknown-`kid` cooldown (auth-jwt's
/// `JwksKeys` defaults), used when a table sets only one of the two.
const JWKS_REFRESH_DEFAULT: u64 = 600;
const JWKS_COOLDOWN_DEFAULT: u64 = 30;
/// Accepted ranges of the numeric keys.
const JWKS_REFRESH_RANGE: (u64, u64) = (10, 86_400);
const JWKS_COOLDOWN_MAX: u64 = 3_600;
const LEEWAY_MAX: u64 = 300;
const CACHE_CAPACITY_MAX: usize = 1_000_000;

/// The options of a `type = "oauth2-issuers"` strategy, as written in the
/// file (every key is documented in `docs/configuration.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Options {
    realm: Option<String>,
    #[serde(default)]
    issuers: Vec<IssuerOptions>,
    #[serde(default)]
    dangerously_share_subjects: bool,
}

/// One `[[strategies.NAME.issuers]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct IssuerOptions {
    issuer: String,
    audience: Option<OneOrMany>,
    #[serde(default)]
    any_audience: bool,
    #[serde(default)]
    dangerously_accept_any_typ: bool,
    username_claim: Option<String>,
    roles_claim: Option<String>,
    #[serde(default)]
    no_claim_roles: bool,
    scopes_claim: Option<String>,
    #[serde(default)]
    allowed_endpoint_hosts: Vec<String>,
    jwks_refresh_secs: Option<u64>,
    jwks_cooldown_secs: Option<u64>,
    leeway_secs: Option<u64>,
    fixed_roles: Option<Vec<String>>,
    cache_capacity: Option<usize>,
    subject_prefix: Option<String>,
}

/// One issuer, read and checked.
#[derive(Debug, Clone)]
struct Checked {
    issuer: String,
    audiences: Vec<String>,
    any_audience: bool,
    any_typ: bool,
    username_claim: Option<String>,
    roles_claim: Option<String>,
    no_claim_roles: bool,
    scopes_claim: Option<String>,
    allowed_hosts: Vec<String>,
    jwks_timing: Option<(Duration, Duration)>,
    leeway_secs: Option<u64>,
    fixed_roles: Option<Vec<String>>,
    cache_capacity: Option<usize>,
    subject_prefix: String,
}

/// A `type = "oauth2-issuers"` strategy's configuration, read and checked
/// (everything but what needs the network: discovery and the keys are
/// fetched by [`strategy`](Self::strategy)).
///
/// ```toml
/// [strategies.api]
/// type = "oauth2-issuers"
/// realm = "todo"
///
/// [[strategies.api.issuers]]
/// issuer = "https://login.example"
/// audience = "https://todo.example"
/// subject_prefix = "login:"
///
/// [[strategies.api.issuers]]
/// issuer = "https://partner.example/tenant-7"
/// audience = ["https://todo.example", "todo"]
/// subject_prefix = "tenant-7:"
/// username_claim = "client_id"
/// roles_claim = "realm_access.roles"
/// scopes_claim = "scp"
/// allowed_endpoint_hosts = ["keys.partner-cdn.example"]
/// ```
///
/// The secure defaults are the builder's: each issuer names its audience
/// (or says `any_audience = true`, the explicit and unsafe choice: a token
/// the issuer minted for another service is accepted too), tokens must be
/// RFC 9068 access tokens (`typ: at+jwt`; `dangerously_accept_any_typ =
/// true` is the opt-out), and the keys must be served from the issuer's
/// host unless `allowed_endpoint_hosts` names another. With several issuers,
/// each has a `subject_prefix` that starts no other, so that one issuer's
/// `alice` is not another's (`dangerously_share_subjects = true` on the
/// strategy table is the opt-out, for issuers with one user base).
///
/// ```
/// use auth_core::AuthConfig;
/// use auth_oauth2::IssuerConfig;
///
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.api]
///     type = "oauth2-issuers"
///     [[strategies.api.issuers]]
///     issuer = "https://login.example"
///     audience = "https://todo.example"
///     subject_prefix = "login:"
///     [[strategies.api.issuers]]
///     issuer = "https://partner.example"
///     audience = "https://todo.example"
///     subject_prefix = "partner:"
///     scopes_claim = "scp"
/// "#).unwrap();
/// let api = IssuerConfig::from_config(&config, "api").unwrap();
/// assert_eq!(api.issuers().collect::<Vec<_>>(), ["https://login.example", "https://partner.example"]);
///
/// let one_namespace = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.api]
///     type = "oauth2-issuers"
///     [[strategies.api.issuers]]
///     issuer = "https://login.example"
///     audience = "https://todo.example"
///     [[strategies.api.issuers]]
///     issuer = "https://partner.example"
///     audience = "https://todo.example"
/// "#).unwrap();
/// let err = IssuerConfig::from_config(&one_namespace, "api").unwrap_err();
/// assert_eq!(err.path, "strategies.api.issuers[1].subject_prefix");
///
/// let plain_http = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.api]
///     type = "oauth2-issuers"
///     [[strategies.api.issuers]]
///     issuer = "http://login.example"
///     audience = "https://todo.example"
/// "#).unwrap();
/// let err = IssuerConfig::from_config(&plain_http, "api").unwrap_err();
/// assert_eq!(err.path, "strategies.api.issuers[0].issuer");
/// assert!(err.message.contains("https"), "{err}");
/// ```
#[derive(Debug, Clone)]
pub struct IssuerConfig {
    config: AuthConfig,
    name: String,
    realm: Option<String>,
    issuers: Vec<Checked>,
    shared_subjects: bool,
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

/// With several issuers, each needs a `subject_prefix` that starts no other
/// (see [`TrustedIssuer::subject_prefix`]): checked here, where the error
/// can name the table, as well as by the builder.
fn check_subject_prefixes(at: &Section<'_>, issuers: &[Checked]) -> Result<(), AuthConfigError> {
    for (j, b) in issuers.iter().enumerate() {
        for (i, a) in issuers[..j].iter().enumerate() {
            if crate::issuer::prefixes_collide(&a.subject_prefix, &b.subject_prefix) {
                return Err(at.error(
                    &format!("issuers[{j}].subject_prefix"),
                    format!(
                        "{:?} and issuers[{i}]'s {:?} could map different users to the same \
                         profile id: give each issuer its own subject_prefix, none the start of \
                         another (or set dangerously_share_subjects = true if the issuers assign \
                         subjects from one user base)",
                        b.subject_prefix, a.subject_prefix
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A host name or address as discovery compares it: no scheme, port, path
/// or user.
fn host(at: &Section<'_>, field: &str, value: &str) -> Result<String, AuthConfigError> {
    text(at, field, value)?;
    let bare = reqwest::Url::parse(&format!("https://{value}/"))
        .ok()
        .filter(|u| {
            u.port().is_none()
                && u.path() == "/"
                && u.username().is_empty()
                && u.host_str()
                    .is_some_and(|h| h.eq_ignore_ascii_case(value.trim_end_matches('.')))
        });
    match bare {
        Some(_) => Ok(value.to_owned()),
        None => Err(at.error(
            field,
            format!(
                "`{value}` is not a bare host name (write `keys.example`, without scheme, port or path)"
            ),
        )),
    }
}

fn check_issuer(at: &Section<'_>, i: usize, o: IssuerOptions) -> Result<Checked, AuthConfigError> {
    let field = |name: &str| format!("issuers[{i}].{name}");
    let url = auth_core::outbound::checked_url(&o.issuer)
        .map_err(|e| at.error(&field("issuer"), format!("`{}`: {e}", o.issuer)))?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err(at.error(
            &field("issuer"),
            format!("`{}`: an issuer has no query or fragment", o.issuer),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(at.error(&field("issuer"), format!("`{}` has no host", o.issuer)));
    }
    let audiences = o.audience.map(OneOrMany::into_vec);
    match (&audiences, o.any_audience) {
        (Some(_), true) => {
            return Err(at.error(
                &field("any_audience"),
                "give audience or any_audience = true, not both",
            ));
        }
        (None, false) => {
            return Err(at.error(
                &field("audience"),
                "missing: name the audience this API accepts (audience = \"...\"), or accept \
                 tokens minted for any service explicitly with any_audience = true",
            ));
        }
        (Some(list), false) if list.is_empty() => {
            return Err(at.error(&field("audience"), "must name at least one audience"));
        }
        _ => {}
    }
    let audiences = audiences.unwrap_or_default();
    for (j, aud) in audiences.iter().enumerate() {
        text(at, &format!("issuers[{i}].audience[{j}]"), aud)?;
    }
    for (name, claim) in [
        ("username_claim", &o.username_claim),
        ("roles_claim", &o.roles_claim),
        ("scopes_claim", &o.scopes_claim),
    ] {
        if let Some(claim) = claim {
            text(at, &field(name), claim)?;
        }
    }
    let allowed_hosts = o
        .allowed_endpoint_hosts
        .iter()
        .enumerate()
        .map(|(j, h)| host(at, &format!("issuers[{i}].allowed_endpoint_hosts[{j}]"), h))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(secs) = o.jwks_refresh_secs {
        let (min, max) = JWKS_REFRESH_RANGE;
        if !(min..=max).contains(&secs) {
            return Err(at.error(
                &field("jwks_refresh_secs"),
                format!("{secs} is out of range: {min} to {max} seconds"),
            ));
        }
    }
    if let Some(secs) = o.jwks_cooldown_secs
        && secs > JWKS_COOLDOWN_MAX
    {
        return Err(at.error(
            &field("jwks_cooldown_secs"),
            format!("{secs} is out of range: 0 to {JWKS_COOLDOWN_MAX} seconds"),
        ));
    }
    let jwks_timing =
        (o.jwks_refresh_secs.is_some() || o.jwks_cooldown_secs.is_some()).then(|| {
            (
                Duration::from_secs(o.jwks_refresh_secs.unwrap_or(JWKS_REFRESH_DEFAULT)),
                Duration::from_secs(o.jwks_cooldown_secs.unwrap_or(JWKS_COOLDOWN_DEFAULT)),
            )
        });
    if let Some(secs) = o.leeway_secs
        && secs > LEEWAY_MAX
    {
        return Err(at.error(
            &field("leeway_secs"),
            format!("{secs} is out of range: 0 to {LEEWAY_MAX} seconds"),
        ));
    }
    if let Some(n) = o.cache_capacity
        && n > CACHE_CAPACITY_MAX
    {
        return Err(at.error(
            &field("cache_capacity"),
            format!("{n} is out of range: 0 (no cache) to {CACHE_CAPACITY_MAX}"),
        ));
    }
    if let Some(roles) = &o.fixed_roles {
        for (j, role) in roles.iter().enumerate() {
            text(at, &format!("issuers[{i}].fixed_roles[{j}]"), role)?;
        }
    }
    if let Some(prefix) = &o.subject_prefix {
        text(at, &field("subject_prefix"), prefix)?;
    }
    if o.no_claim_roles && o.roles_claim.is_some() {
        return Err(at.error(
            &field("no_claim_roles"),
            "give roles_claim or no_claim_roles = true, not both",
        ));
    }
    Ok(Checked {
        issuer: o.issuer,
        audiences,
        any_audience: o.any_audience,
        any_typ: o.dangerously_accept_any_typ,
        username_claim: o.username_claim,
        roles_claim: o.roles_claim,
        no_claim_roles: o.no_claim_roles,
        scopes_claim: o.scopes_claim,
        allowed_hosts,
        jwks_timing,
        leeway_secs: o.leeway_secs,
        fixed_roles: o.fixed_roles,
        cache_capacity: o.cache_capacity,
        subject_prefix: o.subject_prefix.unwrap_or_default(),
    })
}

impl Checked {
    fn trusted(&self) -> TrustedIssuer {
        let mut t = TrustedIssuer::new(self.issuer.clone());
        for aud in &self.audiences {
            t = t.audience(aud.clone());
        }
        if self.any_audience {
            t = t.any_audience();
        }
        if self.any_typ {
            t = t.dangerously_accept_any_typ();
        }
        if let Some(c) = &self.username_claim {
            t = t.username_claim(c.clone());
        }
        if let Some(c) = &self.roles_claim {
            t = t.roles_claim(c.clone());
        }
        if self.no_claim_roles {
            t = t.no_claim_roles();
        }
        if let Some(c) = &self.scopes_claim {
            t = t.scopes_claim(c.clone());
        }
        for h in &self.allowed_hosts {
            t = t.allow_endpoint_host(h.clone());
        }
        if let Some((refresh, cooldown)) = self.jwks_timing {
            t = t.jwks_timing(refresh, cooldown);
        }
        if let Some(secs) = self.leeway_secs {
            t = t.configure(move |b| b.leeway(secs));
        }
        if let Some(roles) = self.fixed_roles.clone() {
            t = t.configure(move |b| b.fixed_roles(roles));
        }
        if let Some(n) = self.cache_capacity {
            t = t.configure(move |b| b.cache_capacity(n));
        }
        t.subject_prefix(self.subject_prefix.clone())
    }
}

impl IssuerConfig {
    /// Reads `[strategies.NAME]`, which must have `type = "oauth2-issuers"`.
    pub fn from_config(config: &AuthConfig, name: &str) -> Result<IssuerConfig, AuthConfigError> {
        Self::from_section(&config.strategy_section(name)?)
    }

    /// Reads one strategy table (what [`IssuerFactory`] does) and checks
    /// every value that can be checked without the network.
    pub fn from_section(section: &StrategySection<'_>) -> Result<IssuerConfig, AuthConfigError> {
        if section.kind() != KIND {
            return Err(section.error("type", format!("is `{}`, not `{KIND}`", section.kind())));
        }
        let options: Options = section.parse()?;
        let at = Section {
            config: section.config(),
            name: section.name(),
        };
        if let Some(realm) = &options.realm {
            text(&at, "realm", realm)?;
            if realm.contains('"') || realm.contains('\\') {
                return Err(at.error("realm", "must not contain `\"` or `\\`"));
            }
        }
        if options.issuers.is_empty() {
            return Err(at.error(
                "issuers",
                "trusts no issuer: add at least one [[strategies.NAME.issuers]] table",
            ));
        }
        let mut issuers: Vec<Checked> = Vec::with_capacity(options.issuers.len());
        for (i, o) in options.issuers.into_iter().enumerate() {
            let checked = check_issuer(&at, i, o)?;
            if let Some(first) = issuers.iter().position(|c| c.issuer == checked.issuer) {
                return Err(at.error(
                    &format!("issuers[{i}].issuer"),
                    format!(
                        "`{}` is already trusted by issuers[{first}]: one table per issuer (list \
                         several audiences in one)",
                        checked.issuer
                    ),
                ));
            }
            issuers.push(checked);
        }
        if !options.dangerously_share_subjects {
            check_subject_prefixes(&at, &issuers)?;
        }
        Ok(IssuerConfig {
            config: section.config().clone(),
            name: section.name().to_owned(),
            realm: options.realm,
            issuers,
            shared_subjects: options.dangerously_share_subjects,
        })
    }

    /// The strategy's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The configured issuers, in the file's order.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.iter().map(|c| c.issuer.as_str())
    }

    /// The strategy's builder with every issuer of the table, for what only
    /// code can add (another [`TrustedIssuer`] with a verifier hook).
    ///
    /// ```
    /// use auth_core::AuthConfig;
    /// use auth_oauth2::{IssuerConfig, TrustedIssuer};
    ///
    /// let config = AuthConfig::from_toml_str("auth.toml", r#"
    ///     [strategies.api]
    ///     type = "oauth2-issuers"
    ///     [[strategies.api.issuers]]
    ///     issuer = "https://login.example"
    ///     audience = "api"
    ///     subject_prefix = "login:"
    /// "#).unwrap();
    /// let builder = IssuerConfig::from_config(&config, "api")
    ///     .unwrap()
    ///     .strategy_builder()
    ///     .trust(
    ///         TrustedIssuer::new("https://partner.example")
    ///             .audience("api")
    ///             .subject_prefix("partner:")
    ///             .configure(|b| b.fixed_roles(["partner"])),
    ///     );
    /// # let _ = builder;
    /// ```
    pub fn strategy_builder(&self) -> IssuerStrategyBuilder {
        let mut builder = IssuerStrategy::builder().name(self.name.clone());
        if let Some(realm) = &self.realm {
            builder = builder.realm(realm.clone());
        }
        for issuer in &self.issuers {
            builder = builder.trust(issuer.trusted());
        }
        if self.shared_subjects {
            builder = builder.dangerously_share_subjects();
        }
        builder
    }

    /// Discovers every issuer, loads its keys and builds the strategy; a
    /// failure names the issuer's table (`strategies.NAME.issuers[i]`).
    ///
    /// The discovery runs on a thread of the Tokio runtime's blocking pool,
    /// driven by the runtime this is awaited on (its I/O driver), so that
    /// this future is `Send` as [`StrategyFactory::build`] requires: auth-jwt's
    /// JWK Set fetcher returns a local future. Await it inside a Tokio
    /// runtime (actix-web's is one).
    pub async fn strategy(&self) -> Result<IssuerStrategy, AuthConfigError> {
        let at = Section {
            config: &self.config,
            name: &self.name,
        };
        let builder = self.strategy_builder();
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| at.error("", "the strategy is built inside a Tokio runtime"))?;
        let built = tokio::task::spawn_blocking(move || runtime.block_on(builder.build()))
            .await
            .map_err(|e| at.error("", format!("the discovery stopped: {e}")))?;
        built.map_err(|e| self.build_error(e))
    }

    fn build_error(&self, e: IssuerConfigError) -> AuthConfigError {
        let at = Section {
            config: &self.config,
            name: &self.name,
        };
        let issuer = match &e {
            IssuerConfigError::NoIssuer => return at.error("issuers", e),
            IssuerConfigError::Duplicate(issuer)
            | IssuerConfigError::SubjectsCollide { second: issuer, .. }
            | IssuerConfigError::Discovery { issuer, .. }
            | IssuerConfigError::Keys { issuer, .. }
            | IssuerConfigError::Jwt { issuer, .. } => issuer.as_str(),
        };
        match self.issuers.iter().position(|c| c.issuer == issuer) {
            Some(i) => at.error(&format!("issuers[{i}]"), e),
            None => at.error("", e),
        }
    }
}

/// Builds `type = "oauth2-issuers"` strategies for
/// [`StrategyRegistry::from_config`](auth_core::StrategyRegistry::from_config):
/// every issuer is discovered and its keys loaded while the registry is
/// built, so a provider that is down stops the start-up with an error
/// naming the issuer's table.
///
/// ```no_run
/// use auth_core::{AuthConfig, StrategyRegistry};
/// use auth_oauth2::IssuerFactory;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.oauth2]
///     type = "oauth2-issuers"
///     [[strategies.oauth2.issuers]]
///     issuer = "https://login.example"
///     audience = "https://api.example"
/// "#)?
/// .with_env("AUTH")?;
/// let registry = StrategyRegistry::from_config(&config, &[&IssuerFactory]).await?;
/// # let _ = registry;
/// # Ok(()) }
/// ```
///
/// A table that cannot work is refused before any network call:
///
/// ```
/// use auth_core::{AuthConfig, StrategyRegistry};
/// use auth_oauth2::IssuerFactory;
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let config = AuthConfig::from_toml_str("auth.toml", r#"
///     [strategies.oauth2]
///     type = "oauth2-issuers"
///     [[strategies.oauth2.issuers]]
///     issuer = "https://login.example"
/// "#).unwrap();
/// let err = StrategyRegistry::from_config(&config, &[&IssuerFactory]).await.unwrap_err();
/// assert_eq!(err.path, "strategies.oauth2.issuers[0].audience");
/// assert!(err.message.contains("any_audience = true"), "{err}");
/// # });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct IssuerFactory;

#[async_trait::async_trait]
impl StrategyFactory for IssuerFactory {
    fn kind(&self) -> &str {
        KIND
    }

    async fn build(
        &self,
        section: &StrategySection<'_>,
    ) -> Result<Arc<dyn AuthenticationStrategy>, AuthConfigError> {
        let config = IssuerConfig::from_section(section)?;
        Ok(Arc::new(config.strategy().await?))
    }
}
