//! ES512 (ECDSA P-521 SHA-512, issue 11.11): tokens from `SigningKey` and
//! from other implementations accepted on the wire; wrong signatures,
//! crossed keys and malformed keys refused, as for the other algorithms.
//! RFC 7515 A.4 itself is in `attacks.rs`, next to A.1–A.3 and A.5.

mod fixtures;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use auth_core::UserProfile;
use auth_jwt::{
    Algorithm, JwksKeys, JwsAlgorithm, JwtStrategy, KeyError, KeySet, SigningKey, TokenService,
    VerifyError, VerifyingKey, verify_jws,
};
use auth_test_support::jwks::StaticJwks;
use auth_test_support::jws::hmac_sha256;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use fixtures::*;
use serde_json::{Value, json};

/// A P-521 key pair made by OpenSSL 3.0 (`openssl genpkey -algorithm EC
/// -pkeyopt ec_paramgen_curve:P-521`): PKCS#8, SubjectPublicKeyInfo, and the
/// same private key as SEC1 (`openssl ec`).
const P521_PRIV: &[u8] = include_bytes!("keys/p521.pem");
const P521_PUB: &[u8] = include_bytes!("keys/p521.pub.pem");
const P521_SEC1: &[u8] = include_bytes!("keys/p521.sec1.pem");
/// The P-256 test key pair.
const EC_PRIV: &[u8] = include_bytes!("keys/ec.pem");
const EC_PUB: &[u8] = include_bytes!("keys/ec.pub.pem");

/// keys/p521.pub.pem as JWK coordinates (computed with pyca/cryptography).
const P521_X: &str =
    "AFl-npLmVzORcFhpBr03qbC3b-8aVJzz5GdciHmNhNBOyUw4FDrlxo435Z-wLJLEX9NbHS0LEq_Svm6x8TOBmpxQ";
const P521_Y: &str =
    "AP85tCm_gZMEi8TWDdB-t-UKdxzo-ZH49-lZ-vAXrPlAbMsCYrWPJKTWKngdOQJkz6inRcMl4fS3XoZj9-pyi7zR";

/// Signed with keys/p521.pem by pyca/cryptography 48 (OpenSSL 3), not by
/// this crate: header `{"alg":"ES512","typ":"JWT","kid":"p521"}`, claims
/// `sub` carol, `iss` pyca, `exp` 4102444800 (year 2100), `roles` [user].
/// Its S is above n/2.
const EXTERNAL_TOKEN: &str = "eyJhbGciOiJFUzUxMiIsInR5cCI6IkpXVCIsImtpZCI6InA1MjEifQ.eyJzdWIiOiJjYXJvbCIsImlzcyI6InB5Y2EiLCJleHAiOjQxMDI0NDQ4MDAsInJvbGVzIjpbInVzZXIiXX0.AYUFIpZpH95HAq2gPe09tGOO0ee3xfez61fskVPMgFS2D21LEyd8EzS5oeCoLu9y4mmYAyVEykSaWJHJax89izwYAcPOgRYmjmV8aICXYE85eNOYc1zqhb3pT9TLQeEawhUY1qJ-aq3nlxODKm-KM6ojhW5mYlrBXVnYNbvlKUQqpIM4";

/// The RFC 7515 appendix A.4 key pair.
const A4_X: &str =
    "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk";
const A4_Y: &str =
    "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2";
const A4_D: &str =
    "AY5pb7A0UFiB3RELSD64fTLOSV_jazdF7fLYyuTw8lOfRhWg6Y6rUrPAxerEzgdRhajnu0ferB0d53vM9mE15j2C";

/// The order n of P-521 (SEC 2 §2.6.1), big-endian in 66 bytes; checked
/// against p521 in `the_order_constant_is_p521s`.
const N_HEX: &str = "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";

fn order() -> [u8; 66] {
    let mut n = [0u8; 66];
    for (i, b) in n.iter_mut().enumerate() {
        *b = u8::from_str_radix(&N_HEX[2 * i..2 * i + 2], 16).unwrap();
    }
    n
}

/// Big-endian `a + b` in 66 bytes (both below 2^522, so no overflow).
fn add(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 66];
    let mut carry = 0u16;
    for i in (0..66).rev() {
        let sum = a[i] as u16 + b[i] as u16 + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

/// Big-endian `a - b` in 66 bytes, for `a >= b`.
fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 66];
    let mut borrow = 0i16;
    for i in (0..66).rev() {
        let mut d = a[i] as i16 - b[i] as i16 - borrow;
        borrow = 0;
        if d < 0 {
            d += 256;
            borrow = 1;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0);
    out
}

