//! Signing keys: the mirror of [`VerifyingKey`](crate::VerifyingKey), made
//! through the same algorithm-family dispatch ([`JwsAlgorithm::family`]) and
//! held to the same rules.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};

use crate::algorithm::{JwsAlgorithm, KeyFamily};
#[cfg(doc)]
use crate::key::MIN_RSA_BITS;
use crate::key::{
    KeyError, VerifyingKey, check_ec_curve, check_rsa, decode_base64_any, key_label,
    rsa_private_components,
};

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
    /// An HMAC signing key; the same length rule as [`VerifyingKey::hmac`] applies.
    pub fn hmac(secret: &[u8], alg: Algorithm) -> Result<Self, KeyError> {
        VerifyingKey::hmac(secret, alg)?;
        Ok(SigningKey {
            kid: None,
            alg: alg.into(),
            encoding: EncodingKey::from_secret(secret),
        })
    }

    /// An HMAC signing key from a base64 secret, decoded exactly as
    /// [`VerifyingKey::hmac_base64`] decodes it.
    pub fn hmac_base64(secret: &str, alg: Algorithm) -> Result<Self, KeyError> {
        let bytes = decode_base64_any(secret.trim()).ok_or_else(|| KeyError::Parse {
            key: key_label(None, None),
            reason: "secret is not base64".into(),
        })?;
        Self::hmac(&bytes, alg)
    }

    /// A private key in PEM form (RSA PKCS#1/PKCS#8, EC PKCS#8 — P-521 for
    /// [`JwsAlgorithm::ES512`] —, Ed25519 PKCS#8). An RSA key must pass the
    /// verifier's rules ([`MIN_RSA_BITS`], an odd exponent of at least 3, no
    /// ROCA fingerprint): a key whose tokens a verifier must refuse does not
    /// sign.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, KeyError, SigningKey};
    /// let weak = include_bytes!("../tests/keys/rsa1024.pem");
    /// assert!(matches!(SigningKey::from_pem(weak, Algorithm::RS256), Err(KeyError::WeakRsa { .. })));
    /// ```
    pub fn from_pem(pem: &[u8], alg: impl Into<JwsAlgorithm>) -> Result<Self, KeyError> {
        let alg = alg.into();
        let label = key_label(None, None);
        let parse = |e: jsonwebtoken::errors::Error| KeyError::Parse {
            key: label.clone(),
            reason: e.to_string(),
        };
        let encoding = match alg.family() {
            KeyFamily::Rsa => {
                let encoding = EncodingKey::from_rsa_pem(pem).map_err(parse)?;
                // The verifier's rules hold for the signer too (issue 11.2): a
                // key whose tokens a verifier must refuse does not sign.
                let (n, e) = rsa_private_components(pem, &label)?;
                check_rsa(&n, &e, &label)?;
                encoding
            }
            KeyFamily::P256 | KeyFamily::P384 => {
                check_ec_curve(pem, alg, true, &label)?;
                EncodingKey::from_ec_pem(pem).map_err(parse)?
            }
            KeyFamily::P521 => return crate::es512::signing_key_from_pem(pem),
            KeyFamily::Ed25519 => EncodingKey::from_ed_pem(pem).map_err(parse)?,
            KeyFamily::Hmac | KeyFamily::Other => {
                return Err(KeyError::Algorithm {
                    key: label,
                    reason: format!("a PEM key cannot sign with {alg:?}"),
                });
            }
        };
        Ok(SigningKey {
            kid: None,
            alg,
            encoding,
        })
    }

    /// A signing key from a private JWK: `oct` (HS256/384/512), EC P-256,
    /// P-384 or P-521 with `d`, or OKP Ed25519 with `d`. The algorithm and
    /// `kid` follow the same rules as [`VerifyingKey::from_jwk`] (the public half
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
        let public = VerifyingKey::from_own_jwk_json(json)?;
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
        // P-256 and P-384 differ only in the curve crate: the private scalar
        // must match the public point, then it is encoded as PKCS#8.
        macro_rules! ec_encoding {
            ($curve:ident, $name:literal) => {{
                use $curve::elliptic_curve::sec1::ToEncodedPoint as _;
                use $curve::pkcs8::EncodePrivateKey as _;
                let secret = $curve::SecretKey::from_slice(&member("d")?)
                    .map_err(|_| bad(concat!("d is not a ", $name, " private key")))?;
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
            }};
        }
        let encoding = match alg.family() {
            // Length already checked by VerifyingKey::from_jwk_json.
            KeyFamily::Hmac => EncodingKey::from_secret(&member("k")?),
            KeyFamily::P256 => ec_encoding!(p256, "P-256"),
            KeyFamily::P384 => ec_encoding!(p384, "P-384"),
            KeyFamily::P521 => {
                crate::es512::encoding_from_private_jwk(&member("d")?, &member("x")?, &member("y")?)
                    .map_err(bad)?
            }
            KeyFamily::Ed25519 => {
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
            }
            KeyFamily::Rsa | KeyFamily::Other => {
                return Err(KeyError::Algorithm {
                    key: label,
                    reason: format!("signing with a {alg:?} JWK is not supported; use a PEM key"),
                });
            }
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
        let Some(alg) = self.alg.to_jsonwebtoken() else {
            return crate::es512::sign(self, claims, typ);
        };
        // A provider that failed the start-up self-test is never asked: it
        // could panic (issue 17.2).
        if let Err(e) = crate::check_crypto_provider() {
            return Err(jsonwebtoken::errors::ErrorKind::Provider(e.to_string()).into());
        }
        let mut header = jsonwebtoken::Header::new(alg);
        header.kid = self.kid.clone();
        header.typ = Some(typ.unwrap_or("JWT").to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }
}
