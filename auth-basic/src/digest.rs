//! HTTP Digest authentication (RFC 7616).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use auth_core::{
    AuthError, AuthOutcome, AuthParams, AuthenticationStrategy, Authorization, Challenge, Clock,
    CredentialsData, CredentialsError, MemoryStore, StateStore, StrategyOptions, SystemClock,
    UserProfile,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use md5::Md5;
use rand::RngCore;
use sha2::{Digest as _, Sha256, Sha512_256};
use subtle::ConstantTimeEq;

use crate::store::UserStore;
use auth_core::BruteForceGuard;

/// A Digest hash algorithm (RFC 7616 §3.2 names).
///
/// Ordered from the strongest to the weakest; a strategy offers SHA-256
/// alone unless told otherwise ([`DigestStrategy::with_sha512_256`],
/// [`DigestStrategy::dangerously_allow_md5`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum DigestAlgorithm {
    /// SHA-512/256 (FIPS 180-4 §6.7, RFC 7616's `SHA-512-256`): opt-in.
    Sha512_256,
    /// SHA-256: the default, and the only algorithm offered by default.
    Sha256,
    /// MD5: broken, for old clients only; opt-in.
    Md5,
}

impl DigestAlgorithm {
    /// Every algorithm this crate knows, strongest first.
    pub const ALL: [DigestAlgorithm; 3] = [
        DigestAlgorithm::Sha512_256,
        DigestAlgorithm::Sha256,
        DigestAlgorithm::Md5,
    ];

    /// The name used on the wire and in stores: `"SHA-512-256"`,
    /// `"SHA-256"` or `"MD5"`.
    pub fn as_str(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha512_256 => "SHA-512-256",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Md5 => "MD5",
        }
    }

    /// Parses a wire name (case-insensitive). The `-sess` variants are not
    /// supported.
    ///
    /// ```
    /// use auth_basic::DigestAlgorithm;
    /// assert_eq!(DigestAlgorithm::parse("sha-512-256"), Some(DigestAlgorithm::Sha512_256));
    /// assert_eq!(DigestAlgorithm::parse("SHA-256-sess"), None);
    /// ```
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str().eq_ignore_ascii_case(name))
    }

    /// `H(data)` as lower-case hex.
    ///
    /// ```
    /// use auth_basic::DigestAlgorithm;
    /// // FIPS 180-4 example (NIST CSRC): SHA-512/256("abc").
    /// assert_eq!(
    ///     DigestAlgorithm::Sha512_256.hex(b"abc"),
    ///     "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
    /// );
    /// ```
    pub fn hex(self, data: &[u8]) -> String {
        match self {
            DigestAlgorithm::Sha512_256 => to_hex(&Sha512_256::digest(data)),
            DigestAlgorithm::Sha256 => to_hex(&Sha256::digest(data)),
            DigestAlgorithm::Md5 => to_hex(&Md5::digest(data)),
        }
    }
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `HA1 = H(username:realm:password)` (RFC 7616 §3.4.2), what a store keeps
/// for Digest instead of the password.
///
/// ```
/// use auth_basic::{ha1, DigestAlgorithm};
/// assert_eq!(
///     ha1(DigestAlgorithm::Md5, "Mufasa", "http-auth@example.org", "Circle of Life"),
///     "3d78807defe7de2157e2b0b6573a855f"
/// );
/// ```
pub fn ha1(algorithm: DigestAlgorithm, username: &str, realm: &str, password: &str) -> String {
    algorithm.hex(format!("{username}:{realm}:{password}").as_bytes())
}

/// The response a client computes (RFC 7616 §3.4.1, `qop=auth`):
/// `H(HA1:nonce:nc:cnonce:qop:H(method:uri))`.
///
/// ```
/// use auth_basic::{ha1, digest_response as response, DigestAlgorithm};
/// // RFC 7616 §3.9.1
/// let alg = DigestAlgorithm::Sha256;
/// let ha1 = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
/// assert_eq!(
///     response(alg, &ha1, "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", "00000001",
///              "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", "auth", "GET", "/dir/index.html"),
///     "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
/// );
/// ```
#[allow(clippy::too_many_arguments)]
pub fn response(
    algorithm: DigestAlgorithm,
    ha1: &str,
    nonce: &str,
    nc: &str,
    cnonce: &str,
    qop: &str,
    method: &str,
    uri: &str,
) -> String {
    let ha2 = algorithm.hex(format!("{method}:{uri}").as_bytes());
    algorithm.hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").as_bytes())
}

