//! The crypto backend of jsonwebtoken's signatures (issue 17.2): chosen at
//! compile time by this crate's features, installed as jsonwebtoken's
//! process-wide `CryptoProvider`, and checked once with known-answer tests
//! before the first strategy is built, so a missing or wrong provider is a
//! start-up error, never a panic (or a wrong answer) at the first request.
//!
//! Why aws-lc-rs is the default rather than a provider of our own on `ring`
//! (which the JWK Set client's TLS already compiled in): jsonwebtoken ships
//! and maintains the aws-lc-rs provider for every algorithm it has, while a
//! ring provider would be some 400 lines of key parsing and signature glue
//! written and kept here (jsonwebtoken's own aws-lc-rs provider is 436),
//! for verification that is no faster: measured on the same signatures,
//! aws-lc verifies RS256 and EdDSA faster than ring and ES256 as fast
//! (docs/BENCHMARKS.md, "Crypto backends"). rustls then runs
//! on aws-lc-rs too, so the default build carries one native crypto library,
//! not two. The cost is the build: aws-lc-sys compiles aws-lc's C with the
//! system C compiler (no cmake, no bindgen on the common targets);
//! docs/BENCHMARKS.md has the numbers.

use std::sync::OnceLock;

use jsonwebtoken::crypto::CryptoProvider;
use jsonwebtoken::{Algorithm, DecodingKey};

#[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
compile_error!(
    "auth-jwt needs a crypto backend: enable its `aws-lc-rs` feature (the default) or, for the \
     pure-Rust RustCrypto backend, `rust-crypto`"
);

/// Which implementation verifies and signs jsonwebtoken's algorithms
/// (HS*, RS*, PS*, ES256, ES384, EdDSA) in this process. ES512, which
/// jsonwebtoken lacks, is signed with RustCrypto's `p521`; it verifies on
/// aws-lc's P-521 with `AwsLcRs`, with `p521` otherwise.
///
/// ```
/// use auth_jwt::CryptoBackend;
/// // The default build:
/// # #[cfg(feature = "aws-lc-rs")]
/// assert_eq!(CryptoBackend::SELECTED, CryptoBackend::AwsLcRs);
/// assert_eq!(auth_jwt::check_crypto_provider(), Ok(CryptoBackend::SELECTED));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CryptoBackend {
    /// aws-lc-rs: feature `aws-lc-rs`, the default.
    AwsLcRs,
    /// RustCrypto (`rsa`, `p256`, `p384`, `ed25519-dalek`, `hmac`): feature
    /// `rust-crypto` without `aws-lc-rs`.
    RustCrypto,
    /// A provider in place before this crate could install its own: one the
    /// application installed (`jsonwebtoken::crypto::CryptoProvider::install_default`),
    /// or jsonwebtoken's own choice on a use of jsonwebtoken before any
    /// constructor of this crate ran. Kept, if it passes the start-up
    /// self-test.
    Application,
}

impl CryptoBackend {
    /// The backend this build's features select: `aws-lc-rs` when that
    /// feature is on (also when `rust-crypto` is on as well: the C library
    /// is then compiled in anyway, and it keeps RSA private keys away from
    /// the `rsa` crate, see docs/ADVISORIES.md), else `rust-crypto`.
    pub const SELECTED: CryptoBackend = if cfg!(feature = "aws-lc-rs") {
        CryptoBackend::AwsLcRs
    } else {
        CryptoBackend::RustCrypto
    };

    /// The backend's name as in the feature list: `aws-lc-rs`,
    /// `rust-crypto` or `application`.
    ///
    /// ```
    /// assert_eq!(auth_jwt::CryptoBackend::RustCrypto.name(), "rust-crypto");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            CryptoBackend::AwsLcRs => "aws-lc-rs",
            CryptoBackend::RustCrypto => "rust-crypto",
            CryptoBackend::Application => "application",
        }
    }
}

impl std::fmt::Display for CryptoBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The process's jsonwebtoken crypto provider failed the start-up
/// self-test: it refused a known-good signature, accepted a wrong one, or
/// panicked (jsonwebtoken's placeholder when it cannot tell which backend
/// to use). Names the algorithm and what went wrong.
///
/// ```
/// // A correctly built process passes:
/// assert!(auth_jwt::check_crypto_provider().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("jsonwebtoken's crypto provider ({backend}) failed the start-up self-test: {what}")]
pub struct CryptoProviderError {
    backend: CryptoBackend,
    what: String,
}

impl CryptoProviderError {
    /// The provider that failed.
    ///
    /// ```
    /// assert!(auth_jwt::check_crypto_provider().is_ok());
    /// ```
    pub fn backend(&self) -> CryptoBackend {
        self.backend
    }
}

/// jsonwebtoken's provider for [`CryptoBackend::SELECTED`].
fn selected_provider() -> &'static CryptoProvider {
    #[cfg(feature = "aws-lc-rs")]
    {
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER
    }
    #[cfg(all(feature = "rust-crypto", not(feature = "aws-lc-rs")))]
    {
        &jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER
    }
    // Not compiled in any build that compiles (the compile_error! above);
    // it keeps that error the only one.
    #[cfg(not(any(feature = "aws-lc-rs", feature = "rust-crypto")))]
    unreachable!()
}

