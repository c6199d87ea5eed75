//! Arbitrary text through the users.yml loader: a document or an error,
//! never a panic. Whatever parses must also survive the store's own load
//! (plaintext refused, duplicates refused) and write back to a file that
//! reads as the same document.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use auth_basic::UsersFile;
use auth_basic::{FileStoreOptions, FileUserStore};
use libfuzzer_sys::fuzz_target;

/// One scratch directory per fuzzing process (libFuzzer may run several).
static DIR: LazyLock<PathBuf> = LazyLock::new(|| {
    let dir = std::env::temp_dir().join(format!("users-yml-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(doc) = UsersFile::parse(text) else {
        return;
    };
    let raw = DIR.join("raw.yml");
    std::fs::write(&raw, text).unwrap();
    // Ok or Err both fine; the point is no panic in the checks after parsing.
    let _ = FileUserStore::load(&raw, FileStoreOptions::default());

    let written = DIR.join("users.yml");
    doc.write(&written).unwrap();
    let back = UsersFile::read(&written).unwrap();
    assert_eq!(back, doc, "users.yml did not round-trip");
});
