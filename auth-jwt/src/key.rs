//! Verifying keys and key sets that refuse unsafe content.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

#[cfg(doc)]
use crate::SigningKey;
use crate::algorithm::{JwsAlgorithm, KeyFamily};

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A).
pub const MIN_RSA_BITS: usize = 2048;

/// Why a key or a key set was refused when it was loaded.
///
/// Every message names the key (its `kid`, or its position in the set) so an
/// operator can find it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key material could not be parsed.
    #[error("key {key}: cannot be parsed: {reason}")]
    Parse {
        /// Which key.
        key: String,
        /// What went wrong.
        reason: String,
    },
    /// Two keys share one `kid`, so a token could not say which it means.
    #[error("key {key}: duplicate kid")]
    DuplicateKid {
        /// Which key.
        key: String,
    },
    /// The key is meant for encryption (`use: enc` or encrypt-only `key_ops`).
    #[error("key {key}: meant for encryption, not for signatures")]
    EncryptionKey {
        /// Which key.
        key: String,
    },
    /// An HMAC secret shorter than the hash output (RFC 7518 §3.2).
    #[error("key {key}: HMAC secret of {len} bytes is shorter than the {min} bytes {alg:?} needs")]
    ShortSecret {
        /// Which key.
        key: String,
        /// The algorithm.
        alg: Algorithm,
        /// The secret's length.
        len: usize,
        /// The minimum.
        min: usize,
    },
    /// An RSA key with a modulus under [`MIN_RSA_BITS`].
    #[error(
        "key {key}: RSA modulus of {bits} bits is weaker than the {MIN_RSA_BITS} bits required"
    )]
    WeakRsa {
        /// Which key.
        key: String,
        /// The modulus size.
        bits: usize,
    },
    /// The key's type does not fit the algorithm, or no algorithm can be
    /// derived from the key without guessing.
    #[error("key {key}: {reason}")]
    Algorithm {
        /// Which key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// A key set with no keys.
    #[error("the key set is empty")]
    Empty,
    /// A symmetric (`oct`) key where only public keys belong: in a JWK Set,
    /// or in [`VerifyingKey::from_jwk`]. Anyone who can read the set could sign
    /// tokens with it (issue 11.1).
    #[error(
        "key {key}: a symmetric (oct) key is a shared secret and never comes from a JWK Set or a public JWK; configure it explicitly (VerifyingKey::hmac, VerifyingKey::from_secret_jwk_json)"
    )]
    SymmetricKey {
        /// Which key.
        key: String,
    },
    /// A private key member (RSA `d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`; EC or
    /// OKP `d`) in a JWK Set, which carries public keys only (issue 11.1).
    #[error(
        "key {key}: carries the private member '{member}'; a published key set carries public keys only"
    )]
    PrivateKey {
        /// Which key.
        key: String,
        /// The private member found.
        member: String,
    },
    /// An RSA public exponent that is even or smaller than 3.
    #[error("key {key}: RSA public exponent {exponent} is even or smaller than 3")]
    WeakRsaExponent {
        /// Which key.
        key: String,
        /// The exponent, in decimal (hexadecimal when it does not fit 64 bits).
        exponent: String,
    },
    /// An RSA modulus with the ROCA fingerprint (CVE-2017-15361): made by a
    /// vulnerable Infineon library, its private key can be computed from it.
    #[error(
        "key {key}: RSA modulus has the ROCA fingerprint (CVE-2017-15361); its private key can be recovered: replace the key"
    )]
    RocaFingerprint {
        /// Which key.
        key: String,
    },
    /// A JWK Set in which no key could be used; each ignored key and the
    /// reason are listed.
    #[error("the key set has no usable key: {ignored}")]
    NoUsableKey {
        /// The ignored keys and why, separated by `; `.
        ignored: String,
    },
}

impl KeyError {
    /// Whether this refusal makes a whole JWK Set unsafe (a secret, a
    /// private key, a weak RSA key, or an ambiguous `kid`), rather than
    /// naming a key that is merely not understood and can be ignored
    /// (RFC 7517 §5).
    pub fn refuses_the_set(&self) -> bool {
        matches!(
            self,
            KeyError::SymmetricKey { .. }
                | KeyError::PrivateKey { .. }
                | KeyError::ShortSecret { .. }
                | KeyError::WeakRsa { .. }
                | KeyError::WeakRsaExponent { .. }
                | KeyError::RocaFingerprint { .. }
                | KeyError::DuplicateKid { .. }
                | KeyError::Empty
                | KeyError::NoUsableKey { .. }
        )
    }
}

/// How a JWK Set is read: settings that the set itself cannot carry.
///
/// ```
/// use auth_jwt::{Algorithm, JwksOptions, KeySet};
/// // Azure AD publishes RSA keys without `alg`: pin RS256 for them.
/// let options = JwksOptions::new().default_rsa_algorithm(Algorithm::RS256).unwrap();
/// # let _ = options;
/// assert!(JwksOptions::new().default_rsa_algorithm(Algorithm::HS256).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JwksOptions {
    default_rsa_algorithm: Option<Algorithm>,
}

impl JwksOptions {
    /// The defaults: RSA keys without `alg` are ignored.
    pub fn new() -> Self {
        Self::default()
    }

