//! The algorithm a key is pinned to: jsonwebtoken's algorithms plus the
//! ones this crate implements itself (ES512).

use std::fmt;
use std::str::FromStr;

use jsonwebtoken::Algorithm;

use crate::key::VerifyingKey;
#[cfg(doc)]
use crate::signing::SigningKey;

/// The one JWS algorithm (RFC 7518 §3.1) a [`VerifyingKey`] verifies or a
/// [`SigningKey`] signs with: one of jsonwebtoken's [`Algorithm`]s, or
/// [`JwsAlgorithm::ES512`], which jsonwebtoken does not have and this crate
/// implements itself.
///
/// Every `Algorithm` converts into it, the two compare with `==`, and the
/// constants can be matched on.
///
/// ```
/// use auth_jwt::{Algorithm, JwsAlgorithm};
/// assert_eq!(JwsAlgorithm::from(Algorithm::ES256), Algorithm::ES256);
/// assert_eq!("ES512".parse::<JwsAlgorithm>(), Ok(JwsAlgorithm::ES512));
/// assert_eq!(JwsAlgorithm::ES512.to_jsonwebtoken(), None);
/// assert_eq!(JwsAlgorithm::ES512.to_string(), "ES512");
/// assert!("none".parse::<JwsAlgorithm>().is_err());
/// let curve = match JwsAlgorithm::ES512 {
///     JwsAlgorithm::ES256 => "P-256",
///     JwsAlgorithm::ES384 => "P-384",
///     JwsAlgorithm::ES512 => "P-521",
///     _ => "none",
/// };
/// assert_eq!(curve, "P-521");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct JwsAlgorithm(Repr);

// jsonwebtoken's `Algorithm` is `#[non_exhaustive]`: wrapping it (rather
// than listing its variants again) keeps `From<Algorithm>` total whatever a
// later jsonwebtoken adds.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Repr {
    Jwt(Algorithm),
    Es512,
}

impl JwsAlgorithm {
    /// HMAC using SHA-256.
    pub const HS256: Self = Self(Repr::Jwt(Algorithm::HS256));
    /// HMAC using SHA-384.
    pub const HS384: Self = Self(Repr::Jwt(Algorithm::HS384));
    /// HMAC using SHA-512.
    pub const HS512: Self = Self(Repr::Jwt(Algorithm::HS512));
    /// ECDSA using P-256 and SHA-256.
    pub const ES256: Self = Self(Repr::Jwt(Algorithm::ES256));
    /// ECDSA using P-384 and SHA-384.
    pub const ES384: Self = Self(Repr::Jwt(Algorithm::ES384));
    /// ECDSA using P-521 and SHA-512 (RFC 7518 §3.4), implemented by this
    /// crate: signed with RustCrypto's `p521`, verified on aws-lc's P-521
    /// with the default backend and with `p521` on `rust-crypto`.
    pub const ES512: Self = Self(Repr::Es512);
    /// RSASSA-PKCS1-v1_5 using SHA-256.
    pub const RS256: Self = Self(Repr::Jwt(Algorithm::RS256));
    /// RSASSA-PKCS1-v1_5 using SHA-384.
    pub const RS384: Self = Self(Repr::Jwt(Algorithm::RS384));
    /// RSASSA-PKCS1-v1_5 using SHA-512.
    pub const RS512: Self = Self(Repr::Jwt(Algorithm::RS512));
    /// RSASSA-PSS using SHA-256.
    pub const PS256: Self = Self(Repr::Jwt(Algorithm::PS256));
    /// RSASSA-PSS using SHA-384.
    pub const PS384: Self = Self(Repr::Jwt(Algorithm::PS384));
    /// RSASSA-PSS using SHA-512.
    pub const PS512: Self = Self(Repr::Jwt(Algorithm::PS512));
    /// EdDSA (Ed25519).
    // The RFC 7518 name, as jsonwebtoken spells its variant.
    #[allow(non_upper_case_globals)]
    pub const EdDSA: Self = Self(Repr::Jwt(Algorithm::EdDSA));

    /// The same algorithm as jsonwebtoken's [`Algorithm`], or `None` for
    /// [`JwsAlgorithm::ES512`], which this crate implements itself.
    ///
    /// ```
    /// use auth_jwt::{Algorithm, JwsAlgorithm};
    /// assert_eq!(JwsAlgorithm::RS256.to_jsonwebtoken(), Some(Algorithm::RS256));
    /// ```
    pub const fn to_jsonwebtoken(self) -> Option<Algorithm> {
        match self.0 {
            Repr::Jwt(alg) => Some(alg),
            Repr::Es512 => None,
        }
    }

