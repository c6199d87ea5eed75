//! What a key set may hold: published sets carry public keys only (issue
//! 11.1), weak RSA keys are refused on every load path (issue 11.2), and keys
//! that are not understood are ignored rather than refusing the set (issue
//! 18.8). Tokens are checked on the wire where a strategy is involved.

mod fixtures;

use auth_jwt::{Algorithm, JwksOptions, JwtStrategy, KeyError, KeySet, SigningKey, VerifyingKey};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use fixtures::*;
use num_bigint_dig::BigUint;
use rand::{Rng as _, SeedableRng as _};
use serde_json::{Value, json};

const RSA_PRIV: &[u8] = include_bytes!("keys/rsa.pem");
const RSA_PUB: &[u8] = include_bytes!("keys/rsa.pub.pem");
const RSA_PKCS1_PUB: &[u8] = include_bytes!("keys/rsa.pkcs1.pub.pem");
const SECRET_K: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY";

/// The RFC 7515 A.2 RSA public key, an ordinary key that must load.
const A2_N: &str = "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ";

fn ec_public(kid: &str) -> Value {
    ec_key(kid, 7).1
}

/// The test app with a strategy from `builder` that takes any issuer and
/// any audience.
async fn any_issuer_or_audience_app(
    builder: auth_jwt::JwtStrategyBuilder,
) -> impl actix_web::dev::Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse,
    Error = actix_web::Error,
> {
    app(builder.any_issuer().any_audience().build().unwrap()).await
}

/// Asserts each token is accepted on `/whoami` (200).
async fn assert_accepted<S>(service: &S, tokens: &[String])
where
    S: actix_web::dev::Service<
            actix_http::Request,
            Response = actix_web::dev::ServiceResponse,
            Error = actix_web::Error,
        >,
{
    for token in tokens {
        let (status, _, body) =
            call(service, "/whoami", &[("authorization", &bearer(token))]).await;
        assert_eq!(status, 200, "{body}");
    }
}

fn label_of(e: &KeyError) -> String {
    match e {
        KeyError::SymmetricKey { key }
        | KeyError::PrivateKey { key, .. }
        | KeyError::WeakRsaExponent { key, .. }
        | KeyError::RocaFingerprint { key }
        | KeyError::WeakRsa { key, .. } => key.clone(),
        other => panic!("unexpected refusal: {other}"),
    }
}

// ---------------------------------------------------------------- 11.1

#[test]
fn a_published_set_with_a_secret_is_refused_whole_naming_the_key() {
    let oct = |kid: Option<&str>, extra: Value| {
        let mut k = json!({"kty": "oct", "alg": "HS256", "k": SECRET_K});
        if let Some(kid) = kid {
            k["kid"] = kid.into();
        }
        for (name, v) in extra.as_object().unwrap() {
            k[name] = v.clone();
        }
        k
    };
    let cases = [
        (vec![oct(Some("hs"), json!({}))], "'hs'"),
        // Mixed: the good EC key does not save the set.
        (vec![ec_public("ec"), oct(Some("hs"), json!({}))], "'hs'"),
        (
            vec![oct(Some("first"), json!({})), ec_public("ec")],
            "'first'",
        ),
        (vec![ec_public("ec"), oct(None, json!({}))], "#1"),
        // A secret marked for encryption, or without alg, is still a secret.
        (
            vec![ec_public("ec"), oct(Some("e"), json!({"use": "enc"}))],
            "'e'",
        ),
        (
            vec![ec_public("ec"), oct(Some("n"), json!({"alg": null}))],
            "'n'",
        ),
        (
            vec![
                ec_public("ec"),
                json!({"kty": "x-oct", "kid": "k", "k": SECRET_K}),
            ],
            "'k'",
        ),
    ];
    let mut typed = 0;
    for (keys, label) in cases {
        let doc = jwk_set(&keys.iter().collect::<Vec<_>>());
        let err = KeySet::from_jwks_json(&doc).unwrap_err();
        assert!(matches!(err, KeyError::SymmetricKey { .. }), "{doc}: {err}");
        assert_eq!(label_of(&err), label, "{doc}");
        assert!(err.refuses_the_set());
        assert!(!err.to_string().contains(SECRET_K), "secret in {err}");
        // The typed loader refuses the ones it can parse as `oct` as well.
        let parsed = serde_json::from_str::<jsonwebtoken::jwk::JwkSet>(&doc).ok();
        if let Some(parsed) = parsed.filter(|set| {
            set.keys.iter().any(|k| {
                matches!(
                    k.algorithm,
                    jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
                )
            })
        }) {
            typed += 1;
            assert!(
                matches!(
                    KeySet::from_jwks(&parsed),
                    Err(KeyError::SymmetricKey { .. })
                ),
                "{doc}"
            );
        }
    }
    assert!(
        typed >= 4,
        "only {typed} sets went through the typed loader"
    );
}