    /// The algorithm for RSA keys of the set that carry no `alg` (RS256,
    /// RS384, RS512, PS256, PS384 or PS512). Configuration pins it, never
    /// the token header; keys that carry `alg` keep their own.
    pub fn default_rsa_algorithm(mut self, alg: Algorithm) -> Result<Self, KeyError> {
        if !is_rsa(alg) {
            return Err(KeyError::Algorithm {
                key: "(default for RSA keys)".into(),
                reason: format!("{alg:?} is not an RSA algorithm"),
            });
        }
        self.default_rsa_algorithm = Some(alg);
        Ok(self)
    }

    /// The configured algorithm for RSA keys without `alg`, if any.
    pub fn rsa_algorithm(&self) -> Option<Algorithm> {
        self.default_rsa_algorithm
    }
}

/// One verification key with the single algorithm it may be used with.
///
/// The algorithm is fixed when the key is made (from the JWK `alg`, or given
/// by the caller for secrets and PEM keys); a token's header can never change
/// it.
///
/// Made from the same algorithm-family dispatch as [`SigningKey`]
/// ([`JwsAlgorithm::family`]).
#[derive(Clone)]
pub struct VerifyingKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: JwsAlgorithm,
    pub(crate) decoding: DecodingKey,
    /// The key parsed or keyed once for aws-lc (see `prepared.rs`); `None`
    /// on other backends and for keys aws-lc refuses.
    #[cfg(feature = "aws-lc-rs")]
    pub(crate) prepared: Option<std::sync::Arc<crate::prepared::PreparedKey>>,
}

/// The former name of [`VerifyingKey`], kept so existing code builds.
///
/// ```
/// #[allow(deprecated)]
/// let key: auth_jwt::JwtKey =
///     auth_jwt::VerifyingKey::hmac(b"an example secret of 32+ bytes!!", auth_jwt::Algorithm::HS256).unwrap();
/// # let _ = key;
/// ```
#[deprecated(since = "0.1.0", note = "renamed to `VerifyingKey`")]
pub type JwtKey = VerifyingKey;

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key material stays out of logs.
        f.debug_struct("VerifyingKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

fn hmac_min_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

fn is_hmac(alg: impl Into<JwsAlgorithm>) -> bool {
    alg.into().family() == KeyFamily::Hmac
}

fn is_rsa(alg: impl Into<JwsAlgorithm>) -> bool {
    alg.into().family() == KeyFamily::Rsa
}

pub(crate) fn key_label(kid: Option<&str>, index: Option<usize>) -> String {
    match (kid, index) {
        (Some(kid), _) => format!("'{kid}'"),
        (None, Some(i)) => format!("#{i}"),
        (None, None) => "(no kid)".to_owned(),
    }
}

/// Reads the modulus and the public exponent from DER: PKCS#1
/// `RSAPublicKey` or `RSAPrivateKey` (what jsonwebtoken keeps of a PEM key).
fn rsa_components(der: &[u8]) -> Option<(&[u8], &[u8])> {
    fn read_len(b: &[u8], pos: &mut usize) -> Option<usize> {
        let first = *b.get(*pos)?;
        *pos += 1;
        if first < 0x80 {
            return Some(first as usize);
        }
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for _ in 0..n {
            len = (len << 8) | *b.get(*pos)? as usize;
            *pos += 1;
        }
        Some(len)
    }
    fn read_int<'a>(b: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
        if *b.get(*pos)? != 0x02 {
            return None;
        }
        *pos += 1;
        let len = read_len(b, pos)?;
        let v = b.get(*pos..pos.checked_add(len)?)?;
        *pos += len;
        Some(v)
    }
    let mut pos = 0;
    if *der.first()? != 0x30 {
        return None;
    }
    pos += 1;
    read_len(der, &mut pos)?;
    let mut n = read_int(der, &mut pos)?;
    if n.len() <= 1 {
        // RSAPrivateKey starts with a version number.
        n = read_int(der, &mut pos)?;
    }
    let e = read_int(der, &mut pos)?;
    Some((n, e))
}

fn strip_zeros(int: &[u8]) -> &[u8] {
    let skip = int.iter().take_while(|b| **b == 0).count();
    &int[skip..]
}

fn bit_len(int: &[u8]) -> usize {
    let int = strip_zeros(int);
    int.first()
        .map(|f| int.len() * 8 - f.leading_zeros() as usize)
        .unwrap_or(0)
}

/// The odd primes of the primorial M used by the vulnerable key generator
/// (Nemec et al., "The Return of Coppersmith's Attack: Practical
/// Factorization of Widely Used RSA Moduli", CCS 2017: M is the product of
/// the first primes, at least up to 167 for every key size).
const ROCA_PRIMES: [u32; 38] = [
    3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89, 97,
    101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
];

/// The ROCA fingerprint (CVE-2017-15361), from the paper's description: the vulnerable library makes every prime p = k·M + (65537^a mod
/// M), so for each prime r dividing M, N mod r is a power of 65537 mod r.
/// A modulus for which that holds for every r in the list is fingerprinted;
/// an ordinary modulus fails it with overwhelming probability.
///
/// Written here rather than taken from a crate: no maintained Rust crate
/// offers the test, and it needs only N mod r for small r, which a running
/// remainder over the big-endian bytes gives without a bignum library.
pub(crate) fn has_roca_fingerprint(modulus: &[u8]) -> bool {
    ROCA_PRIMES.iter().all(|&r| {
        let rem = modulus
            .iter()
            .fold(0u32, |acc, &b| (acc * 256 + u32::from(b)) % r);
        // Walk the subgroup generated by 65537 mod r (order < r <= 167).
        let g = 65537 % r;
        let mut x = 1;
        loop {
            if x == rem {
                return true;
            }
            x = x * g % r;
            if x == 1 {
                return false;
            }
        }
    })
}

