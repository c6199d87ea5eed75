//! [`IssuerStrategy`]: a resource server trusting several issuers, each
//! configured from its discovery document.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, StrategyOptions, UserProfile,
    credentials_for,
};
use auth_jwt::{JwksError, JwksKeys, JwtConfigError, JwtStrategy, JwtStrategyBuilder};
use base64::Engine as _;

use crate::discovery::{DiscoveryError, ProviderMetadata};

/// The `typ` an RFC 9068 access token carries in its header.
///
/// ```
/// assert_eq!(auth_oauth2::ACCESS_TOKEN_TYP, "at+jwt");
/// ```
pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

/// Largest token accepted, in bytes (as auth-jwt's default): longer ones
/// are refused before anything is decoded.
///
/// ```
/// assert_eq!(auth_oauth2::MAX_TOKEN_LEN, 8192);
/// ```
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

type Customize = Box<dyn FnOnce(JwtStrategyBuilder) -> JwtStrategyBuilder + Send>;

/// One issuer the resource server trusts: its URL, the audience its tokens
/// must name here, and how their claims map to a [`UserProfile`].
///
/// Secure defaults: the audience must be named (or
/// [`any_audience`](Self::any_audience) called), tokens must carry
/// `typ: at+jwt` (RFC 9068 §2.1; [`dangerously_accept_any_typ`](Self::dangerously_accept_any_typ)
/// is the opt-out), and the discovery document's `jwks_uri` must be on the
/// issuer's host unless [`allow_endpoint_host`](Self::allow_endpoint_host)
/// names another.
///
/// ```
/// use auth_oauth2::TrustedIssuer;
/// let issuer = TrustedIssuer::new("https://login.example")
///     .audience("https://api.example")
///     .username_claim("client_id")
///     .roles_claim("realm_access.roles")
///     .scopes_claim("scope");
/// assert_eq!(issuer.issuer(), "https://login.example");
/// ```
pub struct TrustedIssuer {
    issuer: String,
    audiences: Vec<String>,
    any_audience: bool,
    any_typ: bool,
    username_claim: Option<String>,
    roles_claim: Option<String>,
    claim_roles: bool,
    scopes_claim: Option<String>,
    allowed_hosts: Vec<String>,
    jwks_timing: Option<(Duration, Duration)>,
    subject_prefix: String,
    customize: Vec<Customize>,
}

impl std::fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("issuer", &self.issuer)
            .field("audiences", &self.audiences)
            .field("any_audience", &self.any_audience)
            .field("any_typ", &self.any_typ)
            .field("claim_roles", &self.claim_roles)
            .field("allowed_hosts", &self.allowed_hosts)
            .field("subject_prefix", &self.subject_prefix)
            .finish_non_exhaustive()
    }
}

impl TrustedIssuer {
    /// An issuer, by the exact string its tokens carry in `iss` (and its
    /// discovery document in `issuer`).
    pub fn new(issuer: impl Into<String>) -> Self {
        TrustedIssuer {
            issuer: issuer.into(),
            audiences: Vec::new(),
            any_audience: false,
            any_typ: false,
            username_claim: None,
            roles_claim: None,
            claim_roles: true,
            scopes_claim: None,
            allowed_hosts: Vec::new(),
            jwks_timing: None,
            subject_prefix: String::new(),
            customize: Vec::new(),
        }
    }

