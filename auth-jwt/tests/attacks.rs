//! RFC examples and attack classes, each asserted on the wire (status,
//! `WWW-Authenticate` error, body) or on the verifier.

mod fixtures;

use auth_jwt::{
    Algorithm, JwsAlgorithm, JwtStrategy, KeyError, KeySet, SigningKey, VerifyError, VerifyingKey,
    verify_jws,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use fixtures::*;
use jsonwebtoken::Header;
use serde_json::json;

const RSA_PRIV: &[u8] = include_bytes!("keys/rsa.pem");
const RSA_PUB: &[u8] = include_bytes!("keys/rsa.pub.pem");
const RSA_PKCS1_PUB: &[u8] = include_bytes!("keys/rsa.pkcs1.pub.pem");
const RSA1024_PUB: &[u8] = include_bytes!("keys/rsa1024.pub.pem");
const EC_PRIV: &[u8] = include_bytes!("keys/ec.pem");
const EC_PUB: &[u8] = include_bytes!("keys/ec.pub.pem");
const ED_PRIV: &[u8] = include_bytes!("keys/ed.pem");
const ED_PUB: &[u8] = include_bytes!("keys/ed.pub.pem");

/// The payload shared by the RFC 7515 appendix A examples (and RFC 7519
/// §3.1): `iss` "joe", `exp` 1300819380, `http://example.com/is_root` true.
const A_PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
/// A moment before the examples' `exp`.
const A_BEFORE_EXP: u64 = 1_300_819_000;

/// RFC 7515 appendix A.1, HS256 (also the RFC 7519 §3.1 example).
const A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const A1_JWKS: &str = r#"{"keys":[{"kty":"oct","alg":"HS256","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}]}"#;

/// RFC 7515 appendix A.2, RS256, with the example's RSA public key.
const A2_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const A2_JWKS: &str = r#"{"keys":[{"kty":"RSA","alg":"RS256","e":"AQAB","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"}]}"#;

/// RFC 7515 appendix A.3, ES256, with the example's P-256 public key.
const A3_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const A3_JWKS: &str = r#"{"keys":[{"kty":"EC","alg":"ES256","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;

/// RFC 7515 appendix A.5: the unsecured JWS (`{"alg":"none"}`, empty
/// signature) over the same payload.
const A5_TOKEN: &str = "eyJhbGciOiJub25lIn0.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.";

/// A strategy over one example key set, mapping `iss` to the user id, with
/// the clock at `clock` (or the real clock).
fn example_strategy(jwks: &str, clock: Option<u64>) -> JwtStrategy {
    let keys = match KeySet::from_jwks_json(jwks) {
        Ok(keys) => keys,
        // A.1's key is a shared secret: a JWK Set never hands one out, so it
        // is loaded explicitly, as configuration.
        Err(KeyError::SymmetricKey { .. }) => {
            let set: serde_json::Value = serde_json::from_str(jwks).unwrap();
            let secret = VerifyingKey::from_secret_jwk_json(&set["keys"][0].to_string()).unwrap();
            KeySet::new([secret]).unwrap()
        }
        Err(e) => panic!("{e}"),
    };
    let mut b = JwtStrategy::builder()
        .key_set(keys)
        .issuer("joe")
        .any_audience()
        .username_claim("iss");
    if let Some(t) = clock {
        b = b.clock(move || t);
    }
    b.build().unwrap()
}

fn a1_strategy(clock: Option<u64>) -> JwtStrategy {
    example_strategy(A1_JWKS, clock)
}

/// An appendix A example verifies before its `exp` (claims and profile as
/// published), and is expired today, on the wire.
async fn assert_example_verdicts(token: &str, jwks: &str) {
    assert!(token.contains(A_PAYLOAD));
    let s = example_strategy(jwks, Some(A_BEFORE_EXP));
    let v = s.verify_token(token).await.unwrap();
    assert_eq!(v.claims["iss"], "joe");
    assert_eq!(v.claims["exp"], 1_300_819_380);
    assert_eq!(v.claims["http://example.com/is_root"], true);
    assert_eq!(s.authenticate_token(token).await.unwrap().id, "joe");

    let app = app(example_strategy(jwks, None)).await;
    assert_unauthorized(&app, token, "token expired", "TOKEN_EXPIRED").await;
}

#[actix_web::test]
async fn rfc7515_a1_hs256_verdicts() {
    assert_example_verdicts(A1_TOKEN, A1_JWKS).await;
}

#[actix_web::test]
async fn rfc7515_a2_rs256_verdicts() {
    assert_example_verdicts(A2_TOKEN, A2_JWKS).await;
}

#[actix_web::test]
async fn rfc7515_a3_es256_verdicts() {
    assert_example_verdicts(A3_TOKEN, A3_JWKS).await;
}

/// The examples' signatures are bound to their keys: swapping keys or one
/// signature bit fails even with the clock before `exp`.
#[actix_web::test]
async fn rfc7515_examples_fail_with_the_wrong_key_or_a_flipped_bit() {
    for (token, other) in [
        (A2_TOKEN, A3_JWKS),
        (A3_TOKEN, A2_JWKS),
        (A1_TOKEN, A2_JWKS),
        (A4_KEY_CLAIMS_TOKEN, A3_JWKS),
        (A3_TOKEN, A4_JWKS),
        (A2_TOKEN, A4_JWKS),
    ] {
        let s = example_strategy(other, Some(A_BEFORE_EXP));
        assert!(s.verify_token(token).await.is_err());
    }
    for (token, jwks) in [
        (A2_TOKEN, A2_JWKS),
        (A3_TOKEN, A3_JWKS),
        (A4_KEY_CLAIMS_TOKEN, A4_JWKS),
    ] {
        let mut bytes = token.as_bytes().to_vec();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let flipped = String::from_utf8(bytes).unwrap();
        let s = example_strategy(jwks, Some(A_BEFORE_EXP));
        assert_eq!(
            s.verify_token(&flipped).await.unwrap_err(),
            VerifyError::Signature
        );
    }
}

/// RFC 7515 appendix A.4, ES512 over the payload `Payload` (not a claims
/// set), with the example's P-521 public key.
const A4_TOKEN: &str = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA.AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZqwqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8KpEHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";
const A4_JWKS: &str = r#"{"keys":[{"kty":"EC","crv":"P-521","x":"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk","y":"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"}]}"#;
/// The A.4 key signing the A.1–A.3 claims (header `{"alg":"ES512"}`), made
/// with pyca/cryptography 48 (OpenSSL 3) from the example's private `d`, so
/// the signer is not the crate under test. Its S is above n/2.
const A4_KEY_CLAIMS_TOKEN: &str = "eyJhbGciOiJFUzUxMiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.AGpgMOUDC65ikaXzW1a6_GOkjLeIZ-dWVPGCGAn29qekDj3mmjV8Ihfj68Cx_8_YP6fBdKsmuYpDD81Q3R9CsGE5AX3hLjN73p6QvPYtKzi6_7_NnFt7dHtWWkyXx-rWdmOndJSsBMgNqPT3Fhm7zRuJBNr4njLO6KHW6En9L1nwoQ_a";

/// A.4 verifies exactly: the published token with the published key gives
/// the published header and payload, whether the JWK names `alg` or not.
#[test]
fn rfc7515_a4_es512_verifies_exactly() {
    let with_alg = A4_JWKS.replace(r#""kty":"EC""#, r#""kty":"EC","alg":"ES512","kid":"a4""#);
    for jwks in [A4_JWKS, with_alg.as_str()] {
        let keys = KeySet::from_jwks_json(jwks).unwrap();
        assert_eq!(keys.keys()[0].algorithm(), JwsAlgorithm::ES512);
        let jws = verify_jws(A4_TOKEN, &keys, 8192).unwrap();
        assert_eq!(jws.payload, b"Payload");
        assert_eq!(
            serde_json::Value::Object(jws.header),
            json!({"alg": "ES512"})
        );
    }
    // The A.3 (P-256) key does not verify it, and A.4's key does not verify
    // A.3: the algorithm comes from the key.
    let a3 = KeySet::from_jwks_json(A3_JWKS).unwrap();
    assert_eq!(
        verify_jws(A4_TOKEN, &a3, 8192).unwrap_err(),
        VerifyError::Algorithm
    );
    let a4 = KeySet::from_jwks_json(A4_JWKS).unwrap();
    assert_eq!(
        verify_jws(A3_TOKEN, &a4, 8192).unwrap_err(),
        VerifyError::Algorithm
    );
}

/// On the wire, with and without a clock override: A.4's signature passes,
/// and the token is then refused only because `Payload` is not a claims set
/// (a JWT verifier needs one); the same token with one signature bit flipped
/// is refused at the signature.
#[actix_web::test]
async fn rfc7515_a4_es512_signature_passes_on_the_wire() {
    let mut flipped = A4_TOKEN.as_bytes().to_vec();
    let last = flipped.len() - 2;
    flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for clock in [Some(A_BEFORE_EXP), None] {
        let s = example_strategy(A4_JWKS, clock);
        assert_eq!(
            s.verify_token(A4_TOKEN).await.unwrap_err(),
            VerifyError::Malformed("payload is not a JSON object")
        );
        assert_eq!(
            s.verify_token(&flipped).await.unwrap_err(),
            VerifyError::Signature
        );
        let app = app(example_strategy(A4_JWKS, clock)).await;
        for (token, message) in [
            (A4_TOKEN, "malformed token: payload is not a JSON object"),
            (flipped.as_str(), "invalid token signature"),
        ] {
            let (status, challenges, body) =
                call(&app, "/whoami", &[("authorization", &bearer(token))]).await;
            assert_eq!(status, 401);
            assert_eq!(
                challenges,
                vec![format!(
                    r#"Bearer realm="api", error="invalid_token", error_description="{message}""#
                )]
            );
            assert_eq!(body["error"]["code"], "INVALID_TOKEN");
        }
    }
}

/// The A.4 key over the appendix claims, signed by another implementation:
/// the same verdicts as A.1–A.3 (valid before `exp` with the clock
/// override, expired today on the wire).
#[actix_web::test]
async fn rfc7515_a4_key_es512_verdicts() {
    assert_example_verdicts(A4_KEY_CLAIMS_TOKEN, A4_JWKS).await;
}

/// A.5, the unsecured JWS, is refused whatever the clock and key set.
#[actix_web::test]
async fn rfc7515_a5_unsecured_is_refused() {
    for jwks in [A1_JWKS, A2_JWKS, A3_JWKS] {
        let s = example_strategy(jwks, Some(A_BEFORE_EXP));
        assert!(s.verify_token(A5_TOKEN).await.is_err());
    }
    let app = app(a1_strategy(Some(A_BEFORE_EXP))).await;
    let (status, challenges, body) =
        call(&app, "/whoami", &[("authorization", &bearer(A5_TOKEN))]).await;
    assert_eq!(status, 401);
    assert_eq!(challenges.len(), 1);
    assert!(
        challenges[0].starts_with(r#"Bearer realm="api", error="invalid_token""#),
        "{challenges:?}"
    );
    assert_eq!(body["error"]["statusCode"], 401);
}

#[actix_web::test]
async fn rfc7515_a1_one_second_after_exp_plus_leeway_is_expired() {
    let s = a1_strategy(Some(1_300_819_380 + 30));
    assert_eq!(
        s.verify_token(A1_TOKEN).await.unwrap_err(),
        VerifyError::Expired
    );
    let s = a1_strategy(Some(1_300_819_380 + 29));
    assert!(s.verify_token(A1_TOKEN).await.is_ok());
}

fn hmac(key: &[u8], msg: &str) -> Vec<u8> {
    auth_test_support::jws::hmac_sha256(key, msg.as_bytes())
}

#[actix_web::test]
async fn alg_none_in_any_spelling_is_rejected() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = format!(
            "{}.{}.",
            B64.encode(json!({"alg": alg}).to_string()),
            B64.encode(valid_claims().to_string())
        );
        rejected(strategy(), &t, "token algorithm not accepted").await;
    }
}

#[actix_web::test]
async fn rsa_public_key_as_hmac_secret_is_rejected() {
    let s = JwtStrategy::builder()
        .key(VerifyingKey::from_pem(RSA_PUB, Algorithm::RS256).unwrap())
        .any_issuer()
        .any_audience()
        .build()
        .unwrap();
    let h = B64.encode(json!({"alg": "HS256", "typ": "JWT"}).to_string());
    let c = B64.encode(valid_claims().to_string());
    let msg = format!("{h}.{c}");
    let sig = B64.encode(hmac(RSA_PUB, &msg));
    rejected(s, &format!("{msg}.{sig}"), "token algorithm not accepted").await;
}

#[actix_web::test]
async fn tampered_payload_and_signature_are_rejected() {
    let good = hs256(&valid_claims());
    let parts: Vec<&str> = good.split('.').collect();
    let evil =
        B64.encode(json!({"sub": "admin", "exp": now() + 600, "roles": ["admin"]}).to_string());
    rejected(
        strategy(),
        &format!("{}.{}.{}", parts[0], evil, parts[2]),
        "invalid token signature",
    )
    .await;
    let mut sig = B64.decode(parts[2]).unwrap();
    sig[0] ^= 1;
    rejected(
        strategy(),
        &format!("{}.{}.{}", parts[0], parts[1], B64.encode(sig)),
        "invalid token signature",
    )
    .await;
}

#[actix_web::test]
async fn unknown_kid_is_rejected() {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("other".into());
    rejected(
        strategy(),
        &sign(h, &valid_claims(), SECRET),
        "token signed by an unknown key",
    )
    .await;
}

#[actix_web::test]
async fn not_yet_valid_is_rejected() {
    let t = hs256(&json!({"sub": "a", "exp": now() + 7200, "nbf": now() + 3600}));
    rejected(strategy(), &t, "token not yet valid").await;
}

#[actix_web::test]
async fn missing_exp_is_rejected() {
    rejected(
        strategy(),
        &hs256(&json!({"sub": "a"})),
        "token lacks the exp claim",
    )
    .await;
}

#[actix_web::test]
async fn wrong_issuer_and_audience_are_rejected() {
    let s = || {
        JwtStrategy::builder()
            .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
            .issuer("https://idp.example")
            .audience("todo")
            .build()
            .unwrap()
    };
    let base = |iss: &str, aud: serde_json::Value| {
        hs256(&json!({"sub": "a", "exp": now() + 60, "iss": iss, "aud": aud}))
    };
    rejected(
        s(),
        &base("https://evil.example", json!("todo")),
        "token has an invalid iss claim",
    )
    .await;
    rejected(
        s(),
        &base("https://idp.example", json!("billing")),
        "token has an invalid aud claim",
    )
    .await;
    rejected(
        s(),
        &hs256(&json!({"sub": "a", "exp": now() + 60, "aud": "todo"})),
        "token lacks the iss claim",
    )
    .await;
    rejected(
        s(),
        &hs256(&json!({"sub": "a", "exp": now() + 60, "iss": "https://idp.example"})),
        "token lacks the aud claim",
    )
    .await;
    let ok = base("https://idp.example", json!(["billing", "todo"]));
    assert!(s().verify_token(&ok).await.is_ok());
}

#[actix_web::test]
async fn crit_header_is_rejected() {
    let h = json!({"alg": "HS256", "crit": ["exp"], "exp": 1});
    let c = valid_claims();
    let msg = format!(
        "{}.{}",
        B64.encode(h.to_string()),
        B64.encode(c.to_string())
    );
    let t = format!("{msg}.{}", B64.encode(hmac(SECRET, &msg)));
    rejected(strategy(), &t, "token has an unsupported critical header").await;
}

#[actix_web::test]
async fn embedded_jwk_and_jku_never_choose_the_key() {
    // The attacker signs with their own secret and points at it in every way.
    let evil = b"attacker-secret-attacker-secret-attacker";
    let h = json!({"alg": "HS256", "jku": "https://evil.example/jwks", "x5u": "https://evil.example/c",
        "jwk": {"kty": "oct", "k": B64.encode(evil)}});
    let msg = format!(
        "{}.{}",
        B64.encode(h.to_string()),
        B64.encode(valid_claims().to_string())
    );
    let t = format!("{msg}.{}", B64.encode(hmac(evil, &msg)));
    rejected(strategy(), &t, "invalid token signature").await;
}

#[actix_web::test]
async fn oversize_token_is_rejected_before_decoding() {
    let t = "a".repeat(9000);
    rejected(strategy(), &t, "token too large").await;
}

#[actix_web::test]
async fn bad_base64_is_rejected() {
    let good = hs256(&valid_claims());
    let parts: Vec<&str> = good.split('.').collect();
    rejected(
        strategy(),
        // `/` is token68 (so the header parses) but not base64url.
        &format!("{}.{}/.{}", parts[0], parts[1], parts[2]),
        "malformed token: payload is not base64url",
    )
    .await;
    rejected(
        strategy(),
        &format!("{}+.{}.{}", parts[0], parts[1], parts[2]),
        "malformed token: header is not base64url",
    )
    .await;
}

#[actix_web::test]
async fn wrong_typ_is_rejected_when_required() {
    let s = || {
        JwtStrategy::builder()
            .key(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap())
            .typ("at+jwt")
            .build()
            .unwrap()
    };
    rejected(s(), &hs256(&valid_claims()), "token has the wrong type").await;
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some("application/AT+JWT".into());
    assert!(
        s().verify_token(&sign(h, &valid_claims(), SECRET))
            .await
            .is_ok()
    );
}

#[actix_web::test]
async fn every_asymmetric_algorithm_verifies_with_its_pinned_key() {
    let cases: &[(&[u8], &[u8], Algorithm)] = &[
        (RSA_PRIV, RSA_PUB, Algorithm::RS256),
        (RSA_PRIV, RSA_PKCS1_PUB, Algorithm::RS384),
        (RSA_PRIV, RSA_PUB, Algorithm::RS512),
        (RSA_PRIV, RSA_PUB, Algorithm::PS256),
        (RSA_PRIV, RSA_PUB, Algorithm::PS384),
        (RSA_PRIV, RSA_PUB, Algorithm::PS512),
        (EC_PRIV, EC_PUB, Algorithm::ES256),
        (ED_PRIV, ED_PUB, Algorithm::EdDSA),
    ];
    for (private, public, alg) in cases {
        let signer = SigningKey::from_pem(private, *alg).unwrap();
        let token = signer.sign(&valid_claims(), None).unwrap();
        let s = JwtStrategy::builder()
            .key(VerifyingKey::from_pem(public, *alg).unwrap())
            .any_issuer()
            .any_audience()
            .build()
            .unwrap();
        assert_eq!(
            s.authenticate_token(&token).await.unwrap().id,
            "alice",
            "{alg:?}"
        );
        // The same key pinned to a sibling algorithm refuses the token.
        let sibling = match alg {
            Algorithm::RS256 => Algorithm::PS256,
            Algorithm::PS256 => Algorithm::RS256,
            _ => continue,
        };
        let s = JwtStrategy::builder()
            .key(VerifyingKey::from_pem(public, sibling).unwrap())
            .any_issuer()
            .any_audience()
            .build()
            .unwrap();
        assert_eq!(
            s.verify_token(&token).await.unwrap_err(),
            VerifyError::Algorithm
        );
    }
}

#[test]
fn unsafe_key_sets_are_refused_at_load_naming_the_key() {
    assert!(matches!(
        VerifyingKey::hmac(b"sixteen-byte-key", Algorithm::HS256),
        Err(KeyError::ShortSecret {
            len: 16,
            min: 32,
            ..
        })
    ));
    assert!(matches!(
        VerifyingKey::hmac(&[7u8; 40], Algorithm::HS512),
        Err(KeyError::ShortSecret { min: 64, .. })
    ));
    let err = VerifyingKey::from_pem(RSA1024_PUB, Algorithm::RS256).unwrap_err();
    assert_eq!(
        err.to_string(),
        "key (no kid): RSA modulus of 1024 bits is weaker than the 2048 bits required"
    );
    let enc = r#"{"keys":[{"kty":"EC","kid":"e1","use":"enc","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}"#;
    assert_eq!(
        KeySet::from_jwks_json(enc).unwrap_err().to_string(),
        "the key set has no usable key: key 'e1': meant for encryption, not for signatures"
    );
    let short = r#"{"kty":"oct","kid":"s1","alg":"HS256","k":"c2hvcnQ"}"#;
    assert!(
        VerifyingKey::from_secret_jwk_json(short)
            .unwrap_err()
            .to_string()
            .starts_with("key 's1': HMAC secret of 5 bytes")
    );
    let no_alg = r#"{"kty":"oct","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#;
    assert_eq!(
        VerifyingKey::from_secret_jwk_json(no_alg)
            .unwrap_err()
            .to_string(),
        "key (no kid): an oct key needs an explicit alg"
    );
    assert!(matches!(KeySet::new([]), Err(KeyError::Empty)));
    assert_eq!(
        JwtStrategy::builder().build().unwrap_err().to_string(),
        "jwt strategy has no key: configure a secret, PEM, JWK, JWK Set or JWK Set URL"
    );
}

#[actix_web::test]
async fn key_set_selection_by_kid_and_by_alg() {
    let k1 = VerifyingKey::hmac(&[1u8; 32], Algorithm::HS256)
        .unwrap()
        .with_kid("k1");
    let k2 = VerifyingKey::hmac(&[2u8; 32], Algorithm::HS256)
        .unwrap()
        .with_kid("k2");
    let s = JwtStrategy::builder().key(k1).key(k2).build().unwrap();
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("k2".into());
    assert!(
        s.verify_token(&sign(h.clone(), &valid_claims(), &[2u8; 32]))
            .await
            .is_ok()
    );
    // Right key, wrong kid: only the named key is tried.
    h.kid = Some("k1".into());
    assert_eq!(
        s.verify_token(&sign(h, &valid_claims(), &[2u8; 32]))
            .await
            .unwrap_err(),
        VerifyError::Signature
    );
    // No kid: every HS256 key is tried.
    assert!(
        s.verify_token(&sign(
            Header::new(Algorithm::HS256),
            &valid_claims(),
            &[2u8; 32]
        ))
        .await
        .is_ok()
    );
}

#[actix_web::test]
async fn cache_never_serves_expired_tampered_or_old_key_tokens() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let clock = Arc::new(AtomicU64::new(now()));
    let s = hs256_on(&clock).build().unwrap();
    let token = hs256(&json!({"sub": "a", "exp": now() + 100}));
    assert!(s.verify_token(&token).await.is_ok());
    assert_eq!(s.cached_tokens(), 1);
    assert!(s.verify_token(&token).await.is_ok());
    // Tampered copy: a different key in the cache, so full verification.
    let mut t2 = token.clone();
    t2.pop();
    t2.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(s.verify_token(&t2).await.is_err());
    // Expiry is re-checked on a hit.
    clock.store(now() + 101, Ordering::SeqCst);
    assert_eq!(
        s.verify_token(&token).await.unwrap_err(),
        VerifyError::Expired
    );
    clock.store(now(), Ordering::SeqCst);
    // Key rotation empties the cache: the old key's token no longer passes.
    s.set_keys(KeySet::new([VerifyingKey::hmac(&[9u8; 32], Algorithm::HS256).unwrap()]).unwrap());
    assert_eq!(s.cached_tokens(), 0);
    assert_eq!(
        s.verify_token(&token).await.unwrap_err(),
        VerifyError::Signature
    );
}