fn public_jwk(kid: &str, x: &str, y: &str) -> Value {
    json!({"kty": "EC", "crv": "P-521", "alg": "ES512", "use": "sig", "kid": kid, "x": x, "y": y})
}

fn openssl_jwk() -> Value {
    public_jwk("p521", P521_X, P521_Y)
}

fn a4_private_jwk(kid: &str) -> Value {
    let mut jwk = public_jwk(kid, A4_X, A4_Y);
    jwk["d"] = json!(A4_D);
    jwk
}

/// In a published set a key that is not understood is ignored and named
/// (RFC 7517 §5) while the good key beside it verifies; alone, it leaves the
/// set with no usable key, and the error says why.
fn ignored_in_a_published_set(bad: &Value, expected: &str) {
    let set = json!({"keys": [openssl_jwk(), bad]}).to_string();
    let keys = KeySet::from_jwks_json(&set).unwrap();
    assert_eq!(keys.keys().len(), 1, "{set}");
    assert_eq!(keys.keys()[0].algorithm(), JwsAlgorithm::ES512);
    let ignored: Vec<String> = keys.ignored().iter().map(ToString::to_string).collect();
    assert_eq!(ignored, [expected], "{set}");
    let alone = json!({"keys": [bad]}).to_string();
    let err = KeySet::from_jwks_json(&alone).unwrap_err().to_string();
    let reason = expected.replace("key #1", "key #0");
    assert_eq!(
        err,
        format!("the key set has no usable key: {reason}"),
        "{alone}"
    );
}

fn pem_key() -> VerifyingKey {
    VerifyingKey::from_pem(P521_PUB, JwsAlgorithm::ES512).unwrap()
}

fn strategy_with(key: VerifyingKey) -> JwtStrategy {
    JwtStrategy::builder()
        .key(key)
        .any_issuer()
        .any_audience()
        .build()
        .unwrap()
}

/// Signs `header.claims` with the A.4 private key through p521 itself, not
/// through `SigningKey`, and returns the token and its raw R‖S.
fn p521_token(header: &Value, claims: &Value) -> (String, Vec<u8>) {
    use p521::ecdsa::signature::RandomizedSigner as _;
    let key = p521::ecdsa::SigningKey::from_slice(&B64.decode(A4_D).unwrap()).unwrap();
    let input = format!(
        "{}.{}",
        B64.encode(header.to_string()),
        B64.encode(claims.to_string())
    );
    let sig: p521::ecdsa::Signature = key.sign_with_rng(&mut rand::rngs::OsRng, input.as_bytes());
    let raw = sig.to_bytes().to_vec();
    (format!("{input}.{}", B64.encode(&raw)), raw)
}

fn a4_strategy() -> JwtStrategy {
    strategy_with(VerifyingKey::from_jwk_json(&public_jwk("a4", A4_X, A4_Y).to_string()).unwrap())
}

/// `token` with the signature `bad` is refused by the A.4 strategy, both
/// by `verify_token` (a signature error) and on the wire (401).
async fn bad_signature_is_refused(token: &str, bad: &[u8], what: &str) {
    let bad_token = with_signature(token, bad);
    assert_eq!(
        a4_strategy().verify_token(&bad_token).await.unwrap_err(),
        VerifyError::Signature,
        "{what}"
    );
    rejected(a4_strategy(), &bad_token, "invalid token signature").await;
}

/// `token` with its signature replaced by `sig`.
fn with_signature(token: &str, sig: &[u8]) -> String {
    let input = &token[..token.rfind('.').unwrap()];
    format!("{input}.{}", B64.encode(sig))
}

/// Asserts 200 on the wire and returns the profile the handler saw.
async fn accepted(strategy: JwtStrategy, token: &str) -> Value {
    let app = app(strategy).await;
    let (status, challenges, body) =
        call(&app, "/whoami", &[("authorization", &bearer(token))]).await;
    assert_eq!(status, 200, "{body}");
    assert!(challenges.is_empty());
    body
}

#[test]
fn the_order_constant_is_p521s() {
    let n = order();
    let one = {
        let mut b = [0u8; 66];
        b[65] = 1;
        b
    };
    let below = sub(&n, &one);
    assert!(p521::SecretKey::from_slice(&below).is_ok());
    assert!(p521::SecretKey::from_slice(&n).is_err());
}

