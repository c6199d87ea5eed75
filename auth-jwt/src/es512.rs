//! ES512: ECDSA with P-521 and SHA-512 (RFC 7518 §3.4), which jsonwebtoken
//! 11 lacks. Signing and key loading use RustCrypto's `p521`; verification
//! uses `p521` here on the `rust-crypto` backend, and aws-lc's P-521 through
//! the key prepared in `prepared.rs` on the default one (both refuse R or S
//! of zero or not below the order, and both accept S above n/2: the tests
//! there check it).
//!
//! Only the signature differs from the other algorithms: keys are pinned to
//! ES512 exactly as the others are pinned to theirs, and a verified token
//! goes through the same claim checks and the same verified-token cache.
//!
//! Keys are held the way jsonwebtoken holds its own EC keys: a public key as
//! its uncompressed SEC1 point in a [`DecodingKey`], a private key as its
//! 66-byte scalar in an [`EncodingKey`] (which zeroizes it on drop). Both
//! are checked when they are loaded; on `rust-crypto` the point is decoded
//! again for each signature (an on-curve check, small next to the
//! verification itself).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{EllipticCurveKeyParameters, Jwk, KeyAlgorithm};
use jsonwebtoken::{DecodingKey, EncodingKey};
use p521::ecdsa::signature::{RandomizedSigner as _, Verifier as _};
use p521::ecdsa::{Signature, VerifyingKey as P521VerifyingKey};
use p521::elliptic_curve::sec1::ToEncodedPoint as _;
use p521::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use serde::Serialize;
use serde_json::Value;

use crate::algorithm::{ES512_NAME, JwsAlgorithm};
use crate::key::{KeyError, VerifyingKey, key_label};
use crate::signing::SigningKey;

/// Bytes of a P-521 coordinate or scalar: ⌈521 / 8⌉ (RFC 7518 §3.4, §6.2.1.2,
/// §6.2.2.1).
pub(crate) const FIELD_LEN: usize = 66;

/// Bytes of an ES512 JWS signature: R‖S (RFC 7518 §3.4).
pub(crate) const SIGNATURE_LEN: usize = 2 * FIELD_LEN;

/// Checks a decoded ES512 signature over `message` with `p521` (the
/// `rust-crypto` backend, or an application's provider; on aws-lc-rs the key
/// is prepared for aws-lc's P-521, see `prepared.rs`).
pub(crate) fn verify(key: &DecodingKey, signature: &[u8], message: &[u8]) -> bool {
    // SAFETY-NOTE: RFC 7518 §3.4 fixes the JWS signature as R‖S, 66 bytes
    // each. Anything else (DER, a dropped or added byte) is refused before any
    // arithmetic, and `from_slice` refuses R or S that is zero or not below
    // the group order, so an out-of-range scalar can never be reduced into a
    // valid one. S above n/2 is valid ECDSA and stays accepted, as for ES256
    // and ES384: other implementations produce it for half of their
    // signatures.
    if signature.len() != SIGNATURE_LEN {
        return false;
    }
    let Ok(signature) = Signature::from_slice(signature) else {
        return false;
    };
    let Ok(point) = key.try_get_as_bytes() else {
        return false;
    };
    let Ok(key) = P521VerifyingKey::from_sec1_bytes(point) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

fn decoding_key(key: &p521::PublicKey) -> DecodingKey {
    DecodingKey::from_ec_der(key.to_encoded_point(false).as_bytes())
}

/// A verification key from a P-521 JWK (`kty: EC`, `crv: P-521`). The typed
/// JWK cannot spell `alg: ES512` (jsonwebtoken reads it as an unknown
/// algorithm), so an absent or unknown `alg` is ES512 here and any algorithm
/// jsonwebtoken knows is refused; the JSON loaders also call
/// [`check_declared_alg`], which refuses anything but `ES512` by name.
pub(crate) fn jwt_key_from_jwk(
    jwk: &Jwk,
    params: &EllipticCurveKeyParameters,
    label: &str,
) -> Result<VerifyingKey, KeyError> {
    match jwk.common.key_algorithm {
        None | Some(KeyAlgorithm::UNKNOWN_ALGORITHM) => {}
        Some(_) => {
            return Err(KeyError::Algorithm {
                key: label.to_owned(),
                reason: "alg does not match the curve".into(),
            });
        }
    }
    let parse = |reason: String| KeyError::Parse {
        key: label.to_owned(),
        reason,
    };
    let coordinate = |name: &str, text: &str| -> Result<Vec<u8>, KeyError> {
        let bytes = URL_SAFE_NO_PAD
            .decode(text.trim_end_matches('='))
            .map_err(|_| parse(format!("{name} is not base64url")))?;
        // RFC 7518 §6.2.1.2: the full 66 bytes, leading zeros kept, so a
        // coordinate can only be read one way.
        if bytes.len() != FIELD_LEN {
            return Err(parse(format!(
                "{name} of a P-521 key must be {FIELD_LEN} bytes, not {}",
                bytes.len()
            )));
        }
        Ok(bytes)
    };
    let x = coordinate("x", &params.x)?;
    let y = coordinate("y", &params.y)?;
    let point = p521::EncodedPoint::from_affine_coordinates(
        x.as_slice().into(),
        y.as_slice().into(),
        false,
    );
    let public = p521::PublicKey::from_sec1_bytes(point.as_bytes())
        .map_err(|_| parse("x and y are not a point on P-521".into()))?;
    Ok(VerifyingKey::new(
        jwk.common.key_id.clone(),
        JwsAlgorithm::ES512,
        decoding_key(&public),
    ))
}

/// Refuses a JWK (a JSON object) that pairs P-521 with an `alg` other than
/// `ES512`, or `alg: ES512` with anything but an EC P-521 key. Everything
/// else is left to the typed loader.
pub(crate) fn check_declared_alg(
    jwk: &serde_json::Map<String, Value>,
    index: Option<usize>,
) -> Result<(), KeyError> {
    let p521 = jwk.get("kty").and_then(Value::as_str) == Some("EC")
        && jwk.get("crv").and_then(Value::as_str) == Some("P-521");
    let es512 = jwk.get("alg").and_then(Value::as_str) == Some(ES512_NAME);
    let consistent = if p521 {
        es512 || jwk.get("alg").is_none()
    } else {
        !es512
    };
    if consistent {
        return Ok(());
    }
    Err(KeyError::Algorithm {
        key: key_label(jwk.get("kid").and_then(Value::as_str), index),
        reason: if p521 {
            "alg does not match the curve".into()
        } else {
            "ES512 needs an EC key on P-521".into()
        },
    })
}

fn pem_text<'a>(pem: &'a [u8], label: &str) -> Result<&'a str, KeyError> {
    std::str::from_utf8(pem)
        .map(str::trim)
        .map_err(|_| KeyError::Parse {
            key: label.to_owned(),
            reason: "PEM is not UTF-8".into(),
        })
}