/// `no_claim_roles`: whatever roles a token claims, in `roles` or in a
/// configured path, the profile holds the fixed roles only.
#[actix_web::test]
async fn no_claim_roles_takes_no_role_from_the_token() {
    use std::sync::Arc;
    use std::sync::atomic::AtomicU64;
    let clock = Arc::new(AtomicU64::new(now()));
    let partner = hs256_on(&clock)
        .no_claim_roles()
        .fixed_roles(["partner"])
        .build()
        .unwrap();
    let trusting = hs256_on(&clock).fixed_roles(["partner"]).build().unwrap();
    for claims in [
        json!({"sub": "a", "roles": ["admin"], "exp": now() + 100}),
        json!({"sub": "a", "roles": "admin auditor", "exp": now() + 100}),
        json!({"sub": "a", "roles": ["admin"], "realm_access": {"roles": ["admin"]}, "exp": now() + 100}),
    ] {
        let token = hs256(&claims);
        for _ in 0..2 {
            // The second time from the cache.
            assert_eq!(
                partner.authenticate_token(&token).await.unwrap().roles,
                ["partner"]
            );
        }
        assert!(
            trusting
                .authenticate_token(&token)
                .await
                .unwrap()
                .roles
                .contains(&"admin".to_owned())
        );
    }
    let conflict = hs256_on(&clock)
        .roles_claim("roles")
        .no_claim_roles()
        .build();
    assert_eq!(
        conflict.unwrap_err(),
        auth_jwt::JwtConfigError::RolesConflict
    );
}

