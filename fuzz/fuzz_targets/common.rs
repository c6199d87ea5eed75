#![allow(dead_code)] // each target uses part of this module
// Shared by the targets through `#[path]`: a fixed key set and a poller for
// futures that never wait (static keys), so no runtime is part of the
// measured path.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use auth_jwt::KeySet;

/// The HS256 secret of the fixed key set; targets sign with it so that the
/// claim checks behind the signature are reached, not only the parser.
pub const SECRET: &[u8] = b"fuzzing-secret-that-is-long-enough-for-hs256";

#[path = "../../auth-jwt/tests/keys/fixed_key_set.rs"]
mod fixed_key_set;

pub fn key_set() -> KeySet {
    fixed_key_set::fixed_key_set(SECRET)
}

/// HS256-signs `header.payload` (both taken as given, base64url-encoded
/// here) with [`SECRET`].
pub fn sign_hs256(header: &[u8], payload: &[u8]) -> String {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use hmac::Mac as _;
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(message.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{message}.{sig}")
}

/// Polls a future that must be ready at once (static keys never wait).
pub fn ready<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a static-key verification waited"),
    }
}