#[test]
fn a_published_set_with_a_private_key_is_refused_whole_naming_the_key() {
    let (_, ec) = ec_key("ec", 3);
    let with = |mut k: Value, kid: &str, members: &[&str]| {
        k["kid"] = kid.into();
        for m in members {
            k[*m] = "AQAB".into();
        }
        k
    };
    let rsa = json!({"kty": "RSA", "alg": "RS256", "e": "AQAB", "n": A2_N});
    let okp =
        json!({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
    let cases = [
        (with(ec.clone(), "ec-d", &["d"]), "'ec-d'", "d"),
        (with(okp, "ed-d", &["d"]), "'ed-d'", "d"),
        (with(rsa.clone(), "rsa-d", &["d"]), "'rsa-d'", "d"),
        (with(rsa.clone(), "rsa-pq", &["p", "q"]), "'rsa-pq'", "p"),
        (with(rsa.clone(), "rsa-qi", &["qi"]), "'rsa-qi'", "qi"),
        (with(rsa.clone(), "rsa-dp", &["dp", "dq"]), "'rsa-dp'", "dp"),
        (with(rsa, "rsa-oth", &["oth"]), "'rsa-oth'", "oth"),
    ];
    for (private, label, member) in cases {
        let good = ec_public("good");
        let doc = jwk_set(&[&good, &private]);
        match KeySet::from_jwks_json(&doc).unwrap_err() {
            KeyError::PrivateKey { key, member: m } => {
                assert_eq!((key.as_str(), m.as_str()), (label, member), "{doc}")
            }
            other => panic!("{doc}: {other}"),
        }
    }
}

#[actix_web::test]
async fn a_single_public_jwk_never_becomes_an_hmac_key() {
    let oct = json!({"kty": "oct", "alg": "HS256", "kid": "s", "k": B64.encode(SECRET)});
    for doc in [
        oct.to_string(),
        json!({"kty": "oct", "alg": "HS512", "k": B64.encode([7u8; 64])}).to_string(),
        json!({"kty": "oct", "k": B64.encode([7u8; 64])}).to_string(),
    ] {
        assert!(
            matches!(
                VerifyingKey::from_jwk_json(&doc),
                Err(KeyError::SymmetricKey { .. })
            ),
            "{doc}"
        );
        let typed: jsonwebtoken::jwk::Jwk = serde_json::from_str(&doc).unwrap();
        assert!(matches!(
            VerifyingKey::from_jwk(&typed),
            Err(KeyError::SymmetricKey { .. })
        ));
    }
    // The explicitly named constructor is the way in, and it works.
    let key = VerifyingKey::from_secret_jwk_json(&oct.to_string()).unwrap();
    let s = JwtStrategy::builder().key(key).build().unwrap();
    let mut h = jsonwebtoken::Header::new(Algorithm::HS256);
    h.kid = Some("s".into());
    let service = app(s).await;
    let (status, _, _) = call(
        &service,
        "/whoami",
        &[("authorization", &bearer(&sign(h, &valid_claims(), SECRET)))],
    )
    .await;
    assert_eq!(status, 200);
    // It takes secrets only.
    assert!(VerifyingKey::from_secret_jwk_json(&ec_public("ec").to_string()).is_err());
}

// ---------------------------------------------------------------- 11.2

/// DER of a PKCS#1 RSAPublicKey, as PEM.
fn pkcs1_pem(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, n: usize) {
        if n < 0x80 {
            out.push(n as u8);
        } else {
            let bytes: Vec<u8> = n
                .to_be_bytes()
                .into_iter()
                .skip_while(|b| *b == 0)
                .collect();
            out.push(0x80 | bytes.len() as u8);
            out.extend(bytes);
        }
    }
    fn int(out: &mut Vec<u8>, v: &[u8]) {
        let mut v: Vec<u8> = v.iter().copied().skip_while(|b| *b == 0).collect();
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            v.insert(0, 0);
        }
        out.push(0x02);
        len(out, v.len());
        out.extend(v);
    }
    let mut body = Vec::new();
    int(&mut body, n);
    int(&mut body, e);
    let mut der = vec![0x30];
    len(&mut der, body.len());
    der.extend(body);
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN RSA PUBLIC KEY-----\n{}\n-----END RSA PUBLIC KEY-----\n",
        lines.join("\n")
    )
    .into_bytes()
}

