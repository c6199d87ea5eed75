//! Verification keys prepared once, on the default aws-lc-rs backend
//! (issue 17.2).
//!
//! jsonwebtoken's `crypto::verify` builds a verifier per call: it clones the
//! `DecodingKey` (for an RSA JWK, two vectors), then aws-lc parses the key
//! again (DER, or a new RSA key from `n` and `e`) or, for HMAC, hashes the
//! secret into the inner and outer pads; the signature is decoded into a new
//! vector. For a deployment whose every request carries another token, that
//! is paid on every cache miss. Here the key is parsed (an aws-lc
//! `ParsedPublicKey`) or keyed (an aws-lc `hmac::Key`) once, when the
//! [`VerifyingKey`](crate::VerifyingKey) is made, and verification takes the
//! signature `verify.rs` has already decoded. Same library, same algorithm
//! parameters, key-size checks and key-family check as jsonwebtoken's
//! aws-lc-rs provider; only the per-call set-up goes. ES512, which
//! jsonwebtoken lacks, verifies on aws-lc's P-521 here (the `p521` crate on
//! the other backends). Tests in this file check that the prepared keys give
//! jsonwebtoken's (for ES512, `p521`'s) answer for every algorithm and the
//! key forms listed in `cases`, on valid, tampered, truncated, out-of-range
//! and malformed signatures.
//!
//! Used only when this crate's own aws-lc-rs provider is jsonwebtoken's
//! process default ([`CryptoBackend::AwsLcRs`](crate::CryptoBackend)): a
//! provider the application installed is always asked through jsonwebtoken,
//! and the RustCrypto backend keeps jsonwebtoken's path.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, DecodingKeyKind};

use crate::algorithm::{JwsAlgorithm, KeyFamily};

/// A key ready to verify: keyed HMAC or a parsed public key.
// The HMAC key (aws-lc's pads for every hash) is the large variant; the
// enum lives behind the `Arc` of its `VerifyingKey`, so a box would only add
// a second pointer to follow on every verification.
#[allow(clippy::large_enum_variant)]
pub(crate) enum PreparedKey {
    Hmac(hmac::Key),
    Public(ParsedPublicKey),
}

impl fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Key material stays out of logs.
        f.write_str(match self {
            PreparedKey::Hmac(_) => "PreparedKey::Hmac",
            PreparedKey::Public(_) => "PreparedKey::Public",
        })
    }
}

impl PreparedKey {
    /// Prepares `key` for `alg`, or `None` when aws-lc refuses the key or
    /// the key is not of `alg`'s family (the caller then keeps
    /// jsonwebtoken's path, which gives that key its usual answer: refused),
    /// or when this process does not run this crate's aws-lc-rs provider.
    pub(crate) fn new(alg: JwsAlgorithm, key: &DecodingKey) -> Option<Self> {
        if crate::backend::ensure_crypto_provider() != crate::CryptoBackend::AwsLcRs {
            return None;
        }
        Self::prepare(alg, key)
    }