/// The profile built from a cached token is reused, but every hit still
/// re-checks the clock and runs the extra verifier; a key change drops it.
#[actix_web::test]
async fn cached_profile_is_rechecked_on_every_hit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let clock = Arc::new(AtomicU64::new(now()));
    let verifier_calls = Arc::new(AtomicUsize::new(0));
    let v = verifier_calls.clone();
    let s = hs256_on(&clock)
        .fixed_roles(["member"])
        .verifier(move |profile| {
            v.fetch_add(1, Ordering::SeqCst);
            async move { Ok(profile) }
        })
        .build()
        .unwrap();
    let token = hs256(&json!({"sub": "a", "name": "Ann", "roles": ["admin"], "exp": now() + 100}));
    let first = s.authenticate_token(&token).await.unwrap();
    let second = s.authenticate_token(&token).await.unwrap();
    assert_eq!(first, second);
    assert_eq!(first.id, "a");
    assert_eq!(first.roles, ["admin", "member"]);
    assert_eq!(s.cached_tokens(), 1);
    assert_eq!(verifier_calls.load(Ordering::SeqCst), 2);

    clock.store(now() + 101, Ordering::SeqCst);
    let expired = s.authenticate_token(&token).await.unwrap_err();
    assert_eq!(expired.status(), 401);
    assert_eq!(expired.code(), "TOKEN_EXPIRED");
    assert_eq!(verifier_calls.load(Ordering::SeqCst), 2);

    clock.store(now(), Ordering::SeqCst);
    s.set_keys(KeySet::new([VerifyingKey::hmac(&[9u8; 32], Algorithm::HS256).unwrap()]).unwrap());
    assert_eq!(
        s.authenticate_token(&token).await.unwrap_err().status(),
        401
    );
}