    /// The configured issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// Accepts this issuer's tokens for this audience (`aud`); may be called
    /// more than once.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audiences.push(aud.into());
        self
    }

    /// Accepts this issuer's tokens whatever their audience: a token the
    /// issuer minted for another service is accepted here too. Explicit,
    /// never the default.
    ///
    /// ```
    /// let issuer = auth_oauth2::TrustedIssuer::new("https://login.example").any_audience();
    /// # let _ = issuer;
    /// ```
    pub fn any_audience(mut self) -> Self {
        self.any_audience = true;
        self
    }

    /// Accepts tokens whatever their header `typ` (an ID token, a plain
    /// JWT), not only RFC 9068 access tokens (`at+jwt`). Only for a provider
    /// that cannot mint RFC 9068 tokens: without the check, an ID token the
    /// issuer gave a browser for this audience is accepted as an access
    /// token.
    ///
    /// ```
    /// let issuer = auth_oauth2::TrustedIssuer::new("https://legacy.example")
    ///     .audience("api")
    ///     .dangerously_accept_any_typ();
    /// # let _ = issuer;
    /// ```
    pub fn dangerously_accept_any_typ(mut self) -> Self {
        self.any_typ = true;
        self
    }

    /// Put before the profile id of this issuer's tokens: with
    /// `"partner:"`, subject `alice` becomes `partner:alice`. A subject is
    /// unique within its issuer only (OpenID Connect Core §5.7), so when
    /// several issuers are trusted each needs its own prefix, none the
    /// start of another: otherwise two issuers' `alice` would be one user
    /// here, and either issuer could mint tokens for the other's users.
    /// [`IssuerStrategyBuilder::build`] refuses a trust map without them
    /// unless [`dangerously_share_subjects`](IssuerStrategyBuilder::dangerously_share_subjects)
    /// is called.
    ///
    /// The prefix is the profile id's only: claims keep the token's `sub`,
    /// and so does a revocation list given through
    /// [`configure`](Self::configure) (auth-core's `Revocations` is keyed
    /// by `sub`): revoke a subject with its bare `sub`, which refuses it at
    /// every issuer sharing that list.
    ///
    /// ```
    /// let issuer = auth_oauth2::TrustedIssuer::new("https://partner.example")
    ///     .audience("api")
    ///     .subject_prefix("partner:");
    /// # let _ = issuer;
    /// ```
    pub fn subject_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.subject_prefix = prefix.into();
        self
    }

    /// The claim that becomes the profile id (default `sub`).
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = Some(claim.into());
        self
    }

    /// Where the roles are (default `roles`; a dotted path such as
    /// `realm_access.roles` reaches into objects).
    pub fn roles_claim(mut self, path: impl Into<String>) -> Self {
        self.roles_claim = Some(path.into());
        self
    }

    /// Reads no roles from this issuer's tokens: its callers hold only the
    /// roles given with `configure(|b| b.fixed_roles(..))`, whatever their
    /// tokens say. For an issuer trusted to say who a caller is but not to
    /// grant this application's roles (a partner): a trusted issuer can
    /// otherwise put any role name in its tokens. Not together with
    /// [`roles_claim`](Self::roles_claim).
    ///
    /// ```
    /// let partner = auth_oauth2::TrustedIssuer::new("https://partner.example")
    ///     .audience("api")
    ///     .subject_prefix("partner:")
    ///     .no_claim_roles()
    ///     .configure(|b| b.fixed_roles(["partner"]));
    /// # let _ = partner;
    /// ```
    pub fn no_claim_roles(mut self) -> Self {
        self.claim_roles = false;
        self
    }

    /// Where the scopes are (a space-separated string such as `scope`, or an
    /// array such as `scp`).
    pub fn scopes_claim(mut self, claim: impl Into<String>) -> Self {
        self.scopes_claim = Some(claim.into());
        self
    }

    /// Allows the discovery document's endpoints (`jwks_uri`) on `host`
    /// besides the issuer's own host, e.g. a provider serving its keys from
    /// another domain.
    ///
    /// ```
    /// let issuer = auth_oauth2::TrustedIssuer::new("https://login.example")
    ///     .audience("api")
    ///     .allow_endpoint_host("keys.login-cdn.example");
    /// # let _ = issuer;
    /// ```
    pub fn allow_endpoint_host(mut self, host: impl Into<String>) -> Self {
        self.allowed_hosts.push(host.into());
        self
    }

    /// How often the issuer's JWK Set is fetched again (default 10 min),
    /// and the shortest time between two fetches caused by tokens naming an
    /// unknown `kid` (default 30 s); see auth-jwt's `JwksKeys`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let issuer = auth_oauth2::TrustedIssuer::new("https://login.example")
    ///     .audience("api")
    ///     .jwks_timing(Duration::from_secs(300), Duration::from_secs(10));
    /// # let _ = issuer;
    /// ```
    pub fn jwks_timing(mut self, refresh_every: Duration, cooldown: Duration) -> Self {
        self.jwks_timing = Some((refresh_every, cooldown));
        self
    }

    /// Further settings of this issuer's [`JwtStrategyBuilder`] (leeway,
    /// principal rules, fixed roles, a verifier hook, ...), applied after
    /// the ones above. The key set, issuer, audience and `typ` are this
    /// type's; setting keys here makes the build fail. The closure is
    /// `Send`, so that the build (and a configuration factory running it)
    /// can run on any worker.
    ///
    /// ```
    /// let issuer = auth_oauth2::TrustedIssuer::new("https://login.example")
    ///     .audience("api")
    ///     .configure(|b| b.leeway(10).fixed_roles(["partner"]));
    /// # let _ = issuer;
    /// ```
    pub fn configure(
        mut self,
        f: impl FnOnce(JwtStrategyBuilder) -> JwtStrategyBuilder + Send + 'static,
    ) -> Self {
        self.customize.push(Box::new(f));
        self
    }
}