fn rsa_jwk(kid: &str, n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "alg": "RS256", "kid": kid, "n": B64.encode(n), "e": B64.encode(e)})
}

/// Loads (n, e) through each RSA load path: JWK, JWK Set (next to a good
/// key), PEM. Returns the three results.
fn load_everywhere(kid: &str, n: &[u8], e: &[u8]) -> [Result<(), KeyError>; 3] {
    let jwk = rsa_jwk(kid, n, e);
    let good = ec_public("good");
    [
        VerifyingKey::from_jwk_json(&jwk.to_string()).map(drop),
        KeySet::from_jwks_json(&jwk_set(&[&good, &jwk])).map(drop),
        VerifyingKey::from_pem(&pkcs1_pem(n, e), Algorithm::RS256).map(drop),
    ]
}

fn random_prime(rng: &mut rand::rngs::StdRng, bits: usize) -> BigUint {
    let mut bytes = vec![0u8; bits / 8];
    rng.fill(&mut bytes[..]);
    bytes[0] |= 0xc0;
    num_bigint_dig::prime::next_prime(&BigUint::from_bytes_be(&bytes))
}

/// An ordinary 2048-bit modulus from two random primes.
fn ordinary_modulus(seed: u64) -> Vec<u8> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let p = random_prime(&mut rng, 1024);
    let q = random_prime(&mut rng, 1024);
    (p * q).to_bytes_be()
}

/// The signing side keeps the verifier's RSA rules: a key whose tokens a
/// verifier must refuse is refused when loaded to sign, in PKCS#8 and
/// PKCS#1 PEM, for every RSA algorithm. Malformed PEM is an error, never a
/// panic.
#[test]
fn weak_rsa_keys_cannot_sign() {
    const RSA1024_PRIV: &[u8] = include_bytes!("keys/rsa1024.pem");
    // The same keys as PKCS#1 ("RSA PRIVATE KEY"): the PKCS#8 wrapper's
    // inner key, re-armoured.
    let pkcs1 = |pkcs8_pem: &[u8]| -> Vec<u8> {
        use pkcs8::der::Decode as _;
        let (_, der) = pkcs8::der::pem::decode_vec(pkcs8_pem).unwrap();
        let info = pkcs8::PrivateKeyInfo::from_der(&der).unwrap();
        pkcs8::der::pem::encode_string(
            "RSA PRIVATE KEY",
            pkcs8::der::pem::LineEnding::LF,
            info.private_key,
        )
        .unwrap()
        .into_bytes()
    };
    let rsa_algs = [
        Algorithm::RS256,
        Algorithm::RS384,
        Algorithm::RS512,
        Algorithm::PS256,
        Algorithm::PS384,
        Algorithm::PS512,
    ];
    for weak in [RSA1024_PRIV.to_vec(), pkcs1(RSA1024_PRIV)] {
        for alg in rsa_algs {
            match SigningKey::from_pem(&weak, alg) {
                Err(KeyError::WeakRsa { bits, .. }) => assert_eq!(bits, 1024),
                other => panic!("{alg:?}: {other:?}"),
            }
        }
    }
    for good in [RSA_PRIV.to_vec(), pkcs1(RSA_PRIV)] {
        for alg in rsa_algs {
            let key = SigningKey::from_pem(&good, alg).unwrap();
            let token = key.sign(&json!({"sub": "a"}), None).unwrap();
            assert_eq!(token.split('.').count(), 3);
        }
    }
    let not_rsa = [
        &b"-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"[..],
        b"-----BEGIN PRIVATE KEY-----\nMAA=\n-----END PRIVATE KEY-----\n",
        b"-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n",
        b"not a pem",
        include_bytes!("keys/ec.pem"),
    ];
    for pem in not_rsa {
        assert!(SigningKey::from_pem(pem, Algorithm::RS256).is_err());
    }
}