/// `userhash` (RFC 7616 §3.4.4): `H(username:realm)`.
pub fn userhash(algorithm: DigestAlgorithm, username: &str, realm: &str) -> String {
    algorithm.hex(format!("{username}:{realm}").as_bytes())
}

/// Parses a list of auth-parameters, e.g. a `Digest` challenge or
/// credentials after the scheme, with `auth-core`'s parser ([`AuthParams`]):
/// `name=token` or `name="quoted \"string\""`, comma-separated. Names are
/// lower-cased; a repeated name is an error.
///
/// ```
/// use auth_basic::parse_digest_params as parse_params;
/// let p = parse_params(r#"realm="api", qop="auth", algorithm=SHA-256"#).unwrap();
/// assert_eq!(p["algorithm"], "SHA-256");
/// assert!(parse_params("nc=1, NC=2").is_err());
/// ```
pub fn parse_params(input: &str) -> Result<HashMap<String, String>, CredentialsError> {
    Ok(AuthParams::parse(input)?
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.to_owned()))
        .collect())
}

/// The credentials of a `Digest` `Authorization` header (RFC 7616 §3.4),
/// read by `auth-core`'s parser and checked for shape: every parameter
/// `qop=auth` needs is present, `qop` is `auth`, `nc` is 8 hex digits, and
/// no value holds a control character.
///
/// `Debug` shows neither `response` nor `cnonce`.
///
/// ```
/// use auth_basic::DigestCredentials;
/// // RFC 7616 §3.9.1
/// let creds = DigestCredentials::parse(br#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#)
///     .unwrap()
///     .unwrap();
/// assert_eq!(creds.username, "Mufasa");
/// assert_eq!(creds.nonce_count(), 1);
/// assert_eq!(creds.algorithm.as_deref(), Some("SHA-256"));
/// assert!(DigestCredentials::parse(b"Basic QWxhZGRpbg==").unwrap().is_none());
/// assert_eq!(DigestCredentials::parse(b"Digest nc=1, nc=2").unwrap_err().status(), 400);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DigestCredentials {
    /// `username`, or `H(username:realm)` when [`userhash`](Self::userhash).
    pub username: String,
    /// `realm`.
    pub realm: String,
    /// `nonce`, as the server issued it.
    pub nonce: String,
    /// `uri`: the request target the response was computed for.
    pub uri: String,
    /// `response`: the client's proof.
    pub response: String,
    /// `qop`: always `auth` (case as sent).
    pub qop: String,
    /// `nc`: the nonce count as sent, 8 hex digits.
    pub nc: String,
    /// `cnonce`.
    pub cnonce: String,
    /// `algorithm` as sent; absent means MD5 (RFC 7616 §3.3).
    pub algorithm: Option<String>,
    /// `opaque`, if sent.
    pub opaque: Option<String>,
    /// `userhash=true`: [`username`](Self::username) is hashed.
    pub userhash: bool,
    nonce_count: u64,
}

impl std::fmt::Debug for DigestCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestCredentials")
            .field("username", &self.username)
            .field("realm", &self.realm)
            .field("uri", &self.uri)
            .field("nc", &self.nc)
            .field("algorithm", &self.algorithm)
            .field("userhash", &self.userhash)
            .finish_non_exhaustive()
    }
}

impl DigestCredentials {
    /// Reads the request's `Authorization` header: `Ok(None)` without one or
    /// with another scheme; 400 with several `Authorization` headers or
    /// malformed Digest credentials.
    pub fn from_request(req: &HttpRequest) -> Result<Option<Self>, AuthError> {
        match Authorization::from_request(req)? {
            Some(auth) => Self::from_authorization(auth),
            None => Ok(None),
        }
    }

    /// Reads one `Authorization` value, as [`from_request`](Self::from_request).
    pub fn parse(value: &[u8]) -> Result<Option<Self>, AuthError> {
        Self::from_authorization(Authorization::from_bytes(value))
    }