/// Why an [`IssuerStrategy`] could not be built; the issuer is named.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use auth_oauth2::{IssuerConfigError, IssuerStrategy};
/// let err = IssuerStrategy::builder().build().await.unwrap_err();
/// assert!(matches!(err, IssuerConfigError::NoIssuer));
/// # });
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IssuerConfigError {
    /// No issuer was trusted.
    #[error("the issuer strategy trusts no issuer")]
    NoIssuer,
    /// The same issuer was configured twice.
    #[error("issuer {0:?} is configured twice")]
    Duplicate(String),
    /// Discovery failed (provider down, document refused).
    #[error("discovery for issuer {issuer:?} failed: {source}")]
    Discovery {
        /// The issuer.
        issuer: String,
        /// Why.
        #[source]
        source: DiscoveryError,
    },
    /// The issuer's JWK Set could not be fetched or was refused.
    #[error("the keys of issuer {issuer:?} could not be loaded: {source}")]
    Keys {
        /// The issuer.
        issuer: String,
        /// Why.
        #[source]
        source: JwksError,
    },
    /// Two trusted issuers could give the same profile id: neither has a
    /// [`subject_prefix`](TrustedIssuer::subject_prefix) of its own that
    /// tells their users apart.
    #[error(
        "issuers {first:?} and {second:?} could map different users to the same profile id: give \
         each issuer its own subject_prefix (none the start of another), or call \
         dangerously_share_subjects() if both assign subjects from one user base"
    )]
    SubjectsCollide {
        /// One issuer.
        first: String,
        /// The other.
        second: String,
    },
    /// The issuer's verification settings are incomplete (no audience, ...).
    #[error("issuer {issuer:?}: {source}")]
    Jwt {
        /// The issuer.
        issuer: String,
        /// Why.
        #[source]
        source: JwtConfigError,
    },
}

/// Builds an [`IssuerStrategy`]: name, realm, and the trusted issuers.
///
/// ```
/// use auth_oauth2::{IssuerStrategy, TrustedIssuer};
/// let builder = IssuerStrategy::builder()
///     .name("partners")
///     .realm("todo")
///     .trust(TrustedIssuer::new("https://a.example").audience("todo").subject_prefix("a:"))
///     .trust(TrustedIssuer::new("https://b.example").audience("todo").subject_prefix("b:"));
/// # let _ = builder;
/// ```
pub struct IssuerStrategyBuilder {
    name: String,
    realm: String,
    issuers: Vec<TrustedIssuer>,
    shared_subjects: bool,
}

impl std::fmt::Debug for IssuerStrategyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerStrategyBuilder")
            .field("name", &self.name)
            .field("realm", &self.realm)
            .field("issuers", &self.issuers)
            .field("shared_subjects", &self.shared_subjects)
            .finish()
    }
}

impl IssuerStrategyBuilder {
    /// The strategy's name in the registry (default `oauth2`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The realm of the `Bearer` challenge (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Trusts one more issuer.
    pub fn trust(mut self, issuer: TrustedIssuer) -> Self {
        self.issuers.push(issuer);
        self
    }

    /// Lets several issuers map their subjects to profile ids without a
    /// [`subject_prefix`](TrustedIssuer::subject_prefix) each: only for
    /// issuers that assign subjects from one user base (two realms of one
    /// provider, an old and a new issuer URL), where the same subject is
    /// the same person. Otherwise each issuer can act as the other's users.
    ///
    /// ```
    /// use auth_oauth2::{IssuerStrategy, TrustedIssuer};
    /// let builder = IssuerStrategy::builder()
    ///     .trust(TrustedIssuer::new("https://login.example").audience("api"))
    ///     .trust(TrustedIssuer::new("https://login-next.example").audience("api"))
    ///     .dangerously_share_subjects();
    /// # let _ = builder;
    /// ```
    pub fn dangerously_share_subjects(mut self) -> Self {
        self.shared_subjects = true;
        self
    }

