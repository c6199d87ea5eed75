//! [`JwtStrategy`]: bearer-token authentication for actix-web.

use std::borrow::Cow;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use actix_web::HttpRequest;
use actix_web::http::header::{AUTHORIZATION, HeaderMap, SEC_WEBSOCKET_PROTOCOL};
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, PrincipalKind, StrategyOptions,
    UserProfile,
};
use serde_json::{Map, Value};

use crate::cache::{ProfileSlot, TokenCache};
use crate::jwks::KidRefresh;
use crate::key::{JwtKey, KeyError, KeySet};
use crate::verify::{self, ClaimRules, VerifyError};

/// The async hook run after a token verified: it may enrich the profile or
/// reject the request with its own error.
pub type ExtraVerifier = Arc<
    dyn Fn(UserProfile) -> Pin<Box<dyn Future<Output = Result<UserProfile, AuthError>>>>
        + Send
        + Sync,
>;

/// A place a token may be read from. Sources are tried in the configured
/// order; a request carrying tokens in two configured places is refused
/// (RFC 6750 §2).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`, scheme case-insensitive.
    Bearer,
    /// A cookie with this name.
    Cookie(String),
    /// The `access_token` query parameter (RFC 6750 §2.3). Off by default:
    /// URLs end up in logs and `Referer` headers.
    Query,
    /// The `Sec-WebSocket-Protocol` header of a browser WebSocket upgrade,
    /// which cannot set `Authorization`: the token is the protocol entry that
    /// follows an entry equal to this marker (e.g. `access_token, eyJ...`).
    WebSocketProtocol(String),
}

/// Configuration problems found when building a [`JwtStrategy`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwtConfigError {
    /// No key was configured; there is no built-in default key.
    #[error("jwt strategy has no key: configure a secret, PEM, JWK, JWK Set or JWK Set URL")]
    NoKey,
    /// A key or key set was refused.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// No token source is configured.
    #[error("jwt strategy has no token source")]
    NoSource,
    /// Public keys or a JWK Set verify tokens that other parties' keys can
    /// mint for other services too, so the accepted audience must be named.
    #[error(
        "jwt strategy with public keys has no audience: call .audience(\"<this service>\"), or .any_audience() to accept tokens minted for any service"
    )]
    MissingAudience,
    /// Public keys or a JWK Set: the accepted issuer must be named.
    #[error(
        "jwt strategy with public keys has no issuer: call .issuer(\"<issuer URL>\"), or .any_issuer() to accept tokens from any issuer the keys verify"
    )]
    MissingIssuer,
}

/// A function deciding the principal kind from verified claims; `None`
/// leaves the decision to the next rule. Made by [`PrincipalRule::custom`].
///
/// ```
/// use auth_core::PrincipalKind;
/// let rule: auth_jwt::PrincipalClassifier = std::sync::Arc::new(|claims| {
///     claims.contains_key("azp").then_some(PrincipalKind::Service)
/// });
/// # let _ = auth_jwt::PrincipalRule::Custom(rule);
/// ```
pub type PrincipalClassifier =
    Arc<dyn Fn(&Map<String, Value>) -> Option<PrincipalKind> + Send + Sync>;

/// One rule of the principal-kind mapping (issue 18.11). The strategy tries
/// its rules in order; the first that decides wins; when none does, the
/// principal is a [`PrincipalKind::User`].
///
/// The default list is `[KindClaim, ClientCredentials]`; see
/// [`JwtStrategyBuilder::principal_rules`] and
/// [`JwtStrategyBuilder::principal_rule`].
///
/// ```
/// use auth_core::PrincipalKind;
/// use auth_jwt::{PrincipalRule, JwtStrategy};
///
/// // Azure AD app-only tokens carry `idtyp: "app"`.
/// let app_only = PrincipalRule::custom(|claims| {
///     (claims.get("idtyp").and_then(|v| v.as_str()) == Some("app"))
///         .then_some(PrincipalKind::Service)
/// });
/// let strategy = JwtStrategy::builder()
///     .key(auth_jwt::JwtKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
///     .principal_rules([app_only, PrincipalRule::KindClaim, PrincipalRule::ClientCredentials])
///     .build()
///     .unwrap();
/// # let _ = strategy;
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum PrincipalRule {
    /// This crate's own service tokens: the [`KIND_CLAIM`](crate::KIND_CLAIM)
    /// claim, `"service"` or `"user"`. Other values decide nothing.
    KindClaim,
    /// RFC 9068 §2.2: a token from the client-credentials grant has no
    /// resource owner, and its `sub` is the client's own `client_id`; such a
    /// token is a [`PrincipalKind::Service`].
    ClientCredentials,
    /// A rule of the application's own.
    Custom(PrincipalClassifier),
}

impl PrincipalRule {
    /// A custom rule from a closure.
    ///
    /// ```
    /// use auth_core::PrincipalKind;
    /// let rule = auth_jwt::PrincipalRule::custom(|claims| {
    ///     claims.contains_key("azp").then_some(PrincipalKind::Service)
    /// });
    /// # let _ = rule;
    /// ```
    pub fn custom<F>(f: F) -> Self
    where
        F: Fn(&Map<String, Value>) -> Option<PrincipalKind> + Send + Sync + 'static,
    {
        PrincipalRule::Custom(Arc::new(f))
    }