    fn from_authorization(auth: Authorization<'_>) -> Result<Option<Self>, AuthError> {
        let malformed = |reason: &dyn std::fmt::Display| {
            AuthError::invalid_request(format!(
                "Authorization header 'Digest' value is malformed: {reason}."
            ))
        };
        let Some(creds) = auth.parse_scheme("digest").map_err(|e| malformed(&e))? else {
            return Ok(None);
        };
        match creds.data() {
            CredentialsData::Params(params) => Self::from_params(params).map(Some),
            CredentialsData::Empty => Self::from_params(&AuthParams::default()).map(Some),
            _ => Err(malformed(
                &"Digest credentials are auth-parameters, not a token68",
            )),
        }
    }

    /// Checks the shape of parsed Digest parameters.
    pub fn from_params(p: &AuthParams<'_>) -> Result<Self, AuthError> {
        if p.iter().any(|(_, v)| v.chars().any(char::is_control)) {
            return Err(AuthError::invalid_request(
                "Authorization header 'Digest' value is malformed: a parameter contains control characters.",
            ));
        }
        let get = |name: &'static str| {
            p.get(name).map(str::to_owned).ok_or_else(|| {
                AuthError::invalid_request(format!(
                    "Authorization header 'Digest' value is missing '{name}'."
                ))
            })
        };
        let (username, realm, nonce, uri, response) = (
            get("username")?,
            get("realm")?,
            get("nonce")?,
            get("uri")?,
            get("response")?,
        );
        let (qop, nc, cnonce) = (get("qop")?, get("nc")?, get("cnonce")?);
        if !qop.eq_ignore_ascii_case("auth") {
            return Err(AuthError::invalid_request("Only qop=auth is supported."));
        }
        // RFC 7616 §3.4: nc is exactly 8 hex digits.
        let nonce_count = (nc.len() == 8)
            .then(|| u64::from_str_radix(&nc, 16).ok())
            .flatten()
            .ok_or_else(|| AuthError::invalid_request("Digest 'nc' must be 8 hex digits."))?;
        Ok(DigestCredentials {
            username,
            realm,
            nonce,
            uri,
            response,
            qop,
            nc,
            cnonce,
            algorithm: p.get("algorithm").map(str::to_owned),
            opaque: p.get("opaque").map(str::to_owned),
            userhash: p
                .get("userhash")
                .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            nonce_count,
        })
    }

    /// The nonce count `nc` as a number.
    pub fn nonce_count(&self) -> u64 {
        self.nonce_count
    }

    /// The `response` these credentials must carry for `method` when the
    /// user's `HA1` is `ha1` ([`response`] over this header's parameters).
    ///
    /// ```
    /// use auth_basic::{ha1, DigestAlgorithm, DigestCredentials};
    /// // RFC 7616 §3.9.1
    /// let creds = DigestCredentials::parse(br#"Digest username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1""#)
    ///     .unwrap()
    ///     .unwrap();
    /// let alg = DigestAlgorithm::Sha256;
    /// let ha1 = ha1(alg, "Mufasa", "http-auth@example.org", "Circle of Life");
    /// assert_eq!(creds.expected_response(alg, &ha1, "GET"), creds.response);
    /// ```
    pub fn expected_response(&self, algorithm: DigestAlgorithm, ha1: &str, method: &str) -> String {
        response(
            algorithm,
            ha1,
            &self.nonce,
            &self.nc,
            &self.cnonce,
            &self.qop,
            method,
            &self.uri,
        )
    }
}

const NONCE_LEN: usize = 8 + 8 + 16;

