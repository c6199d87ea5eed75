//! The one verification path shared by the strategy and the CLI.

use std::sync::Arc;

use crate::algorithm::JwsAlgorithm;
use auth_core::{Clock, SystemClock};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::json::StrictJsonError;
use crate::key::KeySet;

/// Default largest token accepted, in bytes.
pub const DEFAULT_MAX_TOKEN_LEN: usize = 8 * 1024;

/// Why a token was refused. `Display` never contains the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The token is longer than the configured limit; nothing was decoded.
    #[error("token too large")]
    TooLarge,
    /// Not three base64url parts of JSON objects.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// `alg` is `none`, unknown, or not the key's algorithm.
    #[error("token algorithm not accepted")]
    Algorithm,
    /// The header has a `crit` extension this library does not implement.
    #[error("token has an unsupported critical header")]
    Critical,
    /// No configured key has the token's `kid`.
    #[error("token signed by an unknown key")]
    UnknownKey,
    /// The signature does not verify with any candidate key.
    #[error("invalid token signature")]
    Signature,
    /// `exp` is in the past.
    #[error("token expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// A required claim is absent.
    #[error("token lacks the {0} claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type or value.
    #[error("token has an invalid {0} claim")]
    InvalidClaim(&'static str),
    /// The token names an audience (`aud`) but the verifier was configured
    /// with none and did not say "any audience" (RFC 7519 §4.1.3).
    #[error("token names an audience but this service accepts none")]
    UnexpectedAudience,
    /// The header's `typ` is not the one required.
    #[error("token has the wrong type")]
    WrongType,
    /// No key could be obtained (the key server is down and nothing is cached).
    #[error("signing keys are unavailable")]
    KeysUnavailable,
}

impl VerifyError {
    /// The stable error code: `TOKEN_EXPIRED` for expiry, `INVALID_TOKEN`
    /// otherwise (`SERVICE_UNAVAILABLE` when keys cannot be obtained).
    pub fn code(&self) -> &'static str {
        match self {
            VerifyError::Expired => "TOKEN_EXPIRED",
            VerifyError::KeysUnavailable => "SERVICE_UNAVAILABLE",
            _ => "INVALID_TOKEN",
        }
    }
}

/// A [`Clock`] read from a function of seconds since the epoch: what the
/// builders' `clock(|| secs)` methods take.
pub(crate) struct SecondsFn<F>(pub(crate) F);

impl<F: Fn() -> u64 + Send + Sync + 'static> Clock for SecondsFn<F> {
    fn now_ms(&self) -> u64 {
        (self.0)().saturating_mul(1000)
    }

    fn now_secs(&self) -> u64 {
        (self.0)()
    }
}

/// Claim rules applied after the signature is verified.
#[derive(Clone)]
pub struct ClaimRules {
    /// Allowed clock skew in seconds for `exp` and `nbf` (default 30).
    pub leeway: u64,
    /// Whether `exp` must be present (default true).
    pub require_exp: bool,
    /// Accepted issuers; when set, `iss` must be present and one of them.
    pub issuers: Vec<String>,
    /// Accepted audiences; when set, `aud` must be present and name one of them.
    /// When empty, a token carrying `aud` is refused unless
    /// [`any_audience`](Self::any_audience) is set (RFC 7519 §4.1.3).
    pub audiences: Vec<String>,
    /// Accept a token whatever its `aud` says when `audiences` is empty
    /// (default false). Only for a verifier that is truly the sole audience
    /// of its issuer's tokens.
    pub any_audience: bool,
    /// Required header `typ` (compared case-insensitively, with or without
    /// the `application/` prefix), e.g. `at+jwt`.
    pub typ: Option<String>,
    /// Largest token accepted, in bytes.
    pub max_len: usize,
    /// Where the current time comes from (seconds are what count).
    pub clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ClaimRules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimRules")
            .field("leeway", &self.leeway)
            .field("require_exp", &self.require_exp)
            .field("issuers", &self.issuers)
            .field("audiences", &self.audiences)
            .field("any_audience", &self.any_audience)
            .field("typ", &self.typ)
            .field("max_len", &self.max_len)
            .finish_non_exhaustive()
    }
}

impl Default for ClaimRules {
    fn default() -> Self {
        ClaimRules {
            leeway: 30,
            require_exp: true,
            issuers: Vec::new(),
            audiences: Vec::new(),
            any_audience: false,
            typ: None,
            max_len: DEFAULT_MAX_TOKEN_LEN,
            clock: Arc::new(SystemClock),
        }
    }
}

/// A verified compact JWS: its header and its raw payload.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// The `kid` of the key that verified it, if it has one.
    pub kid: Option<String>,
}

/// A verified token: header and claims.
#[derive(Debug, Clone)]
pub struct VerifiedToken {
    /// The protected header.
    pub header: Arc<Map<String, Value>>,
    /// The claims, shared with the verified-token cache and the profile.
    pub claims: Arc<Map<String, Value>>,
}