    fn decide(&self, claims: &Map<String, Value>) -> Option<PrincipalKind> {
        match self {
            PrincipalRule::KindClaim => {
                match claims.get(crate::issue::KIND_CLAIM).and_then(Value::as_str) {
                    Some("service") => Some(PrincipalKind::Service),
                    Some("user") => Some(PrincipalKind::User),
                    _ => None,
                }
            }
            PrincipalRule::ClientCredentials => {
                match (claims.get("sub"), claims.get("client_id")) {
                    (Some(Value::String(sub)), Some(Value::String(client)))
                        if !sub.is_empty() && sub == client =>
                    {
                        Some(PrincipalKind::Service)
                    }
                    _ => None,
                }
            }
            PrincipalRule::Custom(f) => f(claims),
        }
    }
}

impl std::fmt::Debug for PrincipalRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PrincipalRule::KindClaim => f.write_str("KindClaim"),
            PrincipalRule::ClientCredentials => f.write_str("ClientCredentials"),
            PrincipalRule::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

pub(crate) enum Keys {
    Static(RwLock<Arc<KeySet>>),
    Jwks(Arc<crate::jwks::JwksKeys>),
}

/// Builds a [`JwtStrategy`].
pub struct JwtStrategyBuilder {
    name: String,
    realm: String,
    keys: Vec<JwtKey>,
    key_set: Option<KeySet>,
    jwks: Option<Arc<crate::jwks::JwksKeys>>,
    rules: ClaimRules,
    sources: Vec<TokenSource>,
    username_claim: String,
    roles_claim: Option<String>,
    fixed_roles: Vec<String>,
    verifier: Option<ExtraVerifier>,
    cache_capacity: usize,
    any_issuer: bool,
    scopes_claim: Option<String>,
    custom_principal_rules: Vec<PrincipalRule>,
    principal_rules: Vec<PrincipalRule>,
    accept_sender_constrained: bool,
}

