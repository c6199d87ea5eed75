//! Verification and signing keys, and key sets that refuse unsafe content.

use std::collections::HashSet;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};

use crate::algorithm::JwsAlgorithm;

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
}

/// One verification key with the single algorithm it may be used with.
///
/// The algorithm is fixed when the key is made (from the JWK `alg`, or given
/// by the caller for secrets and PEM keys); a token's header can never change
/// it.
#[derive(Clone)]
pub struct JwtKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: JwsAlgorithm,
    pub(crate) decoding: DecodingKey,
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The key material stays out of logs.
        f.debug_struct("JwtKey")
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
    alg.into().is_hmac()
}

fn is_rsa(alg: impl Into<JwsAlgorithm>) -> bool {
    matches!(
        alg.into(),
        JwsAlgorithm::RS256
            | JwsAlgorithm::RS384
            | JwsAlgorithm::RS512
            | JwsAlgorithm::PS256
            | JwsAlgorithm::PS384
            | JwsAlgorithm::PS512
    )
}

fn is_ec(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::ES256 | Algorithm::ES384)
}

pub(crate) fn key_label(kid: Option<&str>, index: Option<usize>) -> String {
    match (kid, index) {
        (Some(kid), _) => format!("'{kid}'"),
        (None, Some(i)) => format!("#{i}"),
        (None, None) => "(no kid)".to_owned(),
    }
}

/// Reads the modulus size from DER: PKCS#1 `RSAPublicKey` or `RSAPrivateKey`.
fn rsa_modulus_bits(der: &[u8]) -> Option<usize> {
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
        let v = b.get(*pos..*pos + len)?;
        *pos += len;
        Some(v)
    }
    let mut pos = 0;
    if *der.first()? != 0x30 {
        return None;
    }
    pos += 1;
    read_len(der, &mut pos)?;
    let mut int = read_int(der, &mut pos)?;
    if int.len() <= 1 {
        // RSAPrivateKey starts with a version number.
        int = read_int(der, &mut pos)?;
    }
    let trimmed: &[u8] = {
        let skip = int.iter().take_while(|b| **b == 0).count();
        &int[skip..]
    };
    let first = *trimmed.first()?;
    Some(trimmed.len() * 8 - first.leading_zeros() as usize)
}