    /// [`new`](Self::new) without the backend check: the start-up self-test
    /// calls it once it knows the backend.
    pub(crate) fn prepare(alg: JwsAlgorithm, key: &DecodingKey) -> Option<Self> {
        // SAFETY-NOTE: as jsonwebtoken's verifiers do, a key of another
        // family is never used (an RSA key's DER as an HMAC secret is the
        // classic algorithm confusion); every constructor pairs them
        // already, this keeps it so.
        let family = match alg.family() {
            KeyFamily::Hmac => AlgorithmFamily::Hmac,
            KeyFamily::Rsa => AlgorithmFamily::Rsa,
            KeyFamily::P256 | KeyFamily::P384 | KeyFamily::P521 => AlgorithmFamily::Ec,
            KeyFamily::Ed25519 => AlgorithmFamily::Ed,
            // An algorithm jsonwebtoken adds later: its own path.
            KeyFamily::Other => return None,
        };
        if key.family() != family {
            return None;
        }
        let hmac = |hash| {
            Some(PreparedKey::Hmac(hmac::Key::new(
                hash,
                key.try_get_as_bytes().ok()?,
            )))
        };
        // A SEC1 point (EC: jsonwebtoken's `from_ec_*`, and `es512.rs` for
        // P-521) or the 32 key bytes (Ed25519).
        let public = |verification: &'static dyn sig::VerificationAlgorithm| {
            let parsed = ParsedPublicKey::new(verification, key.try_get_as_bytes().ok()?);
            parsed.ok().map(PreparedKey::Public)
        };
        let rsa = match alg.to_jsonwebtoken() {
            None => return public(&sig::ECDSA_P521_SHA512_FIXED),
            Some(Algorithm::HS256) => return hmac(hmac::HMAC_SHA256),
            Some(Algorithm::HS384) => return hmac(hmac::HMAC_SHA384),
            Some(Algorithm::HS512) => return hmac(hmac::HMAC_SHA512),
            Some(Algorithm::ES256) => return public(&sig::ECDSA_P256_SHA256_FIXED),
            Some(Algorithm::ES384) => return public(&sig::ECDSA_P384_SHA384_FIXED),
            Some(Algorithm::EdDSA) => return public(&sig::ED25519),
            Some(Algorithm::RS256) => &sig::RSA_PKCS1_2048_8192_SHA256,
            Some(Algorithm::RS384) => &sig::RSA_PKCS1_2048_8192_SHA384,
            Some(Algorithm::RS512) => &sig::RSA_PKCS1_2048_8192_SHA512,
            Some(Algorithm::PS256) => &sig::RSA_PSS_2048_8192_SHA256,
            Some(Algorithm::PS384) => &sig::RSA_PSS_2048_8192_SHA384,
            Some(Algorithm::PS512) => &sig::RSA_PSS_2048_8192_SHA512,
            Some(_) => return None,
        };
        match key.kind() {
            DecodingKeyKind::SecretOrDer(der) => ParsedPublicKey::new(rsa, der).ok(),
            DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(rsa)
                .ok(),
        }
        .map(PreparedKey::Public)
    }

    /// Checks the decoded `signature` over `message`. Every failure is
    /// `false`.
    pub(crate) fn verify(&self, signature: &[u8], message: &[u8]) -> bool {
        match self {
            // Constant time, as jsonwebtoken's.
            PreparedKey::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            PreparedKey::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use jsonwebtoken::jwk::Jwk;
    use p521::elliptic_curve::sec1::ToEncodedPoint as _;
    use p521::pkcs8::DecodePublicKey as _;

    use super::*;
    use crate::{SigningKey, VerifyingKey};

    const SECRET: &[u8] = b"a test secret that is sixty-four bytes long, for HS512 as well..";

    fn pem(name: &str) -> Vec<u8> {
        let path = format!("{}/tests/keys/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// A verifying key in the JWK form of `signing`'s public half.
    fn jwk_of(signing: &SigningKey) -> VerifyingKey {
        let alg = signing.algorithm().to_jsonwebtoken().unwrap();
        let jwk = Jwk::from_encoding_key(&signing.encoding, alg).unwrap();
        VerifyingKey::from_jwk(&jwk).unwrap()
    }

    /// The P-521 test key as a JWK (jsonwebtoken cannot make one).
    fn p521_jwk() -> VerifyingKey {
        let text = String::from_utf8(pem("p521.pub.pem")).unwrap();
        let public = p521::PublicKey::from_public_key_pem(&text).unwrap();
        let point = public.to_encoded_point(false);
        let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-521", "alg": "ES512",
            "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap()),
        });
        VerifyingKey::from_jwk_json(&jwk.to_string()).unwrap()
    }

    /// Every algorithm, with each form its public key can be loaded from.
    fn cases() -> Vec<(SigningKey, Vec<(&'static str, VerifyingKey)>)> {
        let mut cases = Vec::new();
        for (alg, name) in [
            (Algorithm::HS256, "HS256"),
            (Algorithm::HS384, "HS384"),
            (Algorithm::HS512, "HS512"),
        ] {
            let oct =
                serde_json::json!({"kty": "oct", "alg": name, "k": URL_SAFE_NO_PAD.encode(SECRET)});
            cases.push((
                SigningKey::hmac(SECRET, alg).unwrap(),
                vec![
                    ("secret", VerifyingKey::hmac(SECRET, alg).unwrap()),
                    (
                        "oct JWK",
                        VerifyingKey::from_secret_jwk_json(&oct.to_string()).unwrap(),
                    ),
                ],
            ));
        }
        for alg in [
            JwsAlgorithm::RS256,
            JwsAlgorithm::RS384,
            JwsAlgorithm::RS512,
            JwsAlgorithm::PS256,
            JwsAlgorithm::PS384,
            JwsAlgorithm::PS512,
        ] {
            let signing = SigningKey::from_pem(&pem("rsa.pem"), alg).unwrap();
            let forms = vec![
                (
                    "SPKI PEM",
                    VerifyingKey::from_pem(&pem("rsa.pub.pem"), alg).unwrap(),
                ),
                (
                    "PKCS#1 PEM",
                    VerifyingKey::from_pem(&pem("rsa.pkcs1.pub.pem"), alg).unwrap(),
                ),
                ("JWK n/e", jwk_of(&signing)),
            ];
            cases.push((signing, forms));
        }
        for (alg, private, public) in [
            (JwsAlgorithm::ES256, "ec.pem", "ec.pub.pem"),
            (JwsAlgorithm::ES384, "ec384.pem", "ec384.pub.pem"),
            (JwsAlgorithm::EdDSA, "ed.pem", "ed.pub.pem"),
        ] {
            let signing = SigningKey::from_pem(&pem(private), alg).unwrap();
            let forms = vec![
                ("PEM", VerifyingKey::from_pem(&pem(public), alg).unwrap()),
                ("JWK", jwk_of(&signing)),
            ];
            cases.push((signing, forms));
        }
        let es512 = JwsAlgorithm::ES512;
        cases.push((
            SigningKey::from_pem(&pem("p521.pem"), es512).unwrap(),
            vec![
                (
                    "PEM",
                    VerifyingKey::from_pem(&pem("p521.pub.pem"), es512).unwrap(),
                ),
                ("JWK", p521_jwk()),
            ],
        ));
        cases
    }

    /// What `verify.rs` does with a token's signature: decode it, then ask
    /// the key (here the prepared one alone); undecodable is `false`.
    fn prepared_answer(key: &VerifyingKey, signature: &str, message: &[u8]) -> bool {
        let prepared = key.prepared.as_deref().expect("prepared");
        URL_SAFE_NO_PAD
            .decode(signature)
            .is_ok_and(|bytes| prepared.verify(&bytes, message))
    }

    /// jsonwebtoken's answer (p521's for ES512): what the prepared key must
    /// agree with.
    fn reference(key: &VerifyingKey, signature: &str, message: &[u8]) -> bool {
        match key.alg.to_jsonwebtoken() {
            Some(alg) => matches!(
                jsonwebtoken::crypto::verify(signature, message, &key.decoding, alg),
                Ok(true)
            ),
            None => URL_SAFE_NO_PAD
                .decode(signature)
                .is_ok_and(|bytes| crate::es512::verify(&key.decoding, &bytes, message)),
        }
    }

    /// Big-endian `a - b` (a ≥ b, same length).
    fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = vec![0; a.len()];
        let mut borrow = 0i16;
        for i in (0..a.len()).rev() {
            let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
            borrow = i16::from(d < 0);
            out[i] = u8::try_from(d.rem_euclid(256)).unwrap();
        }
        assert_eq!(borrow, 0);
        out
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The group order of an ECDSA algorithm's curve, as many bytes as R or S.
    fn order(alg: JwsAlgorithm) -> Option<Vec<u8>> {
        let n = match alg {
            JwsAlgorithm::ES256 => {
                "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"
            }
            JwsAlgorithm::ES384 => concat!(
                "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
                "C7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973"
            ),
            JwsAlgorithm::ES512 => concat!(
                "01FF",
                "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
                "FFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409"
            ),
            _ => return None,
        };
        Some(hex(n))
    }

    /// ECDSA signatures (R‖S) at the edges of the scalar range: S replaced by
    /// n − S (valid: `true`), and R or S zero, equal to n or above it
    /// (`false`).
    fn ecdsa_edges(alg: JwsAlgorithm, bytes: &[u8]) -> Vec<(&'static str, Vec<u8>, bool)> {
        let Some(n) = order(alg) else {
            return Vec::new();
        };
        let half = bytes.len() / 2;
        assert_eq!(n.len(), half, "{alg}");
        let (r, s) = bytes.split_at(half);
        let join = |r: &[u8], s: &[u8]| [r, s].concat();
        let ones = vec![0xFF; half];
        vec![
            ("S replaced by n − S", join(r, &sub(&n, s)), true),
            ("R zero", join(&vec![0; half], s), false),
            ("S zero", join(r, &vec![0; half]), false),
            ("R = n", join(&n, s), false),
            ("S = n", join(r, &n), false),
            ("R = all ones", join(&ones, s), false),
        ]
    }

    /// Signatures that must not verify, each with what it is.
    fn bad_signatures(signature: &str) -> Vec<(String, String)> {
        let bytes = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let encode = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
        let mut flipped = bytes.clone();
        flipped[bytes.len() / 2] ^= 0x40;
        let mut last_bit = bytes.clone();
        *last_bit.last_mut().unwrap() ^= 0x01;
        let mut longer = bytes.clone();
        longer.push(0);
        let mut zero_prefixed = vec![0];
        zero_prefixed.extend_from_slice(&bytes);
        vec![
            ("a bit flipped in the middle".into(), encode(&flipped)),
            ("the last bit flipped".into(), encode(&last_bit)),
            ("one byte short".into(), encode(&bytes[..bytes.len() - 1])),
            ("one byte more".into(), encode(&longer)),
            ("a zero byte in front".into(), encode(&zero_prefixed)),
            ("half of it".into(), encode(&bytes[..bytes.len() / 2])),
            ("empty".into(), String::new()),
            ("all zeros".into(), encode(&vec![0; bytes.len()])),
            ("padded base64".into(), format!("{signature}==")),
            (
                "standard base64 alphabet".into(),
                signature.replace('-', "+").replace('_', "/") + "+/",
            ),
            (
                "a space inside".into(),
                format!("{} {}", &signature[..4], &signature[4..]),
            ),
            (
                "one base64 character dropped".into(),
                signature[..signature.len() - 1].to_owned(),
            ),
            (
                "longer than any RSA-8192 signature".into(),
                encode(&vec![7; 2048]),
            ),
            ("not base64".into(), "!!!!".into()),
        ]
    }

    #[test]
    fn every_algorithm_and_key_form_is_prepared() {
        assert_eq!(
            crate::check_crypto_provider(),
            Ok(crate::CryptoBackend::AwsLcRs)
        );
        let mut count = 0;
        for (signing, forms) in cases() {
            for (form, key) in forms {
                assert!(
                    key.prepared.is_some(),
                    "{} from {form} was not prepared",
                    signing.algorithm()
                );
                // A clone shares the prepared key: prepared once.
                let clone = key.clone();
                assert!(std::sync::Arc::ptr_eq(
                    key.prepared.as_ref().unwrap(),
                    clone.prepared.as_ref().unwrap()
                ));
                count += 1;
            }
        }
        // 3 HMAC × 2 forms + 6 RSA × 3 + 3 × 2 + ES512 × 2.
        assert_eq!(count, 6 + 18 + 6 + 2);
    }

    #[test]
    fn prepared_keys_answer_as_jsonwebtoken_does() {
        let mut edges = 0;
        for (signing, forms) in cases() {
            let alg = signing.algorithm();
            let token = signing
                .sign(&serde_json::json!({"sub": "alice", "n": 1}), None)
                .unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            let other = signing
                .sign(&serde_json::json!({"sub": "mallory", "n": 1}), None)
                .unwrap();
            let (other_message, _) = other.rsplit_once('.').unwrap();
            let decoded = URL_SAFE_NO_PAD.decode(signature).unwrap();
            for (form, key) in &forms {
                let what = format!("{alg} from {form}");
                let message = message.as_bytes();
                assert!(prepared_answer(key, signature, message), "{what}: valid");
                assert!(reference(key, signature, message), "{what}: reference");
                assert!(key.verify_signature(signature, &decoded, message), "{what}");
                assert!(
                    !prepared_answer(key, signature, other_message.as_bytes()),
                    "{what}: signature over another message"
                );
                let mut tampered = message.to_vec();
                tampered[message.len() / 2] ^= 0x01;
                assert!(
                    !prepared_answer(key, signature, &tampered),
                    "{what}: one bit of the message"
                );
                for (bad, sig) in bad_signatures(signature) {
                    let got = prepared_answer(key, &sig, message);
                    assert!(!got, "{what}: {bad} verified");
                    assert_eq!(got, reference(key, &sig, message), "{what}: {bad}");
                }
                for (edge, bytes, valid) in ecdsa_edges(alg, &decoded) {
                    let sig = URL_SAFE_NO_PAD.encode(&bytes);
                    let got = prepared_answer(key, &sig, message);
                    assert_eq!(got, valid, "{what}: {edge}");
                    assert_eq!(got, reference(key, &sig, message), "{what}: {edge}");
                    edges += 1;
                }
            }
        }
        // ES256, ES384 and ES512, two forms each.
        assert_eq!(edges, 3 * 2 * 6);
    }

    #[test]
    fn a_key_of_another_algorithm_or_family_never_verifies() {
        let all = cases();
        for (signing, _) in &all {
            let token = signing
                .sign(&serde_json::json!({"sub": "alice"}), None)
                .unwrap();
            let (message, signature) = token.rsplit_once('.').unwrap();
            for (other, forms) in &all {
                if other.algorithm() == signing.algorithm() {
                    continue;
                }
                for (form, key) in forms {
                    assert!(
                        !prepared_answer(key, signature, message.as_bytes()),
                        "a {} signature verified with the {} key from {form}",
                        signing.algorithm(),
                        other.algorithm()
                    );
                }
            }
        }
    }

    #[test]
    fn a_public_key_is_never_an_hmac_secret() {
        // The algorithm confusion: HS256 "signed" with the RSA public key's
        // DER as the secret. A key whose algorithm and family disagree is
        // not prepared, and jsonwebtoken refuses it too.
        let rsa = DecodingKey::from_rsa_pem(&pem("rsa.pub.pem")).unwrap();
        let der = rsa.try_get_as_bytes().unwrap().to_vec();
        let message = b"eyJhbGciOiJIUzI1NiJ9.e30";
        let mac = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, &der), message);
        let forged = URL_SAFE_NO_PAD.encode(mac.as_ref());
        for alg in [
            JwsAlgorithm::HS256,
            JwsAlgorithm::HS384,
            JwsAlgorithm::HS512,
        ] {
            let key = VerifyingKey::new(None, alg, rsa.clone());
            assert!(key.prepared.is_none(), "{alg}");
            assert!(
                !key.verify_signature(&forged, mac.as_ref(), message),
                "{alg}"
            );
        }
        // And the other way round: a secret is no public key.
        let secret = DecodingKey::from_secret(&der);
        for alg in [
            JwsAlgorithm::RS256,
            JwsAlgorithm::PS256,
            JwsAlgorithm::ES256,
            JwsAlgorithm::EdDSA,
            JwsAlgorithm::ES512,
        ] {
            assert!(
                VerifyingKey::new(None, alg, secret.clone())
                    .prepared
                    .is_none(),
                "{alg}"
            );
        }
    }

    #[test]
    fn weak_or_malformed_keys_never_verify() {
        // A 1024-bit RSA key is parsed but, as with jsonwebtoken's provider,
        // never verifies: the `2048_8192` parameters refuse it at
        // verification. (`VerifyingKey::from_pem` refuses it before; this
        // goes around that check.)
        let decoding = DecodingKey::from_rsa_pem(&pem("rsa1024.pub.pem")).unwrap();
        let key = VerifyingKey::new(None, JwsAlgorithm::RS256, decoding);
        assert!(
            key.prepared.is_some(),
            "the prepared path is the one tested"
        );
        // `openssl dgst -sha256 -sign tests/keys/rsa1024.pem` over MESSAGE
        // (aws-lc will not sign with a 1024-bit key either); OpenSSL
        // verifies it with `rsa1024.pub.pem`.
        const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.e30";
        const SIGNATURE: &str = "eIr7mV9-FP_72jigcAJBIjGbJAk1MnszzyTOx5vHEV98uZPiQRIUKb8qF8nh0c6ht-dqrYgjcO8k37xK5Om_8I0ECDks9LDQd75C0Fd5vRyuymbypM9pNCxsaxw5LjXMHzpPwNH5xjml3apJAKVNFmyvDuZibVNaqRSUtZsb1Kg";
        let decoded = URL_SAFE_NO_PAD.decode(SIGNATURE).unwrap();
        assert!(!key.verify_signature(SIGNATURE, &decoded, MESSAGE));
        assert!(!reference(&key, SIGNATURE, MESSAGE));

        // Bytes that are no key of the family: not prepared, refused.
        for (alg, bytes) in [
            (JwsAlgorithm::ES256, &b"not a point"[..]),
            (JwsAlgorithm::ES256, &[4; 65][..]),
            (JwsAlgorithm::ES384, &[4; 97][..]),
            (JwsAlgorithm::ES512, &[4; 133][..]),
            (JwsAlgorithm::EdDSA, &[1; 31][..]),
        ] {
            let decoding = match alg {
                JwsAlgorithm::EdDSA => DecodingKey::from_ed_der(bytes),
                _ => DecodingKey::from_ec_der(bytes),
            };
            let key = VerifyingKey::new(None, alg, decoding);
            assert!(key.prepared.is_none(), "{alg}: {bytes:?} was prepared");
            assert!(!key.verify_signature("AAAA", &[0; 3], b"a.b"), "{alg}");
        }
        let key = VerifyingKey::new(
            None,
            JwsAlgorithm::RS256,
            DecodingKey::from_rsa_der(b"\x30\x03\x02\x01\x01"),
        );
        assert!(key.prepared.is_none());
        assert!(!key.verify_signature("AAAA", &[0; 3], b"a.b"));
    }

    #[test]
    fn the_debug_form_shows_no_key_material() {
        let key = VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap();
        let shown = format!("{:?}", key.prepared.as_deref().unwrap());
        assert_eq!(shown, "PreparedKey::Hmac");
    }
}
