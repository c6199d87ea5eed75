//! The PEM test keys. The files stay in `auth-jwt/tests/keys`: auth-jwt's
//! own unit tests, benchmarks and doc examples read them there, and they
//! ship with its package. Everything outside auth-jwt takes them from here.

/// RSA 2048 private key, PKCS#8 PEM.
pub const RSA_PRIVATE: &[u8] = include_bytes!("../../auth-jwt/tests/keys/rsa.pem");
/// The public key of [`RSA_PRIVATE`], SPKI PEM.
pub const RSA_PUBLIC: &[u8] = include_bytes!("../../auth-jwt/tests/keys/rsa.pub.pem");
/// P-256 private key, PKCS#8 PEM.
pub const EC_PRIVATE: &[u8] = include_bytes!("../../auth-jwt/tests/keys/ec.pem");
/// The public key of [`EC_PRIVATE`], SPKI PEM.
pub const EC_PUBLIC: &[u8] = include_bytes!("../../auth-jwt/tests/keys/ec.pub.pem");
/// Ed25519 private key, PKCS#8 PEM.
pub const ED_PRIVATE: &[u8] = include_bytes!("../../auth-jwt/tests/keys/ed.pem");
/// The public key of [`ED_PRIVATE`], SPKI PEM.
pub const ED_PUBLIC: &[u8] = include_bytes!("../../auth-jwt/tests/keys/ed.pub.pem");

/// The fixed key set that the parser property tests
/// (`tests/tests/parser_properties.rs`) and the fuzz targets verify
/// against: HS256 with the caller's `secret` (kid `hs`), and the RS256
/// (`rs`), ES256 (`es`) and EdDSA (`ed`) public keys above.
///
/// # Panics
///
/// If `secret` is too short for HS256.
///
/// ```
/// let keys = auth_test_support::keys::fixed_key_set(b"a-secret-that-is-long-enough-for-hs256");
/// # let _ = keys;
/// ```
#[cfg(feature = "jwt")]
pub fn fixed_key_set(secret: &[u8]) -> auth_jwt::KeySet {
    use auth_jwt::{Algorithm, KeySet, VerifyingKey};
    let pem =
        |bytes: &[u8], alg, kid: &str| VerifyingKey::from_pem(bytes, alg).unwrap().with_kid(kid);
    KeySet::new([
        VerifyingKey::hmac(secret, Algorithm::HS256)
            .unwrap()
            .with_kid("hs"),
        pem(RSA_PUBLIC, Algorithm::RS256, "rs"),
        pem(EC_PUBLIC, Algorithm::ES256, "es"),
        pem(ED_PUBLIC, Algorithm::EdDSA, "ed"),
    ])
    .unwrap()
}