/// The checks every RSA public key passes at load, whatever its form (PEM,
/// JWK, JWK Set): modulus size, exponent, ROCA.
/// The modulus and public exponent of an RSA private key in PEM, PKCS#1
/// (`RSA PRIVATE KEY`) or PKCS#8 (`PRIVATE KEY`).
pub(crate) fn rsa_private_components(
    pem: &[u8],
    label: &str,
) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    use pkcs1::der::Decode as _;
    let parse = |reason: String| KeyError::Parse {
        key: label.to_owned(),
        reason,
    };
    let (tag, der) = pkcs8::der::pem::decode_vec(pem).map_err(|e| parse(e.to_string()))?;
    let pkcs1_der = match tag {
        "RSA PRIVATE KEY" => der,
        "PRIVATE KEY" => pkcs8::PrivateKeyInfo::from_der(&der)
            .map_err(|e| parse(e.to_string()))?
            .private_key
            .to_vec(),
        other => return Err(parse(format!("an RSA signing key in PEM, not {other}"))),
    };
    let key = pkcs1::RsaPrivateKey::from_der(&pkcs1_der).map_err(|e| parse(e.to_string()))?;
    Ok((
        key.modulus.as_bytes().to_vec(),
        key.public_exponent.as_bytes().to_vec(),
    ))
}

pub(crate) fn check_rsa(n: &[u8], e: &[u8], label: &str) -> Result<(), KeyError> {
    let bits = bit_len(n);
    if bits < MIN_RSA_BITS {
        return Err(KeyError::WeakRsa {
            key: label.to_owned(),
            bits,
        });
    }
    let e = strip_zeros(e);
    // SAFETY-NOTE: e = 1 makes the "signature" the message itself, e = 2 is
    // Rabin, not RSA, and an even e has no inverse mod φ(N): refuse them.
    let even = e.last().is_none_or(|b| b % 2 == 0);
    let small = e.len() == 1 && e[0] < 3;
    if even || small {
        let exponent = if e.len() <= 8 {
            e.iter()
                .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
                .to_string()
        } else {
            let hex: String = e.iter().map(|b| format!("{b:02x}")).collect();
            format!("0x{hex}")
        };
        return Err(KeyError::WeakRsaExponent {
            key: label.to_owned(),
            exponent,
        });
    }
    if has_roca_fingerprint(strip_zeros(n)) {
        return Err(KeyError::RocaFingerprint {
            key: label.to_owned(),
        });
    }
    Ok(())
}

/// jsonwebtoken reads an EC PEM key for ES256 and ES384 alike, whatever its
/// curve; a key on another curve than its algorithm's would only fail every
/// verification later, so one that parses as a key on another NIST curve is
/// refused when loaded (anything else is left to jsonwebtoken's parser).
/// `private`: a PKCS#8 private key, else a SubjectPublicKeyInfo.
pub(crate) fn check_ec_curve(
    pem: &[u8],
    alg: JwsAlgorithm,
    private: bool,
    label: &str,
) -> Result<(), KeyError> {
    use pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
    let Ok(pem) = std::str::from_utf8(pem) else {
        return Ok(());
    };
    let on = |family: KeyFamily| match (family, private) {
        (KeyFamily::P256, false) => p256::PublicKey::from_public_key_pem(pem).is_ok(),
        (KeyFamily::P256, true) => p256::SecretKey::from_pkcs8_pem(pem).is_ok(),
        (KeyFamily::P384, false) => p384::PublicKey::from_public_key_pem(pem).is_ok(),
        (KeyFamily::P384, true) => p384::SecretKey::from_pkcs8_pem(pem).is_ok(),
        (KeyFamily::P521, false) => p521::PublicKey::from_public_key_pem(pem).is_ok(),
        (KeyFamily::P521, true) => p521::SecretKey::from_pkcs8_pem(pem).is_ok(),
        _ => false,
    };
    let other = [KeyFamily::P256, KeyFamily::P384, KeyFamily::P521]
        .into_iter()
        .find(|&f| f != alg.family() && on(f));
    match other {
        Some(family) => Err(KeyError::Algorithm {
            key: label.to_owned(),
            reason: format!("a {family:?} key cannot be used with {alg}"),
        }),
        None => Ok(()),
    }
}

/// The members of a JWK that only a private key has (RFC 7518 §6.3.2,
/// §6.2.2; RFC 8037 §2).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// Refuses a JWK that a published key set must never carry: a symmetric key
/// (`kty: oct`, or a secret `k`) or any private member. Read from the raw
/// document because the typed `Jwk` drops private members.
fn check_public_only(
    jwk: &serde_json::Map<String, serde_json::Value>,
    label: &str,
) -> Result<(), KeyError> {
    if jwk.get("kty").and_then(serde_json::Value::as_str) == Some("oct") || jwk.contains_key("k") {
        return Err(KeyError::SymmetricKey {
            key: label.to_owned(),
        });
    }
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| jwk.contains_key(**m)) {
        return Err(KeyError::PrivateKey {
            key: label.to_owned(),
            member: (*member).to_owned(),
        });
    }
    Ok(())
}