impl std::fmt::Debug for JwtStrategyBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtStrategyBuilder")
            .field("name", &self.name)
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl JwtStrategyBuilder {
    /// The name the strategy registers under (default `jwt`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The `realm` of the `Bearer` challenge (default `api`).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = realm.into();
        self
    }

    /// Adds one verification key.
    pub fn key(mut self, key: JwtKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Uses a whole key set (keys added with [`key`](Self::key) join it).
    pub fn key_set(mut self, set: KeySet) -> Self {
        self.key_set = Some(set);
        self
    }

    /// Takes keys from a JWK Set URL (see [`JwksKeys`](crate::JwksKeys)).
    pub fn jwks(mut self, jwks: Arc<crate::jwks::JwksKeys>) -> Self {
        self.jwks = Some(jwks);
        self
    }

    /// Accepts tokens from this issuer; `iss` becomes required.
    pub fn issuer(mut self, iss: impl Into<String>) -> Self {
        self.rules.issuers.push(iss.into());
        self
    }

    /// Accepts tokens for this audience; `aud` becomes required. A service
    /// that receives service-to-service tokens sets its own name here.
    ///
    /// Without an audience, a token that carries `aud` is refused (RFC 7519
    /// §4.1.3), and a strategy with public keys or a JWK Set does not build
    /// at all (see [`any_audience`](Self::any_audience)).
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.rules.audiences.push(aud.into());
        self
    }

    /// Accepts tokens minted for any audience, or for none: `aud` is not
    /// checked when no [`audience`](Self::audience) is configured.
    ///
    /// An explicit choice: a token your issuer minted for another service
    /// will be accepted here too.
    ///
    /// ```
    /// use auth_jwt::{JwtKey, JwtStrategy};
    /// # let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    /// let strategy = JwtStrategy::builder()
    ///     .key(JwtKey::from_jwk_json(jwk).unwrap())
    ///     .issuer("https://issuer.example")
    ///     .any_audience()
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn any_audience(mut self) -> Self {
        self.rules.any_audience = true;
        self
    }

    /// Accepts tokens from any issuer the keys verify: `iss` is not checked
    /// when no [`issuer`](Self::issuer) is configured. Needed to build a
    /// strategy with public keys or a JWK Set and no issuer.
    ///
    /// ```
    /// # let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::JwtKey::from_jwk_json(jwk).unwrap())
    ///     .audience("todo-api")
    ///     .any_issuer()
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn any_issuer(mut self) -> Self {
        self.any_issuer = true;
        self
    }

    /// Clock skew allowed for `exp`/`nbf`, in seconds (default 30).
    pub fn leeway(mut self, secs: u64) -> Self {
        self.rules.leeway = secs;
        self
    }

    /// Whether `exp` is required (default true).
    pub fn require_exp(mut self, yes: bool) -> Self {
        self.rules.require_exp = yes;
        self
    }

    /// Requires the header `typ`, e.g. `at+jwt` (RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Self {
        self.rules.typ = Some(typ.into());
        self
    }

    /// Largest token accepted, in bytes (default 8 KiB).
    pub fn max_token_len(mut self, len: usize) -> Self {
        self.rules.max_len = len;
        self
    }

    /// Overrides the clock (seconds since the epoch), for tests.
    pub fn clock(mut self, clock: impl Fn() -> u64 + Send + Sync + 'static) -> Self {
        self.rules.clock = Arc::new(clock);
        self
    }

    /// Replaces the token sources (default: only `Authorization: Bearer`).
    pub fn sources(mut self, sources: impl IntoIterator<Item = TokenSource>) -> Self {
        self.sources = sources.into_iter().collect();
        self
    }

    /// The claim holding the user id (default `sub`).
    pub fn username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = claim.into();
        self
    }

    /// The claim holding roles, as a dot path (default `roles`), e.g.
    /// `realm_access.roles` for Keycloak. The value may be an array of
    /// strings or one space-separated string.
    pub fn roles_claim(mut self, path: impl Into<String>) -> Self {
        self.roles_claim = Some(path.into());
        self
    }

    /// The claim scopes are read from (default `scope`).
    ///
    /// `scope` is always one space-delimited string (RFC 8693 §4.2, RFC 9068
    /// §2.2.3): any other type in `scope` makes the token invalid, whatever
    /// this setting. A claim named here (e.g. `scp` for Azure AD or Okta) may
    /// be that string or an array of strings; an element that is not a
    /// string makes the token invalid. No other claim is ever read as scopes.
    ///
    /// ```
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::JwtKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .scopes_claim("scp")
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn scopes_claim(mut self, claim: impl Into<String>) -> Self {
        self.scopes_claim = Some(claim.into());
        self
    }

    /// Replaces the built-in principal-kind rules (default
    /// `[PrincipalRule::KindClaim, PrincipalRule::ClientCredentials]`); an
    /// empty list makes every principal a user unless a rule added with
    /// [`principal_rule`](Self::principal_rule) decides.
    ///
    /// ```
    /// use auth_jwt::PrincipalRule;
    /// // Only this crate's own `kind` claim: no RFC 9068 client rule.
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::JwtKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .principal_rules([PrincipalRule::KindClaim])
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn principal_rules(mut self, rules: impl IntoIterator<Item = PrincipalRule>) -> Self {
        self.principal_rules = rules.into_iter().collect();
        self
    }

    /// Adds a custom principal-kind rule, tried before the built-in ones
    /// (and after custom rules added earlier).
    ///
    /// ```
    /// use auth_core::PrincipalKind;
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::JwtKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .principal_rule(|claims| {
    ///         (claims.get("gty").and_then(|v| v.as_str()) == Some("client-credentials"))
    ///             .then_some(PrincipalKind::Service)
    ///     })
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn principal_rule<F>(mut self, f: F) -> Self
    where
        F: Fn(&Map<String, Value>) -> Option<PrincipalKind> + Send + Sync + 'static,
    {
        self.custom_principal_rules.push(PrincipalRule::custom(f));
        self
    }

    /// Accepts sender-constrained tokens (carrying `cnf`, e.g. DPoP-bound
    /// `cnf.jkt`, RFC 9449, or certificate-bound `cnf.x5t#S256`, RFC 8705)
    /// presented as plain bearer tokens, without the proof of possession.
    ///
    /// Unsafe: this strategy verifies no DPoP proof or client certificate,
    /// so a stolen sender-constrained token works for whoever holds it,
    /// which is exactly what the binding was meant to prevent. By default
    /// such tokens are refused (401 `invalid_token`).
    ///
    /// ```
    /// // Only behind a component that has verified the DPoP proof already.
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::JwtKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .dangerously_accept_sender_constrained_tokens()
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn dangerously_accept_sender_constrained_tokens(mut self) -> Self {
        self.accept_sender_constrained = true;
        self
    }

    /// Roles added to every profile this strategy produces.
    pub fn fixed_roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.fixed_roles = roles.into_iter().map(Into::into).collect();
        self
    }

    /// An async check run after every successful verification (also on
    /// cache hits), e.g. a revocation list lookup.
    pub fn verifier<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(UserProfile) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<UserProfile, AuthError>> + 'static,
    {
        self.verifier = Some(Arc::new(move |p| Box::pin(f(p))));
        self
    }

    /// Size of the verified-token cache (default 10 000; 0 disables it).
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.cache_capacity = n;
        self
    }

    /// Builds the strategy; refuses to start without a key, and, with
    /// public keys or a JWK Set, without an audience and an issuer (or the
    /// explicit [`any_audience`](Self::any_audience) /
    /// [`any_issuer`](Self::any_issuer)).
    ///
    /// ```
    /// use auth_jwt::{JwtConfigError, JwtKey, JwtStrategy};
    /// # let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    /// let key = || JwtKey::from_jwk_json(jwk).unwrap();
    /// let err = JwtStrategy::builder().key(key()).issuer("https://issuer.example").build();
    /// assert_eq!(err.unwrap_err(), JwtConfigError::MissingAudience);
    /// let err = JwtStrategy::builder().key(key()).audience("todo-api").build();
    /// assert_eq!(err.unwrap_err(), JwtConfigError::MissingIssuer);
    /// ```
    pub fn build(self) -> Result<JwtStrategy, JwtConfigError> {
        crate::ensure_crypto_provider();
        if self.sources.is_empty() {
            return Err(JwtConfigError::NoSource);
        }
        // Issue 11.6: a public key verifies tokens its owner mints for every
        // service it serves; with no audience (and no issuer) pinned, this
        // service would accept all of them. A shared secret is shared with
        // this service alone, so HMAC strategies only refuse tokens that name
        // an audience (see `ClaimRules::any_audience`).
        let public_keys = self.jwks.is_some()
            || self.keys.iter().any(|k| !k.algorithm().is_hmac())
            || self
                .key_set
                .as_ref()
                .is_some_and(|s| s.keys().iter().any(|k| !k.algorithm().is_hmac()));
        if public_keys {
            if self.rules.audiences.is_empty() && !self.rules.any_audience {
                return Err(JwtConfigError::MissingAudience);
            }
            if self.rules.issuers.is_empty() && !self.any_issuer {
                return Err(JwtConfigError::MissingIssuer);
            }
        }
        let keys = match (self.jwks, self.key_set, self.keys.is_empty()) {
            (Some(jwks), None, true) => Keys::Jwks(jwks),
            (Some(_), _, _) => {
                return Err(JwtConfigError::Key(KeyError::Algorithm {
                    key: "set".into(),
                    reason: "a JWK Set URL cannot be combined with static keys".into(),
                }));
            }
            (None, None, true) => return Err(JwtConfigError::NoKey),
            (None, set, _) => {
                let mut all: Vec<JwtKey> = set.map(|s| s.keys().to_vec()).unwrap_or_default();
                all.extend(self.keys);
                Keys::Static(RwLock::new(Arc::new(KeySet::new(all)?)))
            }
        };
        Ok(JwtStrategy {
            inner: Arc::new(Inner {
                name: self.name,
                realm: self.realm,
                keys,
                rules: self.rules,
                sources: self.sources,
                username_claim: self.username_claim,
                roles_claim: self.roles_claim.unwrap_or_else(|| "roles".into()),
                fixed_roles: self.fixed_roles,
                verifier: self.verifier,
                cache: TokenCache::new(self.cache_capacity),
                scopes_claim: self.scopes_claim,
                principal_rules: self
                    .custom_principal_rules
                    .into_iter()
                    .chain(self.principal_rules)
                    .collect(),
                accept_sender_constrained: self.accept_sender_constrained,
            }),
        })
    }
}

