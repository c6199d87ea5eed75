//! The JWT path: parse + verify with a fixed key set. The first byte picks
//! the mode: the rest is either the compact token itself, or a header and a
//! payload (split at the first NUL byte) that the target signs with the
//! set's HS256 secret, so the claim checks behind the signature are fuzzed
//! too.
#![no_main]

use std::sync::LazyLock;

use auth_jwt::{ClaimRules, KeySet, VerifyError, verify_jwt};
use auth_test_support::jws;
use auth_test_support::keys::fixed_key_set;
use libfuzzer_sys::fuzz_target;

/// The HS256 secret of the fixed key set; the target signs with it so that
/// the claim checks behind the signature are reached, not only the parser.
const SECRET: &[u8] = b"fuzzing-secret-that-is-long-enough-for-hs256";

static KEYS: LazyLock<KeySet> = LazyLock::new(|| fixed_key_set(SECRET));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let rules = ClaimRules::default();
    if mode % 2 == 0 {
        let Ok(token) = std::str::from_utf8(rest) else {
            return;
        };
        // Without the secret nothing may verify (the fixed keys are never
        // handed to the fuzzer); a success here is a forged signature.
        if let Ok(v) = verify_jwt(token, &KEYS, &rules) {
            let expected = {
                let mut it = token.split('.');
                let h = it.next().unwrap_or("");
                let p = it.next().unwrap_or("");
                jws::hs256(
                    base64_decode(h).unwrap_or_default(),
                    base64_decode(p).unwrap_or_default(),
                    SECRET,
                )
            };
            assert_eq!(
                token, expected,
                "verified a token not signed with the secret: {v:?}"
            );
        }
    } else {
        let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
        let header = &rest[..split];
        let payload = rest.get(split + 1..).unwrap_or(&[]);
        let token = jws::hs256(header, payload, SECRET);
        match verify_jwt(&token, &KEYS, &rules) {
            Ok(v) => {
                // What verified is exactly what was signed.
                let claims: serde_json::Value = serde_json::from_slice(payload).unwrap();
                assert_eq!(serde_json::Value::Object((*v.claims).clone()), claims);
            }
            Err(VerifyError::KeysUnavailable) => panic!("static keys are never unavailable"),
            Err(_) => {}
        }
    }
});

fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}