/// RFC 9864 names the Ed25519 signature algorithm `Ed25519`; jsonwebtoken
/// knows only the older `EdDSA`, which for an OKP Ed25519 key means the same.
fn normalise_alg(jwk: &mut serde_json::Map<String, serde_json::Value>) {
    let okp_ed25519 = jwk.get("kty").and_then(serde_json::Value::as_str) == Some("OKP")
        && jwk.get("crv").and_then(serde_json::Value::as_str) == Some("Ed25519");
    if okp_ed25519 && jwk.get("alg").and_then(serde_json::Value::as_str) == Some("Ed25519") {
        jwk.insert("alg".into(), "EdDSA".into());
    }
}

/// Issue 11.5: a key whose members can be read two ways (a duplicate name,
/// at any depth) is refused, like a token header or claim set.
fn parse_jwk_object(json: &str) -> Result<serde_json::Map<String, serde_json::Value>, KeyError> {
    crate::json::object_from_str(json).map_err(|e| KeyError::Parse {
        key: "jwk".into(),
        reason: e.to_string(),
    })
}

fn typed_jwk(
    map: serde_json::Map<String, serde_json::Value>,
    label: &str,
) -> Result<Jwk, KeyError> {
    serde_json::from_value(serde_json::Value::Object(map)).map_err(|e| KeyError::Parse {
        key: label.to_owned(),
        reason: e.to_string(),
    })
}

impl VerifyingKey {
    /// Every constructor ends here, so every key is prepared once.
    pub(crate) fn new(kid: Option<String>, alg: JwsAlgorithm, decoding: DecodingKey) -> Self {
        VerifyingKey {
            kid,
            alg,
            #[cfg(feature = "aws-lc-rs")]
            prepared: crate::prepared::PreparedKey::new(alg, &decoding).map(std::sync::Arc::new),
            decoding,
        }
    }

    /// An HMAC key from raw secret bytes. Refused when shorter than the hash
    /// output of `alg` (32 bytes for HS256).
    ///
    /// ```
    /// use auth_jwt::{Algorithm, VerifyingKey};
    /// let key = VerifyingKey::hmac(b"0123456789abcdef0123456789abcdef", Algorithm::HS256).unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS256);
    /// assert!(VerifyingKey::hmac(b"short", Algorithm::HS256).is_err());
    /// ```
    pub fn hmac(secret: &[u8], alg: Algorithm) -> Result<Self, KeyError> {
        Self::hmac_with_kid(secret, alg, None)
    }

    /// An HMAC key from a base64 (standard or URL-safe, padded or not) secret.
    pub fn hmac_base64(secret: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let bytes = decode_base64_any(secret.trim()).ok_or_else(|| KeyError::Parse {
            key: key_label(None, None),
            reason: "secret is not base64".into(),
        })?;
        Self::hmac(&bytes, alg)
    }

    fn hmac_with_kid(secret: &[u8], alg: Algorithm, kid: Option<String>) -> Result<Self, KeyError> {
        let label = key_label(kid.as_deref(), None);
        if !is_hmac(alg) {
            return Err(KeyError::Algorithm {
                key: label,
                reason: format!("a secret can only be used with HS256/384/512, not {alg:?}"),
            });
        }
        let min = hmac_min_len(alg);
        if secret.len() < min {
            return Err(KeyError::ShortSecret {
                key: label,
                alg,
                len: secret.len(),
                min,
            });
        }
        Ok(VerifyingKey::new(
            kid,
            alg.into(),
            DecodingKey::from_secret(secret),
        ))
    }

    /// A public key in PEM form (RSA, EC or Ed25519) for the given algorithm;
    /// for [`JwsAlgorithm::ES512`], a P-521 SubjectPublicKeyInfo.
    pub fn from_pem(pem: &[u8], alg: impl Into<JwsAlgorithm>) -> Result<Self, KeyError> {
        let alg = alg.into();
        let label = key_label(None, None);
        let parse = |e: jsonwebtoken::errors::Error| KeyError::Parse {
            key: label.clone(),
            reason: e.to_string(),
        };
        let decoding = match alg.family() {
            KeyFamily::Rsa => DecodingKey::from_rsa_pem(pem).map_err(parse)?,
            KeyFamily::P256 | KeyFamily::P384 => {
                check_ec_curve(pem, alg, false, &label)?;
                DecodingKey::from_ec_pem(pem).map_err(parse)?
            }
            KeyFamily::P521 => return crate::es512::verifying_key_from_pem(pem),
            KeyFamily::Ed25519 => DecodingKey::from_ed_pem(pem).map_err(parse)?,
            KeyFamily::Hmac | KeyFamily::Other => {
                return Err(KeyError::Algorithm {
                    key: label,
                    reason: format!("a PEM key cannot be used with {alg:?}"),
                });
            }
        };
        let key = VerifyingKey::new(None, alg, decoding);
        key.check_strength(&label)?;
        Ok(key)
    }