struct Inner {
    name: String,
    realm: String,
    keys: Keys,
    rules: ClaimRules,
    sources: Vec<TokenSource>,
    username_claim: String,
    roles_claim: String,
    fixed_roles: Vec<String>,
    verifier: Option<ExtraVerifier>,
    cache: TokenCache,
    scopes_claim: Option<String>,
    principal_rules: Vec<PrincipalRule>,
    accept_sender_constrained: bool,
}

/// The `jwt` strategy: verifies a bearer JWT and maps its claims to a
/// [`UserProfile`]. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct JwtStrategy {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for JwtStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtStrategy")
            .field("name", &self.inner.name)
            .field("realm", &self.inner.realm)
            .finish_non_exhaustive()
    }
}

impl JwtStrategy {
    /// A builder with the defaults: name `jwt`, realm `api`, `Authorization:
    /// Bearer` only, username from `sub`, roles from `roles`, leeway 30 s.
    pub fn builder() -> JwtStrategyBuilder {
        JwtStrategyBuilder {
            name: "jwt".into(),
            realm: "api".into(),
            keys: Vec::new(),
            key_set: None,
            jwks: None,
            rules: ClaimRules::default(),
            sources: vec![TokenSource::Bearer],
            username_claim: "sub".into(),
            roles_claim: None,
            fixed_roles: Vec::new(),
            verifier: None,
            cache_capacity: 10_000,
            any_issuer: false,
            scopes_claim: None,
            custom_principal_rules: Vec::new(),
            principal_rules: vec![PrincipalRule::KindClaim, PrincipalRule::ClientCredentials],
            accept_sender_constrained: false,
        }
    }

    /// The common case: HS256 with a secret of at least 32 bytes, every
    /// other setting at its default.
    ///
    /// What it checks, exactly: the token is at most 8 KiB; its header is
    /// `alg: HS256` (nothing else, never `none`), has no `crit`, and no
    /// duplicate member; the HMAC signature matches `secret`; the claims have
    /// no duplicate member; `exp` is present, and `exp`/`nbf`/`iat` are JSON
    /// numbers in `0 ..= 253402300799`; `exp` is not past and `nbf` not
    /// future, with 30 s leeway; the token carries **no `aud`** (no audience
    /// is configured, so one naming any audience is refused, RFC 7519
    /// §4.1.3) and **no `cnf`**; `sub` is a non-empty string or a number;
    /// `scope`, if present, is a string.
    ///
    /// What it does not check: `iss` (any issuer), `typ`. For those, or to
    /// accept an `aud`, use [`JwtStrategy::builder`] with
    /// [`issuer`](JwtStrategyBuilder::issuer),
    /// [`audience`](JwtStrategyBuilder::audience) or
    /// [`any_audience`](JwtStrategyBuilder::any_audience).
    ///
    /// ```
    /// use auth_jwt::JwtStrategy;
    /// let strategy = JwtStrategy::hs256(b"an example secret of 32+ bytes!!").unwrap();
    /// # let _ = strategy;
    /// assert!(JwtStrategy::hs256(b"too short").is_err());
    /// ```
    pub fn hs256(secret: &[u8]) -> Result<JwtStrategy, JwtConfigError> {
        JwtStrategy::builder()
            .key(JwtKey::hmac(secret, jsonwebtoken::Algorithm::HS256)?)
            .build()
    }