/// A verification key from a PEM SubjectPublicKeyInfo (`PUBLIC KEY`) whose
/// curve is P-521.
pub(crate) fn verifying_key_from_pem(pem: &[u8]) -> Result<VerifyingKey, KeyError> {
    let label = key_label(None, None);
    let public = p521::PublicKey::from_public_key_pem(pem_text(pem, &label)?).map_err(|_| {
        KeyError::Parse {
            key: label.clone(),
            reason: "not a P-521 public key in PEM SubjectPublicKeyInfo form".into(),
        }
    })?;
    Ok(VerifyingKey::new(
        None,
        JwsAlgorithm::ES512,
        decoding_key(&public),
    ))
}

/// A signing key from a PEM PKCS#8 private key (`PRIVATE KEY`) whose curve is
/// P-521. As for ES256/ES384, SEC1 `EC PRIVATE KEY` files are refused.
pub(crate) fn signing_key_from_pem(pem: &[u8]) -> Result<SigningKey, KeyError> {
    let label = key_label(None, None);
    let secret =
        p521::SecretKey::from_pkcs8_pem(pem_text(pem, &label)?).map_err(|_| KeyError::Parse {
            key: label.clone(),
            reason: "not a P-521 private key in PEM PKCS#8 form".into(),
        })?;
    Ok(SigningKey {
        kid: None,
        alg: JwsAlgorithm::ES512,
        encoding: EncodingKey::from_ec_der(&secret.to_bytes()),
    })
}

/// The private half of a P-521 JWK, checked against its public half `x`, `y`
/// (already checked by [`jwt_key_from_jwk`]). The error is a reason that
/// never contains key bytes.
pub(crate) fn encoding_from_private_jwk(
    d: &[u8],
    x: &[u8],
    y: &[u8],
) -> Result<EncodingKey, &'static str> {
    // RFC 7518 §6.2.2.1: `d` is the full 66 bytes.
    if d.len() != FIELD_LEN {
        return Err("d is not a 66-byte P-521 private key");
    }
    let secret = p521::SecretKey::from_slice(d).map_err(|_| "d is not a P-521 private key")?;
    let point = secret.public_key().to_encoded_point(false);
    if point.x().map(|v| v.as_slice()) != Some(x) || point.y().map(|v| v.as_slice()) != Some(y) {
        return Err("d does not match x and y");
    }
    Ok(EncodingKey::from_ec_der(&secret.to_bytes()))
}

/// Signs `claims` as a compact JWS with an ES512 key: the header members
/// and their order are those jsonwebtoken writes for the other algorithms.
pub(crate) fn sign<T: Serialize>(
    key: &SigningKey,
    claims: &T,
    typ: Option<&str>,
) -> Result<String, jsonwebtoken::errors::Error> {
    #[derive(Serialize)]
    struct Header<'a> {
        typ: &'a str,
        alg: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        kid: Option<&'a str>,
    }
    let header = Header {
        typ: typ.unwrap_or("JWT"),
        alg: ES512_NAME,
        kid: key.kid.as_deref(),
    };
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&header)?),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims)?)
    );
    let signer = p521::ecdsa::SigningKey::from_slice(key.encoding.as_bytes())
        .map_err(|_| jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey)?;
    // p521 0.13 signs with a fresh random nonce from the OS (it offers no
    // RFC 6979 for P-521); `try_sign_with_rng` reports a failure instead of
    // panicking.
    let signature: Signature =
        signer.try_sign_with_rng(&mut rand::rngs::OsRng, message.as_bytes())?;
    Ok(format!(
        "{message}.{}",
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    ))
}