/// The Digest strategy (RFC 7616): a SHA-256 challenge by default
/// (SHA-512-256 and MD5 only when enabled, one challenge per enabled
/// algorithm, strongest first), `qop="auth"`, stateless nonces (timestamp +
/// random + HMAC, so any instance with the same key validates them),
/// `stale=true` for an expired nonce, nonce-count replay rejected, optional
/// `userhash`.
///
/// A response computed with an algorithm that is not enabled (including a
/// response without `algorithm`, which RFC 7616 §3.3 reads as MD5) is a 401
/// with code `DIGEST_ALGORITHM_NOT_OFFERED` and fresh challenges, so the
/// client can answer again with an algorithm on offer.
///
/// ```
/// use std::sync::Arc;
/// use auth_basic::{DigestAlgorithm, DigestStrategy};
/// use auth_basic::MemoryUserStore;
///
/// let store = Arc::new(MemoryUserStore::new());
/// let default = DigestStrategy::new("api", store.clone());
/// assert_eq!(default.algorithms(), [DigestAlgorithm::Sha256]);
/// let legacy = DigestStrategy::new("api", store)
///     .dangerously_allow_md5()
///     .with_sha512_256();
/// assert_eq!(
///     legacy.algorithms(),
///     [DigestAlgorithm::Sha512_256, DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
/// );
/// ```
///
/// The store must hold HA1 values for the realm ([`UserStore::digest_ha1`]);
/// the CLI writes them (`users add --realm`), [`crate::SqlUserStore::set_digest_ha1`]
/// stores them in SQL.
///
/// Replay protection keeps, per nonce in use, the highest nonce count seen
/// (until the nonce expires) in a [`StateStore`]: its own [`MemoryStore`]
/// unless given one with [`with_store`](Self::with_store). A count is
/// accepted only when it is greater than every count seen for its nonce,
/// decided by the store in one atomic [`raise`](StateStore::raise); a store
/// shared by several instances makes a replay on another instance a replay
/// too. When the store is down or full the answer is 503, never a pass.
pub struct DigestStrategy {
    name: Cow<'static, str>,
    realm: String,
    store: Arc<dyn UserStore>,
    key: [u8; 32],
    opaque: String,
    nonce_ttl: Duration,
    clock: Arc<dyn Clock>,
    algorithms: Vec<DigestAlgorithm>,
    userhash: bool,
    guard: Option<BruteForceGuard>,
    counts: Arc<dyn StateStore>,
}

impl std::fmt::Debug for DigestStrategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DigestStrategy")
            .field("name", &self.name)
            .field("realm", &self.realm)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// The 401 code of an expired nonce (answered with `stale=true`).
pub const STALE_NONCE: &str = "STALE_NONCE";

/// The 401 code of a response computed with an algorithm that is not
/// offered (answered with fresh challenges).
pub const ALGORITHM_NOT_OFFERED: &str = "DIGEST_ALGORITHM_NOT_OFFERED";

