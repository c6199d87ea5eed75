//! Arbitrary text through the JWK Set loader: a key set or an error, never
//! a panic.
#![no_main]

use auth_jwt::KeySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(set) = KeySet::from_jwks_json(text) {
        // Every loaded key has an algorithm pinned (never guessed later).
        for key in set.keys() {
            let _ = key.algorithm();
        }
    }
});