#[test]
fn weak_rsa_exponents_are_refused_on_every_load_path() {
    let n = ordinary_modulus(1);
    let cases: &[(&[u8], &str)] = &[
        (&[1], "1"),
        (&[2], "2"),
        (&[0], "0"),
        (&[4], "4"),
        (&[1, 0, 0], "65536"),
        (&[0, 0, 1], "1"),
        (&[1, 0, 0, 0, 0, 0, 0, 0, 0], "0x010000000000000000"),
    ];
    for (e, shown) in cases {
        for (path, result) in load_everywhere("weak-e", &n, e).into_iter().enumerate() {
            match result {
                Err(KeyError::WeakRsaExponent { key, exponent }) => {
                    assert_eq!(exponent, *shown, "path {path}");
                    let want = if path == 2 { "(no kid)" } else { "'weak-e'" };
                    assert_eq!(key, want, "path {path}");
                }
                other => panic!("e = {shown}, path {path}: {other:?}"),
            }
        }
    }
    // Odd exponents of 3 and more load, on every path.
    for e in [&[3u8][..], &[1, 0, 1], &[0x7f, 0xff, 0xff, 0xff]] {
        for result in load_everywhere("ok", &n, e) {
            result.unwrap();
        }
    }
}

/// The primorial of the first `count` primes.
fn primorial(count: usize) -> BigUint {
    let mut m = BigUint::from(1u32);
    let (mut found, mut n) = (0, 2u32);
    while found < count {
        if (2..n).take_while(|d| d * d <= n).all(|d| n % d != 0) {
            m *= n;
            found += 1;
        }
        n += 1;
    }
    m
}