impl DigestStrategy {
    /// A strategy named `"digest"` for `realm`, with a random nonce key (use
    /// [`with_key`](Self::with_key) to share one between instances).
    pub fn new(realm: impl Into<String>, store: Arc<dyn UserStore>) -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        let realm = realm.into();
        let mut s = DigestStrategy {
            name: Cow::Borrowed("digest"),
            opaque: String::new(),
            realm,
            store,
            key,
            nonce_ttl: Duration::from_secs(300),
            clock: Arc::new(SystemClock),
            algorithms: vec![DigestAlgorithm::Sha256],
            userhash: false,
            guard: None,
            counts: Arc::new(MemoryStore::new()),
        };
        s.opaque = s.make_opaque();
        s
    }

    fn make_opaque(&self) -> String {
        let mut mac = self.mac();
        mac.update(b"opaque:");
        mac.update(self.realm.as_bytes());
        URL_SAFE_NO_PAD.encode(&mac.finalize().into_bytes()[..16])
    }

    /// Uses `key` (32 bytes) for nonce MACs.
    pub fn with_key(mut self, key: [u8; 32]) -> Self {
        self.key = key;
        self.opaque = self.make_opaque();
        self
    }

    /// How long a nonce is valid (default 5 minutes); older ones are `stale`.
    pub fn with_nonce_ttl(mut self, ttl: Duration) -> Self {
        self.nonce_ttl = ttl;
        self
    }

    /// Another clock for nonce timestamps and expiry (tests); the nonce
    /// counts expire by their store's clock.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Keeps nonce counts in `store` (keys `digest:nc:<nonce>`, each living
    /// as long as its nonce), e.g. one shared by every instance.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use auth_basic::{DigestStrategy, MemoryUserStore};
    /// use auth_core::MemoryStore;
    /// let shared = Arc::new(MemoryStore::new());
    /// let digest = DigestStrategy::new("api", Arc::new(MemoryUserStore::new())).with_store(shared);
    /// # let _ = digest;
    /// ```
    pub fn with_store(mut self, store: Arc<dyn StateStore>) -> Self {
        self.counts = store;
        self
    }

    fn enable(mut self, algorithm: DigestAlgorithm) -> Self {
        if !self.algorithms.contains(&algorithm) {
            self.algorithms.push(algorithm);
            // Strongest first (the enum's order), whatever the call order.
            self.algorithms.sort();
        }
        self
    }

    /// Also offers SHA-512-256 (RFC 7616 §3.2), first. The store needs HA1
    /// values for it (the CLI writes them).
    pub fn with_sha512_256(self) -> Self {
        self.enable(DigestAlgorithm::Sha512_256)
    }

    /// Also offers MD5, last, for clients that know nothing else. MD5 is
    /// broken and its HA1 values are cheap to attack; enable it only for
    /// such clients. A response without `algorithm` is read as MD5 (RFC 7616
    /// §3.3) and is refused unless this is set.
    pub fn dangerously_allow_md5(self) -> Self {
        self.enable(DigestAlgorithm::Md5)
    }

    /// The algorithms offered, strongest first: one challenge each.
    pub fn algorithms(&self) -> &[DigestAlgorithm] {
        &self.algorithms
    }

    /// Offers `userhash=true` (the client may send `H(username:realm)`).
    pub fn with_userhash(mut self, on: bool) -> Self {
        self.userhash = on;
        self
    }

    /// Counts failures with a brute-force guard.
    pub fn with_guard(mut self, guard: BruteForceGuard) -> Self {
        self.guard = Some(guard);
        self
    }

    /// Registers under another name.
    pub fn with_name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    fn mac(&self) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("any key length")
    }

    /// A fresh nonce: timestamp, random bytes and a MAC over both and the realm.
    pub fn new_nonce(&self) -> String {
        let mut raw = [0u8; NONCE_LEN];
        raw[..8].copy_from_slice(&self.clock.now_ms().to_be_bytes());
        rand::rngs::OsRng.fill_bytes(&mut raw[8..16]);
        let tag = self.nonce_tag(&raw[..16]);
        raw[16..].copy_from_slice(&tag);
        URL_SAFE_NO_PAD.encode(raw)
    }

    fn nonce_tag(&self, body: &[u8]) -> [u8; 16] {
        let mut mac = self.mac();
        mac.update(b"nonce:");
        mac.update(body);
        mac.update(self.realm.as_bytes());
        let full = mac.finalize().into_bytes();
        let mut tag = [0u8; 16];
        tag.copy_from_slice(&full[..16]);
        tag
    }

    /// `Ok(issued_ms)` for a nonce this server made; `Err(())` otherwise.
    fn nonce_issued(&self, nonce: &str) -> Result<u64, ()> {
        let raw = URL_SAFE_NO_PAD.decode(nonce).map_err(|_| ())?;
        if raw.len() != NONCE_LEN {
            return Err(());
        }
        let tag = self.nonce_tag(&raw[..16]);
        if !bool::from(tag.ct_eq(&raw[16..])) {
            return Err(());
        }
        Ok(u64::from_be_bytes(raw[..8].try_into().map_err(|_| ())?))
    }

    /// Records nonce count `nc` for `nonce`; false when it is not greater than
    /// the last one seen (a replay). The store decides atomically, so two
    /// requests with one count cannot both pass.
    async fn accept_count(&self, nonce: &str, nc: u64, expires_ms: u64) -> Result<bool, AuthError> {
        // Counts start at 1 (RFC 7616 §3.4); 0 was never greater than anything seen.
        if nc == 0 {
            return Ok(false);
        }
        let left = expires_ms.saturating_sub(self.clock.now_ms());
        Ok(self
            .counts
            .raise(
                &format!("digest:nc:{nonce}"),
                nc,
                Duration::from_millis(left.max(1)),
            )
            .await?)
    }

    async fn verify(
        &self,
        req: &HttpRequest,
        creds: &DigestCredentials,
    ) -> Result<UserProfile, AuthError> {
        // RFC 7616 §3.3: an absent `algorithm` means MD5. An algorithm we do
        // not offer is a 401 with fresh challenges (not a 400): the request
        // is well formed, and the client can answer again with one on offer.
        let algorithm = match &creds.algorithm {
            None => Some(DigestAlgorithm::Md5),
            Some(a) => DigestAlgorithm::parse(a),
        }
        .filter(|a| self.algorithms.contains(a))
        .ok_or_else(|| {
            AuthError::invalid_credentials(
                ALGORITHM_NOT_OFFERED,
                "The Digest algorithm is not offered; answer one of the challenges.",
            )
        })?;
        let expected_uri = req
            .uri()
            .path_and_query()
            .map(|pq| pq.as_str())
            .unwrap_or("/");
        if creds.uri != expected_uri {
            return Err(AuthError::invalid_request(
                "Digest 'uri' does not match the request target.",
            ));
        }
        if creds.realm != self.realm {
            return Err(crate::invalid_credentials());
        }
        let username = if creds.userhash {
            if !self.userhash {
                return Err(AuthError::invalid_request("userhash is not offered."));
            }
            self.store
                .username_by_userhash(&creds.username, &creds.realm, algorithm.as_str())
                .await?
        } else {
            Some(creds.username.clone())
        };

        let attempt = match &self.guard {
            Some(g) => Some(g.check(req, username.as_deref()).await?),
            None => None,
        };
        let result = self.check(req, creds, username, algorithm).await;
        if let Some(attempt) = attempt {
            attempt.record(&result).await;
        }
        result
    }

    async fn check(
        &self,
        req: &HttpRequest,
        creds: &DigestCredentials,
        username: Option<String>,
        algorithm: DigestAlgorithm,
    ) -> Result<UserProfile, AuthError> {
        let (nonce, nc_value) = (creds.nonce.as_str(), creds.nonce_count());
        let stored = match &username {
            Some(u) => {
                self.store
                    .digest_ha1(u, &self.realm, algorithm.as_str())
                    .await?
            }
            None => None,
        };
        // Unknown user (or no HA1 for this realm): compute against a dummy so
        // both paths do the same work, then fail.
        let ha1 = stored
            .clone()
            .unwrap_or_else(|| algorithm.hex(b"auth-basic:dummy:digest"));
        let expected = creds.expected_response(algorithm, &ha1, req.method().as_str());
        let matches = bool::from(
            expected
                .as_bytes()
                .ct_eq(creds.response.to_ascii_lowercase().as_bytes()),
        ) && stored.is_some();
        let issued = self.nonce_issued(nonce);
        if !matches {
            return Err(crate::invalid_credentials());
        }
        let issued = issued.map_err(|()| crate::invalid_credentials())?;
        let now = self.clock.now_ms();
        let ttl = self.nonce_ttl.as_millis() as u64;
        if issued > now.saturating_add(5_000) || now.saturating_sub(issued) > ttl {
            // Right password, old nonce: tell the client to retry with a new
            // one without asking the user again (RFC 7616 §3.3 `stale`).
            return Err(AuthError::invalid_credentials(
                STALE_NONCE,
                "The nonce has expired.",
            ));
        }
        if !self
            .accept_count(nonce, nc_value, issued.saturating_add(ttl))
            .await?
        {
            return Err(AuthError::invalid_credentials(
                "NONCE_REPLAYED",
                "The nonce count was already used.",
            ));
        }
        let username = username.unwrap_or_default();
        let record = self
            .store
            .find_user(&username)
            .await?
            .ok_or_else(crate::invalid_credentials)?;
        Ok(record
            .profile()
            .with_strategy(self.name.clone().into_owned()))
    }

    fn challenge_for(&self, algorithm: DigestAlgorithm, nonce: &str, stale: bool) -> Challenge {
        let mut c = Challenge::new("Digest")
            .param("realm", self.realm.clone())
            .param("qop", "auth")
            .token_param("algorithm", algorithm.as_str())
            .param("nonce", nonce.to_owned())
            .param("opaque", self.opaque.clone())
            .param("charset", "UTF-8");
        if self.userhash {
            c = c.token_param("userhash", "true");
        }
        if stale {
            c = c.token_param("stale", "true");
        }
        c
    }
}