    /// The first two issuers whose profile ids could be the same for
    /// different users: a prefix that starts another (the empty one
    /// included) lets `prefix + subject` come out equal.
    fn colliding_subjects(&self) -> Option<(&str, &str)> {
        if self.shared_subjects {
            return None;
        }
        for (i, a) in self.issuers.iter().enumerate() {
            for b in &self.issuers[i + 1..] {
                if prefixes_collide(&a.subject_prefix, &b.subject_prefix) {
                    return Some((&a.issuer, &b.issuer));
                }
            }
        }
        None
    }

    /// Discovers every issuer, loads its keys once (so a provider that is
    /// down, or a refused document, stops the start-up with the reason) and
    /// builds one verifier per issuer.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use auth_oauth2::{IssuerConfigError, IssuerStrategy, TrustedIssuer};
    /// // Nothing listens on port 9: discovery fails, typed.
    /// let err = IssuerStrategy::builder()
    ///     .trust(TrustedIssuer::new("http://127.0.0.1:9").audience("api"))
    ///     .build()
    ///     .await
    ///     .unwrap_err();
    /// assert!(matches!(err, IssuerConfigError::Discovery { .. }));
    /// # });
    /// ```
    pub async fn build(self) -> Result<IssuerStrategy, IssuerConfigError> {
        if self.issuers.is_empty() {
            return Err(IssuerConfigError::NoIssuer);
        }
        // Before any network call: a configuration error, not an outage.
        if let Some((first, second)) = self.colliding_subjects() {
            // The same issuer twice is the clearer error.
            if first == second {
                return Err(IssuerConfigError::Duplicate(first.to_owned()));
            }
            return Err(IssuerConfigError::SubjectsCollide {
                first: first.to_owned(),
                second: second.to_owned(),
            });
        }
        let client = auth_core::outbound::client().map_err(|e| IssuerConfigError::Discovery {
            issuer: String::new(),
            source: DiscoveryError::InvalidIssuer {
                issuer: String::new(),
                reason: e.to_string(),
            },
        })?;
        let mut trusted = HashMap::new();
        for issuer in self.issuers {
            let name = issuer.issuer.clone();
            if trusted.contains_key(&name) {
                return Err(IssuerConfigError::Duplicate(name));
            }
            let subject_prefix = issuer.subject_prefix.clone();
            let strategy = build_one(&client, &self.name, &self.realm, issuer).await?;
            trusted.insert(
                name,
                Trusted {
                    strategy,
                    subject_prefix,
                },
            );
        }
        Ok(IssuerStrategy {
            inner: Arc::new(Inner {
                name: self.name,
                realm: self.realm,
                trusted,
            }),
        })
    }
}

/// Whether ids made with `a` and with `b` before two subjects can be equal:
/// exactly when one prefix starts the other (the empty one starts every
/// prefix).
pub(crate) fn prefixes_collide(a: &str, b: &str) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

async fn build_one(
    client: &reqwest::Client,
    name: &str,
    realm: &str,
    t: TrustedIssuer,
) -> Result<JwtStrategy, IssuerConfigError> {
    let issuer = t.issuer.clone();
    let discovery = |source| IssuerConfigError::Discovery {
        issuer: issuer.clone(),
        source,
    };
    let meta = ProviderMetadata::discover_with(client, &t.issuer, &t.allowed_hosts)
        .await
        .map_err(discovery)?;
    let jwks_uri = meta
        .require("jwks_uri", meta.jwks_uri())
        .map_err(discovery)?;
    let keys_error = |source| IssuerConfigError::Keys {
        issuer: issuer.clone(),
        source,
    };
    let mut keys = JwksKeys::from_url(jwks_uri.as_str()).map_err(keys_error)?;
    if let Some((refresh_every, cooldown)) = t.jwks_timing {
        keys = keys.with_timing(refresh_every, cooldown);
    }
    keys.refresh().await.map_err(keys_error)?;
    let mut b = JwtStrategy::builder()
        .name(name)
        .realm(realm)
        .jwks(keys)
        .issuer(t.issuer.clone())
        .max_token_len(MAX_TOKEN_LEN);
    for aud in t.audiences {
        b = b.audience(aud);
    }
    if t.any_audience {
        b = b.any_audience();
    }
    if !t.any_typ {
        b = b.typ(ACCESS_TOKEN_TYP);
    }
    if let Some(c) = t.username_claim {
        b = b.username_claim(c);
    }
    if let Some(c) = t.roles_claim {
        b = b.roles_claim(c);
    }
    if !t.claim_roles {
        b = b.no_claim_roles();
    }
    if let Some(c) = t.scopes_claim {
        b = b.scopes_claim(c);
    }
    for f in t.customize {
        b = f(b);
    }
    b.build()
        .map_err(|source| IssuerConfigError::Jwt { issuer, source })
}