/// Header parameters this library understands when listed in `crit`.
/// None: `b64` (RFC 7797) and others change how the signature is computed.
const UNDERSTOOD_CRIT: &[&str] = &[];

fn b64(part: &str, what: &'static str) -> Result<Vec<u8>, VerifyError> {
    // RFC 7515 §2: base64url without padding; anything else is malformed.
    URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| VerifyError::Malformed(what))
}

/// Verifies the signature of a compact JWS against `keys`, with the
/// algorithm pinned by the key. Claims are not looked at.
pub fn verify_jws(token: &str, keys: &KeySet, max_len: usize) -> Result<VerifiedJws, VerifyError> {
    crate::ensure_crypto_provider();
    // SAFETY-NOTE: size first, so an attacker cannot make us base64-decode or
    // parse megabytes.
    if token.len() > max_len {
        return Err(VerifyError::TooLarge);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(VerifyError::Malformed("expected three parts"));
    };
    // SAFETY-NOTE: strict JSON: a duplicate member name (two `alg`s, two
    // `kid`s) is refused rather than resolved (issue 11.5).
    let header = crate::json::object_from_slice(&b64(h, "header is not base64url")?).map_err(
        |e| match e {
            StrictJsonError::Duplicate { .. } => {
                VerifyError::Malformed("header has a duplicate member name")
            }
            StrictJsonError::Syntax(_) => VerifyError::Malformed("header is not a JSON object"),
        },
    )?;
    let alg_name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(VerifyError::Malformed("header has no alg"))?;
    // `none` in any spelling is refused here, before any key is looked at;
    // jsonwebtoken has no `none` either, so this is belt and braces.
    if alg_name.eq_ignore_ascii_case("none") {
        return Err(VerifyError::Algorithm);
    }
    let alg: JwsAlgorithm = alg_name.parse().map_err(|_| VerifyError::Algorithm)?;
    // RFC 7515 §4.1.11: a critical extension we do not implement must fail.
    if let Some(crit) = header.get("crit") {
        match crit.as_array() {
            Some(list) if !list.is_empty() => {
                for name in list {
                    match name.as_str() {
                        Some(n) if UNDERSTOOD_CRIT.contains(&n) => {}
                        _ => return Err(VerifyError::Critical),
                    }
                }
            }
            _ => return Err(VerifyError::Critical),
        }
    }
    // `jku`, `x5u`, `x5c` and `jwk` are deliberately never read: a token
    // must not be able to bring its own key.
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err(VerifyError::Malformed("kid is not a string")),
    };
    if let Some(kid) = kid.as_deref()
        && !keys.has_kid(kid)
    {
        return Err(VerifyError::UnknownKey);
    }
    let payload = b64(p, "payload is not base64url")?;
    let signature = b64(s, "signature is not base64url")?;
    let message = &token[..h.len() + 1 + p.len()];
    let mut tried = false;
    for key in keys.candidates(kid.as_deref(), alg) {
        tried = true;
        // The key pins the algorithm: a header naming another one is refused
        // (this is what stops RS256 public keys being used as HS256 secrets).
        if key.alg != alg {
            return Err(VerifyError::Algorithm);
        }
        if key.verify_signature(s, &signature, message.as_bytes()) {
            return Ok(VerifiedJws {
                kid: key.kid.clone(),
                header,
                payload,
            });
        }
    }
    if !tried {
        return Err(VerifyError::Algorithm);
    }
    Err(VerifyError::Signature)
}

/// Verifies a JWT: signature (via [`verify_jws`]) and then the claim rules.
pub fn verify_jwt(
    token: &str,
    keys: &KeySet,
    rules: &ClaimRules,
) -> Result<VerifiedToken, VerifyError> {
    let jws = verify_jws(token, keys, rules.max_len)?;
    let claims = crate::json::object_from_slice(&jws.payload).map_err(|e| match e {
        StrictJsonError::Duplicate { .. } => {
            VerifyError::Malformed("claims have a duplicate member name")
        }
        StrictJsonError::Syntax(_) => VerifyError::Malformed("payload is not a JSON object"),
    })?;
    check_type(&jws.header, rules)?;
    check_times(&claims, rules, rules.clock.now_secs())?;
    check_iss_aud(&claims, rules)?;
    Ok(VerifiedToken {
        header: Arc::new(jws.header),
        claims: Arc::new(claims),
    })
}

fn check_type(header: &Map<String, Value>, rules: &ClaimRules) -> Result<(), VerifyError> {
    let Some(want) = &rules.typ else {
        return Ok(());
    };
    let norm = |s: &str| {
        let s = s.to_ascii_lowercase();
        s.strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(s)
    };
    match header.get("typ").and_then(Value::as_str) {
        Some(t) if norm(t) == norm(want) => Ok(()),
        _ => Err(VerifyError::WrongType),
    }
}