#[actix_web::test]
async fn signing_key_tokens_are_accepted_on_the_wire() {
    let from_pem = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
        .unwrap()
        .with_kid("p521");
    let from_jwk = SigningKey::from_jwk_json(&a4_private_jwk("a4").to_string()).unwrap();
    assert_eq!(from_pem.algorithm(), JwsAlgorithm::ES512);
    assert_eq!(
        (from_jwk.algorithm(), from_jwk.kid()),
        (JwsAlgorithm::ES512, Some("a4"))
    );
    let openssl_public = [
        pem_key().with_kid("p521"),
        VerifyingKey::from_jwk_json(&openssl_jwk().to_string()).unwrap(),
    ];
    for (signer, verifiers) in [
        (&from_pem, openssl_public.to_vec()),
        (
            &from_jwk,
            vec![VerifyingKey::from_jwk_json(&public_jwk("a4", A4_X, A4_Y).to_string()).unwrap()],
        ),
    ] {
        let token = signer.sign(&valid_claims(), None).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        assert_eq!(
            header,
            json!({"typ": "JWT", "alg": "ES512", "kid": signer.kid().unwrap()})
        );
        // RFC 7518 §3.4: R‖S, 66 bytes each.
        assert_eq!(B64.decode(parts[2]).unwrap().len(), 132);
        for key in verifiers {
            let body = accepted(strategy_with(key), &token).await;
            assert_eq!(body["id"], "alice");
            assert_eq!(body["roles"], json!(["user"]));
        }
    }
}

/// The header is laid out as jsonwebtoken lays it out for the other
/// algorithms (`typ`, `alg`, then `kid`), and `TokenService` issues ES512
/// tokens the strategy accepts.
#[actix_web::test]
async fn es512_tokens_look_like_the_other_algorithms_tokens() {
    let es512 = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
        .unwrap()
        .with_kid("k");
    let es256 = SigningKey::from_pem(EC_PRIV, Algorithm::ES256)
        .unwrap()
        .with_kid("k");
    let header = |token: &str| {
        String::from_utf8(B64.decode(token.split('.').next().unwrap()).unwrap()).unwrap()
    };
    for typ in [None, Some("at+jwt")] {
        let a = header(&es512.sign(&valid_claims(), typ).unwrap());
        let b = header(&es256.sign(&valid_claims(), typ).unwrap());
        assert_eq!(a, b.replace("ES256", "ES512"));
    }
    assert_eq!(
        header(
            &SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
                .unwrap()
                .sign(&json!({}), None)
                .unwrap()
        ),
        r#"{"typ":"JWT","alg":"ES512"}"#
    );

    let tokens = TokenService::new(es512).issuer("todo");
    let access = tokens
        .sign_access(&UserProfile::new("42").with_roles(["admin"]))
        .unwrap();
    let strategy = JwtStrategy::builder()
        .key(pem_key().with_kid("k"))
        .issuer("todo")
        .any_audience()
        .build()
        .unwrap();
    let back = strategy.authenticate_token(&access).await.unwrap();
    assert_eq!(
        (back.id.as_str(), back.roles.as_slice()),
        ("42", &["admin".to_owned()][..])
    );
}

/// Tokens this crate did not sign: one from pyca/cryptography (OpenSSL) with
/// S above n/2, and fresh ones signed with p521 directly.
#[actix_web::test]
async fn independently_signed_es512_tokens_are_accepted_on_the_wire() {
    for key in [
        pem_key().with_kid("p521"),
        VerifyingKey::from_jwk_json(&openssl_jwk().to_string()).unwrap(),
    ] {
        let strategy = JwtStrategy::builder()
            .key(key)
            .issuer("pyca")
            .any_audience()
            .build()
            .unwrap();
        let body = accepted(strategy, EXTERNAL_TOKEN).await;
        assert_eq!(body["id"], "carol");
        assert_eq!(body["roles"], json!(["user"]));
    }
    for header in [
        json!({"alg": "ES512"}),
        json!({"alg": "ES512", "typ": "JWT", "kid": "a4"}),
    ] {
        let (token, _) = p521_token(&header, &valid_claims());
        let body = accepted(a4_strategy(), &token).await;
        assert_eq!(body["id"], "alice");
    }
}