/// The installed backend, once per process.
static INSTALLED: OnceLock<CryptoBackend> = OnceLock::new();
/// The self-test's verdict, once per process.
static CHECKED: OnceLock<Result<CryptoBackend, CryptoProviderError>> = OnceLock::new();

/// Installs this build's backend ([`CryptoBackend::SELECTED`]) as
/// jsonwebtoken's process default, unless one is installed already (then
/// that one stays: the application chose it), and says which one the
/// process uses.
///
/// Every constructor of this crate calls it; it costs one atomic load after
/// the first call. [`check_crypto_provider`] also tests the provider.
///
/// ```
/// auth_jwt::ensure_crypto_provider();
/// ```
pub fn ensure_crypto_provider() -> CryptoBackend {
    // jsonwebtoken does not say which provider holds the place (its
    // `install_default` hands back the one refused, not the one installed),
    // so any provider there before ours is the application's.
    *INSTALLED.get_or_init(|| match selected_provider().install_default() {
        Ok(()) => CryptoBackend::SELECTED,
        Err(_) => CryptoBackend::Application,
    })
}

/// Installs the backend (see [`ensure_crypto_provider`]) and, once per
/// process, runs known-answer tests through jsonwebtoken's provider and, on
/// [`CryptoBackend::AwsLcRs`], through the keys this crate prepares for
/// aws-lc (which then verify instead of the provider): one valid and one
/// tampered signature each for HS256, RS256, ES256 and EdDSA, with keys and
/// signatures made by OpenSSL. The valid ones must verify, the tampered
/// ones must not, and nothing may panic.
///
/// [`JwtStrategyBuilder::build`](crate::JwtStrategyBuilder::build) calls it
/// and fails with [`JwtConfigError::CryptoProvider`](crate::JwtConfigError::CryptoProvider);
/// after a failure, verification refuses every token and signing returns
/// an error, without calling the provider again.
///
/// ```
/// let backend = auth_jwt::check_crypto_provider().unwrap();
/// assert_eq!(backend, auth_jwt::CryptoBackend::SELECTED);
/// ```
pub fn check_crypto_provider() -> Result<CryptoBackend, CryptoProviderError> {
    CHECKED
        .get_or_init(|| {
            let backend = ensure_crypto_provider();
            match self_test() {
                Ok(()) => {
                    tracing::debug!(%backend, "jsonwebtoken crypto provider passed its self-test");
                    Ok(backend)
                }
                Err(what) => {
                    tracing::error!(%backend, %what, "jsonwebtoken crypto provider failed its self-test");
                    Err(CryptoProviderError { backend, what })
                }
            }
        })
        .clone()
}

/// Whether the provider passed the self-test (running it on first use):
/// one atomic load once it ran.
pub(crate) fn provider_ok() -> bool {
    match CHECKED.get() {
        Some(verdict) => verdict.is_ok(),
        None => check_crypto_provider().is_ok(),
    }
}

// Known answers: compact JWS over the payload "auth-jwt crypto backend
// self-test", signed by OpenSSL 3 (`openssl dgst -sha256 -sign`,
// `openssl pkeyutl -sign -rawin`) with throw-away keys whose public halves
// follow; HS256 by Python's hmac with HS256_KEY.
const HS256_KEY: &[u8] = b"auth-jwt crypto backend self-test key";
const HS256_JWS: &str = "eyJhbGciOiJIUzI1NiJ9.YXV0aC1qd3QgY3J5cHRvIGJhY2tlbmQgc2VsZi10ZXN0.1vfmgZXS4fdjXTA9Rw3Juoxbiu08yyXxP2BNaTJEhjE";
const RSA_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEArun5H4hT5Eh8pVyXLPJg
q2cOm9hyGHjNndT110CcmZYTdiVFqWK8sx5yuxcUeUFjD4gPfxtbR+RKlUB64W1i
uP26/HEYaIOELmaR4NqrTAYt9Q+DgYgn/1xJx9fZWknTK7dXDE8QnbY1EtIj9Pdd
oMxIXPGPyWWnjRPDvNQx6h+DFtgPDVCshPfEFD71kgzXoFxyUitx9Rm+jt+yzMAR
s+TPSDl/V1S1pLHQyDEgYmU5p14nTLHYNhEBXsbW9O1w0oWR7kpEuWV4H4cOTYQU
d7RjGQcN1rXlsVj1ZW2S08FYDZ+OkVNeLwhhHRTBoHNxIRZtrmgnGhsj47ZcPOzB
FwIDAQAB
-----END PUBLIC KEY-----
";
const RS256_JWS: &str = "eyJhbGciOiJSUzI1NiJ9.YXV0aC1qd3QgY3J5cHRvIGJhY2tlbmQgc2VsZi10ZXN0.NYdHHsIhKgbpoYGs1PkzIfcA-x46XdLOE8sLG2JjEEZd4BFRorZ4dQKdGpBjM-EWTTHvG0iU2551lC8CRmxe7z4HxkLybDCt7ihSGwydcFuYPh8dAVWb5asQNF0TFnN9_RmB2JVEGfKb3VQrfIqZ9G8sXkRLe4iY52XCrzlcMkoVZNEvO-dzpNMxneVCGrCiUiOuoNb6txXPsQ4SR4GpYdLhDW7BTNEAoBFqK7OuctdT8U8c53gvkcpqyA69vci3njjn799Dw6nq7mmgnltYK8cI3BkuqEYivRgQzfuhr-3cSPHlSRYvVjqWnNJtywanMSP5bD7hlqe_KGWMhMfchA";
const EC_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAERcqC3EY8L9hDK+BoNIvr+m+pW/P+
W9JGPs/ayc3iW3I9ys/DKPXet0luD4MX6ilJ//FrsGLGNTTLaznWg7GsCg==
-----END PUBLIC KEY-----
";
const ES256_JWS: &str = "eyJhbGciOiJFUzI1NiJ9.YXV0aC1qd3QgY3J5cHRvIGJhY2tlbmQgc2VsZi10ZXN0._t2-T4DpSdkHW9t9AvPC9pV3Nos_P6KfUXSZ4JPzkuZJRYiDvima7C0rdxq80hybQ_AMlZRikMttjiACwuoSrA";
const ED_PUBLIC: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEAvFJn+BWQQpENKenNG4sWOBMXqEGisWqI+OkZWK0Q9E4=
-----END PUBLIC KEY-----
";
const EDDSA_JWS: &str = "eyJhbGciOiJFZERTQSJ9.YXV0aC1qd3QgY3J5cHRvIGJhY2tlbmQgc2VsZi10ZXN0.74oCk8K6YfhVZbVgXlZv16Wi736nN6QN-EKpW-O9NqjQF0jMw0T63dRbHWnHSjv4x3nI8Ecur3qwNiV-bP4mDQ";

