//! [`JwtStrategy`]: bearer-token authentication for actix-web.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthenticationStrategy, Challenge, PrincipalKind, StrategyOptions,
    TokenSource, UserProfile, find_token, select_websocket_protocol,
};
use serde_json::{Map, Value};

use crate::cache::{ProfileSlot, RevocationKey, TokenCache, revocation_claims};
use crate::claims::{ClaimMapping, PrincipalRule};
use crate::jwks::KidRefresh;
use crate::key::{KeyError, KeySet, VerifyingKey};
use crate::verify::{self, ClaimRules, VerifyError};

/// A token checked by `check_token` or `cache_hit`: its header and claims,
/// and its cache entry's profile slot (none when the token is not cached:
/// the cache is off, the token is too large, or a full cache turned it away
/// on its first miss).
type Checked = Result<(crate::VerifiedToken, Option<ProfileSlot>), VerifyError>;

/// The async hook run after a token verified: it may enrich the profile or
/// reject the request with its own error.
pub type ExtraVerifier = Arc<
    dyn Fn(UserProfile) -> Pin<Box<dyn Future<Output = Result<UserProfile, AuthError>>>>
        + Send
        + Sync,
>;

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
    /// [`roles_claim`](JwtStrategyBuilder::roles_claim) and
    /// [`no_claim_roles`](JwtStrategyBuilder::no_claim_roles) contradict
    /// each other.
    #[error("jwt strategy has both a roles_claim and no_claim_roles(): choose one")]
    RolesConflict,
    /// Public keys or a JWK Set: the accepted issuer must be named.
    #[error(
        "jwt strategy with public keys has no issuer: call .issuer(\"<issuer URL>\"), or .any_issuer() to accept tokens from any issuer the keys verify"
    )]
    MissingIssuer,
    /// jsonwebtoken's crypto provider failed the start-up self-test
    /// ([`check_crypto_provider`](crate::check_crypto_provider)).
    #[error(transparent)]
    CryptoProvider(#[from] crate::CryptoProviderError),
}

pub(crate) enum Keys {
    Static(RwLock<Arc<KeySet>>),
    Jwks(Arc<crate::jwks::JwksKeys>),
}

