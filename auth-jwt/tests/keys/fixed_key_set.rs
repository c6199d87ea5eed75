// The fixed key set that the parser property tests
// (tests/tests/parser_properties.rs) and the fuzz targets
// (fuzz/fuzz_targets/common.rs) verify against, included by both with
// `#[path]` so they check the same keys: HS256 with the caller's secret,
// and the RS256, ES256 and EdDSA test keys of this folder, each with a kid.

/// The key set, with `secret` as the HS256 key (kid "hs").
pub(crate) fn fixed_key_set(secret: &[u8]) -> auth_jwt::KeySet {
    use auth_jwt::{Algorithm, JwtKey, KeySet};
    let pem = |bytes: &[u8], alg, kid: &str| JwtKey::from_pem(bytes, alg).unwrap().with_kid(kid);
    KeySet::new([
        JwtKey::hmac(secret, Algorithm::HS256)
            .unwrap()
            .with_kid("hs"),
        pem(include_bytes!("rsa.pub.pem"), Algorithm::RS256, "rs"),
        pem(include_bytes!("ec.pub.pem"), Algorithm::ES256, "es"),
        pem(include_bytes!("ed.pub.pem"), Algorithm::EdDSA, "ed"),
    ])
    .unwrap()
}