    /// Whether this is an HMAC algorithm (a shared secret, not a key pair).
    ///
    /// ```
    /// use auth_jwt::JwsAlgorithm;
    /// assert!(JwsAlgorithm::HS384.is_hmac() && !JwsAlgorithm::ES512.is_hmac());
    /// ```
    pub const fn is_hmac(self) -> bool {
        matches!(self.family(), KeyFamily::Hmac)
    }

    /// The kind of key material this algorithm needs: the one dispatch that
    /// both [`VerifyingKey`] and [`SigningKey`] constructors follow, so a
    /// key can never be read as another family than its algorithm's.
    ///
    /// ```
    /// use auth_jwt::{JwsAlgorithm, KeyFamily};
    /// assert_eq!(JwsAlgorithm::PS384.family(), KeyFamily::Rsa);
    /// assert_eq!(JwsAlgorithm::ES512.family(), KeyFamily::P521);
    /// assert_eq!(JwsAlgorithm::EdDSA.family(), KeyFamily::Ed25519);
    /// ```
    pub const fn family(self) -> KeyFamily {
        match self.0 {
            Repr::Es512 => KeyFamily::P521,
            Repr::Jwt(Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512) => KeyFamily::Hmac,
            Repr::Jwt(
                Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512,
            ) => KeyFamily::Rsa,
            Repr::Jwt(Algorithm::ES256) => KeyFamily::P256,
            Repr::Jwt(Algorithm::ES384) => KeyFamily::P384,
            Repr::Jwt(Algorithm::EdDSA) => KeyFamily::Ed25519,
            // jsonwebtoken's `Algorithm` is non-exhaustive.
            Repr::Jwt(_) => KeyFamily::Other,
        }
    }
}

/// The family of key material a [`JwsAlgorithm`] needs
/// ([`JwsAlgorithm::family`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyFamily {
    /// A shared secret: HS256, HS384, HS512.
    Hmac,
    /// An RSA key pair: RS256/384/512, PS256/384/512.
    Rsa,
    /// An EC key pair on P-256: ES256.
    P256,
    /// An EC key pair on P-384: ES384.
    P384,
    /// An EC key pair on P-521: ES512 (implemented by this crate).
    P521,
    /// An Ed25519 key pair: EdDSA.
    Ed25519,
    /// An algorithm jsonwebtoken may add that this crate has no key rules
    /// for: every key constructor refuses it.
    Other,
}

impl From<Algorithm> for JwsAlgorithm {
    fn from(alg: Algorithm) -> Self {
        Self(Repr::Jwt(alg))
    }
}

impl PartialEq<Algorithm> for JwsAlgorithm {
    fn eq(&self, other: &Algorithm) -> bool {
        *self == JwsAlgorithm::from(*other)
    }
}

impl PartialEq<JwsAlgorithm> for Algorithm {
    fn eq(&self, other: &JwsAlgorithm) -> bool {
        JwsAlgorithm::from(*self) == *other
    }
}

/// The `alg` header value (RFC 7518 §3.1), e.g. `ES512`.
impl fmt::Display for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            // jsonwebtoken's variant names are the RFC 7518 names.
            Repr::Jwt(alg) => write!(f, "{alg:?}"),
            Repr::Es512 => f.write_str(ES512_NAME),
        }
    }
}

/// Written like [`Algorithm`]'s: the name alone.
impl fmt::Debug for JwsAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

pub(crate) const ES512_NAME: &str = "ES512";

/// A string that is not the exact, case-sensitive name of a
/// [`JwsAlgorithm`] (`none` included).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a supported JWS algorithm: expected one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 ES512 EdDSA"
)]
pub struct ParseAlgorithmError(());

impl FromStr for JwsAlgorithm {
    type Err = ParseAlgorithmError;

    /// Exact names only, as jsonwebtoken parses [`Algorithm`]: `es512` or
    /// `none` are errors.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == ES512_NAME {
            return Ok(JwsAlgorithm::ES512);
        }
        s.parse::<Algorithm>()
            .map(Self::from)
            .map_err(|_| ParseAlgorithmError(()))
    }
}