#[auth_core::async_trait(?Send)]
impl AuthenticationStrategy for DigestStrategy {
    fn name(&self) -> &str {
        &self.name
    }

    /// `http` `digest`.
    #[cfg(feature = "openapi")]
    fn security_scheme(
        &self,
    ) -> Option<auth_core::openapi::utoipa::openapi::security::SecurityScheme> {
        use auth_core::openapi::utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        Some(SecurityScheme::Http(Http::new(HttpAuthScheme::Digest)))
    }

    async fn authenticate(
        &self,
        req: &HttpRequest,
        _options: &StrategyOptions,
    ) -> Result<AuthOutcome, AuthError> {
        let Some(creds) = DigestCredentials::from_request(req)? else {
            return Ok(AuthOutcome::NotApplicable);
        };
        self.verify(req, &creds)
            .await
            .map(AuthOutcome::Authenticated)
    }

    fn challenge(&self, failure: Option<&AuthError>) -> Option<Challenge> {
        self.challenges(failure).into_iter().next()
    }

    fn challenges(&self, failure: Option<&AuthError>) -> Vec<Challenge> {
        let stale = failure.is_some_and(|f| f.code() == STALE_NONCE);
        let nonce = self.new_nonce();
        self.algorithms
            .iter()
            .map(|&alg| self.challenge_for(alg, &nonce, stale))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1, both algorithms, exactly.
    #[test]
    fn rfc7616_worked_example() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        let realm = "http-auth@example.org";
        let run = |alg| {
            let h = ha1(alg, "Mufasa", realm, "Circle of Life");
            response(
                alg,
                &h,
                nonce,
                "00000001",
                cnonce,
                "auth",
                "GET",
                "/dir/index.html",
            )
        };
        assert_eq!(
            run(DigestAlgorithm::Md5),
            "8ca523f5e9506fed4657c9700eebdbec"
        );
        assert_eq!(
            run(DigestAlgorithm::Sha256),
            "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
        );
    }