    /// A public key from a JWK. The algorithm comes from the JWK's `alg`;
    /// without one it is derived only where the key type leaves no choice (EC
    /// P-256 → ES256, P-384 → ES384, P-521 → ES512, Ed25519 → EdDSA). RSA keys
    /// without `alg` are refused rather than guessed. A symmetric (`oct`) JWK
    /// is refused: it is a secret, loaded only through the explicitly named
    /// [`VerifyingKey::from_secret_jwk_json`]. jsonwebtoken's [`Jwk`] cannot spell
    /// `ES512`, so for a P-521 key an `alg` it reads as unknown is taken as
    /// ES512 here; [`VerifyingKey::from_jwk_json`] and the JWK Set loaders see the
    /// document and accept only `ES512` by name.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, VerifyingKey, KeyError};
    /// let jwk = serde_json::from_str(r#"{"kty":"EC","crv":"P-256",
    ///   "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    ///   "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#).unwrap();
    /// assert_eq!(VerifyingKey::from_jwk(&jwk).unwrap().algorithm(), Algorithm::ES256);
    /// let oct = serde_json::from_str(r#"{"kty":"oct","alg":"HS256",
    ///   "k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#).unwrap();
    /// assert!(matches!(VerifyingKey::from_jwk(&oct), Err(KeyError::SymmetricKey { .. })));
    /// ```
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        Self::from_jwk_at(jwk, None, &JwksOptions::default(), false)
    }

    /// A public key from a JWK document, with the rules of
    /// [`VerifyingKey::from_jwk`]; `alg: "Ed25519"` (RFC 9864) is read as EdDSA.
    /// This is one key of the application's own configuration, not a
    /// published set, so the private members of an EC, OKP or RSA key are
    /// ignored (only the public half is kept); `oct` is refused.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, VerifyingKey};
    /// let jwk = r#"{"kty":"OKP","crv":"Ed25519","alg":"Ed25519",
    ///   "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    /// assert_eq!(VerifyingKey::from_jwk_json(jwk).unwrap().algorithm(), Algorithm::EdDSA);
    /// ```
    pub fn from_jwk_json(json: &str) -> Result<Self, KeyError> {
        let mut map = parse_jwk_object(json)?;
        normalise_alg(&mut map);
        let label = key_label(map.get("kid").and_then(serde_json::Value::as_str), None);
        crate::es512::check_declared_alg(&map, None)?;
        if map.get("kty").and_then(serde_json::Value::as_str) == Some("oct") {
            return Err(KeyError::SymmetricKey { key: label });
        }
        Self::from_jwk_at(
            &typed_jwk(map, &label)?,
            None,
            &JwksOptions::default(),
            false,
        )
    }

    /// An HMAC key from a secret `oct` JWK (`{"kty":"oct","alg":"HS256",
    /// "k":...}`), as kept in a secret file; `alg` is required and the length
    /// rule of [`VerifyingKey::hmac`] applies. The one way a JWK becomes an HMAC
    /// key: JWK Sets and [`VerifyingKey::from_jwk`] refuse `oct`.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, VerifyingKey};
    /// let jwk = r#"{"kty":"oct","alg":"HS256","kid":"k1","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;
    /// let key = VerifyingKey::from_secret_jwk_json(jwk).unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS256);
    /// assert_eq!(key.kid(), Some("k1"));
    /// assert!(VerifyingKey::from_jwk_json(jwk).is_err());
    /// ```
    pub fn from_secret_jwk_json(json: &str) -> Result<Self, KeyError> {
        let map = parse_jwk_object(json)?;
        let label = key_label(map.get("kid").and_then(serde_json::Value::as_str), None);
        if map.get("kty").and_then(serde_json::Value::as_str) != Some("oct") {
            return Err(KeyError::Algorithm {
                key: label,
                reason: "not an oct key: load public keys with VerifyingKey::from_jwk_json".into(),
            });
        }
        Self::from_jwk_at(
            &typed_jwk(map, &label)?,
            None,
            &JwksOptions::default(),
            true,
        )
    }

    /// Any JWK the application holds itself, secret or public (for
    /// [`SigningKey::from_jwk_json`]).
    pub(crate) fn from_own_jwk_json(json: &str) -> Result<Self, KeyError> {
        let mut map = parse_jwk_object(json)?;
        normalise_alg(&mut map);
        let label = key_label(map.get("kid").and_then(serde_json::Value::as_str), None);
        Self::from_jwk_at(
            &typed_jwk(map, &label)?,
            None,
            &JwksOptions::default(),
            true,
        )
    }

    fn from_jwk_at(
        jwk: &Jwk,
        index: Option<usize>,
        options: &JwksOptions,
        allow_secret: bool,
    ) -> Result<Self, KeyError> {
        let kid = jwk.common.key_id.clone();
        let label = key_label(kid.as_deref(), index);
        if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) && !allow_secret {
            return Err(KeyError::SymmetricKey { key: label });
        }
        if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption))
            || jwk.common.key_operations.as_ref().is_some_and(|ops| {
                !ops.is_empty()
                    && !ops
                        .iter()
                        .any(|op| matches!(op, KeyOperations::Verify | KeyOperations::Sign))
            })
            || matches!(
                jwk.common.key_algorithm,
                Some(KeyAlgorithm::RSA1_5 | KeyAlgorithm::RSA_OAEP | KeyAlgorithm::RSA_OAEP_256)
            )
        {
            return Err(KeyError::EncryptionKey { key: label });
        }
        if let AlgorithmParameters::EllipticCurve(p) = &jwk.algorithm
            && p.curve == EllipticCurve::P521
        {
            return crate::es512::jwt_key_from_jwk(jwk, p, &label);
        }
        let declared = match jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => {
                return Err(KeyError::Algorithm {
                    key: label,
                    reason: "unsupported alg".into(),
                });
            }
            Some(a) => {
                Some(
                    a.to_string()
                        .parse::<Algorithm>()
                        .map_err(|_| KeyError::Algorithm {
                            key: label.clone(),
                            reason: "unsupported alg".into(),
                        })?,
                )
            }
        };
        let wrong = |what: &str| KeyError::Algorithm {
            key: label.clone(),
            reason: what.to_owned(),
        };
        let alg = match (&jwk.algorithm, declared) {
            (AlgorithmParameters::OctetKey(_), Some(a)) if is_hmac(a) => a,
            (AlgorithmParameters::OctetKey(_), None) => {
                return Err(wrong("an oct key needs an explicit alg"));
            }
            (AlgorithmParameters::RSA(_), Some(a)) if is_rsa(a) => a,
            (AlgorithmParameters::RSA(_), None) => match options.default_rsa_algorithm {
                Some(a) => a,
                None => {
                    return Err(wrong(
                        "an RSA key needs an explicit alg (RS* or PS*) or a configured default (JwksOptions::default_rsa_algorithm)",
                    ));
                }
            },
            (AlgorithmParameters::EllipticCurve(p), a) => {
                let by_curve = match p.curve {
                    EllipticCurve::P256 => Algorithm::ES256,
                    EllipticCurve::P384 => Algorithm::ES384,
                    _ => return Err(wrong("unsupported curve")),
                };
                match a {
                    None => by_curve,
                    Some(a) if a == by_curve => a,
                    Some(_) => return Err(wrong("alg does not match the curve")),
                }
            }
            (AlgorithmParameters::OctetKeyPair(p), a) => {
                if p.curve != EllipticCurve::Ed25519 {
                    return Err(wrong("unsupported curve"));
                }
                match a {
                    None | Some(Algorithm::EdDSA) => Algorithm::EdDSA,
                    Some(_) => return Err(wrong("alg does not match the key type")),
                }
            }
            (AlgorithmParameters::Other(_), _) => return Err(wrong("unsupported key type")),
            _ => return Err(wrong("alg does not match the key type")),
        };
        if let AlgorithmParameters::OctetKey(p) = &jwk.algorithm {
            let secret = URL_SAFE_NO_PAD
                .decode(p.value.trim_end_matches('='))
                .map_err(|_| KeyError::Parse {
                    key: label.clone(),
                    reason: "k is not base64url".into(),
                })?;
            let mut key = Self::hmac_with_kid(&secret, alg, kid)?;
            key.kid = jwk.common.key_id.clone();
            return Ok(key);
        }
        let decoding = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::Parse {
            key: label.clone(),
            reason: e.to_string(),
        })?;
        let key = VerifyingKey::new(kid, alg.into(), decoding);
        key.check_strength(&label)?;
        Ok(key)
    }

    fn check_strength(&self, label: &str) -> Result<(), KeyError> {
        if !is_rsa(self.alg) {
            return Ok(());
        }
        let (n, e) = match self.decoding.kind() {
            DecodingKeyKind::RsaModulusExponent { n, e } => (&n[..], &e[..]),
            DecodingKeyKind::SecretOrDer(der) => {
                rsa_components(der).ok_or_else(|| KeyError::Parse {
                    key: label.to_owned(),
                    reason: "cannot read the RSA modulus and exponent".into(),
                })?
            }
        };
        check_rsa(n, e, label)
    }

    /// Sets the key id the key is selected by.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }
}