#[actix_web::test]
async fn tampered_or_foreign_es512_tokens_are_401() {
    let (token, sig) = p521_token(&json!({"alg": "ES512"}), &valid_claims());
    let mut admin = valid_claims();
    admin["roles"] = json!(["admin"]);
    let parts: Vec<&str> = token.split('.').collect();
    let tampered_payload = format!(
        "{}.{}.{}",
        parts[0],
        B64.encode(admin.to_string()),
        parts[2]
    );
    let tampered_header = format!(
        "{}.{}.{}",
        B64.encode(json!({"alg": "ES512", "typ": "JWT"}).to_string()),
        parts[1],
        parts[2]
    );
    // A signature of the same input by another P-521 key.
    let other = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
        .unwrap()
        .sign(&valid_claims(), None)
        .unwrap();
    let other_sig = B64.decode(other.rsplit('.').next().unwrap()).unwrap();
    assert_ne!(other_sig, sig);
    for bad in [
        tampered_payload,
        tampered_header,
        with_signature(&token, &other_sig),
    ] {
        assert_eq!(
            a4_strategy().verify_token(&bad).await.unwrap_err(),
            VerifyError::Signature
        );
        rejected(a4_strategy(), &bad, "invalid token signature").await;
    }
    // The untouched token still passes: the refusals above are the edits'.
    accepted(a4_strategy(), &token).await;
}

/// A signature whose R and S both have a leading zero byte, so that
/// dropping or adding zero bytes keeps their integer values.
fn signature_with_short_scalars() -> (String, Vec<u8>) {
    loop {
        let (token, sig) = p521_token(&json!({"alg": "ES512"}), &valid_claims());
        if sig[0] == 0 && sig[66] == 0 {
            return (token, sig);
        }
    }
}

/// RFC 7518 §3.4: exactly 132 bytes. Shorter, longer, DER, and encodings
/// that a lenient integer parser would read as the same R and S are all
/// refused as an invalid signature, never a panic or a 500.
#[actix_web::test]
async fn es512_signatures_of_any_other_length_are_401() {
    let (token, sig) = signature_with_short_scalars();
    let (r, s) = sig.split_at(66);
    let der = p521::ecdsa::Signature::from_slice(&sig).unwrap().to_der();
    let cat = |parts: &[&[u8]]| parts.concat();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", vec![]),
        ("one byte", vec![1]),
        ("64 bytes (ES256 size)", sig[..64].to_vec()),
        ("96 bytes (ES384 size)", sig[..96].to_vec()),
        (
            "130 bytes: R and S without their leading zeros",
            cat(&[&r[1..], &s[1..]]),
        ),
        ("131 bytes: last byte dropped", sig[..131].to_vec()),
        ("131 bytes: R without its leading zero", cat(&[&r[1..], s])),
        ("131 bytes: S without its leading zero", cat(&[r, &s[1..]])),
        ("133 bytes: a zero byte appended", cat(&[&sig, &[0]])),
        ("133 bytes: a zero byte prepended", cat(&[&[0], &sig])),
        (
            "133 bytes: R with an extra leading zero",
            cat(&[&[0], r, s]),
        ),
        (
            "134 bytes: R and S with an extra leading zero",
            cat(&[&[0], r, &[0], s]),
        ),
        ("DER of the same signature", der.as_bytes().to_vec()),
        ("264 bytes: the signature twice", cat(&[&sig, &sig])),
    ];
    assert!(
        (137..=139).contains(&der.as_bytes().len()),
        "{}",
        der.as_bytes().len()
    );
    for (what, bad) in &cases {
        bad_signature_is_refused(&token, bad, what).await;
    }
    // A DER signature made by OpenSSL over the same input is refused too.
    let external_der = {
        let raw = B64
            .decode(EXTERNAL_TOKEN.rsplit('.').next().unwrap())
            .unwrap();
        p521::ecdsa::Signature::from_slice(&raw).unwrap().to_der()
    };
    rejected(
        strategy_with(pem_key().with_kid("p521")),
        &with_signature(EXTERNAL_TOKEN, external_der.as_bytes()),
        "invalid token signature",
    )
    .await;
    accepted(a4_strategy(), &token).await;
}