impl JwtKey {
    /// An HMAC key from raw secret bytes. Refused when shorter than the hash
    /// output of `alg` (32 bytes for HS256).
    ///
    /// ```
    /// use auth_jwt::{Algorithm, JwtKey};
    /// let key = JwtKey::hmac(b"0123456789abcdef0123456789abcdef", Algorithm::HS256).unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS256);
    /// assert!(JwtKey::hmac(b"short", Algorithm::HS256).is_err());
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
        Ok(JwtKey {
            kid,
            alg: alg.into(),
            decoding: DecodingKey::from_secret(secret),
        })
    }

    /// A public key in PEM form (RSA, EC or Ed25519) for the given algorithm;
    /// for [`JwsAlgorithm::ES512`], a P-521 SubjectPublicKeyInfo.
    pub fn from_pem(pem: &[u8], alg: impl Into<JwsAlgorithm>) -> Result<Self, KeyError> {
        let Some(alg) = alg.into().to_jsonwebtoken() else {
            return crate::es512::jwt_key_from_pem(pem);
        };
        let label = key_label(None, None);
        let parse = |e: jsonwebtoken::errors::Error| KeyError::Parse {
            key: label.clone(),
            reason: e.to_string(),
        };
        let decoding = if is_rsa(alg) {
            DecodingKey::from_rsa_pem(pem).map_err(parse)?
        } else if is_ec(alg) {
            DecodingKey::from_ec_pem(pem).map_err(parse)?
        } else if alg == Algorithm::EdDSA {
            DecodingKey::from_ed_pem(pem).map_err(parse)?
        } else {
            return Err(KeyError::Algorithm {
                key: label,
                reason: format!("a PEM key cannot be used with {alg:?}"),
            });
        };
        let key = JwtKey {
            kid: None,
            alg: alg.into(),
            decoding,
        };
        key.check_strength(&label)?;
        Ok(key)
    }

    /// A key from a JWK. The algorithm comes from the JWK's `alg`; without
    /// one it is derived only where the key type leaves no choice (EC P-256 →
    /// ES256, P-384 → ES384, P-521 → ES512, Ed25519 → EdDSA). RSA and `oct`
    /// keys without `alg` are refused rather than guessed. jsonwebtoken's
    /// [`Jwk`] cannot spell `ES512`, so for a P-521 key an `alg` it reads as
    /// unknown is taken as ES512 here; [`JwtKey::from_jwk_json`] and the
    /// JWK Set loaders see the document and accept only `ES512` by name.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, KeyError> {
        Self::from_jwk_at(jwk, None)
    }

    /// A key from a JWK document (public or private; private members are
    /// ignored), with the same rules as [`JwtKey::from_jwk`].
    pub fn from_jwk_json(json: &str) -> Result<Self, KeyError> {
        let jwk: Jwk = serde_json::from_str(json).map_err(|e| KeyError::Parse {
            key: "jwk".into(),
            reason: e.to_string(),
        })?;
        if let Ok(raw) = serde_json::from_str(json) {
            crate::es512::check_declared_alg(&raw, None)?;
        }
        Self::from_jwk(&jwk)
    }

    fn from_jwk_at(jwk: &Jwk, index: Option<usize>) -> Result<Self, KeyError> {
        let kid = jwk.common.key_id.clone();
        let label = key_label(kid.as_deref(), index);
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
            (AlgorithmParameters::RSA(_), None) => {
                return Err(wrong("an RSA key needs an explicit alg (RS* or PS*)"));
            }
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
        let key = JwtKey {
            kid,
            alg: alg.into(),
            decoding,
        };
        key.check_strength(&label)?;
        Ok(key)
    }

    fn check_strength(&self, label: &str) -> Result<(), KeyError> {
        if !is_rsa(self.alg) {
            return Ok(());
        }
        let bits = match self.decoding.kind() {
            DecodingKeyKind::RsaModulusExponent { n, .. } => {
                let skip = n.iter().take_while(|b| **b == 0).count();
                let n = &n[skip..];
                n.first()
                    .map(|f| n.len() * 8 - f.leading_zeros() as usize)
                    .unwrap_or(0)
            }
            DecodingKeyKind::SecretOrDer(der) => rsa_modulus_bits(der).unwrap_or(0),
        };
        if bits < MIN_RSA_BITS {
            return Err(KeyError::WeakRsa {
                key: label.to_owned(),
                bits,
            });
        }
        Ok(())
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

/// A set of verification keys, checked for safety when built.
///
/// A token with a `kid` is checked against that key only; a token without a
/// `kid` against every key whose algorithm equals the token's `alg`.
#[derive(Debug, Clone, Default)]
pub struct KeySet {
    keys: Vec<JwtKey>,
}

impl KeySet {
    /// A key set from keys; refused when empty or when two keys share a `kid`.
    pub fn new(keys: impl IntoIterator<Item = JwtKey>) -> Result<Self, KeyError> {
        let keys: Vec<JwtKey> = keys.into_iter().collect();
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
        Ok(KeySet { keys })
    }

    /// A key set from a JWK Set document. Every key must be usable and
    /// safe, otherwise the whole set is refused with the offending key named.
    ///
    /// ```
    /// use auth_jwt::KeySet;
    /// let jwks = r#"{"keys":[
    ///   {"kty":"oct","kid":"a","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"},
    ///   {"kty":"oct","kid":"a","alg":"HS256","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}
    /// ]}"#;
    /// let err = KeySet::from_jwks_json(jwks).unwrap_err();
    /// assert_eq!(err.to_string(), "key 'a': duplicate kid");
    /// ```
    pub fn from_jwks_json(json: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(json).map_err(|e| KeyError::Parse {
            key: "set".into(),
            reason: e.to_string(),
        })?;
        crate::es512::check_declared_algs(json)?;
        Self::from_jwks(&set)
    }

    /// A key set from a parsed JWK Set.
    pub fn from_jwks(set: &JwkSet) -> Result<Self, KeyError> {
        let keys = set
            .keys
            .iter()
            .enumerate()
            .map(|(i, jwk)| JwtKey::from_jwk_at(jwk, Some(i)))
            .collect::<Result<Vec<_>, _>>()?;
        Self::new(keys)
    }

    /// The keys.
    pub fn keys(&self) -> &[JwtKey] {
        &self.keys
    }

    /// The keys a token with this header may be checked against.
    pub(crate) fn candidates<'a>(
        &'a self,
        kid: Option<&'a str>,
        alg: JwsAlgorithm,
    ) -> impl Iterator<Item = &'a JwtKey> + 'a {
        self.keys.iter().filter(move |k| match kid {
            Some(kid) => k.kid.as_deref() == Some(kid),
            None => k.alg == alg,
        })
    }

    pub(crate) fn has_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// A key that signs tokens, with its algorithm and optional `kid`.
#[derive(Clone)]
pub struct SigningKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: JwsAlgorithm,
    pub(crate) encoding: EncodingKey,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// An HMAC signing key; the same length rule as [`JwtKey::hmac`] applies.
    pub fn hmac(secret: &[u8], alg: Algorithm) -> Result<Self, KeyError> {
        JwtKey::hmac(secret, alg)?;
        Ok(SigningKey {
            kid: None,
            alg: alg.into(),
            encoding: EncodingKey::from_secret(secret),
        })
    }

    /// An HMAC signing key from a base64 secret, decoded exactly as
    /// [`JwtKey::hmac_base64`] decodes it.
    pub fn hmac_base64(secret: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let bytes = decode_base64_any(secret.trim()).ok_or_else(|| KeyError::Parse {
            key: key_label(None, None),
            reason: "secret is not base64".into(),
        })?;
        Self::hmac(&bytes, alg)
    }

    /// A private key in PEM form (RSA PKCS#1/PKCS#8, EC PKCS#8 — P-521 for
    /// [`JwsAlgorithm::ES512`] —, Ed25519 PKCS#8).
    pub fn from_pem(pem: &[u8], alg: impl Into<JwsAlgorithm>) -> Result<Self, KeyError> {
        let Some(alg) = alg.into().to_jsonwebtoken() else {
            return crate::es512::signing_key_from_pem(pem);
        };
        let label = key_label(None, None);
        let parse = |e: jsonwebtoken::errors::Error| KeyError::Parse {
            key: label.clone(),
            reason: e.to_string(),
        };
        let encoding = if is_rsa(alg) {
            EncodingKey::from_rsa_pem(pem).map_err(parse)?
        } else if is_ec(alg) {
            EncodingKey::from_ec_pem(pem).map_err(parse)?
        } else if alg == Algorithm::EdDSA {
            EncodingKey::from_ed_pem(pem).map_err(parse)?
        } else {
            return Err(KeyError::Algorithm {
                key: label,
                reason: format!("a PEM key cannot sign with {alg:?}"),
            });
        };
        Ok(SigningKey {
            kid: None,
            alg: alg.into(),
            encoding,
        })
    }

    /// A signing key from a private JWK: `oct` (HS256/384/512), EC P-256,
    /// P-384 or P-521 with `d`, or OKP Ed25519 with `d`. The algorithm and
    /// `kid` follow the same rules as [`JwtKey::from_jwk`] (the public half
    /// is checked first, so a key the verifier would refuse cannot sign
    /// either), and the private half must match the public one. RSA JWKs are
    /// refused: use PEM.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, SigningKey};
    /// let jwk = r#"{"kty":"oct","alg":"HS256","kid":"k1","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;
    /// let key = SigningKey::from_jwk_json(jwk).unwrap();
    /// assert_eq!(key.algorithm(), Algorithm::HS256);
    /// assert_eq!(key.kid(), Some("k1"));
    /// ```
    pub fn from_jwk_json(json: &str) -> Result<Self, KeyError> {
        let public = JwtKey::from_jwk_json(json)?;
        let label = key_label(public.kid(), None);
        // The typed `Jwk` drops private members, so `d` is read from the raw
        // document.
        let raw: serde_json::Value = serde_json::from_str(json).map_err(|e| KeyError::Parse {
            key: label.clone(),
            reason: e.to_string(),
        })?;
        let member = |name: &str| -> Result<Vec<u8>, KeyError> {
            let text = raw
                .get(name)
                .and_then(serde_json::Value::as_str)
                .ok_or_else(|| KeyError::Parse {
                    key: label.clone(),
                    reason: format!("no private member {name}: not a private key"),
                })?;
            URL_SAFE_NO_PAD
                .decode(text.trim_end_matches('='))
                .map_err(|_| KeyError::Parse {
                    key: label.clone(),
                    reason: format!("{name} is not base64url"),
                })
        };
        // Error reasons never include the private bytes.
        let bad = |reason: &str| KeyError::Parse {
            key: label.clone(),
            reason: reason.to_owned(),
        };
        let alg = public.algorithm();
        let encoding = if is_hmac(alg) {
            // Length already checked by JwtKey::from_jwk_json.
            EncodingKey::from_secret(&member("k")?)
        } else if alg == Algorithm::ES256 {
            use p256::elliptic_curve::sec1::ToEncodedPoint as _;
            use p256::pkcs8::EncodePrivateKey as _;
            let secret = p256::SecretKey::from_slice(&member("d")?)
                .map_err(|_| bad("d is not a P-256 private key"))?;
            let point = secret.public_key().to_encoded_point(false);
            if point.x().map(|x| x.as_slice()) != Some(&member("x")?[..])
                || point.y().map(|y| y.as_slice()) != Some(&member("y")?[..])
            {
                return Err(bad("d does not match x and y"));
            }
            let der = secret
                .to_pkcs8_der()
                .map_err(|_| bad("cannot encode the private key"))?;
            EncodingKey::from_ec_der(der.as_bytes())
        } else if alg == Algorithm::ES384 {
            use p384::elliptic_curve::sec1::ToEncodedPoint as _;
            use p384::pkcs8::EncodePrivateKey as _;
            let secret = p384::SecretKey::from_slice(&member("d")?)
                .map_err(|_| bad("d is not a P-384 private key"))?;
            let point = secret.public_key().to_encoded_point(false);
            if point.x().map(|x| x.as_slice()) != Some(&member("x")?[..])
                || point.y().map(|y| y.as_slice()) != Some(&member("y")?[..])
            {
                return Err(bad("d does not match x and y"));
            }
            let der = secret
                .to_pkcs8_der()
                .map_err(|_| bad("cannot encode the private key"))?;
            EncodingKey::from_ec_der(der.as_bytes())
        } else if alg == JwsAlgorithm::ES512 {
            crate::es512::encoding_from_private_jwk(&member("d")?, &member("x")?, &member("y")?)
                .map_err(bad)?
        } else if alg == Algorithm::EdDSA {
            use ed25519_dalek::pkcs8::EncodePrivateKey as _;
            let d: [u8; 32] = member("d")?
                .try_into()
                .map_err(|_| bad("d is not a 32-byte Ed25519 seed"))?;
            let secret = ed25519_dalek::SigningKey::from_bytes(&d);
            if secret.verifying_key().as_bytes()[..] != member("x")?[..] {
                return Err(bad("d does not match x"));
            }
            let der = secret
                .to_pkcs8_der()
                .map_err(|_| bad("cannot encode the private key"))?;
            EncodingKey::from_ed_der(der.as_bytes())
        } else {
            return Err(KeyError::Algorithm {
                key: label,
                reason: format!("signing with a {alg:?} JWK is not supported; use a PEM key"),
            });
        };
        Ok(SigningKey {
            kid: public.kid,
            alg,
            encoding,
        })
    }

    /// A signing key from an already built `jsonwebtoken` key.
    pub fn from_encoding_key(encoding: EncodingKey, alg: Algorithm) -> Self {
        SigningKey {
            kid: None,
            alg: alg.into(),
            encoding,
        }
    }

    /// Sets the `kid` written into each token's header.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// The algorithm.
    pub fn algorithm(&self) -> JwsAlgorithm {
        self.alg
    }

    /// The key id, if any.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// Signs `claims` as a compact JWT with this key's algorithm and `kid`
    /// (and `typ`, when given).
    pub fn sign<T: serde::Serialize>(
        &self,
        claims: &T,
        typ: Option<&str>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        crate::ensure_crypto_provider();
        let Some(alg) = self.alg.to_jsonwebtoken() else {
            return crate::es512::sign(self, claims, typ);
        };
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = self.kid.clone();
        header.typ = Some(typ.unwrap_or("JWT").to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}