    /// Replaces the static key set (key rotation) and empties the
    /// verified-token cache.
    pub fn set_keys(&self, keys: KeySet) {
        if let Keys::Static(lock) = &self.inner.keys {
            *lock.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        }
        self.inner.cache.clear();
    }

    /// Number of tokens held in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.inner.cache.len()
    }

    /// The claim rules in force.
    pub fn rules(&self) -> &ClaimRules {
        &self.inner.rules
    }

    /// The current key set. For a JWK Set URL this is where the refresh
    /// deadline is honoured, on every request, cache hits included.
    async fn key_set(&self) -> Result<Arc<KeySet>, VerifyError> {
        match &self.inner.keys {
            Keys::Static(lock) => Ok(lock.read().unwrap_or_else(|e| e.into_inner()).clone()),
            Keys::Jwks(jwks) => jwks.current().await,
        }
    }

    /// Verifies a token and returns its header and claims, using and filling
    /// the cache. This is the path every request takes.
    pub async fn verify_token(&self, token: &str) -> Result<crate::VerifiedToken, VerifyError> {
        self.check_token(token).await.map(|(verified, _)| verified)
    }

    /// [`JwtStrategy::verify_token`], also returning the profile slot of the
    /// token's cache entry (none when the cache is off).
    async fn check_token(
        &self,
        token: &str,
    ) -> Result<(crate::VerifiedToken, Option<ProfileSlot>), VerifyError> {
        let rules = &self.inner.rules;
        if token.len() > rules.max_len {
            return Err(VerifyError::TooLarge);
        }
        let now = (rules.clock)();
        let mut keys = self.key_set().await?;
        // SAFETY-NOTE: a hit counts only while the key that verified the
        // token is in the current set: a retired key takes its cached tokens
        // with it (issue 11.7).
        if let Some(hit) = self.inner.cache.get(token, |ids| keys.contains_all(ids)) {
            // SAFETY-NOTE: time-based claims are re-checked on every hit; a
            // cached token must expire exactly when an uncached one would.
            verify::check_time_values(hit.exp, hit.nbf, rules.require_exp, rules.leeway, now)?;
            let verified = crate::VerifiedToken {
                header: hit.header,
                claims: hit.claims,
            };
            return Ok((verified, Some(hit.profile)));
        }
        let mut result = verify::verify_jwt(token, &keys, rules);
        if let (Err(VerifyError::UnknownKey), Keys::Jwks(jwks)) = (&result, &self.inner.keys)
            && let Some(kid) = peek_kid(token)
        {
            result = match jwks.refresh_for_unknown_kid(&kid).await {
                KidRefresh::Keys {
                    keys: fresh,
                    provider_failed,
                } => {
                    keys = fresh;
                    match verify::verify_jwt(token, &keys, rules) {
                        // SAFETY-NOTE: the provider could not be asked, so
                        // "unknown key" may only mean "rotated during the
                        // outage": fail closed with 503, not 401 (issue 18.9).
                        Err(VerifyError::UnknownKey) if provider_failed => {
                            Err(VerifyError::KeysUnavailable)
                        }
                        other => other,
                    }
                }
                KidRefresh::Unavailable => Err(VerifyError::KeysUnavailable),
            };
        }
        let verified = result?;
        // Recorded against the set that verified the token, so a refresh
        // meanwhile cannot attach it to another key.
        let ids = match verified.header.get("alg").and_then(Value::as_str) {
            Some(alg) => match alg.parse() {
                Ok(alg) => {
                    keys.candidate_ids(verified.header.get("kid").and_then(Value::as_str), alg)
                }
                Err(_) => Box::default(),
            },
            None => Box::default(),
        };
        let slot = self.inner.cache.insert(
            token,
            ids,
            Arc::clone(&verified.header),
            Arc::clone(&verified.claims),
        );
        Ok((verified, slot))
    }

    /// Verifies a token that did not come from an HTTP header (e.g. from a
    /// WebSocket message, see [`token_from_ws_message`]) and maps it to a
    /// profile, running the extra verifier.
    pub async fn authenticate_token(&self, token: &str) -> Result<UserProfile, AuthError> {
        let (verified, slot) = self
            .check_token(token)
            .await
            .map_err(|e| self.auth_error(e))?;
        // A repeated token reuses the profile built the first time: its
        // claims are the same and the time checks above ran again.
        let profile = match slot.as_deref().and_then(|s| s.get()) {
            Some(profile) => profile.clone(),
            None => {
                let profile = self.profile(verified.claims)?;
                if let Some(slot) = slot {
                    // Another request may have filled it meanwhile: same value.
                    let _ = slot.set(profile.clone());
                }
                profile
            }
        };
        match &self.inner.verifier {
            Some(v) => v(profile).await,
            None => Ok(profile),
        }
    }

    /// [`to_auth_error`], with the `Retry-After` of a 503 taken from the JWK
    /// Set client: the time until it will ask the provider again.
    fn auth_error(&self, e: VerifyError) -> AuthError {
        match (&e, &self.inner.keys) {
            (VerifyError::KeysUnavailable, Keys::Jwks(jwks)) => AuthError::Unavailable {
                message: "signing keys are unavailable".into(),
                retry_after: Some(jwks.retry_after()),
            },
            _ => to_auth_error(e),
        }
    }

    fn profile(&self, claims: Arc<Map<String, Value>>) -> Result<UserProfile, AuthError> {
        // SAFETY-NOTE (issue 18.12): a sender-constrained token is only as
        // good as the proof of possession that goes with it (DPoP, RFC 9449;
        // mTLS, RFC 8705), which this strategy does not verify. Accepting it
        // as a bearer token would make a stolen bound token usable.
        if claims.contains_key("cnf") && !self.inner.accept_sender_constrained {
            return Err(AuthError::invalid_token(
                "token is sender-constrained (cnf) and needs a proof of possession this service does not verify",
            ));
        }
        let id = match claims.get(&self.inner.username_claim) {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(AuthError::invalid_token(format!(
                    "token lacks the {} claim",
                    self.inner.username_claim
                )));
            }
        };
        let mut profile = UserProfile::new(id).with_strategy(self.inner.name.clone());
        if let Some(name) = claims
            .get("name")
            .or_else(|| claims.get("preferred_username"))
            .and_then(Value::as_str)
        {
            profile = profile.with_name(name);
        }
        if let Some(email) = claims.get("email").and_then(Value::as_str) {
            profile = profile.with_email(email);
        }
        let mut roles = strings(claim_path(claims.as_ref(), &self.inner.roles_claim));
        for r in &self.inner.fixed_roles {
            if !roles.contains(r) {
                roles.push(r.clone());
            }
        }
        profile.roles = roles;
        profile.scopes = self.scopes(&claims)?;
        profile.kind = self
            .inner
            .principal_rules
            .iter()
            .find_map(|rule| rule.decide(&claims))
            .unwrap_or(PrincipalKind::User);
        profile.claims = claims;
        Ok(profile)
    }

    /// The granted scopes (issue 11.4). SAFETY-NOTE: a claim of the wrong
    /// type is an invalid token, never "no scopes" and never a list of
    /// grants: `"scope": ["admin"]` must not grant `admin` to a verifier
    /// that reads it as an array while the issuer meant something else.
    fn scopes(&self, claims: &Map<String, Value>) -> Result<Vec<String>, AuthError> {
        let split = |s: &str| s.split_whitespace().map(str::to_owned).collect();
        // `scope` is one space-delimited string (RFC 8693 §4.2, RFC 9068
        // §2.2.3), whichever claim the scopes are configured to come from.
        let scope = match claims.get("scope") {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                return Err(AuthError::invalid_token(
                    "token has an invalid scope claim: scope must be one space-delimited string",
                ));
            }
        };
        let name = match self.inner.scopes_claim.as_deref() {
            None | Some("scope") => return Ok(scope.map(|s| split(s)).unwrap_or_default()),
            Some(name) => name,
        };
        match claims.get(name) {
            None => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(split(s)),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| match item {
                    Value::String(s) => Ok(s.clone()),
                    _ => Err(AuthError::invalid_token(format!(
                        "token has an invalid {name} claim: every scope must be a string"
                    ))),
                })
                .collect(),
            Some(_) => Err(AuthError::invalid_token(format!(
                "token has an invalid {name} claim: scopes must be a string or an array of strings"
            ))),
        }
    }

    /// The subprotocol to select in the WebSocket handshake response of
    /// `req`, when this strategy reads tokens from `Sec-WebSocket-Protocol`
    /// and the request carries one there; see [`select_websocket_protocol`]
    /// for the convention. Call it after the request authenticated, and set
    /// the response's `Sec-WebSocket-Protocol` to the result.
    ///
    /// ```
    /// use auth_jwt::{JwtKey, JwtStrategy, TokenSource};
    /// let strategy = JwtStrategy::builder()
    ///     .key(JwtKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .sources([TokenSource::WebSocketProtocol("access_token".into())])
    ///     .build()
    ///     .unwrap();
    /// let req = actix_web::test::TestRequest::get()
    ///     .insert_header(("sec-websocket-protocol", "access_token, eyJ.x.y"))
    ///     .to_http_request();
    /// assert_eq!(strategy.websocket_protocol(&req).as_deref(), Some("access_token"));
    /// ```
    pub fn websocket_protocol(&self, req: &HttpRequest) -> Option<String> {
        self.inner.sources.iter().find_map(|source| match source {
            TokenSource::WebSocketProtocol(marker) => {
                select_websocket_protocol(req.headers(), marker)
            }
            _ => None,
        })
    }

    /// The token and whether it came from the query string.
    fn find_token<'r>(
        &self,
        req: &'r HttpRequest,
    ) -> Result<Option<(Cow<'r, str>, bool)>, AuthError> {
        let mut found: Option<(Cow<'r, str>, bool)> = None;
        for source in &self.inner.sources {
            let token = match source {
                TokenSource::Bearer => bearer_token(req.headers())?.map(Cow::Borrowed),
                TokenSource::Cookie(name) => req.cookie(name).map(|c| c.value().to_owned().into()),
                TokenSource::Query => query_token(req.query_string())?.map(Cow::Owned),
                TokenSource::WebSocketProtocol(marker) => {
                    ws_protocol_token(req.headers(), marker)?.map(Cow::Owned)
                }
            };
            if let Some(token) = token {
                if found.is_some() {
                    return Err(AuthError::invalid_request(
                        "the request carries an access token in more than one place",
                    ));
                }
                found = Some((token, *source == TokenSource::Query));
            }
        }
        Ok(found)
    }
}