/// R and S must be in 1..n: zero, n itself, values that reduce to a valid
/// scalar modulo n, and anything at or above 2^521 are refused. (r, n − s),
/// the other valid signature for the same input, verifies: S above n/2 is
/// valid ECDSA, and other implementations produce it half of the time.
#[actix_web::test]
async fn es512_scalars_out_of_range_are_401() {
    let (token, sig) = p521_token(&json!({"alg": "ES512"}), &valid_claims());
    let (r, s) = sig.split_at(66);
    let n = order();
    let zero = [0u8; 66];
    let cat = |a: &[u8], b: &[u8]| [a, b].concat();
    let top = |first: u8| {
        let mut v = vec![0u8; 66];
        v[0] = first;
        v
    };
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("R = 0", cat(&zero, s)),
        ("S = 0", cat(r, &zero)),
        ("R = S = 0", cat(&zero, &zero)),
        ("R = n", cat(&n, s)),
        ("S = n", cat(r, &n)),
        ("R + n", cat(&add(r, &n), s)),
        ("S + n", cat(r, &add(s, &n))),
        ("R = 2^521", cat(&top(2), s)),
        ("S = 2^521", cat(r, &top(2))),
        ("all bits set", vec![0xff; 132]),
    ];
    for (what, bad) in &cases {
        assert_eq!(bad.len(), 132, "{what}");
        bad_signature_is_refused(&token, bad, what).await;
    }
    let twin = cat(r, &sub(&n, s));
    assert_ne!(twin, sig);
    accepted(a4_strategy(), &with_signature(&token, &twin)).await;
}

