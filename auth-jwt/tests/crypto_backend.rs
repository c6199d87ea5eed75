//! The crypto backend (issue 17.2): chosen at compile time (`aws-lc-rs` by
//! default, `rust-crypto` as a feature), installed and self-tested at
//! start-up. A provider that is missing, panics, refuses good signatures or
//! accepts bad ones makes `JwtStrategyBuilder::build` fail; after that no
//! token verifies and nothing signs, and nothing panics.
//!
//! jsonwebtoken's provider is process-wide and installed once, so each
//! provider case runs in a child process of this test binary (the same
//! test, with the case in an environment variable).

mod fixtures;

use std::process::Command;
use std::sync::OnceLock;

use actix_web::test::{TestRequest, call_service};
use auth_core::{StrategyRegistry, UserProfile};
use auth_jwt::{
    Algorithm, CryptoBackend, DEFAULT_MAX_TOKEN_LEN, JwsAlgorithm, JwtConfigError, JwtStrategy,
    KeySet, SigningKey, TokenService, VerifyError, VerifyingKey, check_crypto_provider, verify_jws,
};
use fixtures::{SECRET, now};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::signature::{Error as SignatureError, Signer, Verifier};
use jsonwebtoken::{AlgorithmFamily, DecodingKey, EncodingKey};
use serde_json::json;

const RSA_PRIVATE: &[u8] = include_bytes!("keys/rsa.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("keys/rsa.pub.pem");
const EC_PRIVATE: &[u8] = include_bytes!("keys/ec.pem");
const EC_PUBLIC: &[u8] = include_bytes!("keys/ec.pub.pem");
const ED_PRIVATE: &[u8] = include_bytes!("keys/ed.pem");
const ED_PUBLIC: &[u8] = include_bytes!("keys/ed.pub.pem");
const P521_PRIVATE: &[u8] = include_bytes!("keys/p521.pem");
const P521_PUBLIC: &[u8] = include_bytes!("keys/p521.pub.pem");

/// Every algorithm family the backend serves, and ES512 (always p521).
fn key_pairs() -> Vec<(JwsAlgorithm, SigningKey, VerifyingKey)> {
    let pem = |private: &[u8], public: &[u8], alg: JwsAlgorithm| {
        (
            alg,
            SigningKey::from_pem(private, alg).unwrap(),
            VerifyingKey::from_pem(public, alg).unwrap(),
        )
    };
    vec![
        (
            JwsAlgorithm::HS256,
            SigningKey::hmac(SECRET, Algorithm::HS256).unwrap(),
            VerifyingKey::hmac(SECRET, Algorithm::HS256).unwrap(),
        ),
        pem(RSA_PRIVATE, RSA_PUBLIC, JwsAlgorithm::RS256),
        pem(RSA_PRIVATE, RSA_PUBLIC, JwsAlgorithm::PS256),
        pem(RSA_PRIVATE, RSA_PUBLIC, JwsAlgorithm::RS512),
        pem(EC_PRIVATE, EC_PUBLIC, JwsAlgorithm::ES256),
        pem(ED_PRIVATE, ED_PUBLIC, JwsAlgorithm::EdDSA),
        pem(P521_PRIVATE, P521_PUBLIC, JwsAlgorithm::ES512),
    ]
}

fn claims(sub: &str) -> serde_json::Value {
    json!({"sub": sub, "iss": "issuer", "aud": "api", "exp": now() + 600})
}

#[actix_web::get("/me")]
#[auth_macros::authenticate("jwt")]
async fn me(user: UserProfile) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Ok().body(user.id.clone())
}