/// Reads the token Space Cloud-style WebSocket messages carry at
/// `data.token`.
///
/// ```
/// let msg = serde_json::json!({"type": "subscribe", "data": {"token": "abc"}});
/// assert_eq!(auth_jwt::token_from_ws_message(&msg), Some("abc"));
/// ```
pub fn token_from_ws_message(message: &Value) -> Option<&str> {
    message.get("data")?.get("token")?.as_str()
}

/// The subprotocol a WebSocket handshake response must select when the
/// client sent its token in `Sec-WebSocket-Protocol` after `marker`
/// ([`TokenSource::WebSocketProtocol`]); `None` when the request offers no
/// protocol list with that marker.
///
/// A browser closes the connection when the response selects no protocol,
/// or one it did not offer (RFC 6455 §4.1), so the handshake must echo one.
/// The convention chosen here:
///
/// 1. the first offered protocol that is neither the marker nor the token,
///    i.e. the application's real subprotocol (`graphql-transport-ws`,
///    `v1.chat`, ...), so subprotocol negotiation keeps working; else
/// 2. the marker itself (`access_token`), which the client offered.
///
/// Never the token: a response header is logged and cached by proxies that
/// never see request headers' secrets in their logs, and echoing the token
/// would publish it. An application that supports only some
/// subprotocols checks the returned one against its list.
///
/// ```
/// use actix_web::http::header::{HeaderMap, HeaderValue, SEC_WEBSOCKET_PROTOCOL};
/// use auth_jwt::select_websocket_protocol;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("access_token, eyJ.x.y, v1.chat"));
/// assert_eq!(select_websocket_protocol(&headers, "access_token").as_deref(), Some("v1.chat"));
///
/// headers.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("access_token, eyJ.x.y"));
/// assert_eq!(select_websocket_protocol(&headers, "access_token").as_deref(), Some("access_token"));
/// ```
pub fn select_websocket_protocol(headers: &HeaderMap, marker: &str) -> Option<String> {
    let items = ws_protocols(headers)?;
    let at = items.iter().position(|item| *item == marker)?;
    items
        .iter()
        .enumerate()
        .find(|(i, item)| *i != at && *i != at + 1 && !item.is_empty())
        .map(|(_, item)| (*item).to_owned())
        .or_else(|| Some(marker.to_owned()))
}