    #[test]
    fn parses_the_rfc_authorization_header() {
        let p = parse_params(
            r#"username="Mufasa", realm="http-auth@example.org", uri="/dir/index.html", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", nc=00000001, cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ", qop=auth, response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#,
        )
        .unwrap();
        assert_eq!(p["username"], "Mufasa");
        assert_eq!(p["algorithm"], "SHA-256");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["qop"], "auth");
        assert_eq!(parse_params(r#"a="x\"y""#).unwrap()["a"], "x\"y");
        assert!(parse_params(r#"a="x"#).is_err());
        assert!(parse_params("a=1, a=2").is_err());
        assert!(parse_params("a=1 b=2").is_err());
        assert!(parse_params("novalue").is_err());
    }

    #[test]
    fn userhash_matches_the_rfc() {
        // RFC 7616 §3.9.2's user and realm, SHA-512-256. The expected value
        // was computed with OpenSSL (Python's `hashlib.new("sha512_256")`)
        // over the UTF-8 bytes of "Jäsøn Doe:api@example.org". The userhash
        // printed in the RFC's example (4888694…) is not what that
        // construction gives with OpenSSL either, so it is not used here.
        assert_eq!(
            userhash(
                DigestAlgorithm::Sha512_256,
                "J\u{e4}s\u{f8}n Doe",
                "api@example.org"
            ),
            "793263caabb707a56211940d90411ea4a575adeccb7e360aeb624ed06ece9b0b"
        );
        assert_eq!(
            userhash(DigestAlgorithm::Md5, "Mufasa", "http-auth@example.org"),
            DigestAlgorithm::Md5.hex(b"Mufasa:http-auth@example.org")
        );
    }

    #[test]
    fn sha512_256_is_the_truncated_sha512_variant_not_a_truncated_sha512() {
        // FIPS 180-4 / NIST CSRC examples: SHA-512/256 of "abc" and of the
        // two-block message; the first 256 bits of SHA-512 differ.
        assert_eq!(
            DigestAlgorithm::Sha512_256.hex(b"abc"),
            "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"
        );
        assert_eq!(
            DigestAlgorithm::Sha512_256.hex(
                b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"
            ),
            "3928e184fb8690f840da3988121d31be65cb9d3ef83ee6146feac861e19b563a"
        );
        let sha512 = to_hex(&sha2::Sha512::digest(b"abc"));
        assert_ne!(DigestAlgorithm::Sha512_256.hex(b"abc"), sha512[..64]);
        for name in ["SHA-512-256", "sha-512-256", "Sha-512-256"] {
            assert_eq!(
                DigestAlgorithm::parse(name),
                Some(DigestAlgorithm::Sha512_256)
            );
        }
        for name in ["SHA-512", "SHA-512/256", "SHA-512-256-sess", "SHA256", ""] {
            assert_eq!(DigestAlgorithm::parse(name), None, "{name}");
        }
    }
}
