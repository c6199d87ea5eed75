//! Tokens built here rather than by the code under test: a compact HS256
//! JWS over raw bytes, so that tests can sign what no encoder would write
//! (duplicate members, `1e300`, a non-JSON payload, a forged `alg`).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::Mac as _;

/// HMAC-SHA256 of `message` under `key` (any length, as RFC 2104 allows:
/// tests use it to forge signatures with a public key as the secret).
///
/// ```
/// assert_eq!(auth_test_support::jws::hmac_sha256(b"k", b"m").len(), 32);
/// ```
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

/// `B64(header).B64(payload).B64(HMAC-SHA256)`: `header` and `payload` are
/// taken as given (JSON text or any bytes) and base64url-encoded here.
///
/// ```
/// let t = auth_test_support::jws::hs256(br#"{"alg":"HS256"}"#, b"{}", b"secret");
/// assert!(t.starts_with("eyJhbGciOiJIUzI1NiJ9.e30."));
/// ```
pub fn hs256(header: impl AsRef<[u8]>, payload: impl AsRef<[u8]>, secret: &[u8]) -> String {
    let input = format!("{}.{}", B64.encode(header), B64.encode(payload));
    let sig = B64.encode(hmac_sha256(secret, input.as_bytes()));
    format!("{input}.{sig}")
}