fn peek_kid(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    if header.len() > 4096 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    // Strict, as `verify_jws` reads it: a header with two `kid`s names no
    // key, so it cannot make the JWK Set client fetch on its behalf.
    let header = crate::json::object_from_slice(&bytes).ok()?;
    header.get("kid")?.as_str().map(str::to_owned)
}

fn claim_path<'a>(claims: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut cur = claims.get(parts.next()?)?;
    for p in parts {
        cur = cur.get(p)?;
    }
    Some(cur)
}

fn strings(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn bearer_token(headers: &HeaderMap) -> Result<Option<&str>, AuthError> {
    let mut values = headers.get_all(AUTHORIZATION);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let Some(value) = visible_ascii(value.as_bytes()) else {
        return Err(AuthError::invalid_request(
            "the Authorization header is not visible ASCII",
        ));
    };
    let mut parts = value.split(' ').filter(|p| !p.is_empty());
    let scheme = parts.next().unwrap_or("");
    if !scheme.eq_ignore_ascii_case("bearer") {
        // Another scheme (Basic, ...) belongs to another strategy.
        return Ok(None);
    }
    if values.next().is_some() {
        return Err(AuthError::invalid_request(
            "the request has more than one Authorization header",
        ));
    }
    match (parts.next(), parts.next()) {
        (Some(token), None) if is_token68(token) => Ok(Some(token)),
        (Some(_), None) => Err(AuthError::invalid_request(
            "the bearer credentials are not a token68 (auth-parameters such as token=\"...\" are not allowed): use 'Bearer <token>'",
        )),
        (None, _) => Err(AuthError::invalid_request(
            "the Authorization header has an empty bearer token",
        )),
        (Some(_), Some(_)) => Err(AuthError::invalid_request(
            "the Authorization header value has too many parts: use 'Bearer <token>'",
        )),
    }
}

/// RFC 7235 §2.1 / RFC 6750 §2.1: `b64token` (token68) is
/// `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`, the only
/// form of bearer credentials. The auth-param form (`token="..."`,
/// `a=b, c=d`) is a malformed request, not a token that failed to verify.
fn is_token68(s: &str) -> bool {
    let body = s.trim_end_matches('=');
    !body.is_empty()
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        })
}