/// Signs a token per algorithm and sends it, and a tampered copy, to an
/// app whose strategy holds every verifying key: 200 with the subject,
/// then 401.
async fn every_algorithm_on_the_wire() {
    let pairs = key_pairs();
    let mut builder = JwtStrategy::builder();
    for (_, _, verifying) in &pairs {
        builder = builder.key(verifying.clone());
    }
    let strategy = builder.issuer("issuer").audience("api").build().unwrap();
    let registry = StrategyRegistry::builder()
        .register(strategy)
        .build()
        .unwrap();
    let app = auth_core::testing::init_service(registry, |cfg| {
        cfg.service(me);
    })
    .await;
    for (alg, signing, _) in &pairs {
        let sub = format!("user-{alg}");
        let token = signing.sign(&claims(&sub), None).unwrap();
        let req = TestRequest::get()
            .uri("/me")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .to_request();
        let resp = call_service(&app, req).await;
        assert_eq!(resp.status(), 200, "{alg}");
        assert_eq!(
            actix_web::test::read_body(resp).await,
            sub.as_bytes(),
            "{alg}"
        );

        // The signature of this token over another subject.
        let other = signing.sign(&claims("mallory"), None).unwrap();
        let (forged_body, _) = other.rsplit_once('.').unwrap();
        let (_, signature) = token.rsplit_once('.').unwrap();
        let forged = format!("{forged_body}.{signature}");
        let req = TestRequest::get()
            .uri("/me")
            .insert_header(("Authorization", format!("Bearer {forged}")))
            .to_request();
        assert_eq!(call_service(&app, req).await.status(), 401, "{alg} forged");
    }
}

#[actix_web::test]
async fn the_selected_backend_is_installed_and_verifies_every_algorithm() {
    if std::env::var_os(CASE_VAR).is_some() {
        return;
    }
    // With both features on (--all-features), aws-lc-rs is the documented
    // choice.
    let expected = if cfg!(feature = "aws-lc-rs") {
        CryptoBackend::AwsLcRs
    } else {
        CryptoBackend::RustCrypto
    };
    assert_eq!(CryptoBackend::SELECTED, expected);
    assert_eq!(check_crypto_provider(), Ok(expected));
    assert_eq!(auth_jwt::ensure_crypto_provider(), expected);
    every_algorithm_on_the_wire().await;
}

const CASE_VAR: &str = "AUTH_JWT_TEST_PROVIDER_CASE";

/// What a child process installs before touching auth-jwt.
#[derive(Clone, Copy, Debug)]
enum Case {
    /// Every verification succeeds: the dangerous one.
    AcceptsEverything,
    /// Every verification fails.
    RefusesEverything,
    /// Every factory panics, like jsonwebtoken's placeholder when it cannot
    /// tell which backend to use.
    Panics,
    /// The real backend, except that RSA signatures always verify.
    RsaAcceptsEverything,
    /// The real backend, except that ES256 verification errs.
    EcFails,
    /// The application's own provider, wrapping the real backend: accepted.
    Wrapper,
}

const CASES: [(&str, Case); 6] = [
    ("accepts-everything", Case::AcceptsEverything),
    ("refuses-everything", Case::RefusesEverything),
    ("panics", Case::Panics),
    ("rsa-accepts-everything", Case::RsaAcceptsEverything),
    ("ec-fails", Case::EcFails),
    ("wrapper", Case::Wrapper),
];

/// The provider of this build's backend.
fn real() -> &'static CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(not(feature = "aws-lc-rs"))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
}

static CASE: OnceLock<Case> = OnceLock::new();

/// A verifier that answers `Ok` or `Err` whatever it is given.
struct Fixed(Algorithm, bool);

impl Verifier<Vec<u8>> for Fixed {
    fn verify(&self, _msg: &[u8], _signature: &Vec<u8>) -> Result<(), SignatureError> {
        if self.1 {
            Ok(())
        } else {
            Err(SignatureError::new())
        }
    }
}