pub(crate) fn decode_base64_any(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .or_else(|| STANDARD.decode(pad(s)).ok())
}

fn pad(s: &str) -> String {
    let mut out = s.to_owned();
    while !out.len().is_multiple_of(4) {
        out.push('=');
    }
    out
}

/// What identifies one key across refreshes of a key set: its algorithm,
/// `kid` and key material. The verified-token cache records it, so a cached
/// token stays good exactly while the key that verified it is in the current
/// set (issue 11.7). Kept in memory only, never logged.
pub(crate) type KeyIdentity = u64;

fn key_identity(key: &VerifyingKey) -> KeyIdentity {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    let mut part = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    part(format!("{:?}", key.alg).as_bytes());
    part(key.kid.as_deref().unwrap_or("").as_bytes());
    match key.decoding.kind() {
        DecodingKeyKind::SecretOrDer(bytes) => part(bytes),
        DecodingKeyKind::RsaModulusExponent { n, e } => {
            part(strip_zeros(n));
            part(strip_zeros(e));
        }
    }
    let digest = h.finalize();
    u64::from_be_bytes(digest[..8].try_into().unwrap_or_default())
}

/// A set of verification keys, checked for safety when built.
///
/// A token with a `kid` is checked against that key only; a token without a
/// `kid` against every key whose algorithm equals the token's `alg`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<VerifyingKey>,
    ids: Vec<KeyIdentity>,
    ignored: Vec<KeyError>,
}