/// Builds a [`JwtStrategy`].
pub struct JwtStrategyBuilder {
    name: String,
    realm: String,
    keys: Vec<VerifyingKey>,
    key_set: Option<KeySet>,
    jwks: Option<Arc<crate::jwks::JwksKeys>>,
    rules: ClaimRules,
    sources: Vec<TokenSource>,
    username_claim: String,
    roles_claim: Option<String>,
    claim_roles: bool,
    fixed_roles: Vec<String>,
    verifier: Option<ExtraVerifier>,
    cache_capacity: usize,
    cache_max_bytes: u64,
    any_issuer: bool,
    scopes_claim: Option<String>,
    custom_principal_rules: Vec<PrincipalRule>,
    principal_rules: Vec<PrincipalRule>,
    accept_sender_constrained: bool,
    revocations: Option<Arc<auth_core::Revocations>>,
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
    pub fn key(mut self, key: VerifyingKey) -> Self {
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
    /// use auth_jwt::{VerifyingKey, JwtStrategy};
    /// # let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    /// let strategy = JwtStrategy::builder()
    ///     .key(VerifyingKey::from_jwk_json(jwk).unwrap())
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
    ///     .key(auth_jwt::VerifyingKey::from_jwk_json(jwk).unwrap())
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
        self.rules.clock = Arc::new(crate::verify::SecondsFn(clock));
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

    /// Reads no roles from tokens: a profile's roles are the
    /// [`fixed_roles`](Self::fixed_roles) only. For an issuer trusted to say
    /// who a caller is but not which of this application's roles they hold
    /// (a partner's identity provider), whose tokens could otherwise carry
    /// any role name. Not together with [`roles_claim`](Self::roles_claim).
    ///
    /// ```
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .no_claim_roles()
    ///     .fixed_roles(["partner"])
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// let conflict = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .roles_claim("realm_access.roles")
    ///     .no_claim_roles()
    ///     .build();
    /// assert_eq!(conflict.unwrap_err(), auth_jwt::JwtConfigError::RolesConflict);
    /// ```
    pub fn no_claim_roles(mut self) -> Self {
        self.claim_roles = false;
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
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
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
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
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
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
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
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
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
    ///
    /// Until the cache is full, a token is cached when it first verifies.
    /// Once it is full, a token is cached on its second verification only,
    /// evicting the oldest entry: tokens sent once each (one-off clients, a
    /// burst of new sessions) then cost no insertion or eviction and cannot
    /// push out the tokens in use. Each of those keeps a 4-byte
    /// fingerprint in a table of one slot per entry of this size (rounded
    /// up to a power of two, at least 64 slots and at most 4 MiB), made when
    /// the cache first fills. A cache that has filled stays full (expired
    /// entries leave as they are evicted), so in a long-running server every
    /// new token, a refreshed one included, is verified twice before it is
    /// cached.
    pub fn cache_capacity(mut self, n: usize) -> Self {
        self.cache_capacity = n;
        self
    }

    /// Byte bound of the verified-token cache (default 32 MiB; 0 disables
    /// it), as well as the entry bound: each entry counts as its estimated
    /// size (three times the token's length plus 256 bytes: the token, its
    /// decoded header and claims, the entry), and at least the byte bound
    /// divided by the entry bound. So 10 000 entries of 8 KiB tokens cannot
    /// take 80 MiB and more: they take at most this bound. The admission
    /// table of a full cache (see [`cache_capacity`](Self::cache_capacity),
    /// 4 bytes a slot) is outside this bound.
    ///
    /// ```
    /// use auth_jwt::JwtStrategy;
    ///
    /// let strategy = JwtStrategy::builder()
    ///     .key(auth_jwt::VerifyingKey::hmac(&[7u8; 32], auth_jwt::Algorithm::HS256).unwrap())
    ///     .issuer("api")
    ///     .audience("api")
    ///     .cache_capacity(50_000)
    ///     .cache_max_bytes(8 * 1024 * 1024)
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// ```
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// Refuses tokens revoked in `revocations` (by `jti`, or by subject:
    /// every token of the subject issued before an instant), on every
    /// request, cache hits included. The check reads the local mirror, no
    /// network round trip; past the mirror's staleness bound it answers 503.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_core::{MemoryStore, RevocationOptions, Revocations};
    /// # actix_web::rt::System::new().block_on(async {
    /// let revocations = Revocations::start(Arc::new(MemoryStore::new()), RevocationOptions::default())
    ///     .await
    ///     .unwrap();
    /// let strategy = auth_jwt::JwtStrategy::builder()
    ///     .key(auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
    ///     .revocations(revocations)
    ///     .build()
    ///     .unwrap();
    /// # let _ = strategy;
    /// # });
    /// ```
    pub fn revocations(mut self, revocations: Arc<auth_core::Revocations>) -> Self {
        self.revocations = Some(revocations);
        self
    }

    /// Builds the strategy; refuses to start without a key, and, with
    /// public keys or a JWK Set, without an audience and an issuer (or the
    /// explicit [`any_audience`](Self::any_audience) /
    /// [`any_issuer`](Self::any_issuer)).
    ///
    /// ```
    /// use auth_jwt::{JwtConfigError, VerifyingKey, JwtStrategy};
    /// # let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    /// let key = || VerifyingKey::from_jwk_json(jwk).unwrap();
    /// let err = JwtStrategy::builder().key(key()).issuer("https://issuer.example").build();
    /// assert_eq!(err.unwrap_err(), JwtConfigError::MissingAudience);
    /// let err = JwtStrategy::builder().key(key()).audience("todo-api").build();
    /// assert_eq!(err.unwrap_err(), JwtConfigError::MissingIssuer);
    /// ```
    pub fn build(self) -> Result<JwtStrategy, JwtConfigError> {
        crate::check_crypto_provider()?;
        if self.sources.is_empty() {
            return Err(JwtConfigError::NoSource);
        }
        if !self.claim_roles && self.roles_claim.is_some() {
            return Err(JwtConfigError::RolesConflict);
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
                let mut all: Vec<VerifyingKey> = set.map(|s| s.keys().to_vec()).unwrap_or_default();
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
                bearer_only: self.sources == [TokenSource::Bearer],
                sources: self.sources,
                mapping: ClaimMapping {
                    username_claim: self.username_claim,
                    roles_claim: self
                        .claim_roles
                        .then(|| self.roles_claim.unwrap_or_else(|| "roles".into())),
                    fixed_roles: self.fixed_roles,
                    scopes_claim: self.scopes_claim,
                    principal_rules: self
                        .custom_principal_rules
                        .into_iter()
                        .chain(self.principal_rules)
                        .collect(),
                    accept_sender_constrained: self.accept_sender_constrained,
                },
                verifier: self.verifier,
                cache: TokenCache::new(self.cache_capacity, self.cache_max_bytes),
                revocations: self.revocations,
            }),
        })
    }
}