/// The algorithm comes from the key: an ES512 token never verifies with a
/// P-256 key, an ES256 token never with a P-521 key, whatever the header
/// says, and a P-256 key cannot be declared ES512.
#[actix_web::test]
async fn es512_and_other_curves_never_cross() {
    let es512_token = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
        .unwrap()
        .sign(&valid_claims(), None)
        .unwrap();
    let es256_token = SigningKey::from_pem(EC_PRIV, Algorithm::ES256)
        .unwrap()
        .sign(&valid_claims(), None)
        .unwrap();
    let es256_key = || VerifyingKey::from_pem(EC_PUB, Algorithm::ES256).unwrap();
    let es512_with_kid = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
        .unwrap()
        .with_kid("p256")
        .sign(&valid_claims(), None)
        .unwrap();
    let es256_with_kid = SigningKey::from_pem(EC_PRIV, Algorithm::ES256)
        .unwrap()
        .with_kid("p521")
        .sign(&valid_claims(), None)
        .unwrap();
    for (key, token) in [
        (es256_key(), &es512_token),
        (es256_key().with_kid("p256"), &es512_with_kid),
        (pem_key(), &es256_token),
        (pem_key().with_kid("p521"), &es256_with_kid),
    ] {
        rejected(strategy_with(key), token, "token algorithm not accepted").await;
    }
    // Each token is good with its own key.
    accepted(strategy_with(pem_key()), &es512_token).await;
    accepted(strategy_with(es256_key()), &es256_token).await;

    // An ES512 header over an HMAC made with the public key as the secret.
    let input = format!(
        "{}.{}",
        B64.encode(json!({"alg": "ES512"}).to_string()),
        B64.encode(valid_claims().to_string())
    );
    let mac = hmac_sha256(P521_PUB, input.as_bytes());
    rejected(
        strategy_with(pem_key()),
        &format!("{input}.{}", B64.encode(mac)),
        "invalid token signature",
    )
    .await;
    // `none` and misspelt names never reach a P-521 key.
    for alg in ["none", "es512", "ES521", "ES512 "] {
        let t = format!(
            "{}.{}.",
            B64.encode(json!({"alg": alg}).to_string()),
            B64.encode(valid_claims().to_string())
        );
        rejected(strategy_with(pem_key()), &t, "token algorithm not accepted").await;
    }

    // A P-256 key cannot claim ES512, nor be loaded as ES512 from PEM; a
    // P-521 PEM cannot be loaded as ES512 from the private or P-256 side.
    let p256_as_es512 = json!({"kty": "EC", "crv": "P-256", "alg": "ES512", "kid": "p256",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"});
    let expected = "key 'p256': ES512 needs an EC key on P-521";
    assert_eq!(
        VerifyingKey::from_jwk_json(&p256_as_es512.to_string())
            .unwrap_err()
            .to_string(),
        expected
    );
    ignored_in_a_published_set(&p256_as_es512, expected);
    let mut rsa_as_es512 = json!({"kty": "RSA", "alg": "ES512", "e": "AQAB", "n": "AQAB"});
    rsa_as_es512["kid"] = json!("rsa");
    assert!(matches!(
        VerifyingKey::from_jwk_json(&rsa_as_es512.to_string()),
        Err(KeyError::Algorithm { .. })
    ));
    for pem in [EC_PUB, P521_PRIV, b"not a pem".as_slice()] {
        assert!(matches!(
            VerifyingKey::from_pem(pem, JwsAlgorithm::ES512),
            Err(KeyError::Parse { .. })
        ));
    }
    for pem in [EC_PRIV, P521_PUB, P521_SEC1, b"".as_slice()] {
        assert!(matches!(
            SigningKey::from_pem(pem, JwsAlgorithm::ES512),
            Err(KeyError::Parse { .. })
        ));
    }
}

/// A JWK Set mixing P-256, RSA and two P-521 keys verifies ES512 tokens by
/// `kid` and, without one, by algorithm; loaded from a document or served
/// from a key-set URL.
#[actix_web::test]
async fn jwks_with_p521_keys_verify_es512_tokens() {
    let set = json!({"keys": [
        {"kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "p256",
         "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
         "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        public_jwk("a4", A4_X, A4_Y),
        {"kty": "EC", "crv": "P-521", "kid": "p521", "x": P521_X, "y": P521_Y},
    ]})
    .to_string();
    let keys = KeySet::from_jwks_json(&set).unwrap();
    let algs: Vec<_> = keys
        .keys()
        .iter()
        .map(|k| (k.kid(), k.algorithm()))
        .collect();
    assert_eq!(
        algs,
        [
            (Some("p256"), JwsAlgorithm::ES256),
            (Some("a4"), JwsAlgorithm::ES512),
            (Some("p521"), JwsAlgorithm::ES512)
        ]
    );
    let a4 = SigningKey::from_jwk_json(&a4_private_jwk("a4").to_string()).unwrap();
    let no_kid = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512).unwrap();
    let unknown_kid = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512)
        .unwrap()
        .with_kid("gone");
    let strategies = || {
        [
            JwtStrategy::builder()
                .key_set(KeySet::from_jwks_json(&set).unwrap())
                .any_issuer()
                .any_audience()
                .build()
                .unwrap(),
            JwtStrategy::builder()
                .jwks(JwksKeys::with_fetcher(StaticJwks::new(set.clone())))
                .any_issuer()
                .any_audience()
                .build()
                .unwrap(),
        ]
    };
    for strategy in strategies() {
        let body = accepted(strategy, &a4.sign(&valid_claims(), None).unwrap()).await;
        assert_eq!(body["id"], "alice");
    }
    for strategy in strategies() {
        accepted(strategy, &no_kid.sign(&valid_claims(), None).unwrap()).await;
    }
    for strategy in strategies() {
        let s = strategy;
        let token = unknown_kid.sign(&valid_claims(), None).unwrap();
        rejected(s, &token, "token signed by an unknown key").await;
    }
    // The key named by `kid` is the only one tried: a4's token under the
    // OpenSSL key's kid fails even though a4 is in the set.
    let misnamed = SigningKey::from_jwk_json(&a4_private_jwk("p521").to_string()).unwrap();
    for strategy in strategies() {
        rejected(
            strategy,
            &misnamed.sign(&valid_claims(), None).unwrap(),
            "invalid token signature",
        )
        .await;
    }
}

/// `kty: EC, crv: P-521`: x and y of exactly 66 bytes, on the curve, and an
/// `alg` that is absent or ES512; a bad key refuses the whole set, named.
#[test]
fn p521_jwks_are_loaded_strictly() {
    let y = B64.decode(A4_Y).unwrap();
    assert_eq!(y[0], 0, "the case below needs a leading zero");
    let mut off_curve = y.clone();
    off_curve[65] ^= 1;
    let coordinates: Vec<(&str, String, String)> = vec![
        (
            "y of a P-521 key must be 66 bytes, not 65",
            A4_X.into(),
            B64.encode(&y[1..]),
        ),
        (
            "y of a P-521 key must be 66 bytes, not 67",
            A4_X.into(),
            B64.encode([&[0u8][..], &y].concat()),
        ),
        (
            "x of a P-521 key must be 66 bytes, not 32",
            B64.encode([1u8; 32]),
            A4_Y.into(),
        ),
        (
            "x and y are not a point on P-521",
            A4_X.into(),
            B64.encode(&off_curve),
        ),
        (
            "x and y are not a point on P-521",
            B64.encode([0u8; 66]),
            B64.encode([0u8; 66]),
        ),
        ("y is not base64url", A4_X.into(), "not*base64".into()),
    ];
    for (reason, x, y) in &coordinates {
        let jwk = json!({"kty": "EC", "crv": "P-521", "kid": "bad", "x": x, "y": y});
        let expected = format!("key 'bad': cannot be parsed: {reason}");
        assert_eq!(
            VerifyingKey::from_jwk_json(&jwk.to_string())
                .unwrap_err()
                .to_string(),
            expected
        );
        ignored_in_a_published_set(&jwk, &expected);
    }
    for alg in [
        "ES256", "ES384", "RS256", "HS256", "EdDSA", "es512", "ECDH-ES", "none",
    ] {
        let mut jwk = public_jwk("a4", A4_X, A4_Y);
        jwk["alg"] = json!(alg);
        let expected = "key 'a4': alg does not match the curve";
        assert_eq!(
            VerifyingKey::from_jwk_json(&jwk.to_string())
                .unwrap_err()
                .to_string(),
            expected,
            "{alg}"
        );
        jwk.as_object_mut().unwrap().remove("kid");
        ignored_in_a_published_set(&jwk, "key #1: alg does not match the curve");
    }
    // The typed loader: an algorithm jsonwebtoken knows is refused too.
    let mut typed: jsonwebtoken::jwk::Jwk =
        serde_json::from_value(public_jwk("t", A4_X, A4_Y)).unwrap();
    typed.common.key_algorithm = Some(jsonwebtoken::jwk::KeyAlgorithm::ES384);
    assert!(matches!(
        VerifyingKey::from_jwk(&typed),
        Err(KeyError::Algorithm { .. })
    ));
    typed.common.key_algorithm = None;
    assert_eq!(
        VerifyingKey::from_jwk(&typed).unwrap().algorithm(),
        JwsAlgorithm::ES512
    );
    // An encryption key is refused for signatures, as on other curves.
    let mut enc = public_jwk("enc", A4_X, A4_Y);
    enc["use"] = json!("enc");
    assert_eq!(
        VerifyingKey::from_jwk_json(&enc.to_string()).unwrap_err(),
        KeyError::EncryptionKey {
            key: "'enc'".into()
        }
    );
    // Without alg the curve decides, as for P-256 and P-384.
    let bare = json!({"kty": "EC", "crv": "P-521", "x": A4_X, "y": A4_Y});
    assert_eq!(
        VerifyingKey::from_jwk_json(&bare.to_string())
            .unwrap()
            .algorithm(),
        JwsAlgorithm::ES512
    );
}

#[test]
fn private_p521_jwks_sign_only_when_whole_and_consistent() {
    let key = SigningKey::from_jwk_json(&a4_private_jwk("a4").to_string()).unwrap();
    let token = key.sign(&json!({"sub": "a"}), None).unwrap();
    let public =
        KeySet::from_jwks_json(&json!({"keys": [public_jwk("a4", A4_X, A4_Y)]}).to_string())
            .unwrap();
    assert_eq!(
        verify_jws(&token, &public, 8192).unwrap().kid.as_deref(),
        Some("a4")
    );

    let d = B64.decode(A4_D).unwrap();
    let other_d = {
        let mut v = d.clone();
        v[65] ^= 1;
        v
    };
    let cases: Vec<(Option<String>, &str)> = vec![
        (
            Some(B64.encode(&d[1..])),
            "d is not a 66-byte P-521 private key",
        ),
        (
            Some(B64.encode([&[0u8][..], &d].concat())),
            "d is not a 66-byte P-521 private key",
        ),
        (Some(B64.encode([0u8; 66])), "d is not a P-521 private key"),
        (Some(B64.encode(order())), "d is not a P-521 private key"),
        (Some(B64.encode(&other_d)), "d does not match x and y"),
        (None, "no private member d: not a private key"),
    ];
    for (d_member, reason) in cases {
        let mut jwk = a4_private_jwk("a4");
        match &d_member {
            Some(v) => jwk["d"] = json!(v),
            None => {
                jwk.as_object_mut().unwrap().remove("d");
            }
        }
        let err = SigningKey::from_jwk_json(&jwk.to_string()).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("key 'a4': cannot be parsed: {reason}")
        );
        if let Some(v) = d_member {
            assert!(!err.to_string().contains(&v[..8]), "private bytes in {err}");
        }
    }
}

