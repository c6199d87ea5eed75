//! The logic behind the `password` and `users` commands. Passwords are read
//! from a reader (standard input), never from the command line, where other
//! users could see them in the process list. The users.yml format itself is
//! auth-basic's (`UsersFile`, `FileUser`).

use std::io::BufRead;
use std::path::Path;

use auth_basic::{DigestAlgorithm, FileUser, StoreError, UsersFile, ha1};
use auth_password::{HashParams, hash_password};

/// What a CLI command fails with; the message is meant for a terminal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum CliError {
    /// Reading the password failed or gave nothing.
    #[error("reading the password: {0}")]
    Input(String),
    /// The users file could not be read, parsed or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Hashing failed.
    #[error("{0}")]
    Hash(String),
}

/// Which Digest HA1 values (RFC 7616 §3.4.2) the `users` commands store next
/// to the password hash, and for which realm.
///
/// An HA1 is a fast hash of `user:realm:password`, so a leaked file lets an
/// attacker guess passwords offline at the speed of that hash. By default
/// only SHA-256 and SHA-512-256 are stored; MD5, which the Digest strategy
/// offers only when asked (`DigestStrategy::dangerously_allow_md5`), is
/// stored only when asked by name too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DigestHa1 {
    realm: String,
    algorithms: Vec<DigestAlgorithm>,
}

impl DigestHa1 {
    /// SHA-512-256 and SHA-256 values for `realm`.
    pub(crate) fn new(realm: impl Into<String>) -> Self {
        DigestHa1 {
            realm: realm.into(),
            algorithms: vec![DigestAlgorithm::Sha512_256, DigestAlgorithm::Sha256],
        }
    }

    /// Also stores the MD5 value, for clients that only speak RFC 2617.
    pub(crate) fn dangerously_with_md5(mut self) -> Self {
        if !self.algorithms.contains(&DigestAlgorithm::Md5) {
            self.algorithms.push(DigestAlgorithm::Md5);
        }
        self
    }
}

/// Reads one password: the first line, without its line ending. An empty
/// password is refused.
pub(crate) fn read_password(input: &mut dyn BufRead) -> Result<String, CliError> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| CliError::Input(e.to_string()))?;
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.is_empty() {
        return Err(CliError::Input("the password is empty".into()));
    }
    if password.chars().any(char::is_control) {
        return Err(CliError::Input(
            "the password contains control characters (RFC 7617 forbids them)".into(),
        ));
    }
    Ok(password.to_owned())
}

/// `password hash`: reads a password and returns its argon2id PHC string.
pub(crate) fn password_hash(
    input: &mut dyn BufRead,
    params: &HashParams,
) -> Result<String, CliError> {
    let password = read_password(input)?;
    hash_password(params, &password).map_err(|e| CliError::Hash(e.to_string()))
}

fn set_password(
    user: &mut FileUser,
    password: &str,
    digest: Option<&DigestHa1>,
    params: &HashParams,
) -> Result<(), CliError> {
    user.password = hash_password(params, password).map_err(|e| CliError::Hash(e.to_string()))?;
    // HA1 values derive from the old password: all of them are stale now.
    user.digest.clear();
    if let Some(digest) = digest {
        let entry = user.digest.entry(digest.realm.clone()).or_default();
        for &alg in &digest.algorithms {
            entry.insert(
                alg.as_str().to_owned(),
                ha1(alg, &user.userid, &digest.realm, password),
            );
        }
    }
    Ok(())
}

/// `users add --file F USER [--role R]... [--realm R]`: adds a user with a
/// password read from `input` (and the Digest HA1 values `digest` names). The file
/// is created if missing; an existing user is an error.
pub(crate) fn users_add(
    file: &Path,
    username: &str,
    roles: &[String],
    digest: Option<&DigestHa1>,
    input: &mut dyn BufRead,
    params: &HashParams,
) -> Result<(), CliError> {
    auth_basic::NewUser::new(username, "").validate()?;
    let mut doc = UsersFile::read(file)?;
    if doc.get_mut(username).is_some() {
        return Err(StoreError::Duplicate(username.to_owned()).into());
    }
    let password = read_password(input)?;
    let mut user = FileUser::new(username, String::new(), roles.to_vec());
    set_password(&mut user, &password, digest, params)?;
    doc.users.push(user);
    doc.write(file)?;
    Ok(())
}

/// `users passwd --file F USER [--realm R]`: replaces a user's password
/// (and stores the Digest HA1 values `digest` names; the old ones go).
pub(crate) fn users_passwd(
    file: &Path,
    username: &str,
    digest: Option<&DigestHa1>,
    input: &mut dyn BufRead,
    params: &HashParams,
) -> Result<(), CliError> {
    let mut doc = UsersFile::read(file)?;
    let password = read_password(input)?;
    let user = doc
        .get_mut(username)
        .ok_or_else(|| StoreError::NotFound(username.to_owned()))?;
    set_password(user, &password, digest, params)?;
    doc.write(file)?;
    Ok(())
}