struct Inner {
    name: String,
    realm: String,
    keys: Keys,
    rules: ClaimRules,
    /// `sources` is `[TokenSource::Bearer]`, the default: a cached token can
    /// be taken from the header without the full parse (see
    /// `auth_core::bearer_candidate`).
    bearer_only: bool,
    sources: Vec<TokenSource>,
    mapping: ClaimMapping,
    verifier: Option<ExtraVerifier>,
    cache: TokenCache,
    revocations: Option<Arc<auth_core::Revocations>>,
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
            claim_roles: true,
            fixed_roles: Vec::new(),
            verifier: None,
            cache_capacity: 10_000,
            cache_max_bytes: crate::cache::DEFAULT_CACHE_BYTES,
            any_issuer: false,
            scopes_claim: None,
            custom_principal_rules: Vec::new(),
            principal_rules: vec![PrincipalRule::KindClaim, PrincipalRule::ClientCredentials],
            accept_sender_constrained: false,
            revocations: None,
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
            .key(VerifyingKey::hmac(secret, jsonwebtoken::Algorithm::HS256)?)
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
    /// token's cache entry (none when the token is not cached, see
    /// [`Checked`]).
    async fn check_token(&self, token: &str) -> Checked {
        let rules = &self.inner.rules;
        if token.len() > rules.max_len {
            return Err(VerifyError::TooLarge);
        }
        let mut keys = self.key_set().await?;
        if let Some(hit) = self.cache_hit(token.as_bytes(), &keys) {
            return hit;
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

    /// The answer for `token` if the cache holds it: its header, claims and
    /// profile slot, or the time check that now fails; `None` when it is not
    /// cached.
    fn cache_hit(&self, token: &[u8], keys: &KeySet) -> Option<Checked> {
        // SAFETY-NOTE: a hit counts only while the key that verified the
        // token is in the current set: a retired key takes its cached tokens
        // with it (issue 11.7).
        let hit = self.inner.cache.get(token, |ids| keys.contains_all(ids))?;
        let rules = &self.inner.rules;
        // SAFETY-NOTE: time-based claims are re-checked on every hit; a
        // cached token must expire exactly when an uncached one would.
        let now = rules.clock.now_secs();
        Some(
            verify::check_time_values(hit.exp, hit.nbf, rules.require_exp, rules.leeway, now).map(
                |()| {
                    let verified = crate::VerifiedToken {
                        header: hit.header,
                        claims: hit.claims,
                    };
                    (verified, Some(hit.profile))
                },
            ),
        )
    }

    /// Verifies a token that did not come from an HTTP header (e.g. from a
    /// WebSocket message, see [`token_from_ws_message`](auth_core::token_from_ws_message)) and maps it to a
    /// profile, running the extra verifier.
    pub async fn authenticate_token(&self, token: &str) -> Result<UserProfile, AuthError> {
        let checked = self.check_token(token).await;
        self.profile_for(checked).await
    }

    /// The profile of a token checked by `check_token` or `cache_hit`:
    /// revocation, claims mapping (or the cached profile), extra verifier.
    async fn profile_for(&self, checked: Checked) -> Result<UserProfile, AuthError> {
        let (verified, slot) = checked.map_err(|e| self.auth_error(e))?;
        // Every request, cache hits included: a revoked token must stop
        // working at once, wherever it was verified before.
        if let Some(revocations) = &self.inner.revocations {
            match &slot {
                Some(slot) => {
                    let key = slot
                        .revocation
                        .get_or_init(|| RevocationKey::of(&verified.claims));
                    revocations.check(key.jti.as_deref(), &key.subject, key.issued_at)?;
                }
                None => {
                    let (jti, subject, issued_at) = revocation_claims(&verified.claims);
                    revocations.check(jti, &subject, issued_at)?;
                }
            }
        }
        // A repeated token reuses the profile built the first time: its
        // claims are the same and the time checks above ran again.
        let profile = match slot.as_deref().and_then(|s| s.profile.get()) {
            Some(profile) => profile.clone(),
            None => {
                let profile = self
                    .inner
                    .mapping
                    .profile(verified.claims, &self.inner.name)?;
                if let Some(slot) = slot {
                    // Another request may have filled it meanwhile: same value.
                    let _ = slot.profile.set(profile.clone());
                }
                profile
            }
        };
        match &self.inner.verifier {
            Some(v) => v(profile).await,
            None => Ok(profile),
        }
    }

    /// The strategy's answer for a checked profile; a failure is logged
    /// (what failed, never the token).
    fn outcome(&self, profile: Result<UserProfile, AuthError>) -> Result<AuthOutcome, AuthError> {
        if let Err(e) = &profile {
            // Never the token: only what failed.
            tracing::debug!(strategy = %self.inner.name, code = e.code(), "jwt rejected: {e}");
        }
        profile.map(AuthOutcome::Authenticated)
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

    /// The subprotocol to select in the WebSocket handshake response of
    /// `req`, when this strategy reads tokens from `Sec-WebSocket-Protocol`
    /// and the request carries one there; see [`select_websocket_protocol`]
    /// for the convention. Call it after the request authenticated, and set
    /// the response's `Sec-WebSocket-Protocol` to the result.
    ///
    /// ```
    /// use auth_jwt::{VerifyingKey, JwtStrategy, TokenSource};
    /// let strategy = JwtStrategy::builder()
    ///     .key(VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap())
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

    /// `http` `bearer` with `bearerFormat: JWT` when the token is read from
    /// `Authorization`; an `apiKey` in the cookie or the `access_token`
    /// query parameter when that is its only source.
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::TokenSource;
        use auth_core::openapi::utoipa::openapi::security::{
            ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme,
        };
        let bearer = || {
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            )
        };
        Some(match self.inner.sources.first() {
            _ if self.inner.sources.contains(&TokenSource::Bearer) => bearer(),
            Some(TokenSource::Cookie(name)) => {
                SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(name)))
            }
            Some(TokenSource::Query) => {
                SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("access_token")))
            }
            _ => bearer(),
        })
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        // A token seen before skips the header parse: `bearer_candidate`
        // takes the bytes after `Bearer `, and only a cache hit is trusted,
        // since the cache holds only verified tokens, which are three
        // base64url parts and so a token68 the full parse returns unchanged.
        // Anything else takes the full path below: a miss, or keys that
        // cannot be had now (the full path parses first, so a malformed
        // header is still a 400 during a JWK Set outage). A miss costs one
        // more cache lookup than before.
        if self.inner.bearer_only
            && self.inner.cache.is_enabled()
            && let Some(token) = auth_core::bearer_candidate(req.headers())
            && token.len() <= self.inner.rules.max_len
            && let Ok(keys) = self.key_set().await
            && let Some(hit) = self.cache_hit(token, &keys)
        {
            let profile = self.profile_for(hit).await;
            return self.outcome(profile);
        }
        let Some(found) = find_token(req, &self.inner.sources)? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        let profile = self.authenticate_token(found.token()).await;
        let outcome = self.outcome(profile)?;
        // RFC 6750 §2.3: a response to a query token must not sit in a
        // shared cache.
        found.mark_request(req);
        Ok(outcome)
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        Some(Challenge::bearer(&self.inner.realm, failure))
    }
}