impl VerifyingKey {
    /// Checks a signature over `message` with this key and its pinned
    /// algorithm: `encoded` as in the token (base64url), `signature` its
    /// bytes, decoded once by the caller. Every failure, including malformed
    /// signatures, is `false`: the caller reports an invalid signature.
    pub(crate) fn verify_signature(&self, encoded: &str, signature: &[u8], message: &[u8]) -> bool {
        #[cfg(feature = "aws-lc-rs")]
        if let Some(prepared) = &self.prepared {
            // Prepared only under this crate's own provider; checked like it.
            return crate::backend::provider_ok() && prepared.verify(signature, message);
        }
        match self.alg.to_jsonwebtoken() {
            // A provider that failed the start-up self-test is never asked:
            // it could panic or accept anything (issue 17.2).
            Some(_) if !crate::backend::provider_ok() => false,
            Some(alg) => matches!(
                jsonwebtoken::crypto::verify(encoded, message, &self.decoding, alg),
                Ok(true)
            ),
            None => crate::es512::verify(&self.decoding, signature, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [JwsAlgorithm; 13] = [
        JwsAlgorithm::HS256,
        JwsAlgorithm::HS384,
        JwsAlgorithm::HS512,
        JwsAlgorithm::ES256,
        JwsAlgorithm::ES384,
        JwsAlgorithm::ES512,
        JwsAlgorithm::RS256,
        JwsAlgorithm::RS384,
        JwsAlgorithm::RS512,
        JwsAlgorithm::PS256,
        JwsAlgorithm::PS384,
        JwsAlgorithm::PS512,
        JwsAlgorithm::EdDSA,
    ];

    #[test]
    fn every_name_round_trips_and_jsonwebtoken_agrees_on_its_own() {
        for alg in ALL {
            let name = alg.to_string();
            assert_eq!(name.parse::<JwsAlgorithm>(), Ok(alg));
            assert_eq!(format!("{alg:?}"), name);
            match alg.to_jsonwebtoken() {
                Some(jwt) => {
                    assert_eq!(JwsAlgorithm::from(jwt), alg);
                    assert_eq!(name.parse::<Algorithm>().unwrap(), jwt);
                    assert!(alg == jwt);
                    assert!(jwt == alg);
                }
                None => {
                    assert_eq!(alg, JwsAlgorithm::ES512);
                    assert!(name.parse::<Algorithm>().is_err());
                }
            }
        }
        let distinct: std::collections::HashSet<_> = ALL.into_iter().collect();
        assert_eq!(distinct.len(), ALL.len());
        assert!(JwsAlgorithm::ES512 != Algorithm::ES384);
    }

    #[test]
    fn only_exact_names_parse() {
        for bad in [
            "none", "None", "NONE", "es512", "ES 512", "ES512 ", " ES512", "", "ES521", "HS1",
        ] {
            assert!(bad.parse::<JwsAlgorithm>().is_err(), "{bad}");
        }
    }

    /// Verifying and signing keys follow one family dispatch: for every
    /// algorithm, a PEM pair of the algorithm's family loads on both sides,
    /// and a pair of another family is refused on both sides.
    #[test]
    fn verifying_and_signing_keys_share_the_family_dispatch() {
        use crate::{SigningKey, VerifyingKey};
        let pairs: [(KeyFamily, &[u8], &[u8]); 4] = [
            (
                KeyFamily::Rsa,
                include_bytes!("../tests/keys/rsa.pub.pem"),
                include_bytes!("../tests/keys/rsa.pem"),
            ),
            (
                KeyFamily::P256,
                include_bytes!("../tests/keys/ec.pub.pem"),
                include_bytes!("../tests/keys/ec.pem"),
            ),
            (
                KeyFamily::P521,
                include_bytes!("../tests/keys/p521.pub.pem"),
                include_bytes!("../tests/keys/p521.pem"),
            ),
            (
                KeyFamily::Ed25519,
                include_bytes!("../tests/keys/ed.pub.pem"),
                include_bytes!("../tests/keys/ed.pem"),
            ),
        ];
        for alg in ALL {
            assert_eq!(alg.is_hmac(), alg.family() == KeyFamily::Hmac, "{alg}");
            for (family, public, private) in pairs {
                let verifying = VerifyingKey::from_pem(public, alg);
                let signing = SigningKey::from_pem(private, alg);
                if alg.family() == family {
                    let verifying = verifying.unwrap_or_else(|e| panic!("{alg}: {e}"));
                    let signing = signing.unwrap_or_else(|e| panic!("{alg}: {e}"));
                    assert_eq!((verifying.algorithm(), signing.algorithm()), (alg, alg));
                } else {
                    assert!(verifying.is_err(), "{alg} verified with a {family:?} key");
                    assert!(signing.is_err(), "{alg} signed with a {family:?} key");
                }
            }
        }
    }
}