impl JwtVerifier for Fixed {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

/// A signer that always fails.
struct Failing(Algorithm);

impl Signer<Vec<u8>> for Failing {
    fn try_sign(&self, _msg: &[u8]) -> Result<Vec<u8>, SignatureError> {
        Err(SignatureError::new())
    }
}

impl JwtSigner for Failing {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

fn verifier(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    match CASE.get().unwrap() {
        Case::AcceptsEverything => Ok(Box::new(Fixed(*alg, true))),
        Case::RefusesEverything => Ok(Box::new(Fixed(*alg, false))),
        Case::Panics => panic!("no crypto provider"),
        Case::RsaAcceptsEverything if alg.family() == AlgorithmFamily::Rsa => {
            Ok(Box::new(Fixed(*alg, true)))
        }
        Case::EcFails if *alg == Algorithm::ES256 => {
            Err(jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey.into())
        }
        Case::RsaAcceptsEverything | Case::EcFails | Case::Wrapper => {
            (real().verifier_factory)(alg, key)
        }
    }
}

fn signer(alg: &Algorithm, key: &EncodingKey) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    match CASE.get().unwrap() {
        Case::Panics => panic!("no crypto provider"),
        Case::AcceptsEverything | Case::RefusesEverything => Ok(Box::new(Failing(*alg))),
        _ => (real().signer_factory)(alg, key),
    }
}

/// The child's side: install the case's provider first, then use auth-jwt
/// as an application would.
async fn run_case(case: Case) {
    CASE.set(case).unwrap();
    let key_utils = match case {
        Case::Wrapper => real().key_utils.clone(),
        _ => KeyUtils::new_unimplemented(),
    };
    let provider: &'static CryptoProvider = Box::leak(Box::new(CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        key_utils,
    }));
    provider.install_default().unwrap();

    if let Case::Wrapper = case {
        assert_eq!(check_crypto_provider(), Ok(CryptoBackend::Application));
        every_algorithm_on_the_wire().await;
        return;
    }

    // Start-up: the check names the provider and what failed.
    let err = check_crypto_provider().unwrap_err();
    assert_eq!(err.backend(), CryptoBackend::Application);
    let message = err.to_string();
    let expected = match case {
        Case::AcceptsEverything => "HS256: a signature over other bytes was accepted",
        Case::RefusesEverything => "HS256: a valid signature was refused",
        Case::Panics => "HS256: the provider panicked",
        Case::RsaAcceptsEverything => "RS256: a signature over other bytes was accepted",
        Case::EcFails => "ES256: a valid signature failed",
        Case::Wrapper => unreachable!(),
    };
    assert!(message.contains(expected), "{message}");

    // Every strategy refuses to build, whatever its keys.
    for key in key_pairs().into_iter().map(|(_, _, v)| v) {
        let built = JwtStrategy::builder()
            .key(key)
            .issuer("issuer")
            .audience("api")
            .build();
        assert_eq!(
            built.err(),
            Some(JwtConfigError::CryptoProvider(err.clone()))
        );
    }
    assert!(matches!(
        JwtStrategy::hs256(SECRET),
        Err(JwtConfigError::CryptoProvider(_))
    ));

    // A caller that goes on anyway: no token verifies (not even a forged
    // one under the provider that accepts everything), nothing signs,
    // nothing panics. ES512 does not use the provider and still works.
    for (alg, signing, verifying) in key_pairs() {
        let keys = KeySet::new([verifying]).unwrap();
        let signed = signing.sign(&claims("alice"), None);
        if alg == JwsAlgorithm::ES512 {
            let token = signed.unwrap();
            assert!(verify_jws(&token, &keys, DEFAULT_MAX_TOKEN_LEN).is_ok());
            continue;
        }
        assert!(signed.is_err(), "{alg} signed");
        // A well-formed token of this algorithm with a made-up signature.
        let header = base64_url(&format!(r#"{{"alg":"{alg}"}}"#));
        let body = base64_url(&claims("alice").to_string());
        let forged = format!("{header}.{body}.{}", base64_url("not a signature"));
        assert_eq!(
            verify_jws(&forged, &keys, DEFAULT_MAX_TOKEN_LEN).err(),
            Some(VerifyError::Signature),
            "{alg}"
        );
    }
    let service = TokenService::new(SigningKey::hmac(SECRET, Algorithm::HS256).unwrap());
    assert!(service.issue(&UserProfile::new("alice")).await.is_err());
}

fn base64_url(s: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
}

#[actix_web::test]
async fn a_failing_provider_is_found_at_start_up_and_never_used() {
    const NAME: &str = "a_failing_provider_is_found_at_start_up_and_never_used";
    if let Ok(name) = std::env::var(CASE_VAR) {
        let case = CASES.iter().find(|(n, _)| *n == name).unwrap().1;
        run_case(case).await;
        return;
    }
    for (name, _) in CASES {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env(CASE_VAR, name)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success(),
            "case {name}: {}\n{stdout}\n{stderr}",
            out.status
        );
        // The child ran the case, not zero tests.
        assert!(stdout.contains("1 passed"), "case {name}: {stdout}");
    }
}