/// `users remove --file F USER`.
pub(crate) fn users_remove(file: &Path, username: &str) -> Result<(), CliError> {
    let mut doc = UsersFile::read(file)?;
    let before = doc.users.len();
    doc.users.retain(|u| u.userid != username);
    if doc.users.len() == before {
        return Err(StoreError::NotFound(username.to_owned()).into());
    }
    doc.write(file)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use auth_basic::{FileStoreOptions, FileUserStore, UserStore};
    use auth_password::verify_password;

    fn params() -> HashParams {
        HashParams::insecure_for_tests()
    }

    #[test]
    fn reads_one_line_and_refuses_empty_or_control() {
        assert_eq!(read_password(&mut "pw\r\nnext".as_bytes()).unwrap(), "pw");
        assert_eq!(read_password(&mut "123£".as_bytes()).unwrap(), "123£");
        assert!(read_password(&mut "\n".as_bytes()).is_err());
        assert!(read_password(&mut "".as_bytes()).is_err());
        assert!(read_password(&mut "a\tb\n".as_bytes()).is_err());
    }

    #[test]
    fn hash_verifies() {
        let phc = password_hash(&mut "s3cret\n".as_bytes(), &params()).unwrap();
        assert!(
            verify_password(&params(), "s3cret", &phc)
                .unwrap()
                .is_match()
        );
    }

    /// MD5 HA1 values are stored only when asked for by name; the strong
    /// ones always, and a password change replaces them all.
    #[tokio::test]
    async fn md5_ha1_is_stored_only_when_asked_for() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.yml");
        let realm = "http-auth@example.org";
        async fn ha1_of(store: &FileUserStore, alg: &str) -> Option<String> {
            store
                .digest_ha1("Mufasa", "http-auth@example.org", alg)
                .await
                .unwrap()
        }
        users_add(
            &file,
            "Mufasa",
            &[],
            Some(&DigestHa1::new(realm)),
            &mut "Circle of Life\n".as_bytes(),
            &params(),
        )
        .unwrap();
        let store = FileUserStore::load(&file, FileStoreOptions::default()).unwrap();
        assert!(ha1_of(&store, "MD5").await.is_none());
        // RFC 7616 §3.9.1's user, realm and password; value computed with
        // `printf 'Mufasa:http-auth@example.org:Circle of Life' | sha256sum`.
        assert_eq!(
            ha1_of(&store, "SHA-256").await.as_deref(),
            Some("7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232")
        );
        assert!(ha1_of(&store, "SHA-512-256").await.is_some());

        for (digest, md5) in [
            (DigestHa1::new(realm).dangerously_with_md5(), true),
            (DigestHa1::new(realm), false),
        ] {
            users_passwd(
                &file,
                "Mufasa",
                Some(&digest),
                &mut "Circle of Life\n".as_bytes(),
                &params(),
            )
            .unwrap();
            store.reload().unwrap();
            assert_eq!(ha1_of(&store, "MD5").await.is_some(), md5);
            assert!(ha1_of(&store, "SHA-256").await.is_some());
        }
    }

    #[tokio::test]
    async fn add_passwd_remove_and_the_store_sees_them() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("users.yml");
        users_add(
            &file,
            "Mufasa",
            &["king".into()],
            Some(&DigestHa1::new("http-auth@example.org").dangerously_with_md5()),
            &mut "Circle of Life\n".as_bytes(),
            &params(),
        )
        .unwrap();
        assert!(matches!(
            users_add(&file, "Mufasa", &[], None, &mut "x\n".as_bytes(), &params()),
            Err(CliError::Store(StoreError::Duplicate(_)))
        ));
        let store = FileUserStore::load(&file, FileStoreOptions::default()).unwrap();
        let user = store.find_user("Mufasa").await.unwrap().unwrap();
        assert_eq!(user.roles, vec!["king"]);
        assert!(
            verify_password(&params(), "Circle of Life", &user.password_hash)
                .unwrap()
                .is_match()
        );
        // RFC 7616 §3.9.1's user, realm and password.
        assert_eq!(
            store
                .digest_ha1("Mufasa", "http-auth@example.org", "MD5")
                .await
                .unwrap()
                .as_deref(),
            Some("3d78807defe7de2157e2b0b6573a855f")
        );
        assert!(
            store
                .digest_ha1("Mufasa", "http-auth@example.org", "SHA-256")
                .await
                .unwrap()
                .is_some()
        );

        users_passwd(&file, "Mufasa", None, &mut "new pw\n".as_bytes(), &params()).unwrap();
        store.reload().unwrap();
        let user = store.find_user("Mufasa").await.unwrap().unwrap();
        assert!(
            verify_password(&params(), "new pw", &user.password_hash)
                .unwrap()
                .is_match()
        );
        assert!(
            store
                .digest_ha1("Mufasa", "http-auth@example.org", "MD5")
                .await
                .unwrap()
                .is_none()
        );
        assert!(!std::fs::read_to_string(&file).unwrap().contains("new pw"));

        users_remove(&file, "Mufasa").unwrap();
        assert!(matches!(
            users_remove(&file, "Mufasa"),
            Err(CliError::Store(StoreError::NotFound(_)))
        ));
        assert!(matches!(
            users_passwd(&file, "ghost", None, &mut "x\n".as_bytes(), &params()),
            Err(CliError::Store(StoreError::NotFound(_)))
        ));
        assert!(users_add(&file, "a:b", &[], None, &mut "x\n".as_bytes(), &params()).is_err());
    }
}