/// Runs the known-answer tests; `Err` says which one failed and how.
fn self_test() -> Result<(), String> {
    // Parsing the embedded keys is the same on every backend (jsonwebtoken's
    // PEM reader); a failure here would be a bug in this file.
    let keys = [
        (
            Algorithm::HS256,
            Ok(DecodingKey::from_secret(HS256_KEY)),
            HS256_JWS,
        ),
        (
            Algorithm::RS256,
            DecodingKey::from_rsa_pem(RSA_PUBLIC.as_bytes()),
            RS256_JWS,
        ),
        (
            Algorithm::ES256,
            DecodingKey::from_ec_pem(EC_PUBLIC.as_bytes()),
            ES256_JWS,
        ),
        (
            Algorithm::EdDSA,
            DecodingKey::from_ed_pem(ED_PUBLIC.as_bytes()),
            EDDSA_JWS,
        ),
    ];
    for (alg, key, jws) in keys {
        let key = key.map_err(|e| format!("{alg:?}: self-test key unreadable: {e}"))?;
        let Some((message, signature)) = jws.rsplit_once('.') else {
            return Err(format!("{alg:?}: self-test vector is not a compact JWS"));
        };
        // The same signature over another payload (last character of the
        // message changed) must not verify.
        let mut tampered = message.as_bytes().to_vec();
        let last = tampered.len() - 1;
        tampered[last] ^= 0x01;
        // With this crate's aws-lc provider, verification goes through keys
        // prepared once (`prepared.rs`): they must answer the same vectors.
        #[cfg(feature = "aws-lc-rs")]
        let prepared = match ensure_crypto_provider() {
            CryptoBackend::AwsLcRs => {
                let prepared = crate::prepared::PreparedKey::prepare(alg.into(), &key);
                let decoded = base64::Engine::decode(
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                    signature,
                );
                match (prepared, decoded) {
                    (Some(prepared), Ok(decoded)) => Some((prepared, decoded)),
                    _ => return Err(format!("{alg:?}: the self-test key could not be prepared")),
                }
            }
            _ => None,
        };
        for (input, want) in [(message.as_bytes(), true), (&tampered[..], false)] {
            #[cfg(feature = "aws-lc-rs")]
            if let Some((prepared, decoded)) = &prepared
                && prepared.verify(decoded, input) != want
            {
                return Err(format!("{alg:?}: the prepared aws-lc key answered wrongly"));
            }
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                jsonwebtoken::crypto::verify(signature, input, &key, alg)
            }));
            match (outcome, want) {
                (Ok(Ok(true)), true) | (Ok(Ok(false) | Err(_)), false) => {}
                (Ok(Ok(false)), true) => {
                    return Err(format!("{alg:?}: a valid signature was refused"));
                }
                (Ok(Err(e)), true) => {
                    return Err(format!("{alg:?}: a valid signature failed: {e}"));
                }
                (Ok(Ok(true)), false) => {
                    return Err(format!(
                        "{alg:?}: a signature over other bytes was accepted"
                    ));
                }
                (Err(_), _) => return Err(format!("{alg:?}: the provider panicked")),
            }
        }
    }
    Ok(())
}