/// The header value as text if every byte is visible ASCII, space or tab
/// (what `HeaderValue::to_str` accepts). Written as a fold without early
/// exit so the compiler vectorises it: a bearer header is hundreds of bytes
/// and this runs on every request.
fn visible_ascii(bytes: &[u8]) -> Option<&str> {
    let ok = bytes.iter().fold(true, |ok, &b| {
        ok & ((0x20..0x7f).contains(&b) | (b == b'\t'))
    });
    if ok {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
}

fn query_token(query: &str) -> Result<Option<String>, AuthError> {
    let mut found = None;
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == "access_token" {
            if found.is_some() {
                return Err(AuthError::invalid_request(
                    "access_token is given more than once",
                ));
            }
            if v.is_empty() {
                return Err(AuthError::invalid_request("access_token is empty"));
            }
            // JWTs are base64url and dots: nothing to percent-decode.
            found = Some(v.to_owned());
        }
    }
    Ok(found)
}

/// The `Sec-WebSocket-Protocol` entries, over every field of that name
/// (RFC 6455 §11.3.4: several fields are one list); `None` when there is
/// no such field or one is not visible ASCII.
fn ws_protocols(headers: &HeaderMap) -> Option<Vec<&str>> {
    let mut items = Vec::new();
    for value in headers.get_all(SEC_WEBSOCKET_PROTOCOL) {
        items.extend(value.to_str().ok()?.split(',').map(str::trim));
    }
    (!items.is_empty()).then_some(items)
}

fn ws_protocol_token(headers: &HeaderMap, marker: &str) -> Result<Option<String>, AuthError> {
    let Some(items) = ws_protocols(headers) else {
        return Ok(None);
    };
    let mut items = items.into_iter();
    while let Some(item) = items.next() {
        if item == marker {
            return match items.next() {
                Some(t) if !t.is_empty() => Ok(Some(t.to_owned())),
                _ => Err(AuthError::invalid_request(
                    "Sec-WebSocket-Protocol names the token marker but carries no token",
                )),
            };
        }
    }
    Ok(None)
}

/// Maps a verification failure to the framework's error: 401, or 503 with
/// `Retry-After` when no key could be obtained. Here `Retry-After` is the
/// default JWK Set cooldown (30 s); [`JwtStrategy`] itself answers with the
/// time left until its JWK Set client asks the provider again.
///
/// ```
/// use auth_jwt::{VerifyError, to_auth_error};
/// let e = to_auth_error(VerifyError::KeysUnavailable);
/// assert_eq!(e.status(), 503);
/// assert_eq!(e.retry_after(), Some(std::time::Duration::from_secs(30)));
/// ```
pub fn to_auth_error(e: VerifyError) -> AuthError {
    match e {
        VerifyError::KeysUnavailable => AuthError::Unavailable {
            message: "signing keys are unavailable".into(),
            retry_after: Some(std::time::Duration::from_secs(30)),
        },
        other => AuthError::invalid_credentials(other.code(), other.to_string()),
    }
}

#[auth_core::async_trait(?Send)]
impl AuthenticationStrategy for JwtStrategy {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some((token, from_query)) = self.find_token(req)? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let profile = self.authenticate_token(&token).await;
        if let Err(e) = &profile {
            // Never the token: only what failed.
            tracing::debug!(strategy = %self.inner.name, code = e.code(), "jwt rejected: {e}");
        }
        let profile = profile?;
        if from_query {
            // RFC 6750 §2.3: the response must not sit in a shared cache.
            actix_web::HttpMessage::extensions_mut(req).insert(auth_core::QueryCredential);
        }
        Ok(AuthOutcome::Authenticated(profile))
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.inner.realm, failure))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::HeaderValue;

    use super::visible_ascii;

    /// The vectorised check accepts exactly what `HeaderValue::to_str` does,
    /// for every byte in every position of a bearer-sized value.
    #[test]
    fn visible_ascii_agrees_with_header_value_to_str() {
        for byte in 0..=u8::MAX {
            for at in [0, 7, 199] {
                let mut value = vec![b'a'; 200];
                value[at] = byte;
                let expected = HeaderValue::from_bytes(&value)
                    .ok()
                    .and_then(|v| v.to_str().ok().map(str::to_owned));
                // Bytes a HeaderValue cannot hold at all (CR, LF, NUL) are
                // refused by both.
                let got = visible_ascii(&value).map(str::to_owned);
                if HeaderValue::from_bytes(&value).is_ok() {
                    assert_eq!(got, expected, "byte {byte:#04x} at {at}");
                } else {
                    assert_eq!(got, None, "byte {byte:#04x} at {at}");
                }
            }
        }
    }
}
