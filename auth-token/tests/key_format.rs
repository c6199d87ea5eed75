//! The API-key format: the checksum catches any single-character change.

use std::sync::Arc;

use auth_core::MemoryStore;
use auth_token::{ApiKeys, NewApiKey, looks_like_api_key};
use proptest::prelude::*;

fn sample_key() -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        ApiKeys::new(Arc::new(MemoryStore::new()))
            .create(NewApiKey {
                owner: "p".into(),
                ..Default::default()
            })
            .await
            .unwrap()
            .0
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The checksum catches any change of one character after the prefix.
    #[test]
    fn any_single_character_change_breaks_the_checksum(
        position in 3usize..52,
        replacement in proptest::sample::select(
            b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".to_vec()
        ),
    ) {
        let key = sample_key();
        prop_assert!(looks_like_api_key("ak_", &key));
        let mut bytes = key.clone().into_bytes();
        prop_assume!(bytes[position] != replacement);
        bytes[position] = replacement;
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(!looks_like_api_key("ak_", &changed), "{} passed", changed);
    }
}