/// Only the signature check differs: the claim rules and the verified-token
/// cache give ES512 tokens the verdicts they give ES256 and HS256 tokens.
#[actix_web::test]
async fn es512_tokens_get_the_same_claim_checks_and_cache_as_the_others() {
    let clock = Arc::new(AtomicU64::new(now()));
    let es512 = SigningKey::from_pem(P521_PRIV, JwsAlgorithm::ES512).unwrap();
    let es256 = SigningKey::from_pem(EC_PRIV, Algorithm::ES256).unwrap();
    let hs256 = SigningKey::hmac(SECRET, Algorithm::HS256).unwrap();
    let strategy = |key: VerifyingKey| {
        let c = clock.clone();
        JwtStrategy::builder()
            .key(key)
            .issuer("todo")
            .audience("api")
            .leeway(0)
            .clock(move || c.load(Ordering::SeqCst))
            .build()
            .unwrap()
    };
    let pairs = [
        (&es512, strategy(pem_key())),
        (
            &es256,
            strategy(VerifyingKey::from_pem(EC_PUB, Algorithm::ES256).unwrap()),
        ),
        (
            &hs256,
            strategy(VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap()),
        ),
    ];
    let t = now();
    let good = json!({"sub": "a", "iss": "todo", "aud": "api", "exp": t + 100});
    let with = |k: &str, v: Value| {
        let mut c = good.clone();
        c[k] = v;
        c
    };
    let without = |k: &str| {
        let mut c = good.clone();
        c.as_object_mut().unwrap().remove(k);
        c
    };
    let cases = [
        (good.clone(), None),
        (
            with("aud", json!("other")),
            Some(VerifyError::InvalidClaim("aud")),
        ),
        (
            with("iss", json!("evil")),
            Some(VerifyError::InvalidClaim("iss")),
        ),
        (without("aud"), Some(VerifyError::MissingClaim("aud"))),
        (without("exp"), Some(VerifyError::MissingClaim("exp"))),
        (with("exp", json!(t - 1)), Some(VerifyError::Expired)),
        (with("nbf", json!(t + 50)), Some(VerifyError::NotYetValid)),
        (
            with("exp", json!("soon")),
            Some(VerifyError::InvalidClaim("exp")),
        ),
    ];
    for (claims, verdict) in &cases {
        for (signer, s) in &pairs {
            let got = s
                .verify_token(&signer.sign(claims, None).unwrap())
                .await
                .err();
            assert_eq!(&got, verdict, "{} {claims}", signer.algorithm());
        }
    }

    // The cache: a hit, a tampered copy is a miss, expiry re-checked on a
    // hit, a key change empties it.
    for (signer, s) in &pairs {
        clock.store(t, Ordering::SeqCst);
        // Not signed before: HS256 tokens of equal claims are equal.
        let token = signer.sign(&with("jti", json!("cache")), None).unwrap();
        let before = s.cached_tokens();
        assert!(s.verify_token(&token).await.is_ok());
        assert!(s.verify_token(&token).await.is_ok());
        assert_eq!(s.cached_tokens(), before + 1);
        // One bit inside the signature (not a padding bit of its last
        // character, which would make it malformed base64url instead).
        let mut tampered = token.clone().into_bytes();
        let at = token.rfind('.').unwrap() + 10;
        tampered[at] = if tampered[at] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            s.verify_token(&tampered).await.unwrap_err(),
            VerifyError::Signature
        );
        clock.store(t + 101, Ordering::SeqCst);
        assert_eq!(
            s.verify_token(&token).await.unwrap_err(),
            VerifyError::Expired
        );
        clock.store(t, Ordering::SeqCst);
    }
    let (_, es512_strategy) = &pairs[0];
    let token = es512.sign(&good, None).unwrap();
    assert!(es512_strategy.verify_token(&token).await.is_ok());
    es512_strategy.set_keys(
        KeySet::from_jwks_json(&json!({"keys": [public_jwk("a4", A4_X, A4_Y)]}).to_string())
            .unwrap(),
    );
    assert_eq!(es512_strategy.cached_tokens(), 0);
    assert_eq!(
        es512_strategy.verify_token(&token).await.unwrap_err(),
        VerifyError::Signature
    );

    // On the wire an expired ES512 token is a TOKEN_EXPIRED 401.
    let expired = es512.sign(&with("exp", json!(now() - 100)), None).unwrap();
    let app = app(JwtStrategy::builder()
        .key(pem_key())
        .issuer("todo")
        .audience("api")
        .build()
        .unwrap())
    .await;
    assert_unauthorized(&app, &expired, "token expired", "TOKEN_EXPIRED").await;
}
