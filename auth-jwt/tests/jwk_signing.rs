//! Signing keys from private JWKs: accepted only when whole and consistent.

use auth_jwt::{Algorithm, KeySet, SigningKey, VerifyingKey, verify_jws};
use serde_json::json;

// A P-256 key pair; x and y were computed from d with another library.
fn p256_pair() -> serde_json::Value {
    json!({"kty": "EC", "crv": "P-256",
           "x": "Qpi0JqZjsEwexfaYcVUOWj2quRAbZUZ5QRNZ3XDowLk",
           "y": "oSQctdIyt7Q0XRgHOIA3fZ4HD0Ux8fPZK-sLLLAkekY",
           "d": "jpsQnnGQmL-YBIffH1136cLSGzNpwZpuW2A7a6jHkWk"})
}

#[test]
fn private_ec_jwk_signs_what_its_public_half_verifies() {
    let jwk = p256_pair();
    let key = SigningKey::from_jwk_json(&jwk.to_string()).unwrap();
    assert_eq!(key.algorithm(), Algorithm::ES256);
    let token = key.sign(&json!({"sub": "a"}), None).unwrap();
    let mut public = jwk.clone();
    public.as_object_mut().unwrap().remove("d");
    let keys = KeySet::new([VerifyingKey::from_jwk_json(&public.to_string()).unwrap()]).unwrap();
    assert!(verify_jws(&token, &keys, 8192).is_ok());
}

#[test]
fn inconsistent_or_public_only_jwks_cannot_sign() {
    let mut jwk = p256_pair();
    // Another valid scalar: the pair no longer matches.
    jwk["d"] = json!("AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE");
    let err = SigningKey::from_jwk_json(&jwk.to_string()).unwrap_err();
    assert!(err.to_string().contains("does not match"), "{err}");
    assert!(
        !err.to_string().contains("AQEBAQ"),
        "private bytes in {err}"
    );

    let mut public = p256_pair();
    public.as_object_mut().unwrap().remove("d");
    let err = SigningKey::from_jwk_json(&public.to_string()).unwrap_err();
    assert!(err.to_string().contains("not a private key"), "{err}");

    let ed = json!({"kty": "OKP", "crv": "Ed25519",
                    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                    "d": "AAAA"});
    let err = SigningKey::from_jwk_json(&ed.to_string()).unwrap_err();
    assert!(err.to_string().contains("32-byte"), "{err}");

    // Encryption keys are refused for signing just as for verifying.
    let mut enc = p256_pair();
    enc["use"] = json!("enc");
    assert!(SigningKey::from_jwk_json(&enc.to_string()).is_err());
}