/// The largest NumericDate accepted: 9999-12-31T23:59:59Z. `exp`, `nbf`
/// and `iat` outside `0 ..= MAX_NUMERIC_DATE`, or not JSON numbers, make a
/// token invalid.
///
/// ```
/// use auth_jwt::{ClaimRules, KeySet, VerifyingKey, SigningKey, Algorithm, VerifyError, verify_jwt};
/// let secret = b"an example secret of 32+ bytes!!";
/// let keys = KeySet::new([VerifyingKey::hmac(secret, Algorithm::HS256).unwrap()]).unwrap();
/// let signer = SigningKey::hmac(secret, Algorithm::HS256).unwrap();
/// let never_expires = signer
///     .sign(&serde_json::json!({"sub": "a", "exp": 1e300}), None)
///     .unwrap();
/// assert_eq!(
///     verify_jwt(&never_expires, &keys, &ClaimRules::default()).unwrap_err(),
///     VerifyError::InvalidClaim("exp")
/// );
/// assert_eq!(auth_jwt::MAX_NUMERIC_DATE, 253_402_300_799);
/// ```
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// A NumericDate (RFC 7519 §2) as whole seconds, or `None` when the value is
/// not a JSON number in `0 ..= MAX_NUMERIC_DATE`.
///
/// SAFETY-NOTE: the range is checked before any conversion. A float cast
/// (`1e300 as i64`) saturates to `i64::MAX`, and a `u64` above `i64::MAX`
/// has no `i64` form: either used to read as "far future", a token that
/// never expires (issue 11.3). Fractions inside the range are valid
/// (RFC 7519 §2) and are truncated toward zero, i.e. rounded down.
pub(crate) fn numeric_date(value: &Value) -> Option<i64> {
    let Value::Number(n) = value else {
        return None;
    };
    let secs = match (n.as_i64(), n.as_f64()) {
        (Some(i), _) => i,
        (None, Some(f)) if f.is_finite() && (0.0..=MAX_NUMERIC_DATE as f64).contains(&f) => {
            f as i64
        }
        _ => return None,
    };
    (0..=MAX_NUMERIC_DATE).contains(&secs).then_some(secs)
}

fn numeric(claims: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, VerifyError> {
    match claims.get(name) {
        None => Ok(None),
        Some(v) => numeric_date(v)
            .map(Some)
            .ok_or(VerifyError::InvalidClaim(name)),
    }
}

/// `exp`/`nbf` against `now` with leeway; used on every cache hit too.
pub(crate) fn check_times(
    claims: &Map<String, Value>,
    rules: &ClaimRules,
    now: u64,
) -> Result<(), VerifyError> {
    let exp = numeric(claims, "exp")?;
    let nbf = numeric(claims, "nbf")?;
    // `iat` decides nothing here, but a malformed one is a malformed token.
    numeric(claims, "iat")?;
    check_time_values(exp, nbf, rules.require_exp, rules.leeway, now)
}

pub(crate) fn check_time_values(
    exp: Option<i64>,
    nbf: Option<i64>,
    require_exp: bool,
    leeway: u64,
    now: u64,
) -> Result<(), VerifyError> {
    let now = now as i128;
    let leeway = leeway as i128;
    match exp {
        None if require_exp => return Err(VerifyError::MissingClaim("exp")),
        Some(exp) if (exp as i128) + leeway <= now => return Err(VerifyError::Expired),
        _ => {}
    }
    if let Some(nbf) = nbf
        && (nbf as i128) > now + leeway
    {
        return Err(VerifyError::NotYetValid);
    }
    Ok(())
}

fn check_iss_aud(claims: &Map<String, Value>, rules: &ClaimRules) -> Result<(), VerifyError> {
    if !rules.issuers.is_empty() {
        match claims.get("iss") {
            None => return Err(VerifyError::MissingClaim("iss")),
            Some(Value::String(iss)) if rules.issuers.iter().any(|i| i == iss) => {}
            Some(_) => return Err(VerifyError::InvalidClaim("iss")),
        }
    }
    if rules.audiences.is_empty() {
        // RFC 7519 §4.1.3: a recipient that does not identify itself with a
        // value in `aud` must reject the token.
        if claims.contains_key("aud") && !rules.any_audience {
            return Err(VerifyError::UnexpectedAudience);
        }
    } else {
        let ok = match claims.get("aud") {
            None => return Err(VerifyError::MissingClaim("aud")),
            Some(Value::String(a)) => rules.audiences.iter().any(|x| x == a),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .any(|a| rules.audiences.iter().any(|x| x == a)),
            Some(_) => false,
        };
        if !ok {
            return Err(VerifyError::InvalidClaim("aud"));
        }
    }
    Ok(())
}
