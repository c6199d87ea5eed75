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
//! [`VerifyingKey`](crate::VerifyingKey) is made, and the signature is
//! decoded on the stack. Same library, same algorithm parameters and key-size
//! checks as jsonwebtoken's aws-lc-rs provider; only the per-call set-up
//! goes. Tests in this file check that both give the same answer for every
//! algorithm and key form, on valid, tampered, truncated and malformed
//! signatures.
//!
//! Used only when this crate's own aws-lc-rs provider is jsonwebtoken's
//! process default ([`CryptoBackend::AwsLcRs`](crate::CryptoBackend)): a
//! provider the application installed is always asked through jsonwebtoken,
//! and the RustCrypto backend keeps jsonwebtoken's path.

use std::fmt;

use aws_lc_rs::hmac;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind};

use crate::algorithm::JwsAlgorithm;

/// The longest signature decoded: RSA-8192, the largest modulus aws-lc's
/// `*_2048_8192_*` parameters accept, plus what base64's length estimate
/// rounds up. Longer signatures cannot be valid and are refused undecoded.
const MAX_SIGNATURE: usize = 8192 / 8 + 8;

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
    /// Prepares `key` for `alg`, or `None` when aws-lc refuses the key (the
    /// caller then keeps jsonwebtoken's path, which gives that key's usual
    /// answer) or when this process does not run this crate's aws-lc-rs
    /// provider.
    pub(crate) fn new(alg: JwsAlgorithm, key: &DecodingKey) -> Option<Self> {
        if crate::backend::ensure_crypto_provider() != crate::CryptoBackend::AwsLcRs {
            return None;
        }
        Self::prepare(alg, key)
    }

    fn prepare(alg: JwsAlgorithm, key: &DecodingKey) -> Option<Self> {
        let Some(alg) = alg.to_jsonwebtoken() else {
            // ES512: the point jsonwebtoken's `from_ec_der` holds for it.
            return ParsedPublicKey::new(
                &sig::ECDSA_P521_SHA512_FIXED,
                key.try_get_as_bytes().ok()?,
            )
            .ok()
            .map(PreparedKey::Public);
        };
        let rsa = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let hash = match alg {
                    Algorithm::HS256 => hmac::HMAC_SHA256,
                    Algorithm::HS384 => hmac::HMAC_SHA384,
                    _ => hmac::HMAC_SHA512,
                };
                return Some(PreparedKey::Hmac(hmac::Key::new(
                    hash,
                    key.try_get_as_bytes().ok()?,
                )));
            }
            Algorithm::ES256 => return public(&sig::ECDSA_P256_SHA256_FIXED, key),
            Algorithm::ES384 => return public(&sig::ECDSA_P384_SHA384_FIXED, key),
            Algorithm::EdDSA => return public(&sig::ED25519, key),
            Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
            Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
            Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
            Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
            // An algorithm jsonwebtoken adds later: its own path.
            _ => return None,
        };
        match key.kind() {
            DecodingKeyKind::SecretOrDer(der) => ParsedPublicKey::new(rsa, der).ok(),
            DecodingKeyKind::RsaModulusExponent { n, e } => RsaPublicKeyComponents { n, e }
                .to_parsed_public_key(rsa)
                .ok(),
        }
        .map(PreparedKey::Public)
    }

    /// Checks `signature` (base64url without padding, as in the token) over
    /// `message`. Every failure is `false`.
    pub(crate) fn verify(&self, signature: &str, message: &[u8]) -> bool {
        let mut buf = [0u8; MAX_SIGNATURE];
        // The same engine as jsonwebtoken's (`URL_SAFE_NO_PAD`): padding and
        // non-canonical trailing bits are refused alike.
        let Ok(len) = URL_SAFE_NO_PAD.decode_slice(signature, &mut buf) else {
            return false;
        };
        let signature = &buf[..len];
        match self {
            // Constant time, as jsonwebtoken's.
            PreparedKey::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
            PreparedKey::Public(key) => key.verify_sig(message, signature).is_ok(),
        }
    }
}