impl KeySet {
    /// A key set from keys; refused when empty or when two keys share a `kid`.
    pub fn new(keys: impl IntoIterator<Item = VerifyingKey>) -> Result<Self, KeyError> {
        let keys: Vec<VerifyingKey> = keys.into_iter().collect();
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut seen = HashSet::new();
        for key in &keys {
            if let Some(kid) = &key.kid
                && !seen.insert(kid.clone())
            {
                return Err(KeyError::DuplicateKid {
                    key: key_label(Some(kid), None),
                });
            }
        }
        let ids = keys.iter().map(key_identity).collect();
        Ok(KeySet {
            keys,
            ids,
            ignored: Vec::new(),
        })
    }

    /// A key set from a published JWK Set document, with the default
    /// [`JwksOptions`]. See [`KeySet::from_jwks_json_with`] for the rules.
    ///
    /// ```
    /// use auth_jwt::{KeyError, KeySet};
    /// // A published set carries public keys only: a secret refuses it whole.
    /// let jwks = r#"{"keys":[
    ///   {"kty":"EC","kid":"ec","crv":"P-256",
    ///    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    ///    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    ///   {"kty":"oct","kid":"s","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}
    /// ]}"#;
    /// let err = KeySet::from_jwks_json(jwks).unwrap_err();
    /// assert!(matches!(err, KeyError::SymmetricKey { ref key } if key == "'s'"));
    /// ```
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        Self::from_jwks_json_with(json, &JwksOptions::default())
    }

    /// A key set from a published JWK Set document.
    ///
    /// - A key that makes the set unsafe refuses the whole set, naming it
    ///   (its `kid`, or `#index`): a symmetric `oct` key, any private member
    ///   (`d`, `p`, `q`, `dp`, `dq`, `qi`, `oth`), a weak RSA key (modulus
    ///   under [`MIN_RSA_BITS`], exponent even or below 3, ROCA
    ///   fingerprint), or two keys with one `kid` (see
    ///   [`KeyError::refuses_the_set`]).
    /// - A key that is not understood (unknown `kty` or curve, unknown
    ///   `alg`, RSA without `alg` and no configured default, `use: "enc"`,
    ///   missing members) is ignored, as RFC 7517 §5 asks, and listed in
    ///   [`KeySet::ignored`] and in a `warn` log line naming it.
    /// - A set with no usable key left is refused.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, JwksOptions, KeySet};
    /// let jwks = r#"{"keys":[
    ///   {"kty":"EC","kid":"ec","crv":"P-256",
    ///    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    ///    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
    ///   {"kty":"EC","kid":"enc","use":"enc","crv":"P-256",
    ///    "x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
    ///    "y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
    /// ]}"#;
    /// let options = JwksOptions::new().default_rsa_algorithm(Algorithm::RS256).unwrap();
    /// let set = KeySet::from_jwks_json_with(jwks, &options).unwrap();
    /// assert_eq!(set.keys().len(), 1);
    /// assert_eq!(set.ignored()[0].to_string(), "key 'enc': meant for encryption, not for signatures");
    /// ```
    pub fn from_jwks_json_with(json: &str, options: &JwksOptions) -> Result<Self, KeyError> {
        let set = Self::load_published(json, options)?;
        for reason in &set.ignored {
            tracing::warn!("JWK Set: {reason}; the key is ignored");
        }
        Ok(set)
    }

    /// [`KeySet::from_jwks_json_with`] without the log lines, for callers
    /// that log each ignored key once themselves (the JWK Set URL client).
    pub(crate) fn load_published(json: &str, options: &JwksOptions) -> Result<Self, KeyError> {
        let set_error = |reason: String| KeyError::Parse {
            key: "set".into(),
            reason,
        };
        // Issue 11.5: a set or key whose members can be read two ways is
        // refused, at load and at every JWKS refresh (which comes here).
        let doc = serde_json::Value::Object(
            crate::json::object_from_str(json).map_err(|e| set_error(e.to_string()))?,
        );
        let members = doc
            .get("keys")
            .and_then(serde_json::Value::as_array)
            .ok_or_else(|| set_error("no \"keys\" array".into()))?;
        if members.is_empty() {
            return Err(KeyError::Empty);
        }
        let mut keys = Vec::new();
        let mut ignored = Vec::new();
        for (i, member) in members.iter().enumerate() {
            let label = key_label(
                member.get("kid").and_then(serde_json::Value::as_str),
                Some(i),
            );
            let serde_json::Value::Object(map) = member else {
                ignored.push(KeyError::Parse {
                    key: label,
                    reason: "not a JSON object".into(),
                });
                continue;
            };
            // SAFETY-NOTE: secrets and private keys refuse the set before
            // anything else is looked at (issue 11.1): a set that leaks one
            // is not trusted for its other keys either.
            check_public_only(map, &label)?;
            let mut map = map.clone();
            normalise_alg(&mut map);
            let loaded = crate::es512::check_declared_alg(&map, Some(i))
                .and_then(|()| typed_jwk(map, &label))
                .and_then(|jwk| VerifyingKey::from_jwk_at(&jwk, Some(i), options, false));
            match loaded {
                Ok(key) => keys.push(key),
                Err(e) if e.refuses_the_set() => return Err(e),
                Err(e) => ignored.push(e),
            }
        }
        // `members` is not empty, so with no key loaded some were ignored.
        Self::from_loaded(keys, ignored)
    }

    /// A key set from a parsed JWK Set, with the rules of
    /// [`KeySet::from_jwks_json_with`]. The parsed `JwkSet` has already lost
    /// any private members and the spelling of an unknown `alg`, so only
    /// [`KeySet::from_jwks_json`] can refuse private keys and read
    /// `alg: "Ed25519"`; symmetric keys are refused here too.
    pub fn from_jwks(set: &JwkSet) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        let mut ignored = Vec::new();
        for (i, jwk) in set.keys.iter().enumerate() {
            match VerifyingKey::from_jwk_at(jwk, Some(i), &JwksOptions::default(), false) {
                Ok(key) => keys.push(key),
                Err(e) if e.refuses_the_set() => return Err(e),
                Err(e) => {
                    tracing::warn!("JWK Set: {e}; the key is ignored");
                    ignored.push(e);
                }
            }
        }
        Self::from_loaded(keys, ignored)
    }

    /// The set of the keys that loaded, remembering the ones ignored; when
    /// keys were ignored and none loaded, `NoUsableKey` naming each reason.
    fn from_loaded(keys: Vec<VerifyingKey>, ignored: Vec<KeyError>) -> Result<Self, KeyError> {
        if keys.is_empty() && !ignored.is_empty() {
            let reasons: Vec<String> = ignored.iter().map(ToString::to_string).collect();
            return Err(KeyError::NoUsableKey {
                ignored: reasons.join("; "),
            });
        }
        let mut set = Self::new(keys)?;
        set.ignored = ignored;
        Ok(set)
    }

    /// The keys.
    pub fn keys(&self) -> &[VerifyingKey] {
        &self.keys
    }

    /// The keys of the JWK Set document that were ignored because they are
    /// not understood (RFC 7517 §5), each with the reason and the key named.
    /// Empty for sets built from keys.
    pub fn ignored(&self) -> &[KeyError] {
        &self.ignored
    }

    /// The keys a token with this header may be checked against.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: JwsAlgorithm,
    ) -> impl Iterator<Item = &'a VerifyingKey> + 'a {
        self.keys.iter().filter(move |k| match kid {
            Some(kid) => k.kid.as_deref() == Some(kid),
            None => k.alg == alg,
        })
    }

    /// The identities of the keys a token with this header may have been
    /// verified by (one with a `kid`; every key of the algorithm without).
    pub(crate) fn candidate_ids(&self, kid: Option<&str>, alg: JwsAlgorithm) -> Box<[KeyIdentity]> {
        self.keys
            .iter()
            .zip(&self.ids)
            .filter(|(k, _)| match kid {
                Some(kid) => k.kid.as_deref() == Some(kid),
                None => k.alg == alg,
            })
            .map(|(_, id)| *id)
            .collect()
    }

    /// Whether every one of these keys is still in the set.
    pub(crate) fn contains_all(&self, ids: &[KeyIdentity]) -> bool {
        !ids.is_empty() && ids.iter().all(|id| self.ids.contains(id))
    }

    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