/// A prime with the structure of the vulnerable Infineon generator (Nemec
/// et al., CCS 2017): p = k·M + (65537^a mod M), M the primorial of the
/// first 126 primes (the paper's M for 2048-bit keys), k and a random.
fn roca_prime(rng: &mut rand::rngs::StdRng, bits: usize) -> BigUint {
    let m = primorial(126);
    let g = BigUint::from(65537u32);
    loop {
        let a = BigUint::from(rng.r#gen::<u64>());
        let mut k_bytes = vec![0u8; (bits - m.bits()).div_ceil(8)];
        rng.fill(&mut k_bytes[..]);
        k_bytes[0] |= 0x80;
        let k = BigUint::from_bytes_be(&k_bytes);
        let p = k * &m + g.modpow(&a, &m);
        if num_bigint_dig::prime::probably_prime(&p, 20) {
            return p;
        }
    }
}

#[test]
fn roca_fingerprinted_moduli_are_refused_on_every_load_path() {
    for (seed, bits) in [(11u64, 1024usize), (12, 1024), (13, 1536)] {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let n = (roca_prime(&mut rng, bits) * roca_prime(&mut rng, bits)).to_bytes_be();
        assert!(n.len() * 8 >= 2048);
        for (path, result) in load_everywhere("roca", &n, &[1, 0, 1])
            .into_iter()
            .enumerate()
        {
            match result {
                Err(e @ KeyError::RocaFingerprint { .. }) => {
                    assert!(e.to_string().contains("CVE-2017-15361"));
                    let want = if path == 2 { "(no kid)" } else { "'roca'" };
                    assert_eq!(label_of(&e), want);
                }
                other => panic!("seed {seed}, path {path}: {other:?}"),
            }
        }
    }
    // Ordinary moduli pass: generated, the test fixtures, RFC 7515 A.2, and
    // one structured prime times an ordinary one (the fingerprint needs both).
    for seed in [1u64, 2, 3] {
        for result in load_everywhere("plain", &ordinary_modulus(seed), &[1, 0, 1]) {
            result.unwrap();
        }
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(21);
    let half = (roca_prime(&mut rng, 1024) * random_prime(&mut rng, 1024)).to_bytes_be();
    for result in load_everywhere("half", &half, &[1, 0, 1]) {
        result.unwrap();
    }
    for (pem, alg) in [
        (RSA_PUB, Algorithm::RS256),
        (RSA_PKCS1_PUB, Algorithm::PS512),
    ] {
        VerifyingKey::from_pem(pem, alg).unwrap();
    }
    let a2 = json!({"kty": "RSA", "alg": "RS256", "e": "AQAB", "n": A2_N});
    VerifyingKey::from_jwk_json(&a2.to_string()).unwrap();
}

// ---------------------------------------------------------------- 18.8

/// n and e of the fixture RSA key, read from its PKCS#1 DER.
fn fixture_rsa_components() -> (Vec<u8>, Vec<u8>) {
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(RSA_PUB).unwrap();
    let jsonwebtoken::DecodingKeyKind::SecretOrDer(der) = key.kind() else {
        panic!("not DER")
    };
    // SEQUENCE { INTEGER n, INTEGER e }, long-form lengths.
    fn read(der: &[u8], pos: &mut usize) -> Vec<u8> {
        *pos += 1; // tag
        let first = der[*pos] as usize;
        *pos += 1;
        let len = if first < 0x80 {
            first
        } else {
            let n = first & 0x7f;
            let len = der[*pos..*pos + n]
                .iter()
                .fold(0usize, |a, b| (a << 8) | *b as usize);
            *pos += n;
            len
        };
        let v = der[*pos..*pos + len].to_vec();
        *pos += len;
        v
    }
    let mut pos = 0;
    let seq = read(der, &mut pos);
    let mut pos = 0;
    let n = read(&seq, &mut pos);
    let e = read(&seq, &mut pos);
    // RFC 7518 §6.3.1.1: a JWK's n has no leading zero octet.
    let n = n.into_iter().skip_while(|b| *b == 0).collect();
    (n, e)
}

/// An Ed25519 key pair; `alg` "" leaves `alg` out.
fn ed_key(kid: &str, seed: u8, alg: &str) -> (SigningKey, Value) {
    let secret = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
    let mut public = json!({"kty": "OKP", "crv": "Ed25519", "alg": alg, "kid": kid,
                        "x": B64.encode(secret.verifying_key().as_bytes())});
    if alg.is_empty() {
        public.as_object_mut().unwrap().remove("alg");
    }
    let mut private = public.clone();
    private["d"] = B64.encode(secret.to_bytes()).into();
    (
        SigningKey::from_jwk_json(&private.to_string()).unwrap(),
        public,
    )
}

/// A provider's set with one key of each kind we do not use: the good keys
/// keep working, on the wire; the others are listed by name.
#[actix_web::test]
async fn keys_not_understood_are_ignored_and_the_good_keys_work() {
    let (ec_signer, ec) = ec_key("ec", 5);
    let (ed_signer, ed) = ed_key("ed", 9, "Ed25519");
    let (n, e) = fixture_rsa_components();
    let azure = json!({"kty": "RSA", "kid": "azure", "use": "sig", "n": B64.encode(&n), "e": B64.encode(&e)});
    // A P-521 key loads (ES512) and joins "ec" and "ed".
    let p521 = json!({"kty": "EC", "kid": "p521", "crv": "P-521",
        "x": "AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ6OvLFV1jSfS9tsz4qUxcWceqwQGk",
        "y": "ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79ajL4Kkd0AZMaZmh9ubmf63e3kyMj2"});
    let secp256k1 =
        json!({"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": ec["x"], "y": ec["y"]});
    let mut enc = ec_key("enc", 6).1;
    enc["use"] = "enc".into();
    let x25519 = json!({"kty": "OKP", "kid": "x", "crv": "X25519", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"});
    let pq = json!({"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"});
    let broken = json!({"kty": "EC", "kid": "broken", "crv": "P-256", "x": "!!", "y": "??"});
    let unknown_alg = json!({"kty": "EC", "kid": "es999", "alg": "ES999", "crv": "P-256", "x": ec["x"], "y": ec["y"]});
    let doc = jwk_set(&[
        &azure,
        &p521,
        &secp256k1,
        &ec,
        &enc,
        &x25519,
        &ed,
        &pq,
        &broken,
        &unknown_alg,
    ]);

    let set = KeySet::from_jwks_json(&doc).unwrap();
    let loaded: Vec<_> = set.keys().iter().map(|k| k.kid().unwrap()).collect();
    assert_eq!(loaded, ["p521", "ec", "ed"]);
    let ignored: Vec<String> = set.ignored().iter().map(ToString::to_string).collect();
    for name in [
        "'azure'", "'k1'", "'enc'", "'x'", "'pq'", "'broken'", "'es999'",
    ] {
        assert!(
            ignored
                .iter()
                .any(|r| r.starts_with(&format!("key {name}:"))),
            "{name} not named in {ignored:?}"
        );
    }
    assert_eq!(ignored.len(), 7, "{ignored:?}");
    assert!(set.ignored().iter().all(|e| !e.refuses_the_set()));

    let service = any_issuer_or_audience_app(JwtStrategy::builder().key_set(set)).await;
    assert_accepted(&service, &[signed(&ec_signer), signed(&ed_signer)]).await;

    // With RS256 pinned by configuration, Azure's alg-less RSA key loads as
    // RS256, and only RS256: the token header cannot choose PS256.
    let options = JwksOptions::new()
        .default_rsa_algorithm(Algorithm::RS256)
        .unwrap();
    let set = KeySet::from_jwks_json_with(&doc, &options).unwrap();
    let azure_key = set
        .keys()
        .iter()
        .find(|k| k.kid() == Some("azure"))
        .unwrap();
    assert_eq!(azure_key.algorithm(), Algorithm::RS256);
    let service = any_issuer_or_audience_app(JwtStrategy::builder().key_set(set)).await;
    for (alg, want) in [
        (Algorithm::RS256, 200),
        (Algorithm::PS256, 401),
        (Algorithm::RS512, 401),
    ] {
        let token = SigningKey::from_pem(RSA_PRIV, alg)
            .unwrap()
            .with_kid("azure")
            .sign(&valid_claims(), None)
            .unwrap();
        let (status, _, body) =
            call(&service, "/whoami", &[("authorization", &bearer(&token))]).await;
        assert_eq!(status, want, "{alg:?} {body}");
    }
    assert!(
        JwksOptions::new()
            .default_rsa_algorithm(Algorithm::ES256)
            .is_err()
    );
    assert!(
        JwksOptions::new()
            .default_rsa_algorithm(Algorithm::HS256)
            .is_err()
    );
}

/// RFC 9864's `Ed25519` names the same algorithm as `EdDSA` for an Ed25519
/// key: both load, alone and in a set.
#[actix_web::test]
async fn ed25519_and_eddsa_both_name_the_ed25519_algorithm() {
    for (seed, alg) in [(1u8, "Ed25519"), (2, "EdDSA"), (3, "")] {
        let (signer, public) = ed_key("ed", seed, alg);
        let key = VerifyingKey::from_jwk_json(&public.to_string()).unwrap();
        assert_eq!(key.algorithm(), Algorithm::EdDSA);
        let set = KeySet::from_jwks_json(&jwk_set(&[&public])).unwrap();
        assert!(set.ignored().is_empty());
        let service = any_issuer_or_audience_app(JwtStrategy::builder().key_set(set)).await;
        let (status, _, _) = call(
            &service,
            "/whoami",
            &[("authorization", &bearer(&signed(&signer)))],
        )
        .await;
        assert_eq!(status, 200, "{alg}");
    }
    // Ed25519 is not a name for another curve.
    let (_, mut public) = ed_key("ed", 4, "Ed25519");
    public["crv"] = "Ed448".into();
    assert!(VerifyingKey::from_jwk_json(&public.to_string()).is_err());
}

/// The dangerous cases still refuse the set even when other keys are merely
/// not understood.
#[test]
fn ignoring_unknown_keys_never_hides_a_dangerous_one() {
    let p521 = json!({"kty": "EC", "kid": "p521", "crv": "P-521", "x": "AA", "y": "AA"});
    let secret = json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": SECRET_K});
    let mut private = ec_public("priv");
    private["d"] = "AQAB".into();
    let weak = rsa_jwk("weak", &ordinary_modulus(4), &[1]);
    let ec = ec_public("ec");
    for (bad, label) in [(&secret, "'hs'"), (&private, "'priv'"), (&weak, "'weak'")] {
        let err = KeySet::from_jwks_json(&jwk_set(&[&p521, &ec, bad])).unwrap_err();
        assert_eq!(label_of(&err), label);
        assert!(err.refuses_the_set());
    }
    let dup = jwk_set(&[&ec, &p521, &ec]);
    assert!(matches!(
        KeySet::from_jwks_json(&dup),
        Err(KeyError::DuplicateKid { .. })
    ));
}

/// The same through a JWK Set URL client, on the wire: the provider's good
/// keys work (no 503), Azure's alg-less RSA key works once RS256 is pinned,
/// and each ignored key is logged once however often the set is fetched.
#[actix_web::test]
async fn a_provider_set_with_keys_not_understood_serves_its_good_keys() {
    let (log, _guard) = Log::capture();
    let (ec_signer, ec) = ec_key("ec", 5);
    let (ed_signer, ed) = ed_key("ed", 9, "Ed25519");
    let (n, e) = fixture_rsa_components();
    let azure = json!({"kty": "RSA", "kid": "azure", "n": B64.encode(&n), "e": B64.encode(&e)});
    // secp256k1 (ES256K, RFC 8812) is a curve this library does not offer.
    let k256 = json!({"kty": "EC", "kid": "k256", "crv": "secp256k1", "alg": "ES256K", "x": "AA", "y": "AA"});
    let mut enc = ec_key("enc", 6).1;
    enc["use"] = "enc".into();
    let doc = jwk_set(&[&azure, &k256, &enc, &ec, &ed]);
    let rs256 = SigningKey::from_pem(RSA_PRIV, Algorithm::RS256)
        .unwrap()
        .with_kid("azure")
        .sign(&valid_claims(), None)
        .unwrap();
    for pin in [false, true] {
        let fetcher = auth_test_support::jwks::StaticJwks::new(doc.clone());
        let mut jwks = auth_jwt::JwksKeys::with_fetcher(fetcher.clone()).with_timing(
            std::time::Duration::from_secs(3600),
            std::time::Duration::ZERO,
        );
        if pin {
            jwks = jwks.default_rsa_algorithm(Algorithm::RS256).unwrap();
        }
        let service = any_issuer_or_audience_app(JwtStrategy::builder().jwks(jwks.clone())).await;
        assert_accepted(&service, &[signed(&ec_signer), signed(&ed_signer)]).await;
        let (status, _, _) = call(&service, "/whoami", &[("authorization", &bearer(&rs256))]).await;
        assert_eq!(status, if pin { 200 } else { 401 }, "pinned: {pin}");
        for _ in 0..3 {
            jwks.refresh().await.unwrap();
        }
        assert!(fetcher.calls() >= 4);
    }
    let text = log.text();
    // Two clients, so at most twice: once per client, not once per fetch.
    assert_eq!(text.matches("key 'k256': ").count(), 2, "{text}");
    assert_eq!(
        text.matches("key 'enc': meant for encryption").count(),
        2,
        "{text}"
    );
    assert_eq!(
        text.matches("key 'azure': an RSA key needs").count(),
        1,
        "{text}"
    );
}
