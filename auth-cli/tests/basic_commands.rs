//! `password hash` and `users add|remove|passwd`, run as the real binary.

mod common;

use std::process::Output;

fn run(args: &[&str], stdin: &str) -> Output {
    common::run_cli(args, stdin.as_bytes())
}

const CHEAP: [&str; 6] = [
    "--memory-kib",
    "64",
    "--iterations",
    "1",
    "--parallelism",
    "1",
];

#[test]
fn password_hash_reads_stdin_and_prints_a_phc_string() {
    let mut args = vec!["password", "hash"];
    args.extend(CHEAP);
    let out = run(&args, "correct horse\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let phc = String::from_utf8(out.stdout).unwrap();
    assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
    assert!(!phc.contains("correct horse"));

    let empty = run(&args, "\n");
    assert_eq!(empty.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&empty.stderr).starts_with("INVALID_INPUT: "));
}

#[test]
fn password_is_never_an_argument() {
    let out = run(&["password", "hash", "hunter2"], "");
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses the extra argument"
    );
}

#[test]
fn users_add_passwd_remove() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.yml");
    let file = file.to_str().unwrap();
    let mut add = vec![
        "users", "add", "--file", file, "ada", "--role", "admin", "--realm", "api",
    ];
    add.extend(CHEAP);
    let out = run(&add, "s3cret pass\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains("ada") && text.contains("admin") && text.contains("$argon2id$"));
    assert!(!text.contains("s3cret pass"));
    // Digest HA1 for realm "api": H("ada:api:s3cret pass"), computed
    // independently with sha256sum, md5sum and `openssl dgst -sha512-256`.
    assert!(
        text.contains(
            "SHA-512-256: 5a5d89342847f8a5962332f927b82baa65e51e2ee9a5da66aa907a5289652347"
        ),
        "{text}"
    );
    assert!(
        text.contains("SHA-256: f82dda1c4a4a9477351b473b0fee8b602617f26f7d300cf4f0761a41106624e4"),
        "{text}"
    );
    // MD5 only when asked for by name.
    assert!(!text.contains("MD5"), "{text}");

    let again = run(&add, "other\n");
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));

    // `--dangerously-store-md5` adds it (and needs a realm).
    let mut md5 = vec![
        "users",
        "passwd",
        "--file",
        file,
        "ada",
        "--realm",
        "api",
        "--dangerously-store-md5",
    ];
    md5.extend(CHEAP);
    assert!(run(&md5, "s3cret pass\n").status.success());
    let text = std::fs::read_to_string(file).unwrap();
    assert!(
        text.contains("MD5: d4b47881686ab9d4c6f8d7d57b9333f1"),
        "{text}"
    );
    let mut no_realm = vec![
        "users",
        "passwd",
        "--file",
        file,
        "ada",
        "--dangerously-store-md5",
    ];
    no_realm.extend(CHEAP);
    assert_eq!(run(&no_realm, "s3cret pass\n").status.code(), Some(2));

    let mut passwd = vec!["users", "passwd", "--file", file, "ada"];
    passwd.extend(CHEAP);
    let before = std::fs::read_to_string(file).unwrap();
    assert!(run(&passwd, "n3w password\n").status.success());
    assert_ne!(std::fs::read_to_string(file).unwrap(), before);
    // Without --realm a password change leaves no HA1 of the old password.
    assert!(!std::fs::read_to_string(file).unwrap().contains("MD5"));

    let mut missing = vec!["users", "passwd", "--file", file, "bob"];
    missing.extend(CHEAP);
    assert_eq!(run(&missing, "x\n").status.code(), Some(1));

    assert!(
        run(&["users", "remove", "--file", file, "ada"], "")
            .status
            .success()
    );
    assert!(!std::fs::read_to_string(file).unwrap().contains("ada"));
    assert_eq!(
        run(&["users", "remove", "--file", file, "ada"], "")
            .status
            .code(),
        Some(1)
    );
}

/// `users passwd` with the real binary, then a reload: the old password is
/// refused at once even though it was in the verification cache (issue 18.2).
#[test]
fn a_password_changed_with_users_passwd_is_refused_after_a_reload_even_when_cached() {
    use auth_basic::{FileStoreOptions, FileUserStore, PasswordAuthenticator, VerificationCache};
    use auth_password::{HashParams, HasherConfig, PasswordHasher};

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.yml");
    let file_arg = file.to_str().unwrap();
    let mut add = vec!["users", "add", "--file", file_arg, "ada"];
    add.extend(CHEAP);
    assert!(run(&add, "first password\n").status.success());

    let store =
        std::sync::Arc::new(FileUserStore::load(&file, FileStoreOptions::default()).unwrap());
    let hasher = PasswordHasher::new(HasherConfig {
        params: HashParams::insecure_for_tests(),
        ..HasherConfig::default()
    });
    let auth = PasswordAuthenticator::from_arc(store.clone(), hasher.clone())
        .with_cache(VerificationCache::new(std::time::Duration::from_secs(3600)));
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        auth.verify("ada", "first password").await.unwrap();
        let ran = hasher.verifications();
        auth.verify("ada", "first password").await.unwrap();
        assert_eq!(hasher.verifications(), ran, "served from the cache");

        let mut passwd = vec!["users", "passwd", "--file", file_arg, "ada"];
        passwd.extend(CHEAP);
        assert!(run(&passwd, "second password\n").status.success());
        // Before the reload the running server still has the old users.
        auth.verify("ada", "first password").await.unwrap();
        store.reload().unwrap();

        let err = auth.verify("ada", "first password").await.unwrap_err();
        assert_eq!(err.status().as_u16(), 401);
        auth.verify("ada", "second password").await.unwrap();
    });
}
