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
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.rules.audiences.push(aud.into());
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

    /// Builds the strategy; refuses to start without a key.
    pub fn build(self) -> Result<JwtStrategy, JwtConfigError> {
        crate::ensure_crypto_provider();
        if self.sources.is_empty() {
            return Err(JwtConfigError::NoSource);
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
        }
    }

    /// The common case: HS256 with a secret of at least 32 bytes.
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
        let mut scopes = strings(claims.get("scope"));
        if scopes.is_empty() {
            scopes = strings(claims.get("scp"));
        }
        profile.scopes = scopes;
        if claims.get(crate::issue::KIND_CLAIM).and_then(Value::as_str) == Some("service") {
            profile.kind = PrincipalKind::Service;
        }
        profile.claims = claims;
        Ok(profile)
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

fn peek_kid(token: &str) -> Option<String> {
    use base64::Engine as _;
    let header = token.split('.').next()?;
    if header.len() > 4096 {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v.get("kid")?.as_str().map(str::to_owned)
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
        (Some(token), None) => Ok(Some(token)),
        (None, _) => Err(AuthError::invalid_request(
            "the Authorization header has an empty bearer token",
        )),
        (Some(_), Some(_)) => Err(AuthError::invalid_request(
            "the Authorization header value has too many parts: use 'Bearer <token>'",
        )),
    }
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

fn ws_protocol_token(headers: &HeaderMap, marker: &str) -> Result<Option<String>, AuthError> {
    let Some(value) = headers.get(SEC_WEBSOCKET_PROTOCOL) else {
        return Ok(None);
    };
    let Ok(value) = value.to_str() else {
        return Ok(None);
    };
    let mut items = value.split(',').map(str::trim);
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