fn public(alg: &'static dyn sig::VerificationAlgorithm, key: &DecodingKey) -> Option<PreparedKey> {
    ParsedPublicKey::new(alg, key.try_get_as_bytes().ok()?)
        .ok()
        .map(PreparedKey::Public)
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::jwk::Jwk;

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

    /// Every algorithm, with each form its public key can be loaded from.
    fn cases() -> Vec<(SigningKey, Vec<(&'static str, VerifyingKey)>)> {
        let mut cases = Vec::new();
        for alg in [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512] {
            cases.push((
                SigningKey::hmac(SECRET, alg).unwrap(),
                vec![("secret", VerifyingKey::hmac(SECRET, alg).unwrap())],
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
            vec![(
                "PEM",
                VerifyingKey::from_pem(&pem("p521.pub.pem"), es512).unwrap(),
            )],
        ));
        cases
    }

    /// jsonwebtoken's answer (p521's for ES512): what the prepared key must
    /// agree with.
    fn reference(key: &VerifyingKey, signature: &str, message: &[u8]) -> bool {
        match key.alg.to_jsonwebtoken() {
            Some(alg) => matches!(
                jsonwebtoken::crypto::verify(signature, message, &key.decoding, alg),
                Ok(true)
            ),
            None => crate::es512::verify(&key.decoding, signature, message),
        }
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
    fn every_algorithm_and_key_form_is_prepared_once() {
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
                count += 1;
            }
        }
        // 3 HMAC + 6 RSA × 3 forms + 3 × 2 + ES512.
        assert_eq!(count, 3 + 18 + 6 + 1);
    }

    #[test]
    fn prepared_keys_answer_as_jsonwebtoken_does() {
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
            for (form, key) in &forms {
                let prepared = key.prepared.as_deref().unwrap();
                let what = format!("{alg} from {form}");
                assert!(
                    prepared.verify(signature, message.as_bytes()),
                    "{what}: valid"
                );
                assert!(
                    reference(key, signature, message.as_bytes()),
                    "{what}: reference"
                );
                assert!(
                    key.verify_signature(signature, message.as_bytes()),
                    "{what}"
                );
                assert!(
                    !prepared.verify(signature, other_message.as_bytes()),
                    "{what}: signature over another message"
                );
                let mut tampered = message.as_bytes().to_vec();
                tampered[message.len() / 2] ^= 0x01;
                assert!(
                    !prepared.verify(signature, &tampered),
                    "{what}: one bit of the message"
                );
                for (bad, sig) in bad_signatures(signature) {
                    let got = prepared.verify(&sig, message.as_bytes());
                    assert!(!got, "{what}: {bad} verified");
                    assert_eq!(
                        got,
                        reference(key, &sig, message.as_bytes()),
                        "{what}: {bad}"
                    );
                }
            }
        }
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
                    let prepared = key.prepared.as_deref().unwrap();
                    assert!(
                        !prepared.verify(signature, message.as_bytes()),
                        "a {} signature verified with the {} key from {form}",
                        signing.algorithm(),
                        other.algorithm()
                    );
                }
            }
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
        // `openssl dgst -sha256 -sign tests/keys/rsa1024.pem` over MESSAGE
        // (aws-lc will not sign with a 1024-bit key either); OpenSSL
        // verifies it with `rsa1024.pub.pem`.
        const MESSAGE: &[u8] = b"eyJhbGciOiJSUzI1NiJ9.e30";
        const SIGNATURE: &str = "eIr7mV9-FP_72jigcAJBIjGbJAk1MnszzyTOx5vHEV98uZPiQRIUKb8qF8nh0c6ht-dqrYgjcO8k37xK5Om_8I0ECDks9LDQd75C0Fd5vRyuymbypM9pNCxsaxw5LjXMHzpPwNH5xjml3apJAKVNFmyvDuZibVNaqRSUtZsb1Kg";
        assert!(!key.verify_signature(SIGNATURE, MESSAGE));
        assert!(!reference(&key, SIGNATURE, MESSAGE));

        // Bytes that are no key of the family: not prepared, refused.
        for (alg, bytes) in [
            (JwsAlgorithm::ES256, &b"not a point"[..]),
            (JwsAlgorithm::ES256, &[4; 65][..]),
            (JwsAlgorithm::ES384, &[4; 97][..]),
            (JwsAlgorithm::ES512, &[4; 133][..]),
            (JwsAlgorithm::EdDSA, &[1; 31][..]),
            (JwsAlgorithm::RS256, &b"\x30\x03\x02\x01\x01"[..]),
        ] {
            let key = VerifyingKey::new(None, alg, DecodingKey::from_ec_der(bytes));
            assert!(key.prepared.is_none(), "{alg}: {bytes:?} was prepared");
            assert!(!key.verify_signature("AAAA", b"a.b"), "{alg}");
        }
    }

    #[test]
    fn the_debug_form_shows_no_key_material() {
        let key = VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap();
        let shown = format!("{:?}", key.prepared.as_deref().unwrap());
        assert_eq!(shown, "PreparedKey::Hmac");
    }
}