#[cfg(test)]
mod tests {
    use super::{ROCA_PRIMES, check_rsa, has_roca_fingerprint, rsa_components};

    /// `value * factor + add`, big-endian, for building moduli without a
    /// bignum crate.
    fn mul_add(value: &[u8], factor: u32, add: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(value.len() + 4);
        let mut carry = u64::from(add);
        for &b in value.iter().rev() {
            let v = u64::from(b) * u64::from(factor) + carry;
            out.push(v as u8);
            carry = v >> 8;
        }
        while carry > 0 {
            out.push(carry as u8);
            carry >>= 8;
        }
        out.reverse();
        out
    }

    /// The product of 2 and every ROCA prime, times `k`, plus `add`.
    fn primorial_times(k: u32, add: u32) -> Vec<u8> {
        let mut m = vec![2u8];
        for &r in &ROCA_PRIMES {
            m = mul_add(&m, r, 0);
        }
        mul_add(&m, k, add)
    }

    #[test]
    fn roca_test_follows_the_residues() {
        // N ≡ 65537^0 and N ≡ 65537^1 modulo every prime: fingerprinted.
        assert!(has_roca_fingerprint(&primorial_times(12345, 1)));
        assert!(has_roca_fingerprint(&primorial_times(777, 65537)));
        // N ≡ 0 modulo 3: never a power of 65537.
        assert!(!has_roca_fingerprint(&primorial_times(5, 0)));
        // N ≡ 2 modulo every prime: modulo 11, 65537 ≡ 10 generates {1, 10}.
        assert!(!has_roca_fingerprint(&primorial_times(5, 2)));
        assert!(!has_roca_fingerprint(&[]));
    }

    #[test]
    fn rsa_components_never_panic_on_truncated_der() {
        let n = primorial_times(99, 1);
        let mut body = vec![0x02, 0x81, n.len() as u8];
        body.extend(&n);
        body.extend([0x02, 0x03, 0x01, 0x00, 0x01]);
        let mut der = vec![0x30, 0x81, body.len() as u8];
        der.extend(body);
        let (got_n, e) = rsa_components(&der).unwrap();
        assert_eq!((got_n, e), (&n[..], &[1u8, 0, 1][..]));
        for cut in 0..der.len() {
            assert!(rsa_components(&der[..cut]).is_none(), "cut at {cut}");
        }
        let mut bad_len = der.clone();
        bad_len[1] = 0x85;
        assert!(rsa_components(&bad_len).is_none());
        // A short modulus is refused for its size before anything else.
        assert!(matches!(
            check_rsa(&n, &[1, 0, 1], "k"),
            Err(super::KeyError::WeakRsa { .. })
        ));
    }
}