struct Inner {
    name: String,
    realm: String,
    trusted: HashMap<String, Trusted>,
}

/// One trusted issuer's verifier, and what its profile ids start with.
struct Trusted {
    strategy: JwtStrategy,
    subject_prefix: String,
}

/// A bearer-token strategy trusting several issuers at once (Backstage's
/// "configured issuers"): the token's `iss`, read from its payload before
/// any signature check, picks the issuer's own verifier (keys, audience,
/// claim mapping) from the trust map; an issuer not in the map is a 401
/// `invalid_token` without any network call. No URL is ever taken from the
/// token. With several issuers, each one's profile ids start with its own
/// [`subject_prefix`](TrustedIssuer::subject_prefix), so that one issuer's
/// tokens never name another's users. Cheap to clone.
///
/// ```no_run
/// use actix_web::{web, App, HttpServer, HttpResponse};
/// use auth_core::{StrategyRegistry, UserProfile};
/// use auth_macros::authenticate;
/// use auth_oauth2::{IssuerStrategy, TrustedIssuer};
///
/// #[authenticate("oauth2")]
/// async fn todos(user: UserProfile) -> HttpResponse {
///     HttpResponse::Ok().body(user.id.clone())
/// }
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// // Each issuer's users apart: `login:alice` and `partner:alice`.
/// let strategy = IssuerStrategy::builder()
///     .trust(
///         TrustedIssuer::new("https://login.example")
///             .audience("https://api.example")
///             .subject_prefix("login:"),
///     )
///     .trust(
///         TrustedIssuer::new("https://partner.example")
///             .audience("https://api.example")
///             .subject_prefix("partner:")
///             .username_claim("client_id")
///             .scopes_claim("scp"),
///     )
///     .build()
///     .await?;
/// let registry = StrategyRegistry::builder().register(strategy).build()?;
/// HttpServer::new(move || {
///     App::new().app_data(registry.clone()).route("/todos", web::get().to(todos))
/// })
/// .bind(("127.0.0.1", 8080))?
/// .run()
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IssuerStrategy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IssuerStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuerStrategy")
            .field("name", &self.inner.name)
            .field("issuers", &self.inner.trusted.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl IssuerStrategy {
    /// A builder: name `oauth2`, realm `api`, no issuer yet.
    ///
    /// ```
    /// let builder = auth_oauth2::IssuerStrategy::builder().name("partners").realm("todo");
    /// # let _ = builder;
    /// ```
    pub fn builder() -> IssuerStrategyBuilder {
        IssuerStrategyBuilder {
            name: "oauth2".into(),
            realm: "api".into(),
            issuers: Vec::new(),
            shared_subjects: false,
        }
    }

    /// The trusted issuers.
    ///
    /// ```no_run
    /// # async fn run(strategy: auth_oauth2::IssuerStrategy) {
    /// for issuer in strategy.issuers() {
    ///     println!("trusting {issuer}");
    /// }
    /// # }
    /// ```
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.trusted.keys().map(String::as_str)
    }

    /// Verifies `token` with the verifier of the issuer its `iss` names and
    /// maps it to a profile: 401 for an unknown issuer or a bad token, 503
    /// when the issuer's keys cannot be obtained. For tokens that do not
    /// come from an `Authorization` header (a WebSocket message, a queue).
    ///
    /// ```no_run
    /// # async fn run(strategy: auth_oauth2::IssuerStrategy, token: &str) {
    /// match strategy.authenticate_token(token).await {
    ///     Ok(profile) => println!("{} from {:?}", profile.id, profile.claims.get("iss")),
    ///     Err(e) => println!("{} {}", e.status(), e.code()),
    /// }
    /// # }
    /// ```
    pub async fn authenticate_token(&self, token: &str) -> Result<UserProfile, AuthError> {
        let iss = unverified_issuer(token)?;
        let Some(trusted) = self.inner.trusted.get(&iss) else {
            // Only whether it is trusted is said, never the value.
            return Err(AuthError::invalid_credentials(
                "INVALID_TOKEN",
                "the token's issuer is not trusted",
            ));
        };
        let mut profile = trusted.strategy.authenticate_token(token).await?;
        if !trusted.subject_prefix.is_empty() {
            profile.id.insert_str(0, &trusted.subject_prefix);
        }
        Ok(profile)
    }
}

fn malformed() -> AuthError {
    AuthError::invalid_credentials("INVALID_TOKEN", "the token is not a JWT with an issuer")
}

/// The `iss` of a compact JWS, without verifying anything: only to choose
/// the issuer whose keys then verify the token. The token length is bounded
/// first, so a huge token costs no decoding.
fn unverified_issuer(token: &str) -> Result<String, AuthError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(AuthError::invalid_credentials(
            "INVALID_TOKEN",
            "the token is too large",
        ));
    }
    let mut parts = token.split('.');
    let (Some(_header), Some(payload), Some(_sig), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed());
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| malformed())?;
    #[derive(serde::Deserialize)]
    struct Iss {
        iss: String,
    }
    // A JSON object only: serde's derive would also read a struct from an
    // array (`["https://..."]`), which no JWT payload is.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(malformed());
    }
    // Duplicate members are refused by serde's derive: a payload with two
    // `iss` cannot choose one issuer here and show another to the verifier.
    serde_json::from_slice::<Iss>(&bytes)
        .map(|c| c.iss)
        .map_err(|_| malformed())
}

#[auth_core::async_trait(?Send)]
impl AuthenticationStrategy for IssuerStrategy {
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// One trusted issuer: `openIdConnect` with its discovery URL
    /// (`{issuer}/.well-known/openid-configuration`). Several: OpenAPI has
    /// one discovery URL per scheme, so `http` `bearer` with `bearerFormat:
    /// JWT`, the issuers' discovery URLs in its description.
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{
            Http, HttpAuthScheme, OpenIdConnect, SecurityScheme,
        };
        let mut issuers: Vec<&str> = self.inner.trusted.keys().map(String::as_str).collect();
        issuers.sort_unstable();
        let discovery = |issuer: &str| {
            format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            )
        };
        Some(match issuers.as_slice() {
            [one] => SecurityScheme::OpenIdConnect(OpenIdConnect::new(discovery(one))),
            several => SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(format!(
                        "Access tokens (RFC 9068) of the trusted issuers: {}",
                        several
                            .iter()
                            .map(|i| discovery(i))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )))
                    .build(),
            ),
        })
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(credentials) = credentials_for(req, "Bearer")? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let Some(token) = credentials.token68() else {
            return Err(AuthError::invalid_request(
                "the Bearer credentials carry no token",
            ));
        };
        match self.authenticate_token(token).await {
            Ok(profile) => Ok(AuthOutcome::Authenticated(profile)),
            Err(e) => {
                // Never the token: only what failed.
                tracing::debug!(strategy = %self.inner.name, code = e.code(), "bearer token rejected: {e}");
                Err(e)
            }
        }
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.inner.realm, failure))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    fn token(payload: &str) -> String {
        format!("{}.{}.c2ln", b64(r#"{"alg":"RS256"}"#), b64(payload))
    }

    #[test]
    fn unverified_issuer_reads_iss_and_refuses_everything_else() {
        assert_eq!(
            unverified_issuer(&token(r#"{"iss":"https://a.example","sub":"x"}"#)).unwrap(),
            "https://a.example"
        );
        // Another member of any shape does not matter.
        assert_eq!(
            unverified_issuer(&token(r#"{"iss":"i","aud":["a","b"],"n":{"iss":"j"}}"#)).unwrap(),
            "i"
        );
        let too_long = token(&format!(
            r#"{{"iss":"i","pad":"{}"}}"#,
            "x".repeat(MAX_TOKEN_LEN)
        ));
        for bad in [
            token(r#"{"sub":"x"}"#),
            token(r#"{"iss":7}"#),
            token(r#"{"iss":null}"#),
            token(r#"{"iss":"a","iss":"b"}"#),
            token(r#"["iss"]"#),
            token("not json"),
            format!("{}.a+b.c2ln", b64("{}")),
            "only.two".to_owned(),
            format!("{}.x", token(r#"{"iss":"i"}"#)),
            String::new(),
            too_long,
        ] {
            let e = unverified_issuer(&bad).unwrap_err();
            assert_eq!(e.status().as_u16(), 401, "{bad:.60}");
            assert_eq!(e.code(), "INVALID_TOKEN");
        }
    }
}
